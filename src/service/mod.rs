//! One folder per service: `mod.rs` (what it is, its factory), `session.rs` (the per-connection
//! loop), `settings.rs` where it has its own knobs. The master drives them all through
//! `runtime::Service`; `registry.rs` lists which services roost implements (`main.rs` hands it to
//! the master). Shared by the sessions: `wire` (the one line reader: every wait watched, every
//! buffer bounded). `anvil` is a service and the sessions' shared accounting of post-login
//! sessions (`mail_max_userip_connections`, `roost who`, `roost kick`).

pub mod anvil;
pub mod auth;
pub mod config;
pub mod doveadm;
pub mod health_check;
pub mod imap;
pub mod imap_login;
pub mod ipc;
pub mod lmtp;
pub mod log;
pub mod login;
pub mod pop3;
pub mod pop3_login;
mod registry;
pub use registry::registry;
pub mod stats;
pub mod wire;
