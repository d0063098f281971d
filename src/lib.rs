//! roost: Dovecot's service model as one async binary. This library is what the `roost` binary,
//! the integration tests and the benches share; see `../shared/design.md` for the map.

pub mod log;
pub mod mail;
pub mod master;
pub mod net;
pub mod privsep;
pub mod protocol;
pub mod random;
pub mod runtime;
pub mod service;
pub mod settings;
