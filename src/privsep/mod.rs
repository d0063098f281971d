//! Privilege separation: the only real processes roost has. A root-kept *launcher* process
//! (started by `roost serve` before it drops to `default_internal_user`) spawns *helpers*: the
//! same binary re-executed with a hidden subcommand, which apply their service's `chroot`,
//! `extra_groups`, `group`, `user`, `vsz_limit` (RLIMIT_AS and RLIMIT_DATA) and no-new-privs
//! and close inherited descriptors before serving framed requests on fd 3. Mail helpers run
//! roost's Maildir code as the userdb's uid/gid. Without root there is no launcher: helpers
//! that keep roost's own uid are spawned directly, and a service that needs another uid
//! refuses to start with a clear error (spec §5, §8 item 26).
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
//! * `SPAWN` of a `mail` helper names only a numeric uid and gid. The launcher accepts them only
//!   inside its own `first_valid_uid`..`last_valid_uid` and `first_valid_gid`..`last_valid_gid`
//!   (0 never), with no chroot, extra groups or files, and runs it with its own
//!   `default_vsz_limit`; at most the lmtp and pop3 `process_limit`s together live at once
//!   ([`policy::Policy::check_mail_spawn`]). The helper sets its groups to that gid alone,
//!   setgid, setuid and no-new-privs before it reads a request: it holds no capability.
//! * Every refusal is answered `ERR` and logged by the launcher to roost's log.
//! * When the server's end of the socket closes, the launcher removes the pid file (if it
//!   still names the server) and exits.
//!
//! **Known limit, as in Dovecot:** the server does the userdb lookup itself, so a compromised
//! server can ask for a mail helper of any uid the configuration allows and then read or write
//! whatever that uid can (mail helpers trust the `mail_location`, user and fields the server
//! sends). It can never get uid 0, a uid/gid outside the valid ranges, or root back: Dovecot's
//! lmtp and pop3 processes, which do their own userdb lookup before dropping root, have the same
//! exposure. Mail for a uid equal to the server's own (or without a userdb uid) is handled
//! in-process, as before.
//!
//! base_dir itself stays root's, as in Dovecot (see [`basedir`]): the server never owns a
//! directory in which root later creates or chowns anything.
//!
//! * [`spec`]: the [`HelperSpec`] a helper runs with; [`error`]: [`PrivsepError`].
//! * [`frame`]: length-prefixed frames, optionally carrying a file descriptor.
//! * [`restrict`]: applying a [`HelperSpec`] inside the helper, before anything else runs.
//! * [`policy`]: what the launcher allows, from its own reading of the configuration.
//! * [`basedir`]: base_dir, login directories and unix sockets with Dovecot's owners and modes.
//! * [`launcher`]: the launcher process and the client the server uses to ask it for helpers.
//! * [`worker`]: the async pool the auth service uses to talk to auth-worker helpers.
//! * [`auth_worker`]: the auth-worker helper's request loop (shadow and passwd lookups).
//! * [`mail_proto`]: the mail helper's frames; [`mail_helper`]: its request loop (deliveries,
//!   one POP3 INBOX at a time) running as the userdb's uid/gid; [`mail_pool`]: the server's
//!   idle mail helpers per uid/gid (used by `crate::mail::access`); [`imap_helper`]: a mail
//!   helper running whole IMAP sessions as its uid/gid.

pub mod auth_worker;
pub mod basedir;
pub mod error;
pub mod frame;
pub mod imap_helper;
pub mod launcher;
pub mod mail_helper;
pub mod mail_pool;
pub mod mail_proto;
pub mod policy;
pub mod restrict;
pub mod spec;
pub mod worker;

pub use error::PrivsepError;
pub use launcher::start_launcher;
pub use spec::{HelperSpec, HELPER_CMD, LAUNCHER_CMD};
