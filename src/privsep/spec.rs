//! [`HelperSpec`]: everything a helper applies to itself (user, group, extra_groups, chroot,
//! vsz_limit) and the files it may read, derived from a service's settings, with the one-line
//! form that travels on the helper's command line.

use crate::settings::Settings;

use super::error::PrivsepError;

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

/// The files helper `kind` may read: for auth-worker, every `shadow` passdb's `file=` (default
/// `/etc/shadow`).
pub fn helper_files(settings: &Settings, kind: &str) -> Vec<String> {
    if kind != "auth-worker" {
        return Vec::new();
    }
    let mut files: Vec<String> = settings
        .auth
        .passdb
        .iter()
        .filter(|d| d.driver == "shadow")
        .map(|d| {
            // The last `file=` wins, as in the shadow passdb's own parsing.
            d.args
                .split_whitespace()
                .rev()
                .find_map(|w| w.strip_prefix("file="))
                .unwrap_or("/etc/shadow")
                .to_string()
        })
        .collect();
    files.sort();
    files.dedup();
    files
}

impl HelperSpec {
    /// The spec of service `name` from the settings (`$default_internal_user` etc. expanded).
    pub fn for_service(settings: &Settings, name: &str) -> HelperSpec {
        let Some(s) = settings.service.get(name) else {
            return HelperSpec {
                kind: name.to_string(),
                vsz_limit: settings.core.default_vsz_limit.0,
                files: helper_files(settings, name),
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
            files: helper_files(settings, name),
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
