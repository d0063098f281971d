//! A loaded configuration and how to explain it: [`ConfigSource`] (embedded or a file),
//! [`Loaded`] (the settings plus the figment layers and file text behind them), and the
//! helpers that name where a setting came from (`FILE line N`, the environment variable, or
//! the built-in defaults).

use std::path::PathBuf;

use figment::{Figment, Metadata, Source};

use super::Settings;

pub(super) const ENV_PREFIX: &str = "ROOST_";

/// Where the TOML layer comes from.
#[derive(Clone, Debug)]
pub enum ConfigSource {
    /// The embedded `config/roost.toml`.
    Embedded,
    File(PathBuf),
}

impl ConfigSource {
    /// `-c FILE` wins, then `ROOST_CONFIG`, then the embedded default.
    pub fn from_cli(path: Option<PathBuf>) -> ConfigSource {
        match path.or_else(|| std::env::var_os("ROOST_CONFIG").map(PathBuf::from)) {
            Some(p) => ConfigSource::File(p),
            None => ConfigSource::Embedded,
        }
    }

    pub fn display_name(&self) -> String {
        match self {
            ConfigSource::Embedded => "embedded config/roost.toml".into(),
            ConfigSource::File(p) => p.display().to_string(),
        }
    }
}

/// A successfully loaded configuration plus what is needed to explain it later.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub settings: Settings,
    pub source: ConfigSource,
    /// Non-fatal findings (e.g. a `mode` without its leading 0); logged at start-up.
    pub warnings: Vec<String>,
    pub(super) figment: Figment,
    pub(super) file_text: Option<String>,
}

impl Loaded {
    /// The value of `setting` as written by whichever layer set it (for syntax warnings).
    pub fn raw_value(&self, setting: &str) -> Option<String> {
        let v = self.figment.find_value(setting).ok()?;
        match v {
            figment::value::Value::String(_, s) => Some(s),
            figment::value::Value::Num(_, n) => n.to_u128().map(|n| n.to_string()),
            _ => None,
        }
    }

    /// Describes where `setting` (dotted path) got its value.
    pub fn locate(&self, setting: &str) -> String {
        let meta = self.figment.find_metadata(setting);
        locate(meta, setting, &self.source, self.file_text.as_deref())
    }
}

pub(super) fn env_var_name(setting: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        setting
            .replace('-', "_")
            .replace('.', "__")
            .to_ascii_uppercase()
    )
}

/// Names a location for `setting` given the metadata of the provider that set it.
pub(super) fn locate(
    meta: Option<&Metadata>,
    setting: &str,
    source: &ConfigSource,
    text: Option<&str>,
) -> String {
    let Some(meta) = meta else {
        return "built-in defaults".into();
    };
    if meta.name.contains("environment") {
        return format!("environment variable {}", env_var_name(setting));
    }
    let is_file = matches!(meta.source, Some(Source::File(_))) || meta.name.contains("TOML");
    if is_file && !meta.name.contains("Serialized") {
        let line = text.and_then(|t| find_key_line(t, setting)).unwrap_or(0);
        let name = match (&meta.source, source) {
            (Some(Source::File(p)), _) => p.display().to_string(),
            (_, s) => s.display_name(),
        };
        if line > 0 {
            return format!("{name} line {line}");
        }
        return name;
    }
    "built-in defaults".into()
}

/// 1-based line of a byte offset.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Finds the line where dotted `setting` is defined in TOML `text` (the key itself, or the
/// nearest enclosing table that exists).
pub fn find_key_line(text: &str, setting: &str) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let parts: Vec<&str> = setting.split('.').filter(|p| !p.is_empty()).collect();
    let mut item: &toml_edit::Item = doc.as_item();
    let mut best: Option<usize> = None;
    for part in parts {
        let next = match item {
            toml_edit::Item::Table(t) => {
                if let Some((k, v)) = t.get_key_value(part) {
                    if let Some(span) = k.span() {
                        best = Some(span.start);
                    }
                    Some(v)
                } else {
                    None
                }
            }
            toml_edit::Item::Value(toml_edit::Value::InlineTable(t)) => {
                if let Some((k, v)) = t.get_key_value(part) {
                    if let Some(span) = k.span() {
                        best = Some(span.start);
                    }
                    // Inline tables hold values, not items; stop descending.
                    let _ = v;
                    None
                } else {
                    None
                }
            }
            toml_edit::Item::ArrayOfTables(a) => part
                .parse::<usize>()
                .ok()
                .and_then(|i| a.get(i))
                .map(|t| {
                    if let Some(span) = t.span() {
                        best = Some(span.start);
                    }
                    // Re-wrapping is not possible without allocation; approximate with table span.
                    None::<&toml_edit::Item>
                })
                .unwrap_or(None),
            _ => None,
        };
        match next {
            Some(n) => {
                if let Some(span) = n.span() {
                    if best.is_none() {
                        best = Some(span.start);
                    }
                }
                item = n;
            }
            None => break,
        }
    }
    best.map(|b| line_of(text, b))
}
