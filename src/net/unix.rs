//! Unix-socket listeners: stale-socket replacement, refusal when another server already answers
//! on the path, and the configured `mode`, `user` and `group`. Once the server has dropped
//! privileges it cannot create sockets in root's base_dir: [`delegate_binds`] then routes every
//! bind to the root-kept launcher, which creates the socket as the configuration says.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use socket2::{Domain, SockAddr, Socket, Type};

use super::spec::{ListenerKind, ListenerSpec};

/// Creates a listening socket at a path for the unprivileged server: `(path, backlog)`.
pub type BindDelegate = Box<dyn Fn(&Path, i32) -> io::Result<Socket> + Send + Sync>;

static DELEGATE: std::sync::OnceLock<BindDelegate> = std::sync::OnceLock::new();

/// From now on, unix listeners are bound by `f` (the privsep launcher) instead of by this
/// process. Set once, when the server drops privileges.
pub fn delegate_binds(f: BindDelegate) {
    let _ = DELEGATE.set(f);
}

/// Binds a unix listener at `path`, replacing a stale socket file. With `replace`, an existing
/// file is unlinked without asking who listens on it (reload).
pub fn bind_unix(
    spec: &ListenerSpec,
    path: &Path,
    backlog: i32,
    replace: bool,
) -> io::Result<Socket> {
    let (mode, user, group) = match &spec.kind {
        ListenerKind::Unix {
            mode, user, group, ..
        } => (*mode, user.as_str(), group.as_str()),
        _ => (0o600, "", ""),
    };
    if let Some(delegate) = DELEGATE.get() {
        return delegate(path, backlog);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if replace {
        let _ = std::fs::remove_file(path);
    } else if std::fs::symlink_metadata(path).is_ok() {
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!(
                        "Socket already exists: {} (another server is listening on it)",
                        path.display()
                    ),
                ))
            }
            Err(_) => std::fs::remove_file(path)?,
        }
    }
    let s = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    s.bind(&SockAddr::unix(path)?)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    chown(path, user, group)?;
    s.listen(backlog)?;
    Ok(s)
}

/// Applies `user`/`group` (names or numeric ids; empty keeps the current owner).
pub fn chown(path: &Path, user: &str, group: &str) -> io::Result<()> {
    if user.is_empty() && group.is_empty() {
        return Ok(());
    }
    if !nix::unistd::geteuid().is_root() {
        // Only root can give a file away: without root the socket stays roost's own (the
        // mode still applies), as when Dovecot runs unprivileged.
        tracing::debug!(
            "not root: {} keeps roost's owner instead of {user}:{group}",
            path.display()
        );
        return Ok(());
    }
    let uid = if user.is_empty() {
        None
    } else {
        Some(lookup_uid(user)?)
    };
    let gid = if group.is_empty() {
        None
    } else {
        Some(lookup_gid(group)?)
    };
    if uid == Some(nix::unistd::geteuid()) && gid.is_none() {
        return Ok(());
    }
    nix::unistd::chown(path, uid, gid).map_err(|e| {
        io::Error::other(format!(
            "cannot chown {} to {user}:{group}: {e}",
            path.display()
        ))
    })
}

pub fn lookup_uid(user: &str) -> io::Result<nix::unistd::Uid> {
    if let Ok(n) = user.parse::<u32>() {
        return Ok(nix::unistd::Uid::from_raw(n));
    }
    match nix::unistd::User::from_name(user) {
        Ok(Some(u)) => Ok(u.uid),
        _ => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("user '{user}' does not exist"),
        )),
    }
}

pub fn lookup_gid(group: &str) -> io::Result<nix::unistd::Gid> {
    if let Ok(n) = group.parse::<u32>() {
        return Ok(nix::unistd::Gid::from_raw(n));
    }
    match nix::unistd::Group::from_name(group) {
        Ok(Some(g)) => Ok(g.gid),
        _ => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("group '{group}' does not exist"),
        )),
    }
}
