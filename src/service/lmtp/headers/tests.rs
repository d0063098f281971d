//! Tests of the trace headers and their RFC 5322 dates.

use super::*;
use std::time::Duration;

#[test]
fn date_matches_dovecots_format() {
    // 2026-11-28 21:48:53 UTC, the date Dovecot wrote in the reference delivery.
    let t = UNIX_EPOCH + Duration::from_secs(1_795_902_533);
    assert_eq!(rfc5322_date(t), "Sat, 28 Nov 2026 21:48:53 +0000");
    assert_eq!(rfc5322_date(UNIX_EPOCH), "Thu, 1 Jan 1970 00:00:00 +0000");
}

#[test]
fn single_recipient_layout_is_dovecots() {
    let t = UNIX_EPOCH + Duration::from_secs(1_795_902_533);
    let h = trace_headers(
        &Trace {
            helo: "[127.0.0.1]",
            ip: Some("127.0.0.1".into()),
            hostname: "mx.example.test",
            session_id: "yEnHNUVMC2tTLwAAg+zDdQ",
            mail_from: "s@example.org",
            single_rcpt: Some("bob+det"),
            tls: false,
        },
        t,
    );
    assert_eq!(
        h,
        "Return-Path: <s@example.org>\nDelivered-To: bob+det\n\
Received: from [127.0.0.1] ([127.0.0.1])\n\tby mx.example.test with LMTP\n\
\tid yEnHNUVMC2tTLwAAg+zDdQ\n\t(envelope-from <s@example.org>)\n\
\tfor <bob+det>; Sat, 28 Nov 2026 21:48:53 +0000\n"
    );
}

#[test]
fn several_recipients_have_no_delivered_to() {
    let h = trace_headers(
        &Trace {
            helo: "vm",
            ip: Some("127.0.0.1".into()),
            hostname: "h",
            session_id: "id",
            mail_from: "",
            single_rcpt: None,
            tls: false,
        },
        UNIX_EPOCH,
    );
    assert!(!h.contains("Delivered-To"));
    assert!(h.contains("(envelope-from <>); Thu"));
}
