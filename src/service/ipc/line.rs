//! Line reading and writing limits shared by both ipc listeners.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

/// Longest line either side may send.
pub const MAX_LINE: usize = 64 * 1024;
/// How long a write to a peer may take.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads one LF-terminated line (without the LF); `None` at EOF, on an error or past
/// [`MAX_LINE`]. Cancel-safe only between lines: callers select on it whole.
pub async fn read_line<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    buf: &mut Vec<u8>,
) -> Option<String> {
    buf.clear();
    let mut limited = r.take(MAX_LINE as u64 + 1);
    match limited.read_until(b'\n', buf).await {
        Ok(n) if n > 0 && buf.ends_with(b"\n") => {
            buf.pop();
            if buf.ends_with(b"\r") {
                buf.pop();
            }
            Some(String::from_utf8_lossy(buf).into_owned())
        }
        _ => None,
    }
}
