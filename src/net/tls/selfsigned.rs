//! The self-signed certificate behind the embedded default configuration: generated with rcgen
//! into `base_dir` the first time roost starts without `ssl_cert`/`ssl_key`, and reused after
//! that so clients that pinned it keep working. The key file is created with mode 0600.

use std::path::{Path, PathBuf};

use super::error::TlsError;
use super::pem::write_atomically;

/// File names inside `base_dir`.
pub const CERT_FILE: &str = "ssl-selfsigned-cert.pem";
pub const KEY_FILE: &str = "ssl-selfsigned-key.pem";

/// Returns the paths of the certificate and key, generating them if either is missing.
pub fn ensure(base_dir: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
    let cert = base_dir.join(CERT_FILE);
    let key = base_dir.join(KEY_FILE);
    if cert.is_file() && key.is_file() {
        return Ok((cert, key));
    }
    let fail = |message: String| TlsError::Invalid {
        setting: "ssl_cert".into(),
        message,
    };
    std::fs::create_dir_all(base_dir).map_err(|e| {
        fail(format!(
            "ssl_cert is empty and the self-signed certificate cannot be created: \
             cannot create base_dir {}: {e}",
            base_dir.display()
        ))
    })?;
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let h = h.trim();
        if !h.is_empty() && h != "localhost" {
            names.push(h.to_string());
        }
    }
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|e| fail(format!("cannot generate a self-signed certificate: {e}")))?;
    let write = |path: &Path, text: String, mode: u32| {
        write_atomically(path, text.as_bytes(), mode)
            .map_err(|e| fail(format!("cannot write {}: {e}", path.display())))
    };
    write(&key, generated.signing_key.serialize_pem(), 0o600)?;
    write(&cert, generated.cert.pem(), 0o644)?;
    tracing::warn!(
        cert = %cert.display(),
        "ssl_cert is not set: generated a self-signed certificate; set ssl_cert and ssl_key \
         for production"
    );
    Ok((cert, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generated_once_with_private_key_mode_0600_and_then_reused() {
        let dir = std::env::temp_dir().join(format!("roost-selfsigned-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (c, k) = ensure(&dir).unwrap();
        let mode = std::fs::metadata(&k).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let first = std::fs::read(&c).unwrap();
        let (c2, _) = ensure(&dir).unwrap();
        assert_eq!(
            std::fs::read(c2).unwrap(),
            first,
            "certificate must be reused"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
