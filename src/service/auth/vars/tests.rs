//! Tests of `%` variable expansion: short and long names and modifiers.

use super::*;

#[test]
fn expands_short_long_and_modifiers() {
    let v = Vars {
        user: "Alice@Example.COM".into(),
        service: "imap".into(),
        ..Vars::default()
    };
    assert_eq!(v.expand("%u"), "Alice@Example.COM");
    assert_eq!(v.expand("%Lu"), "alice@example.com");
    assert_eq!(v.expand("%Un-%Ld"), "ALICE-example.com");
    assert_eq!(v.expand("/etc/%d/passwd"), "/etc/Example.COM/passwd");
    assert_eq!(v.expand("%{username}@%{service} 100%%"), "Alice@imap 100%");
    assert_eq!(v.expand("%L{domain}"), "example.com");
    assert_eq!(v.expand("%q and %{nope}"), "%q and %{nope}");
    assert_eq!(v.expand("trailing %"), "trailing %");
    assert_eq!(Vars::new("bob").expand("%n/%d."), "bob/.");
}
