//! A blocking client of the `doveadm-server` socket for the `roost` CLI: sends one request
//! body, returns the answer's entries.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

/// How long the CLI waits for the server's answer (mail commands may take a while).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);

/// Sends `request` (an API body) and returns the answer (one entry per command).
pub fn call(path: &Path, request: &Value) -> io::Result<Vec<Value>> {
    let s = UnixStream::connect(path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot reach roost's doveadm socket {} ({e}); is roost running with this base_dir?",
                path.display()
            ),
        )
    })?;
    s.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    let mut w = s.try_clone()?;
    w.write_all(format!("{request}\n").as_bytes())?;
    let mut line = String::new();
    BufReader::new(s)
        // The server stops running commands once its answers pass MAX_ANSWER_BYTES; JSON
        // escaping can make the line longer than that.
        .take(super::spec::MAX_ANSWER_BYTES as u64 * 2)
        .read_line(&mut line)?;
    match serde_json::from_str(&line) {
        Ok(Value::Array(entries)) => Ok(entries),
        _ => Err(io::Error::other(format!(
            "unexpected answer from the doveadm socket: {}",
            line.trim_end()
        ))),
    }
}
