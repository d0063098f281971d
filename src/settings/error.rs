//! [`ConfigError`]: a configuration error that names the setting, where its value came from
//! (file and line, environment variable, built-in defaults) and what is wrong.

use std::fmt;

/// A configuration error: which setting, where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted setting path, e.g. `service.imap-login.process_limit`; empty for file-level errors.
    pub setting: String,
    /// `FILE line N`, `environment variable ROOST_X`, or `built-in defaults`.
    pub location: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.setting.is_empty() {
            write!(f, "{}: {}", self.location, self.message)
        } else {
            write!(f, "{}: {}: {}", self.location, self.setting, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}
