//! `roost config [-n]`: the effective settings as TOML that loads again unchanged, or only what
//! differs from the built-in (Dovecot 2.3.19.1) defaults, like `doveconf -n`.

use super::Settings;

/// Renders `settings` as TOML; with `only_changed`, keeps only values that differ from
/// `Settings::default()`.
pub fn to_toml(settings: &Settings, only_changed: bool) -> Result<String, String> {
    let value = toml::Value::try_from(settings).map_err(|e| e.to_string())?;
    let value = if only_changed {
        let defaults = toml::Value::try_from(Settings::default()).map_err(|e| e.to_string())?;
        diff(&value, &defaults).unwrap_or_else(|| toml::Value::Table(Default::default()))
    } else {
        value
    };
    toml::to_string(&value).map_err(|e| e.to_string())
}

/// The parts of `v` that differ from `d` (tables recurse; other values compare whole).
fn diff(v: &toml::Value, d: &toml::Value) -> Option<toml::Value> {
    match (v, d) {
        (toml::Value::Table(vt), toml::Value::Table(dt)) => {
            let mut out = toml::map::Map::new();
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
                Some(toml::Value::Table(out))
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
