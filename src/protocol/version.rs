//! The `VERSION\t<name>\t<major>\t<minor>` handshake line of Dovecot's internal protocols
//! (config, anvil, ipc, stats-reader): Dovecot's `version_string_verify` accepts a line whose
//! name and major version match; the minor version is not compared.

/// Whether `line` is a `VERSION` line for protocol `name` with major version `major`.
pub fn matches(line: &str, name: &str, major: u32) -> bool {
    let mut f = line.split('\t');
    f.next() == Some("VERSION") && f.next() == Some(name) && f.next() == Some(&major.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_and_major_must_match() {
        assert!(matches("VERSION\tanvil\t1\t0", "anvil", 1));
        assert!(matches("VERSION\tanvil\t1", "anvil", 1));
        assert!(matches("VERSION\tanvil\t1\t7", "anvil", 1));
        assert!(!matches("VERSION\tanvil\t2\t0", "anvil", 1));
        assert!(!matches("VERSION\tipc-server\t1\t0", "anvil", 1));
        assert!(!matches("VERSION\tanvil", "anvil", 1));
        assert!(!matches("HELLO\tanvil\t1\t0", "anvil", 1));
    }
}
