//! The launcher: a small process that keeps root while the server drops privileges, and spawns
//! helpers on request (`SPAWN\t<spec>` → `OK\t<pid>` plus the helper's socket as SCM_RIGHTS,
//! or `ERR\t<message>`). Each helper is the roost binary re-executed as
//! `roost __helper <spec>` with its end of a socketpair on fd 3; the launcher reaps it when it
//! exits. Without root, [`Launcher::direct`] spawns helpers from the server itself, refusing
//! specs that need another uid.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use super::{frame, HelperSpec, PrivsepError, HELPER_CMD, LAUNCHER_CMD};

/// The running binary, re-executed for the launcher and helpers.
const SELF_EXE: &str = "/proc/self/exe";

/// A running helper: its pid and the server's end of its socket.
pub struct HelperConn {
    pub pid: u32,
    pub stream: UnixStream,
}

/// How the server gets helpers.
pub enum Launcher {
    /// A root launcher process reached over this socket.
    Process { sock: Mutex<UnixStream>, pid: u32 },
    /// Spawn directly from this process (roost not started as root, or tests).
    Direct,
}

fn io(what: &str) -> impl FnOnce(std::io::Error) -> PrivsepError + '_ {
    move |source| PrivsepError::Io {
        what: what.to_string(),
        source,
    }
}

/// Spawns `exe <args…>` with `fd` as its fd 3 and a thread that reaps it.
fn spawn_exe(exe: &Path, args: &[&str], fd: RawFd) -> Result<u32, PrivsepError> {
    let mut cmd = Command::new(exe);
    cmd.args(args).stdin(Stdio::null());
    // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if fd == 3 {
                let flags = libc::fcntl(3, libc::F_GETFD);
                libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            } else if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(io("spawn helper"))?;
    let pid = child.id();
    std::thread::Builder::new()
        .name(format!("reap-{pid}"))
        .spawn(move || {
            let _ = child.wait();
        })
        .map_err(io("spawn reaper thread"))?;
    Ok(pid)
}

/// Spawns a helper for `spec` from the current process.
pub fn spawn_helper(spec: &HelperSpec) -> Result<HelperConn, PrivsepError> {
    let (ours, theirs) = UnixStream::pair().map_err(io("socketpair"))?;
    let encoded = spec.encode();
    let pid = spawn_exe(
        Path::new(SELF_EXE),
        &[HELPER_CMD, &encoded],
        theirs.as_raw_fd(),
    )?;
    drop(theirs);
    Ok(HelperConn { pid, stream: ours })
}

impl Launcher {
    /// Starts the launcher process (call while still root, before dropping privileges).
    pub fn start() -> Result<Launcher, PrivsepError> {
        Self::start_with(Path::new(SELF_EXE))
    }

    /// Starts the launcher from the roost binary at `exe` (tests run it from another binary).
    pub fn start_with(exe: &Path) -> Result<Launcher, PrivsepError> {
        let (ours, theirs) = UnixStream::pair().map_err(io("socketpair"))?;
        let pid = spawn_exe(exe, &[LAUNCHER_CMD], theirs.as_raw_fd())?;
        drop(theirs);
        Ok(Launcher::Process {
            sock: Mutex::new(ours),
            pid,
        })
    }

    pub fn direct() -> Launcher {
        Launcher::Direct
    }

    /// A new helper (blocking: call from a blocking thread).
    pub fn spawn(&self, spec: &HelperSpec) -> Result<HelperConn, PrivsepError> {
        match self {
            Launcher::Direct => {
                if spec.needs_root() {
                    return Err(PrivsepError::NeedsRoot {
                        service: spec.kind.clone(),
                        user: if spec.user.is_empty() {
                            "root".into()
                        } else {
                            spec.user.clone()
                        },
                        uid: nix::unistd::geteuid().as_raw(),
                    });
                }
                spawn_helper(spec)
            }
            Launcher::Process { sock, .. } => {
                let sock = sock.lock().expect("launcher socket lock");
                let fd = sock.as_raw_fd();
                frame::send_with_fd(fd, format!("SPAWN\t{}", spec.encode()).as_bytes(), None)?;
                let (reply, passed) = frame::recv_with_fd(fd)?
                    .ok_or_else(|| PrivsepError::Protocol("launcher closed its socket".into()))?;
                let reply = String::from_utf8_lossy(&reply).into_owned();
                match (reply.split_once('\t'), passed) {
                    (Some(("OK", pid)), Some(fd)) => Ok(HelperConn {
                        pid: pid
                            .parse()
                            .map_err(|_| PrivsepError::Protocol(reply.clone()))?,
                        stream: UnixStream::from(fd),
                    }),
                    (Some(("ERR", msg)), _) => Err(PrivsepError::Protocol(msg.to_string())),
                    _ => Err(PrivsepError::Protocol(format!(
                        "bad launcher reply {reply:?}"
                    ))),
                }
            }
        }
    }
}

/// `roost __launcher`: serves SPAWN requests on fd 3 until the server goes away.
pub fn launcher_main() -> Result<(), PrivsepError> {
    super::restrict::close_inherited(&[0, 1, 2, 3]);
    let sock: RawFd = 3;
    loop {
        let Some((req, _)) = frame::recv_with_fd(sock)? else {
            return Ok(());
        };
        let req = String::from_utf8_lossy(&req).into_owned();
        let result = match req.split_once('\t') {
            Some(("SPAWN", spec)) => HelperSpec::decode(spec).and_then(|s| spawn_helper(&s)),
            _ => Err(PrivsepError::Protocol(format!(
                "unknown launcher request {req:?}"
            ))),
        };
        match result {
            Ok(h) => {
                let fd: OwnedFd = h.stream.into();
                frame::send_with_fd(
                    sock,
                    format!("OK\t{}", h.pid).as_bytes(),
                    Some(fd.as_raw_fd()),
                )?;
            }
            Err(e) => frame::send_with_fd(sock, format!("ERR\t{e}").as_bytes(), None)?,
        }
    }
}
