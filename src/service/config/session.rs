//! One config connection, Dovecot 2.3's protocol (`src/config/config-connection.c`): the
//! client sends `VERSION\tconfig\t2\t0`, then `REQ[\tservice=S][\tmodule=M][\texclude=KEY]…`
//! (also `lip=`, `rip=`, `lname=`, accepted and not used: roost has no per-address settings
//! besides `local_name`); each request is answered with a flags line (empty), then
//! `key=value` lines (every setting, `/` between block levels, LF in a value sent as `\x03`
//! as Dovecot does), then an empty line. `FILTERS` is answered with an empty list. A wrong
//! version, an unknown command, a line over 64 KiB or 60 s of silence end the connection.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::net::Conn;
use crate::runtime::Session;
use crate::settings::doveconf::flatten;
use crate::settings::Settings;

/// Longest request line.
pub const MAX_LINE: usize = 64 * 1024;
/// A connection silent this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// What a request line asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub service: Option<String>,
    pub module: Option<String>,
    pub exclude: Vec<String>,
}

/// Parses the fields after `REQ`.
pub fn parse_request(fields: &[&str]) -> Result<Request, String> {
    let mut r = Request::default();
    for f in fields {
        let (k, v) = f.split_once('=').unwrap_or((f, ""));
        match k {
            "service" => r.service = Some(v.to_string()),
            "module" => r.module = Some(v.to_string()),
            "exclude" => r.exclude.push(v.to_string()),
            "lip" | "rip" | "lname" => {}
            _ => return Err(format!("unknown REQ field '{k}'")),
        }
    }
    Ok(r)
}

/// The reply to one request: flags line, `key=value` lines, empty line.
pub fn reply(settings: &Settings, req: &Request) -> String {
    let mut out = String::from("\n");
    let Ok(all) = flatten(settings) else {
        return out + "\n";
    };
    for (k, v) in all {
        if req
            .exclude
            .iter()
            .any(|x| k == *x || k.starts_with(&format!("{x}/")))
        {
            continue;
        }
        out.push_str(&k);
        out.push('=');
        out.push_str(&v.replace('\n', "\x03"));
        out.push('\n');
    }
    out.push('\n');
    out
}

pub async fn run(conn: Conn, session: Session, settings: Arc<Settings>) {
    let mut stream = BufReader::new(conn.stream);
    let mut version_ok = false;
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        let mut limited = (&mut stream).take(MAX_LINE as u64 + 1);
        let read = tokio::select! {
            r = tokio::time::timeout(IDLE_TIMEOUT, limited.read_until(b'\n', &mut line)) => r,
            _ = session.ended() => return,
        };
        match read {
            Ok(Ok(n)) if n > 0 && line.ends_with(b"\n") => {}
            _ => return,
        }
        line.pop();
        let text = String::from_utf8_lossy(&line).into_owned();
        let fields: Vec<&str> = text.split('\t').collect();
        if !version_ok {
            if !crate::protocol::version::matches(&text, "config", 2) {
                tracing::error!(
                    service = "config",
                    "Config client not compatible with this server (mixed old and new binaries?)"
                );
                return;
            }
            version_ok = true;
            continue;
        }
        let out = match fields[0] {
            "REQ" => match parse_request(&fields[1..]) {
                Ok(req) => reply(&settings, &req),
                Err(e) => {
                    tracing::error!(service = "config", "Config client sent a bad request: {e}");
                    return;
                }
            },
            "FILTERS" => "\n".to_string(),
            other => {
                tracing::error!(
                    service = "config",
                    "Config client sent unknown command '{}'",
                    crate::log::escape_controls(other)
                );
                return;
            }
        };
        if stream.get_mut().write_all(out.as_bytes()).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies() {
        let r = parse_request(&[
            "service=imap",
            "module=master",
            "exclude=service",
            "lip=1.2.3.4",
        ])
        .unwrap();
        assert_eq!(r.service.as_deref(), Some("imap"));
        assert_eq!(r.exclude, vec!["service".to_string()]);
        assert!(parse_request(&["bogus=1"]).is_err());
        let mut s = Settings::default();
        s.mail.login_greeting = "a\nb".into();
        let text = reply(&s, &r);
        assert!(text.starts_with('\n') && text.ends_with("\n\n"));
        assert!(text.contains("\nbase_dir=/run/roost\n"), "{text}");
        assert!(text.contains("\nlogin_greeting=a\x03b\n"), "{text}");
        assert!(!text.contains("\nservice/"), "excluded: {text}");
    }
}
