//! The in-process API as login services and LMTP use it: mechanism lists under
//! `disable_plaintext_auth`, a PLAIN exchange that returns userdb fields, the uid checks, and
//! the failure delay applied before `Step::Fail`.

use std::time::{Duration, Instant};

use super::*;
use crate::service::auth::engine::tests::TempDir;
use crate::service::auth::fail_code::FailCode;
use crate::service::auth::settings::{AuthSettings, DbSettings};
use crate::settings::Time;

fn core() -> (TempDir, AuthCore) {
    let d = TempDir::new("api");
    let f = d.0.join("users");
    std::fs::write(
        &f,
        "alice:{PLAIN}apw:1000:1000::/home/alice::userdb_mail=maildir:~/M\nlow:{PLAIN}lpw:100:100::/home/low\nprox:{PLAIN}ppw::::::proxy host=10.0.0.9\n",
    )
    .unwrap();
    let db = |d: &str| DbSettings {
        driver: d.into(),
        args: format!("scheme=PLAIN {}", f.display()),
        ..DbSettings::default()
    };
    let cfg = AuthSettings {
        auth_mechanisms: vec!["plain".into(), "cram-md5".into()],
        auth_failure_delay: Time::from_millis(200),
        passdb: vec![db("passwd-file")],
        userdb: vec![db("passwd-file")],
        ..AuthSettings::default()
    };
    (d, AuthCore::new(&cfg).unwrap())
}

fn info(secured: bool) -> ClientInfo {
    ClientInfo {
        service: "imap".into(),
        secured,
        ..ClientInfo::default()
    }
}

#[tokio::test]
async fn api_mechanisms_plaintext_and_success_fields() {
    let (_d, c) = core();
    assert_eq!(c.mechanisms(false), ["CRAM-MD5"]);
    assert_eq!(c.mechanisms(true), ["PLAIN", "CRAM-MD5"]);
    assert_eq!(
        c.begin("PLAIN", info(false)).err(),
        Some(BeginError::PlaintextDisabled)
    );
    assert_eq!(
        c.begin("DIGEST-MD5", info(true)).err(),
        Some(BeginError::UnknownMechanism)
    );
    let mut x = c.begin("plain", info(true)).unwrap();
    match x.step(Some(b"\0alice\0apw".to_vec())).await {
        Step::Success { user, fields, .. } => {
            assert_eq!(user, "alice");
            let f = |k: &str| {
                fields
                    .iter()
                    .find(|(fk, _)| fk == k)
                    .map(|(_, v)| v.clone())
            };
            assert_eq!(f("uid").as_deref(), Some("1000"));
            assert_eq!(f("home").as_deref(), Some("/home/alice"));
            assert_eq!(f("mail").as_deref(), Some("maildir:~/M"));
        }
        other => panic!("{other:?}"),
    }
    // uid below first_valid_uid (500) refuses the login.
    let mut x = c.begin("PLAIN", info(true)).unwrap();
    assert!(matches!(
        x.step(Some(b"\0low\0lpw".to_vec())).await,
        Step::Fail { code, .. } if code == FailCode::TempFail
    ));
    // Proxy logins skip the userdb and carry the proxy fields.
    let mut x = c.begin("PLAIN", info(true)).unwrap();
    match x.step(Some(b"\0prox\0ppw".to_vec())).await {
        Step::Success { fields, .. } => {
            assert!(fields.contains(&("proxy".into(), "".into())));
            assert!(fields.contains(&("host".into(), "10.0.0.9".into())));
        }
        other => panic!("{other:?}"),
    }
    // A wrong password fails after auth_failure_delay.
    let t = Instant::now();
    let mut x = c.begin("PLAIN", info(true)).unwrap();
    assert!(matches!(
        x.step(Some(b"\0alice\0no".to_vec())).await,
        Step::Fail { .. }
    ));
    assert!(t.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn api_lookup_user_checks_uid() {
    let (_d, c) = core();
    assert!(matches!(
        c.lookup_user("alice", info(false)).await,
        UserLookup::Found { user, .. } if user == "alice"
    ));
    assert!(matches!(
        c.lookup_user("ghost", info(false)).await,
        UserLookup::NotFound
    ));
    assert!(matches!(
        c.lookup_user("low", info(false)).await,
        UserLookup::Failed(m) if m.contains("first_valid_uid")
    ));
}
