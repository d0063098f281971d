//! Settings with Dovecot's names, defaults and value syntax.
//!
//! One `Settings` value is the whole configuration. It is built by [`load`] from, in order:
//! built-in defaults (Dovecot 2.3.19.1's, [`defaults`]), the TOML file (`-c FILE`,
//! `ROOST_CONFIG`, or the embedded `config/roost.toml`), and `ROOST_*` environment variables.
//! Each area of the server owns the struct of its global settings (flattened in here), so that
//! areas grow without touching each other.

pub mod core;
pub mod defaults;
pub mod error;
pub mod load;
pub mod loaded;
pub mod print;
pub mod service;
pub mod validate;
pub mod values;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use self::core::{CoreSettings, LogFormat, SslMode, WrappedSsl};
pub use error::ConfigError;
pub use load::load;
pub use loaded::{ConfigSource, Loaded};
pub use service::{Effective, InetListener, ServiceSettings, ServiceType, UnixListener};
pub use values::{Mode, Size, Time};

/// The embedded default configuration file (`config/roost.toml`).
pub const EMBEDDED_CONFIG: &str = include_str!("../../config/roost.toml");

/// The whole configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    #[serde(flatten)]
    pub core: CoreSettings,
    #[serde(flatten)]
    pub net: crate::net::settings::NetSettings,
    #[serde(flatten)]
    pub mail: crate::mail::settings::MailSettings,
    #[serde(flatten)]
    pub auth: crate::service::auth::settings::AuthSettings,
    #[serde(flatten)]
    pub doveadm: crate::service::doveadm::settings::DoveadmSettings,
    #[serde(flatten)]
    pub imap: crate::service::imap::settings::ImapSettings,
    pub service: BTreeMap<String, ServiceSettings>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            core: CoreSettings::default(),
            net: Default::default(),
            mail: Default::default(),
            auth: Default::default(),
            doveadm: Default::default(),
            imap: Default::default(),
            service: defaults::default_services(),
        }
    }
}

impl Settings {
    /// Expands `$default_internal_user` and friends in a user/group field.
    pub fn expand_user(&self, value: &str) -> String {
        match value {
            "$default_internal_user" => self.core.default_internal_user.clone(),
            "$default_internal_group" => self.core.default_internal_group.clone(),
            "$default_login_user" => self.core.default_login_user.clone(),
            other => other.to_string(),
        }
    }

    /// Whether `service` is enabled by the `protocols` filter and has an executable.
    pub fn service_enabled(&self, service: &ServiceSettings) -> bool {
        if service.executable.trim().is_empty() {
            return false;
        }
        service.protocol.is_empty()
            || self
                .core
                .protocols
                .iter()
                .any(|p| p.eq_ignore_ascii_case(&service.protocol))
    }

    /// Resolves a unix/fifo listener's path: the `path` field or the block key, relative to
    /// `base_dir` unless absolute.
    pub fn listener_path(&self, key: &str, l: &UnixListener) -> PathBuf {
        let p = if l.path.is_empty() { key } else { &l.path };
        let p = PathBuf::from(p);
        if p.is_absolute() {
            p
        } else {
            self.core.base_dir.join(p)
        }
    }
}
