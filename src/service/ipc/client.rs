//! The `ipc` listener: admin tools' commands, one line each, `GROUP\tID\tCOMMAND` where ID is a
//! member's id or `*` for every member. Each member's `:DATA` reply lines are passed on, then
//! one `+DATA` (the last member's, when all succeeded; `+` for a group nobody registered) or
//! `-ERROR` (the first failure). Bad lines get Dovecot's `-Invalid input`, `-Invalid IPC
//! connection id: X`, `-Unknown IPC group: X`, `-Unknown IPC connection id: N`. Commands run
//! one at a time; members have [`CMD_TIMEOUT`] to finish, a client [`IDLE_TIMEOUT`] between
//! commands.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::time::{timeout, timeout_at, Instant};

use super::groups::{Groups, Status, Target};
use super::line::{read_line, WRITE_TIMEOUT};
use crate::net::Conn;
use crate::runtime::Session;

/// How long the members of a group have to answer one command.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(30);
/// A client silent this long between commands is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A command line split into group, target and command; `Err` is the reply line.
pub fn parse(line: &str) -> Result<(&str, Target, &str), String> {
    let mut it = line.splitn(3, '\t');
    let (Some(group), Some(id), Some(cmd)) = (it.next(), it.next(), it.next()) else {
        return Err("-Invalid input".into());
    };
    if cmd.is_empty() {
        return Err("-Invalid input".into());
    }
    let target = if id == "*" {
        Target::All
    } else {
        Target::Id(
            id.parse()
                .map_err(|_| format!("-Invalid IPC connection id: {id}"))?,
        )
    };
    Ok((group, target, cmd))
}

pub async fn run(conn: Conn, session: Session, groups: Arc<Groups>) {
    let (r, mut w) = tokio::io::split(conn.stream);
    let mut r = BufReader::new(r);
    let mut buf = Vec::new();
    loop {
        let line = tokio::select! {
            l = timeout(IDLE_TIMEOUT, read_line(&mut r, &mut buf)) => match l {
                Ok(Some(l)) => l,
                _ => return,
            },
            _ = session.ended() => return,
        };
        let out = match parse(&line) {
            Err(reply) => format!("{reply}\n"),
            Ok((group, target, cmd)) => match groups.send(group, target, cmd) {
                Err(e) => format!("-{e}\n"),
                Ok(answers) => match answer(answers, &mut w, &session).await {
                    Some(last) => last,
                    None => return,
                },
            },
        };
        if !write(&mut w, &out).await {
            return;
        }
    }
}

async fn write<W: AsyncWriteExt + Unpin>(w: &mut W, s: &str) -> bool {
    matches!(
        timeout(WRITE_TIMEOUT, w.write_all(s.as_bytes())).await,
        Ok(Ok(()))
    )
}

/// Passes every member's reply lines on and returns the final line (`None`: the client is
/// gone or the server stops).
async fn answer<W: AsyncWriteExt + Unpin>(
    answers: Vec<tokio::sync::mpsc::Receiver<Status>>,
    w: &mut W,
    session: &Session,
) -> Option<String> {
    let deadline = Instant::now() + CMD_TIMEOUT;
    let mut first_err: Option<String> = None;
    let mut last_ok = String::new();
    for mut rx in answers {
        loop {
            let st = tokio::select! {
                s = timeout_at(deadline, rx.recv()) => s,
                _ = session.ended() => return None,
            };
            match st {
                Ok(Some(Status::Reply(l))) => {
                    if !write(w, &format!(":{l}\n")).await {
                        return None;
                    }
                }
                Ok(Some(Status::Ok(d))) => {
                    last_ok = d;
                    break;
                }
                Ok(Some(Status::Error(e))) => {
                    first_err.get_or_insert(e);
                    break;
                }
                Ok(None) => {
                    first_err.get_or_insert_with(|| "Connection to server died".into());
                    break;
                }
                Err(_) => {
                    first_err.get_or_insert_with(|| "Timeout waiting for IPC server".into());
                    break;
                }
            }
        }
    }
    Some(match first_err {
        Some(e) => format!("-{e}\n"),
        None => format!("+{last_ok}\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_as_dovecots_ipc_client_sends_them() {
        assert_eq!(
            parse("proxy\t*\tKICK\tbob"),
            Ok(("proxy", Target::All, "KICK\tbob"))
        );
        assert_eq!(
            parse("proxy\t7\tLIST"),
            Ok(("proxy", Target::Id(7), "LIST"))
        );
        assert_eq!(parse("proxy\t*"), Err("-Invalid input".into()));
        assert_eq!(parse("proxy\t*\t"), Err("-Invalid input".into()));
        assert_eq!(
            parse("proxy\tx\tLIST"),
            Err("-Invalid IPC connection id: x".into())
        );
    }
}
