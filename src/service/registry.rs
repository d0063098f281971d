//! Which services roost implements: service name → factory. A configured service without an
//! entry here is reported as "not implemented" by `roost config` and `roost ps`, and its
//! listeners stay closed.

use crate::master::ServiceFactory;

/// The factory for `name`, if roost implements it.
pub fn factory(name: &str) -> Option<ServiceFactory> {
    Some(match name {
        "auth" => super::auth::factory,
        "auth-worker" => super::auth::worker_factory,
        "health-check" => super::health_check::factory,
        "lmtp" => super::lmtp::factory,
        "pop3" => super::pop3::factory,
        "pop3-login" => super::pop3_login::factory,
        "stats" => super::stats::factory,
        _ => return None,
    })
}
