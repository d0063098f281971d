//! Dovecot's `anvil` and `anvil-auth-penalty` unix listeners, for the tools that read them:
//! Dovecot's `doveadm who` (`CONNECT-DUMP`) and `doveadm penalty` (`PENALTY-DUMP`) pointed at
//! roost's base_dir list roost's sessions and penalties. After `VERSION\tanvil\t1\t0`:
//!
//! * `CONNECT-DUMP` → `IDENT\tPID\tCOUNT` per (session ident, virtual process), IDENT being
//!   `service/ip/user` (`service/user` without an IP), then an empty line;
//! * `LOOKUP IDENT` → the number of sessions with that ident;
//! * `PENALTY-GET IP` → `PENALTY LAST_PENALTY`; `PENALTY-DUMP` → `IP\tPENALTY\tLAST\tLAST`
//!   per IP, then an empty line.
//!
//! Roost's services report sessions and failures to anvil in-process, so the commands that
//! change anvil's tables (`CONNECT`, `DISCONNECT`, `KILL`, `PENALTY-INC`,
//! `PENALTY-SET-EXPIRE-SECS`) are refused: logged as Dovecot logs a bad anvil request, and the
//! connection closed. A line is at most [`MAX_LINE`] bytes (Dovecot's anvil input buffer); a
//! client idle for [`IDLE_TIMEOUT`] or not reading for [`WRITE_TIMEOUT`] is closed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::connections::Anvil;
use crate::log::escape_controls;
use crate::net::Conn;
use crate::protocol::auth::tab_escape;
use crate::protocol::version;
use crate::runtime::{Session, SessionDirectory, SessionRow};
use crate::service::wire::{Watch, Wire};

/// Longest request line (Dovecot's anvil reads at most 1024 bytes at a time).
pub const MAX_LINE: usize = 1024;
/// A client silent this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a client may take to read an answer.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// A session's anvil ident: `service/ip/user`, or `service/user` without a remote IP.
pub fn ident(row: &SessionRow) -> String {
    match row.rip {
        Some(ip) => format!("{}/{ip}/{}", row.service, row.user),
        None => format!("{}/{}", row.service, row.user),
    }
}

/// The `CONNECT-DUMP` answer.
pub fn connect_dump(rows: &[SessionRow]) -> String {
    let mut counts: BTreeMap<(String, u64), u32> = BTreeMap::new();
    for r in rows {
        *counts.entry((ident(r), r.vproc)).or_insert(0) += 1;
    }
    let mut out = String::new();
    for ((ident, vproc), n) in counts {
        out.push_str(&format!("{}\t{vproc}\t{n}\n", tab_escape(&ident)));
    }
    out.push('\n');
    out
}

/// The answer to one request line; `Err` is the error Dovecot's anvil logs before closing.
pub fn answer(anvil: &Anvil, line: &str) -> Result<String, String> {
    let args: Vec<&str> = line.split('\t').collect();
    let need = |n: usize, what: &str| {
        if args.len() > n {
            Ok(())
        } else {
            Err(format!("{what}: Not enough parameters"))
        }
    };
    match args[0] {
        "CONNECT-DUMP" => Ok(connect_dump(&anvil.who())),
        "LOOKUP" => {
            need(1, "LOOKUP")?;
            let n = anvil.who().iter().filter(|r| ident(r) == args[1]).count();
            Ok(format!("{n}\n"))
        }
        "PENALTY-GET" => {
            need(1, "PENALTY-GET")?;
            let (p, at) = match args[1].parse() {
                Ok(ip) => anvil.penalty().get_with_time(ip),
                Err(_) => (0, 0),
            };
            Ok(format!("{p} {at}\n"))
        }
        "PENALTY-DUMP" => {
            let mut out = String::new();
            for (ip, p, at) in anvil.penalty().dump() {
                out.push_str(&format!("{ip}\t{p}\t{at}\t{at}\n"));
            }
            out.push('\n');
            Ok(out)
        }
        cmd @ ("CONNECT" | "DISCONNECT" | "KILL" | "PENALTY-INC" | "PENALTY-SET-EXPIRE-SECS") => {
            Err(format!(
                "{cmd}: roost's services report to anvil in-process; this socket only answers \
                 CONNECT-DUMP, LOOKUP, PENALTY-GET and PENALTY-DUMP"
            ))
        }
        cmd => Err(format!("Unknown command: {cmd}")),
    }
}

pub async fn run(conn: Conn, session: Session, anvil: Arc<Anvil>) {
    let mut wire = Wire::new(conn);
    let mut version = false;
    loop {
        let idle = Watch::new(&session, Some(Instant::now() + IDLE_TIMEOUT));
        let line = match wire.next_line(MAX_LINE, &idle).await {
            Ok(Ok(l)) => String::from_utf8_lossy(&l).into_owned(),
            Ok(Err(_)) => {
                tracing::error!(
                    service = "anvil",
                    "BUG: Anvil client connection sent too much data"
                );
                return;
            }
            Err(_) => return,
        };
        if !version {
            if !version::matches(&line, "anvil", 1) {
                tracing::error!(
                    service = "anvil",
                    "Anvil client not compatible with this server (mixed old and new binaries?) {}",
                    escape_controls(&line)
                );
                return;
            }
            version = true;
            continue;
        }
        if line.is_empty() {
            continue;
        }
        match answer(&anvil, &line) {
            Ok(out) => {
                let w = Watch::new(&session, Some(Instant::now() + WRITE_TIMEOUT));
                if wire.send(out.as_bytes(), &w).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::error!(
                    service = "anvil",
                    "Anvil client input error: {}",
                    escape_controls(&e)
                );
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::anvil::Connect;
    use tokio_util::sync::CancellationToken;

    #[test]
    fn dumps_and_lookups_answer_as_dovecots_anvil() {
        let anvil = Arc::new(Anvil::default());
        let c = |user: &str, proto: &str, vproc: u64, ip: Option<&str>| Connect {
            user: user.into(),
            protocol: proto.into(),
            vproc,
            rip: ip.map(|i| i.parse().unwrap()),
            lip: None,
            session_id: "s".into(),
            kick: CancellationToken::new(),
        };
        let _a = anvil.connect(c("bob", "imap", 3, Some("127.0.0.1")));
        let _b = anvil.connect(c("bob", "imap", 3, Some("127.0.0.1")));
        let _c = anvil.connect(c("al\tice", "pop3", 4, None));
        assert_eq!(
            answer(&anvil, "CONNECT-DUMP").unwrap(),
            "imap/127.0.0.1/bob\t3\t2\npop3/al\x01tice\t4\t1\n\n"
        );
        assert_eq!(answer(&anvil, "LOOKUP\timap/127.0.0.1/bob").unwrap(), "2\n");
        assert_eq!(answer(&anvil, "LOOKUP\timap/127.0.0.2/bob").unwrap(), "0\n");
        assert_eq!(answer(&anvil, "PENALTY-DUMP").unwrap(), "\n");
        anvil.penalty().update("10.1.2.3".parse().unwrap(), 7, 2);
        let dump = answer(&anvil, "PENALTY-DUMP").unwrap();
        assert!(dump.starts_with("10.1.2.3\t2\t"), "{dump}");
        let get = answer(&anvil, "PENALTY-GET\t10.1.2.3").unwrap();
        assert!(get.starts_with("2 "), "{get}");
        assert_eq!(answer(&anvil, "PENALTY-GET\tnot-an-ip").unwrap(), "0 0\n");
        assert!(answer(&anvil, "CONNECT\t1\timap/1.2.3.4/x").is_err());
        assert!(answer(&anvil, "KILL\t3").is_err());
        assert_eq!(
            answer(&anvil, "LOOKUP").unwrap_err(),
            "LOOKUP: Not enough parameters"
        );
        assert_eq!(answer(&anvil, "FOO").unwrap_err(), "Unknown command: FOO");
    }
}
