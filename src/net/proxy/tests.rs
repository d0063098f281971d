//! PROXY header parsing: the formats HAProxy sends, the violations Dovecot refuses, buffering
//! across reads, and random input.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proxy_header::{ProxiedAddress, SslInfo, Tlv};
use tokio::io::AsyncWriteExt;

use super::*;

fn v2(addr: Option<ProxiedAddress>, tlvs: Vec<Tlv<'static>>) -> Vec<u8> {
    let mut out = Vec::new();
    ProxyHeader::with_tlvs(addr, tlvs)
        .encode_v2(&mut out)
        .unwrap();
    out
}

fn stream(src: &str, dst: &str) -> Option<ProxiedAddress> {
    Some(ProxiedAddress::stream(
        src.parse().unwrap(),
        dst.parse().unwrap(),
    ))
}

#[test]
fn v1_tcp4_tcp6_and_unknown() {
    let (i, n) = parse(b"PROXY TCP4 198.51.100.7 192.0.2.1 51234 143\r\nA1 NOOP\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(n, 45);
    assert_eq!(i.version, 1);
    assert_eq!(i.source, Some("198.51.100.7:51234".parse().unwrap()));
    assert_eq!(i.destination, Some("192.0.2.1:143".parse().unwrap()));
    let (i, _) = parse(b"PROXY TCP6 2001:db8::7 2001:db8::1 1 993\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(i.source, Some("[2001:db8::7]:1".parse().unwrap()));
    let (i, n) = parse(b"PROXY UNKNOWN\r\n").unwrap().unwrap();
    assert_eq!((i.source, n), (None, 15));
}

#[test]
fn v1_violations_are_invalid() {
    for h in [
        &b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"[..],
        b"PROXY TCP4 ::1 ::1 1 2\r\n",
        b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
        b"PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n",
    ] {
        let e = parse(h).unwrap_err();
        assert_eq!(e.reason(), "invalid", "{}", String::from_utf8_lossy(h));
    }
    let long = [b"PROXY UNKNOWN ".as_slice(), &[b'x'; 120]].concat();
    assert_eq!(parse(&long).unwrap_err().reason(), "invalid");
}

#[test]
fn a_plain_protocol_command_is_invalid_at_once() {
    assert_eq!(parse(b"a1").unwrap_err().reason(), "invalid");
    assert_eq!(parse(b"PING\r\n").unwrap_err().reason(), "invalid");
    assert_eq!(parse(b"\x16\x03\x01").unwrap_err().reason(), "invalid");
}

#[test]
fn incomplete_prefixes_ask_for_more() {
    let full = b"PROXY TCP4 198.51.100.7 192.0.2.1 51234 143\r\n";
    for n in 0..full.len() {
        assert!(parse(&full[..n]).unwrap().is_none(), "prefix {n}");
    }
    let h = v2(stream("198.51.100.7:1", "192.0.2.1:2"), vec![]);
    for n in 0..h.len() {
        assert!(parse(&h[..n]).unwrap().is_none(), "prefix {n}");
    }
}

#[test]
fn v2_with_ssl_cn_and_authority_tlvs() {
    let mut ssl = SslInfo::new(true, true, true, 0);
    ssl.append_tlv(Tlv::SslVersion("TLSv1.3".into()));
    ssl.append_tlv(Tlv::SslCn("alice".into()));
    let h = v2(
        stream("[2001:db8::7]:40000", "[2001:db8::1]:993"),
        vec![
            Tlv::Authority("imap.example.test".into()),
            Tlv::Ssl(ssl),
            Tlv::UniqueId(b"id-1"[..].into()),
            Tlv::Crc32c(12345),
        ],
    );
    let (i, n) = parse(&h).unwrap().unwrap();
    assert_eq!(n, h.len());
    assert_eq!(i.version, 2);
    assert!(i.ssl);
    assert_eq!(i.ssl_cn.as_deref(), Some("alice"));
    assert_eq!(i.authority.as_deref(), Some("imap.example.test"));
    assert_eq!(i.unique_id.as_deref(), Some(&b"id-1"[..]));
    assert_eq!(i.source, Some("[2001:db8::7]:40000".parse().unwrap()));
}

#[test]
fn v2_ssl_tlv_without_client_bit_is_not_tls() {
    let h = v2(
        stream("198.51.100.7:1", "192.0.2.1:2"),
        vec![Tlv::Ssl(SslInfo::new(false, false, false, 0))],
    );
    assert!(!parse(&h).unwrap().unwrap().0.ssl);
}

#[test]
fn v2_local_keeps_addresses_and_skips_the_rest() {
    let mut h = v2(None, vec![]);
    assert_eq!(h[12], 0x20);
    let (i, _) = parse(&h).unwrap().unwrap();
    assert!(i.local && i.source.is_none());
    // LOCAL with an odd family and junk body: still accepted, body skipped.
    h[13] = 0x55;
    h[15] = 3;
    h.extend_from_slice(b"xyzREST");
    let (i, n) = parse(&h).unwrap().unwrap();
    assert!(i.local);
    assert_eq!(&h[n..], b"REST");
}

#[test]
fn v2_violations_are_invalid() {
    let good = v2(stream("198.51.100.7:1", "192.0.2.1:2"), vec![]);
    let mut dgram = good.clone();
    dgram[13] = 0x12;
    let mut version = good.clone();
    version[12] = 0x31;
    let mut command = good.clone();
    command[12] = 0x22;
    let mut family = good.clone();
    family[13] = 0x41;
    let mut too_big = good[..16].to_vec();
    too_big[14..16].copy_from_slice(&(1500u16).to_be_bytes());
    let mut short_addr = good[..16].to_vec();
    short_addr[15] = 4;
    short_addr.extend_from_slice(&[1, 2, 3, 4]);
    // A TLV whose length runs past the end of the header.
    let mut overrun = good.clone();
    overrun[15] += 3;
    overrun.extend_from_slice(&[0x02, 0x00, 0x09]);
    for (name, h) in [
        ("dgram", dgram),
        ("version", version),
        ("command", command),
        ("family", family),
        ("too_big", too_big),
        ("short_addr", short_addr),
        ("overrun", overrun),
    ] {
        let e = parse(&h).unwrap_err();
        assert_eq!(e.reason(), "invalid", "{name}");
    }
}

#[test]
fn trusted_networks() {
    let t =
        TrustedNetworks::parse(&["10.0.0.0/8 192.0.2.7".into(), "2001:db8::/32".into()]).unwrap();
    assert!(t.contains("10.1.2.3".parse().unwrap()));
    assert!(t.contains("192.0.2.7".parse().unwrap()));
    assert!(t.contains("::ffff:10.9.9.9".parse().unwrap()));
    assert!(t.contains("2001:db8::5".parse().unwrap()));
    assert!(!t.contains("192.0.2.8".parse().unwrap()));
    let empty = TrustedNetworks::parse(&[]).unwrap();
    assert!(!empty.contains("127.0.0.1".parse().unwrap()));
    let e = TrustedNetworks::parse(&["10.0.0.0/33".into()])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("haproxy_trusted_networks") && e.contains("10.0.0.0/33"),
        "{e}"
    );
}

#[tokio::test]
async fn header_split_across_many_writes_is_buffered_and_the_rest_returned() {
    let (mut a, mut b) = tokio::io::duplex(64);
    let writer = tokio::spawn(async move {
        for byte in b"PROXY TCP4 198.51.100.7 192.0.2.1 51234 143\r\nA1 NOOP\r\n" {
            a.write_all(&[*byte]).await.unwrap();
            a.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        a
    });
    let (i, rest) = read_header(&mut b, Duration::from_secs(5)).await.unwrap();
    assert_eq!(i.source.unwrap().ip().to_string(), "198.51.100.7");
    let _a = writer.await.unwrap();
    let mut rest = rest;
    let mut more = vec![0u8; 64];
    while rest.len() < 9 {
        let n = b.read(&mut more).await.unwrap();
        rest.extend_from_slice(&more[..n]);
    }
    assert_eq!(rest, b"A1 NOOP\r\n");
}

#[tokio::test]
async fn slow_header_times_out() {
    let (mut a, mut b) = tokio::io::duplex(64);
    a.write_all(b"PROXY TCP4 ").await.unwrap();
    let t0 = Instant::now();
    let e = read_header(&mut b, Duration::from_millis(150))
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "timeout");
    assert!(t0.elapsed() < Duration::from_secs(2));
    drop(a);
}

#[tokio::test]
async fn eof_before_the_header_is_closed() {
    let mut r: &[u8] = b"PROXY TCP4 1.2";
    let e = read_header(&mut r, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "closed");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn random_bytes_after_a_signature_never_panic(
        v in 1u8..=2,
        tail in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let sig: &[u8] = if v == 1 { b"PROXY " } else { V2_SIG };
        let bytes = [sig, &tail].concat();
        let _ = parse(&bytes);
    }

    #[test]
    fn mutated_valid_v2_headers_never_panic(
        pos in 12usize..60,
        val in any::<u8>(),
        cut in 0usize..80,
    ) {
        let mut ssl = SslInfo::new(true, false, false, 0);
        ssl.append_tlv(Tlv::SslCn("cn".into()));
        let mut h = v2(stream("198.51.100.7:1", "192.0.2.1:2"),
            vec![Tlv::Authority("a.test".into()), Tlv::Ssl(ssl)]);
        if pos < h.len() { h[pos] = val; }
        h.truncate(cut.max(1));
        let _ = parse(&h);
    }
}

#[test]
fn random_streams_end_within_the_timeout() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(64));
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..200), |bytes| {
            rt.block_on(async {
                // The peer sends the bytes and then stays silent with the socket open.
                let (mut a, mut b) = tokio::io::duplex(4096);
                a.write_all(&bytes).await.unwrap();
                let t0 = Instant::now();
                let r = read_header(&mut b, Duration::from_millis(50)).await;
                assert!(t0.elapsed() < Duration::from_millis(1000));
                if let Ok((_, rest)) = r {
                    assert!(rest.len() <= bytes.len());
                }
                drop(a);
            });
            Ok(())
        })
        .unwrap();
}
