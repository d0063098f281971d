//! The auth service's global settings, with Dovecot's names and defaults (2.3.19.1), and the
//! `[[passdb]]` / `[[userdb]]` blocks (`driver`, `args`, `default_fields`, `override_fields`,
//! `result_*`, `skip`, `deny`, `master`, `pass`), flattened into the top-level `Settings`.

use serde::{Deserialize, Serialize};

use crate::settings::values::{lenient, Size, Time};

/// Global auth settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    /// Offered SASL mechanisms (`plain login cram-md5 …`).
    #[serde(deserialize_with = "lenient::list")]
    pub auth_mechanisms: Vec<String>,
    /// Refuse plaintext mechanisms on connections that are neither TLS nor otherwise secured.
    #[serde(deserialize_with = "lenient::bool")]
    pub disable_plaintext_auth: bool,
    /// 0 disables the cache.
    pub auth_cache_size: Size,
    pub auth_cache_ttl: Time,
    pub auth_cache_negative_ttl: Time,
    /// Applied to the username before lookups (`%Lu` lowercases).
    pub auth_username_format: String,
    /// Characters allowed in usernames; empty allows all.
    pub auth_username_chars: String,
    /// Realms offered by DIGEST-MD5 (kept for compatibility).
    #[serde(deserialize_with = "lenient::list")]
    pub auth_realms: Vec<String>,
    /// Appended as `@realm` to usernames without one.
    pub auth_default_realm: String,
    /// `target*master` logins: the separator between the user to become and the master user
    /// (empty: only PLAIN's authorization id starts a master-user login).
    pub auth_master_user_separator: String,
    /// Username that ANONYMOUS logins map to.
    pub auth_anonymous_username: String,
    /// Delay before answering a failed authentication.
    pub auth_failure_delay: Time,
    #[serde(deserialize_with = "lenient::uint")]
    pub auth_worker_max_count: u32,
    /// userdb uids below this are refused for logins (0 is always refused).
    #[serde(deserialize_with = "lenient::uint")]
    pub first_valid_uid: u32,
    /// 0: no upper limit.
    #[serde(deserialize_with = "lenient::uint")]
    pub last_valid_uid: u32,
    /// Mail helpers' gids below this are refused (0 is always refused).
    #[serde(deserialize_with = "lenient::uint")]
    pub first_valid_gid: u32,
    /// 0: no upper limit.
    #[serde(deserialize_with = "lenient::uint")]
    pub last_valid_gid: u32,
    /// Log unsuccessful authentication attempts and why they failed (Info lines such as
    /// `passwd-file(user,1.2.3.4,<session>): Password mismatch`). Off by default, as in Dovecot.
    #[serde(deserialize_with = "lenient::bool")]
    pub auth_verbose: bool,
    /// With `auth_verbose`, also log the password given: `no`, `plain` (or `yes`) or `sha1`,
    /// optionally truncated to N characters with `:N` (`sha1:6`).
    pub auth_verbose_passwords: String,
    /// Implies `auth_verbose` and logs the auth-client traffic at debug level (`client in: …`
    /// with responses hidden, `client passdb out: …`), written when `log_debug = yes`.
    #[serde(deserialize_with = "lenient::bool")]
    pub auth_debug: bool,
    pub passdb: Vec<DbSettings>,
    pub userdb: Vec<DbSettings>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            auth_mechanisms: vec!["plain".into()],
            disable_plaintext_auth: true,
            auth_cache_size: Size(0),
            auth_cache_ttl: Time::from_secs(3600),
            auth_cache_negative_ttl: Time::from_secs(3600),
            auth_username_format: "%Lu".into(),
            auth_username_chars:
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234567890.-_@".into(),
            auth_realms: Vec::new(),
            auth_default_realm: String::new(),
            auth_master_user_separator: String::new(),
            auth_anonymous_username: "anonymous".into(),
            auth_failure_delay: Time::from_secs(2),
            auth_worker_max_count: 30,
            first_valid_uid: 500,
            last_valid_uid: 0,
            first_valid_gid: 1,
            last_valid_gid: 0,
            auth_verbose: false,
            auth_verbose_passwords: "no".into(),
            auth_debug: false,
            passdb: Vec::new(),
            userdb: Vec::new(),
        }
    }
}

/// One `[[passdb]]` or `[[userdb]]` block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DbSettings {
    /// `passwd-file`, `static`, `shadow`, `passwd`.
    pub driver: String,
    /// Driver arguments, as in Dovecot (`scheme=CRYPT username_format=%n /etc/users`).
    pub args: String,
    /// Fields added when the db does not return them (`uid=vmail home=/var/mail/%u`).
    pub default_fields: String,
    /// Fields that replace what the db returns.
    pub override_fields: String,
    /// `never`, `authenticated`, `unauthenticated`.
    pub skip: String,
    /// `return-ok`, `return-fail`, `return`, `continue`, `continue-ok`, `continue-fail`.
    pub result_success: String,
    pub result_failure: String,
    pub result_internalfail: String,
    /// passdb only: a match means the user is denied.
    #[serde(deserialize_with = "lenient::bool")]
    pub deny: bool,
    /// passdb only: a master-user passdb.
    #[serde(deserialize_with = "lenient::bool")]
    pub master: bool,
    /// master passdb only: also look the target user up in the normal passdbs.
    #[serde(deserialize_with = "lenient::bool")]
    pub pass: bool,
}

impl Default for DbSettings {
    fn default() -> Self {
        DbSettings {
            driver: String::new(),
            args: String::new(),
            default_fields: String::new(),
            override_fields: String::new(),
            skip: "never".into(),
            result_success: "return-ok".into(),
            result_failure: "continue".into(),
            result_internalfail: "continue".into(),
            deny: false,
            master: false,
            pass: false,
        }
    }
}

#[cfg(test)]
mod tests;
