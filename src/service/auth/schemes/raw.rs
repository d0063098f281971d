//! Per-kind verification and generation on a scheme's decoded raw data: crypt(3), digests,
//! salted digests, PBKDF2, argon2, CRAM-MD5 contexts and SCRAM credentials.

use std::num::NonZeroU32;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use super::bytes::{ct_eq, hex_decode, hex_encode, random_bytes, salt_string};
use super::error::SchemeError;
use super::stored::decode;
use super::table::{cram_md5_context, scram_keys, Kind, Scheme, ScramData};

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
            let (s, raw) = decode("PLAIN-MD5", hash)
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
