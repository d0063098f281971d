//! `log`: Dovecot's log service. Roost's processes write their log lines themselves (`crate::log`:
//! files, syslog, reopen, filters), so what is left of the service is its `log-errors` unix
//! listener (base_dir/log-errors, 0600 as in Dovecot): each connection gets the server's last
//! warnings and errors (`crate::log::errors`, the newest 1000) as Dovecot's log process sends
//! them — `TYPE\tUNIXTIME\tPREFIX\tTEXT\n`, prefix and text tab-escaped — and is closed. That
//! is what Dovecot's `doveadm log errors` reads; roost's own `log errors` command reads the same
//! buffer. A client that does not take the lines within [`WRITE_TIMEOUT`] is dropped.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::log::errors::{recent, LoggedError};
use crate::net::Conn;
use crate::protocol::auth::tab_escape;
use crate::runtime::{BoxFuture, Hub, Service, ServiceError, Session};
use crate::service::wire::{Watch, Wire};
use crate::settings::Settings;

/// How long a `log-errors` client may take to read the lines.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Log;

pub fn factory(
    _name: &str,
    _settings: &Arc<Settings>,
    _hub: &Arc<Hub>,
) -> Result<Arc<dyn Service>, ServiceError> {
    Ok(Arc::new(Log))
}

/// One error as the `log-errors` socket sends it.
pub fn line(e: &LoggedError) -> String {
    format!(
        "{}\t{}\t{}\t{}\n",
        e.kind,
        e.timestamp,
        tab_escape(&e.prefix),
        tab_escape(&e.text)
    )
}

impl Service for Log {
    fn serve(self: Arc<Self>, conn: Conn, session: Session) -> BoxFuture<()> {
        Box::pin(async move {
            let out: String = recent().iter().map(line).collect();
            let mut wire = Wire::new(conn);
            let watch = Watch::new(&session, Some(Instant::now() + WRITE_TIMEOUT));
            if wire.send(out.as_bytes(), &watch).await.is_err() {
                tracing::debug!(service = "log", "log-errors client did not take the lines");
            }
        })
    }

    fn supported_listeners(&self) -> Option<&'static [&'static str]> {
        Some(&["log-errors"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_tab_escaped_as_dovecot_sends_them() {
        let e = LoggedError {
            kind: "error",
            timestamp: 1700000000,
            prefix: "imap(bob)<7><s>: ".into(),
            text: "a\tb\nc".into(),
        };
        assert_eq!(
            line(&e),
            "error\t1700000000\timap(bob)<7><s>: \ta\x01tb\x01nc\n"
        );
    }
}
