//! `/metrics` over plain HTTP: a GET that returns the body, and reading one sample's value out
//! of a Prometheus text scrape.

use std::io::{Read, Write};

/// A plain HTTP/1.0 GET on 127.0.0.1:`port`; returns the body.
pub fn http_get(port: u16, path: &str) -> String {
    let mut s = super::ports::connect_port(port);
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// The value of the sample `name{labels}` in a scrape: `labels` as written (`service="x"`,
/// comma-separated, each must be present); empty `labels` means the unlabelled sample.
pub fn metric_value(scrape: &str, name: &str, labels: &str) -> Option<f64> {
    for line in scrape.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let matches = if labels.is_empty() {
            key == name
        } else {
            key.starts_with(&format!("{name}{{")) && labels.split(',').all(|l| key.contains(l))
        };
        if matches {
            return value.parse().ok();
        }
    }
    None
}
