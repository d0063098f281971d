//! Running programs: the `roost` binary under test as a one-shot command, and the real peers
//! the tests drive (doveadm, openssl, haproxy, …), which must be installed: a missing tool
//! fails the test, it never skips it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `roost` binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_roost");

/// What a finished command said.
#[derive(Debug)]
pub struct Ran {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// stdout followed by stderr.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// stdout of a command that must have succeeded (`what` names it in the panic).
    pub fn stdout_ok(self, what: &str) -> String {
        assert!(self.ok, "{what} failed: {}\n{}", self.stdout, self.stderr);
        self.stdout
    }
}

/// Runs `cmd` to the end and captures its output; panics (naming `cmd`) when it cannot start.
pub fn run(cmd: &mut Command) -> Ran {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} must be installed for this test: {e}"));
    Ran {
        ok: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `run` of `program args…`.
pub fn run_tool(program: &str, args: &[&str]) -> Ran {
    run(Command::new(program).args(args))
}

/// `roost args…` without `$ROOST_CONFIG` from the environment.
pub fn roost(args: &[&str]) -> Ran {
    run(Command::new(BIN).args(args).env_remove("ROOST_CONFIG"))
}

/// [`roost`] that must succeed; returns its stdout.
pub fn roost_ok(args: &[&str]) -> String {
    roost(args).stdout_ok(&format!("roost {args:?}"))
}

/// `doveadm args…` (Debian package dovecot-core): exit code and stdout+stderr.
pub fn doveadm(args: &[&str]) -> (i32, String) {
    let r = run_tool("doveadm", args);
    (r.code.unwrap_or(-1), r.all())
}

/// The path of an installed tool; fails (never skips) when it is missing.
pub fn require_tool(name: &str) -> PathBuf {
    for dir in [
        "/usr/bin",
        "/usr/sbin",
        "/bin",
        "/sbin",
        "/usr/local/bin",
        "/usr/local/sbin",
    ] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} is not installed: .ci/run installs it with apt-get");
}
