//! Tests of the auth penalty: growing, capped, deduplicated delays.

use super::*;

#[test]
fn delays_grow_cap_and_dedupe() {
    assert_eq!(to_secs(0), 2);
    assert_eq!(to_secs(1), 4);
    assert_eq!(to_secs(2), 8);
    assert_eq!(to_secs(3), 15);
    assert_eq!(crc32(0, b"123456789"), 0xCBF4_3926);
    let p = Penalty::default();
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    assert_eq!(p.get(ip), 0);
    p.update(ip, 1, 1);
    assert_eq!(p.get(ip), 1);
    p.update(ip, 1, 2); // same checksum: no increase
    assert_eq!(p.get(ip), 1);
    p.update(ip, 2, 2);
    p.update(ip, 3, 9);
    assert_eq!(p.get(ip), MAX_PENALTY);
    p.update(ip, 0, 0);
    assert_eq!(p.get(ip), 0);
    // IPv6 /48 share a penalty.
    let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
    let b: IpAddr = "2001:db8:1:ffff::9".parse().unwrap();
    p.update(a, 5, 1);
    assert_eq!(p.get(b), 1);
    // Decay as Dovecot: a penalty drops one step per 15 s (then 15, 8, 4 s) of quiet.
    assert_eq!(p.get_at(b, Instant::now() + Duration::from_secs(5)), 1);
    assert_eq!(p.get_at(b, Instant::now() + Duration::from_secs(16)), 0);
}
