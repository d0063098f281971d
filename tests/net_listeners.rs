//! Listener sockets of the real binary: a unix listener's mode and owner, stale-socket
//! replacement, refusal when another server owns the socket, removal on stop, and IPv6 `::1`.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use common::*;

fn unix_config(plain: u16) -> String {
    format!(
        r#"[service.health-check.inet_listener.plain]
port = {plain}

[service.health-check.unix_listener.health-sock]
mode = "0640"
user = "nobody"
group = "nogroup"
"#
    )
}

#[test]
fn unix_listener_gets_mode_and_owner_replaces_a_stale_socket_and_is_removed_on_stop() {
    let launch = Launch::new("unix");
    let base = launch.dir().join("run");
    std::fs::create_dir_all(&base).unwrap();
    let path = base.join("health-sock");
    // A socket file left behind by a dead server.
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists());

    let plain = free_port();
    let mut server = launch
        .config(&unix_config(plain))
        .ready_on(&[plain])
        .start();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let nogroup = nix::unistd::Group::from_name("nogroup").unwrap().unwrap();
    assert_eq!(meta.uid(), nobody.uid.as_raw());
    assert_eq!(meta.gid(), nogroup.gid.as_raw());

    let mut s = UnixStream::connect(&path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    ping(&mut s);
    drop(s);

    assert_eq!(server.stop(), Some(0));
    assert!(!path.exists(), "the socket must be removed on stop");
}

#[test]
fn a_socket_another_live_server_answers_on_is_a_start_up_error() {
    let dir = TempDir::new("unixbusy");
    let base = dir.join("base");
    std::fs::create_dir_all(&base).unwrap();
    let path = base.join("health-sock");
    let _other = UnixListener::bind(&path).unwrap();
    let cfg = dir.write(
        "roost.toml",
        format!(
            "base_dir = \"{}\"\nlisten = \"127.0.0.1\"\n{}",
            base.display(),
            unix_config(free_port())
        ),
    );
    let out = roost(&["serve", "-c", cfg.to_str().unwrap()]);
    assert!(!out.ok);
    assert!(
        out.stderr.contains("Socket already exists") && out.stderr.contains("health-sock"),
        "{}",
        out.stderr
    );
}

#[test]
fn ipv6_loopback_listener_answers() {
    let (v6, plain) = (free_port(), free_port());
    let cfg = format!(
        r#"log_debug = true
[service.health-check.inet_listener.v6]
address = "::1"
port = {v6}
[service.health-check.inet_listener.plain]
port = {plain}
"#
    );
    let server = Launch::new("ipv6").config(&cfg).ready_on(&[plain]).start();
    let addr: std::net::SocketAddr = format!("[::1]:{v6}").parse().unwrap();
    let mut s = connect(addr);
    ping(&mut s);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", v6)).is_err(),
        "an address = ::1 listener must not listen on IPv4"
    );
    assert!(
        server.wait_log("rip=::1", Duration::from_secs(5)),
        "{}",
        server.log_text()
    );
}
