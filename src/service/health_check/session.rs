//! The health-check session loop: one `PONG` per `PING` until the client leaves, sends `QUIT`,
//! or the server shuts down.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::net::Conn;
use crate::protocol::health_check::{on_line, Reply};
use crate::runtime::Session;

/// Longest line read before the client is disconnected.
const MAX_LINE: usize = 1024;

pub async fn run(conn: Conn, session: Session) {
    let mut stream = BufReader::new(conn.stream);
    let mut line = Vec::with_capacity(64);
    loop {
        line.clear();
        let mut limited = (&mut stream).take(MAX_LINE as u64);
        let read = tokio::select! {
            r = limited.read_until(b'\n', &mut line) => r,
            _ = session.ended() => return,
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if !line.ends_with(b"\n") {
            return;
        }
        line.pop();
        match on_line(&line) {
            Reply::Send(bytes) => {
                if stream.get_mut().write_all(bytes).await.is_err() {
                    return;
                }
            }
            Reply::Close => return,
            Reply::Ignore => {}
        }
    }
}
