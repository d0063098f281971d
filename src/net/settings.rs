//! Global settings of the network front door: TLS (`ssl_*`) and the HAProxy PROXY protocol
//! (`haproxy_*`). Listener-level `ssl`/`haproxy` flags live on each `inet_listener`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::settings::values::{lenient, Time};

/// A `local_name NAME { }` block: per-SNI-name certificate.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalName {
    pub ssl_cert: String,
    pub ssl_key: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetSettings {
    /// PEM certificate chain; Dovecot's `<path` form is accepted. Empty: roost generates a
    /// self-signed certificate in `base_dir` on first run.
    pub ssl_cert: String,
    pub ssl_key: String,
    /// `TLSv1.2` or `TLSv1.3` (older ones are not offered by rustls).
    pub ssl_min_protocol: String,
    pub ssl_cipher_list: String,
    #[serde(deserialize_with = "lenient::bool")]
    pub ssl_prefer_server_ciphers: bool,
    pub ssl_client_ca_file: String,
    #[serde(deserialize_with = "lenient::bool")]
    pub ssl_verify_client_cert: bool,
    /// Space/comma separated CIDRs allowed to send PROXY headers. Empty rejects everyone.
    #[serde(deserialize_with = "lenient::list")]
    pub haproxy_trusted_networks: Vec<String>,
    pub haproxy_timeout: Time,
    /// Per-SNI-name settings.
    pub local_name: BTreeMap<String, LocalName>,
}

impl Default for NetSettings {
    fn default() -> Self {
        NetSettings {
            ssl_cert: String::new(),
            ssl_key: String::new(),
            ssl_min_protocol: "TLSv1.2".into(),
            ssl_cipher_list: String::new(),
            ssl_prefer_server_ciphers: false,
            ssl_client_ca_file: String::new(),
            ssl_verify_client_cert: false,
            haproxy_trusted_networks: Vec::new(),
            haproxy_timeout: Time::from_secs(3),
            local_name: BTreeMap::new(),
        }
    }
}
