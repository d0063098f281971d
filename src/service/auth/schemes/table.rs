//! The scheme table (names, default encodings, raw lengths, as Dovecot 2.3 registers them), the
//! digest algorithms, and the CRAM-MD5 and SCRAM credential forms. Verifying and generating per
//! kind is in `raw.rs`.

use std::num::NonZeroU32;

use ring::digest;

use super::md5;

/// How the hash text after `{SCHEME}` is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    None,
    Base64,
    Hex,
}

/// What a scheme computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The password itself.
    Plain,
    /// crypt(3): DES, `$1$`, `$5$`, `$6$`, `$2y$` by the hash's own prefix.
    Crypt,
    /// `$1$…` MD5-crypt, or a PLAIN-MD5 digest (Dovecot's `MD5` scheme).
    Md5Either,
    /// Plain digest of the password.
    Digest(Alg),
    /// Digest of password + salt, followed by the salt.
    Salted(Alg),
    /// `$1$<salt>$<rounds>$<hex PBKDF2-HMAC-SHA1>`.
    Pbkdf2,
    /// PHC-format argon2 string.
    Argon2,
    /// HMAC-MD5 outer and inner states (32 bytes).
    CramMd5,
    /// `iter,salt,stored_key,server_key` (RFC 5802).
    Scram(Alg),
}

/// Digest algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

impl Alg {
    pub fn hash(self, parts: &[&[u8]]) -> Vec<u8> {
        match self {
            Alg::Md5 => md5::digest(&parts.concat()).to_vec(),
            _ => {
                let mut ctx = digest::Context::new(self.ring());
                for p in parts {
                    ctx.update(p);
                }
                ctx.finish().as_ref().to_vec()
            }
        }
    }

    pub fn output_len(self) -> usize {
        match self {
            Alg::Md5 => 16,
            Alg::Sha1 => 20,
            Alg::Sha256 => 32,
            Alg::Sha512 => 64,
        }
    }

    fn ring(self) -> &'static digest::Algorithm {
        match self {
            Alg::Sha1 | Alg::Md5 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Alg::Sha256 => &digest::SHA256,
            Alg::Sha512 => &digest::SHA512,
        }
    }

    pub fn hmac_alg(self) -> ring::hmac::Algorithm {
        match self {
            Alg::Sha256 => ring::hmac::HMAC_SHA256,
            Alg::Sha512 => ring::hmac::HMAC_SHA512,
            _ => ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        }
    }

    pub fn pbkdf2_alg(self) -> ring::pbkdf2::Algorithm {
        match self {
            Alg::Sha256 => ring::pbkdf2::PBKDF2_HMAC_SHA256,
            Alg::Sha512 => ring::pbkdf2::PBKDF2_HMAC_SHA512,
            _ => ring::pbkdf2::PBKDF2_HMAC_SHA1,
        }
    }
}

/// One registered scheme.
#[derive(Debug)]
pub struct Scheme {
    pub name: &'static str,
    pub encoding: Encoding,
    /// Expected decoded length, 0 when variable.
    pub raw_len: usize,
    pub kind: Kind,
}

const fn s(name: &'static str, encoding: Encoding, raw_len: usize, kind: Kind) -> Scheme {
    Scheme {
        name,
        encoding,
        raw_len,
        kind,
    }
}

use Encoding::{Base64 as B, Hex as H, None as N};

/// Every scheme roost knows, by Dovecot name.
pub static SCHEMES: &[Scheme] = &[
    s("PLAIN", N, 0, Kind::Plain),
    s("CLEAR", N, 0, Kind::Plain),
    s("CLEARTEXT", N, 0, Kind::Plain),
    s("CRYPT", N, 0, Kind::Crypt),
    s("DES-CRYPT", N, 0, Kind::Crypt),
    s("MD5-CRYPT", N, 0, Kind::Crypt),
    s("SHA256-CRYPT", N, 0, Kind::Crypt),
    s("SHA512-CRYPT", N, 0, Kind::Crypt),
    s("BLF-CRYPT", N, 0, Kind::Crypt),
    s("MD5", N, 0, Kind::Md5Either),
    s("PLAIN-MD5", H, 16, Kind::Digest(Alg::Md5)),
    s("LDAP-MD5", B, 16, Kind::Digest(Alg::Md5)),
    s("SMD5", B, 0, Kind::Salted(Alg::Md5)),
    s("SHA", B, 20, Kind::Digest(Alg::Sha1)),
    s("SHA1", B, 20, Kind::Digest(Alg::Sha1)),
    s("SHA256", B, 32, Kind::Digest(Alg::Sha256)),
    s("SHA512", B, 64, Kind::Digest(Alg::Sha512)),
    s("SSHA", B, 0, Kind::Salted(Alg::Sha1)),
    s("SSHA256", B, 0, Kind::Salted(Alg::Sha256)),
    s("SSHA512", B, 0, Kind::Salted(Alg::Sha512)),
    s("PBKDF2", N, 0, Kind::Pbkdf2),
    s("ARGON2I", N, 0, Kind::Argon2),
    s("ARGON2ID", N, 0, Kind::Argon2),
    s("CRAM-MD5", H, 32, Kind::CramMd5),
    s("HMAC-MD5", H, 32, Kind::CramMd5),
    s("SCRAM-SHA-1", N, 0, Kind::Scram(Alg::Sha1)),
    s("SCRAM-SHA-256", N, 0, Kind::Scram(Alg::Sha256)),
];

/// Finds a scheme by name, case-insensitively.
pub fn lookup(name: &str) -> Option<&'static Scheme> {
    SCHEMES.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

/// Dovecot's CRAM-MD5 stored form: outer then inner HMAC-MD5 state words, little-endian.
pub fn cram_md5_context(plain: &[u8]) -> Vec<u8> {
    let (inner, outer) = md5::hmac_states(plain);
    outer
        .iter()
        .chain(inner.iter())
        .flat_map(|w| w.to_le_bytes())
        .collect()
}

/// Splits a CRAM-MD5 context back into (inner, outer) states.
pub fn cram_md5_states(raw: &[u8]) -> Option<([u32; 4], [u32; 4])> {
    if raw.len() != 32 {
        return None;
    }
    let w = |i: usize| u32::from_le_bytes(raw[i * 4..i * 4 + 4].try_into().expect("4 bytes"));
    Some(([w(4), w(5), w(6), w(7)], [w(0), w(1), w(2), w(3)]))
}

/// Parsed `SCRAM-SHA-*` credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScramData {
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl ScramData {
    pub fn parse(s: &str) -> Option<ScramData> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut it = s.split(',');
        let iterations = it.next()?.parse().ok().filter(|&n| n > 0)?;
        let salt = b64.decode(it.next()?).ok()?;
        let stored_key = b64.decode(it.next()?).ok()?;
        let server_key = b64.decode(it.next()?).ok()?;
        if it.next().is_some() {
            return None;
        }
        Some(ScramData {
            iterations,
            salt,
            stored_key,
            server_key,
        })
    }
}

/// RFC 5802 StoredKey and ServerKey for a password.
pub fn scram_keys(alg: Alg, plain: &[u8], salt: &[u8], iterations: u32) -> (Vec<u8>, Vec<u8>) {
    let mut salted = vec![0u8; alg.output_len()];
    ring::pbkdf2::derive(
        alg.pbkdf2_alg(),
        NonZeroU32::new(iterations.max(1)).expect("non-zero"),
        salt,
        plain,
        &mut salted,
    );
    let key = ring::hmac::Key::new(alg.hmac_alg(), &salted);
    let client_key = ring::hmac::sign(&key, b"Client Key");
    let server_key = ring::hmac::sign(&key, b"Server Key");
    let stored = alg.hash(&[client_key.as_ref()]);
    (stored, server_key.as_ref().to_vec())
}
