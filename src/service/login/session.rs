//! The login loop every `*-login` service runs (Dovecot's `login-common` client loop): greet,
//! read commands under one watch (kick, shutdown, the absolute `login_timeout` deadline), count
//! bad commands (three in a row end the connection), enforce the plaintext policy, run SASL,
//! STARTTLS, map auth outcomes to replies, say goodbye, and hand the connection over. The
//! protocol ([`LoginProtocol`]) only parses lines and words replies.

use super::client::{LoginClient, LoginRefused};
use super::metrics::login as count;
use super::protocol::{Goodbye, LoginCommand, LoginProtocol, Reply};
use super::sasl::{self, Outcome};
use super::tally::{plain_user, Tally};
use crate::net::Conn;
use crate::runtime::Session;
use crate::service::wire::{End, LineTooLong, Wire};
use tokio::time::Instant;

/// Consecutive unknown commands before the connection is closed.
pub const MAX_BAD_COMMANDS: u32 = 3;
/// Queued output above which no further command is read (Dovecot's `LOGIN_MAX_OUTBUF_SIZE`);
/// a client that never reads its replies then waits out its deadline or the kick.
pub const LOGIN_MAX_OUTBUF_SIZE: usize = 4096;

/// Serves one pre-login client with protocol `proto` until it logs in (and is handed over),
/// logs out, or is sent away.
pub async fn run<P: LoginProtocol>(mut proto: P, conn: Conn, session: Session) {
    let mut client = LoginClient::new(P::PROTOCOL, &conn, session);
    let mut tally = Tally::new(Instant::from_std(conn.accepted_at));
    let mut wire = Wire::new(conn);
    wire.max_output = LOGIN_MAX_OUTBUF_SIZE;
    let starttls = wire.conn.starttls.is_some() && !wire.conn.stream.is_tls();
    wire.queue(&proto.greeting(&client, starttls));
    let mut last_user: Option<String> = None;
    let mut bad = 0u32;
    loop {
        let line = match wire.next_line(P::MAX_LINE, &client.watch()).await {
            Ok(Ok(l)) => l,
            Ok(Err(LineTooLong)) => {
                disconnected(&client, &tally, &wire, "Disconnected: Input buffer full");
                return goodbye(&proto, &mut wire, Goodbye::LineTooLong).await;
            }
            Err(end) => return ended(&proto, &mut wire, end, &client, &tally).await,
        };
        let line = match literals(&proto, &mut wire, line, &client).await {
            Ok(Ok(l)) => l,
            Ok(Err(refusal)) => {
                disconnected(&client, &tally, &wire, "Disconnected: Input buffer full");
                return match refusal {
                    Some(text) => wire.goodbye(&text).await,
                    None => goodbye(&proto, &mut wire, Goodbye::LineTooLong).await,
                };
            }
            Err(end) => return ended(&proto, &mut wire, end, &client, &tally).await,
        };
        let mut good = true;
        let attempt = match proto.parse(&line) {
            LoginCommand::Capability => {
                let starttls = wire.conn.starttls.is_some() && !wire.conn.stream.is_tls();
                wire.queue(&proto.capabilities(&client, starttls));
                None
            }
            LoginCommand::Noop => {
                wire.queue(&proto.reply(Reply::Ok));
                None
            }
            LoginCommand::User(u) => {
                if client.plaintext_allowed() {
                    last_user = Some(u);
                    wire.queue(&proto.reply(Reply::Ok));
                } else {
                    tally.attempt(Instant::now(), "PLAIN", Some(&u));
                    tally.tried_disabled_plaintext = true;
                    wire.queue(&proto.reply(Reply::PlaintextDisabled));
                }
                None
            }
            LoginCommand::Pass(p) => match last_user.take() {
                None if !client.plaintext_allowed() => {
                    tally.attempt(Instant::now(), "PLAIN", None);
                    tally.tried_disabled_plaintext = true;
                    wire.queue(&proto.reply(Reply::PlaintextDisabled));
                    None
                }
                None => {
                    wire.queue(&proto.reply(Reply::NoUsername));
                    None
                }
                Some(u) => Some(("PLAIN".to_string(), Some(plain(&u, &p)))),
            },
            LoginCommand::Login { user, pass } => {
                if client.plaintext_allowed() {
                    Some(("PLAIN".to_string(), Some(plain(&user, &pass))))
                } else {
                    tally.attempt(Instant::now(), "PLAIN", Some(&user));
                    tally.tried_disabled_plaintext = true;
                    wire.queue(&proto.reply(Reply::PlaintextDisabled));
                    None
                }
            }
            LoginCommand::Authenticate {
                mechanism: None, ..
            } => {
                let mechs = client.mechanisms();
                wire.queue(&proto.reply(Reply::Mechanisms(&mechs)));
                None
            }
            LoginCommand::Authenticate {
                mechanism: Some(m),
                initial,
            } => match initial.as_deref().map(|i| sasl::decode(i.as_bytes())) {
                Some(None) => {
                    wire.queue(&proto.reply(Reply::InvalidBase64Initial));
                    None
                }
                Some(Some(i)) => Some((m, Some(i))),
                None => Some((m, None)),
            },
            LoginCommand::StartTls => {
                if wire.conn.stream.is_tls() {
                    wire.queue(&proto.reply(Reply::TlsAlreadyActive));
                } else if wire.conn.starttls.is_none() {
                    wire.queue(&proto.reply(Reply::TlsUnavailable));
                } else {
                    let watch = client.watch();
                    if let Err(end) = wire.send(&proto.reply(Reply::StartTlsBegin), &watch).await {
                        return ended(&proto, &mut wire, end, &client, &tally).await;
                    }
                    // The handshake is kickable and bounded by the login deadline; a client
                    // cut off mid-handshake gets no goodbye (it would not be readable).
                    wire = match wire.starttls(&watch).await {
                        Ok(Ok(w)) => w,
                        Ok(Err(e)) => {
                            tracing::info!("TLS handshake failed: {e}");
                            return;
                        }
                        Err(end) => {
                            tracing::info!("STARTTLS handshake ended: {end:?}");
                            return;
                        }
                    };
                    client.after_starttls(&wire.conn);
                    last_user = None;
                }
                None
            }
            LoginCommand::Logout => {
                disconnected(
                    &client,
                    &tally,
                    &wire,
                    "Disconnected: Aborted login by logging out",
                );
                wire.goodbye(&proto.reply(Reply::Logout)).await;
                return;
            }
            LoginCommand::Extra(x) => {
                proto.extra(x, &mut client, &mut wire);
                None
            }
            LoginCommand::Unknown => {
                good = false;
                wire.queue(&proto.reply(Reply::Unknown));
                None
            }
        };
        if good {
            bad = 0;
        } else {
            bad += 1;
            if bad >= MAX_BAD_COMMANDS {
                // Dovecot 2.3 words this one with "Disconnected" twice.
                disconnected(
                    &client,
                    &tally,
                    &wire,
                    "Disconnected: Disconnected: Too many bad commands",
                );
                return goodbye(&proto, &mut wire, Goodbye::TooManyBadCommands).await;
            }
        }
        let Some((mech, initial)) = attempt else {
            continue;
        };
        let named = match mech.eq_ignore_ascii_case("PLAIN") {
            true => initial.as_deref().and_then(plain_user),
            false => None,
        };
        tally.attempt(Instant::now(), &mech, named.as_deref());
        let outcome =
            sasl::authenticate(&client, &mut wire, &mech, initial, P::CHALLENGE_PREFIX).await;
        let reply = match &outcome {
            Outcome::Success { .. } => None,
            Outcome::Failed { reason } => {
                count(P::SERVICE, "failed");
                Some(Reply::AuthFailed(reason.as_deref()))
            }
            Outcome::TempFail { reason } => {
                count(P::SERVICE, "failed");
                Some(Reply::AuthTempFail(reason.as_deref()))
            }
            Outcome::Aborted => {
                count(P::SERVICE, "aborted");
                tally.aborted = true;
                Some(Reply::AuthAborted)
            }
            Outcome::UnknownMechanism => {
                tally.tried_unsupported_mech = true;
                Some(Reply::UnknownMechanism)
            }
            Outcome::PlaintextDisabled => {
                tally.tried_disabled_plaintext = true;
                Some(Reply::PlaintextDisabled)
            }
            Outcome::InvalidBase64 => {
                count(P::SERVICE, "failed");
                Some(Reply::InvalidBase64Continued)
            }
            Outcome::Ended(end) => {
                tally.unfinished_sasl = true;
                return ended(&proto, &mut wire, *end, &client, &tally).await;
            }
        };
        if let Some(r) = reply {
            wire.queue(&proto.reply(r));
            continue;
        }
        let Outcome::Success { user, fields } = outcome else {
            continue;
        };
        // `nologin` (auth answered OK, as Dovecot's does): the login process refuses, at once.
        if let Some(reason) = nologin_reason(&fields) {
            count(P::SERVICE, "failed");
            wire.queue(&proto.reply(Reply::LoginDisabled(&reason)));
            continue;
        }
        count(P::SERVICE, "success");
        let data = proto.handoff_data();
        let mech = mech.to_ascii_uppercase();
        match client
            .hand_over(wire, P::PROTOCOL, user, fields, &mech, data)
            .await
        {
            Ok(()) => return,
            Err((why, w)) => {
                let Some(mut w) = w else { return };
                let reply = match why {
                    LoginRefused::UserIpLimit(n) => {
                        count(P::SERVICE, "userip_limit");
                        Reply::UserIpLimit(n)
                    }
                    LoginRefused::Internal => {
                        count(P::SERVICE, "internal_error");
                        Reply::InternalError
                    }
                };
                w.goodbye(&proto.reply(reply)).await;
                return;
            }
        }
    }
}

/// SASL PLAIN's message for a plaintext login: `\0user\0pass`.
fn plain(user: &str, pass: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(user.len() + pass.len() + 2);
    v.push(0);
    v.extend_from_slice(user.as_bytes());
    v.push(0);
    v.extend_from_slice(pass.as_bytes());
    v
}

async fn ended<P: LoginProtocol>(
    proto: &P,
    wire: &mut Wire,
    end: End,
    client: &LoginClient,
    tally: &Tally,
) {
    let (why, line) = match end {
        // The kick is logged (throttled) by the pool that decided it.
        End::Kicked => (Goodbye::Kicked, None),
        End::Shutdown => (Goodbye::Shutdown, Some("Disconnected: Shutting down")),
        End::Timeout => (Goodbye::Timeout, Some("Disconnected: Inactivity")),
        End::Eof | End::Io => {
            disconnected(client, tally, wire, "Disconnected: Connection closed");
            return;
        }
    };
    if let Some(line) = line {
        disconnected(client, tally, wire, line);
    }
    goodbye(proto, wire, why).await
}

/// Completes a command whose lines end in literals (IMAP's `LOGIN {5}`): `+ OK` for a
/// synchronising one, the literal's bytes, then the next line, all within
/// [`LoginProtocol::MAX_COMMAND`] bytes. `Ok(Err(text))`: refused (the protocol's line, or
/// `None` for the layer's "line too long" goodbye).
async fn literals<P: LoginProtocol>(
    proto: &P,
    wire: &mut Wire,
    mut command: Vec<u8>,
    client: &LoginClient,
) -> Result<Result<Vec<u8>, Option<Vec<u8>>>, crate::service::wire::End> {
    use super::protocol::Literal;
    loop {
        let (size, sync) = match proto.literal(&command) {
            None => return Ok(Ok(command)),
            Some(Literal::Refused(text)) => return Ok(Err(Some(text))),
            Some(Literal::Follows { size, sync }) => (size, sync),
        };
        if command.len() + 2 + size > P::MAX_COMMAND {
            return Ok(Err(None));
        }
        let watch = client.watch();
        if sync {
            wire.send(b"+ OK\r\n", &watch).await?;
        }
        command.extend_from_slice(b"\r\n");
        while wire.buffered().len() < size {
            wire.fill(&watch).await?;
        }
        command.extend_from_slice(&wire.buffered()[..size]);
        wire.consume(size);
        let room = P::MAX_LINE.min(P::MAX_COMMAND - command.len());
        match wire.next_line(room, &watch).await? {
            Ok(rest) => command.extend_from_slice(&rest),
            Err(LineTooLong) => return Ok(Err(None)),
        }
    }
}

/// Dovecot's line for a client that leaves without logging in:
/// `Disconnected: Connection closed (auth failed, 1 attempts in 2 secs): user=<bob>, …`.
fn disconnected(client: &LoginClient, tally: &Tally, wire: &Wire, what: &str) {
    let message = format!("{what} {}", tally.reason(Instant::now()));
    tracing::info!(
        service = %client.session.service,
        vproc = client.session.vproc,
        "{}",
        client.log_line(&message, &tally.user, &tally.method, wire.conn.stream.is_tls())
    );
}

async fn goodbye<P: LoginProtocol>(proto: &P, wire: &mut Wire, why: Goodbye) {
    if let Some(text) = proto.goodbye(why) {
        match why {
            // Sent away: the slot is freed at once, whether or not the client reads.
            Goodbye::Kicked | Goodbye::Timeout => wire.goodbye_now(&text).await,
            _ => wire.goodbye(&text).await,
        }
    }
}

/// The refusal text of a `nologin` success without `proxy`: the passdb's `reason`, else
/// Dovecot's `Login disabled for this user`; `None` for a normal success.
fn nologin_reason(fields: &[(String, String)]) -> Option<String> {
    let has = |k: &str| fields.iter().any(|(n, _)| n == k);
    if !has("nologin") || has("proxy") {
        return None;
    }
    Some(
        fields
            .iter()
            .find(|(n, _)| n == "reason")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| "Login disabled for this user".to_string()),
    )
}
