//! Password schemes both roost and Dovecot's `doveadm pw` make and verify (a test adds the
//! ones only it needs).

/// Schemes every password test covers.
pub const SCHEMES: &[&str] = &[
    "PLAIN",
    "CLEARTEXT",
    "CRYPT",
    "DES-CRYPT",
    "MD5-CRYPT",
    "SHA256-CRYPT",
    "SHA512-CRYPT",
    "BLF-CRYPT",
    "ARGON2I",
    "ARGON2ID",
    "SHA",
    "SSHA",
    "SHA256",
    "SSHA256",
    "SHA512",
    "SSHA512",
    "PBKDF2",
    "CRAM-MD5",
    "SHA256.HEX",
    "SSHA.B64",
];

/// [`SCHEMES`] followed by `more`.
pub fn schemes_and(more: &[&'static str]) -> Vec<&'static str> {
    SCHEMES.iter().chain(more).copied().collect()
}
