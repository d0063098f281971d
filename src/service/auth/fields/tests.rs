//! Tests of passdb/userdb extra fields: parsing, defaults/overrides and the userdb split.

use super::*;

#[test]
fn parse_defaults_overrides_and_userdb_split() {
    let vars = Vars::new("bob@example.org");
    let mut f = Fields::parse(
        "nologin reason=gone userdb_mail=maildir:~/M userdb_quota_rule=*:storage=1G host=%d",
        Some(&vars),
    );
    assert_eq!(f.get("nologin"), Some(""));
    assert_eq!(f.get("host"), Some("example.org"));
    f.add_defaults(&Fields::parse("reason=other proxy", None));
    assert_eq!(f.get("reason"), Some("gone"));
    assert!(f.has("proxy"));
    f.apply_overrides(&Fields::parse("reason=over", None));
    assert_eq!(f.get("reason"), Some("over"));
    let (pass, user) = f.split_userdb();
    assert_eq!(user.get("mail"), Some("maildir:~/M"));
    assert_eq!(user.get("quota_rule"), Some("*:storage=1G"));
    assert!(!pass.has("userdb_mail"));
    assert_eq!(pass.get("host"), Some("example.org"));
}
