//! [`NetError`]: why listeners or the front door cannot be built from the configuration
//! (a port out of range, an address that does not resolve, a TLS setting, a bad
//! `haproxy_trusted_networks` entry). Each names the setting.

use super::tls::TlsError;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("{setting}: {port} is out of range")]
    Port { setting: String, port: u32 },
    #[error("{setting}: cannot resolve address '{address}': {source}")]
    Resolve {
        setting: String,
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Tls(#[from] TlsError),
    #[error("haproxy_trusted_networks: '{0}' is not an IP address or network (write e.g. 10.0.0.0/8 or 192.0.2.7)")]
    TrustedNetwork(String),
}
