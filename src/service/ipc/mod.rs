//! `ipc`: Dovecot's ipc hub. Processes register on the `ipc-proxy` listener
//! (base_dir/login/ipc-proxy) under a group name, as Dovecot's login processes register as
//! `proxy` (`server.rs`); admin tools send commands to a group on the `ipc` listener
//! (base_dir/ipc) — `doveadm proxy list` sends `proxy\t*\tLIST-FULL`, `doveadm proxy kick
//! USER` `proxy\t*\tKICK\tUSER` — and get every member's `:` reply lines, then one `+` or
//! `-` line (`client.rs`). The groups (`groups.rs`) live in the hub and survive a reload.
//!
//! Roost's own services never go through these sockets: a kick, a log reopen, a reload or a
//! per-user doveadm command reaches services and sessions through the in-process hub (anvil,
//! the master's control, the mail helpers across the privsep boundary). Roost's login services
//! do not proxy, so they register nothing; `doveadm proxy list` lists what registered
//! processes answer, and nothing when none did, as Dovecot does with no proxying login process.

mod client;
pub mod groups;
mod server;

use std::sync::Arc;

use crate::net::Conn;
use crate::runtime::{BoxFuture, Hub, Service, ServiceError, Session};
use crate::settings::Settings;
use groups::Groups;

pub struct Ipc {
    groups: Arc<Groups>,
}

pub fn factory(
    _name: &str,
    _settings: &Arc<Settings>,
    hub: &Arc<Hub>,
) -> Result<Arc<dyn Service>, ServiceError> {
    hub.insert_if_absent(|| Arc::new(Groups::default()));
    let groups = hub.get::<Groups>().expect("just inserted");
    Ok(Arc::new(Ipc { groups }))
}

impl Service for Ipc {
    fn serve(self: Arc<Self>, conn: Conn, session: Session) -> BoxFuture<()> {
        let groups = self.groups.clone();
        if conn.listener.rsplit('/').next() == Some("ipc-proxy") {
            Box::pin(server::run(conn, session, groups))
        } else {
            Box::pin(client::run(conn, session, groups))
        }
    }

    fn supported_listeners(&self) -> Option<&'static [&'static str]> {
        Some(&["ipc", "ipc-proxy"])
    }
}
