//! The network front door: listeners (inet, unix, fifo), PROXY headers, TLS, and the `Conn`
//! that services receive.

pub mod conn;
pub mod error;
pub mod fifo;
pub mod frontdoor;
pub mod http;
pub mod listener;
pub mod metrics;
pub mod proxy;
pub mod reject;
pub mod settings;
pub mod spec;
pub mod tls;
pub mod unix;

pub use conn::{Conn, Stream, Transport};
pub use fifo::FifoListener;
pub use frontdoor::{FrontDoor, Rejected};
pub use listener::{Accepted, BoundListener, ListenerKind, ListenerSpec};
pub use reject::RejectReason;
