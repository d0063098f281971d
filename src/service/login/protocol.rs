//! What a login protocol gives the shared login loop ([`super::session::run`]), Dovecot's
//! `client_vfuncs` + `login_binary`: its grammar (a line becomes a [`LoginCommand`]), its
//! wording (a [`Reply`] or [`Goodbye`] becomes bytes), its capabilities, and the data its
//! post-login service needs with the connection (`Handoff::protocol_data`). Everything else
//! (deadline, bad-command count, plaintext policy, SASL, STARTTLS, kick and shutdown, the
//! handoff) is the layer's.

use super::client::LoginClient;
use crate::service::wire::Wire;

/// A pre-login command, as far as the login layer needs to understand it.
#[derive(Debug, PartialEq, Eq)]
pub enum LoginCommand<X> {
    /// CAPA / CAPABILITY.
    Capability,
    /// STLS / STARTTLS.
    StartTls,
    /// POP3's `USER name`: remembered for the next [`LoginCommand::Pass`].
    User(String),
    /// POP3's `PASS secret`, with the name from the last `USER`.
    Pass(String),
    /// IMAP's `LOGIN user pass`: plaintext login in one command.
    Login {
        user: String,
        pass: String,
    },
    /// `AUTH`/`AUTHENTICATE`: a SASL exchange with an optional base64 initial response.
    /// `mechanism: None` (POP3's bare `AUTH`) asks for the list of mechanisms.
    Authenticate {
        mechanism: Option<String>,
        initial: Option<String>,
    },
    /// QUIT / LOGOUT.
    Logout,
    Noop,
    /// A protocol-specific command (POP3's XCLIENT, IMAP's ID), handled by
    /// [`LoginProtocol::extra`]; it counts as a good command.
    Extra(X),
    /// Unknown or malformed: counts towards the bad-command limit.
    Unknown,
}

/// What the layer has to tell the client; the protocol words it.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply<'a> {
    /// The command succeeded with nothing to add (USER, NOOP).
    Ok,
    /// STARTTLS accepted: the handshake starts after this line.
    StartTlsBegin,
    TlsAlreadyActive,
    TlsUnavailable,
    /// Plaintext authentication is disabled on this (unsecured) connection.
    PlaintextDisabled,
    /// PASS without USER.
    NoUsername,
    /// The mechanisms auth offers this client (POP3's bare `AUTH`).
    Mechanisms(&'a [String]),
    InvalidBase64Initial,
    InvalidBase64Continued,
    /// Wrong credentials; the passdb's reason if it gave one.
    AuthFailed(Option<&'a str>),
    /// Temporary failure; the passdb's reason if it gave one.
    AuthTempFail(Option<&'a str>),
    /// The credentials were right but the passdb says `nologin` (without `proxy`): its
    /// `reason`, else Dovecot's "Login disabled for this user".
    LoginDisabled(&'a str),
    AuthAborted,
    UnknownMechanism,
    /// `mail_max_userip_connections` reached (the limit).
    UserIpLimit(u32),
    /// The handoff failed.
    InternalError,
    /// An unknown command.
    Unknown,
    /// The answer to LOGOUT/QUIT, sent before closing.
    Logout,
}

/// Why the layer closes the connection; the protocol words the last line (or sends none).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Goodbye {
    /// The service is full and this was the oldest pre-auth client.
    Kicked,
    Shutdown,
    /// The login deadline passed.
    Timeout,
    TooManyBadCommands,
    /// A line longer than [`LoginProtocol::MAX_LINE`].
    LineTooLong,
}

/// What [`LoginProtocol::literal`] found at the end of a command line.
#[derive(Debug, PartialEq, Eq)]
pub enum Literal {
    /// A literal of `size` bytes follows; with `sync` the client waits for `+ OK`.
    Follows { size: usize, sync: bool },
    /// A literal the protocol refuses; this line is sent and the connection closed.
    Refused(Vec<u8>),
}

/// One login protocol (pop3-login, imap-login): grammar, wording, capabilities and
/// handoff data. The protocol keeps what it needs between calls in `self` (IMAP: the tag of
/// the command being answered).
pub trait LoginProtocol: Send + 'static {
    /// Protocol-specific commands passed back to [`LoginProtocol::extra`].
    type Extra: Send;
    /// The protocol name (`pop3`): auth's service, the `mail_max_userip_connections` key and
    /// the post-login service the connection is handed to.
    const PROTOCOL: &'static str;
    /// The login service name (`pop3-login`), for metrics.
    const SERVICE: &'static str;
    /// Longest command line; a longer one ends the connection with [`Goodbye::LineTooLong`].
    const MAX_LINE: usize;
    /// Longest command with its literals (see [`LoginProtocol::literal`]); beyond it, the
    /// same goodbye.
    const MAX_COMMAND: usize = Self::MAX_LINE;
    /// What precedes a base64 SASL challenge (`+ ` for POP3 and IMAP).
    const CHALLENGE_PREFIX: &'static str;

    /// Parses one command: a line without its CRLF, or, after literals, the lines and literal
    /// data joined with their CRLFs (but without the last CRLF).
    fn parse(&mut self, line: &[u8]) -> LoginCommand<Self::Extra>;
    /// Whether the command so far (`command`, ending at a line end) ends with a literal
    /// marker (IMAP's `{n}`/`{n+}`); the layer then reads the literal and the next line.
    /// `None` (the default) ends the command here.
    fn literal(&self, _command: &[u8]) -> Option<Literal> {
        None
    }
    /// The greeting sent on connect. `starttls`: STARTTLS may be offered now (IMAP lists its
    /// capabilities in the greeting).
    fn greeting(&self, client: &LoginClient, starttls: bool) -> Vec<u8>;
    /// The reply to [`LoginCommand::Capability`]. `starttls`: STARTTLS may be offered now.
    fn capabilities(&self, client: &LoginClient, starttls: bool) -> Vec<u8>;
    fn reply(&self, reply: Reply<'_>) -> Vec<u8>;
    /// The last line before closing, if the protocol sends one.
    fn goodbye(&self, why: Goodbye) -> Option<Vec<u8>>;
    /// Handles a protocol-specific command (queue replies on `wire`).
    fn extra(&mut self, cmd: Self::Extra, client: &mut LoginClient, wire: &mut Wire);
    /// `Handoff::protocol_data` for a successful login (IMAP: the login command's tag).
    fn handoff_data(&self) -> Vec<u8>;
}
