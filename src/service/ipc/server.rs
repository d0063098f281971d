//! The `ipc-proxy` listener: a process joins a group. Roost greets with
//! `VERSION\tipc-proxy\t1\t0`; the process answers `VERSION\tipc-server\t1\t<minor>` and
//! `HANDSHAKE\t<group>\t<pid>`. Then each command for it arrives as `<tag>\t<command>` and
//! it answers `<tag>\t:<reply>` lines and one `<tag>\t+<data>` or `<tag>\t-<error>`. A wrong
//! version, a bad handshake or a bad line is logged and ends the connection; commands still
//! waiting then fail with `Connection to server died`. At most [`MAX_PENDING`] commands wait
//! for one process.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio::time::timeout;

use super::groups::{Groups, Status};
use super::line::{read_line, WRITE_TIMEOUT};
use crate::log::escape_controls;
use crate::net::Conn;
use crate::runtime::Session;

/// Commands one registered process may have unanswered.
pub const MAX_PENDING: usize = 64;

/// How long the handshake may take.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A reply line: tag and status.
pub fn parse_reply(line: &str) -> Option<(u32, Status)> {
    let (tag, data) = line.split_once('\t')?;
    let tag = tag.parse().ok()?;
    let mut chars = data.chars();
    let kind = chars.next()?;
    let rest = chars.as_str().to_string();
    Some((
        tag,
        match kind {
            ':' => Status::Reply(rest),
            '+' => Status::Ok(rest),
            '-' => Status::Error(rest),
            _ => return None,
        },
    ))
}

pub async fn run(conn: Conn, session: Session, groups: Arc<Groups>) {
    let (r, mut w) = tokio::io::split(conn.stream);
    let mut r = BufReader::new(r);
    let mut buf = Vec::new();
    if timeout(WRITE_TIMEOUT, w.write_all(b"VERSION\tipc-proxy\t1\t0\n"))
        .await
        .map_or(true, |r| r.is_err())
    {
        return;
    }
    let hello = async {
        let version = read_line(&mut r, &mut buf).await?;
        let v: Vec<&str> = version.split('\t').collect();
        if v.len() < 4 || v[0] != "VERSION" || v[1] != "ipc-server" || v[2] != "1" {
            tracing::error!(
                service = "ipc",
                "IPC server not compatible with this server (mixed old and new binaries?)"
            );
            return None;
        }
        let hs = read_line(&mut r, &mut buf).await?;
        let f: Vec<&str> = hs.split('\t').collect();
        if f.len() < 3 || f[0] != "HANDSHAKE" || f[1].is_empty() {
            tracing::error!(service = "ipc", "IPC server sent invalid handshake");
            return None;
        }
        if f[2].parse::<u32>().is_err() {
            tracing::error!(
                service = "ipc",
                "IPC server gave broken PID: {}",
                escape_controls(f[2])
            );
            return None;
        }
        Some(f[1].to_string())
    };
    let group = tokio::select! {
        g = timeout(HANDSHAKE_TIMEOUT, hello) => match g {
            Ok(Some(g)) => g,
            _ => return,
        },
        _ = session.ended() => return,
    };
    let (id, mut cmds) = groups.join(&group);
    tracing::debug!(service = "ipc", group = %group, id, "IPC server registered");
    let mut pending: HashMap<u32, mpsc::Sender<Status>> = HashMap::new();
    let mut tag: u32 = 0;
    loop {
        tokio::select! {
            line = read_line(&mut r, &mut buf) => {
                let Some(line) = line else { break };
                let Some((t, st)) = parse_reply(&line) else {
                    tracing::error!(
                        service = "ipc",
                        "Invalid input from IPC server '{}': {}",
                        escape_controls(&group),
                        escape_controls(&line)
                    );
                    break;
                };
                let Some(reply) = pending.get(&t) else {
                    tracing::error!(service = "ipc", "IPC server: Input for unexpected command tag {t}");
                    continue;
                };
                let last = !matches!(st, Status::Reply(_));
                // A client too slow to take the lines loses the rest of this answer.
                let sent = timeout(WRITE_TIMEOUT, reply.send(st)).await;
                if last || !matches!(sent, Ok(Ok(()))) {
                    pending.remove(&t);
                }
            }
            cmd = cmds.recv() => {
                let Some(cmd) = cmd else { break };
                if pending.len() >= MAX_PENDING {
                    let _ = cmd.reply.try_send(Status::Error("IPC server is busy".into()));
                    continue;
                }
                tag = tag.wrapping_add(1).max(1);
                let line = format!("{tag}\t{}\n", cmd.line);
                if !matches!(timeout(WRITE_TIMEOUT, w.write_all(line.as_bytes())).await, Ok(Ok(()))) {
                    let _ = cmd.reply.try_send(Status::Error("Connection to server died".into()));
                    break;
                }
                pending.insert(tag, cmd.reply);
            }
            _ = session.ended() => break,
        }
    }
    groups.leave(&group, id);
    for (_, reply) in pending {
        let _ = reply.try_send(Status::Error("Connection to server died".into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_parse_by_tag_and_status() {
        assert_eq!(
            parse_reply("3\t:bob\timap"),
            Some((3, Status::Reply("bob\timap".into())))
        );
        assert_eq!(parse_reply("3\t+2"), Some((3, Status::Ok("2".into()))));
        assert_eq!(parse_reply("4\t-no"), Some((4, Status::Error("no".into()))));
        assert_eq!(parse_reply("x\t+"), None);
        assert_eq!(parse_reply("4\tno"), None);
        assert_eq!(parse_reply("4"), None);
    }
}
