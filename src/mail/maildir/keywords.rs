//! `dovecot-keywords`: which keyword each flag letter stands for. Line `<index> <name>`; index
//! 0 is letter `a`, 25 is `z` (Maildir can carry at most 26 keywords per mailbox).

use std::path::Path;

use crate::mail::MailError;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keywords {
    names: Vec<Option<String>>,
}

impl Keywords {
    pub fn read(dir: &Path) -> Result<Keywords, MailError> {
        let path = dir.join("dovecot-keywords");
        match std::fs::read_to_string(&path) {
            Ok(t) => Ok(Keywords::parse(&t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Keywords::default()),
            Err(e) => Err(MailError::io("read", path)(e)),
        }
    }

    pub fn parse(text: &str) -> Keywords {
        let mut names: Vec<Option<String>> = Vec::new();
        for line in text.lines() {
            let Some((idx, name)) = line.split_once(' ') else {
                continue;
            };
            let Ok(idx) = idx.parse::<usize>() else {
                continue;
            };
            if idx >= 26 || name.is_empty() {
                continue;
            }
            if names.len() <= idx {
                names.resize(idx + 1, None);
            }
            names[idx] = Some(name.to_string());
        }
        Keywords { names }
    }

    /// The keyword a flag letter stands for.
    pub fn name(&self, letter: u8) -> Option<&str> {
        if !letter.is_ascii_lowercase() {
            return None;
        }
        self.names
            .get((letter - b'a') as usize)
            .and_then(|n| n.as_deref())
    }

    /// The letter of `name`, giving it the first free one if it has none (`None`: all 26
    /// letters are taken, as Dovecot's Maildir limit).
    pub fn add(&mut self, name: &str) -> Option<u8> {
        if let Some(l) = self.letter(name) {
            return Some(l);
        }
        let free = match self.names.iter().position(Option::is_none) {
            Some(i) => i,
            None if self.names.len() < 26 => {
                self.names.push(None);
                self.names.len() - 1
            }
            None => return None,
        };
        self.names[free] = Some(name.to_string());
        Some(b'a' + free as u8)
    }

    /// Writes `dovecot-keywords` in `dir` (whole, then renamed over the old one).
    pub fn write(&self, dir: &Path) -> Result<(), MailError> {
        let mut text = String::new();
        for (i, n) in self.names.iter().enumerate() {
            if let Some(n) = n {
                text.push_str(&format!("{i} {n}\n"));
            }
        }
        let tmp = dir.join("dovecot-keywords.tmp");
        std::fs::write(&tmp, text).map_err(MailError::io("write", &tmp))?;
        let dest = dir.join("dovecot-keywords");
        std::fs::rename(&tmp, &dest).map_err(MailError::io("rename", dest))
    }

    /// The letter of a keyword, if it has one.
    pub fn letter(&self, name: &str) -> Option<u8> {
        self.names
            .iter()
            .position(|n| n.as_deref() == Some(name))
            .map(|i| b'a' + i as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_letters_to_names_as_dovecot_wrote_them() {
        let k = Keywords::parse("0 $Label1\n1 Junk\n");
        assert_eq!(k.name(b'a'), Some("$Label1"));
        assert_eq!(k.name(b'b'), Some("Junk"));
        assert_eq!(k.name(b'c'), None);
        assert_eq!(k.letter("Junk"), Some(b'b'));
        assert_eq!(k.name(b'S'), None);
    }

    #[test]
    fn new_keywords_take_the_first_free_letter_and_round_trip() {
        let mut k = Keywords::parse("1 Junk\n");
        assert_eq!(k.add("Junk"), Some(b'b'));
        assert_eq!(k.add("$Label1"), Some(b'a'));
        assert_eq!(k.add("Work"), Some(b'c'));
        let d = std::env::temp_dir().join(format!("roost-kw-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        k.write(&d).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join("dovecot-keywords")).unwrap(),
            "0 $Label1\n1 Junk\n2 Work\n"
        );
        assert_eq!(Keywords::read(&d).unwrap(), k);
    }
}
