//! One pop3-login client, with Dovecot's replies: `+OK <login_greeting>` (`[XCLIENT]` first for
//! trusted clients), pre-login CAPA, USER/PASS and AUTH through auth, STLS, XCLIENT from
//! trusted networks, three bad commands in a row end the connection, and the goodbyes
//! (`-ERR Connection queue full`, `-ERR Server shutting down.`, `-ERR Disconnected for
//! inactivity.`).

use base64::Engine;

use crate::net::Conn;
use crate::protocol::pop3::{self, err, ok, Command};
use crate::runtime::Session;
use crate::service::login::client::LoginRefused;
use crate::service::login::metrics::login as count;
use crate::service::login::sasl::{self, Outcome};
use crate::service::login::wire::Wire;
use crate::service::login::{End, LoginClient};
use crate::service::pop3::session::CAPABILITIES;

/// Consecutive unknown commands before the connection is closed.
pub const MAX_BAD_COMMANDS: u32 = 3;
pub(super) const SERVICE: &str = "pop3-login";
const PLAINTEXT_DISABLED: &str =
    "[AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.";

pub async fn run(conn: Conn, session: Session) {
    let mut client = LoginClient::new("pop3", &conn, session);
    let mut wire = Wire::new(conn);
    let greeting = &client.session.settings.mail.login_greeting;
    let banner = if client.trusted {
        format!("[XCLIENT] {greeting}")
    } else {
        greeting.clone()
    };
    wire.queue(&ok(&banner));
    let mut last_user: Option<String> = None;
    let mut bad = 0u32;
    loop {
        let line = match client.next_line(&mut wire, pop3::MAX_LINE).await {
            Ok(Ok(l)) => l,
            Ok(Err(_)) => {
                let _ = wire.send(&err("Input line too long, aborting")).await;
                return;
            }
            Err(end) => return goodbye(&mut wire, end).await,
        };
        let mut good = true;
        let attempt = match pop3::parse(&line) {
            Command::Capa => {
                wire.queue(&capa(&client, &wire));
                None
            }
            Command::User(u) => {
                if client.plaintext_allowed() {
                    last_user = Some(u);
                    wire.queue(&ok(""));
                } else {
                    wire.queue(&err(PLAINTEXT_DISABLED));
                }
                None
            }
            Command::Pass(p) => match last_user.take() {
                None if !client.plaintext_allowed() => {
                    wire.queue(&err(PLAINTEXT_DISABLED));
                    None
                }
                None => {
                    wire.queue(&err("No username given."));
                    None
                }
                Some(u) => {
                    let mut plain = vec![0u8];
                    plain.extend_from_slice(u.as_bytes());
                    plain.push(0);
                    plain.extend_from_slice(p.as_bytes());
                    Some(("PLAIN".to_string(), Some(plain)))
                }
            },
            Command::Auth {
                mechanism: None, ..
            } => {
                let mut out = ok("");
                for m in client.mechanisms() {
                    out.extend_from_slice(m.as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b".\r\n");
                wire.queue(&out);
                None
            }
            Command::Auth {
                mechanism: Some(m),
                initial,
            } => match initial.as_deref().map(|i| sasl::decode(i.as_bytes())) {
                Some(None) => {
                    wire.queue(&err("[AUTH] Invalid base64 data in initial response."));
                    None
                }
                Some(Some(i)) => Some((m, Some(i))),
                None => Some((m, None)),
            },
            Command::Stls => {
                if wire.conn.stream.is_tls() {
                    wire.queue(&err("TLS is already active."));
                } else if wire.conn.starttls.is_none() {
                    wire.queue(&err("TLS support isn't enabled."));
                } else {
                    if wire.send(&ok("Begin TLS negotiation now.")).await.is_err() {
                        return;
                    }
                    wire = match wire.starttls().await {
                        Ok(w) => w,
                        Err(e) => {
                            tracing::info!("TLS handshake failed: {e}");
                            return;
                        }
                    };
                    client.after_starttls(&wire.conn);
                    last_user = None;
                }
                None
            }
            Command::Quit => {
                let _ = wire.send(&ok("Logging out")).await;
                return;
            }
            Command::Xclient(args) => {
                xclient(&mut client, &mut wire, &args);
                None
            }
            _ => {
                good = false;
                wire.queue(&err("Unknown command."));
                None
            }
        };
        if good {
            bad = 0;
        } else {
            bad += 1;
            if bad >= MAX_BAD_COMMANDS {
                let _ = wire.send(&err("Too many invalid bad commands.")).await;
                return;
            }
        }
        let Some((mech, initial)) = attempt else {
            continue;
        };
        match sasl::authenticate(&client, &mut wire, &mech, initial, "+ ").await {
            Outcome::Success { user, fields } => {
                count(SERVICE, "success");
                match client
                    .hand_over(wire, "pop3", user, fields, &mech.to_ascii_uppercase())
                    .await
                {
                    Ok(()) => return,
                    Err((why, w)) => {
                        let Some(mut w) = w else { return };
                        let text = match why {
                            LoginRefused::UserIpLimit(n) => {
                                count(SERVICE, "userip_limit");
                                format!("[IN-USE] Maximum number of connections from user+IP exceeded (mail_max_userip_connections={n})")
                            }
                            LoginRefused::Internal => {
                                count(SERVICE, "internal_error");
                                "[SYS/TEMP] Internal error occurred. Refer to server log for more information.".into()
                            }
                        };
                        let _ = w.send(&err(&text)).await;
                        return;
                    }
                }
            }
            Outcome::Failed { reason } => {
                count(SERVICE, "failed");
                let text = match reason {
                    Some(r) if r.starts_with('[') => r,
                    Some(r) => format!("[AUTH] {r}"),
                    None => "[AUTH] Authentication failed.".into(),
                };
                wire.queue(&err(&text));
            }
            Outcome::TempFail { reason } => {
                count(SERVICE, "failed");
                let r = reason.unwrap_or_else(|| "Temporary authentication failure.".into());
                wire.queue(&err(&format!("[SYS/TEMP] {r}")));
            }
            Outcome::Aborted => {
                count(SERVICE, "aborted");
                wire.queue(&err("Authentication aborted by client."));
            }
            Outcome::UnknownMechanism => {
                wire.queue(&err("[AUTH] Unsupported authentication mechanism."));
            }
            Outcome::PlaintextDisabled => wire.queue(&err(PLAINTEXT_DISABLED)),
            Outcome::InvalidBase64 => {
                count(SERVICE, "failed");
                wire.queue(&err("[AUTH] Invalid base64 data in continued response"));
            }
            Outcome::Ended(end) => return goodbye(&mut wire, end).await,
        }
    }
}

fn capa(client: &LoginClient, wire: &Wire) -> Vec<u8> {
    let mut lines: Vec<String> = CAPABILITIES.iter().map(|c| c.to_string()).collect();
    if wire.conn.starttls.is_some() && !wire.conn.stream.is_tls() {
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

/// `XCLIENT ADDR= PORT= SESSION= …` from a trusted proxy: the client's real identity.
fn xclient(client: &mut LoginClient, wire: &mut Wire, args: &[String]) {
    if !client.trusted {
        wire.queue(&ok("You are not from trusted IP - ignoring"));
        return;
    }
    let mut addr = client.remote;
    let mut valid = true;
    for a in args {
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

async fn goodbye(wire: &mut Wire, end: End) {
    let text = match end {
        End::Kicked => "Connection queue full",
        End::Shutdown => "Server shutting down.",
        End::Timeout => "Disconnected for inactivity.",
        End::Eof | End::Io => return,
    };
    let _ = wire.send(&err(text)).await;
}
