//! Sans-IO protocol codecs: bytes in → commands, responses → bytes out. Nothing here touches a
//! socket; the session loops in `service/` drive them.

pub mod lmtp;
pub mod pop3;
