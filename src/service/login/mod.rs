//! The login layer shared by every `*-login` service (Dovecot's `login-common`): greeting,
//! the 3-minute pre-login timeout, STARTTLS, SASL through the in-process auth API,
//! `disable_plaintext_auth` (as auth reports it), `login_trusted_networks`, the "connection
//! queue full" goodbye, log lines, and the handoff of the connection to the post-login pool.

pub mod userip;
pub mod wire;

#[cfg(test)]
pub(crate) mod testkit;
