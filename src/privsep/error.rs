//! [`PrivsepError`]: why a helper could not be started, restricted or spoken to, or why the
//! launcher refused a request.

/// Privilege-separation failures.
#[derive(Debug, thiserror::Error)]
pub enum PrivsepError {
    #[error("service {service}: needs user '{user}' but roost is not running as root (uid {uid}); start roost as root or clear the service's user")]
    NeedsRoot {
        service: String,
        user: String,
        uid: u32,
    },
    #[error("unknown user '{0}'")]
    UnknownUser(String),
    #[error("unknown group '{0}'")]
    UnknownGroup(String),
    #[error("{what}: {source}")]
    Sys {
        what: String,
        #[source]
        source: nix::Error,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("malformed helper spec or frame: {0}")]
    Protocol(String),
    #[error("refused: {0}")]
    Refused(String),
    /// The launcher process said no, or went away (its own words).
    #[error("{0}")]
    Launcher(String),
}
