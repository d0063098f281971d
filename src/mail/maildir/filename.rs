//! Maildir file names as Dovecot writes them:
//! `<secs>.M<usecs>P<pid>Q<n>.<host>,S=<size>,W=<vsize>[:2,<flags>]`. The part before `:` is
//! the base name that `dovecot-uidlist` records; the `:2,` info carries the system flags
//! `D F P R S T` and keyword letters `a`–`z` (indexes into `dovecot-keywords`), sorted.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Flag letters of a message, kept sorted as Dovecot writes them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flags(BTreeSet<u8>);

impl Flags {
    pub const DRAFT: u8 = b'D';
    pub const FLAGGED: u8 = b'F';
    pub const PASSED: u8 = b'P';
    pub const ANSWERED: u8 = b'R';
    pub const SEEN: u8 = b'S';
    pub const DELETED: u8 = b'T';

    /// Parses the letters after `:2,` (unknown characters are kept, as Dovecot does).
    pub fn from_info(letters: &str) -> Flags {
        Flags(letters.bytes().filter(|b| b.is_ascii_graphic()).collect())
    }

    pub fn has(&self, letter: u8) -> bool {
        self.0.contains(&letter)
    }

    pub fn insert(&mut self, letter: u8) {
        self.0.insert(letter);
    }

    pub fn remove(&mut self, letter: u8) {
        self.0.remove(&letter);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keyword letters (`a`–`z`).
    pub fn keyword_letters(&self) -> impl Iterator<Item = u8> + '_ {
        self.0.iter().copied().filter(u8::is_ascii_lowercase)
    }

    /// The letters in Dovecot's order (byte order: system flags, then keywords).
    pub fn letters(&self) -> String {
        self.0.iter().map(|&b| b as char).collect()
    }
}

/// Splits a file name into its base and its flags (`None` when there is no `:2,` info).
pub fn split(name: &str) -> (&str, Option<Flags>) {
    match name.split_once(':') {
        Some((base, info)) => (base, info.strip_prefix("2,").map(Flags::from_info)),
        None => (name, None),
    }
}

/// The full file name for a base and flags (`base:2,FLAGS`, or the base alone when the file
/// never had info and still has no flags).
pub fn with_flags(base: &str, flags: &Flags) -> String {
    format!("{base}:2,{}", flags.letters())
}

/// Reads a `,KEY=value` field of a base name (`S` = file size, `W` = CRLF size).
pub fn field(base: &str, key: char) -> Option<u64> {
    base.split(',')
        .skip(1)
        .find_map(|f| f.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh, unique base name for a message of `size` bytes (LF) and `vsize` bytes (CRLF).
pub fn generate(host: &str, size: u64, vsize: u64) -> String {
    with_sizes(&unique(host), size, vsize)
}

/// `base,S=size,W=vsize`: the name a message written under `base` in tmp/ gets in new/.
pub fn with_sizes(base: &str, size: u64, vsize: u64) -> String {
    format!("{base},S={size},W={vsize}")
}

/// A fresh, unique name without sizes (a message still being written to tmp/).
pub fn unique(host: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}.M{}P{}Q{}.{}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        n,
        escape_host(host)
    )
}

/// Maildir's rule for the host part: `/` becomes `\057`, `:` becomes `\072`.
pub fn escape_host(host: &str) -> String {
    host.replace('/', "\\057").replace(':', "\\072")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_base_and_flags() {
        let (b, f) = split("1795902517.M548027P12074.vm,S=38,W=43:2,Sab");
        assert_eq!(b, "1795902517.M548027P12074.vm,S=38,W=43");
        let f = f.unwrap();
        assert!(f.has(Flags::SEEN));
        assert_eq!(f.keyword_letters().collect::<Vec<_>>(), b"ab");
        assert_eq!(split("x,S=1").1, None);
    }

    #[test]
    fn size_fields() {
        let b = "1795902517.M548027P12074.vm,S=38,W=43";
        assert_eq!(field(b, 'S'), Some(38));
        assert_eq!(field(b, 'W'), Some(43));
        assert_eq!(field("plain.name", 'S'), None);
    }

    #[test]
    fn flags_are_written_sorted() {
        let mut f = Flags::from_info("b");
        f.insert(Flags::SEEN);
        f.insert(Flags::ANSWERED);
        f.insert(b'a');
        assert_eq!(with_flags("base", &f), "base:2,RSab");
    }

    #[test]
    fn generated_names_are_unique_and_carry_sizes() {
        let a = generate("mx/1:2", 10, 12);
        let b = generate("mx/1:2", 10, 12);
        assert_ne!(a, b);
        assert!(a.contains(".mx\\0571\\0722,S=10,W=12"), "{a}");
        assert!(!a.contains(':'));
        assert_eq!(field(&a, 'W'), Some(12));
    }
}
