//! What a listener is before it is bound: [`ListenerSpec`] (service, block name, kind) and
//! [`ListenerKind`] (inet with its TLS/PROXY flags, unix, fifo with mode and owner), shared by
//! the binding code of each kind.

use std::net::SocketAddr;
use std::path::PathBuf;

/// What kind of socket a listener is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenerKind {
    Inet {
        addr: SocketAddr,
        ssl: bool,
        haproxy: bool,
        reuse_port: bool,
    },
    Unix {
        path: PathBuf,
        mode: u32,
        user: String,
        group: String,
    },
    Fifo {
        path: PathBuf,
        mode: u32,
        user: String,
        group: String,
    },
}

/// One socket to open, derived from settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerSpec {
    pub service: String,
    /// The block name (`imap`, `imaps`, `auth-client`, `login/login`).
    pub name: String,
    pub kind: ListenerKind,
}

impl ListenerSpec {
    /// The basename services use to tell protocols apart (spec §3.1).
    pub fn short_name(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or(&self.name)
    }

    /// `127.0.0.1:143` or the socket path, for logs and errors.
    pub fn describe(&self) -> String {
        match &self.kind {
            ListenerKind::Inet { addr, .. } => addr.to_string(),
            ListenerKind::Unix { path, .. } | ListenerKind::Fifo { path, .. } => {
                path.display().to_string()
            }
        }
    }

    /// Inet sockets with the same address can be carried over a reload.
    pub fn same_socket(&self, other: &ListenerSpec) -> bool {
        match (&self.kind, &other.kind) {
            (ListenerKind::Inet { addr: a, .. }, ListenerKind::Inet { addr: b, .. }) => a == b,
            _ => false,
        }
    }
}
