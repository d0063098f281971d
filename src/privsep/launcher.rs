//! The launcher: a small process that keeps root while the server drops privileges. It reads
//! the configuration itself (`roost [-c FILE] __launcher`), says `READY` (or `ERR\t<why>`),
//! then serves requests from the server, each checked against its own [`Policy`]:
//!
//! * `SPAWN\t<spec>` → `OK\t<pid>` plus the helper's socket (SCM_RIGHTS): the spec must be a
//!   configured helper's, and fewer than `max_helpers` may be alive; a `mail` helper's uid/gid
//!   must be allowed by the configuration's valid uid/gid ranges (see [`Policy::check_mail_spawn`]),
//!   at most `mail.max_helpers` of them;
//! * `LISTEN\t<backlog>\t<path>` → `OK` plus a listening unix socket: a configured listener;
//! * `RELOAD` → `OK`: re-reads the configuration file (root-owned, not group/other-writable);
//! * `LOG-REOPEN` → `OK`: reopens the launcher's own log files (`log reopen`);
//! * `LOG-OPEN\t<path>` → `OK` plus the file opened for appending (0600, created by root, no
//!   symlink followed): only a `log_path`/`info_log_path`/`debug_log_path` of the configuration;
//! * anything else, or a refused request → `ERR\t<message>`, logged.
//!
//! Each helper is the roost binary re-executed as `roost __helper <spec>` with its end of a
//! socketpair on fd 3; the launcher reaps it when it exits. When the server's socket closes,
//! the launcher removes the server's pid file and exits. Without root, [`Launcher::direct`]
//! spawns helpers from the server itself, refusing specs that need another uid.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::settings::{load, ConfigSource};

use super::error::PrivsepError;
use super::policy::{Policy, Refusal, MAIL_KIND};
use super::spec::{HelperSpec, HELPER_CMD, LAUNCHER_CMD};
use super::{basedir, frame};

/// The running binary, re-executed for the launcher and helpers.
const SELF_EXE: &str = "/proc/self/exe";

/// How long a `SPAWN` at the helper limit waits for a helper to exit before it is refused
/// (a retired helper may not have been reaped yet).
const LIMIT_WAIT: Duration = Duration::from_secs(2);

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

/// Called by the reaper thread once a spawned process has exited.
type OnExit = Box<dyn FnOnce() + Send>;

/// Spawns `exe <args…>` with `fd` as its fd 3 and a thread that reaps it (then runs `on_exit`).
fn spawn_exe(
    exe: &Path,
    args: &[OsString],
    fd: RawFd,
    on_exit: Option<OnExit>,
) -> Result<u32, PrivsepError> {
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
            if let Some(f) = on_exit {
                f();
            }
        })
        .map_err(io("spawn reaper thread"))?;
    Ok(pid)
}

fn spawn_counted(spec: &HelperSpec, on_exit: Option<OnExit>) -> Result<HelperConn, PrivsepError> {
    let (ours, theirs) = UnixStream::pair().map_err(io("socketpair"))?;
    let pid = spawn_exe(
        Path::new(SELF_EXE),
        &[HELPER_CMD.into(), spec.encode().into()],
        theirs.as_raw_fd(),
        on_exit,
    )?;
    drop(theirs);
    Ok(HelperConn { pid, stream: ours })
}

/// Spawns a helper for `spec` from the current process.
pub fn spawn_helper(spec: &HelperSpec) -> Result<HelperConn, PrivsepError> {
    spawn_counted(spec, None)
}

impl Launcher {
    /// Starts the launcher process (call while still root, before dropping privileges); it
    /// reads the configuration from `source` itself.
    pub fn start(source: &ConfigSource) -> Result<Launcher, PrivsepError> {
        Self::start_with(Path::new(SELF_EXE), source)
    }

    /// Starts the launcher from the roost binary at `exe` (tests run it from another binary)
    /// and waits until it has read the configuration.
    pub fn start_with(exe: &Path, source: &ConfigSource) -> Result<Launcher, PrivsepError> {
        let (ours, theirs) = UnixStream::pair().map_err(io("socketpair"))?;
        let mut args: Vec<OsString> = Vec::new();
        if let ConfigSource::File(p) = source {
            args.push("-c".into());
            args.push(p.clone().into_os_string());
        }
        args.push(LAUNCHER_CMD.into());
        let pid = spawn_exe(exe, &args, theirs.as_raw_fd(), None)?;
        drop(theirs);
        let launcher = Launcher::Process {
            sock: Mutex::new(ours),
            pid,
        };
        let Launcher::Process { sock, .. } = &launcher else {
            unreachable!()
        };
        let (hello, _) = {
            let s = sock.lock().expect("launcher socket lock");
            frame::recv_with_fd(s.as_raw_fd())?
        }
        .ok_or_else(|| PrivsepError::Launcher("the launcher exited before it was ready".into()))?;
        match String::from_utf8_lossy(&hello).split_once('\t') {
            None if hello == b"READY" => Ok(launcher),
            Some(("ERR", why)) => Err(PrivsepError::Launcher(why.to_string())),
            _ => Err(PrivsepError::Protocol(format!(
                "bad launcher greeting {:?}",
                String::from_utf8_lossy(&hello)
            ))),
        }
    }

    pub fn direct() -> Launcher {
        Launcher::Direct
    }

    /// One request to the launcher process: the reply after `OK` and the descriptor, if any.
    fn request(&self, req: &str) -> Result<(String, Option<OwnedFd>), PrivsepError> {
        let Launcher::Process { sock, .. } = self else {
            return Err(PrivsepError::Launcher("no launcher process".into()));
        };
        let sock = sock.lock().expect("launcher socket lock");
        let fd = sock.as_raw_fd();
        frame::send_with_fd(fd, req.as_bytes(), None)?;
        let (reply, passed) = frame::recv_with_fd(fd)?
            .ok_or_else(|| PrivsepError::Launcher("the launcher closed its socket".into()))?;
        let reply = String::from_utf8_lossy(&reply).into_owned();
        match reply.split_once('\t').unwrap_or((&reply, "")) {
            ("OK", rest) => Ok((rest.to_string(), passed)),
            ("ERR", msg) => Err(PrivsepError::Launcher(msg.to_string())),
            _ => Err(PrivsepError::Protocol(format!(
                "bad launcher reply {reply:?}"
            ))),
        }
    }

    /// A new helper (blocking: call from a blocking thread).
    pub fn spawn(&self, spec: &HelperSpec) -> Result<HelperConn, PrivsepError> {
        if let Launcher::Direct = self {
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
            return spawn_helper(spec);
        }
        let (pid, fd) = self.request(&format!("SPAWN\t{}", spec.encode()))?;
        let fd = fd.ok_or_else(|| PrivsepError::Protocol("SPAWN reply without a socket".into()))?;
        Ok(HelperConn {
            pid: pid
                .parse()
                .map_err(|_| PrivsepError::Protocol(format!("SPAWN reply pid {pid:?}")))?,
            stream: UnixStream::from(fd),
        })
    }

    /// A listening unix socket at a configured path, created by the launcher (blocking).
    pub fn listen(&self, path: &Path, backlog: i32) -> Result<socket2::Socket, PrivsepError> {
        let (_, fd) = self.request(&format!("LISTEN\t{backlog}\t{}", path.display()))?;
        let fd =
            fd.ok_or_else(|| PrivsepError::Protocol("LISTEN reply without a socket".into()))?;
        Ok(socket2::Socket::from(fd))
    }

    /// Makes the launcher re-read the configuration file (blocking).
    pub fn reload(&self) -> Result<(), PrivsepError> {
        self.request("RELOAD").map(|_| ())
    }

    /// Makes the launcher reopen its own log files (blocking).
    pub fn reopen_logs(&self) -> Result<(), PrivsepError> {
        match self {
            Launcher::Direct => Ok(()),
            Launcher::Process { .. } => self.request("LOG-REOPEN").map(|_| ()),
        }
    }

    /// A configured log file opened by the launcher for appending (blocking).
    pub fn open_log(&self, path: &str) -> Result<std::fs::File, PrivsepError> {
        let (_, fd) = self.request(&format!("LOG-OPEN\t{path}"))?;
        let fd =
            fd.ok_or_else(|| PrivsepError::Protocol("LOG-OPEN reply without a file".into()))?;
        Ok(std::fs::File::from(fd))
    }
}

/// For `roost serve`: when running as root, starts the launcher (which reads `source` itself)
/// and puts it in the hub, so that services built afterwards (auth) get helpers from it. Call
/// after binding listeners and before building services; then call
/// [`restrict::drop_privileges`] with `default_internal_user`. Returns whether a launcher was
/// started.
pub fn start_launcher(
    hub: &crate::runtime::Hub,
    source: &crate::settings::ConfigSource,
) -> Result<bool, PrivsepError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(false);
    }
    hub.insert(std::sync::Arc::new(Launcher::start(source)?));
    Ok(true)
}

/// Live helpers of the launcher, with a wake-up when one exits.
#[derive(Default)]
struct Live {
    n: Mutex<usize>,
    exited: Condvar,
}

/// The launcher's state: where its configuration comes from and what it allows.
struct State {
    source: ConfigSource,
    policy: Policy,
    live: Arc<Live>,
    /// Mail helpers, counted apart from the other helpers.
    mail_live: Arc<Live>,
}

impl State {
    fn spawn(&self, spec: &str) -> Result<HelperConn, PrivsepError> {
        let requested = HelperSpec::decode(spec)?;
        let refused = |r: Refusal| PrivsepError::Refused(r.to_string());
        // Mail helpers: a uid/gid the configuration allows, everything else from the policy.
        let (spec, live, max) = if requested.kind == MAIL_KIND {
            let spec = self.policy.check_mail_spawn(&requested).map_err(refused)?;
            (spec, &self.mail_live, self.policy.mail.max_helpers)
        } else {
            let spec = self
                .policy
                .check_spawn(&requested)
                .map_err(refused)?
                .clone();
            (spec, &self.live, self.policy.max_helpers)
        };
        let deadline = Instant::now() + LIMIT_WAIT;
        let mut n = live.n.lock().expect("live lock");
        while *n >= max {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(PrivsepError::Refused(Refusal::HelperLimit(max).to_string()));
            }
            n = live.exited.wait_timeout(n, left).expect("live lock").0;
        }
        *n += 1;
        drop(n);
        let counted = live.clone();
        let on_exit: OnExit = Box::new(move || {
            *counted.n.lock().expect("live lock") -= 1;
            counted.exited.notify_all();
        });
        let live = live.clone();
        spawn_counted(&spec, Some(on_exit)).inspect_err(|_| {
            *live.n.lock().expect("live lock") -= 1;
        })
    }

    fn reload(&mut self) -> Result<(), PrivsepError> {
        if let ConfigSource::File(p) = &self.source {
            let m = std::fs::metadata(p).map_err(io("stat the configuration file"))?;
            if m.uid() != 0 || m.mode() & 0o022 != 0 {
                return Err(PrivsepError::Refused(format!(
                    "{} is not owned by root or is writable by others; not re-read",
                    p.display()
                )));
            }
        }
        let loaded = load(&self.source).map_err(|e| PrivsepError::Launcher(e.to_string()))?;
        let mut policy = Policy::from_settings(&loaded.settings);
        // The server keeps the log files it started with until it restarts: those stay
        // reopenable.
        policy.log_paths.append(&mut self.policy.log_paths);
        policy.log_paths.sort();
        policy.log_paths.dedup();
        self.policy = policy;
        tracing::info!(
            "launcher: configuration re-read ({} helper services, at most {} helpers, {} unix sockets)",
            self.policy.helpers.len(),
            self.policy.max_helpers,
            self.policy.sockets.len()
        );
        Ok(())
    }

    /// Answers one request: the reply text and the descriptor to pass with it.
    fn handle(&mut self, req: &str) -> Result<(String, Option<OwnedFd>), PrivsepError> {
        let (verb, rest) = req.split_once('\t').unwrap_or((req, ""));
        match verb {
            "SPAWN" => {
                let h = self.spawn(rest)?;
                tracing::debug!("launcher: helper started (pid {})", h.pid);
                Ok((format!("OK\t{}", h.pid), Some(h.stream.into())))
            }
            "LISTEN" => {
                let (backlog, path) = rest
                    .split_once('\t')
                    .ok_or_else(|| PrivsepError::Protocol(format!("LISTEN {rest:?}")))?;
                let backlog: i32 = backlog
                    .parse()
                    .map_err(|_| PrivsepError::Protocol(format!("LISTEN backlog {backlog:?}")))?;
                let s = basedir::bind_socket(&self.policy, Path::new(path), backlog)?;
                Ok(("OK".into(), Some(s.into())))
            }
            "RELOAD" if rest.is_empty() => {
                self.reload()?;
                Ok(("OK".into(), None))
            }
            "LOG-REOPEN" if rest.is_empty() => {
                crate::log::reopen().map_err(|e| PrivsepError::Launcher(e.to_string()))?;
                Ok(("OK".into(), None))
            }
            "LOG-OPEN" => {
                if !self.policy.log_paths.iter().any(|p| p == rest) {
                    return Err(PrivsepError::Refused(
                        Refusal::UnknownLogFile(rest.to_string()).to_string(),
                    ));
                }
                let f =
                    crate::log::sink::open_log_file(rest, true).map_err(io("open a log file"))?;
                Ok(("OK".into(), Some(f.into())))
            }
            _ => Err(PrivsepError::Protocol(format!(
                "unknown launcher request {:?}",
                req.chars().take(60).collect::<String>()
            ))),
        }
    }
}

/// `roost [-c FILE] __launcher`: reads the configuration, then serves requests on fd 3 until
/// the server goes away.
pub fn launcher_main(source: ConfigSource) -> Result<(), PrivsepError> {
    super::restrict::close_inherited(&[0, 1, 2, 3]);
    let sock: RawFd = 3;
    let server = nix::unistd::getppid();
    let loaded = match load(&source) {
        Ok(l) => l,
        Err(e) => {
            frame::send_with_fd(sock, format!("ERR\t{e}").as_bytes(), None)?;
            return Err(PrivsepError::Launcher(e.to_string()));
        }
    };
    // Refusals go to roost's log; a log that cannot be opened leaves them on stderr.
    if let Err(e) = crate::log::init(&loaded.settings.core) {
        eprintln!("roost launcher: cannot open the log: {e}");
    }
    // base_dir is the one the server started with, whatever a reload says later.
    let pid_path = loaded.settings.core.base_dir.join("master.pid");
    let mut state = State {
        source,
        policy: Policy::from_settings(&loaded.settings),
        live: Arc::new(Live::default()),
        mail_live: Arc::new(Live::default()),
    };
    frame::send_with_fd(sock, b"READY", None)?;
    while let Some((req, _)) = frame::recv_with_fd(sock)? {
        let req = String::from_utf8_lossy(&req).into_owned();
        match state.handle(&req) {
            Ok((reply, fd)) => {
                frame::send_with_fd(sock, reply.as_bytes(), fd.as_ref().map(|f| f.as_raw_fd()))?
            }
            Err(e) => {
                tracing::error!(
                    "launcher: refused {:?}: {e}",
                    req.chars().take(200).collect::<String>()
                );
                frame::send_with_fd(sock, format!("ERR\t{e}").as_bytes(), None)?;
            }
        }
    }
    // The server has exited (or closed its end): its pid file is root's to remove.
    if std::fs::read_to_string(&pid_path).is_ok_and(|t| t.trim() == server.to_string()) {
        let _ = std::fs::remove_file(&pid_path);
    }
    Ok(())
}
