//! What a logged-in IMAP session starts from and how it ended: the data that crosses to a
//! per-uid mail helper when the session runs there (`privsep::imap_helper`) and comes back.
//! A leaf module, so privsep can name these types without importing the session.

use serde::{Deserialize, Serialize};

use super::logout::Stats;

/// What a logged-in session starts from besides its connection (it travels to a mail helper
/// when the session runs there).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Start {
    pub user: String,
    pub fields: Vec<(String, String)>,
    pub session_id: String,
    /// The login command's tag (empty: PREAUTH).
    pub tag: String,
}

/// How a session ended: the reason for the `Disconnected:` line and its counters.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Outcome {
    pub reason: String,
    pub stats: Stats,
}
