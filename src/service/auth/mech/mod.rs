//! SASL mechanisms: their names and MECH flags (`info.rs`), the pure decoders of client
//! messages (each mechanism's file), and [`State`], the per-request state machine that drives a
//! mechanism against the [`Engine`](super::engine::Engine) (`state.rs`). This file only
//! declares and re-exports.

pub mod cram_md5;
pub mod info;
pub mod plain;
pub mod scram;
pub mod state;

pub use info::{find, MechInfo, MECHANISMS};
pub use state::{Failure, Outcome, State};
