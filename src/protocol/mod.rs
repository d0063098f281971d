//! Sans-IO protocol codecs: bytes in, commands or precise errors out; responses to bytes. No
//! module here touches a socket, so each is unit- and property-tested alone.

pub mod auth;
pub mod health_check;
pub mod imap;
pub mod lmtp;
pub mod pop3;
pub mod version;
