//! The login layer shared by every `*-login` service (Dovecot's `login-common`). It owns the
//! login loop (`session`): the absolute `login_timeout` deadline, the bad-command count, the
//! plaintext policy, SASL through the in-process auth API (`sasl`), STARTTLS, the kick and
//! shutdown goodbyes, `mail_max_userip_connections` (reserved atomically in
//! `crate::service::anvil`), the `Login:` log line, and the handoff of the connection to the
//! post-login pool (`client`, `handoff`). Every wait sits in one select with the kick, the
//! shutdown and the deadline (`crate::service::wire`).
//!
//! A login protocol plugs in by implementing [`LoginProtocol`] (`protocol.rs`): grammar
//! (`parse` a line into a [`LoginCommand`]), wording (`reply`, `goodbye`, `greeting`),
//! `capabilities`, and `handoff_data`. pop3-login is `service/pop3_login/session.rs`; imap-login
//! would be `service/imap_login/session.rs`: a `struct ImapLogin { tag: String }` whose `parse`
//! keeps the command's tag and maps `CAPABILITY`, `STARTTLS`, `LOGIN u p` (→ `Login`),
//! `AUTHENTICATE mech [ir]`, `LOGOUT`, `NOOP`, `ID` (→ `Extra`), whose `reply` words
//! `tag OK/NO/BAD …` (and `* BYE` goodbyes), and whose `handoff_data` is that tag, so imap
//! can answer `tag OK Logged in`. Its `Service::serve` is `login::session::run(ImapLogin::default(),
//! conn, session)`; nothing of the loop is copied.

pub mod client;
pub mod handoff;
pub mod logline;
pub mod metrics;
pub mod protocol;
pub mod sasl;
pub mod session;
pub mod tally;

#[cfg(test)]
pub(crate) mod testkit;

pub use client::{LoginClient, HANDOFF_TIMEOUT};
pub use handoff::DirectPostLogin;
pub use protocol::{Goodbye, Literal, LoginCommand, LoginProtocol, Reply};
