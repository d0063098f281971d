//! Client certificates: `ssl_client_ca_file` + `ssl_verify_client_cert = yes` ask every client
//! for a certificate and verify it against those CAs (and any CRLs in the same file). As in
//! Dovecot, a client without a certificate still connects (whether one is required is the
//! auth layer's `auth_ssl_require_client_cert` decision); unlike Dovecot, a certificate that
//! fails verification fails the handshake instead of being remembered as invalid. The subject
//! common name of a verified certificate becomes `Conn::client_cert_cn`.

use std::sync::Arc;

use tokio_rustls::rustls::server::danger::ClientCertVerifier;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{crypto::CryptoProvider, RootCertStore};

use super::error::TlsError;
use super::pem::{load_ca_file, PemSource};
use crate::net::settings::NetSettings;

/// The verifier for `settings`, or `None` when client certificates are not requested.
pub fn verifier(
    net: &NetSettings,
    provider: &Arc<CryptoProvider>,
) -> Result<Option<Arc<dyn ClientCertVerifier>>, TlsError> {
    if !net.ssl_verify_client_cert {
        return Ok(None);
    }
    let Some(src) = PemSource::parse(&net.ssl_client_ca_file) else {
        return Err(TlsError::Invalid {
            setting: "ssl_verify_client_cert".into(),
            message: "is yes but ssl_client_ca_file is empty: name the PEM file of the CAs \
                      that sign client certificates"
                .into(),
        });
    };
    let (cas, crls) = load_ca_file("ssl_client_ca_file", &src)?;
    let mut roots = RootCertStore::empty();
    for ca in cas {
        roots.add(ca).map_err(|e| TlsError::Invalid {
            setting: "ssl_client_ca_file".into(),
            message: format!("{}: unusable CA certificate: {e}", src.describe()),
        })?;
    }
    let mut b = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated();
    if crls.is_empty() {
        b = b.allow_unknown_revocation_status();
    } else {
        b = b.with_crls(crls);
    }
    let v = b.build().map_err(|e| TlsError::Invalid {
        setting: "ssl_client_ca_file".into(),
        message: format!("{}: {e}", src.describe()),
    })?;
    Ok(Some(v))
}

/// Reads one DER element at the start of `b`: (tag, contents, rest).
fn der(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)? as usize;
    let (len, hdr) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = hdr.checked_add(len)?;
    Some((tag, b.get(hdr..end)?, b.get(end..)?))
}

const OID_CN: &[u8] = &[0x55, 0x04, 0x03];

/// The first subject common name of a DER certificate.
pub fn common_name(cert: &[u8]) -> Option<String> {
    let (_, certificate, _) = der(cert)?;
    let (_, tbs, _) = der(certificate)?;
    let mut rest = tbs;
    let mut seen = Vec::new();
    while !rest.is_empty() && seen.len() < 6 {
        let (tag, body, r) = der(rest)?;
        seen.push((tag, body));
        rest = r;
    }
    // [0] version (optional), serial, signature algorithm, issuer, validity, subject.
    let skip = if seen.first()?.0 == 0xa0 { 1 } else { 0 };
    let (tag, subject) = *seen.get(skip + 4)?;
    if tag != 0x30 {
        return None;
    }
    let mut rdns = subject;
    while !rdns.is_empty() {
        let (_, set, r) = der(rdns)?;
        rdns = r;
        let mut atvs = set;
        while !atvs.is_empty() {
            let (_, atv, r2) = der(atvs)?;
            atvs = r2;
            let (oid_tag, oid, value) = der(atv)?;
            if oid_tag == 0x06 && oid == OID_CN {
                let (vtag, v, _) = der(value)?;
                return match vtag {
                    0x0c | 0x13 | 0x16 | 0x14 => Some(String::from_utf8_lossy(v).into_owned()),
                    0x1e => {
                        let units: Vec<u16> = v
                            .chunks_exact(2)
                            .map(|c| u16::from_be_bytes([c[0], c[1]]))
                            .collect();
                        Some(String::from_utf16_lossy(&units))
                    }
                    _ => None,
                };
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_name_of_an_rcgen_certificate() {
        let mut params = rcgen::CertificateParams::new(vec!["x.example".into()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Org");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "alice@example.com");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            common_name(cert.der()).as_deref(),
            Some("alice@example.com")
        );
    }

    #[test]
    fn garbage_has_no_common_name_and_does_not_panic() {
        assert_eq!(common_name(b""), None);
        assert_eq!(common_name(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        for n in 0..64u8 {
            let v: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37) ^ n).collect();
            let _ = common_name(&v);
        }
    }

    #[test]
    fn verify_without_ca_file_is_a_clear_error() {
        let net = NetSettings {
            ssl_verify_client_cert: true,
            ..Default::default()
        };
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let e = verifier(&net, &provider).err().unwrap().to_string();
        assert!(e.contains("ssl_client_ca_file"), "{e}");
    }
}
