//! Password schemes as Dovecot reads them from a passdb: `{SCHEME}` prefixes, `.b64`/`.hex`
//! (`.base64`) encoding suffixes, Dovecot's hex-or-base64 guessing for fixed-length digests,
//! and a bare `$1$…` hash taken as MD5-CRYPT. [`verify`] checks a plaintext password against a
//! stored hash, [`generate`] makes a new one, and [`pw_command`] is `roost pw` (the same output
//! as `doveadm pw`). Hashing is CPU work: callers run it under `spawn_blocking`.
//!
//! This file only declares and re-exports. The files build on each other in one direction:
//! `table.rs` (the schemes) ← `stored.rs` (prefix, suffix, decoding) ← `raw.rs` (per-kind
//! verify/generate) ← `password.rs` (whole passwords), with `bytes.rs`, `error.rs` and `md5.rs`
//! beneath them all.

pub mod bytes;
pub mod error;
pub mod md5;
pub mod password;
pub mod raw;
pub mod stored;
pub mod table;

pub use bytes::{ct_eq, hex_decode, hex_encode, random_bytes, salt_string, SALT_CHARS};
pub use error::SchemeError;
pub use password::{
    credentials, generate, is_cheap, pw_command, pw_command_full, verify, Credential,
};
pub use stored::{decode, resolve, split, Stored};
pub use table::{
    cram_md5_states, lookup, scram_keys, Alg, Encoding, Kind, Scheme, ScramData, SCHEMES,
};

#[cfg(test)]
mod tests;
