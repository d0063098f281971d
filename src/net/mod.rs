//! The network front door: listeners (inet, unix, fifo), PROXY headers, TLS, and the `Conn`
//! that services receive.

pub mod conn;
pub mod frontdoor;
pub mod listener;
pub mod settings;
pub mod unix;

pub use conn::{Conn, Stream, Transport};
pub use frontdoor::{FrontDoor, Rejected};
pub use listener::{Accepted, BoundListener, ListenerKind, ListenerSpec};
