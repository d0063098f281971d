//! The ipc hub's groups: every process that registered on the `ipc-proxy` listener under a
//! group name (Dovecot's login processes register as `proxy`), with an id unique in this
//! server (from 1), and the way a command reaches them: a [`Cmd`] on the member's channel,
//! answered on the command's own channel with [`Status`] lines (`:` replies, then one `+` or
//! `-`). Kept in the hub, so registrations survive a reload. Also the limits both listeners
//! share.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use tokio::sync::mpsc;

/// Longest line either side may send (a longer one is refused, the rest of it skipped).
pub const MAX_LINE: usize = 64 * 1024;
/// How long a write to a peer may take.
pub const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Commands a member may have waiting for it; more are refused.
pub const MEMBER_QUEUE: usize = 64;
/// Reply lines buffered per command before the member waits for the client to take them.
pub const REPLY_QUEUE: usize = 256;

/// One line of a command's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Reply(String),
    Ok(String),
    Error(String),
}

/// A command for one member, with where its answer goes.
pub struct Cmd {
    pub line: String,
    pub reply: mpsc::Sender<Status>,
}

struct Member {
    id: u32,
    tx: mpsc::Sender<Cmd>,
}

/// Which members of a group a command is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    All,
    Id(u32),
}

#[derive(Default)]
pub struct Groups {
    groups: Mutex<HashMap<String, Vec<Member>>>,
    next_id: AtomicU32,
}

impl Groups {
    /// Registers a member of `group`; its commands arrive on the returned receiver.
    pub fn join(&self, group: &str) -> (u32, mpsc::Receiver<Cmd>) {
        let id = self
            .next_id
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1)
            .max(1);
        let (tx, rx) = mpsc::channel(MEMBER_QUEUE);
        self.lock()
            .entry(group.to_string())
            .or_default()
            .push(Member { id, tx });
        (id, rx)
    }

    /// Removes member `id` of `group` (a group without members is gone).
    pub fn leave(&self, group: &str, id: u32) {
        let mut g = self.lock();
        if let Some(v) = g.get_mut(group) {
            v.retain(|m| m.id != id);
            if v.is_empty() {
                g.remove(group);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Member>>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `line` to the targeted members of `group`; one answer channel per member reached.
    /// `Err` is the protocol's error line (unknown group or id). A member whose queue is full
    /// answers `-` at once.
    pub fn send(
        &self,
        group: &str,
        target: Target,
        line: &str,
    ) -> Result<Vec<mpsc::Receiver<Status>>, String> {
        let members: Vec<mpsc::Sender<Cmd>> = {
            let g = self.lock();
            match (g.get(group), target) {
                (None, Target::All) => return Ok(Vec::new()),
                (None, Target::Id(_)) => return Err(format!("Unknown IPC group: {group}")),
                (Some(v), Target::All) => v.iter().map(|m| m.tx.clone()).collect(),
                (Some(v), Target::Id(id)) => match v.iter().find(|m| m.id == id) {
                    Some(m) => vec![m.tx.clone()],
                    None => return Err(format!("Unknown IPC connection id: {id}")),
                },
            }
        };
        let mut answers = Vec::with_capacity(members.len());
        for tx in members {
            let (reply, rx) = mpsc::channel(REPLY_QUEUE);
            let cmd = Cmd {
                line: line.to_string(),
                reply,
            };
            if let Err(e) = tx.try_send(cmd) {
                let cmd = match e {
                    mpsc::error::TrySendError::Full(c) | mpsc::error::TrySendError::Closed(c) => c,
                };
                let _ = cmd
                    .reply
                    .try_send(Status::Error("IPC server is busy or gone".into()));
            }
            answers.push(rx);
        }
        Ok(answers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn commands_reach_the_targeted_members_and_unknown_ones_are_named() {
        let g = Groups::default();
        assert_eq!(g.send("proxy", Target::All, "LIST").unwrap().len(), 0);
        assert_eq!(
            g.send("proxy", Target::Id(3), "LIST").unwrap_err(),
            "Unknown IPC group: proxy"
        );
        let (a, mut ra) = g.join("proxy");
        let (b, mut rb) = g.join("proxy");
        assert_ne!(a, b);
        assert_eq!(g.send("proxy", Target::All, "LIST").unwrap().len(), 2);
        assert_eq!(ra.recv().await.unwrap().line, "LIST");
        assert_eq!(rb.recv().await.unwrap().line, "LIST");
        let mut one = g.send("proxy", Target::Id(b), "KICK\tbob").unwrap();
        assert_eq!(one.len(), 1);
        let cmd = rb.recv().await.unwrap();
        cmd.reply.send(Status::Ok("1".into())).await.unwrap();
        assert_eq!(one[0].recv().await, Some(Status::Ok("1".into())));
        assert_eq!(
            g.send("proxy", Target::Id(b + 100), "X").unwrap_err(),
            format!("Unknown IPC connection id: {}", b + 100)
        );
        // A member that stopped reading: its queue fills and it answers `-` at once.
        for _ in 0..MEMBER_QUEUE {
            g.send("proxy", Target::Id(a), "X").unwrap();
        }
        let mut full = g.send("proxy", Target::Id(a), "X").unwrap();
        assert!(matches!(full[0].recv().await, Some(Status::Error(_))));
        g.leave("proxy", a);
        g.leave("proxy", b);
        assert_eq!(g.send("proxy", Target::All, "LIST").unwrap().len(), 0);
    }
}
