//! A stored password as a passdb holds it: [`split`] takes off the `{SCHEME}` prefix (a bare
//! `$1$…` is MD5-CRYPT), [`resolve`] reads `.b64`/`.hex` suffixes, and [`decode`] turns the
//! text into the scheme's raw bytes with Dovecot's hex-or-base64 guessing.

use base64::Engine as _;

use super::bytes::{hex_decode, B64};
use super::error::SchemeError;
use super::table::{lookup, Encoding, Scheme};

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
