//! Loading PEM certificates, keys and CRLs from setting values. A value is read the way Dovecot
//! reads `ssl_cert`: `<path` names a file, a value holding `-----BEGIN` is the PEM text itself,
//! and (a roost convenience for TOML users) any other value is taken as a file path too.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

use super::error::TlsError;

/// Where a setting's PEM text comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PemSource {
    Inline(String),
    File(PathBuf),
}

impl PemSource {
    /// Interprets a setting value; `None` when the value is empty.
    pub fn parse(value: &str) -> Option<PemSource> {
        let v = value.trim();
        if v.is_empty() {
            return None;
        }
        if let Some(path) = v.strip_prefix('<') {
            return Some(PemSource::File(PathBuf::from(path.trim())));
        }
        if v.contains("-----BEGIN") {
            return Some(PemSource::Inline(value.to_string()));
        }
        Some(PemSource::File(PathBuf::from(v)))
    }

    /// The text, read from the file if needed.
    fn read(&self, setting: &str) -> Result<Vec<u8>, TlsError> {
        match self {
            PemSource::Inline(s) => Ok(s.clone().into_bytes()),
            PemSource::File(p) => std::fs::read(p).map_err(|source| TlsError::Read {
                setting: setting.to_string(),
                path: p.clone(),
                source,
            }),
        }
    }

    /// `file /etc/ssl/x.pem` or `inline PEM`, for error messages.
    pub fn describe(&self) -> String {
        match self {
            PemSource::Inline(_) => "inline PEM".into(),
            PemSource::File(p) => p.display().to_string(),
        }
    }
}

fn invalid(setting: &str, src: &PemSource, msg: impl std::fmt::Display) -> TlsError {
    TlsError::Invalid {
        setting: setting.to_string(),
        message: format!("{}: {msg}", src.describe()),
    }
}

/// Every certificate in the value, leaf first.
pub fn load_certs(
    setting: &str,
    src: &PemSource,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let text = src.read(setting)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(setting, src, format!("bad PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(invalid(
            setting,
            src,
            "no '-----BEGIN CERTIFICATE-----' block found",
        ));
    }
    Ok(certs)
}

/// The first private key in the value (PKCS#8, PKCS#1 RSA or SEC1 EC).
pub fn load_key(setting: &str, src: &PemSource) -> Result<PrivateKeyDer<'static>, TlsError> {
    let text = src.read(setting)?;
    if contains(&text, b"ENCRYPTED PRIVATE KEY") || contains(&text, b"Proc-Type: 4,ENCRYPTED") {
        return Err(invalid(
            setting,
            src,
            "the private key is encrypted; roost needs an unencrypted key \
             (decrypt it with `openssl pkey -in KEY -out KEY.plain`)",
        ));
    }
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| {
        invalid(
            setting,
            src,
            format!("no usable private key (PKCS#8, RSA or EC PEM block): {e}"),
        )
    })
}

/// Certificates and any CRLs in a CA file (`ssl_client_ca_file`).
pub fn load_ca_file(
    setting: &str,
    src: &PemSource,
) -> Result<
    (
        Vec<CertificateDer<'static>>,
        Vec<CertificateRevocationListDer<'static>>,
    ),
    TlsError,
> {
    let certs = load_certs(setting, src)?;
    let text = src.read(setting)?;
    let crls = CertificateRevocationListDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(setting, src, format!("bad PEM CRL: {e}")))?;
    Ok((certs, crls))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Writes `contents` to `path` through a temporary file and a rename, with `mode`.
pub fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn angle_bracket_is_a_file_and_begin_is_inline() {
        assert_eq!(
            PemSource::parse("</etc/ssl/a.pem"),
            Some(PemSource::File("/etc/ssl/a.pem".into()))
        );
        assert_eq!(
            PemSource::parse("/etc/ssl/a.pem"),
            Some(PemSource::File("/etc/ssl/a.pem".into()))
        );
        assert!(matches!(
            PemSource::parse("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"),
            Some(PemSource::Inline(_))
        ));
        assert_eq!(PemSource::parse("  "), None);
    }

    #[test]
    fn missing_file_error_names_setting_and_path() {
        let e = load_certs("ssl_cert", &PemSource::File("/nonexistent/c.pem".into()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ssl_cert") && e.contains("/nonexistent/c.pem"),
            "{e}"
        );
    }

    #[test]
    fn key_file_without_key_is_rejected_clearly() {
        let e = load_key("ssl_key", &PemSource::Inline("hello".into()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("ssl_key") && e.contains("private key"), "{e}");
        let e = load_key(
            "ssl_key",
            &PemSource::Inline(
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA==\n-----END ENCRYPTED PRIVATE KEY-----\n"
                    .into(),
            ),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("encrypted"), "{e}");
    }
}
