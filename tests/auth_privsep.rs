//! The `shadow` passdb and `passwd` userdb through auth-worker helper processes: the helper is
//! a real process (checked in /proc: uid, RLIMIT_AS from `vsz_limit`, NoNewPrivs), killing it
//! is survived (a new helper serves the next request), and a helper `user` is applied. Needs
//! root and doveadm; fails otherwise.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Pids of `roost __helper` processes whose parent is `parent`.
fn helpers(parent: i32) -> Vec<i32> {
    children_with(parent, b"__helper")
}

fn status_field(pid: i32, key: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

fn max_address_space(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/limits"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Max address space"))
        .map(|l| l.split_whitespace().nth(3).unwrap_or("").to_string())
        .unwrap_or_default()
}

/// `doveadm auth test` for the shadow user `sam` through the server's auth-client socket.
fn shadow_login(server: &Server) -> (i32, String) {
    let sock = server.base_dir.join("auth-client");
    doveadm(&[
        "auth",
        "test",
        "-a",
        sock.to_str().unwrap(),
        "sam",
        "shadow pw",
    ])
}

fn setup(tag: &str, worker_user: &str) -> Server {
    setup_with(tag, worker_user, "")
}

/// As [`setup`], with `prefix` (top-level settings) put first in the config.
fn setup_with(tag: &str, worker_user: &str, prefix: &str) -> Server {
    let launch = Launch::new(tag);
    let shadow = launch.dir().join("shadow");
    let (rc, hash) = doveadm(&["pw", "-s", "SHA512-CRYPT", "-p", "shadow pw"]);
    assert_eq!(rc, 0, "{hash}");
    let hash = hash.trim().trim_start_matches("{SHA512-CRYPT}");
    std::fs::write(
        &shadow,
        format!("root:*:19000:0:99999:7:::\nsam:{hash}:19000:0:99999:7:::\n"),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&shadow).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
    std::fs::set_permissions(&shadow, perms).unwrap();
    let extra = format!(
        "{prefix}auth_mechanisms = \"plain\"\n\n[[passdb]]\ndriver = \"shadow\"\nargs = \"file={}\"\n\n[[userdb]]\ndriver = \"passwd\"\n\n[service.auth-worker]\nvsz_limit = \"128 M\"\nuser = \"{worker_user}\"\n",
        shadow.display()
    );
    launch.config(&extra).start()
}

#[test]
fn shadow_through_root_helper_survives_kill() {
    assert!(nix_is_root(), "this test needs root");
    let server = setup("auth-privsep", "");
    let sock = server.base_dir.join("auth-client");
    let sock = sock.to_str().unwrap();
    let (rc, out) = doveadm(&["auth", "test", "-a", sock, "sam", "shadow pw"]);
    assert_eq!(rc, 0, "{out}\n{}", server.log_text());
    let hs = helpers(server.pid());
    assert_eq!(hs.len(), 1, "one auth-worker helper: {hs:?}");
    let h = hs[0];
    assert!(
        status_field(h, "Uid:").starts_with("0\t"),
        "helper runs as root"
    );
    assert_eq!(status_field(h, "NoNewPrivs:"), "1");
    assert_eq!(
        max_address_space(h),
        (128u64 << 20).to_string(),
        "vsz_limit is the helper's RLIMIT_AS"
    );
    let (rc, out) = doveadm(&["auth", "test", "-a", sock, "sam", "wrong"]);
    assert_ne!(rc, 0, "{out}");

    // Kill the helper: the next request gets a new one.
    unsafe {
        libc::kill(h, libc::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while helpers(server.pid()).contains(&h) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let t = Instant::now();
    let (rc, out) = doveadm(&["auth", "test", "-a", sock, "sam", "shadow pw"]);
    assert_eq!(
        rc,
        0,
        "after the helper was killed: {out}\n{}",
        server.log_text()
    );
    // The dead helper counts as a crash: its replacement starts after the 2 s throttle.
    assert!(
        t.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        t.elapsed()
    );
    assert!(
        server.log_text().contains("helper failed"),
        "{}",
        server.log_text()
    );
    let hs = helpers(server.pid());
    assert_eq!(hs.len(), 1, "{hs:?}");
    assert_ne!(hs[0], h, "a new helper process");

    // passwd userdb through the helper (doveadm itself refuses uid 0, so ask for nobody).
    let userdb = server.base_dir.join("auth-userdb");
    let (rc, out) = doveadm(&["user", "-a", userdb.to_str().unwrap(), "nobody"]);
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains("uid\t65534") && out.contains("home\t/nonexistent"),
        "{out}"
    );
}

#[test]
fn shadow_failures_are_logged_with_rip() {
    assert!(nix_is_root(), "this test needs root");
    let server = setup_with("auth-privsep-log", "", "auth_verbose = \"yes\"\n");
    let sock = server.base_dir.join("auth-client");
    let sock = sock.to_str().unwrap();
    let (rc, out) = doveadm(&[
        "auth",
        "test",
        "-a",
        sock,
        "-x",
        "rip=192.0.2.5",
        "sam",
        "wrong",
    ]);
    assert_ne!(rc, 0, "{out}");
    assert!(
        server.wait_log(
            "auth: Info: shadow(sam,192.0.2.5): Password mismatch",
            Duration::from_secs(5)
        ),
        "{}",
        server.log_text()
    );
    let (rc, out) = doveadm(&[
        "auth",
        "test",
        "-a",
        sock,
        "-x",
        "rip=192.0.2.5",
        "nosuch",
        "x",
    ]);
    assert_ne!(rc, 0, "{out}");
    assert!(
        server.wait_log(
            "auth: Info: shadow(nosuch,192.0.2.5): unknown user",
            Duration::from_secs(5)
        ),
        "{}",
        server.log_text()
    );
}

#[test]
fn helper_user_is_applied() {
    assert!(nix_is_root(), "this test needs root");
    let server = setup("auth-privsep-nobody", "nobody");
    // The shadow file is root-only, so as nobody the lookup fails (temporarily).
    let (rc, out) = shadow_login(&server);
    assert_ne!(rc, 0, "{out}");
    assert!(
        server.wait_log("Permission denied", Duration::from_secs(5)),
        "{}",
        server.log_text()
    );
    // A temporary failure is an Error line in Dovecot's shape, always written.
    assert!(
        server.wait_log("auth: Error: shadow(sam): ", Duration::from_secs(5)),
        "{}",
        server.log_text()
    );
    let hs = helpers(server.pid());
    assert_eq!(hs.len(), 1, "{hs:?}");
    let nobody = std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("nobody:x:")
                .and_then(|r| r.split(':').next().map(String::from))
        })
        .unwrap();
    assert!(
        status_field(hs[0], "Uid:").starts_with(&format!("{nobody}\t")),
        "helper uid"
    );
}

fn nix_is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn launcher_process_spawns_restricted_helpers() {
    use roost::privsep::{launcher::Launcher, HelperSpec};
    use roost::settings::{load, ConfigSource};
    use std::io::{Read, Write};
    assert!(nix_is_root(), "this test needs root");
    // The launcher reads this configuration itself: the helper spec it allows is the
    // auth-worker service's, with chroot, extra_groups, user and vsz_limit.
    let dir = TempDir::new("privsep-launcher");
    let jail = dir.0.join("jail");
    std::fs::create_dir_all(&jail).unwrap();
    let cfg = dir.0.join("roost.toml");
    std::fs::write(
        &cfg,
        format!(
            "base_dir = \"{d}/run\"\nlog_path = \"{d}/roost.log\"\n\n[[passdb]]\ndriver = \"shadow\"\n\n[service.auth-worker]\nuser = \"nobody\"\nextra_groups = \"mail\"\nchroot = \"{j}\"\nvsz_limit = \"200 M\"\n",
            d = dir.0.display(),
            j = jail.display()
        ),
    )
    .unwrap();
    let source = ConfigSource::File(cfg);
    let settings = load(&source).unwrap().settings;
    let launcher = Launcher::start_with(std::path::Path::new(BIN), &source).unwrap();
    let Launcher::Process { pid: lpid, .. } = &launcher else {
        panic!()
    };
    assert!(
        status_field(*lpid as i32, "Uid:").starts_with("0\t"),
        "the launcher keeps root"
    );
    let spec = HelperSpec::for_service(&settings, "auth-worker");
    let mut h = launcher.spawn(&spec).unwrap();
    h.stream
        .write_all(&roost::privsep::frame::encode(b"PING"))
        .unwrap();
    let mut len = [0u8; 4];
    h.stream.read_exact(&mut len).unwrap();
    let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
    h.stream.read_exact(&mut buf).unwrap();
    let reply = String::from_utf8(buf).unwrap();
    assert_eq!(reply, format!("PONG\t{}\t65534", h.pid));
    assert_eq!(max_address_space(h.pid as i32), (200u64 << 20).to_string());
    assert_eq!(
        helpers(*lpid as i32),
        [h.pid as i32],
        "the helper is the launcher's child"
    );
    let root = std::fs::read_link(format!("/proc/{}/root", h.pid)).unwrap();
    assert_eq!(root, jail, "helper is chrooted");
    let mail_gid = std::fs::read_to_string("/etc/group")
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("mail:x:")
                .and_then(|r| r.split(':').next().map(String::from))
        })
        .expect("group mail");
    let groups = status_field(h.pid as i32, "Groups:");
    assert!(
        groups.split_whitespace().any(|g| g == mail_gid),
        "extra_groups: {groups}"
    );
    // The same helper kind as another user is not in the configuration.
    let other = HelperSpec {
        user: "root".into(),
        ..spec
    };
    let err = launcher.spawn(&other).err().expect("refused");
    assert!(err.to_string().contains("refused"), "{err}");
}

#[test]
fn without_root_a_root_worker_refuses_to_start() {
    assert!(nix_is_root(), "this test needs root (to switch to nobody)");
    let dir = TempDir::new("auth-privsep-noroot");
    let mut perms = std::fs::metadata(dir.path()).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o777);
    std::fs::set_permissions(dir.path(), perms).unwrap();
    let cfg = dir.write(
        "roost.toml",
        format!(
            "base_dir = \"{d}/run\"\nlisten = \"127.0.0.1\"\nlog_path = \"{d}/roost.log\"\ndefault_internal_user = \"nobody\"\ndefault_login_user = \"nobody\"\n\n[[passdb]]\ndriver = \"shadow\"\n\n[service.stats.inet_listener.http]\nport = 0\n",
            d = dir.path().display()
        ),
    );
    let out = run_tool(
        "setpriv",
        &[
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            BIN,
            "serve",
            "-c",
            cfg.to_str().unwrap(),
        ],
    );
    let all = out.all() + &read_text(&dir.join("roost.log"));
    assert!(!out.ok, "roost must not start: {all}");
    assert!(
        all.contains("auth-worker: needs user 'root' but roost is not running as root"),
        "{all}"
    );
}

/// Live (not zombie) processes whose parent is `parent` and whose command line has `word`.
fn children_with(parent: i32, word: &[u8]) -> Vec<i32> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let ppid = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|p| p.trim().parse::<i32>().ok());
        let zombie = status
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z'));
        if ppid == Some(parent) && !zombie && cmd.split(|&b| b == 0).any(|a| a == word) {
            v.push(pid);
        }
    }
    v
}

#[test]
fn started_as_root_the_server_drops_to_default_internal_user_and_shadow_goes_through_the_launcher()
{
    assert!(nix_is_root(), "this test needs root");
    let server = setup_with(
        "auth-privsep-drop",
        "",
        "default_internal_user = \"nobody\"\n",
    );
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .unwrap()
        .uid
        .as_raw();
    // The server process itself is no longer root, for good (real, effective, saved). (The
    // stats port answers as soon as it is bound, which is before the drop: wait for it.)
    assert!(
        server.wait_log(
            "dropped privileges to default_internal_user",
            Duration::from_secs(10)
        ),
        "{}",
        server.log_text()
    );
    let uid = status_field(server.pid(), "Uid:");
    assert_eq!(
        uid.split_whitespace().collect::<Vec<_>>(),
        vec![nobody.to_string(); 4],
        "server Uid line: {uid}"
    );
    // A shadow lookup still works: the launcher kept root and its helper reads the shadow file.
    let (rc, out) = shadow_login(&server);
    assert_eq!(rc, 0, "{out}");
    let launchers = children_with(server.pid(), b"__launcher");
    assert_eq!(launchers.len(), 1, "one launcher");
    assert!(
        status_field(launchers[0], "Uid:").starts_with("0\t"),
        "launcher keeps root"
    );
    let hs = children_with(launchers[0], b"__helper");
    assert!(!hs.is_empty(), "auth-worker helper under the launcher");
    assert!(
        status_field(hs[0], "Uid:").starts_with("0\t"),
        "auth-worker runs as root"
    );
    assert!(server
        .log_text()
        .contains("dropped privileges to default_internal_user nobody"));
    // The dropped server can still reload and stop cleanly (it owns base_dir now).
    let r = server.cli(&["reload"]);
    assert!(r.ok, "{}", r.stderr);
    let r = server.cli(&["stop"]);
    assert!(r.ok, "{}", r.stderr);
    assert!(!server.base_dir.join("master.pid").exists());
}
