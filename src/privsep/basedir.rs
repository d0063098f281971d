//! base_dir with Dovecot 2.3's owners and modes, kept by root: base_dir itself 0755 (created
//! by root, never handed to the internal user), the login services' chroot directories
//! (`login/`, `token-login/`) 0750 root:`default_login_user`'s group, and unix sockets created
//! by the launcher on reload with their configured `mode`, `user` and `group` (unset: root).
//! Nothing here follows a symlink or replaces a file that is not a socket.

use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::Path;

use socket2::{Domain, SockAddr, Socket, Type};

use super::error::PrivsepError;
use super::policy::Policy;

fn io(what: String) -> impl FnOnce(std::io::Error) -> PrivsepError {
    move |source| PrivsepError::Io { what, source }
}

/// Creates base_dir (0755) and the login directories (0750, root:login group when root;
/// their mode and owner are corrected if they differ, as Dovecot does). Existing files in
/// base_dir are left alone.
pub fn prepare(policy: &Policy) -> Result<(), PrivsepError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(&policy.base_dir)
        .map_err(io(format!(
            "base_dir: cannot create {}",
            policy.base_dir.display()
        )))?;
    if nix::unistd::geteuid().is_root()
        && !nix::unistd::User::from_name(&policy.login_user).is_ok_and(|u| u.is_some())
    {
        tracing::warn!(
            "default_login_user '{}' does not exist: the login directories stay root:root 0750",
            policy.login_user
        );
    }
    for dir in &policy.login_dirs {
        login_dir(policy, dir)?;
    }
    Ok(())
}

/// The primary group of `default_login_user` when root (`None` otherwise). A login user that
/// does not exist leaves the directories to root's group: only root can reach them.
fn login_gid(policy: &Policy) -> Option<nix::unistd::Gid> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    Some(
        nix::unistd::User::from_name(&policy.login_user)
            .ok()
            .flatten()
            .map_or(nix::unistd::Gid::from_raw(0), |u| u.gid),
    )
}

fn login_dir(policy: &Policy, dir: &Path) -> Result<(), PrivsepError> {
    let gid = login_gid(policy);
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(PrivsepError::Refused(format!(
                "{} exists and is not a directory",
                dir.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .mode(0o750)
            .create(dir)
            .map_err(io(format!("cannot create {}", dir.display())))?,
        Err(e) => return Err(io(format!("stat {}", dir.display()))(e)),
    }
    if let Some(gid) = gid {
        std::os::unix::fs::lchown(dir, Some(0), Some(gid.as_raw()))
            .map_err(io(format!("cannot chown {}", dir.display())))?;
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750))
        .map_err(io(format!("cannot chmod {}", dir.display())))
}

/// The launcher's side of `LISTEN`: (re)creates the configured unix socket at `path` with its
/// configured mode and owner and returns it listening. The mode comes from the umask at bind
/// time (no chmod through a path that could have been swapped), the owner from lchown.
pub fn bind_socket(policy: &Policy, path: &Path, backlog: i32) -> Result<Socket, PrivsepError> {
    let spec = policy
        .check_socket(path)
        .map_err(|r| PrivsepError::Refused(r.to_string()))?;
    let parent = path.parent().unwrap_or(Path::new("/"));
    if policy.login_dirs.iter().any(|d| d == parent) {
        login_dir(policy, parent)?;
    } else if std::fs::symlink_metadata(parent).is_err() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)
            .map_err(io(format!("cannot create {}", parent.display())))?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            std::fs::remove_file(path).map_err(io(format!("cannot replace {}", path.display())))?
        }
        Ok(_) => {
            return Err(PrivsepError::Refused(format!(
                "{} exists and is not a socket; not replaced",
                path.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(format!("stat {}", path.display()))(e)),
    }
    let uid = (!spec.user.is_empty())
        .then(|| crate::net::unix::lookup_uid(&spec.user))
        .transpose()
        .map_err(io(format!("{}: user", path.display())))?;
    let gid = (!spec.group.is_empty())
        .then(|| crate::net::unix::lookup_gid(&spec.group))
        .transpose()
        .map_err(io(format!("{}: group", path.display())))?;
    let s = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(io("socket".into()))?;
    let addr = SockAddr::unix(path).map_err(io(format!("{}", path.display())))?;
    let mask = nix::sys::stat::Mode::from_bits_truncate(!spec.mode & 0o777);
    let old = nix::sys::stat::umask(mask);
    let bound = s.bind(&addr);
    nix::sys::stat::umask(old);
    bound.map_err(io(format!("bind({})", path.display())))?;
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::lchown(path, uid.map(|u| u.as_raw()), gid.map(|g| g.as_raw()))
            .map_err(io(format!("cannot chown {}", path.display())))?;
    }
    s.listen(backlog.clamp(4, 65535))
        .map_err(io(format!("listen({})", path.display())))?;
    Ok(s)
}
