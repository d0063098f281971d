//! Master-level globals (spec §1.2): `base_dir`, `protocols`, `listen`, `ssl`, the
//! `default_*` limits and users, `shutdown_clients`, and the log settings.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::values::{lenient, Size, Time};

/// Global `ssl` setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SslMode {
    #[default]
    Yes,
    No,
    Required,
}

impl<'de> Deserialize<'de> for WrappedSsl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = WrappedSsl;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("yes, no or required")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<WrappedSsl, E> {
                Ok(WrappedSsl(if v { SslMode::Yes } else { SslMode::No }))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<WrappedSsl, E> {
                if v.eq_ignore_ascii_case("required") {
                    return Ok(WrappedSsl(SslMode::Required));
                }
                super::values::parse_bool(v)
                    .map(|b| WrappedSsl(if b { SslMode::Yes } else { SslMode::No }))
                    .map_err(|_| E::custom(format!("invalid ssl '{v}': use yes, no or required")))
            }
        }
        d.deserialize_any(V)
    }
}

/// `ssl` accepts `yes|no|required` and TOML booleans.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct WrappedSsl(pub SslMode);

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Master-level globals (spec §1.2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CoreSettings {
    pub base_dir: PathBuf,
    #[serde(deserialize_with = "lenient::list")]
    pub protocols: Vec<String>,
    #[serde(deserialize_with = "lenient::list")]
    pub listen: Vec<String>,
    pub ssl: WrappedSsl,
    #[serde(deserialize_with = "lenient::uint")]
    pub default_process_limit: u32,
    #[serde(deserialize_with = "lenient::uint")]
    pub default_client_limit: u32,
    pub default_idle_kill: Time,
    pub default_vsz_limit: Size,
    pub default_internal_user: String,
    pub default_internal_group: String,
    pub default_login_user: String,
    #[serde(deserialize_with = "lenient::bool")]
    pub shutdown_clients: bool,
    /// Where errors and warnings go: a file, `syslog`, or `/dev/stderr` (also when empty).
    pub log_path: String,
    /// Empty: same as `log_path`.
    pub info_log_path: String,
    /// Empty: same as `info_log_path`.
    pub debug_log_path: String,
    /// Syslog facility when a log path is `syslog` (`mail`, `local0`..`local7`, …).
    pub syslog_facility: String,
    pub log_format: LogFormat,
    /// Which debug lines are written: empty or `no` none, `yes` all (roost's shorthand), else
    /// a Dovecot event filter (`category=auth`, `event=… AND user=bob*`).
    #[serde(deserialize_with = "lenient::filter")]
    pub log_debug: String,
    /// Dovecot event filter: the process aborts (core dump) after logging a matching event.
    pub log_core_filter: String,
    /// Count connections per client address (after PROXY) in
    /// `roost_service_client_connections_total{remote_ip}`. Off by default: one series per
    /// client address is unbounded (Dovecot's equivalent is an explicit `group_by = remote_ip`).
    #[serde(deserialize_with = "lenient::bool")]
    pub metrics_remote_ip: bool,
    /// Also export roost's series under the `dovecot_` names of Dovecot's OpenMetrics
    /// exporter (its documented example metrics), for dashboards built on Dovecot.
    #[serde(deserialize_with = "lenient::bool")]
    pub metrics_dovecot_aliases: bool,
}

impl Default for CoreSettings {
    fn default() -> Self {
        CoreSettings {
            base_dir: PathBuf::from("/run/roost"),
            protocols: Vec::new(),
            listen: vec!["*".into(), "::".into()],
            ssl: WrappedSsl(SslMode::Yes),
            default_process_limit: 100,
            default_client_limit: 1000,
            default_idle_kill: Time::from_secs(60),
            default_vsz_limit: Size(256 << 20),
            default_internal_user: "dovecot".into(),
            default_internal_group: "dovecot".into(),
            default_login_user: "dovenull".into(),
            shutdown_clients: true,
            log_path: "/dev/stderr".into(),
            info_log_path: String::new(),
            debug_log_path: String::new(),
            syslog_facility: "mail".into(),
            log_format: LogFormat::Text,
            log_debug: String::new(),
            log_core_filter: String::new(),
            metrics_remote_ip: false,
            metrics_dovecot_aliases: false,
        }
    }
}
