//! The built-in service table: every default service of Dovecot 2.3.19.1 (`doveconf -d`, spec §6)
//! with its defaults, listeners and ports. The embedded `config/roost.toml` is layered on top.

use std::collections::BTreeMap;

use super::service::{InetListener, ServiceSettings, ServiceType, UnixListener};
use super::values::{Mode, Time};

struct Row {
    name: &'static str,
    executable: &'static str,
    service_type: ServiceType,
    protocol: &'static str,
    process_limit: u32,
    client_limit: u32,
    service_count: u32,
    process_min_avail: u32,
    idle_kill: Time,
    user: &'static str,
    chroot: &'static str,
    extra_groups: &'static str,
}

const NORMAL: ServiceType = ServiceType::Normal;
const LOGIN: ServiceType = ServiceType::Login;
const WORKER: ServiceType = ServiceType::Worker;
const INTERNAL: &str = "$default_internal_user";
const LOGIN_USER: &str = "$default_login_user";
const IGROUP: &str = "$default_internal_group";
const NEVER: Time = Time::NEVER;
const DEF: Time = Time::ZERO;

#[rustfmt::skip]
const ROWS: &[Row] = &[
    r("anvil", "anvil", ServiceType::Anvil, "", 1, 0, 0, 1, NEVER, INTERNAL, "empty", ""),
    r("auth", "auth", NORMAL, "", 1, 0, 0, 0, DEF, INTERNAL, "", ""),
    r("auth-worker", "auth -w", WORKER, "", 0, 1, 0, 0, DEF, "", "", ""),
    r("config", "config", ServiceType::Config, "", 0, 0, 0, 0, NEVER, "", "", ""),
    r("dict", "dict", NORMAL, "", 0, 1, 0, 0, DEF, INTERNAL, "", ""),
    r("dict-async", "dict", NORMAL, "", 0, 0, 0, 0, DEF, INTERNAL, "", ""),
    r("director", "director", NORMAL, "", 1, 0, 0, 0, NEVER, INTERNAL, ".", ""),
    r("dns-client", "dns-client", NORMAL, "", 0, 1, 0, 0, DEF, INTERNAL, "", ""),
    r("doveadm", "doveadm-server", NORMAL, "", 0, 1, 1, 0, DEF, "", "", IGROUP),
    r("imap", "imap", NORMAL, "imap", 1024, 1, 1, 0, DEF, "", "", IGROUP),
    r("imap-login", "imap-login", LOGIN, "imap", 0, 0, 1, 0, DEF, LOGIN_USER, "login", ""),
    r("imap-hibernate", "imap-hibernate", NORMAL, "imap", 0, 0, 0, 0, DEF, INTERNAL, "", ""),
    r("imap-urlauth", "imap-urlauth", NORMAL, "imap", 1024, 1, 1, 0, DEF, INTERNAL, "", ""),
    r("imap-urlauth-login", "imap-urlauth-login", LOGIN, "imap", 0, 0, 1, 0, DEF, LOGIN_USER, "token-login", ""),
    r("imap-urlauth-worker", "imap-urlauth-worker", NORMAL, "imap", 1024, 1, 1, 0, DEF, "", "", IGROUP),
    r("indexer", "indexer", NORMAL, "", 1, 0, 0, 0, DEF, INTERNAL, "", ""),
    r("indexer-worker", "indexer-worker", WORKER, "", 10, 1, 0, 0, DEF, "", "", IGROUP),
    r("ipc", "ipc", NORMAL, "", 1, 0, 0, 0, DEF, INTERNAL, "empty", ""),
    r("lmtp", "lmtp", NORMAL, "lmtp", 0, 1, 0, 0, DEF, "", "", IGROUP),
    r("log", "log", ServiceType::Log, "", 1, 0, 0, 0, NEVER, "", "", ""),
    r("managesieve-login", "managesieve-login", LOGIN, "sieve", 0, 0, 1, 0, DEF, LOGIN_USER, "login", ""),
    r("managesieve", "managesieve", NORMAL, "sieve", 0, 1, 1, 0, DEF, "", "", ""),
    r("pop3-login", "pop3-login", LOGIN, "pop3", 0, 0, 1, 0, DEF, LOGIN_USER, "login", ""),
    r("pop3", "pop3", NORMAL, "pop3", 1024, 1, 1, 0, DEF, "", "", IGROUP),
    r("stats", "stats", NORMAL, "", 1, 0, 0, 0, NEVER, INTERNAL, "", ""),
    r("submission-login", "submission-login", LOGIN, "submission", 0, 0, 1, 0, DEF, LOGIN_USER, "login", ""),
    r("submission", "submission", NORMAL, "submission", 1024, 1, 1, 0, DEF, "", "", IGROUP),
    r("old-stats", "old-stats", NORMAL, "", 1, 0, 0, 0, NEVER, INTERNAL, "empty", ""),
    r("aggregator", "aggregator", NORMAL, "", 0, 0, 0, 0, DEF, INTERNAL, ".", ""),
    r("replicator", "replicator", NORMAL, "", 1, 0, 0, 0, NEVER, "", "", ""),
    r("health-check", "script -p health-check.sh", NORMAL, "", 0, 1, 0, 0, DEF, INTERNAL, "", ""),
    r("tcpwrap", "tcpwrap", NORMAL, "", 0, 1, 0, 0, DEF, INTERNAL, "", ""),
];

#[allow(clippy::too_many_arguments)]
const fn r(
    name: &'static str,
    executable: &'static str,
    service_type: ServiceType,
    protocol: &'static str,
    process_limit: u32,
    client_limit: u32,
    service_count: u32,
    process_min_avail: u32,
    idle_kill: Time,
    user: &'static str,
    chroot: &'static str,
    extra_groups: &'static str,
) -> Row {
    Row {
        name,
        executable,
        service_type,
        protocol,
        process_limit,
        client_limit,
        service_count,
        process_min_avail,
        idle_kill,
        user,
        chroot,
        extra_groups,
    }
}

/// Services Dovecot marks "process_limit must be 1" (spec §1.2, §1.9).
pub const SINGLETONS: &[&str] = &[
    "auth",
    "anvil",
    "log",
    "ipc",
    "indexer",
    "director",
    "old-stats",
    "replicator",
];

fn unix(mode: u32, user: &str, group: &str) -> UnixListener {
    UnixListener {
        path: String::new(),
        mode: Mode(mode),
        user: user.into(),
        group: group.into(),
    }
}

fn inet(port: u32, ssl: bool) -> InetListener {
    InetListener {
        port,
        ssl,
        ..InetListener::default()
    }
}

/// The listeners of spec §6, keyed by service name.
fn add_listeners(name: &str, s: &mut ServiceSettings) {
    let u = &mut s.unix_listener;
    let i = &mut s.inet_listener;
    match name {
        "anvil" => {
            u.insert("anvil".into(), unix(0o600, "", ""));
            u.insert("anvil-auth-penalty".into(), unix(0o600, "", ""));
        }
        "auth" => {
            u.insert("login/login".into(), unix(0o666, "", ""));
            u.insert("token-login/tokenlogin".into(), unix(0o666, "", ""));
            u.insert("auth-login".into(), unix(0o600, INTERNAL, ""));
            u.insert("auth-client".into(), unix(0o600, INTERNAL, ""));
            u.insert("auth-userdb".into(), unix(0o666, INTERNAL, ""));
            u.insert("auth-master".into(), unix(0o600, "", ""));
        }
        "auth-worker" => {
            u.insert("auth-worker".into(), unix(0o600, INTERNAL, ""));
        }
        "config" => {
            u.insert("config".into(), unix(0o600, "", ""));
        }
        "dict" => {
            u.insert("dict".into(), unix(0o660, "", IGROUP));
        }
        "dict-async" => {
            u.insert("dict-async".into(), unix(0o660, "", IGROUP));
        }
        "director" => {
            u.insert("director-admin".into(), unix(0o600, "", ""));
            u.insert("login/director".into(), unix(0, "", ""));
            s.fifo_listener
                .insert("login/proxy-notify".into(), unix(0, "", ""));
        }
        "dns-client" => {
            u.insert("dns-client".into(), unix(0o666, "", ""));
            u.insert("login/dns-client".into(), unix(0o666, "", ""));
        }
        "doveadm" => {
            u.insert("doveadm-server".into(), unix(0o600, "", ""));
        }
        "imap" => {
            u.insert("login/imap".into(), unix(0o666, "", ""));
            u.insert("imap-master".into(), unix(0o600, "", ""));
        }
        "imap-login" => {
            i.insert("imap".into(), inet(143, false));
            i.insert("imaps".into(), inet(993, true));
        }
        "imap-hibernate" => {
            u.insert("imap-hibernate".into(), unix(0o660, "", IGROUP));
        }
        "imap-urlauth" => {
            u.insert("token-login/imap-urlauth".into(), unix(0o666, "", ""));
        }
        "imap-urlauth-login" => {
            u.insert("imap-urlauth".into(), unix(0o666, "", ""));
        }
        "imap-urlauth-worker" => {
            u.insert("imap-urlauth-worker".into(), unix(0o600, INTERNAL, ""));
        }
        "indexer" => {
            u.insert("indexer".into(), unix(0o666, "", ""));
        }
        "indexer-worker" => {
            u.insert("indexer-worker".into(), unix(0o600, INTERNAL, ""));
        }
        "ipc" => {
            u.insert("ipc".into(), unix(0o600, INTERNAL, ""));
            u.insert("login/ipc-proxy".into(), unix(0o600, LOGIN_USER, ""));
        }
        "lmtp" => {
            u.insert("lmtp".into(), unix(0o666, "", ""));
        }
        "log" => {
            u.insert("log-errors".into(), unix(0o600, "", ""));
        }
        "managesieve-login" => {
            i.insert("sieve".into(), inet(4190, false));
        }
        "managesieve" => {
            u.insert("login/sieve".into(), unix(0o666, "", ""));
        }
        "pop3-login" => {
            i.insert("pop3".into(), inet(110, false));
            i.insert("pop3s".into(), inet(995, true));
        }
        "pop3" => {
            u.insert("login/pop3".into(), unix(0o666, "", ""));
        }
        "stats" => {
            u.insert("stats-reader".into(), unix(0o600, "", ""));
            u.insert("stats-writer".into(), unix(0o660, "", IGROUP));
            u.insert("login/stats-writer".into(), unix(0o600, LOGIN_USER, ""));
        }
        "submission-login" => {
            i.insert("submission".into(), inet(587, false));
        }
        "submission" => {
            u.insert("login/submission".into(), unix(0o666, "", ""));
        }
        "old-stats" => {
            u.insert("old-stats".into(), unix(0o600, "", ""));
            s.fifo_listener
                .insert("old-stats-mail".into(), unix(0o600, "", ""));
            s.fifo_listener
                .insert("old-stats-user".into(), unix(0o600, "", ""));
        }
        "aggregator" => {
            u.insert("replication-notify".into(), unix(0o600, "", ""));
            s.fifo_listener
                .insert("replication-notify-fifo".into(), unix(0o600, "", ""));
        }
        "replicator" => {
            u.insert("replicator".into(), unix(0o600, INTERNAL, ""));
            u.insert("replicator-doveadm".into(), unix(0, "", ""));
        }
        _ => {}
    }
}

/// Builds the default `service` table.
pub fn default_services() -> BTreeMap<String, ServiceSettings> {
    ROWS.iter()
        .map(|row| {
            let mut s = ServiceSettings {
                protocol: row.protocol.into(),
                service_type: row.service_type,
                executable: row.executable.into(),
                user: row.user.into(),
                chroot: row.chroot.into(),
                extra_groups: row.extra_groups.into(),
                drop_priv_before_exec: row.name == "health-check",
                process_min_avail: row.process_min_avail,
                process_limit: row.process_limit,
                client_limit: row.client_limit,
                service_count: row.service_count,
                idle_kill: row.idle_kill,
                ..ServiceSettings::default()
            };
            add_listeners(row.name, &mut s);
            (row.name.to_string(), s)
        })
        .collect()
}
