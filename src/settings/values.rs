//! Dovecot's value syntaxes: TIME (`60 s`, `infinite`), SIZE (`256 M`), octal `mode`, BOOL
//! (`yes`/`no`) and UINT. Each type parses from a string (config files, `ROOST_*` variables) and
//! from the native TOML type, and prints back in Dovecot's spelling so that `roost config`
//! output loads again unchanged.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Largest TIME value; Dovecot 2.3 spells "never" as `4294967295 secs`.
pub const TIME_NEVER_SECS: u64 = u32::MAX as u64;

/// A TIME setting, stored in milliseconds. `0` may be written without a unit; any other number
/// needs one (spec §1.1). `infinite`/`never` (Dovecot 2.4 syntax) mean `4294967295 secs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time {
    millis: u64,
}

impl Time {
    pub const ZERO: Time = Time { millis: 0 };
    pub const NEVER: Time = Time {
        millis: TIME_NEVER_SECS * 1000,
    };

    pub const fn from_secs(secs: u64) -> Time {
        Time {
            millis: secs * 1000,
        }
    }

    pub const fn from_millis(millis: u64) -> Time {
        Time { millis }
    }

    pub fn is_zero(&self) -> bool {
        self.millis == 0
    }

    pub fn is_never(&self) -> bool {
        self.millis >= TIME_NEVER_SECS * 1000
    }

    pub fn as_millis(&self) -> u64 {
        self.millis
    }

    pub fn as_duration(&self) -> Duration {
        Duration::from_millis(self.millis)
    }

    /// Parses Dovecot's TIME syntax.
    pub fn parse(input: &str) -> Result<Time, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("empty time value".into());
        }
        let lower = s.to_ascii_lowercase();
        if lower == "infinite" || lower == "never" || lower == "unlimited" {
            return Ok(Time::NEVER);
        }
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        if num.is_empty() {
            return Err(format!("invalid time '{input}': expected a number"));
        }
        let n: u64 = num
            .parse()
            .map_err(|_| format!("invalid time '{input}': number too large"))?;
        let unit = unit.trim().to_ascii_lowercase();
        if unit.is_empty() {
            if n == 0 {
                return Ok(Time::ZERO);
            }
            return Err(format!(
                "invalid time '{input}': missing units (e.g. '{n} s', '{n} mins')"
            ));
        }
        let millis = if is_prefix_of(&unit, "milliseconds", 2) || is_prefix_of(&unit, "msecs", 2) {
            n
        } else if is_prefix_of(&unit, "seconds", 1) || is_prefix_of(&unit, "secs", 1) {
            n.saturating_mul(1000)
        } else if is_prefix_of(&unit, "minutes", 1) || is_prefix_of(&unit, "mins", 1) {
            n.saturating_mul(60_000)
        } else if is_prefix_of(&unit, "hours", 1) {
            n.saturating_mul(3_600_000)
        } else if is_prefix_of(&unit, "days", 1) {
            n.saturating_mul(86_400_000)
        } else if is_prefix_of(&unit, "weeks", 1) {
            n.saturating_mul(7 * 86_400_000)
        } else {
            return Err(format!("invalid time '{input}': unknown unit '{unit}'"));
        };
        if millis > TIME_NEVER_SECS * 1000 {
            return Err(format!(
                "invalid time '{input}': larger than 4294967295 secs"
            ));
        }
        Ok(Time { millis })
    }
}

/// True when `unit` is a prefix of `word` at least `min` characters long ("m" is minutes, so
/// milliseconds need "ms").
fn is_prefix_of(unit: &str, word: &str, min: usize) -> bool {
    unit.len() >= min && word.starts_with(unit)
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.millis == 0 {
            write!(f, "0")
        } else if self.is_never() {
            write!(f, "infinite")
        } else if self.millis % 1000 != 0 {
            write!(f, "{} ms", self.millis)
        } else {
            let s = self.millis / 1000;
            if s % 86_400 == 0 {
                write!(f, "{} days", s / 86_400)
            } else if s % 3600 == 0 {
                write!(f, "{} hours", s / 3600)
            } else if s % 60 == 0 {
                write!(f, "{} mins", s / 60)
            } else {
                write!(f, "{s} secs")
            }
        }
    }
}

/// A SIZE setting in bytes: `B`, `k`, `M`, `G`, `T` (powers of 1024), optionally followed by
/// `i` and/or `B` (`256M`, `256 MiB`, `256MB` are equal).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Size(pub u64);

impl Size {
    pub fn parse(input: &str) -> Result<Size, String> {
        let s = input.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        if num.is_empty() {
            return Err(format!("invalid size '{input}': expected a number"));
        }
        let n: u64 = num
            .parse()
            .map_err(|_| format!("invalid size '{input}': number too large"))?;
        let unit = unit.trim();
        let mut chars = unit.chars();
        let mult: u64 = match chars.next().map(|c| c.to_ascii_uppercase()) {
            None => return Ok(Size(n)),
            Some('B') => {
                if chars.next().is_some() {
                    return Err(format!("invalid size '{input}': unknown unit '{unit}'"));
                }
                return Ok(Size(n));
            }
            Some('K') => 1 << 10,
            Some('M') => 1 << 20,
            Some('G') => 1 << 30,
            Some('T') => 1 << 40,
            Some(_) => return Err(format!("invalid size '{input}': unknown unit '{unit}'")),
        };
        let rest: String = chars.collect();
        if !matches!(rest.as_str(), "" | "i" | "B" | "iB" | "b" | "ib") {
            return Err(format!("invalid size '{input}': unknown unit '{unit}'"));
        }
        n.checked_mul(mult)
            .map(Size)
            .ok_or_else(|| format!("invalid size '{input}': too large"))
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (shift, unit) in [(40, "T"), (30, "G"), (20, "M"), (10, "k")] {
            if n != 0 && n % (1u64 << shift) == 0 {
                return write!(f, "{} {unit}", n >> shift);
            }
        }
        write!(f, "{n} B")
    }
}

/// A unix/fifo listener `mode`. Octal when written with a leading `0` (Dovecot's rule). A
/// number without the leading 0 is read as octal too when it consists only of octal digits
/// (`666` means 0666): this deliberately differs from Dovecot 2.3, which reads it as decimal
/// (01232), and the loader warns about it (spec §8 item 12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Mode(pub u32);

impl Mode {
    /// Returns the mode and whether it lacked the leading 0 (the caller warns).
    pub fn parse(input: &str) -> Result<(Mode, bool), String> {
        let s = input.trim();
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "invalid mode '{input}': expected an octal number like 0600"
            ));
        }
        if s.chars().any(|c| c == '8' || c == '9') {
            return Err(format!(
                "invalid mode '{input}': not octal (write it with a leading 0, e.g. 0660)"
            ));
        }
        let v = u32::from_str_radix(s, 8).map_err(|_| format!("invalid mode '{input}'"))?;
        if v > 0o7777 {
            return Err(format!("invalid mode '{input}': larger than 07777"));
        }
        Ok((Mode(v), !s.starts_with('0') && v != 0))
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0{:o}", self.0)
    }
}

/// Parses Dovecot's BOOL: `yes`, `y`, `1`, `true` / `no`, `n`, `0`, `false`.
pub fn parse_bool(input: &str) -> Result<bool, String> {
    match input.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "1" | "true" => Ok(true),
        "no" | "n" | "0" | "false" => Ok(false),
        _ => Err(format!("invalid boolean '{input}': use yes or no")),
    }
}

/// Parses a plain decimal UINT.
pub fn parse_uint(input: &str) -> Result<u32, String> {
    let s = input.trim();
    s.parse::<u32>()
        .map_err(|_| format!("invalid number '{input}': expected a whole number"))
}

// ---- serde glue -------------------------------------------------------------------------

macro_rules! string_or_number_visitor {
    ($name:ident, $ty:ty, $expect:expr, |$s:ident| $from_str:expr, |$n:ident| $from_u64:expr) => {
        struct $name;
        impl<'de> Visitor<'de> for $name {
            type Value = $ty;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str($expect)
            }
            fn visit_str<E: de::Error>(self, $s: &str) -> Result<$ty, E> {
                $from_str.map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, $n: u64) -> Result<$ty, E> {
                $from_u64.map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<$ty, E> {
                if v < 0 {
                    return Err(E::custom(format!("negative value {v} is not allowed")));
                }
                self.visit_u64(v as u64)
            }
        }
    };
}

string_or_number_visitor!(
    TimeVisitor,
    Time,
    "a time such as \"60 s\" or 0",
    |s| Time::parse(s),
    |n| if n == 0 {
        Ok(Time::ZERO)
    } else {
        Err(format!(
            "invalid time '{n}': missing units (e.g. '{n} s', '{n} mins')"
        ))
    }
);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Time, D::Error> {
        d.deserialize_any(TimeVisitor)
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

string_or_number_visitor!(
    SizeVisitor,
    Size,
    "a size such as \"256 M\"",
    |s| Size::parse(s),
    |n| Ok::<_, String>(Size(n))
);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Size, D::Error> {
        d.deserialize_any(SizeVisitor)
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

string_or_number_visitor!(
    ModeVisitor,
    Mode,
    "an octal mode such as \"0600\"",
    |s| Mode::parse(s).map(|(m, _)| m),
    |n| Mode::parse(&n.to_string()).map(|(m, _)| m)
);

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Mode, D::Error> {
        d.deserialize_any(ModeVisitor)
    }
}

impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// serde helpers for fields that are Dovecot BOOL or UINT but may arrive as strings from the
/// environment (`ROOST_SSL=yes`).
pub mod lenient {
    use super::*;

    struct BoolVisitor;
    impl<'de> Visitor<'de> for BoolVisitor {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("yes or no")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<bool, E> {
            parse_bool(s).map_err(E::custom)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
            match v {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(E::custom(format!("invalid boolean '{v}': use yes or no"))),
            }
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
            self.visit_u64(v.max(2) as u64)
        }
    }

    pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        d.deserialize_any(BoolVisitor)
    }

    struct UintVisitor;
    impl<'de> Visitor<'de> for UintVisitor {
        type Value = u32;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a whole number")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<u32, E> {
            parse_uint(s).map_err(E::custom)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u32, E> {
            u32::try_from(v).map_err(|_| E::custom(format!("number {v} is too large")))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u32, E> {
            if v < 0 {
                return Err(E::custom(format!("negative value {v} is not allowed")));
            }
            self.visit_u64(v as u64)
        }
    }

    pub fn uint<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        d.deserialize_any(UintVisitor)
    }

    struct ListVisitor;
    impl<'de> Visitor<'de> for ListVisitor {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of words, as an array or a space/comma separated string")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Vec<String>, E> {
            Ok(split_list(s))
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(v) = seq.next_element::<String>()? {
                out.extend(split_list(&v));
            }
            Ok(out)
        }
    }

    struct FilterVisitor;
    impl<'de> Visitor<'de> for FilterVisitor {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("yes, no or an event filter")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
            Ok(if v { "yes".into() } else { String::new() })
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<String, E> {
            Ok(s.to_string())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            BoolVisitor.visit_u64(v).and_then(|b| self.visit_bool(b))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            BoolVisitor.visit_i64(v).and_then(|b| self.visit_bool(b))
        }
    }

    /// An event filter setting that also takes a boolean (`true` = `yes`, `false` = empty).
    pub fn filter<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        d.deserialize_any(FilterVisitor)
    }

    /// A list given either as a TOML array or as Dovecot's space/comma separated string.
    pub fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        d.deserialize_any(ListVisitor)
    }
}

/// Splits Dovecot's space- and/or comma-separated list syntax.
pub fn split_list(s: &str) -> Vec<String> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_units() {
        assert_eq!(Time::parse("60 s").unwrap(), Time::from_secs(60));
        assert_eq!(Time::parse("1 mins").unwrap(), Time::from_secs(60));
        assert_eq!(Time::parse("1m").unwrap(), Time::from_secs(60));
        assert_eq!(Time::parse("2 HOURS").unwrap(), Time::from_secs(7200));
        assert_eq!(Time::parse("1 d").unwrap(), Time::from_secs(86400));
        assert_eq!(Time::parse("1 week").unwrap(), Time::from_secs(7 * 86400));
        assert_eq!(Time::parse("1500 ms").unwrap(), Time::from_millis(1500));
        assert_eq!(Time::parse("0").unwrap(), Time::ZERO);
        assert_eq!(Time::parse("4294967295 secs").unwrap(), Time::NEVER);
        assert_eq!(Time::parse("infinite").unwrap(), Time::NEVER);
    }

    #[test]
    fn time_errors() {
        assert!(Time::parse("30").unwrap_err().contains("missing units"));
        assert!(Time::parse("3 fortnights")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(Time::parse("").is_err());
        assert!(Time::parse("s").unwrap_err().contains("expected a number"));
        assert!(Time::parse("4294967296 secs")
            .unwrap_err()
            .contains("larger than"));
    }

    #[test]
    fn size_units() {
        assert_eq!(Size::parse("256M").unwrap(), Size(256 << 20));
        assert_eq!(Size::parse("256 MiB").unwrap(), Size(256 << 20));
        assert_eq!(Size::parse("256MB").unwrap(), Size(256 << 20));
        assert_eq!(Size::parse("1 k").unwrap(), Size(1024));
        assert_eq!(Size::parse("7").unwrap(), Size(7));
        assert_eq!(Size::parse("7 B").unwrap(), Size(7));
        assert!(Size::parse("7 X").unwrap_err().contains("unknown unit"));
        assert!(Size::parse("M").unwrap_err().contains("expected a number"));
    }

    #[test]
    fn mode_rules() {
        assert_eq!(Mode::parse("0666").unwrap(), (Mode(0o666), false));
        assert_eq!(Mode::parse("666").unwrap(), (Mode(0o666), true));
        assert_eq!(Mode::parse("0").unwrap(), (Mode(0), false));
        assert!(Mode::parse("0698").unwrap_err().contains("not octal"));
        assert!(Mode::parse("rw").is_err());
        assert_eq!(Mode(0o600).to_string(), "0600");
    }

    #[test]
    fn bools() {
        for t in ["yes", "y", "1", "true", "YES"] {
            assert!(parse_bool(t).unwrap());
        }
        for f in ["no", "n", "0", "false"] {
            assert!(!parse_bool(f).unwrap());
        }
        assert!(parse_bool("maybe").unwrap_err().contains("use yes or no"));
    }

    #[test]
    fn lists() {
        assert_eq!(split_list("*, ::"), vec!["*", "::"]);
        assert_eq!(split_list("imap pop3,lmtp"), vec!["imap", "pop3", "lmtp"]);
    }

    proptest::proptest! {
        #[test]
        fn time_roundtrip(ms in 0u64..=(TIME_NEVER_SECS * 1000)) {
            let t = Time::from_millis(ms);
            let printed = t.to_string();
            let back = Time::parse(&printed).unwrap();
            if t.is_never() { proptest::prop_assert!(back.is_never()); }
            else { proptest::prop_assert_eq!(back, t); }
        }

        #[test]
        fn size_roundtrip(n in 0u64..(1u64 << 50)) {
            proptest::prop_assert_eq!(Size::parse(&Size(n).to_string()).unwrap(), Size(n));
        }

        #[test]
        fn mode_roundtrip(m in 0u32..=0o7777) {
            proptest::prop_assert_eq!(Mode::parse(&Mode(m).to_string()).unwrap().0, Mode(m));
        }

        #[test]
        fn parsers_never_panic(s in ".{0,24}") {
            let _ = Time::parse(&s);
            let _ = Size::parse(&s);
            let _ = Mode::parse(&s);
            let _ = parse_bool(&s);
        }
    }
}
