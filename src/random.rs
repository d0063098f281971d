//! Random bytes from the system's generator, for everything that needs them (salts, SASL
//! nonces, session ids, mailbox GUIDs): one function, so there is one source of randomness.

use ring::rand::SecureRandom;

/// `n` bytes from the system's cryptographic random generator.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    ring::rand::SystemRandom::new()
        .fill(&mut v)
        .expect("system random generator");
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_draws_differ() {
        let a = super::random_bytes(16);
        assert_eq!(a.len(), 16);
        assert_ne!(a, super::random_bytes(16));
    }
}
