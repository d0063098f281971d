//! Password schemes as Dovecot reads them from a passdb: `{SCHEME}` prefixes, `.b64`/`.hex`
//! (`.base64`) encoding suffixes, Dovecot's hex-or-base64 guessing for fixed-length digests,
//! and a bare `$1$…` hash taken as MD5-CRYPT. [`verify`] checks a plaintext password against a
//! stored hash, [`generate`] makes a new one, and [`pw_command`] is `roost pw` (the same output
//! as `doveadm pw`). Hashing is CPU work: callers run it under `spawn_blocking`.

pub mod md5;
pub mod table;

use base64::Engine as _;

pub use table::{cram_md5_states, lookup, scram_keys, Alg, Kind, Scheme, ScramData, SCHEMES};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Characters Dovecot uses for textual salts (crypt, PBKDF2).
pub const SALT_CHARS: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Why a stored password could not be checked or a hash not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemeError {
    #[error("Unknown scheme: {0}")]
    UnknownScheme(String),
    #[error("{scheme}: input isn't valid {encoding} encoded data")]
    BadEncoding {
        scheme: String,
        encoding: &'static str,
    },
    #[error("{scheme}: input length isn't valid ({got} instead of {want})")]
    BadLength {
        scheme: String,
        got: usize,
        want: usize,
    },
    #[error("{scheme}: malformed hash: {why}")]
    Malformed { scheme: String, why: String },
    #[error("reverse password verification check failed: Password mismatch")]
    Mismatch,
}

/// How the hash text after `{SCHEME}` is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    None,
    Base64,
    Hex,
}

/// A stored password split into its scheme and the text after the prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored<'a> {
    /// Scheme name as written, including any `.hex`/`.b64` suffix (e.g. `SHA256.HEX`).
    pub scheme: String,
    pub text: &'a str,
}

/// Splits `{SCHEME}rest`; a bare `$1$salt$hash` is MD5-CRYPT; anything else uses
/// `default_scheme` (the passdb's `scheme=` or its driver's default).
pub fn split<'a>(stored: &'a str, default_scheme: &str) -> Stored<'a> {
    if let Some(rest) = stored.strip_prefix('{') {
        if let Some(end) = rest.find('}') {
            return Stored {
                scheme: rest[..end].to_string(),
                text: &rest[end + 1..],
            };
        }
    }
    if let Some(after) = stored.strip_prefix("$1$") {
        if let Some(p) = after.find('$') {
            // `$1$<salt>$<hash>[$<ignored>]`
            let end = after[p + 1..]
                .find('$')
                .map(|q| 3 + p + 1 + q)
                .unwrap_or(stored.len());
            return Stored {
                scheme: "MD5-CRYPT".into(),
                text: &stored[..end],
            };
        }
    }
    Stored {
        scheme: default_scheme.to_string(),
        text: stored,
    }
}

/// Resolves `NAME[.b64|.base64|.hex]` to a scheme, the encoding to use, and whether the
/// encoding was given explicitly.
pub fn resolve(name: &str) -> Result<(&'static Scheme, Encoding, bool), SchemeError> {
    let (base, suffix) = match name.find('.') {
        Some(i) => (&name[..i], Some(&name[i + 1..])),
        None => (name, None),
    };
    let scheme = lookup(base).ok_or_else(|| SchemeError::UnknownScheme(name.to_string()))?;
    let enc = match suffix {
        None => return Ok((scheme, scheme.encoding, false)),
        Some(s) if s.eq_ignore_ascii_case("b64") || s.eq_ignore_ascii_case("base64") => {
            Encoding::Base64
        }
        Some(s) if s.eq_ignore_ascii_case("hex") => Encoding::Hex,
        Some(_) => return Err(SchemeError::UnknownScheme(name.to_string())),
    };
    Ok((scheme, enc, true))
}

/// Decodes the text after `{SCHEME}` into the scheme's raw bytes, as Dovecot's
/// `password_decode` does (guessing hex vs base64 by length for fixed-size digests).
pub fn decode(name: &str, text: &str) -> Result<(&'static Scheme, Vec<u8>), SchemeError> {
    let (scheme, mut enc, explicit) = resolve(name)?;
    let mut guessed = false;
    if enc != Encoding::None && scheme.raw_len != 0 && !explicit {
        enc = if text.len() == scheme.raw_len * 2 {
            Encoding::Hex
        } else {
            Encoding::Base64
        };
        guessed = true;
    }
    let raw = match enc {
        Encoding::None => text.as_bytes().to_vec(),
        Encoding::Hex => match hex_decode(text) {
            Some(v) => v,
            None if guessed => b64_decode(scheme, text)?,
            None => {
                return Err(SchemeError::BadEncoding {
                    scheme: scheme.name.into(),
                    encoding: "HEX",
                })
            }
        },
        Encoding::Base64 => b64_decode(scheme, text)?,
    };
    if scheme.raw_len != 0 && raw.len() != scheme.raw_len {
        return Err(SchemeError::BadLength {
            scheme: scheme.name.into(),
            got: raw.len(),
            want: scheme.raw_len,
        });
    }
    Ok((scheme, raw))
}

fn b64_decode(scheme: &Scheme, text: &str) -> Result<Vec<u8>, SchemeError> {
    B64.decode(text.trim_end())
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text.trim_end()))
        .map_err(|_| SchemeError::BadEncoding {
            scheme: scheme.name.into(),
            encoding: "base64",
        })
}

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
    table::verify_raw(scheme, plain, &raw)
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
    let raw = table::generate_raw(scheme, plain, user, rounds)?;
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

#[cfg(test)]
mod tests;
