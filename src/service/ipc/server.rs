//! The `ipc-proxy` listener: a process joins a group. Roost greets with
//! `VERSION\tipc-proxy\t1\t0`; the process answers `VERSION\tipc-server\t1\t<minor>` and
//! `HANDSHAKE\t<group>\t<pid>`. Then each command for it arrives as `<tag>\t<command>` and
//! it answers `<tag>\t:<reply>` lines and one `<tag>\t+<data>` or `<tag>\t-<error>`. A wrong
//! version, a bad handshake, a bad line or a reply to no waiting command is logged and ends
//! the connection; commands still waiting then fail with `Connection to server died`. At most
//! [`MAX_PENDING`] commands wait for one process.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::groups::{Groups, Status, MAX_LINE, WRITE_TIMEOUT};
use crate::log::escape_controls;
use crate::net::Conn;
use crate::runtime::Session;
use crate::service::wire::{Watch, Wire};

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
    let mut wire = Wire::new(conn);
    wire.queue(b"VERSION\tipc-proxy\t1\t0\n");
    let hello = Watch::new(&session, Some(Instant::now() + HANDSHAKE_TIMEOUT));
    let Some(group) = handshake(&mut wire, &hello).await else {
        return;
    };
    let (id, mut cmds) = groups.join(&group);
    tracing::debug!(service = "ipc", group = %group, id, "IPC server registered");
    let mut pending: HashMap<u32, mpsc::Sender<Status>> = HashMap::new();
    let mut tag: u32 = 0;
    let watch = Watch::new(&session, None);
    'conn: loop {
        // Every complete reply line first, then wait for more input or a new command.
        while let Some(line) = wire.take_line(MAX_LINE) {
            let line = match line {
                Ok(l) => String::from_utf8_lossy(&l).into_owned(),
                Err(_) => "(line too long)".to_string(),
            };
            let Some((t, st)) = parse_reply(&line) else {
                tracing::error!(
                    service = "ipc",
                    "Invalid input from IPC server '{}': {}",
                    escape_controls(&group),
                    escape_controls(&line)
                );
                break 'conn;
            };
            let Some(reply) = pending.get(&t) else {
                // Dovecot logs this and reads on; here it ends the connection, so a process
                // that keeps sending stray lines cannot fill the log.
                tracing::error!(
                    service = "ipc",
                    "IPC server '{}': Input for unexpected command tag {t}",
                    escape_controls(&group)
                );
                break 'conn;
            };
            let last = !matches!(st, Status::Reply(_));
            // A client too slow to take the lines loses the rest of this answer.
            let sent = tokio::time::timeout(WRITE_TIMEOUT, reply.send(st)).await;
            if last || !matches!(sent, Ok(Ok(()))) {
                pending.remove(&t);
            }
        }
        tokio::select! {
            r = wire.fill(&watch) => {
                if r.is_err() {
                    break;
                }
            }
            cmd = cmds.recv() => {
                let Some(cmd) = cmd else { break };
                if pending.len() >= MAX_PENDING {
                    let _ = cmd.reply.try_send(Status::Error("IPC server is busy".into()));
                    continue;
                }
                tag = tag.wrapping_add(1).max(1);
                wire.queue(format!("{tag}\t{}\n", cmd.line).as_bytes());
                pending.insert(tag, cmd.reply);
            }
        }
    }
    groups.leave(&group, id);
    for (_, reply) in pending {
        let _ = reply.try_send(Status::Error("Connection to server died".into()));
    }
}

async fn next(wire: &mut Wire, watch: &Watch<'_>) -> Option<String> {
    match wire.next_line(MAX_LINE, watch).await {
        Ok(Ok(l)) => Some(String::from_utf8_lossy(&l).into_owned()),
        _ => None,
    }
}

/// Reads `VERSION` and `HANDSHAKE` (the greeting goes out with the first read); the group's
/// name.
async fn handshake(wire: &mut Wire, watch: &Watch<'_>) -> Option<String> {
    let version = next(wire, watch).await?;
    if !crate::protocol::version::matches(&version, "ipc-server", 1) {
        tracing::error!(
            service = "ipc",
            "IPC server not compatible with this server (mixed old and new binaries?)"
        );
        return None;
    }
    let hs = next(wire, watch).await?;
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
