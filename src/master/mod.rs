//! The master: one `WorkerPool` per enabled `service NAME { }` block, each with its listeners;
//! start-up, reload and shutdown; the control socket behind `roost ps|reload|stop`.

pub mod control;
pub mod generation;
pub mod metrics;
pub mod pool;
pub mod run;
pub mod service;

pub use pool::{PoolStatus, ProcessStatus, WorkerPool};
pub use service::{BoxFuture, EndReason, Handoff, Hub, Service, ServiceFactory, Session};
