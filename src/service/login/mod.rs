//! The login layer shared by every `*-login` service (Dovecot's `login-common`): the client's
//! security state (`secured`, `login_trusted_networks`), the 3-minute pre-login timeout, input
//! that ends on shutdown or on the "all full" kick, SASL through the in-process auth API
//! (`sasl`), `mail_max_userip_connections` reserved atomically (`userip`), the `Login:` log
//! line, and the handoff of the connection to the post-login pool (`handoff`).

pub mod client;
pub mod handoff;
pub mod logline;
pub mod metrics;
pub mod sasl;
pub mod userip;
pub mod wire;

#[cfg(test)]
pub(crate) mod testkit;

pub use client::{End, LoginClient, LOGIN_TIMEOUT};
pub use handoff::DirectPostLogin;
