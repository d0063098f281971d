//! The doveadm service's global settings, with Dovecot's names: `doveadm_api_key` (HTTP API
//! `Authorization: X-Dovecot-API <base64(key)>`) and `doveadm_password` (HTTP API Basic
//! `doveadm:<password>`), both empty by default (then the HTTP API answers 500, as Dovecot's).

use serde::{Deserialize, Serialize};

/// Flattened into the top-level `Settings`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DoveadmSettings {
    pub doveadm_api_key: String,
    pub doveadm_password: String,
}
