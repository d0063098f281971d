//! TLS with rustls (ring provider): builds the server configuration from the `ssl_*` settings
//! once per (re)load, and runs handshakes with a deadline.
//!
//! A [`TlsContext`] is immutable; SIGHUP builds a new one inside a new `FrontDoor`, so new
//! handshakes get the new certificate while established sessions keep the old one.

pub mod ciphers;
pub mod client_cert;
pub mod devcerts;
pub mod error;
pub mod pem;
pub mod selfsigned;
pub mod sni;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::version::{TLS12, TLS13};
use tokio_rustls::rustls::{ServerConfig, SupportedProtocolVersion};
use tokio_rustls::TlsAcceptor;

use self::error::invalid;
pub use self::error::TlsError;
use self::pem::PemSource;
use self::sni::SniResolver;
use crate::net::settings::NetSettings;

/// The server side of TLS for one configuration generation.
#[derive(Clone)]
pub struct TlsContext {
    pub acceptor: TlsAcceptor,
    pub config: Arc<ServerConfig>,
    /// Where the default certificate came from (for the start-up log line).
    pub cert_source: String,
}

impl std::fmt::Debug for TlsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsContext")
            .field("cert_source", &self.cert_source)
            .finish()
    }
}

/// `ssl_min_protocol` to the versions rustls will offer.
pub fn protocol_versions(
    min: &str,
) -> Result<&'static [&'static SupportedProtocolVersion], TlsError> {
    static BOTH: [&SupportedProtocolVersion; 2] = [&TLS13, &TLS12];
    static ONLY13: [&SupportedProtocolVersion; 1] = [&TLS13];
    match min.trim() {
        "" | "TLSv1.2" => Ok(&BOTH),
        "TLSv1.3" | "LATEST" => Ok(&ONLY13),
        old @ ("SSLv3" | "TLSv1" | "TLSv1.1" | "ANY") => Err(invalid(
            "ssl_min_protocol",
            format!(
                "'{old}' is not supported: roost (rustls) speaks TLSv1.2 and TLSv1.3 only; \
                 set ssl_min_protocol = TLSv1.2"
            ),
        )),
        other => Err(invalid(
            "ssl_min_protocol",
            format!("unknown protocol '{other}': use TLSv1.2 or TLSv1.3"),
        )),
    }
}

/// A cryptographic provider limited to the suites `ssl_cipher_list` selects. The server side
/// uses aws-lc-rs: its RSA-2048 signature (one per full handshake, most of a TLS login's CPU)
/// takes half of ring's time on this hardware (4,833 against 2,357 signs/s on one core),
/// as fast as OpenSSL's.
pub fn provider(net: &NetSettings) -> Result<Arc<CryptoProvider>, TlsError> {
    let mut p = tokio_rustls::rustls::crypto::aws_lc_rs::default_provider();
    let only13 = protocol_versions(&net.ssl_min_protocol)?.len() == 1;
    let mut suites = ciphers::tls13_all();
    if !only13 {
        let (tls12, unknown) = ciphers::select_tls12(&net.ssl_cipher_list)
            .map_err(|m| invalid("ssl_cipher_list", m))?;
        if !unknown.is_empty() {
            tracing::warn!(
                "ssl_cipher_list: ignoring unknown entries {}",
                unknown.join(", ")
            );
        }
        suites.extend(tls12);
    }
    p.cipher_suites = suites;
    Ok(Arc::new(p))
}

/// Loads a certificate chain and its key into a rustls `CertifiedKey`, checking they match.
pub fn certified_key(
    provider: &CryptoProvider,
    cert_setting: &str,
    cert: &PemSource,
    key_setting: &str,
    key: &PemSource,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = pem::load_certs(cert_setting, cert)?;
    let der = pem::load_key(key_setting, key)?;
    let signer = provider.key_provider.load_private_key(der).map_err(|e| {
        invalid(
            key_setting,
            format!("{}: unsupported private key: {e}", key.describe()),
        )
    })?;
    let ck = CertifiedKey::new(chain, signer);
    if let Err(tokio_rustls::rustls::Error::InconsistentKeys(_)) = ck.keys_match() {
        return Err(invalid(
            key_setting,
            format!(
                "{} is not the private key of the certificate in {cert_setting} ({})",
                key.describe(),
                cert.describe()
            ),
        ));
    }
    Ok(Arc::new(ck))
}

/// Both or neither of a cert/key pair; `None` when both are empty.
fn pair(
    cert_setting: &str,
    cert: &str,
    key_setting: &str,
    key: &str,
) -> Result<Option<(PemSource, PemSource)>, TlsError> {
    match (PemSource::parse(cert), PemSource::parse(key)) {
        (None, None) => Ok(None),
        (Some(c), Some(k)) => Ok(Some((c, k))),
        (Some(_), None) => Err(invalid(
            key_setting,
            format!("is empty but {cert_setting} is set: give the certificate's private key"),
        )),
        (None, Some(_)) => Err(invalid(
            cert_setting,
            format!("is empty but {key_setting} is set: give the certificate (PEM chain)"),
        )),
    }
}

/// Builds the TLS context from the settings. With neither `ssl_cert` nor `ssl_key` set, a
/// self-signed certificate in `base_dir` is used (generated on first run).
pub fn build(net: &NetSettings, base_dir: &Path) -> Result<TlsContext, TlsError> {
    let versions = protocol_versions(&net.ssl_min_protocol)?;
    let provider = provider(net)?;
    let (cert, key) = match pair("ssl_cert", &net.ssl_cert, "ssl_key", &net.ssl_key)? {
        Some(p) => p,
        None => {
            let (c, k) = selfsigned::ensure(base_dir)?;
            (PemSource::File(c), PemSource::File(k))
        }
    };
    let default = certified_key(&provider, "ssl_cert", &cert, "ssl_key", &key)?;
    let mut resolver = SniResolver::new(default);
    for (names, ln) in &net.local_name {
        let cs = format!("local_name {names}: ssl_cert");
        let ks = format!("local_name {names}: ssl_key");
        if let Some((c, k)) = pair(&cs, &ln.ssl_cert, &ks, &ln.ssl_key)? {
            resolver.add(names, certified_key(&provider, &cs, &c, &ks, &k)?);
        }
    }
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| invalid("ssl_cipher_list", e.to_string()))?;
    let builder = match client_cert::verifier(net, &provider)? {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(Arc::new(resolver));
    config.ignore_client_order = net.ssl_prefer_server_ciphers;
    let config = Arc::new(config);
    Ok(TlsContext {
        acceptor: TlsAcceptor::from(config.clone()),
        config,
        cert_source: cert.describe(),
    })
}

/// Why a handshake did not complete.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("TLS handshake timed out after {0:?}")]
    Timeout(Duration),
    #[error("TLS handshake failed: {0}")]
    Failed(std::io::Error),
}

impl HandshakeError {
    /// Metric label.
    pub fn reason(&self) -> crate::net::reject::RejectReason {
        match self {
            HandshakeError::Timeout(_) => crate::net::reject::RejectReason::TlsTimeout,
            HandshakeError::Failed(_) => crate::net::reject::RejectReason::TlsHandshake,
        }
    }
}

/// Runs a server handshake on `io`, giving up after `timeout`.
pub async fn handshake<IO>(
    acceptor: &TlsAcceptor,
    io: IO,
    timeout: Duration,
) -> Result<tokio_rustls::server::TlsStream<IO>, HandshakeError>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    match tokio::time::timeout(timeout, acceptor.accept(io)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(HandshakeError::Failed(e)),
        Err(_) => Err(HandshakeError::Timeout(timeout)),
    }
}

/// The common name of the client's verified certificate, if it sent one.
pub fn peer_common_name(conn: &tokio_rustls::rustls::ServerConnection) -> Option<String> {
    let leaf = conn.peer_certificates()?.first()?;
    client_cert::common_name(leaf)
}

#[cfg(test)]
mod tests;
