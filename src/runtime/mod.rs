//! The runtime seam, roost's lib-master: everything the master and the services agree on, so
//! that neither imports the other. The master implements it (pools, generations, the control
//! socket); each service under `src/service` uses it; `main.rs` hands the registry of services
//! to the master.
//!
//! * [`Service`] / [`ServiceFactory`]: what a service is and how the master builds one;
//! * [`Session`] / [`EndReason`]: the per-connection handle (shutdown and kick signals);
//! * [`Handoff`] / [`PostLogin`]: how a login service passes an authenticated connection on;
//! * [`Hub`]: in-process handles services share (auth, post-login, status views);
//! * [`status`]: read-only views of the pools for stats and `roost ps`;
//! * [`sessions`]: the post-login session directory anvil offers `roost who` and `roost kick`;
//! * [`control`]: the master's reload and stop, for admin commands;
//! * [`Registry`]: which services roost implements;
//! * [`metrics`]: the process-wide Prometheus recorder.

pub mod control;
pub mod handoff;
pub mod hub;
pub mod metrics;
pub mod registry;
pub mod service;
pub mod session;
pub mod sessions;
pub mod status;

pub use control::{MasterControl, MasterControlHandle};
pub use handoff::{Handoff, HandoffError, PostLogin, PostLoginHandle};
pub use hub::Hub;
pub use registry::Registry;
pub use service::{Service, ServiceError, ServiceFactory};
pub use session::{EndReason, Session};
pub use sessions::{DirectoryError, SessionDirectory, SessionDirectoryHandle, SessionRow};
pub use status::{PoolStatus, ProcessStatus, ServiceState, StatusHandle, StatusView};

/// The boxed future the seam's trait methods return.
pub type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'static>>;
