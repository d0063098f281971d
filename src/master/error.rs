//! Why the master could not start or reload: one typed error per cause, each worded for the
//! admin (it names the setting, file, line, service, listener or path involved).

use crate::runtime::ServiceError;
use crate::settings::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{at}: protocols: protocol '{protocol}' is enabled but service {service} is not implemented in roost yet")]
    NotImplemented {
        at: String,
        protocol: String,
        service: String,
    },
    /// A listener block, TLS setting or PROXY trust list that cannot be used.
    #[error("{0}")]
    Net(#[from] crate::net::error::NetError),
    #[error("service({service}): {source}")]
    Service {
        service: String,
        #[source]
        source: ServiceError,
    },
    #[error("service({service}): cannot listen on {address} (listener {listener}): {source}")]
    Bind {
        service: String,
        address: String,
        listener: String,
        #[source]
        source: std::io::Error,
    },
    #[error("service({service}): cannot create fifo {path} (listener {listener}): {source}")]
    Fifo {
        service: String,
        path: String,
        listener: String,
        #[source]
        source: std::io::Error,
    },
    #[error("base_dir: {0}")]
    BaseDir(String),
    #[error("roost is already running with pid {pid} (pid file {path})")]
    AlreadyRunning { pid: i32, path: String },
    #[error("cannot {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("default_internal_user: {0}")]
    Privileges(String),
    #[error("privsep launcher: {0}")]
    Privsep(#[from] crate::privsep::PrivsepError),
    /// The demo passwd-file of the embedded default.
    #[error("{0}")]
    DemoUsers(String),
}

impl MasterError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> MasterError {
        MasterError::Io {
            what: what.into(),
            source,
        }
    }
}
