//! The auth-worker helper: blocking lookups that need another identity (root for
//! `/etc/shadow`). One request frame, one reply frame:
//! `PASSDB\tshadow\t<file>\t<user>` → `OK\t<hash>` | `NOTFOUND` | `FAIL\t<why>`;
//! `USERDB\tpasswd\t<user>` → `OK\tuid=…\tgid=…\thome=…\tshell=…` | `NOTFOUND`;
//! `PING` → `PONG\t<pid>\t<uid>`.
//!
//! The helper only opens the shadow files it was started with (the configuration's, from the
//! launcher's own reading of it: [`HelperSpec::files`]); a request naming any other file is
//! answered `FAIL` without opening it, whoever holds the helper's socket.

use std::io::BufRead;
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;

use super::error::PrivsepError;
use super::frame;
use super::spec::HelperSpec;

/// Looks `user` up in a shadow-format file (`user:hash:…`).
pub fn shadow_lookup(file: &str, user: &str) -> String {
    let f = match std::fs::File::open(file) {
        Ok(f) => f,
        Err(e) => return format!("FAIL\topen({file}) failed: {e}"),
    };
    for line in std::io::BufReader::new(f).lines() {
        let Ok(line) = line else { break };
        let mut parts = line.splitn(3, ':');
        if parts.next() == Some(user) {
            return format!("OK\t{}", parts.next().unwrap_or(""));
        }
    }
    "NOTFOUND".into()
}

/// Answers one request; `files` are the shadow files this helper may read.
pub fn handle(req: &str, files: &[String]) -> String {
    let f: Vec<&str> = req.split('\t').collect();
    match f.as_slice() {
        ["PING"] => format!("PONG\t{}\t{}", std::process::id(), nix::unistd::getuid()),
        ["PASSDB", "shadow", file, _] if !files.iter().any(|f| f == file) => {
            eprintln!("roost auth-worker: refused to read {file:?}: not a configured shadow file");
            format!("FAIL\trefused: {file} is not a configured shadow file")
        }
        ["PASSDB", "shadow", file, user] => shadow_lookup(file, user),
        ["USERDB", "passwd", user] => match nix::unistd::User::from_name(user) {
            Ok(Some(u)) => format!(
                "OK\tuid={}\tgid={}\thome={}\tshell={}",
                u.uid,
                u.gid,
                u.dir.display(),
                u.shell.display()
            ),
            Ok(None) => "NOTFOUND".into(),
            Err(e) => format!("FAIL\tgetpwnam failed: {e}"),
        },
        _ => format!(
            "FAIL\tunknown request {:?}",
            req.chars().take(40).collect::<String>()
        ),
    }
}

/// Serves requests on fd 3 until the server closes it.
pub fn serve_fd3(spec: &HelperSpec) -> Result<(), PrivsepError> {
    // SAFETY: fd 3 was set up by the launcher as this helper's socket and is used only here.
    let mut s = unsafe { UnixStream::from_raw_fd(3) };
    while let Some(req) = frame::read_frame(&mut s)? {
        let reply = handle(&String::from_utf8_lossy(&req), &spec.files);
        frame::write_frame(&mut s, reply.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let p = std::env::temp_dir().join(format!("roost-shadow-{}", std::process::id()));
        std::fs::write(
            &p,
            "root:*:19000:0:99999:7:::\nalice:$6$salt$hash:19000::::::\n",
        )
        .unwrap();
        let f = p.to_str().unwrap();
        let files = [f.to_string()];
        assert_eq!(shadow_lookup(f, "alice"), "OK\t$6$salt$hash");
        assert_eq!(shadow_lookup(f, "bob"), "NOTFOUND");
        assert!(shadow_lookup("/nonexistent/x", "a").starts_with("FAIL\topen("));
        assert!(handle(&format!("PASSDB\tshadow\t{f}\talice"), &files).starts_with("OK\t$6$"));
        // Any file that is not configured is refused without being opened.
        assert_eq!(
            handle("PASSDB\tshadow\t/etc/shadow\troot", &files),
            "FAIL\trefused: /etc/shadow is not a configured shadow file"
        );
        assert!(handle(&format!("PASSDB\tshadow\t{f}\talice"), &[]).starts_with("FAIL\trefused"));
        assert!(handle("USERDB\tpasswd\troot", &files).starts_with("OK\tuid=0\tgid=0\thome=/root"));
        assert_eq!(handle("USERDB\tpasswd\tno-such-user-x", &files), "NOTFOUND");
        assert!(handle("PING", &files).starts_with("PONG\t"));
        assert!(handle("BOGUS", &files).starts_with("FAIL\t"));
        std::fs::remove_file(&p).unwrap();
    }
}
