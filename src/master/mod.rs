//! The master: one `WorkerPool` per enabled `service NAME { }` block, each with its listeners;
//! start-up, reload and shutdown; the control socket behind `roost ps|reload|stop`. It builds
//! services through the [`crate::runtime::Registry`] `main.rs` hands it and imports no service.

pub mod control;
pub mod demo;
pub mod error;
pub mod generation;
pub mod handoff;
pub mod metrics;
pub mod pool;
pub mod run;
pub mod state;

pub use pool::WorkerPool;
