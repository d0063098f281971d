//! Tests of recipient handling: address detail splitting.

use super::*;

#[test]
fn detail_is_split_at_the_first_delimiter() {
    assert_eq!(
        split_detail("bob+box@example.test", "+"),
        ("bob@example.test".into(), "box".into())
    );
    assert_eq!(split_detail("bob-a+b", "+-"), ("bob".into(), "a+b".into()));
    assert_eq!(split_detail("bob", "+"), ("bob".into(), "".into()));
    assert_eq!(split_detail("b+x", ""), ("b+x".into(), "".into()));
}
