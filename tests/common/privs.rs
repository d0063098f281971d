//! Connecting to a unix socket as another uid/gid: the test binary re-executes itself under
//! that uid running only its `connect_child` test, which calls [`connect_child`] and prints
//! whether the connect succeeded. Each test target that uses [`connect_as`] declares
//! `#[test] fn connect_child() { common::connect_child() }`.

use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Env var that turns `connect_child` into a real test: connect to this path.
const CONNECT_ENV: &str = "_ROOST_TEST_CONNECT_PATH";

/// The body of each target's `connect_child` test: nothing unless re-executed by
/// [`connect_as`], then `CONNECT=ok` or `CONNECT=err:<kind>`.
pub fn connect_child() {
    let Some(path) = std::env::var_os(CONNECT_ENV) else {
        return;
    };
    match UnixStream::connect(PathBuf::from(path)) {
        Ok(_) => println!("CONNECT=ok"),
        Err(e) => println!("CONNECT=err:{:?}", e.kind()),
    }
}

/// Connects to `path` as uid `uid`, primary gid `gid`, no supplementary groups: `ok` or
/// `err:<kind>`.
pub fn connect_as(uid: u32, gid: u32, path: &Path) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "connect_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CONNECT_ENV, path)
        .uid(uid)
        .gid(gid)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    // The harness prints "test connect_child ... " on the same line before the result.
    text.split_once("CONNECT=")
        .and_then(|(_, r)| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no result: {text}"))
        .to_string()
}
