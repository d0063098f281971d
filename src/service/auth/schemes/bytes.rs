//! Byte helpers the schemes share: random bytes and textual salts, hex, base64, and a
//! constant-time compare.

pub(super) const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Characters Dovecot uses for textual salts (crypt, PBKDF2).
pub const SALT_CHARS: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Random bytes from the system generator (roost's one source, `crate::random`).
pub use crate::random::random_bytes;

/// A random salt of `n` characters from [`SALT_CHARS`].
pub fn salt_string(n: usize) -> String {
    random_bytes(n)
        .into_iter()
        .map(|b| SALT_CHARS[b as usize % SALT_CHARS.len()] as char)
        .collect()
}

/// Compares without an early exit on the first difference.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
