//! One IMAP session after login (authenticated, selected, logout states): the loop on the
//! sans-IO receiver (`protocol::imap::Receiver`: bounded literals, `+ OK` for synchronising
//! ones, APPEND messages streamed in, Dovecot's error lines), the tagged replies with Dovecot's
//! `(0.001 + 0.000 secs)` timing, the any-state and authenticated-state commands that need no
//! mailbox (CAPABILITY, NOOP, LOGOUT, ID, ENABLE, NAMESPACE, IDLE), the untagged updates sent
//! before each tagged reply, and the goodbyes (autologout after 30 minutes, shutdown, kick).
//! Mailbox-list commands are in `mailboxes.rs`, message commands in `messages.rs`.

use std::cell::Cell;
use std::time::Duration;

use tokio::time::Instant;

use super::logout::{self, LastCommand, Running, Stats};
use super::selected::Selected;
use super::spool::Spool;
use crate::mail::access::MailAccess;
use crate::mail::maildir::Maildir;
use crate::mail::{blocking, UserStore};
use crate::net::Conn;
use crate::protocol::imap::receiver::ReceiveError;
use crate::protocol::imap::response::Untagged;
use crate::protocol::imap::{parse, Command, Event, Frame, Receiver};
use crate::runtime::Session;
use crate::service::anvil::{Anvil, Connect};
use crate::service::imap_login::session::UNTAGGED_CAPABILITY;
use crate::service::wire::{End, Watch, Wire};

/// Capabilities after login: what this service implements (`imap_capability` may replace or
/// extend it: [`capabilities`]; SPECIAL-USE is added when a mailbox has a `special_use`).
pub const CAPABILITIES: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE UNSELECT \
CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED ESEARCH SEARCHRES WITHIN LIST-STATUS MOVE MULTIAPPEND \
LITERAL+";

/// Dovecot's IMAP autologout (RFC 3501's 30-minute minimum).
pub const AUTOLOGOUT: Duration = Duration::from_secs(30 * 60);
/// Dovecot's CLIENT_MAX_BAD_COMMANDS for imap.
pub const MAX_BAD_COMMANDS: u32 = 20;

/// What happens after a command.
pub(super) enum Flow {
    Continue,
    Logout,
}

/// [`CAPABILITIES`], with SPECIAL-USE when a mailbox has a `special_use` (as Dovecot).
fn base_capabilities(settings: &crate::settings::Settings) -> String {
    if crate::mail::namespace::has_special_use(&settings.mail.namespace) {
        format!("{CAPABILITIES} SPECIAL-USE")
    } else {
        CAPABILITIES.to_string()
    }
}

/// The capability list after login under `settings` (`imap_capability` applied).
pub fn capabilities(settings: &crate::settings::Settings) -> String {
    settings.imap.capability(&base_capabilities(settings))
}

pub use super::handoff::{Outcome, Start};

pub struct Imap {
    pub(super) session: Session,
    pub(super) store: UserStore,
    pub(super) user: String,
    pub(super) session_id: String,
    pub(super) selected: Option<Selected>,
    /// INBOX, whose tmp/ spools APPEND messages: opened (and created) by the first APPEND,
    /// not at login (as in Dovecot, a login alone leaves the mail directory untouched).
    pub(super) inbox: Option<Maildir>,
    /// When the current command started (for the timing Dovecot appends).
    pub(super) started: Instant,
    bad: u32,
    /// The counters of the `Disconnected:` line.
    pub(super) stats: Stats,
    /// The status of the last tagged reply (`ok`, `no`, `bad`), for the metrics.
    pub(super) status: Cell<&'static str>,
    /// The current command may announce new mail (`imap_client_workarounds = delay-newmail`
    /// holds it back from the others, as Dovecot's IMAP_SYNC_FLAG_SAFE does).
    safe_sync: bool,
    /// For `Connection closed (X finished N secs ago)`.
    last: Option<LastCommand>,
    /// A command waiting for input when the connection closes (IDLE).
    running: Option<Running>,
    /// Byte counts already reported to the metrics.
    reported: (u64, u64),
    /// A FETCH failed and `imap_fetch_failure` ends the session: the log reason.
    pub(super) fetch_failed: Option<String>,
    /// UIDs whose FETCH failed under `no-after` (a retry disconnects).
    pub(super) failed_uids: std::collections::HashSet<u32>,
    /// The client's ID was logged (only the first one is, as in Dovecot).
    id_logged: bool,
    /// `in=` of a session that ended with LOGOUT.
    input_at_logout: Option<u64>,
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
    let _gauge = super::metrics::SessionGauge::new();
    let start = Start {
        user: handoff.user.clone(),
        fields: handoff.fields.clone(),
        session_id: handoff.session_id.clone(),
        tag: String::from_utf8_lossy(&handoff.protocol_data).into_owned(),
    };
    let who = logout::Who {
        user: &start.user,
        session_id: &start.session_id,
        rip: wire
            .conn
            .remote
            .map(|a| a.ip().to_string())
            .unwrap_or_default(),
        lip: wire
            .conn
            .local
            .map(|a| a.ip().to_string())
            .unwrap_or_default(),
    };
    let prefix = format!(
        "imap({})<{}><{}>",
        start.user, session.vproc, start.session_id
    );
    // Mail of another uid is served by a mail helper running as that uid (privsep).
    let local = MailAccess::from_hub(&session.hub).is_local(&session.settings.mail, &start.fields);
    let outcome = match local {
        Ok(true) => serve(wire, &session, &start).await,
        Ok(false) => super::uid::serve(wire, &session, &start).await,
        Err(e) => {
            tracing::error!(service = %prefix, error = %e, "mail storage init failed");
            wire.goodbye(INTERNAL_BYE).await;
            return;
        }
    };
    let Some(outcome) = outcome else { return };
    let text = logout::text(
        &session.settings.imap.imap_logout_format,
        &outcome.reason,
        &outcome.stats,
        &who,
    );
    tracing::info!(service = %prefix, "Disconnected: {text}");
}

const INTERNAL_BYE: &[u8] =
    b"* BYE [UNAVAILABLE] Internal error occurred. Refer to server log for more information.\r\n";

/// [`serve`] with owned arguments: what a mail helper runs for each session it is handed
/// (`main.rs` gives it to `privsep::imap_helper::set_session_runner`, so privsep does not
/// import the IMAP service).
pub fn serve_owned(
    wire: Wire,
    session: Session,
    start: Start,
) -> crate::runtime::BoxFuture<Option<Outcome>> {
    Box::pin(async move { serve(wire, &session, &start).await })
}

/// Serves one logged-in session on `wire` (in the server, or in a mail helper running as the
/// user's uid); `None` when the mail store could not be opened (the client got a BYE and the
/// error is logged).
pub async fn serve(mut wire: Wire, session: &Session, start: &Start) -> Option<Outcome> {
    let prefix = format!(
        "imap({})<{}><{}>",
        start.user, session.vproc, start.session_id
    );
    let host = session.settings.mail.effective_hostname();
    let store = match UserStore::new(&session.settings.mail, &start.user, &start.fields, &host) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(service = %prefix, error = %e, "mail storage init failed");
            wire.goodbye(INTERNAL_BYE).await;
            return None;
        }
    };
    let caps = capabilities(&session.settings);
    let untagged = UNTAGGED_CAPABILITY as char;
    if start.tag.is_empty() {
        wire.queue(
            format!(
                "* PREAUTH [CAPABILITY {caps}] Logged in as {}\r\n",
                start.user
            )
            .as_bytes(),
        );
    } else if let Some(tag) = start.tag.strip_prefix(untagged) {
        // The client asked for CAPABILITY before login: it may ignore the response code.
        wire.queue(format!("* CAPABILITY {caps}\r\n{tag} OK Logged in\r\n").as_bytes());
    } else {
        wire.queue(format!("{} OK [CAPABILITY {caps}] Logged in\r\n", start.tag).as_bytes());
    }
    let mut imap = Imap {
        session: session.clone(),
        store,
        user: start.user.clone(),
        session_id: start.session_id.clone(),
        selected: None,
        inbox: None,
        started: Instant::now(),
        bad: 0,
        stats: Stats::default(),
        status: Cell::new("ok"),
        safe_sync: true,
        last: None,
        running: None,
        reported: (0, 0),
        fetch_failed: None,
        failed_uids: Default::default(),
        id_logged: false,
        input_at_logout: None,
    };
    let reason = imap.serve(&mut wire).await;
    imap.report_bytes(&wire);
    let mut stats = std::mem::take(&mut imap.stats);
    stats.input = imap.input_at_logout.unwrap_or(wire.bytes_received);
    stats.output = wire.bytes_sent;
    Some(Outcome { reason, stats })
}

impl Imap {
    async fn serve(&mut self, wire: &mut Wire) -> String {
        let max_line = self.session.settings.imap.imap_max_line_length.0;
        let mut rx = Receiver::new(usize::try_from(max_line).unwrap_or(usize::MAX));
        let mut appended: Vec<Result<Spool, String>> = Vec::new();
        let mut autologout = Instant::now() + AUTOLOGOUT;
        let mut last_input = Instant::now();
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
                    let filled = if rx.is_idle() {
                        wire.fill(&watch).await
                    } else {
                        // Inside a command (a literal, the rest of its line).
                        wire.fill_rest(&watch).await
                    };
                    self.report_bytes(wire);
                    match filled {
                        Ok(()) => {}
                        Err(end) => return self.goodbye(wire, end, last_input).await,
                    }
                    if !rx.is_idle() || !wire.buffered().is_empty() {
                        autologout = Instant::now() + AUTOLOGOUT;
                        last_input = Instant::now();
                    }
                }
                Received::Literal(sync) | Received::MessageStart(sync) => {
                    if matches!(ev, Received::MessageStart(_)) {
                        // Only the message coming in is held in memory: a MULTIAPPEND's
                        // earlier ones go to INBOX's tmp/.
                        if let Some(Ok(prev)) = appended.last_mut() {
                            prev.spill().await;
                        }
                        appended.push(self.spool().await);
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
                        return e.reason().to_string();
                    }
                }
                Received::Command(frame) => {
                    self.started = Instant::now();
                    let msgs = std::mem::take(&mut appended);
                    let flow = self.command(&frame, msgs, wire).await;
                    self.last = Some(LastCommand {
                        name: logout::raw_name(&frame.bytes),
                        finished: Instant::now(),
                    });
                    match flow {
                        Ok(Flow::Continue) => {}
                        Ok(Flow::Logout) => {
                            // Dovecot's `in=` stops before LOGOUT's line end (its parser has
                            // not skipped it when the session ends).
                            let eol = if frame.bytes.ends_with(b"\r\n") { 2 } else { 1 };
                            let consumed = wire.bytes_received - wire.buffered().len() as u64;
                            self.input_at_logout = Some(consumed.saturating_sub(eol));
                            return "Logged out".into();
                        }
                        Err(end) => return self.goodbye(wire, end, last_input).await,
                    }
                    if let Some(reason) = self.fetch_failed.take() {
                        wire.goodbye(b"").await;
                        return reason;
                    }
                    if self.bad > MAX_BAD_COMMANDS {
                        wire.goodbye(b"* BYE Too many invalid IMAP commands.\r\n")
                            .await;
                        return "Too many invalid IMAP commands.".into();
                    }
                }
            }
        }
    }

    /// Reports the bytes moved since the last report to the metrics.
    fn report_bytes(&mut self, wire: &Wire) {
        super::metrics::sent(wire.bytes_sent - self.reported.0);
        super::metrics::received(wire.bytes_received - self.reported.1);
        self.reported = (wire.bytes_sent, wire.bytes_received);
    }

    /// Runs one command. `Err` when the connection ended meanwhile (IDLE).
    async fn command(
        &mut self,
        frame: &Frame,
        appended: Vec<Result<Spool, String>>,
        wire: &mut Wire,
    ) -> Result<Flow, End> {
        self.status.set("ok");
        let t = match parse(frame) {
            Ok(t) => t,
            Err(e) => {
                self.bad += 1;
                wire.queue(&with_timing(e.response(), self.started));
                super::metrics::command("unknown", "bad", self.started.elapsed());
                return Ok(Flow::Continue);
            }
        };
        let name = t.command.name();
        self.safe_sync = matches!(
            t.command,
            Command::Noop
                | Command::Check
                | Command::Expunge
                | Command::UidExpunge { .. }
                | Command::Append { .. }
                | Command::Copy { .. }
                | Command::Move { .. }
                | Command::Idle
        );
        let flow = self
            .run_command(t, frame.bytes.len() as u64, appended, wire)
            .await;
        super::metrics::command(name, self.status.get(), self.started.elapsed());
        flow
    }

    async fn run_command(
        &mut self,
        t: crate::protocol::imap::Tagged,
        line_len: u64,
        appended: Vec<Result<Spool, String>>,
        wire: &mut Wire,
    ) -> Result<Flow, End> {
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
                let caps = capabilities(&self.session.settings);
                wire.queue(format!("* CAPABILITY {caps}\r\n").as_bytes());
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
            Command::Id { fields } => {
                let imap = &self.session.settings.imap;
                let text = super::settings::id_log_text(
                    &imap.imap_id_log,
                    fields.as_deref().unwrap_or(&[]),
                );
                if let Some(text) = text.filter(|_| !self.id_logged) {
                    tracing::info!(service = %self.log_prefix(), "ID sent: {text}");
                }
                self.id_logged = true;
                wire.queue(format!("* ID {}\r\n", imap.id_reply()).as_bytes());
                self.done(wire, tag, "ID completed").await;
            }
            Command::Enable { .. } => {
                // No ENABLE-able extension (CONDSTORE, QRESYNC, UTF8=ACCEPT) is implemented.
                Untagged::Enabled(Vec::new()).encode(wire.output());
                self.done(wire, tag, "Enabled").await;
            }
            Command::Namespace => {
                self.send_namespace(wire);
                self.done(wire, tag, "Namespace completed").await;
            }
            Command::Idle => {
                self.running = Some(Running {
                    name: "IDLE".into(),
                    started: Instant::now(),
                    // Read while it runs: its line end (the rest was parsed before it began).
                    bytes_in: if line_len > 0 { 2 } else { 0 },
                    sent_before: wire.bytes_sent,
                });
                let r = self.idle(wire, tag).await;
                if r.is_ok() {
                    self.running = None;
                }
                return r;
            }
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

    /// `imap(user)<vproc><session>`: the prefix of this session's log lines.
    pub(super) fn log_prefix(&self) -> String {
        format!(
            "imap({})<{}><{}>",
            self.user, self.session.vproc, self.session_id
        )
    }

    /// IDLE: `+ idling`, changes announced as they are seen, until `DONE`.
    async fn idle(&mut self, wire: &mut Wire, tag: &str) -> Result<Flow, End> {
        wire.queue(b"+ idling\r\n");
        let imap = &self.session.settings.imap;
        let interval = imap.imap_idle_notify_interval.as_duration();
        let max_line = usize::try_from(imap.imap_max_line_length.0).unwrap_or(usize::MAX);
        let mut notify = Instant::now() + interval;
        // Changes wake IDLE through inotify (a slow poll stays as a safety net).
        let mut changes = match &self.selected {
            Some(s) => super::notify::Notifier::watch(s.mbox.dir()),
            None => super::notify::Notifier::none(),
        };
        loop {
            if Instant::now() >= notify {
                // Keeps NATs and clients from taking the quiet connection for dead.
                wire.queue(b"* OK Still here\r\n");
                notify = Instant::now() + interval;
            }
            let wake = (Instant::now() + changes.poll_interval()).min(notify);
            let watch = Watch::new(&self.session, Some(wake));
            let line = tokio::select! {
                l = wire.next_line(max_line, &watch) => l,
                _ = changes.changed() => Err(End::Timeout),
            };
            self.report_bytes(wire);
            match line {
                Ok(Ok(l)) if l.eq_ignore_ascii_case(b"DONE") => {
                    self.done(wire, tag, "Idle completed").await;
                    return Ok(Flow::Continue);
                }
                Ok(l) => {
                    if l.is_err() {
                        // Dovecot answers once the whole over-long line is in; the command
                        // reader must not see its tail.
                        let watch = Watch::new(&self.session, Some(Instant::now() + AUTOLOGOUT));
                        wire.skip_rest(&watch).await?;
                    }
                    self.status.set("bad");
                    self.reply(wire, tag, "BAD", None, "Expected DONE");
                    return Ok(Flow::Continue);
                }
                Err(End::Timeout) => self.updates(wire, true).await,
                Err(end) => return Err(end),
            }
        }
    }

    /// Looks at the selected mailbox and queues what changed (EXPUNGE only when `expunges`).
    /// With the `delay-newmail` workaround only NOOP, CHECK, EXPUNGE, APPEND, COPY, MOVE and
    /// IDLE look.
    pub(super) async fn updates(&mut self, wire: &mut Wire, expunges: bool) {
        if !self.safe_sync && self.session.settings.imap.workarounds().delay_newmail {
            return;
        }
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        if let Err(e) = sel.update(expunges, wire.output()).await {
            tracing::warn!(user = %self.user, error = %e, "mailbox sync failed");
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
        self.status.set(match status {
            "OK" => "ok",
            "NO" => "no",
            _ => "bad",
        });
        let code = code.map(|c| format!("[{c}] ")).unwrap_or_default();
        wire.queue(format!("{tag} {status} {code}{text}{}\r\n", timing(self.started)).as_bytes());
    }

    /// A refused command: `tag NO …` (or BAD), counting BADs.
    pub(super) fn bad(&mut self, wire: &mut Wire, tag: &str, text: &str) {
        self.bad += 1;
        self.reply(wire, tag, "BAD", None, text);
    }

    /// A spool for an APPEND message coming in, in INBOX's tmp/ (INBOX is opened, and
    /// created, the first time).
    async fn spool(&mut self) -> Result<Spool, String> {
        let inbox = match &self.inbox {
            Some(i) => i.clone(),
            None => {
                let st = self.store.clone();
                let i = blocking(move || st.mailbox("INBOX", true))
                    .await
                    .map_err(|e| e.to_string())?;
                self.inbox = Some(i.clone());
                i
            }
        };
        Ok(Spool::new(inbox))
    }

    /// The goodbye for `end` and the reason Dovecot logs for it.
    async fn goodbye(&mut self, wire: &mut Wire, end: End, last_input: Instant) -> String {
        match end {
            End::Timeout => {
                wire.goodbye(b"* BYE Disconnected for inactivity.\r\n")
                    .await;
                format!(
                    "Inactivity - no input for {} secs",
                    last_input.elapsed().as_secs()
                )
            }
            // `doveadm kick` makes Dovecot's imap process shut down: the same words.
            End::Shutdown | End::Kicked => {
                wire.goodbye(b"* BYE Server shutting down.\r\n").await;
                "Server shutting down.".into()
            }
            End::Eof | End::Io => {
                logout::closed_reason(self.last.as_ref(), self.running.as_ref(), wire.bytes_sent)
            }
        }
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
