//! CRAM-MD5 (RFC 2195): the `<random.time@host>` challenge, the `user hexdigest` response, and
//! verification from a plaintext password or Dovecot's stored `{CRAM-MD5}` HMAC states.

use crate::service::auth::schemes::{self, md5, Credential};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CramError {
    #[error("response must be 'username hexdigest'")]
    Format,
    #[error("digest must be 32 hex digits")]
    Digest,
}

/// A fresh challenge, as Dovecot makes it: `<random.unixtime@hostname>`.
pub fn challenge() -> String {
    let r = schemes::random_bytes(8);
    let n = u64::from_le_bytes(r.try_into().expect("8 bytes"));
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("<{n}.{t}@{}>", hostname())
}

/// The host name, read once.
pub fn hostname() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into())
    })
}

/// Splits `username hexdigest` at the last space.
pub fn parse_response(data: &[u8]) -> Result<(String, [u8; 16]), CramError> {
    let s = std::str::from_utf8(data).map_err(|_| CramError::Format)?;
    let (user, hex) = s.rsplit_once(' ').ok_or(CramError::Format)?;
    if user.is_empty() {
        return Err(CramError::Format);
    }
    let d = schemes::hex_decode(hex)
        .filter(|d| d.len() == 16)
        .ok_or(CramError::Digest)?;
    Ok((user.to_string(), d.try_into().expect("16 bytes")))
}

/// Checks the client's digest of `challenge`.
pub fn verify(cred: &Credential, challenge: &[u8], digest: &[u8; 16]) -> bool {
    let want = match cred {
        Credential::Plain(p) => md5::hmac(p, challenge),
        Credential::Raw(raw) => match schemes::cram_md5_states(raw) {
            Some((i, o)) => md5::hmac_from_states(i, o, challenge),
            None => return false,
        },
    };
    schemes::ct_eq(&want, digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc2195_example() {
        // RFC 2195 section 2: tim / tanstaaftanstaaf.
        let ch = b"<1896.697170952@postoffice.reston.mci.net>";
        let (u, d) = parse_response(b"tim b913a602c7eda7a495b4e6e7334d3890").unwrap();
        assert_eq!(u, "tim");
        assert!(verify(
            &Credential::Plain(b"tanstaaftanstaaf".to_vec()),
            ch,
            &d
        ));
        assert!(!verify(&Credential::Plain(b"wrong".to_vec()), ch, &d));
        let raw = schemes::generate("CRAM-MD5", b"tanstaaftanstaaf", "", None).unwrap();
        let (_, raw) = schemes::decode("CRAM-MD5", &raw["{CRAM-MD5}".len()..]).unwrap();
        assert!(verify(&Credential::Raw(raw), ch, &d));
        assert!(challenge().starts_with('<'));
        assert_eq!(parse_response(b"tim zz"), Err(CramError::Digest));
        assert_eq!(parse_response(b"nospace"), Err(CramError::Format));
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = parse_response(&data);
        }
    }
}
