//! Certificate selection by SNI: each `local_name NAME { ssl_cert, ssl_key }` block gives the
//! names in NAME (space separated; `*.example.com` matches one label) their own certificate;
//! every other name, and clients that send no SNI, get the global `ssl_cert`.

use std::collections::HashMap;
use std::sync::Arc;

use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;

/// Picks a certificate for the name a client asked for.
#[derive(Debug)]
pub struct SniResolver {
    default: Arc<CertifiedKey>,
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// `(".example.com", key)` for `*.example.com`.
    wildcard: Vec<(String, Arc<CertifiedKey>)>,
}

impl SniResolver {
    pub fn new(default: Arc<CertifiedKey>) -> SniResolver {
        SniResolver {
            default,
            exact: HashMap::new(),
            wildcard: Vec::new(),
        }
    }

    /// Adds every name of a `local_name` block key (`"imap.example.com mail.example.com"`).
    pub fn add(&mut self, names: &str, key: Arc<CertifiedKey>) {
        for n in names.split([' ', ',']).filter(|n| !n.is_empty()) {
            let n = n.to_ascii_lowercase();
            if let Some(suffix) = n.strip_prefix('*') {
                self.wildcard.push((suffix.to_string(), key.clone()));
            } else {
                self.exact.insert(n, key.clone());
            }
        }
    }

    /// The certificate for `name` (exact match first, then the longest wildcard).
    pub fn pick(&self, name: Option<&str>) -> Arc<CertifiedKey> {
        let Some(name) = name else {
            return self.default.clone();
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if let Some(k) = self.exact.get(&name) {
            return k.clone();
        }
        self.wildcard
            .iter()
            .filter(|(suffix, _)| {
                suffix.starts_with('.')
                    && name.ends_with(suffix.as_str())
                    && !name[..name.len() - suffix.len()].contains('.')
                    && name.len() > suffix.len()
            })
            .max_by_key(|(suffix, _)| suffix.len())
            .map(|(_, k)| k.clone())
            .unwrap_or_else(|| self.default.clone())
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.pick(hello.server_name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_rustls::rustls::crypto::ring::sign::any_supported_type;

    fn key() -> Arc<CertifiedKey> {
        let k = rcgen::generate_simple_self_signed(vec!["x".into()]).unwrap();
        let der = rustls_pki_types::PrivateKeyDer::Pkcs8(k.signing_key.serialize_der().into());
        Arc::new(CertifiedKey::new(
            vec![k.cert.der().clone()],
            any_supported_type(&der).unwrap(),
        ))
    }

    #[test]
    fn exact_then_wildcard_then_default() {
        let (d, a, w) = (key(), key(), key());
        let mut r = SniResolver::new(d.clone());
        r.add("imap.example.com mail.example.com", a.clone());
        r.add("*.example.org", w.clone());
        assert!(Arc::ptr_eq(&r.pick(Some("IMAP.example.com")), &a));
        assert!(Arc::ptr_eq(&r.pick(Some("mail.example.com.")), &a));
        assert!(Arc::ptr_eq(&r.pick(Some("x.example.org")), &w));
        assert!(Arc::ptr_eq(&r.pick(Some("a.b.example.org")), &d));
        assert!(Arc::ptr_eq(&r.pick(Some("example.org")), &d));
        assert!(Arc::ptr_eq(&r.pick(None), &d));
    }
}
