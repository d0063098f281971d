//! The stats HTTP session: a keep-alive request loop serving `/metrics` and `/`, with every
//! wait bounded: a request head must arrive within [`REQUEST_TIMEOUT`] (also the keep-alive
//! idle time) and fit in `MAX_HEAD`, an answer must be taken by the client within
//! [`WRITE_TIMEOUT`]; requests with a body are answered and the connection closed.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::net::Conn;
use crate::protocol::http::{head, parse_request, response, ParseError};
use crate::runtime::{Hub, Session};

const INDEX: &str = "<html><head><title>roost stats</title></head><body><a href=\"/metrics\">/metrics</a></body></html>\n";

/// How long a connection may take to send a complete request head, counted from the end of
/// the previous answer (so it is also the keep-alive idle timeout).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the client may take to read an answer.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(conn: Conn, session: Session, hub: Arc<Hub>) {
    let mut stream = conn.stream;
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    loop {
        let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT;
        let req = loop {
            match parse_request(&buf) {
                Ok(Some(r)) => break r,
                Ok(None) => {}
                Err(e) => {
                    let (status, reason, text): (u16, &str, &[u8]) = match e {
                        ParseError::TooLarge => (
                            431,
                            "Request Header Fields Too Large",
                            b"request head too large\n",
                        ),
                        ParseError::Invalid(_) => (400, "Bad Request", b"bad request\n"),
                    };
                    let out = response(status, reason, "text/plain", text, true);
                    let _ = tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&out)).await;
                    return;
                }
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::select! {
                r = stream.read(&mut chunk) => r,
                _ = tokio::time::sleep_until(deadline) => {
                    if !buf.is_empty() {
                        let out = response(408, "Request Timeout", "text/plain", b"request timeout\n", true);
                        let _ = tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&out)).await;
                    }
                    return;
                }
                _ = session.ended() => return,
            };
            match n {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        buf.drain(..req.head_len);
        let close = req.close || req.has_body;
        let is_head = req.method == "HEAD";
        let (status, reason, ctype, body): (u16, &str, &str, Vec<u8>) = match (
            req.method.as_str(),
            req.path.split('?').next().unwrap_or(""),
        ) {
            ("GET" | "HEAD", "/metrics") => {
                let (ctype, body) = super::exposition(req.accept.as_deref(), &hub);
                (200, "OK", ctype, body.into_bytes())
            }
            ("GET" | "HEAD", "/") => (200, "OK", "text/html", INDEX.as_bytes().to_vec()),
            ("GET" | "HEAD", _) => (404, "Not Found", "text/plain", b"not found\n".to_vec()),
            _ => (
                405,
                "Method Not Allowed",
                "text/plain",
                b"method not allowed\n".to_vec(),
            ),
        };
        let close = close || status == 405;
        let out = if is_head {
            head(status, reason, ctype, body.len(), close)
        } else {
            response(status, reason, ctype, &body, close)
        };
        let wrote = tokio::select! {
            r = tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&out)) => matches!(r, Ok(Ok(()))),
            _ = session.ended() => false,
        };
        if !wrote || close {
            let _ = tokio::time::timeout(WRITE_TIMEOUT, stream.shutdown()).await;
            return;
        }
    }
}
