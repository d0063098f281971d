//! PLAIN (RFC 4616) message decoding: `authzid NUL authcid NUL password`. LOGIN needs no decoder
//! (each response is the raw username or password).

/// A decoded PLAIN message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlainMessage {
    pub authzid: String,
    pub authcid: String,
    pub password: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlainError {
    #[error("PLAIN message needs exactly two NUL separators")]
    Separators,
    #[error("empty username")]
    EmptyUser,
    #[error("username is not UTF-8")]
    NotUtf8,
}

pub fn parse_plain(data: &[u8]) -> Result<PlainMessage, PlainError> {
    let mut parts = data.splitn(3, |&b| b == 0);
    let authzid = parts.next().ok_or(PlainError::Separators)?;
    let authcid = parts.next().ok_or(PlainError::Separators)?;
    let password = parts.next().ok_or(PlainError::Separators)?;
    if password.contains(&0) {
        return Err(PlainError::Separators);
    }
    if authcid.is_empty() {
        return Err(PlainError::EmptyUser);
    }
    let s = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| PlainError::NotUtf8);
    Ok(PlainMessage {
        authzid: s(authzid)?,
        authcid: s(authcid)?,
        password: password.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_and_rejects() {
        let m = parse_plain(b"\0alice\0secret pw").unwrap();
        assert_eq!(m.authcid, "alice");
        assert_eq!(m.authzid, "");
        assert_eq!(m.password, b"secret pw");
        assert_eq!(parse_plain(b"admin\0alice\0x").unwrap().authzid, "admin");
        assert_eq!(parse_plain(b"alice\0pw"), Err(PlainError::Separators));
        assert_eq!(parse_plain(b"\0\0pw"), Err(PlainError::EmptyUser));
        assert_eq!(parse_plain(b"\0a\0p\0w"), Err(PlainError::Separators));
        assert_eq!(parse_plain(b"\0\xff\0pw"), Err(PlainError::NotUtf8));
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_plain(&data);
        }

        #[test]
        fn roundtrips(u in "[a-z@.]{1,20}", p in proptest::collection::vec(1u8..=255, 0..30)) {
            let mut msg = vec![0u8];
            msg.extend_from_slice(u.as_bytes());
            msg.push(0);
            msg.extend_from_slice(&p);
            let m = parse_plain(&msg).unwrap();
            prop_assert_eq!(m.authcid, u);
            prop_assert_eq!(m.password, p);
        }
    }
}
