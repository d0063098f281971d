//! The mechanisms roost implements: their names, `MECH` flags and whether they send the
//! password in the clear.

/// A mechanism roost implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MechInfo {
    pub name: &'static str,
    /// Flags in the greeting's `MECH` line, in Dovecot's order.
    pub flags: &'static [&'static str],
    /// Sends the password in the clear (refused under `disable_plaintext_auth`).
    pub plaintext: bool,
}

pub static MECHANISMS: &[MechInfo] = &[
    MechInfo {
        name: "PLAIN",
        flags: &["plaintext"],
        plaintext: true,
    },
    MechInfo {
        name: "LOGIN",
        flags: &["plaintext"],
        plaintext: true,
    },
    MechInfo {
        name: "CRAM-MD5",
        flags: &["dictionary", "active"],
        plaintext: false,
    },
    MechInfo {
        name: "SCRAM-SHA-1",
        flags: &["mutual-auth"],
        plaintext: false,
    },
    MechInfo {
        name: "SCRAM-SHA-256",
        flags: &["mutual-auth"],
        plaintext: false,
    },
    MechInfo {
        name: "EXTERNAL",
        flags: &[],
        plaintext: false,
    },
    MechInfo {
        name: "ANONYMOUS",
        flags: &["anonymous"],
        plaintext: false,
    },
];

/// Finds a mechanism by name, case-insensitively.
pub fn find(name: &str) -> Option<&'static MechInfo> {
    MECHANISMS
        .iter()
        .find(|m| m.name.eq_ignore_ascii_case(name))
}
