//! One LMTP session: greeting, LHLO, the MAIL/RCPT/DATA|BDAT transaction with one reply per
//! recipient, RSET/NOOP/VRFY/QUIT, STARTTLS where TLS is configured, a 5-minute idle timeout,
//! and `421 4.3.2 Server shutting down` when the server stops.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;

use super::deliver::{self, Recipient};
use super::headers::{trace_headers, Trace};
use super::metrics;
use crate::mail::access::MailAccess;
use crate::mail::maildir::crlf_to_lf;
use crate::mail::MailError;
use crate::net::Conn;
use crate::protocol::lmtp::data::Progress;
use crate::protocol::lmtp::{parse_command, BdatReader, DataReader, Reply, Request, MAX_LINE};
use crate::runtime::Session;
use crate::service::auth::api::{AuthHandle, ClientInfo};
use crate::service::wire::{End, Line, LineTooLong, Watch, Wire};

/// Dovecot's LMTP client idle timeout.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Default)]
struct Transaction {
    mail_from: Option<String>,
    rcpts: Vec<Recipient>,
    /// BDAT chunks so far.
    chunks: Option<Vec<u8>>,
}

struct Ctx {
    session: Session,
    host: Arc<str>,
    session_id: String,
    auth: Option<Arc<AuthHandle>>,
    helo: String,
}

pub async fn run(conn: Conn, session: Session) {
    let host: Arc<str> = Arc::from(session.settings.mail.effective_hostname());
    let id = crate::random::random_bytes(16);
    let mut ctx = Ctx {
        auth: session.hub.get::<AuthHandle>(),
        session_id: base64::engine::general_purpose::STANDARD_NO_PAD.encode(id),
        helo: String::new(),
        host,
        session,
    };
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
    tracing::debug!(session = %ctx.session_id, ?end, "lmtp session ended");
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
        let req = match parse_command(&line) {
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
                    Reply::new(503, "5.5.1", "MAIL already given")
                } else {
                    tx.mail_from = Some(from.address);
                    Reply::new(250, "2.1.0", "OK")
                }
            }
            Request::Rcpt { to } => {
                if tx.mail_from.is_none() {
                    Reply::new(503, "5.5.0", "MAIL needed first")
                } else {
                    let info = client_info(&wire.conn, &ctx.session_id);
                    match deliver::resolve(
                        ctx.auth.clone(),
                        &ctx.session.settings,
                        &to.address,
                        info,
                    )
                    .await
                    {
                        Ok(r) => {
                            tx.rcpts.push(r);
                            Reply::new(250, "2.1.5", "OK")
                        }
                        Err(reply) => reply,
                    }
                }
            }
            Request::Data => {
                if let Some(r) = sequence_error(&tx) {
                    r
                } else if tx.chunks.is_some() {
                    Reply::new(503, "5.5.0", "DATA cannot follow BDAT")
                } else {
                    wire.queue(b"354 OK\r\n");
                    let data = match read_data(&mut wire, &ctx.session).await {
                        Ok(d) => d,
                        Err(e) => return (e, Some(wire)),
                    };
                    let replies = deliver_all(ctx, &wire, &tx, data.into_body()).await;
                    for r in replies {
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
                let mut chunk = tx.chunks.take().unwrap_or_default();
                let mut reader = BdatReader::new(chunk_size, is_last);
                if let Err(e) = read_chunk(&mut wire, &ctx.session, &mut reader, &mut chunk).await {
                    return (e, Some(wire));
                }
                if let Some(r) = sequence_error(&tx) {
                    r
                } else if !is_last {
                    tx.chunks = Some(chunk);
                    Reply::new(250, "2.0.0", &format!("Added {chunk_size} octets"))
                } else {
                    for r in deliver_all(ctx, &wire, &tx, chunk).await {
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

fn lhlo_reply(ctx: &Ctx, wire: &Wire) -> Reply {
    let mut lines = vec![
        ctx.host.to_string(),
        "8BITMIME".into(),
        "CHUNKING".into(),
        "ENHANCEDSTATUSCODES".into(),
        "PIPELINING".into(),
        "SIZE".into(),
    ];
    if wire.conn.starttls.is_some() && !wire.conn.stream.is_tls() {
        lines.push("STARTTLS".into());
    }
    Reply::plain(250, lines)
}

fn client_info(conn: &Conn, session_id: &str) -> ClientInfo {
    ClientInfo {
        service: "lmtp".into(),
        remote: conn.remote,
        local: conn.local,
        real_remote: conn.real_remote,
        real_local: conn.real_local,
        secured: conn.secured,
        cert_username: conn.client_cert_cn.clone(),
        session_id: session_id.to_string(),
    }
}

/// Stores the message for every recipient; one reply each, in RCPT order.
async fn deliver_all(ctx: &Ctx, wire: &Wire, tx: &Transaction, raw: Vec<u8>) -> Vec<Reply> {
    let started = Instant::now();
    let body = crlf_to_lf(&raw);
    drop(raw);
    let mail_from = tx.mail_from.clone().unwrap_or_default();
    let single = (tx.rcpts.len() == 1).then(|| tx.rcpts[0].address.as_str());
    let headers = trace_headers(
        &Trace {
            helo: &ctx.helo,
            ip: wire.conn.remote.map(|a| a.ip().to_string()),
            hostname: &ctx.host,
            session_id: &ctx.session_id,
            mail_from: &mail_from,
            single_rcpt: single,
            tls: wire.conn.stream.is_tls(),
        },
        SystemTime::now(),
    );
    let mut message = Vec::with_capacity(headers.len() + body.len());
    message.extend_from_slice(headers.as_bytes());
    message.extend_from_slice(&body);
    let message = Arc::new(message);
    let mut replies = Vec::with_capacity(tx.rcpts.len());
    for rcpt in &tx.rcpts {
        let r = deliver::store(
            ctx.session.settings.clone(),
            MailAccess::from_hub(&ctx.session.hub),
            rcpt.clone(),
            message.clone(),
            ctx.host.clone(),
        )
        .await;
        match r {
            Ok(uid) => {
                metrics::delivered("ok", started.elapsed());
                tracing::info!(
                    user = %rcpt.user,
                    session = %ctx.session_id,
                    uid,
                    "saved mail to INBOX"
                );
                replies.push(Reply::new(
                    250,
                    "2.0.0",
                    &format!("<{}> {} Saved", rcpt.address, ctx.session_id),
                ));
            }
            Err(e) => {
                metrics::delivered("tempfail", started.elapsed());
                tracing::error!(user = %rcpt.user, session = %ctx.session_id, error = %e, "delivery failed");
                // As Dovecot: a user whose mail cannot be accessed (uid) is 4.3.0, a failed save 4.2.0.
                let code = match e {
                    MailError::Identity(_) => "4.3.0",
                    _ => "4.2.0",
                };
                replies.push(Reply::new(
                    451,
                    code,
                    &format!("<{}> Temporary internal error", rcpt.address),
                ));
            }
        }
    }
    replies
}

/// Waits for input: the next line, or why the session ends (the shared reader: flushes queued
/// replies first, discards the tail of an over-long line, ends on shutdown or idle timeout).
async fn next_line(wire: &mut Wire, session: &Session) -> Result<Line, End> {
    wire.next_line(MAX_LINE, &idle_watch(session)).await
}

/// Flushes output, or reads more input, under the idle timeout and the shutdown signal.
async fn fill(wire: &mut Wire, session: &Session) -> Result<(), End> {
    wire.fill(&idle_watch(session)).await
}

/// Shutdown and the idle timeout, from now.
fn idle_watch(session: &Session) -> Watch<'_> {
    Watch::new(session, Some(tokio::time::Instant::now() + IDLE_TIMEOUT))
}

async fn read_data(wire: &mut Wire, session: &Session) -> Result<DataReader, End> {
    let mut r = DataReader::new(0);
    loop {
        match r.feed(wire.buffered()) {
            Progress::Done(n) => {
                wire.consume(n);
                return Ok(r);
            }
            Progress::More => {
                let n = wire.buffered().len();
                wire.consume(n);
            }
        }
        fill(wire, session).await?;
    }
}

async fn read_chunk(
    wire: &mut Wire,
    session: &Session,
    reader: &mut BdatReader,
    out: &mut Vec<u8>,
) -> Result<(), End> {
    loop {
        match reader.feed(wire.buffered(), out) {
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
