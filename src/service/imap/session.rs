//! One IMAP session after login (authenticated, selected, logout states): the loop on the
//! sans-IO receiver (`protocol::imap::Receiver`: bounded literals, `+ OK` for synchronising
//! ones, APPEND messages streamed in, Dovecot's error lines), the tagged replies with Dovecot's
//! `(0.001 + 0.000 secs)` timing, the any-state and authenticated-state commands that need no
//! mailbox (CAPABILITY, NOOP, LOGOUT, ID, ENABLE, NAMESPACE, IDLE), the untagged updates sent
//! before each tagged reply, and the goodbyes (autologout after 30 minutes, shutdown, kick).
//! Mailbox-list commands are in `mailboxes.rs`, message commands in `messages.rs`.

use std::time::Duration;

use tokio::time::Instant;

use super::selected::Selected;
use super::spool::Spool;
use crate::mail::maildir::Maildir;
use crate::mail::{blocking, UserStore};
use crate::net::Conn;
use crate::protocol::imap::receiver::ReceiveError;
use crate::protocol::imap::response::Untagged;
use crate::protocol::imap::{parse, Command, Event, Frame, Receiver};
use crate::runtime::Session;
use crate::service::anvil::{Anvil, Connect};
use crate::service::wire::{End, Watch, Wire};

/// Capabilities after login: what this service implements.
pub const CAPABILITIES: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE UNSELECT \
CHILDREN NAMESPACE UIDPLUS ESEARCH SEARCHRES WITHIN MOVE MULTIAPPEND LITERAL+";

/// Dovecot's IMAP autologout (RFC 3501's 30-minute minimum).
pub const AUTOLOGOUT: Duration = Duration::from_secs(30 * 60);
/// How often IDLE looks for changes (new mail is announced within this).
pub const IDLE_POLL: Duration = Duration::from_millis(300);
/// Dovecot's `imap_idle_notify_interval`: an IDLE client hears `* OK Still here` this often.
pub const IDLE_NOTIFY: Duration = Duration::from_secs(120);
/// Dovecot's CLIENT_MAX_BAD_COMMANDS for imap.
pub const MAX_BAD_COMMANDS: u32 = 20;

/// What happens after a command.
pub(super) enum Flow {
    Continue,
    Logout,
}

pub struct Imap {
    pub(super) session: Session,
    pub(super) store: UserStore,
    pub(super) user: String,
    pub(super) selected: Option<Selected>,
    /// INBOX, whose tmp/ spools APPEND messages.
    pub(super) inbox: Maildir,
    /// When the current command started (for the timing Dovecot appends).
    pub(super) started: Instant,
    bad: u32,
}

/// A receiver event with its data copied, so the wire's buffer can be consumed.
enum Received {
    NeedMore,
    Literal(bool),
    MessageStart(bool),
    Data(Vec<u8>),
    Command(Frame),
    Error(ReceiveError),
}

pub async fn run(conn: Conn, session: Session) {
    let mut wire = Wire::new(conn);
    let Some(handoff) = session.handoff.clone() else {
        wire.goodbye(b"* BYE [UNAVAILABLE] imap accepts connections only from imap-login\r\n")
            .await;
        return;
    };
    session.set_authenticated();
    // Listed by `roost who` until it ends; takes over the mail_max_userip_connections slot
    // the login layer reserved; `roost kick` cancels `kicked`.
    let _anvil = Anvil::from_hub(&session.hub).connect(Connect {
        user: handoff.user.clone(),
        protocol: "imap".into(),
        vproc: session.vproc,
        rip: wire.conn.remote.map(|a| a.ip()),
        lip: wire.conn.local.map(|a| a.ip()),
        session_id: handoff.session_id.clone(),
        kick: session.kicked.clone(),
    });
    let host = session.settings.mail.effective_hostname();
    let store = match UserStore::new(
        &session.settings.mail,
        &handoff.user,
        &handoff.fields,
        &host,
    ) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(user = %handoff.user, error = %e, "mail storage init failed");
            wire.goodbye(b"* BYE [UNAVAILABLE] Internal error occurred. Refer to server log for more information.\r\n").await;
            return;
        }
    };
    let st = store.clone();
    let inbox = match blocking(move || st.mailbox("INBOX", true)).await {
        Ok(i) => i,
        Err(e) => {
            tracing::error!(user = %handoff.user, error = %e, "opening INBOX failed");
            wire.goodbye(b"* BYE [UNAVAILABLE] Internal error occurred. Refer to server log for more information.\r\n").await;
            return;
        }
    };
    let tag = String::from_utf8_lossy(&handoff.protocol_data).into_owned();
    if tag.is_empty() {
        wire.queue(
            format!(
                "* PREAUTH [CAPABILITY {CAPABILITIES}] Logged in as {}\r\n",
                handoff.user
            )
            .as_bytes(),
        );
    } else {
        wire.queue(format!("{tag} OK [CAPABILITY {CAPABILITIES}] Logged in\r\n").as_bytes());
    }
    let mut imap = Imap {
        session,
        store,
        user: handoff.user.clone(),
        selected: None,
        inbox,
        started: Instant::now(),
        bad: 0,
    };
    let reason = imap.serve(&mut wire).await;
    tracing::info!(user = %imap.user, "Disconnected: {reason}");
}

impl Imap {
    async fn serve(&mut self, wire: &mut Wire) -> &'static str {
        let mut rx = Receiver::new(0);
        let mut appended: Vec<Result<Spool, String>> = Vec::new();
        let mut autologout = Instant::now() + AUTOLOGOUT;
        loop {
            let (used, ev) = {
                let (used, ev) = rx.receive(wire.buffered());
                let ev = match ev {
                    Event::NeedMore => Received::NeedMore,
                    Event::Literal { sync, .. } => Received::Literal(sync),
                    Event::MessageStart { sync, .. } => Received::MessageStart(sync),
                    Event::MessageData(d) => Received::Data(d.to_vec()),
                    Event::Command(f) => Received::Command(f),
                    Event::Error(e) => Received::Error(e),
                };
                (used, ev)
            };
            wire.consume(used);
            match ev {
                Received::NeedMore => {
                    let watch = Watch::new(&self.session, Some(autologout));
                    let sent = wire.bytes_sent;
                    let filled = wire.fill(&watch).await;
                    super::metrics::sent(wire.bytes_sent - sent);
                    match filled {
                        Ok(()) => {}
                        Err(end) => return goodbye(wire, end).await,
                    }
                    if !rx.is_idle() || !wire.buffered().is_empty() {
                        autologout = Instant::now() + AUTOLOGOUT;
                    }
                }
                Received::Literal(sync) | Received::MessageStart(sync) => {
                    if matches!(ev, Received::MessageStart(_)) {
                        let spool = Spool::create(self.inbox.clone()).await;
                        appended.push(spool.map_err(|e| e.to_string()));
                    }
                    if sync {
                        wire.queue(b"+ OK\r\n");
                    }
                }
                Received::Data(d) => {
                    if let Some(Ok(spool)) = appended.last_mut() {
                        spool.write(&d).await;
                    }
                }
                Received::Error(e) => {
                    wire.queue(&with_timing(e.response(), Instant::now()));
                    if e.is_fatal() {
                        wire.goodbye(b"").await;
                        return "Literal size too large";
                    }
                }
                Received::Command(frame) => {
                    self.started = Instant::now();
                    let msgs = std::mem::take(&mut appended);
                    match self.command(&frame, msgs, wire).await {
                        Ok(Flow::Continue) => {}
                        Ok(Flow::Logout) => return "Logged out",
                        Err(end) => return goodbye(wire, end).await,
                    }
                    if self.bad > MAX_BAD_COMMANDS {
                        wire.goodbye(b"* BYE Too many invalid IMAP commands.\r\n")
                            .await;
                        return "Too many invalid commands";
                    }
                }
            }
        }
    }

    /// Runs one command. `Err` when the connection ended meanwhile (IDLE).
    async fn command(
        &mut self,
        frame: &Frame,
        appended: Vec<Result<Spool, String>>,
        wire: &mut Wire,
    ) -> Result<Flow, End> {
        let t = match parse(frame) {
            Ok(t) => t,
            Err(e) => {
                super::metrics::command("unknown");
                self.bad += 1;
                wire.queue(&with_timing(e.response(), self.started));
                return Ok(Flow::Continue);
            }
        };
        super::metrics::command(t.command.name());
        self.bad = 0;
        let tag = t.tag.as_str();
        let needs_selected = matches!(
            t.command,
            Command::Check
                | Command::Close
                | Command::Unselect
                | Command::Expunge
                | Command::UidExpunge { .. }
                | Command::Search(_)
                | Command::Fetch { .. }
                | Command::Store { .. }
                | Command::Copy { .. }
                | Command::Move { .. }
        );
        if needs_selected && self.selected.is_none() {
            self.bad += 1;
            self.reply(wire, tag, "BAD", None, "No mailbox selected");
            return Ok(Flow::Continue);
        }
        match t.command {
            Command::Capability => {
                wire.queue(format!("* CAPABILITY {CAPABILITIES}\r\n").as_bytes());
                self.done(wire, tag, "Capability completed").await;
            }
            Command::Noop | Command::Check => {
                let what = if matches!(t.command, Command::Noop) {
                    "NOOP completed"
                } else {
                    "Check completed"
                };
                self.done(wire, tag, what).await;
            }
            Command::Logout => {
                wire.queue(b"* BYE Logging out\r\n");
                self.reply(wire, tag, "OK", None, "Logout completed");
                wire.goodbye(b"").await;
                return Ok(Flow::Logout);
            }
            Command::Id { .. } => {
                Untagged::Id(Some(vec![("name", Some("Dovecot"))])).encode(wire.output());
                self.done(wire, tag, "ID completed").await;
            }
            Command::Enable { .. } => {
                // No ENABLE-able extension (CONDSTORE, QRESYNC, UTF8=ACCEPT) is implemented.
                Untagged::Enabled(Vec::new()).encode(wire.output());
                self.done(wire, tag, "Enabled").await;
            }
            Command::Namespace => {
                let sep = super::folders::separator(&self.store.location);
                Untagged::Namespace([vec![("", Some(sep))], Vec::new(), Vec::new()])
                    .encode(wire.output());
                self.done(wire, tag, "Namespace completed").await;
            }
            Command::Idle => return self.idle(wire, tag).await,
            Command::StartTls | Command::Login { .. } | Command::Authenticate { .. } => {
                self.bad += 1;
                let text = format!(
                    "Error in IMAP command {}: Unknown command",
                    t.command.name()
                );
                self.reply(wire, tag, "BAD", None, &text);
            }
            other => self.mail_command(wire, tag, other, appended).await,
        }
        Ok(Flow::Continue)
    }

    /// IDLE: `+ idling`, changes announced as they are seen, until `DONE`.
    async fn idle(&mut self, wire: &mut Wire, tag: &str) -> Result<Flow, End> {
        wire.queue(b"+ idling\r\n");
        let mut notify = Instant::now() + IDLE_NOTIFY;
        loop {
            if Instant::now() >= notify {
                // Keeps NATs and clients from taking the quiet connection for dead.
                wire.queue(b"* OK Still here\r\n");
                notify = Instant::now() + IDLE_NOTIFY;
            }
            let watch = Watch::new(&self.session, Some(Instant::now() + IDLE_POLL));
            match wire
                .next_line(crate::protocol::imap::DEFAULT_MAX_LINE_LENGTH, &watch)
                .await
            {
                Ok(Ok(l)) if l.eq_ignore_ascii_case(b"DONE") => {
                    self.done(wire, tag, "Idle completed").await;
                    return Ok(Flow::Continue);
                }
                Ok(_) => {
                    self.reply(wire, tag, "BAD", None, "Expected DONE.");
                    return Ok(Flow::Continue);
                }
                Err(End::Timeout) => self.updates(wire, true).await,
                Err(end) => return Err(end),
            }
        }
    }

    /// Looks at the selected mailbox and queues what changed (EXPUNGE only when `expunges`).
    pub(super) async fn updates(&mut self, wire: &mut Wire, expunges: bool) {
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        let mbox = sel.mbox.clone();
        match blocking(move || mbox.sync()).await {
            Ok(snap) => sel.apply_snapshot(snap, expunges, wire.output()),
            Err(e) => tracing::warn!(user = %self.user, error = %e, "mailbox sync failed"),
        }
    }

    /// Updates (with EXPUNGE allowed), then `tag OK text`.
    pub(super) async fn done(&mut self, wire: &mut Wire, tag: &str, text: &str) {
        self.updates(wire, true).await;
        self.reply(wire, tag, "OK", None, text);
    }

    /// `tag STATUS [code] text (t + 0.000 secs).`
    pub(super) fn reply(
        &self,
        wire: &mut Wire,
        tag: &str,
        status: &str,
        code: Option<&str>,
        text: &str,
    ) {
        let code = code.map(|c| format!("[{c}] ")).unwrap_or_default();
        wire.queue(format!("{tag} {status} {code}{text}{}\r\n", timing(self.started)).as_bytes());
    }

    /// A refused command: `tag NO …` (or BAD), counting BADs.
    pub(super) fn bad(&mut self, wire: &mut Wire, tag: &str, text: &str) {
        self.bad += 1;
        self.reply(wire, tag, "BAD", None, text);
    }
}

/// Dovecot's ` (0.001 + 0.000 secs).` suffix (command time + lock wait).
fn timing(started: Instant) -> String {
    let e = started.elapsed();
    format!(
        " ({}.{:03} + 0.000 secs).",
        e.as_secs(),
        e.subsec_millis().max(1)
    )
}

/// A codec error line ending in `.`: the timing goes before the dot, as Dovecot puts it.
fn with_timing(line: Vec<u8>, started: Instant) -> Vec<u8> {
    let text = String::from_utf8_lossy(&line);
    match text.strip_suffix(".\r\n") {
        Some(t) if !t.starts_with("* BYE") => format!("{t}{}\r\n", timing(started)).into_bytes(),
        _ => line,
    }
}

async fn goodbye(wire: &mut Wire, end: End) -> &'static str {
    match end {
        End::Timeout => {
            wire.goodbye(b"* BYE Disconnected for inactivity.\r\n")
                .await;
            "Inactivity"
        }
        End::Shutdown => {
            wire.goodbye(b"* BYE Server shutting down.\r\n").await;
            "Server shutting down"
        }
        // `doveadm kick` signals Dovecot 2.3's imap like a shutdown: the same words.
        End::Kicked => {
            wire.goodbye(b"* BYE Server shutting down.\r\n").await;
            "Server shutting down"
        }
        End::Eof | End::Io => "Connection closed",
    }
}
