//! The scheme table (names, default encodings, raw lengths, as Dovecot 2.3 registers them) and
//! the per-kind verify and generate functions.

use std::num::NonZeroU32;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use ring::digest;

use super::{ct_eq, hex_decode, hex_encode, md5, random_bytes, salt_string, Encoding, SchemeError};

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

fn malformed(scheme: &Scheme, why: &str) -> SchemeError {
    SchemeError::Malformed {
        scheme: scheme.name.into(),
        why: why.into(),
    }
}

fn text<'a>(scheme: &Scheme, raw: &'a [u8]) -> Result<&'a str, SchemeError> {
    std::str::from_utf8(raw).map_err(|_| malformed(scheme, "not UTF-8"))
}

/// crypt(3) of `plain` with the salt and parameters taken from `hash`.
fn crypt(plain: &[u8], hash: &str) -> Option<String> {
    // An empty hash would make DES crypt "match"; Dovecot refuses it too.
    if hash.is_empty() {
        return None;
    }
    pwhash::unix::crypt(plain, hash).ok()
}

/// Verifies `plain` against the decoded raw data of `scheme`.
pub fn verify_raw(scheme: &Scheme, plain: &[u8], raw: &[u8]) -> Result<bool, SchemeError> {
    match scheme.kind {
        Kind::Plain => Ok(ct_eq(plain, raw)),
        Kind::Crypt => {
            let hash = text(scheme, raw)?;
            Ok(crypt(plain, hash).is_some_and(|c| ct_eq(c.as_bytes(), hash.as_bytes())))
        }
        Kind::Md5Either => {
            let hash = text(scheme, raw)?;
            if hash.starts_with("$1$") {
                return Ok(crypt(plain, hash).is_some_and(|c| ct_eq(c.as_bytes(), raw)));
            }
            let (s, raw) = super::decode("PLAIN-MD5", hash)
                .map_err(|_| malformed(scheme, "not a valid MD5-CRYPT or PLAIN-MD5 password"))?;
            verify_raw(s, plain, &raw)
        }
        Kind::Digest(alg) => Ok(ct_eq(&alg.hash(&[plain]), raw)),
        Kind::Salted(alg) => {
            if raw.len() <= alg.output_len() {
                return Err(malformed(scheme, "password is too short"));
            }
            let (digest, salt) = raw.split_at(alg.output_len());
            Ok(ct_eq(&alg.hash(&[plain, salt]), digest))
        }
        Kind::Pbkdf2 => {
            let hash = text(scheme, raw)?;
            let parts: Vec<&str> = hash.split('$').collect();
            // "", "1", salt, rounds, hex
            if parts.len() != 5 || !parts[0].is_empty() || parts[1] != "1" {
                return Err(malformed(scheme, "expected $1$salt$rounds$hex"));
            }
            let rounds: u32 = parts[3]
                .parse()
                .map_err(|_| malformed(scheme, "invalid rounds"))?;
            let want = hex_decode(parts[4]).ok_or_else(|| malformed(scheme, "invalid hex"))?;
            let mut out = vec![0u8; want.len().max(1)];
            let rounds = NonZeroU32::new(rounds).ok_or_else(|| malformed(scheme, "zero rounds"))?;
            ring::pbkdf2::derive(
                ring::pbkdf2::PBKDF2_HMAC_SHA1,
                rounds,
                parts[2].as_bytes(),
                plain,
                &mut out,
            );
            Ok(ct_eq(&out, &want))
        }
        Kind::Argon2 => {
            let hash = text(scheme, raw)?;
            let parsed = PasswordHash::new(hash).map_err(|e| malformed(scheme, &e.to_string()))?;
            Ok(argon2::Argon2::default()
                .verify_password(plain, &parsed)
                .is_ok())
        }
        Kind::CramMd5 => Ok(ct_eq(&cram_md5_context(plain), raw)),
        Kind::Scram(alg) => {
            let hash = text(scheme, raw)?;
            let data = ScramData::parse(hash)
                .ok_or_else(|| malformed(scheme, "expected iter,salt,stored_key,server_key"))?;
            let (stored, _) = scram_keys(alg, plain, &data.salt, data.iterations);
            Ok(ct_eq(&stored, &data.stored_key))
        }
    }
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

/// Makes the raw (unencoded) data of a new hash.
pub fn generate_raw(
    scheme: &Scheme,
    plain: &[u8],
    _user: &str,
    rounds: Option<u32>,
) -> Result<Vec<u8>, SchemeError> {
    let fail = |e: String| malformed(scheme, &e);
    Ok(match (scheme.kind, scheme.name) {
        (Kind::Plain, _) => plain.to_vec(),
        (Kind::Crypt, "DES-CRYPT") => {
            // Weak, but an admin asking for DES-CRYPT gets it, as with doveadm pw.
            let salt = salt_string(2);
            #[allow(deprecated)]
            pwhash::unix_crypt::hash_with(salt.as_str(), plain)
                .map_err(|e| fail(e.to_string()))?
                .into_bytes()
        }
        (Kind::Crypt, "MD5-CRYPT") | (Kind::Md5Either, _) => {
            let setup = format!("$1${}", salt_string(8));
            #[allow(deprecated)]
            pwhash::md5_crypt::hash_with(setup.as_str(), plain)
                .map_err(|e| fail(e.to_string()))?
                .into_bytes()
        }
        (Kind::Crypt, "SHA256-CRYPT") | (Kind::Crypt, "SHA512-CRYPT") => {
            let id = if scheme.name == "SHA256-CRYPT" { 5 } else { 6 };
            let setup = match rounds {
                Some(r) => format!("${id}$rounds={r}${}", salt_string(16)),
                None => format!("${id}${}", salt_string(16)),
            };
            pwhash::unix::crypt(plain, &setup)
                .map_err(|e| fail(e.to_string()))?
                .into_bytes()
        }
        (Kind::Crypt, _) => {
            // BLF-CRYPT, and CRYPT (Debian's default crypt method is bcrypt too).
            let cost = rounds.unwrap_or(5).clamp(4, 31);
            pwhash::bcrypt::hash_with(
                pwhash::bcrypt::BcryptSetup {
                    salt: None,
                    cost: Some(cost),
                    variant: Some(pwhash::bcrypt::BcryptVariant::V2y),
                },
                plain,
            )
            .map_err(|e| fail(e.to_string()))?
            .into_bytes()
        }
        (Kind::Digest(alg), _) => alg.hash(&[plain]),
        (Kind::Salted(alg), _) => {
            let salt = random_bytes(4);
            let mut v = alg.hash(&[plain, &salt]);
            v.extend_from_slice(&salt);
            v
        }
        (Kind::Pbkdf2, _) => {
            let salt = salt_string(16);
            let rounds = rounds.unwrap_or(5000).max(1);
            let mut out = [0u8; 20];
            ring::pbkdf2::derive(
                ring::pbkdf2::PBKDF2_HMAC_SHA1,
                NonZeroU32::new(rounds).expect("non-zero"),
                salt.as_bytes(),
                plain,
                &mut out,
            );
            format!("$1${salt}${rounds}${}", hex_encode(&out)).into_bytes()
        }
        (Kind::Argon2, name) => {
            let (alg, m, t) = if name == "ARGON2I" {
                (argon2::Algorithm::Argon2i, 32768, 4)
            } else {
                (argon2::Algorithm::Argon2id, 65536, 3)
            };
            let params = argon2::Params::new(m, rounds.unwrap_or(t), 1, Some(32))
                .map_err(|e| fail(e.to_string()))?;
            let a = argon2::Argon2::new(alg, argon2::Version::V0x13, params);
            let salt =
                SaltString::encode_b64(&random_bytes(16)).map_err(|e| fail(e.to_string()))?;
            a.hash_password(plain, &salt)
                .map_err(|e| fail(e.to_string()))?
                .to_string()
                .into_bytes()
        }
        (Kind::CramMd5, _) => cram_md5_context(plain),
        (Kind::Scram(alg), _) => {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD;
            let salt = random_bytes(16);
            let iter = rounds.unwrap_or(4096).max(1);
            let (stored, server) = scram_keys(alg, plain, &salt, iter);
            format!(
                "{iter},{},{},{}",
                b64.encode(&salt),
                b64.encode(&stored),
                b64.encode(&server)
            )
            .into_bytes()
        }
    })
}
