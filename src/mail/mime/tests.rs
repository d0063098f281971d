//! Unit tests of the MIME scan (see tests/mime_dovecot.rs for the Dovecot comparison).
