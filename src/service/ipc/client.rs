//! The `ipc` listener: admin tools' commands, one line each, `GROUP\tID\tCOMMAND` where ID is a
//! member's id or `*` for every member. Each member's `:DATA` reply lines are passed on, then
//! one `+DATA` (the last member's, when all succeeded; `+` for a group nobody registered) or
//! `-ERROR` (the first failure). Bad lines get Dovecot's `-Invalid input`, `-Invalid IPC
//! connection id: X`, `-Unknown IPC group: X`, `-Unknown IPC connection id: N`. Commands run
//! one at a time; members have [`CMD_TIMEOUT`] to finish, a client [`IDLE_TIMEOUT`] between
//! commands and [`WRITE_TIMEOUT`] to take each reply.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::Receiver;
use tokio::time::{timeout_at, Instant};

use super::groups::{Groups, Status, Target, MAX_LINE, WRITE_TIMEOUT};
use crate::net::Conn;
use crate::runtime::Session;
use crate::service::wire::{End, Watch, Wire};

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
    let mut wire = Wire::new(conn);
    loop {
        let idle = Watch::new(&session, Some(Instant::now() + IDLE_TIMEOUT));
        let line = match wire.next_line(MAX_LINE, &idle).await {
            Ok(Ok(l)) => String::from_utf8_lossy(&l).into_owned(),
            Ok(Err(_too_long)) => {
                wire.queue(b"-Invalid input\n");
                continue;
            }
            Err(_) => return,
        };
        let last = match parse(&line) {
            Err(reply) => reply,
            Ok((group, target, cmd)) => match groups.send(group, target, cmd) {
                Err(e) => format!("-{e}"),
                Ok(answers) => match answer(answers, &mut wire, &session).await {
                    Ok(last) => last,
                    Err(_) => return,
                },
            },
        };
        let w = Watch::new(&session, Some(Instant::now() + WRITE_TIMEOUT));
        if wire.send(format!("{last}\n").as_bytes(), &w).await.is_err() {
            return;
        }
    }
}

/// Passes every member's reply lines on and returns the final line.
async fn answer(
    answers: Vec<Receiver<Status>>,
    wire: &mut Wire,
    session: &Session,
) -> Result<String, End> {
    let deadline = Instant::now() + CMD_TIMEOUT;
    let mut first_err: Option<String> = None;
    let mut last_ok = String::new();
    for mut rx in answers {
        loop {
            let st = Watch::new(session, None)
                .guard(timeout_at(deadline, rx.recv()))
                .await?;
            match st {
                Ok(Some(Status::Reply(l))) => {
                    let w = Watch::new(session, Some(Instant::now() + WRITE_TIMEOUT));
                    wire.send(format!(":{l}\n").as_bytes(), &w).await?;
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
    Ok(match first_err {
        Some(e) => format!("-{e}"),
        None => format!("+{last_ok}"),
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
