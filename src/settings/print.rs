//! `roost config [-n]`: the effective settings as TOML that loads again unchanged, or only what
//! differs from the built-in (Dovecot 2.3.19.1) defaults, like `doveconf -n` — inside
//! `[[passdb]]`, `[[userdb]]`, `[local_name.NAME]` and `[namespace.NAME]` (with its
//! `mailbox.NAME`) blocks too, field by field.

use toml::map::Map;
use toml::Value;

use super::Settings;
use crate::mail::namespace::{MailboxSettings, NamespaceSettings};
use crate::net::settings::LocalName;
use crate::service::auth::settings::DbSettings;

/// Renders `settings` as TOML; with `only_changed`, keeps only values that differ from
/// `Settings::default()`.
pub fn to_toml(settings: &Settings, only_changed: bool) -> Result<String, String> {
    let value = to_value(settings)?;
    let value = if only_changed {
        changed_only(&value, &to_value(Settings::default())?)?
    } else {
        value
    };
    toml::to_string(&value).map_err(|e| e.to_string())
}

fn to_value(v: impl serde::Serialize) -> Result<Value, String> {
    Value::try_from(v).map_err(|e| e.to_string())
}

/// The top-level keys whose default is empty and whose entries each start from a default
/// entry (a missing field loads as that entry's default), with that default entry.
fn entry_defaults() -> Result<[(&'static str, Value); 4], String> {
    let db = to_value(DbSettings::default())?;
    Ok([
        ("passdb", db.clone()),
        ("userdb", db),
        ("local_name", to_value(LocalName::default())?),
        ("namespace", to_value(NamespaceSettings::default())?),
    ])
}

/// `settings` minus what equals `defaults`. Blocks listed in [`entry_defaults`] keep every
/// entry (their number and names matter) but only each entry's changed fields.
fn changed_only(settings: &Value, defaults: &Value) -> Result<Value, String> {
    let mut out = match diff(settings, defaults) {
        Some(Value::Table(t)) => t,
        _ => Map::new(),
    };
    for (key, entry_default) in entry_defaults()? {
        let minimal =
            |entry: &Value| diff(entry, &entry_default).unwrap_or_else(|| Value::Table(Map::new()));
        let value = match out.get(key) {
            Some(Value::Array(entries)) => Value::Array(entries.iter().map(minimal).collect()),
            Some(Value::Table(entries)) => Value::Table(
                entries
                    .iter()
                    .map(|(name, entry)| (name.clone(), minimal(entry)))
                    .collect(),
            ),
            _ => continue,
        };
        out.insert(key.to_string(), value);
    }
    // `[namespace.N.mailbox.M]` blocks: each kept, with only its changed fields.
    if let Some(Value::Table(namespaces)) = out.get_mut("namespace") {
        let mailbox_default = to_value(MailboxSettings::default())?;
        for (_, ns) in namespaces.iter_mut() {
            if let Some(Value::Table(boxes)) = ns.get_mut("mailbox") {
                for (_, b) in boxes.iter_mut() {
                    *b = diff(b, &mailbox_default).unwrap_or_else(|| Value::Table(Map::new()));
                }
            }
        }
    }
    Ok(Value::Table(out))
}

/// The parts of `v` that differ from `d` (tables recurse; other values compare whole).
fn diff(v: &Value, d: &Value) -> Option<Value> {
    match (v, d) {
        (Value::Table(vt), Value::Table(dt)) => {
            let mut out = Map::new();
            for (k, vv) in vt {
                match dt.get(k) {
                    Some(dv) => {
                        if let Some(x) = diff(vv, dv) {
                            out.insert(k.clone(), x);
                        }
                    }
                    None => {
                        out.insert(k.clone(), vv.clone());
                    }
                }
            }
            if out.is_empty() {
                None
            } else {
                Some(Value::Table(out))
            }
        }
        _ if v == d => None,
        _ => Some(v.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::load::{load_with_env, ConfigSource};

    fn roundtrip(only_changed: bool) {
        let a = load_with_env(&ConfigSource::Embedded, false)
            .unwrap()
            .settings;
        let text = to_toml(&a, only_changed).unwrap();
        let p = std::env::temp_dir().join(format!(
            "roost-print-{}-{only_changed}.toml",
            std::process::id()
        ));
        std::fs::write(&p, &text).unwrap();
        let b = load_with_env(&ConfigSource::File(p.clone()), false)
            .unwrap()
            .settings;
        let _ = std::fs::remove_file(&p);
        assert_eq!(a, b, "round-trip changed the settings:\n{text}");
    }

    #[test]
    fn full_output_roundtrips() {
        roundtrip(false);
    }

    #[test]
    fn changed_only_prints_only_changed_passdb_userdb_and_local_name_fields() {
        let mut a = Settings::default();
        a.auth.passdb.push(DbSettings {
            driver: "passwd-file".into(),
            args: "/etc/users".into(),
            deny: true,
            ..DbSettings::default()
        });
        a.auth.passdb.push(DbSettings {
            driver: "static".into(),
            ..DbSettings::default()
        });
        a.auth.userdb.push(DbSettings {
            driver: "passwd".into(),
            result_success: "continue-ok".into(),
            ..DbSettings::default()
        });
        a.net.local_name.insert(
            "mail.example.test".into(),
            LocalName {
                ssl_cert: "</c.pem".into(),
                ..LocalName::default()
            },
        );
        let text = to_toml(&a, true).unwrap();
        for default_field in [
            "skip",
            "result_failure",
            "result_internalfail",
            "master",
            "pass",
            "default_fields",
            "override_fields",
            "ssl_key",
        ] {
            let key = format!("{default_field} =");
            assert!(
                !text.lines().any(|l| l.starts_with(&key)),
                "{default_field}:\n{text}"
            );
        }
        for changed in [
            "args = \"/etc/users\"",
            "deny = true",
            "driver = \"static\"",
            "result_success = \"continue-ok\"",
            "ssl_cert = \"</c.pem\"",
        ] {
            assert!(text.contains(changed), "{changed}:\n{text}");
        }
        let value: Value = toml::from_str(&text).unwrap();
        let b: Settings = value.try_into().unwrap();
        assert_eq!(a, b, "{text}");
    }

    #[test]
    fn changed_only_roundtrips_and_is_small() {
        roundtrip(true);
        let a = load_with_env(&ConfigSource::Embedded, false)
            .unwrap()
            .settings;
        let text = to_toml(&a, true).unwrap();
        assert!(text.contains("base_dir = \"/tmp/roost\""), "{text}");
        assert!(!text.contains("process_limit"), "{text}");
        assert!(to_toml(&Settings::default(), true)
            .unwrap()
            .trim()
            .is_empty());
    }
}
