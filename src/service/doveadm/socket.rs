//! The `doveadm-server` unix socket roost's CLI talks to: one JSON request per line, in the body
//! shape of Dovecot's HTTP API (`[["who", {}, "c1"]]`), answered by one JSON line of the API's
//! answer shape, whose `error` entries also carry the error's text as `"message"`. A body that
//! is not a valid request is answered `[["error", {"type": "invalidRequest", "exitCode": 64,
//! "message": …}, ""]]`. Lines are at most [`MAX_LINE`] bytes (longer: that error, then the
//! connection is closed), and a connection idle for [`IDLE_TIMEOUT`] is closed.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::api;
use super::command::Context;
use crate::net::Conn;
use crate::runtime::Session;

/// Longest request line.
pub const MAX_LINE: usize = 1024 * 1024;
/// A connection that sends no request for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

fn invalid(message: &str) -> String {
    json!([["error", {"type": "invalidRequest", "exitCode": 64, "message": message}, ""]])
        .to_string()
}

pub async fn run(conn: Conn, session: Session, ctx: Arc<Context>) {
    let (r, mut w) = tokio::io::split(conn.stream);
    let mut reader = BufReader::new(r);
    loop {
        let mut buf = Vec::new();
        let mut limited = (&mut reader).take(MAX_LINE as u64 + 1);
        let read = limited.read_until(b'\n', &mut buf);
        let got = tokio::select! {
            r = tokio::time::timeout(IDLE_TIMEOUT, read) => r,
            _ = session.ended() => return,
        };
        let line = match got {
            Err(_) | Ok(Err(_)) | Ok(Ok(0)) => return,
            Ok(Ok(_)) if buf.last() != Some(&b'\n') => {
                if buf.len() > MAX_LINE {
                    let _ = w
                        .write_all(format!("{}\n", invalid("line too long")).as_bytes())
                        .await;
                }
                return;
            }
            Ok(Ok(_)) => buf,
        };
        let reply = match api::parse(&line) {
            Err(e) => invalid(&e.to_string()),
            Ok(calls) => api::answer(api::run(&ctx, calls).await, true).to_string(),
        };
        if w.write_all(format!("{reply}\n").as_bytes()).await.is_err() {
            return;
        }
    }
}
