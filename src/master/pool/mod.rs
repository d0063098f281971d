//! One service's virtual processes and the only place that decides whether a connection may
//! start (spec §1.2–§1.7), split into the decisions and their effects:
//!
//! * `state.rs`: the synchronous state machine (slots, saturation, kick, throttle, idle_kill,
//!   `process_min_avail`), given the time with every event;
//! * `vproc.rs`: a virtual process's bookkeeping;
//! * `shell.rs`: `WorkerPool`, the async shell that applies the machine's decisions as
//!   metrics, log lines and signals; `accept.rs` (accept loop, handoff) and `session.rs` (one
//!   connection's life) extend it;
//! * `status.rs`: the runtime's status rows (`roost ps`, `SERVICE-STATUS`, gauges) read from
//!   the machine.

mod accept;
mod session;
mod shell;
pub mod state;
mod status;
pub mod vproc;

#[cfg(test)]
mod shell_tests;
#[cfg(test)]
mod state_tests;

pub use crate::runtime::{PoolStatus, ProcessStatus};
pub use shell::WorkerPool;
pub use state::DROP_TIMEOUT;
