//! The auth service: passdb/userdb lookups, password schemes, SASL mechanisms, and the
//! auth-client / auth-master socket protocols. Login services use it in-process through
//! [`api::AuthApi`], found in the master's `Hub`.

pub mod api;
pub mod cache;
pub mod db;
pub mod engine;
pub mod fields;
pub mod mech;
pub mod metrics;
pub mod penalty;
pub mod schemes;
pub mod settings;
pub mod vars;
