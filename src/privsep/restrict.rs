//! Applying a [`HelperSpec`] inside a freshly executed helper, before it does anything else:
//! RLIMIT_AS and RLIMIT_DATA from `vsz_limit`, `chroot`, supplementary groups, gid and uid,
//! no-new-privs, and closing every inherited descriptor except stdio and fd 3. Also the
//! server-side [`drop_privileges`] used after binding listeners.

use std::os::fd::RawFd;

use nix::sys::resource::{setrlimit, Resource};
use nix::unistd::{Gid, Group, Uid, User};

use super::error::PrivsepError;
use super::spec::HelperSpec;

fn sys(what: &str) -> impl FnOnce(nix::Error) -> PrivsepError + '_ {
    move |source| PrivsepError::Sys {
        what: what.to_string(),
        source,
    }
}

fn group_id(name: &str) -> Result<Gid, PrivsepError> {
    if let Ok(n) = name.parse::<u32>() {
        return Ok(Gid::from_raw(n));
    }
    Group::from_name(name)
        .ok()
        .flatten()
        .map(|g| g.gid)
        .ok_or_else(|| PrivsepError::UnknownGroup(name.to_string()))
}

fn user(name: &str) -> Result<User, PrivsepError> {
    let u = match name.parse::<u32>() {
        Ok(n) => User::from_uid(Uid::from_raw(n)).ok().flatten(),
        Err(_) => User::from_name(name).ok().flatten(),
    };
    u.ok_or_else(|| PrivsepError::UnknownUser(name.to_string()))
}

/// Applies `spec` to the current (single-threaded, just exec'd) process.
pub fn apply(spec: &HelperSpec) -> Result<(), PrivsepError> {
    if spec.vsz_limit > 0 {
        setrlimit(Resource::RLIMIT_AS, spec.vsz_limit, spec.vsz_limit)
            .map_err(sys("setrlimit(RLIMIT_AS)"))?;
        setrlimit(Resource::RLIMIT_DATA, spec.vsz_limit, spec.vsz_limit)
            .map_err(sys("setrlimit(RLIMIT_DATA)"))?;
    }
    // Resolve names before a chroot hides /etc/passwd. A numeric user (mail helpers) needs no
    // passwd entry, only a group.
    let target: Option<(Uid, Option<Gid>)> = if spec.user.is_empty() {
        None
    } else {
        match (spec.user.parse::<u32>(), user(&spec.user)) {
            (_, Ok(u)) => Some((u.uid, Some(u.gid))),
            (Ok(n), Err(_)) => Some((Uid::from_raw(n), None)),
            (Err(_), Err(e)) => return Err(e),
        }
    };
    let gid = match (&spec.group, &target) {
        (g, _) if !g.is_empty() => Some(group_id(g)?),
        (_, Some((_, Some(g)))) => Some(*g),
        (_, Some((_, None))) => return Err(PrivsepError::UnknownUser(spec.user.clone())),
        _ => None,
    };
    let extra: Vec<Gid> = spec
        .extra_groups
        .iter()
        .map(|g| group_id(g))
        .collect::<Result<_, _>>()?;
    let root = nix::unistd::geteuid().is_root();
    if !spec.chroot.is_empty() {
        nix::unistd::chroot(spec.chroot.as_str()).map_err(sys("chroot"))?;
        nix::unistd::chdir("/").map_err(sys("chdir(/)"))?;
    }
    if root {
        let mut groups = extra.clone();
        if let Some(g) = gid {
            if !groups.contains(&g) {
                groups.insert(0, g);
            }
        }
        if target.is_some() || gid.is_some() || !extra.is_empty() {
            nix::unistd::setgroups(&groups).map_err(sys("setgroups"))?;
        }
        if let Some(g) = gid {
            nix::unistd::setgid(g).map_err(sys("setgid"))?;
        }
        if let Some((uid, _)) = &target {
            nix::unistd::setuid(*uid).map_err(sys("setuid"))?;
        }
    } else if let Some((uid, _)) = &target {
        if *uid != nix::unistd::geteuid() {
            return Err(PrivsepError::NeedsRoot {
                service: spec.kind.clone(),
                user: spec.user.clone(),
                uid: nix::unistd::geteuid().as_raw(),
            });
        }
    }
    // SAFETY: plain prctl with constant arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(PrivsepError::Io {
            what: "prctl(PR_SET_NO_NEW_PRIVS)".into(),
            source: std::io::Error::last_os_error(),
        });
    }
    close_inherited(&[0, 1, 2, 3]);
    Ok(())
}

/// Closes every open descriptor not in `keep`.
pub fn close_inherited(keep: &[RawFd]) {
    let fds: Vec<RawFd> = match std::fs::read_dir("/proc/self/fd") {
        Ok(d) => d
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
        Err(_) => (3..1024).collect(),
    };
    for fd in fds {
        if !keep.contains(&fd) {
            // SAFETY: closing descriptors this fresh process inherited and does not use.
            unsafe {
                libc::close(fd);
            }
        }
    }
}

/// Drops the whole (server) process to `user`/`group` for good: setgroups, setgid, setuid.
/// Call after listeners are bound and the launcher is started. A no-op when not root.
pub fn drop_privileges(user_name: &str, group: &str) -> Result<(), PrivsepError> {
    if !nix::unistd::geteuid().is_root() || user_name.is_empty() {
        return Ok(());
    }
    let u = user(user_name)?;
    let gid = if group.is_empty() {
        u.gid
    } else {
        group_id(group)?
    };
    nix::unistd::setgroups(&[gid]).map_err(sys("setgroups"))?;
    nix::unistd::setresgid(gid, gid, gid).map_err(sys("setresgid"))?;
    nix::unistd::setresuid(u.uid, u.uid, u.uid).map_err(sys("setresuid"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHILD_ENV: &str = "_PRIVSEP_DROP_CHILD";

    /// Runs in a re-executed copy of the test binary (see below): drops to nobody for good.
    #[test]
    fn drop_child() {
        if std::env::var_os(CHILD_ENV).is_none() {
            return;
        }
        drop_privileges("nobody", "").unwrap();
        let nobody = User::from_name("nobody").unwrap().unwrap();
        assert_eq!(nix::unistd::getuid(), nobody.uid);
        assert_eq!(nix::unistd::geteuid(), nobody.uid);
        assert_eq!(nix::unistd::getgroups().unwrap(), vec![nobody.gid]);
        // For good: root cannot be regained.
        assert!(nix::unistd::setuid(Uid::from_raw(0)).is_err());
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
        let want = format!("{}", nobody.uid);
        assert!(
            uid_line.split_whitespace().skip(1).all(|u| u == want),
            "{uid_line}"
        );
    }

    #[test]
    fn drop_privileges_is_permanent() {
        assert!(nix::unistd::geteuid().is_root(), "this test needs root");
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "privsep::restrict::tests::drop_child",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("1 passed"), "{text}");
    }

    #[test]
    fn unknown_names_are_errors() {
        assert!(matches!(
            user("no-such-user-zz"),
            Err(PrivsepError::UnknownUser(_))
        ));
        assert!(matches!(
            group_id("no-such-group-zz"),
            Err(PrivsepError::UnknownGroup(_))
        ));
        assert_eq!(group_id("0").unwrap(), Gid::from_raw(0));
    }
}
