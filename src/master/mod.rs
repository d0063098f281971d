//! The master: one `Service` per `service NAME { }` block, each with its listeners and its pool
//! of virtual processes; start-up, reload and shutdown.

pub mod service;

pub use service::{BoxFuture, EndReason, Handoff, Hub, Service, ServiceFactory, Session};
