//! What the launcher allows, derived only from the configuration it read itself: the helper
//! specs that exist (by service name, with their uid/gid/groups/chroot/vsz_limit and readable
//! files), which uid/gid mail helpers may run as, the cap on live helpers, and the unix listeners it may (re)create with their
//! configured owners and modes. A request is checked against this and nothing else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::settings::Settings;

pub use super::spec::helper_files;
use super::spec::HelperSpec;

/// Helper kinds roost implements (`roost __helper` knows how to run them) and configures by
/// service; mail helpers ([`MAIL_KIND`]) are checked by uid/gid instead.
pub const HELPER_KINDS: &[&str] = &["auth-worker"];

/// The mail helper kind: one per userdb uid/gid, running roost's mail code as that uid/gid.
pub const MAIL_KIND: &str = "mail";

/// What mail helpers the configuration allows: Dovecot's valid uid/gid ranges (0 never), its
/// `default_vsz_limit`, and a cap of the lmtp, pop3 and imap services' `process_limit` together
/// (a Dovecot lmtp, pop3 or imap process is what accesses mail as a user).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailPolicy {
    pub first_valid_uid: u32,
    /// 0: no upper limit.
    pub last_valid_uid: u32,
    pub first_valid_gid: u32,
    pub last_valid_gid: u32,
    pub vsz_limit: u64,
    pub max_helpers: usize,
}

/// Auth drivers that run in an auth-worker helper.
const WORKER_DRIVERS: &[&str] = &["shadow", "passwd"];

/// A unix socket the launcher may create, as the configuration describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketSpec {
    pub mode: u32,
    /// Expanded (`$default_internal_user` replaced); empty: root, the launcher's own.
    pub user: String,
    pub group: String,
}

/// Everything the launcher allows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    pub base_dir: PathBuf,
    /// Helper service name → the only spec it may run with.
    pub helpers: BTreeMap<String, HelperSpec>,
    /// Live helpers at most (all kinds together).
    pub max_helpers: usize,
    /// Absolute socket path → its configured mode and owner.
    pub sockets: BTreeMap<PathBuf, SocketSpec>,
    /// Login services' chroot directories (`login`, `token-login`): 0750 root:login group.
    pub login_dirs: Vec<PathBuf>,
    /// `default_login_user`, whose primary group owns the login directories.
    pub login_user: String,
    /// Mail helpers by uid/gid.
    pub mail: MailPolicy,
}

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no helper service '{0}' in the configuration")]
    UnknownHelper(String),
    #[error("helper '{kind}': requested {requested:?} but the configuration says {configured:?}")]
    SpecMismatch {
        kind: String,
        requested: String,
        configured: String,
    },
    #[error("helper limit reached ({0} live helpers)")]
    HelperLimit(usize),
    #[error("{0} is not a unix_listener of the configuration")]
    UnknownSocket(String),
    #[error("mail access for uid {uid} gid {gid} is not permitted (see first_valid_uid, last_valid_uid, first_valid_gid, last_valid_gid; 0 is never allowed)")]
    MailIdentity { uid: String, gid: String },
}

/// Auth-worker helpers at most, as the auth service's pool sizes them: `auth_worker_max_count`
/// capped by the auth-worker service's `process_limit`.
pub fn auth_worker_max(settings: &Settings) -> u32 {
    let eff = settings
        .service
        .get("auth-worker")
        .map(|s| s.effective(&settings.core))
        .unwrap_or_else(|| crate::settings::ServiceSettings::default().effective(&settings.core));
    settings
        .auth
        .auth_worker_max_count
        .min(eff.process_limit.max(1))
}

impl Policy {
    /// The policy of a configuration.
    pub fn from_settings(settings: &Settings) -> Policy {
        let needs_auth_worker = settings
            .auth
            .passdb
            .iter()
            .chain(&settings.auth.userdb)
            .any(|d| WORKER_DRIVERS.contains(&d.driver.as_str()));
        let mut helpers = BTreeMap::new();
        let mut max = 0usize;
        for kind in HELPER_KINDS {
            if *kind == "auth-worker" && !needs_auth_worker {
                continue;
            }
            helpers.insert(kind.to_string(), HelperSpec::for_service(settings, kind));
            // Room for the current generation's pool and one still draining after a reload.
            max += 2 * auth_worker_max(settings) as usize;
        }
        let mut sockets = BTreeMap::new();
        for svc in settings.service.values() {
            for (key, l) in &svc.unix_listener {
                if l.mode.0 == 0 {
                    continue;
                }
                sockets.insert(
                    settings.listener_path(key, l),
                    SocketSpec {
                        mode: l.mode.0,
                        user: settings.expand_user(&l.user),
                        group: settings.expand_user(&l.group),
                    },
                );
            }
        }
        let base_dir = settings.core.base_dir.clone();
        let mut login_dirs: Vec<PathBuf> = settings
            .service
            .values()
            .filter(|s| s.service_type == crate::settings::ServiceType::Login)
            .filter(|s| !s.chroot.is_empty() && s.chroot != "." && !s.chroot.starts_with('/'))
            .map(|s| base_dir.join(&s.chroot))
            .collect();
        login_dirs.sort();
        login_dirs.dedup();
        let limit = |name: &str| {
            settings
                .service
                .get(name)
                .map(|s| s.effective(&settings.core).process_limit)
                .unwrap_or(settings.core.default_process_limit) as usize
        };
        let mail = MailPolicy {
            first_valid_uid: settings.auth.first_valid_uid,
            last_valid_uid: settings.auth.last_valid_uid,
            first_valid_gid: settings.auth.first_valid_gid,
            last_valid_gid: settings.auth.last_valid_gid,
            vsz_limit: settings.core.default_vsz_limit.0,
            max_helpers: (limit("lmtp") + limit("pop3") + limit("imap")).max(1),
        };
        Policy {
            base_dir,
            helpers,
            max_helpers: max,
            sockets,
            login_dirs,
            login_user: settings.core.default_login_user.clone(),
            mail,
        }
    }

    /// The spec a mail helper runs with, when `requested` names a numeric uid and gid inside
    /// the configured ranges (never 0) and nothing else: no chroot, extra groups or files,
    /// and the configured vsz_limit whatever was asked.
    pub fn check_mail_spawn(&self, requested: &HelperSpec) -> Result<HelperSpec, Refusal> {
        let m = &self.mail;
        let refuse = || Refusal::MailIdentity {
            uid: requested.user.clone(),
            gid: requested.group.clone(),
        };
        let (Ok(uid), Ok(gid)) = (
            requested.user.parse::<u32>(),
            requested.group.parse::<u32>(),
        ) else {
            return Err(refuse());
        };
        let inside =
            |n: u32, first: u32, last: u32| n != 0 && n >= first && (last == 0 || n <= last);
        if !inside(uid, m.first_valid_uid, m.last_valid_uid)
            || !inside(gid, m.first_valid_gid, m.last_valid_gid)
            || !requested.chroot.is_empty()
            || !requested.extra_groups.is_empty()
            || !requested.files.is_empty()
        {
            return Err(refuse());
        }
        Ok(HelperSpec {
            kind: MAIL_KIND.into(),
            user: uid.to_string(),
            group: gid.to_string(),
            vsz_limit: m.vsz_limit,
            ..HelperSpec::default()
        })
    }

    /// The configured spec `requested` must equal, field by field.
    pub fn check_spawn(&self, requested: &HelperSpec) -> Result<&HelperSpec, Refusal> {
        let configured = self
            .helpers
            .get(&requested.kind)
            .ok_or_else(|| Refusal::UnknownHelper(requested.kind.clone()))?;
        if configured != requested {
            return Err(Refusal::SpecMismatch {
                kind: requested.kind.clone(),
                requested: requested.encode(),
                configured: configured.encode(),
            });
        }
        Ok(configured)
    }

    /// The configured socket at `path` (compared as given: no normalisation, no symlinks).
    pub fn check_socket(&self, path: &Path) -> Result<&SocketSpec, Refusal> {
        self.sockets
            .get(path)
            .ok_or_else(|| Refusal::UnknownSocket(path.display().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::load::{load_with_env, ConfigSource, Loaded};

    fn load_text(text: &str) -> Result<Loaded, crate::settings::ConfigError> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "roost-policy-{}-{}.toml",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::write(&p, text).unwrap();
        let l = load_with_env(&ConfigSource::File(p.clone()), false);
        std::fs::remove_file(&p).unwrap();
        l
    }

    #[test]
    fn policy_follows_the_configuration_only() {
        let l = load_text(
            "base_dir = \"/run/x\"\ndefault_internal_user = \"dovecot\"\nauth_worker_max_count = 3\n\n[[passdb]]\ndriver = \"shadow\"\nargs = \"file=/srv/shadow\"\n\n[[passdb]]\ndriver = \"shadow\"\n\n[service.auth-worker]\nuser = \"nobody\"\n",
        )
        .unwrap();
        let p = Policy::from_settings(&l.settings);
        let spec = HelperSpec::for_service(&l.settings, "auth-worker");
        assert_eq!(spec.files, vec!["/etc/shadow", "/srv/shadow"]);
        assert_eq!(p.check_spawn(&spec), Ok(&spec));
        assert_eq!(p.max_helpers, 6);
        let mut root = spec.clone();
        root.user = String::new();
        assert!(matches!(
            p.check_spawn(&root),
            Err(Refusal::SpecMismatch { .. })
        ));
        let mut groups = spec.clone();
        groups.extra_groups = vec!["0".into(), "disk".into()];
        assert!(p.check_spawn(&groups).is_err());
        let mut files = spec.clone();
        files.files.push("/etc/gshadow".into());
        assert!(p.check_spawn(&files).is_err());
        let mut other = spec;
        other.kind = "imap".into();
        assert_eq!(
            p.check_spawn(&other),
            Err(Refusal::UnknownHelper("imap".into()))
        );
        assert_eq!(
            p.check_socket(Path::new("/run/x/auth-master")),
            Ok(&SocketSpec {
                mode: 0o600,
                user: String::new(),
                group: String::new()
            })
        );
        assert_eq!(
            p.check_socket(Path::new("/run/x/auth-userdb"))
                .unwrap()
                .user,
            "dovecot"
        );
        assert!(p.check_socket(Path::new("/etc/shadow")).is_err());
        assert!(p
            .check_socket(Path::new("/run/x/../x/auth-master"))
            .is_err());
        assert_eq!(
            p.login_dirs,
            vec![
                PathBuf::from("/run/x/login"),
                PathBuf::from("/run/x/token-login")
            ]
        );
        // Mail helpers: a numeric uid/gid inside the ranges, never 0, nothing else.
        let mail = |u: &str, g: &str| HelperSpec {
            kind: MAIL_KIND.into(),
            user: u.into(),
            group: g.into(),
            ..HelperSpec::default()
        };
        let ok = p.check_mail_spawn(&mail("2001", "2001")).unwrap();
        assert_eq!((ok.user.as_str(), ok.vsz_limit), ("2001", 256 << 20));
        for (u, g) in [
            ("0", "2001"),
            ("2001", "0"),
            ("499", "2001"),
            ("root", "2001"),
            ("2001", ""),
        ] {
            assert!(p.check_mail_spawn(&mail(u, g)).is_err(), "{u}:{g}");
        }
        let mut chrooted = mail("2001", "2001");
        chrooted.chroot = "/".into();
        assert!(p.check_mail_spawn(&chrooted).is_err());
        let mut grouped = mail("2001", "2001");
        grouped.extra_groups = vec!["0".into()];
        assert!(p.check_mail_spawn(&grouped).is_err());
        let ranged = Policy::from_settings(
            &load_text("last_valid_uid = 3000\nfirst_valid_gid = 100\nlast_valid_gid = 2500\n")
                .unwrap()
                .settings,
        );
        assert!(ranged.check_mail_spawn(&mail("2001", "2001")).is_ok());
        assert!(ranged.check_mail_spawn(&mail("3001", "2001")).is_err());
        assert!(ranged.check_mail_spawn(&mail("2001", "99")).is_err());
        assert!(ranged.check_mail_spawn(&mail("2001", "2501")).is_err());
        // Without a worker driver there is no helper at all.
        let none = Policy::from_settings(&load_text("base_dir = \"/run/x\"\n").unwrap().settings);
        assert!(none.helpers.is_empty());
        assert_eq!(none.max_helpers, 0);
    }
}
