//! The master control socket `base_dir/master` (mode 0600) and its client, used by
//! `roost ps`, `roost reload` and `roost stop`. The line protocol follows Dovecot's
//! master-client one (spec §7.18): `VERSION\tmaster-client\t1\t0` ↔
//! `VERSION\tmaster-server\t1\t0`, then `SERVICE-STATUS`, `PROCESS-STATUS`, plus roost's
//! `RELOAD` and `STOP`. Rows are tab-separated (fields tab-escaped as Dovecot does); a listing
//! ends with an empty line. [`HubControl`] offers reload and stop to the doveadm service
//! through the hub. (`who` and `kick` are doveadm commands: `service::doveadm`.)

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as TokioBufReader};
use tokio::net::UnixListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::state::{Command, MasterState};
use crate::protocol::auth::tab_unescape;
use crate::runtime::{BoxFuture, MasterControl};

/// Longest request line the control socket reads; a longer one is answered with an error and
/// the connection is closed (so a client cannot make the server buffer without limit).
pub const MAX_LINE: usize = 64 * 1024;
/// A control connection that sends nothing for this long is closed.
pub const IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

const SERVER_VERSION: &str = "VERSION\tmaster-server\t1\t0";
const CLIENT_VERSION: &str = "VERSION\tmaster-client\t1\t0";

/// Aborts the accept task when dropped.
pub struct ControlGuard(JoinHandle<()>);

impl Drop for ControlGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub fn listen(
    path: &Path,
    state: Arc<MasterState>,
    tx: mpsc::Sender<Command>,
) -> io::Result<ControlGuard> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let state = state.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = handle(stream, state, tx).await;
            });
        }
    });
    Ok(ControlGuard(task))
}

async fn handle(
    stream: tokio::net::UnixStream,
    state: Arc<MasterState>,
    tx: mpsc::Sender<Command>,
) -> io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut reader = TokioBufReader::new(r);
    w.write_all(format!("{SERVER_VERSION}\n").as_bytes())
        .await?;
    let Some(first) = next_line(&mut reader, &mut w).await? else {
        return Ok(());
    };
    if !first.starts_with("VERSION\tmaster-client\t1\t") {
        w.write_all(b"-Incompatible version\n").await?;
        return Ok(());
    }
    while let Some(line) = next_line(&mut reader, &mut w).await? {
        let mut words = line.split('\t');
        let out = match words.next().unwrap_or("") {
            "SERVICE-STATUS" => {
                let mut s = String::new();
                for (st, state) in state.service_status() {
                    let state = state.as_str();
                    s.push_str(&format!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                        st.service,
                        st.processes,
                        st.available,
                        st.process_limit,
                        st.client_limit,
                        st.throttle_secs,
                        st.clients,
                        st.processes_total,
                        state
                    ));
                }
                s.push('\n');
                s
            }
            "PROCESS-STATUS" => {
                let filter: Vec<&str> = words.collect();
                let mut s = String::new();
                for p in state.process_status() {
                    if !filter.is_empty() && !filter.contains(&p.service.as_str()) {
                        continue;
                    }
                    s.push_str(&format!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                        p.service,
                        p.vproc,
                        p.clients,
                        p.served,
                        p.idle_secs
                            .map(|s| s.to_string())
                            .unwrap_or_else(|| "-".into()),
                        p.age_secs,
                        if p.retiring { "retiring" } else { "" }
                    ));
                }
                s.push('\n');
                s
            }
            "RELOAD" => {
                let (reply_tx, reply_rx) = tokio::sync::oneshot::channel();
                let _ = tx.send(Command::Reload(reply_tx)).await;
                match reply_rx.await {
                    Ok(Ok(())) => "+\n".to_string(),
                    Ok(Err(e)) => format!("-{}\n", e.replace('\n', " ")),
                    Err(_) => "-master went away\n".to_string(),
                }
            }
            "STOP" => {
                let _ = tx.send(Command::Stop).await;
                "+\n".to_string()
            }
            other => format!("-Unknown command: {other}\n"),
        };
        w.write_all(out.as_bytes()).await?;
    }
    Ok(())
}

/// The master's reload and stop for the hub ([`MasterControlHandle`]), over the same command
/// channel as the control socket.
pub struct HubControl(pub mpsc::Sender<Command>);

impl MasterControl for HubControl {
    fn reload(&self) -> BoxFuture<Result<(), String>> {
        let tx = self.0.clone();
        Box::pin(async move {
            let (reply_tx, reply_rx) = tokio::sync::oneshot::channel();
            tx.send(Command::Reload(reply_tx))
                .await
                .map_err(|_| "master went away".to_string())?;
            reply_rx
                .await
                .unwrap_or_else(|_| Err("master went away".into()))
        })
    }

    fn stop(&self) -> BoxFuture<()> {
        let tx = self.0.clone();
        Box::pin(async move {
            let _ = tx.send(Command::Stop).await;
        })
    }
}

/// Reads one request line of at most [`MAX_LINE`] bytes within [`IDLE_TIMEOUT`]. `None`: the
/// client is gone, idle too long, or sent an over-long line (told so first).
async fn next_line<R, W>(reader: &mut R, w: &mut W) -> io::Result<Option<String>>
where
    R: tokio::io::AsyncBufRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut buf = Vec::new();
    let mut limited = (&mut *reader).take(MAX_LINE as u64 + 1);
    let read = limited.read_until(b'\n', &mut buf);
    match tokio::time::timeout(IDLE_TIMEOUT, read).await {
        Err(_) => {
            let _ = w.write_all(b"-Idle timeout\n").await;
            Ok(None)
        }
        Ok(Err(e)) => Err(e),
        Ok(Ok(0)) => Ok(None),
        Ok(Ok(_)) if buf.last() != Some(&b'\n') => {
            if buf.len() > MAX_LINE {
                let _ = w.write_all(b"-Line too long\n").await;
            }
            Ok(None)
        }
        Ok(Ok(_)) => {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
        }
    }
}

/// A blocking client for the CLI.
pub struct Client {
    reader: BufReader<std::os::unix::net::UnixStream>,
    writer: std::os::unix::net::UnixStream,
}

impl Client {
    pub fn connect(path: &Path) -> io::Result<Client> {
        let s = std::os::unix::net::UnixStream::connect(path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot reach roost's control socket {} ({e}); is roost running with this base_dir?",
                    path.display()
                ),
            )
        })?;
        let mut c = Client {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
        };
        c.writer
            .write_all(format!("{CLIENT_VERSION}\n").as_bytes())?;
        let v = c.read_line()?;
        if v != SERVER_VERSION {
            return Err(io::Error::other(format!("unexpected handshake: {v}")));
        }
        Ok(c)
    }

    fn read_line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "control socket closed",
            ));
        }
        Ok(line.trim_end_matches('\n').to_string())
    }

    /// Sends a command whose reply is a listing ending with an empty line.
    pub fn listing(&mut self, cmd: &str) -> io::Result<Vec<Vec<String>>> {
        self.writer.write_all(format!("{cmd}\n").as_bytes())?;
        let mut rows = Vec::new();
        loop {
            let line = self.read_line()?;
            if line.is_empty() {
                return Ok(rows);
            }
            if let Some(err) = line.strip_prefix('-') {
                return Err(io::Error::other(err.to_string()));
            }
            rows.push(line.split('\t').map(tab_unescape).collect());
        }
    }

    /// Sends a command whose reply is `+` or `-error`.
    pub fn simple(&mut self, cmd: &str) -> io::Result<()> {
        self.writer.write_all(format!("{cmd}\n").as_bytes())?;
        let line = self.read_line()?;
        match line.strip_prefix('-') {
            Some(e) => Err(io::Error::other(e.to_string())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_escape_like_dovecot() {
        let odd = "a\tb\nc\rd\x01e";
        assert_eq!(
            crate::protocol::auth::tab_escape(odd),
            "a\x01tb\x01nc\x01rd\x011e"
        );
        assert_eq!(tab_unescape(&crate::protocol::auth::tab_escape(odd)), odd);
    }
}
