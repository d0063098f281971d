//! One folder per service: `mod.rs` (what it is, its factory), `session.rs` (the per-connection
//! loop), `settings.rs` where it has its own knobs. The master drives them all through
//! `master::Service`.

pub mod auth;
pub mod lmtp;
pub mod login;
pub mod pop3;
pub mod pop3_login;
