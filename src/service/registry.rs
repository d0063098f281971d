//! Which services roost implements: the registry `main.rs` hands to the master. A configured
//! service without an entry here is reported as "not implemented" by `roost config` and
//! `roost ps`, and its listeners stay closed.

use crate::runtime::Registry;

/// Every service roost implements, by Dovecot service name.
pub fn registry() -> Registry {
    Registry::new()
        .with("anvil", super::anvil::factory)
        .with("auth", super::auth::factory)
        .with("auth-worker", super::auth::worker_factory)
        .with("config", super::config::factory)
        .with("doveadm", super::doveadm::factory)
        .with("health-check", super::health_check::factory)
        .with("imap", super::imap::factory)
        .with("imap-login", super::imap_login::factory)
        .with("ipc", super::ipc::factory)
        .with("lmtp", super::lmtp::factory)
        .with("log", super::log::factory)
        .with("pop3", super::pop3::factory)
        .with("pop3-login", super::pop3_login::factory)
        .with("stats", super::stats::factory)
}
