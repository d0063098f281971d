//! The stats HTTP session: keep-alive request loop serving `/metrics` and `/`.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::net::Conn;
use crate::protocol::http::{parse_request, response};
use crate::runtime::{Hub, Session};

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const INDEX: &str = "<html><head><title>roost stats</title></head><body><a href=\"/metrics\">/metrics</a></body></html>\n";

pub async fn run(conn: Conn, session: Session, hub: Arc<Hub>) {
    let mut stream = conn.stream;
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    loop {
        let req = loop {
            match parse_request(&buf) {
                Ok(Some(r)) => break r,
                Ok(None) => {}
                Err(_) => {
                    let _ = stream
                        .write_all(&response(
                            400,
                            "Bad Request",
                            "text/plain",
                            b"bad request\n",
                            true,
                        ))
                        .await;
                    return;
                }
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::select! {
                r = stream.read(&mut chunk) => r,
                _ = session.ended() => return,
            };
            match n {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        buf.drain(..req.head_len);
        let out = match (
            req.method.as_str(),
            req.path.split('?').next().unwrap_or(""),
        ) {
            ("GET", "/metrics") | ("HEAD", "/metrics") => {
                let body = crate::service::stats::render(&hub);
                response(200, "OK", CONTENT_TYPE, body.as_bytes(), req.close)
            }
            ("GET", "/") => response(200, "OK", "text/html", INDEX.as_bytes(), req.close),
            ("GET", _) | ("HEAD", _) => {
                response(404, "Not Found", "text/plain", b"not found\n", req.close)
            }
            _ => response(
                405,
                "Method Not Allowed",
                "text/plain",
                b"method not allowed\n",
                true,
            ),
        };
        if stream.write_all(&out).await.is_err()
            || req.close
            || req.method != "GET" && req.method != "HEAD"
        {
            let _ = stream.shutdown().await;
            return;
        }
    }
}
