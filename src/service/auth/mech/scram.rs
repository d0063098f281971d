//! SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677) without channel binding: parsing the
//! client-first and client-final messages, the server-first message, proof verification and
//! the server signature. Keys come from a plaintext password (salted here) or from a stored
//! `{SCRAM-SHA-*}` credential.

use base64::Engine as _;

use crate::service::auth::fields::Fields;
use crate::service::auth::schemes::{self, scram_keys, Alg, Credential, ScramData};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    #[error("invalid GS2 header")]
    Gs2,
    #[error("channel binding is not supported")]
    ChannelBinding,
    #[error("invalid username encoding")]
    Username,
    #[error("missing or invalid attribute {0}")]
    Attribute(&'static str),
    #[error("nonce mismatch")]
    Nonce,
    #[error("channel binding data mismatch")]
    BindingData,
    #[error("proof mismatch")]
    Mismatch,
}

pub fn alg_for(name: &str) -> Alg {
    if name.eq_ignore_ascii_case("SCRAM-SHA-256") {
        Alg::Sha256
    } else {
        Alg::Sha1
    }
}

/// The parsed client-first message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFirst {
    /// `n,,` or `y,,` (with authzid `a=`), exactly as sent.
    pub gs2_header: String,
    pub authzid: String,
    pub user: String,
    pub nonce: String,
    /// `n=…,r=…[,ext]` as sent, for the AuthMessage.
    pub bare: String,
}

fn unescape_name(s: &str) -> Result<String, ScramError> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(ScramError::Username),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    if out.is_empty() {
        return Err(ScramError::Username);
    }
    Ok(out)
}

impl ClientFirst {
    pub fn parse(data: &[u8]) -> Result<ClientFirst, ScramError> {
        let s = std::str::from_utf8(data).map_err(|_| ScramError::Gs2)?;
        let mut it = s.splitn(3, ',');
        let cbind = it.next().ok_or(ScramError::Gs2)?;
        match cbind {
            "n" | "y" => {}
            c if c.starts_with("p=") => return Err(ScramError::ChannelBinding),
            _ => return Err(ScramError::Gs2),
        }
        let az = it.next().ok_or(ScramError::Gs2)?;
        let authzid = match az {
            "" => String::new(),
            a => unescape_name(a.strip_prefix("a=").ok_or(ScramError::Gs2)?)?,
        };
        let bare = it.next().ok_or(ScramError::Gs2)?;
        let gs2_header = format!("{cbind},{az},");
        let mut parts = bare.split(',');
        let user = parts
            .next()
            .and_then(|p| p.strip_prefix("n="))
            .ok_or(ScramError::Attribute("n"))?;
        let nonce = parts
            .next()
            .and_then(|p| p.strip_prefix("r="))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b','))
            .ok_or(ScramError::Attribute("r"))?;
        Ok(ClientFirst {
            gs2_header,
            authzid,
            user: unescape_name(user)?,
            nonce: nonce.to_string(),
            bare: bare.to_string(),
        })
    }
}

/// The parsed client-final message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFinal {
    pub channel_binding: Vec<u8>,
    pub nonce: String,
    pub proof: Vec<u8>,
    /// Everything before `,p=`.
    pub without_proof: String,
}

impl ClientFinal {
    pub fn parse(data: &[u8]) -> Result<ClientFinal, ScramError> {
        let s = std::str::from_utf8(data).map_err(|_| ScramError::Attribute("c"))?;
        let (without_proof, proof) = s.rsplit_once(",p=").ok_or(ScramError::Attribute("p"))?;
        let mut parts = without_proof.split(',');
        let c = parts
            .next()
            .and_then(|p| p.strip_prefix("c="))
            .and_then(|c| B64.decode(c).ok())
            .ok_or(ScramError::Attribute("c"))?;
        let r = parts
            .next()
            .and_then(|p| p.strip_prefix("r="))
            .ok_or(ScramError::Attribute("r"))?;
        let proof = B64.decode(proof).map_err(|_| ScramError::Attribute("p"))?;
        Ok(ClientFinal {
            channel_binding: c,
            nonce: r.to_string(),
            proof,
            without_proof: without_proof.to_string(),
        })
    }
}

/// Salt, iterations and keys for one user.
#[derive(Clone, Debug)]
pub struct Keys {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl Keys {
    pub fn from_credential(alg: Alg, cred: &Credential) -> Option<Keys> {
        match cred {
            Credential::Plain(p) => {
                let salt = schemes::random_bytes(16);
                let (stored_key, server_key) = scram_keys(alg, p, &salt, 4096);
                Some(Keys {
                    salt,
                    iterations: 4096,
                    stored_key,
                    server_key,
                })
            }
            Credential::Raw(raw) => {
                let d = ScramData::parse(std::str::from_utf8(raw).ok()?)?;
                (d.stored_key.len() == alg.output_len()).then_some(Keys {
                    salt: d.salt,
                    iterations: d.iterations,
                    stored_key: d.stored_key,
                    server_key: d.server_key,
                })
            }
        }
    }
}

/// Server side after the server-first message.
#[derive(Debug)]
pub struct ServerState {
    pub alg: Alg,
    pub first: ClientFirst,
    pub server_first: String,
    pub nonce: String,
    pub keys: Keys,
    pub user: String,
    pub fields: Fields,
    pub prefetch: Fields,
}

impl ServerState {
    pub fn new(
        alg: Alg,
        first: ClientFirst,
        keys: Keys,
        user: String,
        fields: Fields,
        prefetch: Fields,
    ) -> ServerState {
        let snonce = B64.encode(schemes::random_bytes(18));
        let nonce = format!("{}{snonce}", first.nonce);
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&keys.salt),
            keys.iterations
        );
        ServerState {
            alg,
            first,
            server_first,
            nonce,
            keys,
            user,
            fields,
            prefetch,
        }
    }

    /// Checks the client-final message; returns the server-final message (`v=…`).
    pub fn finish(&self, data: &[u8]) -> Result<String, ScramError> {
        let fin = ClientFinal::parse(data)?;
        if fin.nonce != self.nonce {
            return Err(ScramError::Nonce);
        }
        if fin.channel_binding != self.first.gs2_header.as_bytes() {
            return Err(ScramError::BindingData);
        }
        let auth_message = format!(
            "{},{},{}",
            self.first.bare, self.server_first, fin.without_proof
        );
        let sign = |key: &[u8]| {
            let k = ring::hmac::Key::new(self.alg.hmac_alg(), key);
            ring::hmac::sign(&k, auth_message.as_bytes())
                .as_ref()
                .to_vec()
        };
        let client_sig = sign(&self.keys.stored_key);
        if fin.proof.len() != client_sig.len() {
            return Err(ScramError::Mismatch);
        }
        let client_key: Vec<u8> = fin
            .proof
            .iter()
            .zip(&client_sig)
            .map(|(a, b)| a ^ b)
            .collect();
        if !schemes::ct_eq(&self.alg.hash(&[&client_key]), &self.keys.stored_key) {
            return Err(ScramError::Mismatch);
        }
        Ok(format!("v={}", B64.encode(sign(&self.keys.server_key))))
    }
}

/// Client side of one exchange, for tests and benches.
pub fn client_final(
    alg: Alg,
    password: &[u8],
    client_first_bare: &str,
    server_first: &str,
    gs2: &str,
) -> Option<(String, String)> {
    let mut salt = None;
    let mut iter = None;
    let mut nonce = None;
    for p in server_first.split(',') {
        if let Some(v) = p.strip_prefix("s=") {
            salt = B64.decode(v).ok();
        } else if let Some(v) = p.strip_prefix("i=") {
            iter = v.parse().ok();
        } else if let Some(v) = p.strip_prefix("r=") {
            nonce = Some(v.to_string());
        }
    }
    let (salt, iter, nonce) = (salt?, iter?, nonce?);
    let mut salted = vec![0u8; alg.output_len()];
    ring::pbkdf2::derive(
        alg.pbkdf2_alg(),
        std::num::NonZeroU32::new(iter)?,
        &salt,
        password,
        &mut salted,
    );
    let hk = ring::hmac::Key::new(alg.hmac_alg(), &salted);
    let client_key = ring::hmac::sign(&hk, b"Client Key").as_ref().to_vec();
    let server_key = ring::hmac::sign(&hk, b"Server Key").as_ref().to_vec();
    let stored = alg.hash(&[&client_key]);
    let without_proof = format!("c={},r={nonce}", B64.encode(gs2));
    let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
    let sig = ring::hmac::sign(
        &ring::hmac::Key::new(alg.hmac_alg(), &stored),
        auth_message.as_bytes(),
    );
    let proof: Vec<u8> = client_key
        .iter()
        .zip(sig.as_ref())
        .map(|(a, b)| a ^ b)
        .collect();
    let server_sig = ring::hmac::sign(
        &ring::hmac::Key::new(alg.hmac_alg(), &server_key),
        auth_message.as_bytes(),
    );
    Some((
        format!("{without_proof},p={}", B64.encode(proof)),
        format!("v={}", B64.encode(server_sig.as_ref())),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_client_first() {
        let f = ClientFirst::parse(b"n,,n=us=2Cer,r=fyko+d2lbbFgONRv9qkxdawL").unwrap();
        assert_eq!(f.user, "us,er");
        assert_eq!(f.gs2_header, "n,,");
        assert_eq!(f.bare, "n=us=2Cer,r=fyko+d2lbbFgONRv9qkxdawL");
        assert_eq!(
            ClientFirst::parse(b"p=tls-unique,,n=u,r=x"),
            Err(ScramError::ChannelBinding)
        );
        assert_eq!(
            ClientFirst::parse(b"n,,n=u=ZZ,r=x"),
            Err(ScramError::Username)
        );
        assert_eq!(
            ClientFirst::parse(b"n,,n=u"),
            Err(ScramError::Attribute("r"))
        );
        assert_eq!(ClientFirst::parse(b"x,,n=u,r=a"), Err(ScramError::Gs2));
    }

    #[test]
    fn full_exchange_both_algorithms_and_stored_credentials() {
        for alg in [Alg::Sha1, Alg::Sha256] {
            let name = if alg == Alg::Sha1 {
                "SCRAM-SHA-1"
            } else {
                "SCRAM-SHA-256"
            };
            let stored = schemes::generate(name, b"pencil", "", None).unwrap();
            let raw = stored.as_bytes()[name.len() + 2..].to_vec();
            for cred in [Credential::Plain(b"pencil".to_vec()), Credential::Raw(raw)] {
                let first = ClientFirst::parse(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO").unwrap();
                let keys = Keys::from_credential(alg, &cred).unwrap();
                let st = ServerState::new(
                    alg,
                    first.clone(),
                    keys,
                    "user".into(),
                    Fields::default(),
                    Fields::default(),
                );
                let (fin, want_v) =
                    client_final(alg, b"pencil", &first.bare, &st.server_first, "n,,").unwrap();
                assert_eq!(st.finish(fin.as_bytes()).unwrap(), want_v);
                let (bad, _) =
                    client_final(alg, b"wrong", &first.bare, &st.server_first, "n,,").unwrap();
                assert_eq!(st.finish(bad.as_bytes()), Err(ScramError::Mismatch));
                let (other_cb, _) =
                    client_final(alg, b"pencil", &first.bare, &st.server_first, "y,,").unwrap();
                assert_eq!(st.finish(other_cb.as_bytes()), Err(ScramError::BindingData));
            }
        }
    }

    #[test]
    fn rfc7677_vector_verifies() {
        // RFC 7677 section 3 (user "user", password "pencil").
        let first = ClientFirst::parse(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO").unwrap();
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let (stored_key, server_key) = scram_keys(Alg::Sha256, b"pencil", &salt, 4096);
        let keys = Keys {
            salt,
            iterations: 4096,
            stored_key,
            server_key,
        };
        let mut st = ServerState::new(
            Alg::Sha256,
            first,
            keys,
            "user".into(),
            Fields::default(),
            Fields::default(),
        );
        st.nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0".into();
        st.server_first = format!("r={},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", st.nonce);
        let v = st
            .finish(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .unwrap();
        assert_eq!(v, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    }

    proptest! {
        #[test]
        fn decoders_never_panic(data in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = ClientFirst::parse(&data);
            let _ = ClientFinal::parse(&data);
        }
    }
}
