//! One folder per service: `mod.rs` (what it is, its factory), `session.rs` (the per-connection
//! loop), `settings.rs` where it has its own knobs. The master drives them all through
//! `master::Service`; `registry.rs` lists which services roost implements.

pub mod auth;
pub mod health_check;
pub mod registry;
pub mod stats;
