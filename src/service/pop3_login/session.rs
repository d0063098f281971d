//! pop3-login's part of the login loop: POP3's pre-login grammar (CAPA, USER/PASS, AUTH, STLS,
//! XCLIENT, QUIT; everything else is unknown) and Dovecot's wording for it: `+OK
//! <login_greeting>` (`[XCLIENT]` first for trusted clients), the pre-login CAPA list, and the
//! goodbyes (`-ERR Connection queue full`, `-ERR Server shutting down.`, `-ERR Disconnected
//! for inactivity.`, `-ERR Too many invalid bad commands.`, `-ERR Input buffer full,
//! aborting`). The loop itself is the login layer's (`login::session::run`).

use base64::Engine;

use crate::protocol::pop3::{self, err, ok, Command};
use crate::service::login::{Goodbye, LoginClient, LoginCommand, LoginProtocol, Reply};
use crate::service::wire::Wire;

/// Capabilities pre-login, before STLS/USER/SASL (as Dovecot's pop3-login lists them).
pub const CAPABILITIES: &[&str] = &[
    "CAPA",
    "TOP",
    "UIDL",
    "RESP-CODES",
    "PIPELINING",
    "AUTH-RESP-CODE",
];
/// The service name, for metrics.
pub(super) const SERVICE: &str = "pop3-login";
const PLAINTEXT_DISABLED: &str =
    "[AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.";

/// POP3 on the login layer. It keeps no state between commands (USER is the layer's).
#[derive(Default)]
pub struct Pop3Login;

impl LoginProtocol for Pop3Login {
    /// XCLIENT's arguments.
    type Extra = Vec<String>;
    const PROTOCOL: &'static str = "pop3";
    const SERVICE: &'static str = SERVICE;
    const MAX_LINE: usize = pop3::LOGIN_MAX_LINE;
    const CHALLENGE_PREFIX: &'static str = "+ ";

    fn parse(&mut self, line: &[u8]) -> LoginCommand<Vec<String>> {
        match pop3::parse(line) {
            Command::Capa => LoginCommand::Capability,
            Command::User(u) => LoginCommand::User(u),
            Command::Pass(p) => LoginCommand::Pass(p),
            Command::Auth { mechanism, initial } => {
                LoginCommand::Authenticate { mechanism, initial }
            }
            Command::Stls => LoginCommand::StartTls,
            Command::Quit => LoginCommand::Logout,
            Command::Xclient(args) => LoginCommand::Extra(args),
            // NOOP and the transaction commands are unknown before login (as in Dovecot).
            _ => LoginCommand::Unknown,
        }
    }

    fn greeting(&self, client: &LoginClient, _starttls: bool) -> Vec<u8> {
        let greeting = &client.session.settings.mail.login_greeting;
        if client.trusted {
            ok(&format!("[XCLIENT] {greeting}"))
        } else {
            ok(greeting)
        }
    }

    fn capabilities(&self, client: &LoginClient, starttls: bool) -> Vec<u8> {
        let mut lines: Vec<String> = CAPABILITIES.iter().map(|c| c.to_string()).collect();
        if starttls {
            lines.push("STLS".into());
        }
        if client.plaintext_allowed() {
            lines.push("USER".into());
        }
        let mut sasl = "SASL".to_string();
        for m in client.mechanisms() {
            sasl.push(' ');
            sasl.push_str(&m);
        }
        lines.push(sasl);
        pop3::multiline("", &lines)
    }

    fn reply(&self, reply: Reply<'_>) -> Vec<u8> {
        match reply {
            Reply::Ok => ok(""),
            Reply::StartTlsBegin => ok("Begin TLS negotiation now."),
            Reply::TlsAlreadyActive => err("TLS is already active."),
            Reply::TlsUnavailable => err("TLS support isn't enabled."),
            Reply::PlaintextDisabled => err(PLAINTEXT_DISABLED),
            Reply::NoUsername => err("No username given."),
            Reply::Mechanisms(mechs) => {
                let mut out = ok("");
                for m in mechs {
                    out.extend_from_slice(m.as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b".\r\n");
                out
            }
            Reply::InvalidBase64Initial => err("[AUTH] Invalid base64 data in initial response."),
            Reply::InvalidBase64Continued => {
                err("[AUTH] Invalid base64 data in continued response")
            }
            Reply::AuthFailed(Some(r)) if r.starts_with('[') => err(r),
            Reply::AuthFailed(Some(r)) => err(&format!("[AUTH] {r}")),
            Reply::AuthFailed(None) => err("[AUTH] Authentication failed."),
            Reply::LoginDisabled(r) => err(&format!("[AUTH] {r}")),
            Reply::AuthTempFail(r) => err(&format!(
                "[SYS/TEMP] {}",
                r.unwrap_or("Temporary authentication failure.")
            )),
            Reply::AuthAborted => err("Authentication aborted by client."),
            Reply::UnknownMechanism => err("[AUTH] Unsupported authentication mechanism."),
            Reply::UserIpLimit(n) => err(&format!(
                "[IN-USE] Maximum number of connections from user+IP exceeded (mail_max_userip_connections={n})"
            )),
            Reply::InternalError => err(
                "[SYS/TEMP] Internal error occurred. Refer to server log for more information.",
            ),
            Reply::Unknown => err("Unknown command."),
            Reply::Logout => ok("Logging out"),
        }
    }

    fn goodbye(&self, why: Goodbye) -> Option<Vec<u8>> {
        Some(err(match why {
            Goodbye::Kicked => "Connection queue full",
            Goodbye::Shutdown => "Server shutting down.",
            Goodbye::Timeout => "Disconnected for inactivity.",
            Goodbye::TooManyBadCommands => "Too many invalid bad commands.",
            Goodbye::LineTooLong => "Input buffer full, aborting",
        }))
    }

    /// `XCLIENT ADDR= PORT= SESSION= …` from a trusted proxy: the client's real identity.
    fn extra(&mut self, args: Vec<String>, client: &mut LoginClient, wire: &mut Wire) {
        if !client.trusted {
            wire.queue(&ok("You are not from trusted IP - ignoring"));
            return;
        }
        let mut addr = client.remote;
        let mut valid = true;
        for a in &args {
            let (k, v) = a.split_once('=').unwrap_or((a, ""));
            match k.to_ascii_uppercase().as_str() {
                "ADDR" => match v.parse::<std::net::IpAddr>() {
                    Ok(ip) => {
                        let port = addr.map(|a| a.port()).unwrap_or(0);
                        addr = Some((ip, port).into());
                    }
                    Err(_) => valid = false,
                },
                "PORT" => match v.parse::<u16>() {
                    Ok(p) => addr = addr.map(|a| (a.ip(), p).into()),
                    Err(_) => valid = false,
                },
                "SESSION" if v.len() <= 64 && !v.is_empty() => client.session_id = v.to_string(),
                "FORWARD" => valid &= base64::engine::general_purpose::STANDARD.decode(v).is_ok(),
                _ => {}
            }
        }
        if !valid {
            wire.queue(&err("Invalid parameters"));
            return;
        }
        client.remote = addr;
        wire.conn.remote = addr;
        wire.queue(&ok("Updated"));
    }

    fn handoff_data(&self) -> Vec<u8> {
        Vec::new()
    }
}
