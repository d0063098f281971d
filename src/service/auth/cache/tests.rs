//! Tests of the auth cache: hits, negative entries, TTLs and the size bound.

use super::*;
use crate::service::auth::fields::Fields;

fn cache(max: u64, ttl: Duration, negative: Duration) -> Cache {
    Cache::new(max, ttl, negative, Arc::new(Metrics::new()))
}

fn found(p: &str) -> Cached {
    Cached::Pass(PassLookup::Found {
        password: Some(p.into()),
        fields: Fields::default(),
    })
}

#[test]
fn ttl_negative_ttl_size_and_flush() {
    let c = cache(10_000, Duration::from_secs(60), Duration::ZERO);
    c.put("P0\talice", found("x"));
    assert!(matches!(
        c.get("P0\talice"),
        Some(Cached::Pass(PassLookup::Found { .. }))
    ));
    // negative TTL 0: not cached
    c.put("P0\tnobody", Cached::Pass(PassLookup::NotFound));
    assert!(c.get("P0\tnobody").is_none());
    c.put(
        "P0\tfail",
        Cached::Pass(PassLookup::InternalFail("x".into())),
    );
    assert!(c.get("P0\tfail").is_none());
    assert_eq!(c.flush(&["alice".into()]), 1);
    assert!(c.get("P0\talice").is_none());

    let expired = cache(10_000, Duration::ZERO, Duration::ZERO);
    expired.put("P0\ta", found("x"));
    assert!(expired.get("P0\ta").is_none());

    let small = cache(300, Duration::from_secs(60), Duration::from_secs(60));
    for i in 0..20 {
        small.put(&format!("P0\tu{i}"), found("x"));
    }
    assert!(small.get("P0\tu0").is_none(), "oldest evicted");
    assert!(small.get("P0\tu19").is_some(), "newest kept");

    let off = cache(0, Duration::from_secs(60), Duration::from_secs(60));
    off.put("P0\ta", found("x"));
    assert!(off.get("P0\ta").is_none());
}
