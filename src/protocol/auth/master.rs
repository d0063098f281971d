//! The auth-master / auth-userdb protocol (spec §7.3): the server's `VERSION`/`SPID` greeting,
//! `USER`, `PASS`, `LIST` and (master socket only) `CACHE-FLUSH` requests, and their replies.
//! `CPID` here, an unknown command or a malformed line is a protocol violation (disconnect).

use super::{tab_escape, tab_unescape};

pub const VERSION_MAJOR: u32 = 1;
pub const VERSION_MINOR: u32 = 1;

/// One client line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MasterCommand {
    Version {
        major: u32,
        minor: u32,
    },
    User {
        id: u32,
        user: String,
        params: Vec<(String, String)>,
    },
    Pass {
        id: u32,
        user: String,
        params: Vec<(String, String)>,
    },
    List {
        id: u32,
        params: Vec<(String, String)>,
    },
    CacheFlush {
        id: u32,
        users: Vec<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MasterError {
    #[error("empty line")]
    Empty,
    #[error("unknown command '{0}'")]
    UnknownCommand(String),
    #[error("{0}: missing or invalid fields")]
    Syntax(&'static str),
    #[error("CPID is not allowed on a master/userdb socket")]
    Cpid,
    #[error("incompatible protocol major version {0}")]
    Major(u32),
}

fn params<'a>(it: impl Iterator<Item = &'a str>) -> Vec<(String, String)> {
    it.map(|a| {
        let (k, v) = a.split_once('=').unwrap_or((a, ""));
        (k.to_string(), tab_unescape(v))
    })
    .collect()
}

fn id(s: Option<&str>, cmd: &'static str) -> Result<u32, MasterError> {
    s.and_then(|v| v.parse().ok())
        .ok_or(MasterError::Syntax(cmd))
}

pub fn parse(line: &str) -> Result<MasterCommand, MasterError> {
    if line.is_empty() {
        return Err(MasterError::Empty);
    }
    let mut f = line.split('\t');
    match f.next().unwrap_or("") {
        "VERSION" => {
            let major = id(f.next(), "VERSION")?;
            let minor = id(f.next(), "VERSION")?;
            if major != VERSION_MAJOR {
                return Err(MasterError::Major(major));
            }
            Ok(MasterCommand::Version { major, minor })
        }
        "USER" | "PASS" => {
            let is_user = line.starts_with('U');
            let cmd = if is_user { "USER" } else { "PASS" };
            let id = id(f.next(), cmd)?;
            let user = f
                .next()
                .filter(|u| !u.is_empty())
                .map(tab_unescape)
                .ok_or(MasterError::Syntax(cmd))?;
            let params = params(f);
            Ok(if is_user {
                MasterCommand::User { id, user, params }
            } else {
                MasterCommand::Pass { id, user, params }
            })
        }
        "LIST" => {
            let id = id(f.next(), "LIST")?;
            Ok(MasterCommand::List {
                id,
                params: params(f),
            })
        }
        "CACHE-FLUSH" => {
            let id = id(f.next(), "CACHE-FLUSH")?;
            Ok(MasterCommand::CacheFlush {
                id,
                users: f.map(tab_unescape).collect(),
            })
        }
        "CPID" => Err(MasterError::Cpid),
        other => Err(MasterError::UnknownCommand(
            other.chars().take(32).collect(),
        )),
    }
}

/// Sent on connect.
pub fn greeting(spid: u32) -> String {
    format!("VERSION\t{VERSION_MAJOR}\t{VERSION_MINOR}\nSPID\t{spid}\n")
}

fn push_fields(s: &mut String, fields: &[(String, String)]) {
    for (k, v) in fields {
        s.push('\t');
        s.push_str(k);
        s.push('=');
        s.push_str(&tab_escape(v));
    }
}

/// `USER\t<id>\t<user>\t<k=v>…`.
pub fn user_reply(id: u32, user: &str, fields: &[(String, String)]) -> String {
    let mut s = format!("USER\t{id}\t{}", tab_escape(user));
    push_fields(&mut s, fields);
    s.push('\n');
    s
}

/// `PASS\t<id>\tuser=<user>\t<k=v>…`.
pub fn pass_reply(id: u32, user: &str, fields: &[(String, String)]) -> String {
    let mut s = format!("PASS\t{id}\tuser={}", tab_escape(user));
    push_fields(&mut s, fields);
    s.push('\n');
    s
}

pub fn notfound(id: u32) -> String {
    format!("NOTFOUND\t{id}\n")
}

pub fn fail(id: u32, reason: Option<&str>) -> String {
    match reason {
        Some(r) => format!("FAIL\t{id}\treason={}\n", tab_escape(r)),
        None => format!("FAIL\t{id}\n"),
    }
}

pub fn list_user(id: u32, user: &str) -> String {
    format!("LIST\t{id}\t{}\n", tab_escape(user))
}

pub fn list_done(id: u32, failed: bool) -> String {
    if failed {
        format!("DONE\t{id}\tfail\n")
    } else {
        format!("DONE\t{id}\n")
    }
}

pub fn cache_flushed(id: u32, count: usize) -> String {
    format!("OK\t{id}\t{count}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_doveadm_requests_and_writes_replies() {
        assert_eq!(
            parse("VERSION\t1\t0"),
            Ok(MasterCommand::Version { major: 1, minor: 0 })
        );
        assert_eq!(
            parse("USER\t1\talice\tservice=doveadm"),
            Ok(MasterCommand::User {
                id: 1,
                user: "alice".into(),
                params: vec![("service".into(), "doveadm".into())]
            })
        );
        assert!(matches!(
            parse("PASS\t2\tbob"),
            Ok(MasterCommand::Pass { id: 2, .. })
        ));
        assert_eq!(parse("USER\t1"), Err(MasterError::Syntax("USER")));
        assert_eq!(parse("CPID\t1"), Err(MasterError::Cpid));
        assert_eq!(
            parse("CACHE-FLUSH\t3\ta\tb"),
            Ok(MasterCommand::CacheFlush {
                id: 3,
                users: vec!["a".into(), "b".into()]
            })
        );
        assert!(matches!(
            parse("LIST\t4\tuser=*"),
            Ok(MasterCommand::List { id: 4, .. })
        ));
        assert!(matches!(parse("NOPE"), Err(MasterError::UnknownCommand(_))));
        assert_eq!(greeting(42), "VERSION\t1\t1\nSPID\t42\n");
        assert_eq!(
            user_reply(
                1,
                "alice",
                &[
                    ("uid".into(), "1000".into()),
                    ("mail".into(), "a\tb".into())
                ]
            ),
            "USER\t1\talice\tuid=1000\tmail=a\x01tb\n"
        );
        assert_eq!(pass_reply(2, "bob", &[]), "PASS\t2\tuser=bob\n");
        assert_eq!(notfound(3), "NOTFOUND\t3\n");
        assert_eq!(list_done(4, false), "DONE\t4\n");
        assert_eq!(list_done(4, true), "DONE\t4\tfail\n");
        assert_eq!(cache_flushed(5, 2), "OK\t5\t2\n");
    }

    proptest! {
        #[test]
        fn random_lines_never_panic(s in "\\PC*") {
            let _ = parse(&s);
        }
    }
}
