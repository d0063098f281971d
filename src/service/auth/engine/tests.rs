//! Engine tests over real passwd-files in a temp dir: chains, result_* actions, realms,
//! username format, extra fields, userdb prefetch/static, the cache and uid checks.

use super::*;
use crate::service::auth::settings::DbSettings;

pub(crate) struct TempDir(pub std::path::PathBuf);
impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "roost-auth-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn db(driver: &str, args: &str) -> DbSettings {
    DbSettings {
        driver: driver.into(),
        args: args.into(),
        ..DbSettings::default()
    }
}

fn engine(cfg: AuthSettings) -> Engine {
    Engine::new(&cfg).unwrap()
}

const USERS: &str = "alice:{PLAIN}apw:1000:1000::/home/alice::userdb_mail=maildir:~/Maildir\n\
bob:{SHA256-CRYPT}$5$D4x4j8OMtODd/oDk$MBec14XGi2Fezqx8iEGzgABgxeLwGEOinv1d1KUuX10:1001:1001::/home/bob\n\
carol:{PLAIN}cpw:1002:1002::/home/carol::nologin reason=Moved\n\
dave::1003:1003::/home/dave::nopassword\n\
root:{PLAIN}r:0:0::/root\n\
eve:{PLAIN}epw:::::: allow_nets=192.0.2.0/24\n";

fn setup() -> (TempDir, AuthSettings) {
    let d = TempDir::new("engine");
    let f = d.0.join("users");
    std::fs::write(&f, USERS).unwrap();
    let args = format!("scheme=PLAIN {}", f.display());
    let cfg = AuthSettings {
        passdb: vec![db("passwd-file", &args)],
        userdb: vec![db("passwd-file", &args)],
        ..AuthSettings::default()
    };
    (d, cfg)
}

fn info() -> ClientInfo {
    ClientInfo {
        service: "imap".into(),
        ..ClientInfo::default()
    }
}

#[tokio::test]
async fn plain_verification_and_failures() {
    let (_d, cfg) = setup();
    let e = engine(cfg);
    let ok = e.verify_plain("Alice", b"apw", &info()).await;
    let PassOutcome::Ok { user, prefetch, .. } = ok else {
        panic!("{ok:?}")
    };
    assert_eq!(user, "alice", "auth_username_format=%Lu lowercases");
    assert_eq!(prefetch.get("mail"), Some("maildir:~/Maildir"));
    assert_eq!(prefetch.get("uid"), Some("1000"));
    // Dovecot-made SHA256-CRYPT hash of "secret pw".
    assert!(matches!(
        e.verify_plain("bob", b"secret pw", &info()).await,
        PassOutcome::Ok { .. }
    ));
    assert!(matches!(
        e.verify_plain("bob", b"nope", &info()).await,
        PassOutcome::Fail {
            kind: FailKind::Mismatch,
            ..
        }
    ));
    assert!(matches!(
        e.verify_plain("nobody", b"x", &info()).await,
        PassOutcome::Fail {
            kind: FailKind::UnknownUser,
            ..
        }
    ));
    assert!(matches!(
        e.verify_plain("bad user!", b"x", &info()).await,
        PassOutcome::Fail {
            kind: FailKind::BadUsername,
            ..
        }
    ));
    // nologin + reason: the password check succeeds with both fields (the login service
    // refuses); a wrong password is a plain failure.
    let r = e.verify_plain("carol", b"cpw", &info()).await;
    assert!(
        matches!(&r, PassOutcome::Ok { fields, .. } if fields.has("nologin") && fields.get("reason") == Some("Moved")),
        "{r:?}"
    );
    assert!(matches!(
        e.verify_plain("carol", b"bad", &info()).await,
        PassOutcome::Fail {
            kind: FailKind::Mismatch,
            ..
        }
    ));
    // nopassword accepts anything
    assert!(matches!(
        e.verify_plain("dave", b"whatever", &info()).await,
        PassOutcome::Ok { .. }
    ));
    // allow_nets
    assert!(matches!(
        e.verify_plain("eve", b"epw", &info()).await,
        PassOutcome::Fail { .. }
    ));
    let mut i = info();
    i.remote = Some("192.0.2.7:1234".parse().unwrap());
    assert!(matches!(
        e.verify_plain("eve", b"epw", &i).await,
        PassOutcome::Ok { .. }
    ));
}

#[tokio::test]
async fn realm_and_username_format() {
    let (d, mut cfg) = setup();
    std::fs::create_dir_all(d.0.join("example.org")).unwrap();
    std::fs::write(d.0.join("example.org/passwd"), "zed:{PLAIN}zpw\n").unwrap();
    cfg.auth_default_realm = "example.org".into();
    cfg.passdb = vec![db(
        "passwd-file",
        &format!(
            "scheme=PLAIN username_format=%n {}/%d/passwd",
            d.0.display()
        ),
    )];
    let e = engine(cfg);
    let r = e.verify_plain("ZED", b"zpw", &info()).await;
    assert!(
        matches!(&r, PassOutcome::Ok { user, .. } if user == "zed@example.org"),
        "{r:?}"
    );
}

#[tokio::test]
async fn chain_result_actions_and_deny() {
    let (d, mut cfg) = setup();
    let deny = d.0.join("deny");
    std::fs::write(&deny, "alice\n").unwrap();
    let other = d.0.join("other");
    std::fs::write(&other, "frank:{PLAIN}fpw\nalice:{PLAIN}other\n").unwrap();
    let users = cfg.passdb[0].clone();
    cfg.passdb = vec![
        DbSettings {
            deny: true,
            ..db("passwd-file", &deny.display().to_string())
        },
        users.clone(),
        db("passwd-file", &format!("scheme=PLAIN {}", other.display())),
    ];
    let e = engine(cfg.clone());
    assert!(matches!(
        e.verify_plain("alice", b"apw", &info()).await,
        PassOutcome::Fail {
            kind: FailKind::Disabled,
            ..
        }
    ));
    // Falls through to the third passdb on failure (result_failure = continue).
    assert!(matches!(
        e.verify_plain("frank", b"fpw", &info()).await,
        PassOutcome::Ok { .. }
    ));

    // result_failure = return-fail stops the chain.
    cfg.passdb = vec![
        DbSettings {
            result_failure: "return-fail".into(),
            ..users.clone()
        },
        db("passwd-file", &format!("scheme=PLAIN {}", other.display())),
    ];
    let e = engine(cfg.clone());
    assert!(matches!(
        e.verify_plain("frank", b"fpw", &info()).await,
        PassOutcome::Fail { .. }
    ));
    assert!(matches!(
        e.verify_plain("alice", b"other", &info()).await,
        PassOutcome::Fail { .. }
    ));

    // result_success = continue: a later passdb only adds fields, the password is not re-checked.
    cfg.passdb = vec![
        DbSettings {
            result_success: "continue".into(),
            ..users
        },
        DbSettings {
            override_fields: "proxy host=10.0.0.1".into(),
            ..db("passwd-file", &format!("scheme=PLAIN {}", other.display()))
        },
    ];
    let e = engine(cfg);
    let r = e.verify_plain("alice", b"apw", &info()).await;
    let PassOutcome::Ok { fields, .. } = r else {
        panic!("{r:?}")
    };
    assert_eq!(fields.get("host"), Some("10.0.0.1"));
}

#[tokio::test]
async fn static_passdb_and_userdbs() {
    let (_d, mut cfg) = setup();
    cfg.passdb.push(db("static", "password=st nodelay"));
    cfg.userdb = vec![
        db("prefetch", ""),
        DbSettings {
            default_fields: "mail=maildir:/var/mail/%u".into(),
            ..db("static", "uid=vmail gid=vmail home=/var/mail/%d/%n")
        },
    ];
    let e = engine(cfg);
    assert!(matches!(
        e.verify_plain("anyone", b"st", &info()).await,
        PassOutcome::Ok { .. }
    ));
    // static userdb without allow_all_users checks the passdb: alice exists, so found.
    let r = e.userdb_lookup("alice@x.org", &info(), None, false).await;
    let UserOutcome::Found { fields, .. } = r else {
        panic!("{r:?}")
    };
    assert_eq!(fields.get("home"), Some("/var/mail/x.org/alice"));
    assert_eq!(fields.get("mail"), Some("maildir:/var/mail/alice@x.org"));
    // prefetch answers from passdb userdb_ fields and (result_success=return-ok) ends the chain.
    let pre = Fields::parse("uid=1000 home=/h", None);
    let r = e.userdb_lookup("alice", &info(), Some(&pre), true).await;
    let UserOutcome::Found { fields, .. } = r else {
        panic!()
    };
    assert_eq!(fields.get("uid"), Some("1000"));
    assert_eq!(fields.get("home"), Some("/h"));
    assert_eq!(fields.get("mail"), None);
}

#[tokio::test]
async fn userdb_passwd_file_and_uid_checks() {
    let (_d, cfg) = setup();
    let e = engine(cfg);
    let r = e.userdb_lookup("alice", &info(), None, false).await;
    let UserOutcome::Found { user, fields } = r else {
        panic!("{r:?}")
    };
    assert_eq!(user, "alice");
    assert_eq!(fields.get("home"), Some("/home/alice"));
    assert_eq!(fields.get("mail"), Some("maildir:~/Maildir"));
    assert!(e.check_uid(&fields).is_ok());
    assert_eq!(
        e.userdb_lookup("ghost", &info(), None, false).await,
        UserOutcome::NotFound
    );
    let UserOutcome::Found { fields, .. } = e.userdb_lookup("root", &info(), None, false).await
    else {
        panic!()
    };
    assert!(e.check_uid(&fields).unwrap_err().contains("uid 0"));
    assert!(e
        .check_uid(&Fields::parse("uid=10", None))
        .unwrap_err()
        .contains("first_valid_uid"));
    let mut users = e.list_users().await.unwrap();
    users.sort();
    assert_eq!(users, ["alice", "bob", "carol", "dave", "eve", "root"]);
}

#[tokio::test]
async fn cache_answers_until_flushed() {
    let (d, mut cfg) = setup();
    cfg.auth_cache_size = crate::settings::Size(1 << 20);
    let e = engine(cfg);
    assert!(matches!(
        e.verify_plain("alice", b"apw", &info()).await,
        PassOutcome::Ok { .. }
    ));
    // Change the file: the cached entry still answers.
    std::fs::write(d.0.join("users"), "alice:{PLAIN}new\n").unwrap();
    assert!(matches!(
        e.verify_plain("alice", b"apw", &info()).await,
        PassOutcome::Ok { .. }
    ));
    assert_eq!(e.cache.flush(&["alice".into()]), 1);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(matches!(
        e.verify_plain("alice", b"new", &info()).await,
        PassOutcome::Ok { .. }
    ));
}

#[tokio::test]
async fn credentials_for_challenge_mechanisms() {
    let (_d, cfg) = setup();
    let e = engine(cfg);
    let r = e.lookup_credentials("alice", "CRAM-MD5", &info()).await;
    assert!(
        matches!(r, CredOutcome::Ok { credential: Credential::Plain(ref p), .. } if p == b"apw")
    );
    // A crypt hash cannot serve CRAM-MD5.
    assert!(matches!(
        e.lookup_credentials("bob", "CRAM-MD5", &info()).await,
        CredOutcome::Fail(PassOutcome::Fail {
            kind: FailKind::Internal,
            ..
        })
    ));
}

#[test]
fn allow_nets_forms() {
    let ip = |s: &str| Some(s.parse().unwrap());
    assert!(allow_nets_match("10.0.0.0/8, 192.0.2.1", ip("10.1.2.3")));
    assert!(allow_nets_match("10.0.0.0/8,192.0.2.1", ip("192.0.2.1")));
    assert!(!allow_nets_match("10.0.0.0/8", ip("192.0.2.1")));
    assert!(allow_nets_match("local", None));
    assert!(!allow_nets_match("10.0.0.0/8", None));
}

#[tokio::test]
async fn master_user_logins() {
    let (d, mut cfg) = setup();
    let masters = d.0.join("masters");
    std::fs::write(&masters, "admin:{PLAIN}adminpw\n").unwrap();
    let e = engine(cfg.clone());
    assert!(
        matches!(
            e.verify_master("plain", "admin", b"adminpw", "alice", &info())
                .await,
            PassOutcome::Fail {
                kind: FailKind::Authz,
                ..
            }
        ),
        "no master passdbs: authz failure"
    );
    cfg.passdb.push(DbSettings {
        master: true,
        pass: true,
        ..db(
            "passwd-file",
            &format!("scheme=PLAIN {}", masters.display()),
        )
    });
    let e = engine(cfg.clone());
    let r = e
        .verify_master("plain", "admin", b"adminpw", "Alice", &info())
        .await;
    let PassOutcome::Ok {
        user,
        fields,
        prefetch,
    } = r
    else {
        panic!("{r:?}")
    };
    assert_eq!(user, "alice");
    assert_eq!(fields.get("master_user"), Some("admin"));
    assert_eq!(fields.get("password"), None);
    assert_eq!(prefetch.get("home"), Some("/home/alice"));
    assert!(matches!(
        e.verify_master("plain", "admin", b"wrong", "alice", &info())
            .await,
        PassOutcome::Fail {
            kind: FailKind::Mismatch,
            ..
        }
    ));
    // pass = yes: the target must exist.
    assert!(matches!(
        e.verify_master("plain", "admin", b"adminpw", "ghost", &info())
            .await,
        PassOutcome::Fail {
            kind: FailKind::UnknownUser,
            ..
        }
    ));
    // A master passdb is not a normal passdb: admin cannot log in as itself.
    assert!(matches!(
        e.verify_plain("admin", b"adminpw", &info()).await,
        PassOutcome::Fail { .. }
    ));
    // Without pass = yes any target name is accepted.
    cfg.passdb.last_mut().unwrap().pass = false;
    let e = engine(cfg);
    assert!(matches!(
        e.verify_master("plain", "admin", b"adminpw", "ghost", &info()).await,
        PassOutcome::Ok { ref user, .. } if user == "ghost"
    ));
}
