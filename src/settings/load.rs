//! Loading: figment layers (built-in defaults < TOML file < `ROOST_*` environment), unknown-key
//! detection, and errors that name the setting and where it came from (file and line, or the
//! environment variable).

use std::collections::BTreeSet;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;

pub use super::error::ConfigError;
#[cfg(test)]
use super::loaded::env_var_name;
pub use super::loaded::{find_key_line, ConfigSource, Loaded};
use super::loaded::{line_of, locate, ENV_PREFIX};
use super::{validate, Settings, EMBEDDED_CONFIG};

/// Environment variables that configure roost itself rather than a setting.
const ENV_NOT_SETTINGS: &[&str] = &["config", "log"];

/// Maps `service.imap_login.inet_listener.imap_hap.port` (from `ROOST_SERVICE__IMAP_LOGIN__…`)
/// to `service.imap-login.inet_listener.imap-hap.port`: `_` in a service or listener name
/// stands for `-`.
fn env_key(key: &str) -> String {
    let parts: Vec<&str> = key.split('.').collect();
    let mut out: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
    if parts.first() == Some(&"service") {
        if let Some(p) = out.get_mut(1) {
            *p = p.replace('_', "-");
        }
        if parts.get(2).is_some_and(|k| k.ends_with("_listener")) {
            if let Some(p) = out.get_mut(3) {
                *p = p.replace('_', "-");
            }
        }
    }
    out.join(".")
}

fn env_provider() -> Env {
    Env::prefixed(ENV_PREFIX)
        .filter(|k| !ENV_NOT_SETTINGS.contains(&k.as_str().to_ascii_lowercase().as_str()))
        .split("__")
        .map(|k| env_key(&k.as_str().to_ascii_lowercase()).into())
        .lowercase(false)
}

/// Loads the configuration. Errors name the setting and its file and line.
pub fn load(source: &ConfigSource) -> Result<Loaded, ConfigError> {
    load_with_env(source, true)
}

/// As [`load`], optionally ignoring the environment (used by `roost config` round-trip tests).
pub fn load_with_env(source: &ConfigSource, use_env: bool) -> Result<Loaded, ConfigError> {
    let file_text = match source {
        ConfigSource::Embedded => EMBEDDED_CONFIG.to_string(),
        ConfigSource::File(p) => std::fs::read_to_string(p).map_err(|e| ConfigError {
            setting: String::new(),
            location: p.display().to_string(),
            message: format!("cannot read config file: {e}"),
        })?,
    };
    // Syntax errors first, with toml's own line/column report.
    let doc: toml_edit::ImDocument<String> =
        file_text.parse().map_err(|e: toml_edit::TomlError| {
            let line = e.span().map(|s| line_of(&file_text, s.start)).unwrap_or(0);
            ConfigError {
                setting: String::new(),
                location: format!("{} line {line}", source.display_name()),
                message: format!("TOML syntax error: {}", e.message()),
            }
        })?;
    let mut figment = Figment::from(Serialized::defaults(Settings::default()));
    figment = match source {
        ConfigSource::Embedded => figment.merge(Toml::string(&file_text)),
        ConfigSource::File(p) => figment.merge(Toml::file_exact(p)),
    };
    if use_env {
        figment = figment.merge(env_provider());
    }

    let file_text = Some(file_text);
    let mut warnings = Vec::new();
    check_unknown_keys(doc.as_table(), source, file_text.as_deref())?;
    if use_env {
        check_unknown_env()?;
    }

    let settings: Settings = figment.extract().map_err(|e| {
        let mut e = e.into_iter().next().expect("figment error has one entry");
        if e.path.is_empty() {
            // A flattened area loses the key path; extracting the areas alone finds it.
            if let Some(found) = area_error(&figment) {
                e = found;
            }
        }
        let setting = e.path.join(".");
        let location = locate(e.metadata.as_ref(), &setting, source, file_text.as_deref());
        ConfigError {
            setting,
            location,
            message: e.kind.to_string(),
        }
    })?;
    let loaded = Loaded {
        settings,
        source: source.clone(),
        warnings: Vec::new(),
        figment,
        file_text,
    };
    validate::validate(&loaded, &mut warnings)?;
    Ok(Loaded { warnings, ..loaded })
}

/// Extracts each flattened settings area on its own; the first error has its key path.
fn area_error(figment: &Figment) -> Option<figment::Error> {
    fn first<T: serde::de::DeserializeOwned>(f: &Figment) -> Option<figment::Error> {
        f.extract::<T>().err().and_then(|e| e.into_iter().next())
    }
    first::<super::core::CoreSettings>(figment)
        .or_else(|| first::<crate::net::settings::NetSettings>(figment))
        .or_else(|| first::<crate::mail::settings::MailSettings>(figment))
        .or_else(|| first::<crate::service::auth::settings::AuthSettings>(figment))
        .or_else(|| first::<crate::service::imap::settings::ImapSettings>(figment))
        .filter(|e| !e.path.is_empty())
}

/// Top-level keys that `Settings` knows: every key of its serialized default.
fn known_top_level_keys() -> BTreeSet<String> {
    match toml::Value::try_from(Settings::default()) {
        Ok(toml::Value::Table(t)) => t.keys().cloned().collect(),
        _ => BTreeSet::new(),
    }
}

/// Keys that a flattened struct is allowed to omit from its serialized default.
pub const OPTIONAL_TOP_LEVEL_KEYS: &[&str] = &["passdb", "userdb", "local_name", "namespace"];

fn is_known(known: &BTreeSet<String>, key: &str) -> bool {
    known.contains(key) || OPTIONAL_TOP_LEVEL_KEYS.contains(&key)
}

fn check_unknown_keys(
    table: &toml_edit::Table,
    source: &ConfigSource,
    text: Option<&str>,
) -> Result<(), ConfigError> {
    let known = known_top_level_keys();
    for (key, _) in table.iter() {
        if !is_known(&known, key) {
            let line = text.and_then(|t| find_key_line(t, key)).unwrap_or(0);
            return Err(ConfigError {
                setting: key.to_string(),
                location: format!("{} line {line}", source.display_name()),
                message: "unknown setting".into(),
            });
        }
    }
    Ok(())
}

fn check_unknown_env() -> Result<(), ConfigError> {
    let known = known_top_level_keys();
    for (k, _) in std::env::vars() {
        let Some(rest) = k.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let lower = rest.to_ascii_lowercase();
        if ENV_NOT_SETTINGS.contains(&lower.as_str()) {
            continue;
        }
        let top = lower.split("__").next().unwrap_or("");
        if !is_known(&known, top) {
            return Err(ConfigError {
                setting: top.to_string(),
                location: format!("environment variable {k}"),
                message: "unknown setting".into(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_key_mapping() {
        assert_eq!(
            env_key("service.imap_login.process_min_avail"),
            "service.imap-login.process_min_avail"
        );
        assert_eq!(
            env_key("service.imap_login.inet_listener.imap_hap.port"),
            "service.imap-login.inet_listener.imap-hap.port"
        );
        assert_eq!(env_key("default_process_limit"), "default_process_limit");
        assert_eq!(
            env_var_name("service.imap-login.process_min_avail"),
            "ROOST_SERVICE__IMAP_LOGIN__PROCESS_MIN_AVAIL"
        );
    }

    #[test]
    fn key_lines() {
        let t = "base_dir = \"/x\"\n\n[service.imap-login]\nprocess_limit = 3\n\n[service.imap-login.inet_listener.imap]\nport = 5\n";
        assert_eq!(find_key_line(t, "base_dir"), Some(1));
        assert_eq!(
            find_key_line(t, "service.imap-login.process_limit"),
            Some(4)
        );
        assert_eq!(
            find_key_line(t, "service.imap-login.inet_listener.imap.port"),
            Some(7)
        );
        assert_eq!(find_key_line(t, "nothing"), None);
    }
}

#[cfg(test)]
mod load_tests {
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;

    fn write(text: &str) -> tempfile_path::TempPath {
        tempfile_path::TempPath::with(text)
    }

    /// A tiny temp file helper (no extra crate).
    mod tempfile_path {
        pub struct TempPath(pub std::path::PathBuf);
        impl TempPath {
            pub fn with(text: &str) -> TempPath {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "roost-cfg-{}-{}.toml",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::write(&p, text).unwrap();
                TempPath(p)
            }
        }
        impl Drop for TempPath {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    fn load_text(text: &str) -> Result<Loaded, ConfigError> {
        let f = write(text);
        load_with_env(&ConfigSource::File(f.0.clone()), false)
    }

    #[test]
    fn embedded_loads() {
        let l = load_with_env(&ConfigSource::Embedded, false).unwrap();
        assert_eq!(l.settings.core.base_dir, PathBuf::from("/tmp/roost"));
        assert_eq!(l.settings.service["imap"].process_limit, 1024);
        assert_eq!(l.settings.service["stats"].inet_listener["http"].port, 9900);
    }

    #[test]
    fn merges_into_defaults() {
        let l = load_text("[service.imap-login]\nprocess_min_avail = 2\nservice_count = 0\n[service.imap-login.inet_listener.imaps]\naddress = \"127.0.0.1\"\nport = 993\nssl = true\n[service.auth.unix_listener.auth-client]\nmode = \"0666\"\n").unwrap();
        let s = &l.settings.service["imap-login"];
        assert_eq!(s.process_min_avail, 2);
        assert_eq!(s.service_type, crate::settings::ServiceType::Login);
        assert_eq!(s.inet_listener["imap"].port, 143);
        assert_eq!(s.inet_listener["imaps"].address, "127.0.0.1");
        assert_eq!(
            l.settings.service["auth"].unix_listener["auth-client"].mode,
            crate::settings::Mode(0o666)
        );
        assert_eq!(
            l.settings.service["auth"].unix_listener["auth-client"].user,
            "$default_internal_user"
        );
    }

    #[test]
    fn bad_value_names_file_and_line() {
        let e = load_text("base_dir = \"/x\"\n\n[service.imap]\nidle_kill = 30\n").unwrap_err();
        assert_eq!(e.setting, "service.imap.idle_kill");
        assert!(e.location.ends_with("line 4"), "{e}");
        assert!(e.message.contains("missing units"), "{e}");
    }

    #[test]
    fn unknown_setting_is_an_error() {
        let e = load_text("base_dir = \"/x\"\nproces_limit = 3\n").unwrap_err();
        assert_eq!(e.setting, "proces_limit");
        assert!(e.location.ends_with("line 2"), "{e}");
        let e = load_text("[service.imap]\nproces_limit = 3\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        assert!(e.message.contains("proces_limit"), "{e}");
    }

    #[test]
    fn bad_value_in_a_flattened_area_names_its_key() {
        let e = load_text("base_dir = \"/x\"\ndefault_idle_kill = 30\n").unwrap_err();
        assert_eq!(e.setting, "default_idle_kill");
        assert!(e.location.ends_with("line 2"), "{e}");
        assert!(e.message.contains("missing units"), "{e}");
        let e = load_text("haproxy_timeout = \"3 parsecs\"\n").unwrap_err();
        assert_eq!(e.setting, "haproxy_timeout");
        assert!(e.location.ends_with("line 1"), "{e}");
    }

    #[test]
    fn syntax_error_has_line() {
        let e = load_text("a = 1\nb = = 2\n").unwrap_err();
        assert!(e.location.ends_with("line 2"), "{e}");
        assert!(e.message.contains("TOML syntax error"));
    }

    #[test]
    fn validation_errors_have_lines() {
        let e =
            load_text("[service.imap]\nprocess_limit = 2\nprocess_min_avail = 3\n").unwrap_err();
        assert_eq!(e.setting, "service.imap.process_min_avail");
        assert!(e.location.ends_with("line 3"), "{e}");
        let e = load_text("[service.auth]\nprocess_limit = 2\n").unwrap_err();
        assert!(e.message.contains("must be 1"), "{e}");
        let e = load_text("protocols = [\"imap\", \"nntp\"]\n").unwrap_err();
        assert!(e.message.contains("unknown protocol 'nntp'"), "{e}");
        assert!(e.location.ends_with("line 1"), "{e}");
        let e = load_text("\nlogin_timeout = \"0\"\n").unwrap_err();
        assert_eq!(e.setting, "login_timeout");
        assert!(e.location.ends_with("line 2"), "{e}");
    }

    #[test]
    fn mode_without_zero_warns() {
        let l = load_text("[service.lmtp.unix_listener.lmtp]\nmode = \"666\"\n").unwrap();
        assert_eq!(
            l.settings.service["lmtp"].unix_listener["lmtp"].mode,
            crate::settings::Mode(0o666)
        );
        assert!(
            l.warnings
                .iter()
                .any(|w| w.contains("no leading 0") && w.contains("line 2")),
            "{:?}",
            l.warnings
        );
        let _ = std::io::stdout().flush();
    }
}
