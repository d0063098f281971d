//! Dovecot-compatible Maildir: message files in `tmp/ new/ cur/` with Dovecot's names
//! (`S=`/`W=` sizes, `:2,` flag letters), the `dovecot-uidlist` UID map (version 3) kept under
//! Dovecot's `dovecot-uidlist.lock` dotlock, and `dovecot-keywords`. Roost and Dovecot can
//! deliver to and read from one store at the same time and agree on every UID.

pub mod dotlock;
pub mod filename;
pub mod index;
pub mod keywords;
pub mod mailbox;
mod syncpair;
pub mod uidlist;
pub mod uidvalidity;

pub use filename::Flags;
pub use mailbox::{Assigned, Maildir, MessageEntry, Snapshot};

/// Converts CRLF line ends to LF, as Dovecot stores mail (`mail_save_crlf = no`); bare LF and
/// lone CR are kept.
pub fn crlf_to_lf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut start = 0;
    for i in memchr::memchr_iter(b'\n', data) {
        let end = if i > start && data[i - 1] == b'\r' {
            i - 1
        } else {
            i
        };
        out.extend_from_slice(&data[start..end]);
        out.push(b'\n');
        start = i + 1;
    }
    out.extend_from_slice(&data[start..]);
    out
}

/// The size a message has with CRLF line ends (IMAP RFC822.SIZE, POP3 octets): Dovecot's `W=`.
pub fn virtual_size(lf_data: &[u8]) -> u64 {
    let bare = memchr::memchr_iter(b'\n', lf_data)
        .filter(|&i| i == 0 || lf_data[i - 1] != b'\r')
        .count();
    (lf_data.len() + bare) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_becomes_lf_and_virtual_size_counts_it_back() {
        let stored = crlf_to_lf(b"a\r\nb\nc\rd\r\n");
        assert_eq!(stored, b"a\nb\nc\rd\n");
        assert_eq!(virtual_size(&stored), stored.len() as u64 + 3);
        assert_eq!(virtual_size(b"x\r\n"), 3);
        assert_eq!(crlf_to_lf(b"\r\n\r\n"), b"\n\n");
        assert_eq!(crlf_to_lf(b"no end\r"), b"no end\r");
        assert_eq!(virtual_size(b"\n\n"), 4);
    }
}
