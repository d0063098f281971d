//! The network front door: listeners (inet, unix, fifo), PROXY headers, TLS, and the `Conn`
//! that services receive.

pub mod conn;
pub mod settings;

pub use conn::{Conn, Stream, Transport};
