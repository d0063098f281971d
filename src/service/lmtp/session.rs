//! One LMTP session: greeting, LHLO, the MAIL/RCPT/DATA|BDAT transaction with one reply per
//! recipient (duplicates answered, stored once), the body streamed to disk, XCLIENT and
//! `XRCPTFORWARD=` from `login_trusted_networks`, RSET/NOOP/VRFY/QUIT, STARTTLS where TLS is
//! configured, a 5-minute idle timeout, and `421 4.3.2 Server shutting down` when the server
//! stops.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;

use super::client::{rip, Ctx};
use super::deliver;
use super::transaction::Transaction;
use super::{body, spool::Sink};
use crate::net::Conn;
use crate::protocol::lmtp::data::Progress;
use crate::protocol::lmtp::params::{self, Caps};
use crate::protocol::lmtp::xclient;
use crate::protocol::lmtp::{parse_command, BdatReader, DataReader, Reply, Request, MAX_LINE};
use crate::runtime::Session;
use crate::service::auth::api::{AuthHandle, ClientInfo};
use crate::service::wire::{End, Line, LineTooLong, Watch, Wire};

/// Dovecot's LMTP client idle timeout.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

pub async fn run(conn: Conn, session: Session) {
    let host: Arc<str> = Arc::from(session.settings.mail.effective_hostname());
    let id = crate::random::random_bytes(16);
    let real = conn.real_remote.or(conn.remote);
    let mut ctx = Ctx {
        auth: session.hub.get::<AuthHandle>(),
        session_id: base64::engine::general_purpose::STANDARD_NO_PAD.encode(id),
        helo: String::new(),
        remote: conn.remote,
        trusted: real.is_some_and(|a| session.settings.mail.is_trusted(a.ip())),
        trans_seq: 0,
        host,
        session,
    };
    tracing::info!(rip = %rip(&ctx), "Connect from {}", rip(&ctx));
    let mut wire = Wire::new(conn);
    wire.queue(
        format!(
            "220 {} {}\r\n",
            ctx.host, ctx.session.settings.mail.login_greeting
        )
        .as_bytes(),
    );
    let (end, wire) = commands(&mut ctx, wire).await;
    if let Some(mut w) = wire {
        let farewell = match end {
            End::Shutdown => Some(Reply::new(421, "4.3.2", "Server shutting down")),
            End::Timeout => Some(Reply::new(
                421,
                "4.4.2",
                &format!("{} Disconnected for inactivity", ctx.host),
            )),
            _ => None,
        };
        if let Some(r) = farewell {
            w.goodbye(&r.to_bytes()).await;
        }
    }
    tracing::info!(
        rip = %rip(&ctx),
        session = %ctx.session_id,
        ?end,
        "Disconnect from {}",
        rip(&ctx)
    );
}

/// The command loop. Returns why it ended and the wire, if it is still usable for a goodbye
/// (the wire is replaced on STARTTLS, so it is passed by value).
async fn commands(ctx: &mut Ctx, mut wire: Wire) -> (End, Option<Wire>) {
    let mut tx = Transaction::default();
    loop {
        let line = match next_line(&mut wire, &ctx.session).await {
            Ok(l) => l,
            Err(e) => return (e, Some(wire)),
        };
        let line = match line {
            Ok(l) => l,
            Err(LineTooLong) => {
                wire.queue(&Reply::new(500, "5.5.2", "Line too long").to_bytes());
                continue;
            }
        };
        if let Some(args) = xclient::args(&line) {
            let reply = xclient_command(ctx, &tx, args);
            if reply.is_positive() {
                tx = Transaction::default();
            }
            wire.queue(&reply.to_bytes());
            continue;
        }
        if let Some(reply) = params::check_arity(&line) {
            wire.queue(&reply.to_bytes());
            continue;
        }
        // As lib-smtp, the transaction state is checked before the arguments.
        let state = match params::mail_or_rcpt(&line) {
            Some(true) if tx.mail_from.is_some() => Some("MAIL already given"),
            Some(false) if tx.mail_from.is_none() => Some("MAIL needed first"),
            _ => None,
        };
        if let Some(text) = state {
            wire.queue(&Reply::new(503, "5.5.0", text).to_bytes());
            continue;
        }
        let checked = match params::check(&line, caps(ctx)) {
            Ok(c) => c,
            Err(reply) => {
                wire.queue(&reply.to_bytes());
                continue;
            }
        };
        let req = match parse_command(checked.as_ref().map_or(&line[..], |c| &c.line[..])) {
            Ok(r) => r,
            Err(reply) => {
                wire.queue(&reply.to_bytes());
                continue;
            }
        };
        let reply = match req {
            Request::Lhlo { host } => {
                ctx.helo = host;
                tx = Transaction::default();
                lhlo_reply(ctx, &wire)
            }
            Request::Mail { from } => {
                if tx.mail_from.is_some() {
                    Reply::new(503, "5.5.0", "MAIL already given")
                } else {
                    ctx.trans_seq += 1;
                    tx = Transaction::start(&ctx.session_id, ctx.trans_seq, from.address);
                    Reply::new(250, "2.1.0", "OK")
                }
            }
            Request::Rcpt { to } => {
                if tx.mail_from.is_none() {
                    Reply::new(503, "5.5.0", "MAIL needed first")
                } else {
                    let checked = checked.unwrap_or_default();
                    // `<postmaster>` parses to an empty address; keep what the client wrote.
                    let address = if to.address.is_empty() {
                        checked.path.clone()
                    } else {
                        to.address
                    };
                    let id = tx.next_rcpt_id();
                    let info = client_info(&wire.conn, ctx.remote, &id);
                    match deliver::resolve(ctx.auth.clone(), &ctx.session.settings, &address, info)
                        .await
                    {
                        Ok(mut r) => {
                            r.forward = checked.forward;
                            tx.add(r, id, checked.params);
                            Reply::new(250, "2.1.5", "OK")
                        }
                        Err(reply) => reply,
                    }
                }
            }
            Request::Data => {
                if let Some(r) = sequence_error(&tx) {
                    r
                } else if tx.sink.is_some() {
                    Reply::new(503, "5.5.0", "Bad sequence of commands")
                } else {
                    wire.queue(b"354 OK\r\n");
                    let mut sink = body::open_sink(ctx, &tx, wire.conn.stream.is_tls()).await;
                    if let Err(e) = read_data(&mut wire, &ctx.session, &mut sink).await {
                        return (e, Some(wire));
                    }
                    for r in body::deliver_all(ctx, &tx, sink).await {
                        wire.queue(&r.to_bytes());
                    }
                    tx = Transaction::default();
                    continue;
                }
            }
            Request::Bdat {
                chunk_size,
                is_last,
            } => {
                let error = sequence_error(&tx);
                if error.is_none() && tx.sink.is_none() {
                    tx.sink = Some(body::open_sink(ctx, &tx, wire.conn.stream.is_tls()).await);
                }
                let mut reader = BdatReader::new(chunk_size, is_last);
                let sink = if error.is_none() {
                    tx.sink.as_mut()
                } else {
                    None
                };
                if let Err(e) = read_chunk(&mut wire, &ctx.session, &mut reader, sink).await {
                    return (e, Some(wire));
                }
                if let Some(r) = error {
                    r
                } else if !is_last {
                    Reply::new(250, "2.0.0", &format!("Added {chunk_size} octets"))
                } else {
                    let sink = tx.sink.take().expect("opened above");
                    for r in body::deliver_all(ctx, &tx, sink).await {
                        wire.queue(&r.to_bytes());
                    }
                    tx = Transaction::default();
                    continue;
                }
            }
            Request::Rset => {
                tx = Transaction::default();
                Reply::new(250, "2.0.0", "OK")
            }
            Request::Noop { .. } => Reply::new(250, "2.0.0", "OK"),
            Request::Vrfy { .. } => Reply::new(252, "2.3.3", "Try RCPT instead"),
            Request::Quit => {
                wire.goodbye(&Reply::new(221, "2.0.0", "Bye").to_bytes())
                    .await;
                return (End::Eof, None);
            }
            Request::StartTls => {
                if wire.conn.starttls.is_none() || wire.conn.stream.is_tls() {
                    Reply::new(502, "5.5.1", "Unsupported command")
                } else {
                    let begin = Reply::new(220, "2.0.0", "Begin TLS negotiation now.");
                    let watch = idle_watch(&ctx.session);
                    if let Err(e) = wire.send(&begin.to_bytes(), &watch).await {
                        return (e, None);
                    }
                    wire = match wire.starttls(&watch).await {
                        Ok(Ok(w)) => w,
                        Ok(Err(e)) => {
                            tracing::info!(error = %e, "lmtp STARTTLS failed");
                            return (End::Io, None);
                        }
                        Err(e) => return (e, None),
                    };
                    ctx.helo.clear();
                    tx = Transaction::default();
                    continue;
                }
            }
            Request::Ehlo { .. } | Request::Helo { .. } => {
                Reply::new(500, "5.5.1", "Unknown command")
            }
            _ => Reply::new(502, "5.5.1", "Unsupported command"),
        };
        wire.queue(&reply.to_bytes());
    }
}

fn sequence_error(tx: &Transaction) -> Option<Reply> {
    if tx.mail_from.is_none() {
        Some(Reply::new(503, "5.5.0", "MAIL needed first"))
    } else if tx.rcpts.is_empty() {
        Some(Reply::new(503, "5.5.0", "No valid recipients"))
    } else {
        None
    }
}

fn caps(ctx: &Ctx) -> Caps {
    Caps {
        size_limit: ctx.session.settings.mail.lmtp_max_mail_size.0,
        trusted: ctx.trusted,
    }
}

/// LHLO's capabilities, in Dovecot's (alphabetical) order.
fn lhlo_reply(ctx: &Ctx, wire: &Wire) -> Reply {
    let mut lines = vec![
        ctx.host.to_string(),
        "8BITMIME".into(),
        "CHUNKING".into(),
        "ENHANCEDSTATUSCODES".into(),
        "PIPELINING".into(),
    ];
    let limit = ctx.session.settings.mail.lmtp_max_mail_size.0;
    if limit > 0 {
        lines.push(format!("SIZE {limit}"));
    }
    if wire.conn.starttls.is_some() && !wire.conn.stream.is_tls() {
        lines.push("STARTTLS".into());
    }
    if ctx.trusted {
        lines.push(xclient::CAPABILITY.into());
        lines.push("XRCPTFORWARD".into());
    }
    Reply::plain(250, lines)
}

/// XCLIENT as lib-smtp: not inside a transaction, only from `login_trusted_networks`; on
/// success the session takes the passed address, HELO and session id, and greets again.
fn xclient_command(ctx: &mut Ctx, tx: &Transaction, args: &[u8]) -> Reply {
    if tx.mail_from.is_some() {
        return Reply::new(
            503,
            "5.5.0",
            "XCLIENT not permitted during a mail transaction",
        );
    }
    if !ctx.trusted {
        return Reply::new(550, "5.7.14", "You are not from trusted IP");
    }
    let d = match xclient::parse(args) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let port = d.port.or(ctx.remote.map(|a| a.port())).unwrap_or(0);
    if let Some(ip) = d.addr {
        ctx.remote = Some(SocketAddr::new(ip, port));
    } else if let Some(a) = ctx.remote.as_mut() {
        a.set_port(port);
    }
    if let Some(h) = d.helo {
        ctx.helo = h;
    }
    if let Some(s) = d.session {
        ctx.session_id = s;
    }
    tracing::debug!(
        rip = %rip(ctx),
        session = %ctx.session_id,
        login = d.login.as_deref().unwrap_or(""),
        "lmtp: XCLIENT"
    );
    Reply::plain(
        220,
        vec![format!(
            "{} {}",
            ctx.host, ctx.session.settings.mail.login_greeting
        )],
    )
}

fn client_info(conn: &Conn, remote: Option<SocketAddr>, session_id: &str) -> ClientInfo {
    ClientInfo {
        service: "lmtp".into(),
        remote,
        local: conn.local,
        real_remote: conn.real_remote,
        real_local: conn.real_local,
        secured: conn.secured,
        cert_username: conn.client_cert_cn.clone(),
        session_id: session_id.to_string(),
        passdb_only: false,
    }
}

/// Waits for input: the next line, or why the session ends (the shared reader: flushes queued
/// replies first, discards the tail of an over-long line, ends on shutdown or idle timeout).
async fn next_line(wire: &mut Wire, session: &Session) -> Result<Line, End> {
    wire.next_line(MAX_LINE, &idle_watch(session)).await
}

/// Flushes output, or reads more of a DATA or BDAT body, under the idle timeout and the
/// shutdown signal.
async fn fill(wire: &mut Wire, session: &Session) -> Result<(), End> {
    wire.fill_rest(&idle_watch(session)).await
}

/// Shutdown and the idle timeout, from now.
fn idle_watch(session: &Session) -> Watch<'_> {
    Watch::new(session, Some(tokio::time::Instant::now() + IDLE_TIMEOUT))
}

/// Reads a DATA body into `sink`, a buffer's worth at a time.
async fn read_data(wire: &mut Wire, session: &Session, sink: &mut Sink) -> Result<(), End> {
    let mut r = DataReader::new();
    let mut piece = Vec::new();
    loop {
        let progress = r.feed(wire.buffered(), &mut piece);
        sink.write(&mut piece).await;
        match progress {
            Progress::Done(n) => {
                wire.consume(n);
                return Ok(());
            }
            Progress::More => {
                let n = wire.buffered().len();
                wire.consume(n);
            }
        }
        fill(wire, session).await?;
    }
}

/// Reads one BDAT chunk into `sink` (or discards it).
async fn read_chunk(
    wire: &mut Wire,
    session: &Session,
    reader: &mut BdatReader,
    mut sink: Option<&mut Sink>,
) -> Result<(), End> {
    let mut piece = Vec::new();
    loop {
        let progress = reader.feed(wire.buffered(), &mut piece);
        match sink.as_deref_mut() {
            Some(s) => s.write(&mut piece).await,
            None => piece.clear(),
        }
        match progress {
            Progress::Done(n) => {
                wire.consume(n);
                return Ok(());
            }
            Progress::More => {
                let n = wire.buffered().len();
                wire.consume(n);
            }
        }
        fill(wire, session).await?;
    }
}
