//! The privilege boundary of a roost started as root (issue 9, points 5 and 6):
//!
//! * the root launcher, spoken to over the very socket the unprivileged server holds (taken
//!   from the running server with pidfd_getfd, as a compromised server would use it), refuses
//!   every helper spec, file and socket path that is not in the configuration, logs it, and
//!   keeps its helper cap;
//! * base_dir has Dovecot 2.3's owners and modes for the same listeners, before and after
//!   SIGHUP, foreign files in it keep their owner, and a local user outside the login group
//!   cannot connect to `login/login`.
//!
//! Needs root and `ss` (iproute2).

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{connect_as, Launch, Server, Signal, TempDir};
use roost::privsep::{frame, HelperSpec};

fn is_root() -> bool {
    // SAFETY: plain getter.
    unsafe { libc::geteuid() == 0 }
}

fn status_field(pid: i32, key: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

/// Live (not zombie) processes whose parent is `parent` and whose command line has `word`.
fn children_with(parent: i32, word: &[u8]) -> Vec<i32> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let ppid = status_field(pid, "PPid:").parse::<i32>().ok();
        let zombie = status_field(pid, "State:").starts_with('Z');
        if ppid == Some(parent) && !zombie && cmd.split(|&b| b == 0).any(|a| a == word) {
            v.push(pid);
        }
    }
    v
}

fn user(name: &str) -> nix::unistd::User {
    nix::unistd::User::from_name(name)
        .unwrap()
        .unwrap_or_else(|| panic!("user {name} must exist"))
}

/// Starts roost as root on `extra` with `prepare` run on the fresh base_dir first; returns
/// once it has dropped privileges.
fn start(tag: &str, extra: &str, prepare: impl FnOnce(&Path)) -> Server {
    let launch = Launch::new(tag).config(extra);
    let base_dir = launch.dir().join("run");
    std::fs::create_dir_all(&base_dir).unwrap();
    prepare(&base_dir);
    let server = launch.start();
    assert!(
        server.wait_log(
            "dropped privileges to default_internal_user",
            Duration::from_secs(15)
        ),
        "roost did not drop privileges: {}",
        server.log_text()
    );
    server
}

/// `socket:[N]` → N.
fn socket_inode(pid: i32, fd: i32) -> Option<u64> {
    let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
    link.to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// A duplicate of the server's end of its launcher socket: the peer (found with `ss -x`) of
/// the launcher's fd 3, taken out of the server process with pidfd_getfd(2).
fn steal_launcher_socket(server: i32, launcher: i32) -> UnixStream {
    let ours = socket_inode(launcher, 3).expect("launcher fd 3 is a socket");
    let ss = Command::new("ss")
        .arg("-xn")
        .output()
        .expect("ss (iproute2) must be installed");
    let text = String::from_utf8_lossy(&ss.stdout);
    let peer: u64 = text
        .lines()
        .find_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() >= 8 && w[5] == ours.to_string())
                .then(|| w[7].parse().ok())
                .flatten()
        })
        .unwrap_or_else(|| panic!("launcher socket {ours} not in ss output:\n{text}"));
    let fd = std::fs::read_dir(format!("/proc/{server}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find(|&fd| socket_inode(server, fd) == Some(peer))
        .expect("the server holds the launcher's peer socket");
    // SAFETY: raw syscalls with checked results; the new descriptor is ours to own.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, server, 0) as i32;
        assert!(
            pidfd >= 0,
            "pidfd_open: {}",
            std::io::Error::last_os_error()
        );
        let got = libc::syscall(libc::SYS_pidfd_getfd, pidfd, fd, 0) as i32;
        let err = std::io::Error::last_os_error();
        libc::close(pidfd);
        assert!(got >= 0, "pidfd_getfd: {err}");
        UnixStream::from(OwnedFd::from_raw_fd(got))
    }
}

/// One request on the launcher socket: the reply and the descriptor that came with it.
fn ask(sock: &UnixStream, req: &str) -> (String, Option<OwnedFd>) {
    frame::send_with_fd(sock.as_raw_fd(), req.as_bytes(), None).unwrap();
    let (reply, fd) = frame::recv_with_fd(sock.as_raw_fd())
        .unwrap()
        .expect("launcher answered");
    (String::from_utf8(reply).unwrap(), fd)
}

/// One request to a helper over its socket.
fn helper_request(s: &mut UnixStream, req: &str) -> String {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&frame::encode(req.as_bytes())).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).unwrap();
    String::from_utf8(buf).unwrap()
}

fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn a_compromised_server_gets_only_what_the_configuration_allows() {
    assert!(is_root(), "this test needs root");
    let files = TempDir::new("privsep-files");
    let shadow = files.0.join("shadow");
    write_private(&shadow, "sam:$6$configured$hash:19000::::::\n");
    // A root-only file the configuration does not name.
    let secret = files.0.join("secret");
    write_private(&secret, "root:TOPSECRET:19000::::::\n");
    let extra = format!(
        "default_internal_user = \"nobody\"\nauth_worker_max_count = 2\n\n[[passdb]]\ndriver = \"shadow\"\nargs = \"file={}\"\n",
        shadow.display()
    );
    let server = start("privsep-compromised", &extra, |_| {});
    let launchers = children_with(server.pid(), b"__launcher");
    assert_eq!(launchers.len(), 1, "one launcher");
    let launcher = launchers[0];
    assert!(status_field(launcher, "Uid:").starts_with("0\t"));
    let sock = steal_launcher_socket(server.pid(), launcher);
    let settings =
        roost::settings::load(&roost::settings::ConfigSource::File(server.config.clone()))
            .unwrap()
            .settings;
    let configured = HelperSpec::for_service(&settings, "auth-worker");
    assert_eq!(configured.user, "", "auth-worker runs as root");
    assert_eq!(configured.files, vec![shadow.display().to_string()]);

    // The configured spec is served; its helper reads the configured file and nothing else.
    let (reply, fd) = ask(&sock, &format!("SPAWN\t{}", configured.encode()));
    assert!(reply.starts_with("OK\t"), "{reply}");
    let mut h1 = UnixStream::from(fd.expect("helper socket"));
    assert_eq!(
        helper_request(
            &mut h1,
            &format!("PASSDB\tshadow\t{}\tsam", shadow.display())
        ),
        "OK\t$6$configured$hash"
    );
    let stolen = helper_request(
        &mut h1,
        &format!("PASSDB\tshadow\t{}\troot", secret.display()),
    );
    assert!(stolen.starts_with("FAIL\trefused"), "{stolen}");
    assert!(!stolen.contains("TOPSECRET"));
    assert!(
        helper_request(&mut h1, "PASSDB\tshadow\t/etc/shadow\troot").starts_with("FAIL\trefused")
    );

    // Every spec that is not exactly the configured one is refused.
    let variants: Vec<(&str, HelperSpec)> = vec![
        (
            "nobody with groups 0 and disk",
            HelperSpec {
                user: "nobody".into(),
                extra_groups: vec!["0".into(), "disk".into()],
                ..configured.clone()
            },
        ),
        (
            "another group",
            HelperSpec {
                group: "0".into(),
                ..configured.clone()
            },
        ),
        (
            "a chroot",
            HelperSpec {
                chroot: "/".into(),
                ..configured.clone()
            },
        ),
        (
            "no vsz_limit",
            HelperSpec {
                vsz_limit: 0,
                ..configured.clone()
            },
        ),
        (
            "a file of its choosing",
            HelperSpec {
                files: vec![secret.display().to_string()],
                ..configured.clone()
            },
        ),
        (
            "an extra file",
            HelperSpec {
                files: vec![shadow.display().to_string(), "/etc/shadow".into()],
                ..configured.clone()
            },
        ),
        (
            "an unknown helper",
            HelperSpec {
                kind: "imap".into(),
                ..configured.clone()
            },
        ),
    ];
    for (what, spec) in &variants {
        let (reply, fd) = ask(&sock, &format!("SPAWN\t{}", spec.encode()));
        assert!(reply.starts_with("ERR\t"), "{what}: {reply}");
        assert!(fd.is_none(), "{what}: no helper socket with a refusal");
    }
    // Sockets only at configured paths; other requests are refused as well.
    let victim = files.0.join("victim");
    write_private(&victim, "keep\n");
    let refused = [
        format!("LISTEN\t16\t{}", victim.display()),
        format!("LISTEN\t16\t{}", server.base_dir.join("evil").display()),
        format!(
            "LISTEN\t16\t{}/../run/auth-master",
            server.base_dir.display()
        ),
        "LISTEN\t16\t/etc/passwd".to_string(),
        "RELOAD\tbase_dir = \"/\"".to_string(),
        "EXEC\t/bin/sh".to_string(),
        "SPAWN\tkind=auth-worker\tuser=root\tbogus=1".to_string(),
        // Log files: only the configured ones (a root-only file opened for appending would
        // let the server write into it).
        format!("LOG-OPEN\t{}", victim.display()),
        "LOG-OPEN\t/etc/passwd".to_string(),
        format!("LOG-OPEN\t{}/../victim", server.log.display()),
    ];
    for req in &refused {
        let (reply, fd) = ask(&sock, req);
        assert!(reply.starts_with("ERR\t"), "{req}: {reply}");
        assert!(fd.is_none(), "{req}");
    }
    let m = std::fs::symlink_metadata(&victim).unwrap();
    assert!(m.is_file() && m.mode() & 0o777 == 0o600 && m.uid() == 0);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\n");
    assert!(!server.base_dir.join("evil").exists());
    // The configured log file is opened for the server (`log reopen` after the drop).
    let (reply, fd) = ask(&sock, &format!("LOG-OPEN\t{}", server.log.display()));
    assert_eq!(reply, "OK", "{reply}");
    assert!(fd.is_some());
    // Every refusal is in roost's log, written by the launcher itself.
    let deadline = Instant::now() + Duration::from_secs(5);
    let want = variants.len() + refused.len();
    let count = || server.log_text().matches("launcher: refused").count();
    while count() < want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(count(), want, "{}", server.log_text());
    assert!(server.log_text().contains("no helper service 'imap'"));

    // The helper cap: 2 × auth_worker_max_count (a generation and one draining) = 4 live.
    let mut held = vec![h1];
    for _ in 0..3 {
        let (reply, fd) = ask(&sock, &format!("SPAWN\t{}", configured.encode()));
        assert!(reply.starts_with("OK\t"), "{reply}");
        held.push(UnixStream::from(fd.unwrap()));
    }
    assert_eq!(children_with(launcher, b"__helper").len(), 4);
    let (reply, fd) = ask(&sock, &format!("SPAWN\t{}", configured.encode()));
    assert_eq!(reply, "ERR\trefused: helper limit reached (4 live helpers)");
    assert!(fd.is_none());
    assert_eq!(children_with(launcher, b"__helper").len(), 4);
    // A helper that goes away frees its slot.
    drop(held.pop());
    let (reply, fd) = ask(&sock, &format!("SPAWN\t{}", configured.encode()));
    assert!(reply.starts_with("OK\t"), "{reply}");
    held.push(UnixStream::from(fd.unwrap()));
    assert_eq!(children_with(launcher, b"__helper").len(), 4);
    drop(held);
    drop(sock);
}

/// Who owns an entry of the expected table.
#[derive(Clone, Copy, Debug)]
enum Who {
    Root,
    /// `default_internal_user` (Dovecot's `dovecot`).
    Internal,
    /// `default_login_user`'s primary group (Dovecot's `dovenull`).
    LoginGroup,
    /// `default_login_user` (Dovecot's `dovenull`).
    LoginUser,
}

/// base_dir of Dovecot 2.3.19.1 (Debian 12 packages) for the listeners roost opens here (the
/// anvil, auth, config, doveadm, ipc, log and stats services' unix listeners and the master socket), measured by starting
/// /work/shared/dovecot-reference/start.sh (default_internal_user = dovecot,
/// default_login_user = dovenull) and running `find base -printf '%M %u:%g %y %p\n'`, before
/// and after `doveadm reload` (identical; the sockets are recreated):
///
/// ```text
/// drwxr-xr-x root:root     .            srw------- dovecot:root auth-client
/// srw------- dovecot:root  auth-login   srw------- root:root    auth-master
/// srw-rw-rw- dovecot:root  auth-userdb  drwxr-x--- root:dovenull login
/// srw-rw-rw- root:root     login/login  srw------- root:root    master
/// drwxr-x--- root:dovenull token-login  srw-rw-rw- root:root    token-login/tokenlogin
/// srw------- dovecot:root  ipc          srw------- dovenull:root login/ipc-proxy
/// srw------- root:root     log-errors   srw------- root:root    anvil
/// srw------- root:root     anvil-auth-penalty   srw------- root:root stats-reader
/// ```
const DOVECOT_BASE_DIR: &[(&str, char, u32, Who, Who)] = &[
    (".", 'd', 0o755, Who::Root, Who::Root),
    ("anvil", 's', 0o600, Who::Root, Who::Root),
    ("anvil-auth-penalty", 's', 0o600, Who::Root, Who::Root),
    ("auth-client", 's', 0o600, Who::Internal, Who::Root),
    ("auth-login", 's', 0o600, Who::Internal, Who::Root),
    ("auth-master", 's', 0o600, Who::Root, Who::Root),
    ("auth-userdb", 's', 0o666, Who::Internal, Who::Root),
    ("config", 's', 0o600, Who::Root, Who::Root),
    ("doveadm-server", 's', 0o600, Who::Root, Who::Root),
    ("ipc", 's', 0o600, Who::Internal, Who::Root),
    ("log-errors", 's', 0o600, Who::Root, Who::Root),
    ("login", 'd', 0o750, Who::Root, Who::LoginGroup),
    ("login/ipc-proxy", 's', 0o600, Who::LoginUser, Who::Root),
    ("login/login", 's', 0o666, Who::Root, Who::Root),
    ("master", 's', 0o600, Who::Root, Who::Root),
    ("stats-reader", 's', 0o600, Who::Root, Who::Root),
    ("token-login", 'd', 0o750, Who::Root, Who::LoginGroup),
    ("token-login/tokenlogin", 's', 0o666, Who::Root, Who::Root),
];

/// Every socket and directory under `base`: (relative path, type, mode, uid, gid).
fn sockets_and_dirs(base: &Path) -> Vec<(String, char, u32, u32, u32)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, char, u32, u32, u32)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            let rel = e.path().strip_prefix(base).unwrap().display().to_string();
            let ft = m.file_type();
            use std::os::unix::fs::FileTypeExt;
            if ft.is_dir() {
                out.push((rel, 'd', m.mode() & 0o7777, m.uid(), m.gid()));
                walk(base, &e.path(), out);
            } else if ft.is_socket() {
                out.push((rel, 's', m.mode() & 0o7777, m.uid(), m.gid()));
            }
        }
    }
    let m = std::fs::metadata(base).unwrap();
    let mut out = vec![(".".to_string(), 'd', m.mode() & 0o7777, m.uid(), m.gid())];
    walk(base, base, &mut out);
    out.sort();
    out
}

/// Runs in a re-executed copy of this test binary under another uid/gid
/// ([`common::connect_as`]).
#[test]
fn connect_child() {
    common::connect_child()
}

#[test]
fn base_dir_matches_dovecot_before_and_after_sighup() {
    assert!(is_root(), "this test needs root");
    // nobody is the internal user; daemon (not nobody) is the login user, whose group owns
    // the login directories.
    let internal = user("nobody");
    let login = user("daemon");
    let extra = "default_internal_user = \"nobody\"\ndefault_login_user = \"daemon\"\n";
    let server = start("privsep-basedir", extra, |base| {
        // Foreign root-only files, one in a login directory that roost will correct.
        write_private(&base.join("foreign"), "root's\n");
        std::fs::create_dir_all(base.join("login")).unwrap();
        write_private(&base.join("login/foreign"), "root's\n");
    });
    let expected: Vec<(String, char, u32, u32, u32)> = {
        let id = |w: Who, group: bool| match w {
            Who::Root => 0,
            Who::Internal if group => internal.gid.as_raw(),
            Who::Internal => internal.uid.as_raw(),
            Who::LoginGroup => login.gid.as_raw(),
            Who::LoginUser => login.uid.as_raw(),
        };
        let mut v: Vec<_> = DOVECOT_BASE_DIR
            .iter()
            .map(|&(p, t, mode, u, g)| (p.to_string(), t, mode, id(u, false), id(g, true)))
            .collect();
        v.sort();
        v
    };
    assert_eq!(sockets_and_dirs(&server.base_dir), expected, "at start-up");
    for f in ["foreign", "login/foreign"] {
        let m = std::fs::metadata(server.base_dir.join(f)).unwrap();
        assert_eq!((m.uid(), m.gid(), m.mode() & 0o777), (0, 0, 0o600), "{f}");
    }
    let login_login = server.base_dir.join("login/login");
    assert_eq!(
        connect_as(internal.uid.as_raw(), internal.gid.as_raw(), &login_login),
        "err:PermissionDenied",
        "nobody cannot reach login/login"
    );
    // A member of the login group can (as Dovecot's login processes can).
    assert_eq!(
        connect_as(internal.uid.as_raw(), login.gid.as_raw(), &login_login),
        "ok"
    );

    let before = std::fs::metadata(server.base_dir.join("auth-master"))
        .unwrap()
        .ino();
    server.signal(Signal::SIGHUP);
    assert!(
        server.wait_log("configuration reloaded", Duration::from_secs(10)),
        "{}",
        server.log_text()
    );
    let after = std::fs::metadata(server.base_dir.join("auth-master"))
        .unwrap()
        .ino();
    assert_ne!(before, after, "the reload recreated the unix sockets");
    assert_eq!(
        sockets_and_dirs(&server.base_dir),
        expected,
        "after SIGHUP\n{}",
        server.log_text()
    );
    assert_eq!(
        connect_as(internal.uid.as_raw(), internal.gid.as_raw(), &login_login),
        "err:PermissionDenied"
    );
    // The recreated sockets are served by the new generation: auth greets on auth-client.
    let mut c = UnixStream::connect(server.base_dir.join("auth-client")).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut greeting = [0u8; 8];
    c.read_exact(&mut greeting).unwrap();
    assert_eq!(&greeting, b"VERSION\t");
    drop(c);
    let r = server.cli(&["reload"]);
    assert!(r.ok, "{}", r.all());
    let r = server.cli(&["stop"]);
    assert!(r.ok, "{}", r.all());
    assert!(!server.base_dir.join("master.pid").exists());
    let m = std::fs::metadata(server.base_dir.join("foreign")).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o777), (0, 0o600));
}
