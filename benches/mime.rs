//! MIME benchmarks (divan): the structure scan of a 1 MB multipart message (text,
//! HTML, base64 attachments and an attached message/rfc822), and the FETCH BODYSTRUCTURE
//! and ENVELOPE output built from the scan.
//!
//! Run: `cargo bench --bench mime`.

use std::sync::OnceLock;

use roost::mail::mime::scan;

fn main() {
    divan::main();
}

/// About 1 MB: 8 text parts, 8 HTML parts, 16 base64 attachments of ~60 KB, one nested
/// message/rfc822 with its own multipart/alternative.
fn message() -> &'static [u8] {
    static M: OnceLock<Vec<u8>> = OnceLock::new();
    M.get_or_init(|| {
        let mut m = String::from(
            "From: Bench <bench@example.org>\r\nTo: a@example.org, b@example.org\r\n\
             Subject: =?UTF-8?Q?bench_m=C3=A9ssage?=\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"outer-boundary\"\r\n\r\npreamble\r\n",
        );
        for i in 0..8 {
            m.push_str("--outer-boundary\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
            for _ in 0..40 {
                m.push_str("The quick brown fox jumps over the lazy dog, line of text.\r\n");
            }
            m.push_str("--outer-boundary\r\nContent-Type: text/html; charset=utf-8\r\n\r\n");
            m.push_str(&format!("<html><body><p>part {i}</p></body></html>\r\n"));
        }
        let b64 = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n";
        for i in 0..16 {
            m.push_str(&format!(
                "--outer-boundary\r\nContent-Type: application/octet-stream; name=\"f{i}.bin\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\
                 Content-Disposition: attachment; filename=\"f{i}.bin\"\r\n\r\n"
            ));
            for _ in 0..840 {
                m.push_str(b64);
            }
        }
        m.push_str(
            "--outer-boundary\r\nContent-Type: message/rfc822\r\n\r\nFrom: inner@example.org\r\n\
             Subject: inner\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n\
             --in\r\nContent-Type: text/plain\r\n\r\ninner text\r\n--in\r\n\
             Content-Type: text/html\r\n\r\n<p>inner</p>\r\n--in--\r\n--outer-boundary--\r\n",
        );
        assert!(m.len() > 1_000_000, "bench message is {} bytes", m.len());
        m.into_bytes()
    })
}

#[divan::bench]
fn scan_1mb_multipart() -> usize {
    scan(divan::black_box(message())).parts.len()
}

#[divan::bench]
fn bodystructure_1mb_multipart(b: divan::Bencher) {
    let m = scan(message());
    b.bench(|| divan::black_box(&m).bodystructure().len());
}

#[divan::bench]
fn envelope(b: divan::Bencher) {
    let m = scan(message());
    b.bench(|| divan::black_box(&m).envelope().to_imap().len());
}
