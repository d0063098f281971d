//! Unit tests of the mailbox index: rebuilds, torn writes, changes behind its back.
