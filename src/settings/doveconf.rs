//! `roost config -a`: every setting with its value, defaults included, in doveconf's layout —
//! `name = value` lines in name order, with `passdb {`, `userdb {`, `local_name NAME {`,
//! `service NAME {` and its `inet_listener` / `unix_listener` / `fifo_listener NAME {` blocks
//! at their name's place, two spaces of indent per level, values in Dovecot's spelling
//! (`yes`/`no`, `60 secs`, `256 M`, lists joined by spaces, `listen` by `, `). Secrets are
//! hidden ([`super::secrets`]) unless asked to show them.

use toml::Value;

use super::secrets;
use super::Settings;

/// Renders `settings` in doveconf's layout.
pub fn to_doveconf(settings: &Settings, show_secrets: bool) -> Result<String, String> {
    let value = Value::try_from(settings).map_err(|e| e.to_string())?;
    let Value::Table(top) = value else {
        return Err("settings are not a table".into());
    };
    let mut out = String::new();
    table(&mut out, &top, 0, show_secrets);
    Ok(out)
}

/// One table's entries in name order; a sub-table is a block named by its key (and, for the
/// named blocks, by each entry's key); an array of tables is one block per element.
fn table(out: &mut String, t: &toml::map::Map<String, Value>, depth: usize, show: bool) {
    let indent = "  ".repeat(depth);
    let mut keys: Vec<&String> = t.keys().collect();
    keys.sort();
    for key in keys {
        let v = &t[key];
        match v {
            // `service`, `local_name`, `*_listener`: a table of named blocks.
            Value::Table(named) if is_named_block(key) => {
                let mut names: Vec<&String> = named.keys().collect();
                names.sort();
                for name in names {
                    if let Value::Table(body) = &named[name] {
                        out.push_str(&format!("{indent}{key} {name} {{\n"));
                        table(out, body, depth + 1, show);
                        out.push_str(&format!("{indent}}}\n"));
                    }
                }
            }
            Value::Table(body) => {
                out.push_str(&format!("{indent}{key} {{\n"));
                table(out, body, depth + 1, show);
                out.push_str(&format!("{indent}}}\n"));
            }
            Value::Array(items) if items.iter().all(Value::is_table) && !items.is_empty() => {
                for item in items {
                    if let Value::Table(body) = item {
                        out.push_str(&format!("{indent}{key} {{\n"));
                        table(out, body, depth + 1, show);
                        out.push_str(&format!("{indent}}}\n"));
                    }
                }
            }
            // An empty passdb/userdb list prints nothing, as doveconf has no block then.
            Value::Array(items) if items.is_empty() && (key == "passdb" || key == "userdb") => {}
            _ => {
                let text = scalar(key, v);
                let text = if show {
                    text
                } else {
                    secrets::hide(key, &text).unwrap_or(text)
                };
                out.push_str(&format!("{indent}{key} = {text}\n"));
            }
        }
    }
}

/// Every setting as `(path, value)` in name order, with `/` between block levels
/// (`service/imap-login/inet_listener/imap/port`, `passdb/0/driver`); values in Dovecot's
/// spelling and not hidden (the config socket's `key=value` lines).
pub fn flatten(settings: &Settings) -> Result<Vec<(String, String)>, String> {
    let value = Value::try_from(settings).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    flatten_into(&mut out, "", &value);
    Ok(out)
}

fn flatten_into(out: &mut Vec<(String, String)>, prefix: &str, v: &Value) {
    let path = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}/{k}")
        }
    };
    match v {
        Value::Table(t) => {
            let mut keys: Vec<&String> = t.keys().collect();
            keys.sort();
            for k in keys {
                match &t[k] {
                    item @ (Value::Table(_) | Value::Array(_)) if !is_scalar_list(&t[k]) => {
                        flatten_into(out, &path(k), item)
                    }
                    item => out.push((path(k), scalar(k, item))),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten_into(out, &path(&i.to_string()), item);
            }
        }
        other => {
            let key = prefix.rsplit('/').next().unwrap_or(prefix).to_string();
            out.push((prefix.to_string(), scalar(&key, other)));
        }
    }
}

/// A list of plain values (`protocols`), printed as one value.
fn is_scalar_list(v: &Value) -> bool {
    matches!(v, Value::Array(items) if items.iter().all(|i| !i.is_table() && !i.is_array()))
}

fn is_named_block(key: &str) -> bool {
    matches!(
        key,
        "service" | "local_name" | "inet_listener" | "unix_listener" | "fifo_listener"
    )
}

/// A value in Dovecot's spelling.
fn scalar(key: &str, v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Boolean(b) => if *b { "yes" } else { "no" }.to_string(),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Datetime(d) => d.to_string(),
        Value::Array(items) => {
            let words: Vec<String> = items.iter().map(|i| scalar(key, i)).collect();
            words.join(if key == "listen" { ", " } else { " " })
        }
        Value::Table(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::auth::settings::DbSettings;

    #[test]
    fn layout_and_hidden_secrets() {
        let mut s = Settings::default();
        s.net.ssl_key = "</etc/k.pem".into();
        s.auth.passdb.push(DbSettings {
            driver: "static".into(),
            args: "password=foo".into(),
            ..DbSettings::default()
        });
        let text = to_doveconf(&s, false).unwrap();
        assert!(text.contains("\nlisten = *, ::\n"), "{text}");
        assert!(text.contains("\nshutdown_clients = yes\n"), "{text}");
        assert!(
            text.contains("\nssl_key = # hidden, use -P to show it\n"),
            "{text}"
        );
        assert!(
            text.contains("passdb {\n  args = password=#hidden_use-P_to_show#\n"),
            "{text}"
        );
        assert!(
            text.contains("\nservice imap-login {\n  chroot = login\n"),
            "{text}"
        );
        assert!(
            text.contains("\n  inet_listener imaps {\n    address = \n"),
            "{text}"
        );
        assert!(!text.contains("foo"), "{text}");
        // In name order at every level.
        let top: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with(' ') && !l.starts_with('}'))
            .map(|l| l.split([' ', '=']).next().unwrap())
            .collect();
        let mut sorted = top.clone();
        sorted.sort();
        assert_eq!(top, sorted);
        let flat = flatten(&s).unwrap();
        let get = |k: &str| flat.iter().find(|(p, _)| p == k).map(|(_, v)| v.as_str());
        assert_eq!(get("passdb/0/args"), Some("password=foo"));
        assert_eq!(get("ssl_key"), Some("</etc/k.pem"));
        assert_eq!(get("listen"), Some("*, ::"));
        assert_eq!(
            get("service/imap-login/inet_listener/imaps/ssl"),
            Some("yes")
        );
        let shown = to_doveconf(&s, true).unwrap();
        assert!(shown.contains("\nssl_key = </etc/k.pem\n"), "{shown}");
        assert!(shown.contains("  args = password=foo\n"), "{shown}");
    }
}
