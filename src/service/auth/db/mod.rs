//! passdb and userdb drivers. Each `[[passdb]]`/`[[userdb]]` block becomes one [`Passdb`] or
//! [`Userdb`]; the engine tries them in order. Drivers return raw lookups; password checking,
//! `default_fields`/`override_fields` and `result_*` handling are the engine's. This file only
//! declares and re-exports: the interface is in `types.rs`, driver selection in `drivers.rs`.

pub mod drivers;
pub mod passwd_file;
pub mod shadow;
pub mod static_db;
pub mod types;

pub use drivers::{new_passdb, new_userdb, DbContext, WORKER_DRIVERS};
pub use types::{DbError, PassLookup, Passdb, UserLookupRaw, Userdb};
