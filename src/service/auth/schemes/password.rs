//! Whole-password operations: [`verify`] a plaintext against a stored password, [`generate`] a
//! new one, `roost pw` ([`pw_command`]), and [`credentials`] for non-plaintext mechanisms.

use base64::Engine as _;

use super::bytes::{hex_encode, B64};
use super::error::SchemeError;
use super::raw::{generate_raw, verify_raw};
use super::stored::{decode, resolve, split};
use super::table::{Encoding, Kind};

/// Checks `plain` against a stored password (`{SCHEME}…` or bare, then `default_scheme`).
/// `_user` is for user-salted schemes (DIGEST-MD5), which roost does not implement yet.
pub fn verify(
    plain: &[u8],
    stored: &str,
    default_scheme: &str,
    _user: &str,
) -> Result<bool, SchemeError> {
    let s = split(stored, default_scheme);
    let (scheme, raw) = decode(&s.scheme, s.text)?;
    verify_raw(scheme, plain, &raw)
}

/// Whether checking `stored` costs at most one digest (PLAIN, SHA*, SSHA*, MD5 digests), so
/// it may run on an async thread; crypt, PBKDF2, argon2 and SCRAM go to a blocking thread.
pub fn is_cheap(stored: &str, default_scheme: &str) -> bool {
    let s = split(stored, default_scheme);
    match resolve(&s.scheme) {
        Ok((scheme, _, _)) => matches!(
            scheme.kind,
            Kind::Plain | Kind::Digest(_) | Kind::Salted(_) | Kind::CramMd5
        ),
        Err(_) => true,
    }
}

/// Makes a new hash of `plain` in scheme `name` (with optional `.hex`/`.b64`), prefixed with
/// `{NAME}` as `doveadm pw` prints it. `rounds` overrides the scheme's default cost.
pub fn generate(
    name: &str,
    plain: &[u8],
    user: &str,
    rounds: Option<u32>,
) -> Result<String, SchemeError> {
    let (scheme, enc, _) = resolve(name)?;
    let raw = generate_raw(scheme, plain, user, rounds)?;
    let text = match enc {
        Encoding::None => String::from_utf8_lossy(&raw).into_owned(),
        Encoding::Base64 => B64.encode(&raw),
        Encoding::Hex => hex_encode(&raw),
    };
    Ok(format!("{{{}}}{text}", name.to_ascii_uppercase()))
}

/// `roost pw -s SCHEME -p PASSWORD [-t HASH] [-u USER] [-r ROUNDS]`: prints a new hash like
/// `doveadm pw`, or with `test_hash` checks it and prints `HASH (verified)`.
pub fn pw_command(
    scheme: &str,
    password: &str,
    test_hash: Option<&str>,
) -> Result<String, SchemeError> {
    pw_command_full(scheme, password, test_hash, "", None)
}

/// [`pw_command`] with `-u USER` and `-r ROUNDS`.
pub fn pw_command_full(
    scheme: &str,
    password: &str,
    test_hash: Option<&str>,
    user: &str,
    rounds: Option<u32>,
) -> Result<String, SchemeError> {
    if let Some(hash) = test_hash {
        // doveadm pw -t: the hash carries its own scheme; `-s` is the default for bare hashes.
        return if verify(password.as_bytes(), hash, scheme, user)? {
            Ok(format!("{hash} (verified)"))
        } else {
            Err(SchemeError::Mismatch)
        };
    }
    generate(scheme, password.as_bytes(), user, rounds)
}

/// Extracts credentials usable by a non-plaintext SASL mechanism: the plaintext password
/// (PLAIN schemes) or the raw data of `wanted` (e.g. `CRAM-MD5`, `SCRAM-SHA-256`).
pub fn credentials(stored: &str, default_scheme: &str, wanted: &str) -> Option<Credential> {
    let s = split(stored, default_scheme);
    let (scheme, raw) = decode(&s.scheme, s.text).ok()?;
    if scheme.kind == Kind::Plain {
        return Some(Credential::Plain(raw));
    }
    if scheme.name.eq_ignore_ascii_case(wanted) {
        return Some(Credential::Raw(raw));
    }
    None
}

/// What [`credentials`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    Plain(Vec<u8>),
    Raw(Vec<u8>),
}
