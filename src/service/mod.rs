//! One folder per service: `mod.rs` (what it is, its factory), `session.rs` (the per-connection
//! loop), `settings.rs` where it has its own knobs. The master drives them all through
//! `master::Service`; `registry.rs` lists which services roost implements.

pub mod auth;
pub mod health_check;
pub mod lmtp;
pub mod login;
pub mod pop3;
pub mod pop3_login;
pub mod registry;
pub mod stats;
