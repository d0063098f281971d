//! roost's MIME library against Dovecot 2.3's recorded answers: for every message in
//! `tests/data/mime/*.eml`, FETCH ENVELOPE, BODYSTRUCTURE, BODY and `BODY[section]` must
//! equal what Dovecot sent byte for byte, and every SEARCH probe must match exactly the
//! messages Dovecot's matched. The answers were recorded from the reference Dovecot by
//! `tests/data/mime/record.py` (`NAME.dovecot` next to each `NAME.eml`).

use std::path::{Path, PathBuf};

use roost::mail::mime::{scan, HeaderKind, SectionText};

fn corpus() -> Vec<PathBuf> {
    // ROOST_MIME_CORPUS points at another recorded directory (see record.py).
    let dir = std::env::var_os("ROOST_MIME_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mime"));
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    v.sort();
    assert!(v.len() >= 15, "corpus has {} messages", v.len());
    v
}

/// `KEY\n<len>\n<bytes>\n` records.
fn records(path: &Path) -> Vec<(String, Vec<u8>)> {
    let d = std::fs::read(path).expect("recorded answers");
    let mut out = Vec::new();
    let mut i = 0;
    while i < d.len() {
        let k_end = i + d[i..].iter().position(|&c| c == b'\n').expect("key line");
        let l_end = k_end
            + 1
            + d[k_end + 1..]
                .iter()
                .position(|&c| c == b'\n')
                .expect("len");
        let n: usize = std::str::from_utf8(&d[k_end + 1..l_end])
            .unwrap()
            .parse()
            .unwrap();
        out.push((
            String::from_utf8(d[i..k_end].to_vec()).unwrap(),
            d[l_end + 1..l_end + 1 + n].to_vec(),
        ));
        i = l_end + 2 + n;
    }
    out
}

/// The bytes of an IMAP literal `{n}\r\n...` (Dovecot sends sections as literals).
fn literal(v: &[u8]) -> Vec<u8> {
    let close = v.iter().position(|&c| c == b'}').expect("literal");
    assert_eq!(&v[close + 1..close + 3], b"\r\n");
    v[close + 3..].to_vec()
}

fn parse_section(spec: &str) -> (Vec<u32>, String, Vec<String>) {
    let mut path = Vec::new();
    let mut rest = spec;
    while let Some(d) = rest
        .split(['.', ' '])
        .next()
        .and_then(|s| s.parse::<u32>().ok())
    {
        path.push(d);
        rest = rest.split_once('.').map(|x| x.1).unwrap_or("");
    }
    let (what, fields) = match rest.split_once(" (") {
        Some((w, f)) => (
            w.to_string(),
            f.trim_end_matches(')')
                .split(' ')
                .map(String::from)
                .collect(),
        ),
        None => (rest.to_string(), Vec::new()),
    };
    (path, what, fields)
}

fn show(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

#[test]
fn fetch_and_search_answers_equal_dovecots_for_the_whole_corpus() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for eml in corpus() {
        let raw = std::fs::read(&eml).unwrap();
        let msg = scan(&raw);
        let name = eml.file_stem().unwrap().to_string_lossy().into_owned();
        for (key, want) in records(&eml.with_extension("dovecot")) {
            let got: Vec<u8> = if key == "ENVELOPE" {
                msg.envelope().to_imap()
            } else if key == "BODYSTRUCTURE" {
                msg.bodystructure()
            } else if key == "BODY" {
                msg.body()
            } else if let Some(spec) = key.strip_prefix("BODY.PEEK[") {
                let (path, what, fields) = parse_section(spec.trim_end_matches(']'));
                let text = match what.as_str() {
                    "" => SectionText::Full,
                    "HEADER" => SectionText::Header,
                    "TEXT" => SectionText::Text,
                    "MIME" => SectionText::Mime,
                    "HEADER.FIELDS" => SectionText::HeaderFields(&fields),
                    "HEADER.FIELDS.NOT" => SectionText::HeaderFieldsNot(&fields),
                    other => panic!("unknown section {other}"),
                };
                let got = msg
                    .section(&path, &text)
                    .map(|c| c.into_owned())
                    .unwrap_or_default();
                if got != literal(&want) {
                    failures.push(format!(
                        "{name} {key}:\n  dovecot {:?}\n  roost   {:?}",
                        show(&literal(&want)),
                        show(&got)
                    ));
                }
                checked += 1;
                continue;
            } else if let Some(probe) = key.strip_prefix("SEARCH ") {
                let (kind, rest) = probe.split_once(' ').unwrap();
                let hit = match kind {
                    "BODY" => msg.search_body(rest),
                    "TEXT" => msg.search_text(rest),
                    "HEADER" => {
                        let (field, needle) = rest.split_once(' ').unwrap();
                        msg.search_header(field, needle, HeaderKind::Plain)
                    }
                    k => msg.search_header(k, rest, HeaderKind::for_search_key(k)),
                };
                (if hit { "1" } else { "0" }).as_bytes().to_vec()
            } else {
                panic!("unknown record {key}");
            };
            if got != want {
                failures.push(format!(
                    "{name} {key}:\n  dovecot {}\n  roost   {}",
                    show(&want),
                    show(&got)
                ));
            }
            checked += 1;
        }
    }
    assert!(checked > 500, "only {checked} answers checked");
    assert!(
        failures.is_empty(),
        "{} of {checked} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
