//! imap-login's part of the login loop: IMAP's pre-login grammar (through the sans-IO codec
//! `protocol::imap`) and Dovecot 2.3's wording for it: the `* OK [CAPABILITY …] <greeting>`,
//! the pre-login capability list (`STARTTLS` while it may be used, `AUTH=` per offered
//! mechanism, `LOGINDISABLED` when plaintext is refused), tagged replies
//! (`[AUTHENTICATIONFAILED]`, `[PRIVACYREQUIRED]`, `[UNAVAILABLE]`, `[LIMIT]`), the third bad
//! command answered only by `* BYE Too many invalid IMAP commands.`, and ID with Dovecot's
//! trusted-proxy fields (`x-originating-ip`, `x-originating-port`, `x-connected-ip`,
//! `x-connected-port`, `x-session-id`/`x-session-ext-id`) honoured only from
//! `login_trusted_networks`. The login command's tag is the handoff data.
//!
//! Literals (`LOGIN {5}` with or without `+`) are read by the layer ([`LoginProtocol::literal`])
//! within imap-login's limits: a literal that does not fit the 8192-byte parser limit gets
//! `* BYE Literal size too large` (before any `+ OK`), a line longer than the 1024-byte input
//! buffer `* BYE Input buffer full, aborting`, as Dovecot answers them.

use crate::protocol::imap::command::IdField;
use crate::protocol::imap::receiver::{LOGIN_MAX_INBUF_SIZE, LOGIN_MAX_LINE_LENGTH};
use crate::protocol::imap::{parse, Command, Frame};
use crate::service::login::session::MAX_BAD_COMMANDS;
use crate::service::login::{Goodbye, Literal, LoginClient, LoginCommand, LoginProtocol, Reply};
use crate::service::wire::Wire;

/// The service name, for metrics.
pub(super) const SERVICE: &str = "imap-login";

/// Capabilities before login (Dovecot 2.3's CAPABILITY_BANNER_STRING; `LITERAL+` follows
/// unless `imap_capability` lists them explicitly).
pub const CAPABILITIES: &[&str] = &[
    "IMAP4rev1",
    "SASL-IR",
    "LOGIN-REFERRALS",
    "ID",
    "ENABLE",
    "IDLE",
];

const PLAINTEXT_DISABLED: &str =
    "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.";
const PASSWORD_EXPOSED: &str = "Plaintext authentication not allowed without SSL/TLS, but your \
client did it anyway. If anyone was listening, the password was exposed.";

/// IMAP on the login layer: remembers the tag of the command being answered.
#[derive(Default)]
pub struct ImapLogin {
    tag: String,
    /// The command being answered is LOGIN (a refused one sent a password in the clear).
    login: bool,
    /// Bad commands in a row (the layer counts too; this decides whether the BAD is sent).
    bad: u32,
    /// The client's ID was logged (`imap_id_log`: only the first ID is).
    id_logged: bool,
    /// A STARTTLS command was given.
    starttls: bool,
    /// The client sent CAPABILITY before STARTTLS/login.
    ignores_capability_code: bool,
}

/// First byte of the handoff data when imap should send the capabilities untagged
/// (`* CAPABILITY …` then `tag OK Logged in`), as Dovecot does for clients that asked for
/// CAPABILITY before logging in. A tag never holds a control character.
pub const UNTAGGED_CAPABILITY: u8 = 0x01;

/// The capability list before login.
pub fn capability_list(client: &LoginClient, starttls: bool) -> String {
    // `imap_capability` as imap-login reads it: a list replaces the banner (and LITERAL+),
    // `+EXT` extends it.
    let imap = &client.session.settings.imap;
    let mut caps = vec![imap.capability(&CAPABILITIES.join(" "))];
    if !imap.capability_explicit() {
        caps.push("LITERAL+".into());
    }
    if starttls {
        caps.push("STARTTLS".into());
    }
    if client.plaintext_allowed() {
        caps.extend(client.mechanisms().iter().map(|m| format!("AUTH={m}")));
    } else {
        caps.push("LOGINDISABLED".into());
        caps.extend(client.mechanisms().iter().map(|m| format!("AUTH={m}")));
    }
    caps.join(" ")
}

impl ImapLogin {
    fn line(&self, status: &str, text: &str) -> Vec<u8> {
        format!("{} {status} {text}\r\n", self.tag).into_bytes()
    }
}

impl LoginProtocol for ImapLogin {
    type Extra = Option<Vec<IdField>>;
    const PROTOCOL: &'static str = "imap";
    const SERVICE: &'static str = SERVICE;
    const MAX_LINE: usize = LOGIN_MAX_INBUF_SIZE;
    const MAX_COMMAND: usize = LOGIN_MAX_LINE_LENGTH;
    const CHALLENGE_PREFIX: &'static str = "+ ";

    fn parse(&mut self, line: &[u8]) -> LoginCommand<Self::Extra> {
        let mut bytes = line.to_vec();
        bytes.extend_from_slice(b"\r\n");
        let frame = Frame {
            bytes,
            streamed: Vec::new(),
        };
        self.login = false;
        let parsed = match parse(&frame) {
            Ok(t) => t,
            Err(e) => {
                self.tag = e.tag.unwrap_or_else(|| "*".into());
                self.bad += 1;
                return LoginCommand::Unknown;
            }
        };
        self.tag = parsed.tag;
        let cmd = match parsed.command {
            Command::Capability => {
                // Dovecot's hint that the client ignores `[CAPABILITY …]` codes (only a
                // CAPABILITY before STARTTLS counts): imap then lists them untagged.
                if !self.starttls {
                    self.ignores_capability_code = true;
                }
                LoginCommand::Capability
            }
            Command::Noop => LoginCommand::Noop,
            Command::Logout => LoginCommand::Logout,
            Command::StartTls => {
                self.starttls = true;
                LoginCommand::StartTls
            }
            Command::Login { username, password } => {
                self.login = true;
                LoginCommand::Login {
                    user: String::from_utf8_lossy(&username).into_owned(),
                    pass: String::from_utf8_lossy(&password).into_owned(),
                }
            }
            Command::Authenticate { mechanism, initial } => LoginCommand::Authenticate {
                mechanism: Some(mechanism),
                initial: initial.map(|i| String::from_utf8_lossy(&i).into_owned()),
            },
            Command::Id { fields } => LoginCommand::Extra(fields),
            _ => LoginCommand::Unknown,
        };
        match cmd {
            LoginCommand::Unknown => self.bad += 1,
            _ => self.bad = 0,
        }
        cmd
    }

    fn literal(&self, command: &[u8]) -> Option<Literal> {
        let line_start = command
            .windows(2)
            .rposition(|w| w == b"\r\n")
            .map(|i| i + 2)
            .unwrap_or(0);
        let line = command[line_start..].strip_suffix(b"}")?;
        let open = line.iter().rposition(|&b| b == b'{')?;
        let inner = &line[open + 1..];
        let (digits, sync) = match inner.strip_suffix(b"+") {
            Some(d) => (d, false),
            None => (inner, true),
        };
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) || inside_quote(line) {
            return None;
        }
        let size = std::str::from_utf8(digits).ok()?.parse::<usize>().ok();
        match size {
            Some(n) if command.len() + n <= LOGIN_MAX_LINE_LENGTH => {
                Some(Literal::Follows { size: n, sync })
            }
            _ => Some(Literal::Refused(
                b"* BYE Literal size too large\r\n".to_vec(),
            )),
        }
    }

    fn greeting(&self, client: &LoginClient, starttls: bool) -> Vec<u8> {
        format!(
            "* OK [CAPABILITY {}] {}\r\n",
            capability_list(client, starttls),
            client.session.settings.mail.login_greeting
        )
        .into_bytes()
    }

    fn capabilities(&self, client: &LoginClient, starttls: bool) -> Vec<u8> {
        let mut out = format!("* CAPABILITY {}\r\n", capability_list(client, starttls));
        out.push_str(&format!(
            "{} OK Pre-login capabilities listed, post-login capabilities have more.\r\n",
            self.tag
        ));
        out.into_bytes()
    }

    fn reply(&self, reply: Reply<'_>) -> Vec<u8> {
        match reply {
            Reply::Ok => self.line("OK", "NOOP completed."),
            Reply::StartTlsBegin => self.line("OK", "Begin TLS negotiation now."),
            Reply::TlsAlreadyActive => self.line("BAD", "TLS is already active."),
            Reply::TlsUnavailable => self.line("BAD", "TLS support isn't enabled."),
            Reply::PlaintextDisabled => {
                let mut out = Vec::new();
                if self.login {
                    out.extend_from_slice(format!("* BAD [ALERT] {PASSWORD_EXPOSED}\r\n").as_bytes());
                }
                out.extend(self.line("NO", &format!("[PRIVACYREQUIRED] {PLAINTEXT_DISABLED}")));
                out
            }
            // POP3-only replies (USER/PASS, bare AUTH); IMAP's grammar never produces them.
            Reply::NoUsername | Reply::Mechanisms(_) => {
                self.line("BAD", "Error in IMAP command received by server.")
            }
            Reply::InvalidBase64Initial => {
                self.line("BAD", "Invalid base64 data in initial response")
            }
            Reply::InvalidBase64Continued => self.line("NO", "[ALERT] Invalid base64 in response"),
            Reply::AuthFailed(Some(r)) if r.starts_with('[') => self.line("NO", r),
            Reply::AuthFailed(Some(r)) => self.line("NO", &format!("[AUTHENTICATIONFAILED] {r}")),
            Reply::LoginDisabled(r) => self.line("NO", &format!("[CONTACTADMIN] {r}")),
            Reply::AuthFailed(None) => {
                self.line("NO", "[AUTHENTICATIONFAILED] Authentication failed.")
            }
            Reply::AuthTempFail(r) => self.line(
                "NO",
                &format!(
                    "[UNAVAILABLE] {}",
                    r.unwrap_or("Temporary authentication failure.")
                ),
            ),
            Reply::AuthAborted => self.line("BAD", "Authentication aborted by client."),
            Reply::UnknownMechanism => self.line("NO", "[ALERT] Unsupported authentication mechanism."),
            Reply::UserIpLimit(n) => self.line(
                "NO",
                &format!(
                    "[LIMIT] Maximum number of connections from user+IP exceeded (mail_max_userip_connections={n})"
                ),
            ),
            Reply::InternalError => self.line(
                "NO",
                "[UNAVAILABLE] Internal error occurred. Refer to server log for more information.",
            ),
            // The third bad command in a row is answered by the goodbye alone, as in Dovecot.
            Reply::Unknown if self.bad >= MAX_BAD_COMMANDS => Vec::new(),
            Reply::Unknown => self.line("BAD", "Error in IMAP command received by server."),
            Reply::Logout => {
                let mut out = b"* BYE Logging out\r\n".to_vec();
                out.extend(self.line("OK", "Logout completed."));
                out
            }
        }
    }

    fn goodbye(&self, why: Goodbye) -> Option<Vec<u8>> {
        let text = match why {
            Goodbye::Kicked => "Connection queue full",
            Goodbye::Shutdown => "Server shutting down.",
            Goodbye::Timeout => "Disconnected for inactivity.",
            Goodbye::TooManyBadCommands => "Too many invalid IMAP commands.",
            Goodbye::LineTooLong => "Input buffer full, aborting",
        };
        Some(format!("* BYE {text}\r\n").into_bytes())
    }

    /// `ID (...)`: answered with the server's identity; a trusted proxy's `x-*` fields set the
    /// client's real addresses and session id.
    fn extra(&mut self, fields: Self::Extra, client: &mut LoginClient, wire: &mut Wire) {
        if client.trusted {
            apply_trusted_id(fields.as_deref().unwrap_or(&[]), client, wire);
        }
        let imap = &client.session.settings.imap;
        if !self.id_logged {
            self.id_logged = true;
            let f = fields.as_deref().unwrap_or(&[]);
            if let Some(text) = crate::service::imap::settings::id_log_text(&imap.imap_id_log, f) {
                let line = client.log_line(&format!("ID sent: {text}"), "", "", false);
                tracing::info!(service = SERVICE, "{line}");
            }
        }
        wire.queue(format!("* ID {}\r\n", imap.id_reply()).as_bytes());
        wire.queue(&self.line("OK", "ID completed."));
    }

    /// The login command's tag, after [`UNTAGGED_CAPABILITY`] when the client asked for
    /// CAPABILITY before logging in.
    fn handoff_data(&self) -> Vec<u8> {
        let mut d = Vec::new();
        if self.ignores_capability_code {
            d.push(UNTAGGED_CAPABILITY);
        }
        d.extend_from_slice(self.tag.as_bytes());
        d
    }
}

/// Whether a quoted string is open at the end of `line` (a `{` inside quotes is no literal).
fn inside_quote(line: &[u8]) -> bool {
    let (mut open, mut escaped) = (false, false);
    for &b in line {
        match (open, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (_, _, b'"') => open = !open,
            _ => {}
        }
    }
    open
}

/// Dovecot's `x-originating-ip`/`-port`, `x-connected-ip`/`-port`, `x-session-id` and
/// `x-session-ext-id` (imap-login-cmd-id.c); invalid values are ignored one by one.
fn apply_trusted_id(fields: &[IdField], client: &mut LoginClient, wire: &mut Wire) {
    for (k, v) in fields {
        let Some(v) = v.as_deref().map(String::from_utf8_lossy) else {
            continue;
        };
        let key = String::from_utf8_lossy(k).to_ascii_lowercase();
        match key.as_str() {
            "x-originating-ip" => {
                if let Ok(ip) = v.parse::<std::net::IpAddr>() {
                    let port = client.remote.map(|a| a.port()).unwrap_or(0);
                    client.remote = Some((ip, port).into());
                }
            }
            "x-originating-port" => {
                if let (Ok(p), Some(a)) = (v.parse::<u16>(), client.remote) {
                    client.remote = Some((a.ip(), p).into());
                }
            }
            "x-connected-ip" => {
                if let Ok(ip) = v.parse::<std::net::IpAddr>() {
                    let port = client.local.map(|a| a.port()).unwrap_or(0);
                    client.local = Some((ip, port).into());
                }
            }
            "x-connected-port" => {
                if let (Ok(p), Some(a)) = (v.parse::<u16>(), client.local) {
                    client.local = Some((a.ip(), p).into());
                }
            }
            "x-session-id" | "x-session-ext-id" if !v.is_empty() && v.len() <= 64 => {
                client.session_id = v.into_owned();
            }
            _ => {}
        }
    }
    wire.conn.remote = client.remote;
    wire.conn.local = client.local;
}
