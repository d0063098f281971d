//! Privilege separation: the only real processes roost has. A root-kept *launcher* process
//! (started by `roost serve` before it drops to `default_internal_user`) spawns *helpers*: the
//! same binary re-executed with a hidden subcommand, which apply their service's `chroot`,
//! `extra_groups`, `group`, `user`, `vsz_limit` (RLIMIT_AS and RLIMIT_DATA) and no-new-privs
//! and close inherited descriptors before serving framed requests on fd 3. Without root there
//! is no launcher: helpers that keep roost's own uid are spawned directly, and a service that
//! needs another uid refuses to start with a clear error (spec §5, §8 item 26).
//!
//! # Trust boundary
//!
//! Once it has dropped privileges, the server process is treated as possibly compromised: it
//! runs every protocol parser. The launcher is what it cannot be allowed to steer. As in
//! Dovecot, where the master alone decides what runs as whom from its own configuration:
//!
//! * The launcher reads the configuration file itself (the same `-c` file and `ROOST_*`
//!   environment the server was started with, while both were still root) and builds a
//!   [`policy::Policy`] from it. Nothing the server sends is ever taken as configuration.
//! * `SPAWN` names a helper spec; it is refused unless it is *exactly* the spec of a helper
//!   service in that configuration (service name, `user`, `group`, `extra_groups`, `chroot`,
//!   `vsz_limit`, and the shadow files the helper may read). At most
//!   [`policy::Policy::max_helpers`] helpers live at once.
//! * A helper only reads the files the launcher gave it on its command line (the `shadow`
//!   passdb `file=` paths of the configuration): a `PASSDB shadow` request for any other path is
//!   refused by the helper itself, whoever holds its socket.
//! * `LISTEN` (re)creates a unix socket the unprivileged server cannot create in root-owned
//!   directories (reload). Only a path that is a `unix_listener` of the configuration is
//!   accepted, with the configuration's `mode`, `user` and `group`; an existing file there is
//!   replaced only if it is a socket, and nothing is followed through symlinks.
//! * `RELOAD` makes the launcher re-read the configuration file from disk (no content comes
//!   with it), so that a reload's new helpers and listeners are checked against the new file.
//!   A file that is not owned by root or is writable by group or others is not re-read.
//! * Every refusal is answered `ERR` and logged by the launcher to roost's log.
//! * When the server's end of the socket closes, the launcher removes the pid file (if it
//!   still names the server) and exits.
//!
//! base_dir itself stays root's, as in Dovecot (see [`basedir`]): the server never owns a
//! directory in which root later creates or chowns anything.
//!
//! * [`frame`]: length-prefixed frames, optionally carrying a file descriptor.
//! * [`restrict`]: applying a [`HelperSpec`] inside the helper, before anything else runs.
//! * [`policy`]: what the launcher allows, from its own reading of the configuration.
//! * [`basedir`]: base_dir, login directories and unix sockets with Dovecot's owners and modes.
//! * [`launcher`]: the launcher process and the client the server uses to ask it for helpers.
//! * [`worker`]: the async pool the auth service uses to talk to auth-worker helpers.
//! * [`auth_worker`]: the auth-worker helper's request loop (shadow and passwd lookups).

pub mod auth_worker;
pub mod basedir;
pub mod frame;
pub mod launcher;
pub mod policy;
pub mod restrict;
pub mod worker;

use crate::settings::Settings;

/// Hidden subcommand names (`roost __helper KIND SPEC`, `roost __launcher`).
pub const HELPER_CMD: &str = "__helper";
pub const LAUNCHER_CMD: &str = "__launcher";

/// Everything a helper applies to itself before serving.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HelperSpec {
    /// Helper kind (`auth-worker`).
    pub kind: String,
    /// Empty: keep the launcher's uid (root).
    pub user: String,
    /// Empty: the user's primary group.
    pub group: String,
    pub extra_groups: Vec<String>,
    /// Empty: no chroot.
    pub chroot: String,
    /// Bytes; 0 = unlimited.
    pub vsz_limit: u64,
    /// Files the helper may read (the `shadow` passdb's `file=` paths); any other is refused.
    pub files: Vec<String>,
}

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
    #[error("launcher: {0}")]
    Launcher(String),
}

impl HelperSpec {
    /// The spec of service `name` from the settings (`$default_internal_user` etc. expanded).
    pub fn for_service(settings: &Settings, name: &str) -> HelperSpec {
        let Some(s) = settings.service.get(name) else {
            return HelperSpec {
                kind: name.to_string(),
                vsz_limit: settings.core.default_vsz_limit.0,
                files: policy::helper_files(settings, name),
                ..HelperSpec::default()
            };
        };
        let eff = s.effective(&settings.core);
        HelperSpec {
            kind: name.to_string(),
            user: settings.expand_user(&s.user),
            group: settings.expand_user(&s.group),
            extra_groups: s
                .extra_groups
                .split([' ', ','])
                .filter(|g| !g.is_empty())
                .map(|g| settings.expand_user(g))
                .collect(),
            chroot: s.chroot.clone(),
            vsz_limit: eff.vsz_limit,
            files: policy::helper_files(settings, name),
        }
    }

    /// One-line form passed on the helper's command line.
    pub fn encode(&self) -> String {
        format!(
            "kind={}\tuser={}\tgroup={}\textra_groups={}\tchroot={}\tvsz_limit={}\tfiles={}",
            self.kind,
            self.user,
            self.group,
            self.extra_groups.join(","),
            self.chroot,
            self.vsz_limit,
            self.files.join(",")
        )
    }

    pub fn decode(s: &str) -> Result<HelperSpec, PrivsepError> {
        let mut spec = HelperSpec::default();
        for f in s.split('\t') {
            let (k, v) = f
                .split_once('=')
                .ok_or_else(|| PrivsepError::Protocol(format!("field without '=': {f}")))?;
            match k {
                "kind" => spec.kind = v.into(),
                "user" => spec.user = v.into(),
                "group" => spec.group = v.into(),
                "extra_groups" => {
                    spec.extra_groups = v
                        .split(',')
                        .filter(|g| !g.is_empty())
                        .map(String::from)
                        .collect()
                }
                "chroot" => spec.chroot = v.into(),
                "files" => {
                    spec.files = v
                        .split(',')
                        .filter(|f| !f.is_empty())
                        .map(String::from)
                        .collect()
                }
                "vsz_limit" => {
                    spec.vsz_limit = v
                        .parse()
                        .map_err(|_| PrivsepError::Protocol(format!("vsz_limit={v}")))?
                }
                other => return Err(PrivsepError::Protocol(format!("unknown field {other}"))),
            }
        }
        if spec.kind.is_empty() {
            return Err(PrivsepError::Protocol("missing kind".into()));
        }
        Ok(spec)
    }

    /// Whether running this helper needs root: a user other than the current one.
    pub fn needs_root(&self) -> bool {
        let me = nix::unistd::geteuid();
        if me.is_root() {
            return false;
        }
        let target = if self.user.is_empty() {
            Some(nix::unistd::Uid::from_raw(0))
        } else {
            nix::unistd::User::from_name(&self.user)
                .ok()
                .flatten()
                .map(|u| u.uid)
        };
        target != Some(me) || !self.chroot.is_empty()
    }
}

/// For `roost serve`: when running as root, starts the launcher (which reads `source` itself)
/// and puts it in the hub, so that services built afterwards (auth) get helpers from it. Call
/// after binding listeners and before building services; then call
/// [`restrict::drop_privileges`] with `default_internal_user`. Returns whether a launcher was
/// started.
pub fn start_launcher(
    hub: &crate::runtime::Hub,
    source: &crate::settings::ConfigSource,
) -> Result<bool, PrivsepError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(false);
    }
    hub.insert(std::sync::Arc::new(launcher::Launcher::start(source)?));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_roundtrip_and_defaults() {
        let s = HelperSpec {
            kind: "auth-worker".into(),
            user: "nobody".into(),
            group: "nogroup".into(),
            extra_groups: vec!["mail".into(), "adm".into()],
            chroot: "".into(),
            vsz_limit: 256 << 20,
            files: vec!["/etc/shadow".into(), "/srv/shadow".into()],
        };
        assert_eq!(HelperSpec::decode(&s.encode()).unwrap(), s);
        assert!(HelperSpec::decode("user=x").is_err());
        assert!(HelperSpec::decode("kind=a\tbogus=1").is_err());
        let settings = Settings::default();
        let w = HelperSpec::for_service(&settings, "auth-worker");
        assert_eq!(w.user, "", "auth-worker keeps root as in Dovecot");
        assert_eq!(w.vsz_limit, 256 << 20, "default_vsz_limit");
    }
}
