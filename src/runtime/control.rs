//! What admin commands may ask of the master without importing it: reload the configuration
//! and stop the server. The master publishes a [`MasterControlHandle`] in the hub; the doveadm
//! service's `reload` and `stop` use it.

use std::sync::Arc;

use super::BoxFuture;

/// The master's reload and stop, as the control socket offers them.
pub trait MasterControl: Send + Sync {
    /// Reloads the configuration; the error says why the old one stays.
    fn reload(&self) -> BoxFuture<Result<(), String>>;
    /// Starts a clean stop (listeners close, sessions get their goodbye).
    fn stop(&self) -> BoxFuture<()>;
}

/// The handle in the hub (put there by the master).
#[derive(Clone)]
pub struct MasterControlHandle(pub Arc<dyn MasterControl>);
