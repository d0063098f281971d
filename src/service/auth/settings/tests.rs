//! Loading `[[passdb]]`/`[[userdb]]` blocks and the auth globals through the real loader.
use crate::settings::{load::load_with_env, ConfigSource, Size, Time};

fn load(text: &str) -> Result<crate::settings::Settings, crate::settings::ConfigError> {
    let p = std::env::temp_dir().join(format!(
        "roost-auth-settings-{}-{}.toml",
        std::process::id(),
        text.len()
    ));
    std::fs::write(&p, text).unwrap();
    let r = load_with_env(&ConfigSource::File(p.clone()), false).map(|l| l.settings);
    let _ = std::fs::remove_file(&p);
    r
}

#[test]
fn dovecot_names_values_and_db_blocks() {
    let s = load(
        "auth_mechanisms = \"plain login CRAM-MD5\"\ndisable_plaintext_auth = \"no\"\nauth_cache_size = \"10 M\"\nauth_cache_ttl = \"5 mins\"\nauth_failure_delay = \"1 s\"\nfirst_valid_uid = 1000\n\n[[passdb]]\ndriver = \"passwd-file\"\nargs = \"scheme=SHA512-CRYPT /etc/users\"\nresult_failure = \"return-fail\"\n\n[[passdb]]\ndriver = \"static\"\nargs = \"nopassword\"\ndeny = \"yes\"\n\n[[userdb]]\ndriver = \"static\"\nargs = \"uid=vmail gid=vmail home=/var/mail/%u\"\n",
    )
    .unwrap();
    let a = &s.auth;
    assert_eq!(a.auth_mechanisms, ["plain", "login", "CRAM-MD5"]);
    assert!(!a.disable_plaintext_auth);
    assert_eq!(a.auth_cache_size, Size(10 << 20));
    assert_eq!(a.auth_cache_ttl, Time::from_secs(300));
    assert_eq!(a.auth_failure_delay, Time::from_secs(1));
    assert_eq!(a.first_valid_uid, 1000);
    assert_eq!(a.passdb.len(), 2);
    assert_eq!(a.passdb[0].result_failure, "return-fail");
    assert_eq!(
        a.passdb[0].result_success, "return-ok",
        "defaults fill omitted fields"
    );
    assert!(a.passdb[1].deny);
    assert_eq!(a.userdb[0].driver, "static");
}

#[test]
fn bad_values_are_located() {
    // Flattened top-level structs lose the key path in serde errors (as for CoreSettings'
    // `default_idle_kill`); the message still names the bad value and its unit problem.
    let e = load("auth_cache_ttl = 30\n").unwrap_err();
    assert!(
        e.message.contains("invalid time '30': missing units"),
        "{e}"
    );
    let e = load("[[passdb]]\ndriver = \"static\"\ndrivr = \"x\"\n").unwrap_err();
    assert!(e.to_string().contains("drivr"), "{e}");
}
