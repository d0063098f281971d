//! One POP3 transaction-state session (after `pop3-login` handed the connection over): sends
//! `+OK Logged in.`, serves STAT/LIST/UIDL/RETR/TOP/DELE/RSET/NOOP/CAPA, and on QUIT expunges
//! the deleted messages and marks retrieved ones \Seen before answering. A connection that
//! drops without QUIT expunges nothing but keeps \Seen on what it retrieved (as Dovecot
//! does). Opening INBOX moves new/ mail to cur/. Idle sessions end after 10 minutes, as in
//! Dovecot; every 30 s the `pop3_lock_session` dotlock is touched. Both timers are deadlines
//! around the shared line reader (`service::wire`), which is cancel-safe, so the tick never
//! disturbs a half-received command. An over-long line gets `-ERR Input line too long.` and
//! the connection is closed, as in Dovecot.

use std::sync::Arc;
use std::time::Duration;

use super::maildrop::Maildrop;
use super::metrics;
use crate::mail::access::{self, Inbox, MailAccess};
use crate::mail::{blocking, MailError};
use crate::net::Conn;
use crate::protocol::pop3::{self, encode_message, err, multiline, ok, Command, MAX_LINE};
use crate::runtime::Session;
use crate::service::anvil::{Anvil, Connect};
use crate::service::wire::{End, LineTooLong, Watch, Wire};

/// Dovecot's POP3 autologout.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// How often the session lock is touched so other sessions do not take it as stale.
pub const LOCK_TOUCH: Duration = Duration::from_secs(30);

/// The session's timers. Put one in the hub to change them (tests); otherwise
/// [`IDLE_TIMEOUT`] and [`LOCK_TOUCH`].
#[derive(Clone, Copy, Debug)]
pub struct Pop3Timers {
    /// Autologout: this long without a command ends the session.
    pub autologout: Duration,
    /// Lock touch interval.
    pub lock_touch: Duration,
}

impl Default for Pop3Timers {
    fn default() -> Self {
        Pop3Timers {
            autologout: IDLE_TIMEOUT,
            lock_touch: LOCK_TOUCH,
        }
    }
}
/// Name of the `pop3_lock_session` lock (a dotlock in the INBOX directory).
pub use crate::mail::local::SESSION_LOCK;

/// Capabilities in the transaction state (as Dovecot lists them; pop3-login has its own).
pub const CAPABILITIES: &[&str] = &[
    "CAPA",
    "TOP",
    "UIDL",
    "RESP-CODES",
    "PIPELINING",
    "AUTH-RESP-CODE",
];

pub async fn run(conn: Conn, session: Session) {
    let mut wire = Wire::new(conn);
    let Some(handoff) = session.handoff.clone() else {
        wire.goodbye(&err(
            "[SYS/PERM] pop3 accepts connections only from pop3-login",
        ))
        .await;
        return;
    };
    session.set_authenticated();
    // Listed by `roost who` until it ends; takes over the mail_max_userip_connections slot
    // the login layer reserved; `roost kick` cancels `kicked`.
    let _anvil = Anvil::from_hub(&session.hub).connect(Connect {
        user: handoff.user.clone(),
        protocol: "pop3".into(),
        vproc: session.vproc,
        rip: wire.conn.remote.map(|a| a.ip()),
        lip: wire.conn.local.map(|a| a.ip()),
        session_id: handoff.session_id.clone(),
        kick: session.kicked.clone(),
    });
    let settings = session.settings.clone();
    let host = settings.mail.effective_hostname();
    let user = handoff.user.clone();
    let fields = handoff.fields.clone();
    let access = MailAccess::from_hub(&session.hub);
    let opened = blocking(move || {
        let to = access::target(&settings.mail, &user, &fields, &host);
        Inbox::open(
            &access,
            &settings.mail,
            &to,
            settings.mail.pop3_lock_session,
        )
    })
    .await;
    let (inbox, snap) = match opened {
        Ok(v) => v,
        Err(MailError::LockTimeout(_)) => {
            wire.goodbye(&err("[IN-USE] Mailbox is locked by another POP3 session."))
                .await;
            return;
        }
        Err(e) => {
            tracing::error!(user = %handoff.user, error = %e, "opening INBOX failed");
            wire.goodbye(&err(
                "[SYS/TEMP] Internal error occurred. Refer to server log for more information.",
            ))
            .await;
            return;
        }
    };
    let drop = Maildrop::new(snap, &session.settings.mail.pop3_uidl_format);
    let mut s = Pop3 {
        inbox: Arc::new(inbox),
        drop,
        session,
        user: handoff.user.clone(),
        top_n: 0,
        retr_n: 0,
        retr_bytes: 0,
        top_bytes: 0,
        prefetch: None,
        quit: false,
        bad: 0,
    };
    wire.queue(&ok("Logged in."));
    let reason = s.serve(&mut wire).await;
    if !s.quit {
        s.commit_without_quit().await;
    }
    let (_, size) = s.drop.stat();
    tracing::info!(
        user = %s.user,
        "Disconnected: {reason} top={}/{}, retr={}/{}, del={}/{}, size={}",
        s.top_n,
        s.top_bytes,
        s.retr_n,
        s.retr_bytes,
        s.drop.deleted_count(),
        s.drop.messages.len(),
        size
    );
    // Releases the session lock; a mail helper goes back to its pool.
    let inbox = s.inbox.clone();
    std::mem::drop(s);
    let _ = blocking(move || {
        inbox.close();
        Ok(())
    })
    .await;
}

struct Pop3 {
    inbox: Arc<Inbox>,
    drop: Maildrop,
    session: Session,
    user: String,
    top_n: u64,
    top_bytes: u64,
    retr_n: u64,
    retr_bytes: u64,
    /// Read-ahead of the message after the last RETR (clients fetch in order), so the file
    /// read overlaps the client's round trip.
    prefetch: Option<(usize, PendingRead)>,
    /// QUIT ran (and committed the session's changes).
    quit: bool,
    /// Commands refused in a row.
    bad: u32,
}

/// Queues `-ERR text`; the command counts as bad.
fn refuse(wire: &mut Wire, text: &str) -> bool {
    wire.queue(&err(text));
    false
}

/// Dovecot's CLIENT_MAX_BAD_COMMANDS: one more refused command in a row ends the session.
pub const MAX_BAD_COMMANDS: u32 = 20;

/// A message read running on the blocking pool.
type PendingRead = tokio::task::JoinHandle<Result<Vec<u8>, MailError>>;

/// Messages up to this size are read ahead.
const PREFETCH_MAX: u64 = 256 * 1024;

impl Pop3 {
    /// The command loop; returns the reason for the log line.
    async fn serve(&mut self, wire: &mut Wire) -> &'static str {
        let timers = self
            .session
            .hub
            .get::<Pop3Timers>()
            .map(|t| *t)
            .unwrap_or_default();
        let now = tokio::time::Instant::now();
        let mut autologout = now + timers.autologout;
        let mut touch = now + timers.lock_touch;
        loop {
            let sent = wire.bytes_sent;
            let watch = Watch::new(&self.session, Some(autologout.min(touch)));
            let line = wire.next_line(MAX_LINE, &watch).await;
            metrics::sent((wire.bytes_sent - sent) as usize);
            let line = match line {
                Ok(Ok(l)) => l,
                Ok(Err(LineTooLong)) => {
                    wire.goodbye(&err("Input line too long.")).await;
                    return "Input line too long";
                }
                Err(End::Timeout) if tokio::time::Instant::now() < autologout => {
                    if self.inbox.locked() {
                        let inbox = self.inbox.clone();
                        tokio::task::spawn_blocking(move || inbox.touch());
                    }
                    touch += timers.lock_touch;
                    continue;
                }
                Err(End::Timeout) => {
                    wire.goodbye(&err("Disconnected for inactivity.")).await;
                    return "Inactivity";
                }
                // Dovecot's pop3 on SIGTERM, which is also how `doveadm kick` ends it.
                Err(End::Shutdown | End::Kicked) => {
                    wire.goodbye(&err("[SYS/TEMP] Server shutting down.")).await;
                    return "Server shutting down.";
                }
                Err(End::Eof | End::Io) => return "Connection closed",
            };
            autologout = tokio::time::Instant::now() + timers.autologout;
            let cmd = pop3::parse(&line);
            metrics::command(cmd.name());
            if let Command::Quit = cmd {
                let changes = self
                    .drop
                    .changes(!self.session.settings.mail.pop3_no_flag_updates);
                let deleted = self.drop.deleted_count() > 0;
                let inbox = self.inbox.clone();
                let r = blocking(move || inbox.apply(&changes)).await;
                let reply = match r {
                    Ok(()) if deleted => ok("Logging out, messages deleted."),
                    Ok(()) => ok("Logging out."),
                    Err(e) => {
                        tracing::error!(user = %self.user, error = %e, "QUIT commit failed");
                        err("[SYS/TEMP] Failed to delete messages.")
                    }
                };
                self.quit = true;
                wire.goodbye(&reply).await;
                return "Logged out";
            }
            if self.command(cmd, wire).await {
                self.bad = 0;
            } else {
                self.bad += 1;
                if self.bad > MAX_BAD_COMMANDS {
                    wire.goodbye(&err("Too many bad commands.")).await;
                    return "Too many bad commands.";
                }
            }
        }
    }

    /// A session ending without QUIT keeps \Seen on what it retrieved (expunges need QUIT).
    async fn commit_without_quit(&mut self) {
        let changes = self
            .drop
            .changes_without_quit(!self.session.settings.mail.pop3_no_flag_updates);
        if changes.is_empty() {
            return;
        }
        let inbox = self.inbox.clone();
        if let Err(e) = blocking(move || inbox.apply(&changes)).await {
            tracing::error!(user = %self.user, error = %e, "committing \\Seen flags failed");
        }
    }

    /// Runs one command; false when it was refused (Dovecot's bad command count).
    async fn command(&mut self, cmd: Command, wire: &mut Wire) -> bool {
        let d = &mut self.drop;
        match cmd {
            Command::Capa => {
                let lines: Vec<String> = CAPABILITIES.iter().map(|c| c.to_string()).collect();
                wire.queue(&multiline("", &lines));
                true
            }
            Command::Stat => {
                let (n, size) = d.stat();
                wire.queue(&ok(&format!("{n} {size}")));
                true
            }
            Command::List(a) if a.is_empty() => {
                let lines: Vec<String> = d
                    .live()
                    .map(|i| format!("{} {}", i + 1, d.messages[i].vsize))
                    .collect();
                wire.queue(&multiline(&format!("{} messages:", lines.len()), &lines));
                true
            }
            Command::List(a) => match d.index(&a) {
                Ok(i) => {
                    wire.queue(&ok(&format!("{} {}", i + 1, d.messages[i].vsize)));
                    true
                }
                Err(e) => refuse(wire, &e),
            },
            Command::Uidl(a) if a.is_empty() => {
                let lines: Vec<String> = d
                    .live()
                    .map(|i| format!("{} {}", i + 1, d.uidls[i]))
                    .collect();
                wire.queue(&multiline("", &lines));
                true
            }
            Command::Uidl(a) => match d.index(&a) {
                Ok(i) => {
                    wire.queue(&ok(&format!("{} {}", i + 1, d.uidls[i])));
                    true
                }
                Err(e) => refuse(wire, &e),
            },
            Command::Dele(a) => match d.index(&a) {
                Ok(i) => {
                    d.deleted[i] = true;
                    wire.queue(&ok("Marked to be deleted."));
                    true
                }
                Err(e) => refuse(wire, &e),
            },
            Command::Rset => {
                d.reset();
                wire.queue(&ok(""));
                true
            }
            Command::Noop => {
                wire.queue(&ok(""));
                true
            }
            Command::Retr(a) => match d.index(&a) {
                Ok(i) => {
                    self.send_message(i, None, wire).await;
                    true
                }
                Err(e) => refuse(wire, &e),
            },
            Command::Top(a) => match d.index_then(&a, true) {
                Ok((i, rest)) => match pop3::args::size(rest) {
                    // Dovecot passes the count on as the body line limit, where the largest
                    // value means "no limit": the whole message, as RETR sends it.
                    Ok(u64::MAX) => {
                        self.send_message(i, None, wire).await;
                        true
                    }
                    Ok(lines) => {
                        let lines = usize::try_from(lines).unwrap_or(usize::MAX);
                        self.send_message(i, Some(lines), wire).await;
                        true
                    }
                    Err(e) => refuse(wire, &e.to_string()),
                },
                Err(e) => refuse(wire, &e),
            },
            Command::Empty => refuse(wire, "Unknown command."),
            Command::Unknown(name) => refuse(wire, &format!("Unknown command: {name}")),
            other => refuse(wire, &format!("Unknown command: {}", other.name())),
        }
    }

    fn read(&self, i: usize) -> PendingRead {
        let entry = self.drop.messages[i].clone();
        let inbox = self.inbox.clone();
        tokio::task::spawn_blocking(move || inbox.read(&entry))
    }

    async fn send_message(&mut self, i: usize, top: Option<usize>, wire: &mut Wire) {
        let pending = match self.prefetch.take() {
            Some((n, h)) if n == i => h,
            Some((_, h)) => {
                h.abort();
                self.read(i)
            }
            None => self.read(i),
        };
        if top.is_none() {
            let next = i + 1;
            if next < self.drop.messages.len()
                && !self.drop.deleted[next]
                && self.drop.messages[next].size <= PREFETCH_MAX
            {
                self.prefetch = Some((next, self.read(next)));
            }
        }
        let read = match pending.await {
            Ok(r) => r,
            Err(e) => Err(MailError::Internal(format!("read task failed: {e}"))),
        };
        let data = match read {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(user = %self.user, error = %e, "message vanished");
                wire.queue(&err("Message was expunged by another session."));
                return;
            }
        };
        let vsize = self.drop.messages[i].vsize;
        let status = match top {
            None => ok(&format!("{vsize} octets")),
            Some(_) => ok(""),
        };
        let out = wire.output();
        let before = out.len();
        out.extend_from_slice(&status);
        encode_message(&data, top, out);
        let sent = (out.len() - before) as u64;
        match top {
            None => {
                self.drop.retrieved[i] = true;
                self.retr_n += 1;
                self.retr_bytes += sent;
            }
            Some(_) => {
                self.top_n += 1;
                self.top_bytes += sent;
            }
        }
        // Large output goes out before the next command is taken (the reader flushes first
        // while more than `max_output` is queued).
    }
}
