//! `dovecot-uidlist`, the file that gives each Maildir message its IMAP UID.
//!
//! Version 3 (Dovecot ≥ 1.1): a header `3 V<uidvalidity> N<next uid> G<mailbox guid>` (fields
//! in any order, unknown ones kept) and one line per message `<uid> [<key><value> …]
//! :<base name>`. Version 1 (`1 <uidvalidity> <next uid>` and `<uid> <name>`) is read too.
//! Dovecot appends records without rewriting the header, so the next UID is the larger of `N`
//! and the last UID + 1. A last line without its newline is an append in progress and skipped.

use std::fmt::Write as _;
use std::path::Path;

use crate::mail::MailError;

/// One message's line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub uid: u32,
    /// Extension fields such as `W<vsize>`, `G<guid>` (key letter, value), kept as read.
    pub ext: Vec<(char, String)>,
    /// File name without the `:2,` info.
    pub base: String,
}

impl Record {
    pub fn ext(&self, key: char) -> Option<&str> {
        self.ext
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uidlist {
    pub uid_validity: u32,
    /// From the header; see [`Uidlist::next_uid`] for the effective value.
    pub header_next_uid: u32,
    /// 32 hex digits, or empty when the file had none.
    pub guid: String,
    /// Other header fields, kept when the file is rewritten.
    pub extra_header: Vec<(char, String)>,
    pub records: Vec<Record>,
}

impl Uidlist {
    pub fn new(uid_validity: u32, guid: String) -> Uidlist {
        Uidlist {
            uid_validity,
            header_next_uid: 1,
            guid,
            extra_header: Vec::new(),
            records: Vec::new(),
        }
    }

    /// The UID the next new message gets.
    pub fn next_uid(&self) -> u32 {
        let after_last = self.records.last().map(|r| r.uid + 1).unwrap_or(1);
        self.header_next_uid.max(after_last)
    }

    pub fn find(&self, base: &str) -> Option<&Record> {
        self.records.iter().find(|r| r.base == base)
    }

    /// Reads the file; `Ok(None)` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<Uidlist>, MailError> {
        match std::fs::read(path) {
            Ok(data) => Uidlist::parse(&data)
                .map(Some)
                .map_err(|reason| MailError::Corrupted {
                    path: path.to_path_buf(),
                    reason,
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(MailError::io("read", path)(e)),
        }
    }

    pub fn parse(data: &[u8]) -> Result<Uidlist, String> {
        let text = String::from_utf8_lossy(data);
        // Only complete lines count: a writer may be appending the last one right now.
        let complete = match text.rfind('\n') {
            Some(i) => &text[..i],
            None => return Err("no complete header line".into()),
        };
        let mut lines = complete.split('\n');
        let header = lines.next().unwrap_or("");
        let mut words = header.split(' ').filter(|w| !w.is_empty());
        let version: u32 = words
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or("header has no version")?;
        let mut list = Uidlist::new(0, String::new());
        match version {
            1 => {
                list.uid_validity = parse_num(words.next(), "uidvalidity")?;
                list.header_next_uid = parse_num(words.next(), "next uid")?;
            }
            3 => {
                for w in words {
                    let mut cs = w.chars();
                    let key = cs.next().unwrap_or(' ');
                    let value = cs.as_str();
                    match key {
                        'V' => list.uid_validity = parse_num(Some(value), "V")?,
                        'N' => list.header_next_uid = parse_num(Some(value), "N")?,
                        'G' => list.guid = value.to_string(),
                        k => list.extra_header.push((k, value.to_string())),
                    }
                }
            }
            v => return Err(format!("unsupported version {v}")),
        }
        let mut last = 0u32;
        for line in lines {
            if line.is_empty() {
                continue;
            }
            let rec = if version == 3 {
                parse_v3_record(line)?
            } else {
                let (uid, name) = line.split_once(' ').ok_or("record without file name")?;
                Record {
                    uid: parse_num(Some(uid), "uid")?,
                    ext: Vec::new(),
                    base: name.split(':').next().unwrap_or(name).to_string(),
                }
            };
            if rec.uid <= last {
                return Err(format!("UID {} not above the previous {last}", rec.uid));
            }
            last = rec.uid;
            list.records.push(rec);
        }
        Ok(list)
    }

    /// The file's text in version 3 format.
    pub fn serialize(&self) -> String {
        let mut s = format!("3 V{} N{}", self.uid_validity, self.next_uid());
        if !self.guid.is_empty() {
            let _ = write!(s, " G{}", self.guid);
        }
        for (k, v) in &self.extra_header {
            let _ = write!(s, " {k}{v}");
        }
        s.push('\n');
        for r in &self.records {
            s.push_str(&record_line(r));
        }
        s
    }
}

/// One record as a line, for appending.
pub fn record_line(r: &Record) -> String {
    let mut s = r.uid.to_string();
    for (k, v) in &r.ext {
        let _ = write!(s, " {k}{v}");
    }
    let _ = writeln!(s, " :{}", r.base);
    s
}

/// One version-3 record line (without its newline).
pub fn parse_v3_record(line: &str) -> Result<Record, String> {
    let (head, base) = line
        .split_once(" :")
        .ok_or_else(|| format!("record without ':' file name: {line}"))?;
    let mut words = head.split(' ').filter(|w| !w.is_empty());
    let uid = parse_num(words.next(), "uid")?;
    let ext = words
        .map(|w| {
            let mut cs = w.chars();
            let k = cs.next().unwrap_or(' ');
            (k, cs.as_str().to_string())
        })
        .collect();
    Ok(Record {
        uid,
        ext,
        base: base.to_string(),
    })
}

fn parse_num(v: Option<&str>, what: &str) -> Result<u32, String> {
    v.and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("bad {what} {v:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written by Dovecot 2.3.19.1: records appended after the header's N.
    const DOVECOT: &str = "3 V1795902517 N1 G30bfaa20354c0b6b2a2f000083ecc375\n\
1 :1795902517.M548027P12074.vm,S=38,W=43\n\
2 :1795902517.M561168P12079.vm,S=29,W=33\n\
4 G1795902523.M962544P12115.vm,S=437,W=454 :1795902523.M964982P12115.vm,S=437,W=454\n";

    #[test]
    fn reads_dovecots_file() {
        let l = Uidlist::parse(DOVECOT.as_bytes()).unwrap();
        assert_eq!(l.uid_validity, 1795902517);
        assert_eq!(l.guid, "30bfaa20354c0b6b2a2f000083ecc375");
        assert_eq!(l.records.len(), 3);
        assert_eq!(l.next_uid(), 5);
        let r = l.find("1795902523.M964982P12115.vm,S=437,W=454").unwrap();
        assert_eq!(r.uid, 4);
        assert_eq!(r.ext('G'), Some("1795902523.M962544P12115.vm,S=437,W=454"));
        assert_eq!(r.ext('W'), None);
    }

    #[test]
    fn round_trips_with_the_effective_next_uid() {
        let l = Uidlist::parse(DOVECOT.as_bytes()).unwrap();
        let text = l.serialize();
        assert!(text.starts_with("3 V1795902517 N5 G30bfaa20354c0b6b2a2f000083ecc375\n"));
        assert_eq!(Uidlist::parse(text.as_bytes()).unwrap().records, l.records);
    }

    #[test]
    fn skips_an_incomplete_last_line() {
        let mut t = DOVECOT.to_string();
        t.push_str("5 :partial");
        assert_eq!(Uidlist::parse(t.as_bytes()).unwrap().records.len(), 3);
    }

    #[test]
    fn reads_version_1() {
        let l = Uidlist::parse(b"1 1000 7\n3 abc:2,S\n6 def\n").unwrap();
        assert_eq!(l.uid_validity, 1000);
        assert_eq!(l.next_uid(), 7);
        assert_eq!(l.records[0].base, "abc");
    }

    #[test]
    fn rejects_unordered_uids() {
        assert!(Uidlist::parse(b"3 V1 N1\n2 :a\n2 :b\n").is_err());
    }
}
