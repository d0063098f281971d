//! `service NAME { }` blocks and their `inet_listener`, `unix_listener` and `fifo_listener`
//! sub-blocks, with Dovecot's setting names, and the derived values the master computes from
//! them (effective `client_limit`, `process_limit`, `idle_kill`, `vsz_limit`; spec §1.2).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::core::CoreSettings;
use super::values::{lenient, Mode, Size, Time};

/// Dovecot's service `type` (spec §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceType {
    #[default]
    #[serde(rename = "")]
    Normal,
    Startup,
    Login,
    Worker,
    Log,
    Config,
    Anvil,
}

impl ServiceType {
    pub fn as_str(&self) -> &'static str {
        match self {
            ServiceType::Normal => "",
            ServiceType::Startup => "startup",
            ServiceType::Login => "login",
            ServiceType::Worker => "worker",
            ServiceType::Log => "log",
            ServiceType::Config => "config",
            ServiceType::Anvil => "anvil",
        }
    }
}

/// One `service NAME { }` block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceSettings {
    /// The service exists only if this word is in `protocols` (empty: always).
    pub protocol: String,
    #[serde(rename = "type")]
    pub service_type: ServiceType,
    /// Kept for Dovecot parity; roost runs every service in-process. Empty drops the service.
    pub executable: String,
    pub user: String,
    pub group: String,
    pub extra_groups: String,
    pub privileged_group: String,
    pub chroot: String,
    #[serde(deserialize_with = "lenient::bool")]
    pub drop_priv_before_exec: bool,
    #[serde(deserialize_with = "lenient::uint")]
    pub process_min_avail: u32,
    #[serde(deserialize_with = "lenient::uint")]
    pub process_limit: u32,
    #[serde(deserialize_with = "lenient::uint")]
    pub client_limit: u32,
    #[serde(deserialize_with = "lenient::uint")]
    pub service_count: u32,
    pub idle_kill: Time,
    /// `None` is "unset" (then `default_vsz_limit` applies); `0` is no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vsz_limit: Option<Size>,
    pub inet_listener: BTreeMap<String, InetListener>,
    pub unix_listener: BTreeMap<String, UnixListener>,
    pub fifo_listener: BTreeMap<String, UnixListener>,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        ServiceSettings {
            protocol: String::new(),
            service_type: ServiceType::Normal,
            executable: String::new(),
            user: String::new(),
            group: String::new(),
            extra_groups: String::new(),
            privileged_group: String::new(),
            chroot: String::new(),
            drop_priv_before_exec: false,
            process_min_avail: 0,
            process_limit: 0,
            client_limit: 0,
            service_count: 0,
            idle_kill: Time::ZERO,
            vsz_limit: None,
            inet_listener: BTreeMap::new(),
            unix_listener: BTreeMap::new(),
            fifo_listener: BTreeMap::new(),
        }
    }
}

/// `inet_listener NAME { }`.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InetListener {
    /// Empty: use the global `listen`. Space/comma separated list.
    pub address: String,
    /// 0 disables the listener.
    #[serde(deserialize_with = "lenient::uint")]
    pub port: u32,
    #[serde(deserialize_with = "lenient::bool")]
    pub ssl: bool,
    #[serde(deserialize_with = "lenient::bool")]
    pub haproxy: bool,
    #[serde(deserialize_with = "lenient::bool")]
    pub reuse_port: bool,
}

/// `unix_listener PATH { }` and `fifo_listener PATH { }`. The block key is the path (relative to
/// `base_dir` unless absolute) unless `path` is set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnixListener {
    pub path: String,
    /// 0 disables the listener.
    pub mode: Mode,
    pub user: String,
    pub group: String,
}

impl Default for UnixListener {
    fn default() -> Self {
        UnixListener {
            path: String::new(),
            mode: Mode(0o600),
            user: String::new(),
            group: String::new(),
        }
    }
}

/// The values the master actually uses, after `0 → default_*` expansion and the
/// `service_count` clamp (spec §1.2 "derived values").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Effective {
    pub process_limit: u32,
    pub client_limit: u32,
    pub service_count: u32,
    pub process_min_avail: u32,
    pub idle_kill: Time,
    /// 0 = no limit.
    pub vsz_limit: u64,
}

impl Effective {
    pub fn capacity(&self) -> u64 {
        self.process_limit as u64 * self.client_limit as u64
    }
}

impl ServiceSettings {
    pub fn effective(&self, core: &CoreSettings) -> Effective {
        let mut client_limit = if self.client_limit == 0 {
            core.default_client_limit
        } else {
            self.client_limit
        };
        if self.service_count > 0 && client_limit > self.service_count {
            client_limit = self.service_count;
        }
        Effective {
            process_limit: if self.process_limit == 0 {
                core.default_process_limit
            } else {
                self.process_limit
            },
            client_limit,
            service_count: self.service_count,
            process_min_avail: self.process_min_avail,
            idle_kill: if self.idle_kill.is_zero() {
                core.default_idle_kill
            } else {
                self.idle_kill
            },
            vsz_limit: self.vsz_limit.unwrap_or(core.default_vsz_limit).0,
        }
    }
}
