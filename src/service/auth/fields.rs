//! Extra fields: `key=value` lists as they appear in passwd-file's last column, in
//! `default_fields`/`override_fields` and static driver args; which of them go to the userdb
//! (`userdb_*` prefix) and which are tab-escaped onto the wire.

use super::vars::Vars;

/// Ordered `key=value` fields (a bare `key` has an empty value, like Dovecot's `nologin`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// Parses space-separated `key=value` words; values are expanded with `vars`.
    pub fn parse(text: &str, vars: Option<&Vars>) -> Fields {
        let mut f = Fields::default();
        for word in text.split_whitespace() {
            let (k, v) = match word.split_once('=') {
                Some((k, v)) => (k, v),
                None => (word, ""),
            };
            let v = match vars {
                Some(vars) => vars.expand(v),
                None => v.to_string(),
            };
            f.set(k, v);
        }
        f
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// Sets or replaces `key`.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(e) => e.1 = value,
            None => self.0.push((key.to_string(), value)),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<String> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }

    /// Adds the fields of `other` that are not set here (`default_fields`).
    pub fn add_defaults(&mut self, other: &Fields) {
        for (k, v) in &other.0 {
            if !self.has(k) {
                self.0.push((k.clone(), v.clone()));
            }
        }
    }

    /// Replaces with every field of `other` (`override_fields`).
    pub fn apply_overrides(&mut self, other: &Fields) {
        for (k, v) in &other.0 {
            self.set(k, v.clone());
        }
    }

    /// Splits passdb fields: `userdb_X=…` become userdb field `X` (prefetched), the rest stay.
    pub fn split_userdb(self) -> (Fields, Fields) {
        let mut pass = Fields::default();
        let mut user = Fields::default();
        for (k, v) in self.0 {
            match k.strip_prefix("userdb_") {
                Some(u) => user.set(u, v),
                None => pass.0.push((k, v)),
            }
        }
        (pass, user)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// passdb fields that steer auth itself and are not sent to the client.
pub const INTERNAL_PASSDB_FIELDS: &[&str] = &[
    "password",
    "nopassword",
    "noauthenticate",
    "allow_nets",
    "nodelay",
    "user",
    "username",
    "domain",
];

#[cfg(test)]
mod tests;
