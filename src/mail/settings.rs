//! Dovecot-named global settings of the mail side: where mail lives (`mail_location`), how
//! LMTP delivers (`lmtp_save_to_detail_mailbox`, `recipient_delimiter`, …), what the login
//! services say, whom they trust and how long they wait (`login_greeting`,
//! `login_trusted_networks`, `login_timeout`, …), and POP3's
//! knobs (`pop3_uidl_format`, `pop3_lock_session`), and whom mail is accessed as (`mail_uid`,
//! `mail_gid`). Flattened into `Settings`, so each key sits
//! at the top level of the configuration file exactly as in `dovecot.conf`.

use serde::{Deserialize, Serialize};

use crate::settings::values::{lenient, Size, Time};

/// `mail_fsync`: when to fsync mail files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailFsync {
    /// Dovecot's default: fsync what must survive a crash (a delivered message, the uidlist).
    #[default]
    Optimized,
    Always,
    /// No fsync at all (fast, loses mail on power failure).
    Never,
}

impl MailFsync {
    pub fn enabled(self) -> bool {
        !matches!(self, MailFsync::Never)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MailSettings {
    /// `maildir:PATH[:INBOX=PATH][:LAYOUT=fs]`, with `%u %n %d %h` and `~/`. Empty: the userdb
    /// must return a `mail` field.
    pub mail_location: String,
    pub mail_fsync: MailFsync,
    /// Delivering to `user+detail` saves into mailbox `detail` when it exists.
    #[serde(deserialize_with = "lenient::bool")]
    pub lmtp_save_to_detail_mailbox: bool,
    /// Create the detail mailbox when it does not exist (Dovecot's `lda_mailbox_autocreate`).
    #[serde(deserialize_with = "lenient::bool")]
    pub lda_mailbox_autocreate: bool,
    /// Characters that separate the user from the detail in `user+detail@domain`.
    pub recipient_delimiter: String,
    /// Largest message LMTP takes (`SIZE` is then advertised); `0` = no limit, as Dovecot 2.3's
    /// LMTP has none. Named after Dovecot's `submission_max_mail_size`.
    pub lmtp_max_mail_size: Size,
    /// Where LMTP spools a message for several recipients before copying it into each
    /// Maildir (Dovecot's `mail_temp_dir`).
    pub mail_temp_dir: String,
    /// Address used as the sender of bounces; empty: `postmaster@<hostname>`.
    pub postmaster_address: String,
    /// Host name used in LMTP greetings and Received headers; empty: the system host name.
    pub hostname: String,
    /// Greeting text of LMTP and the login services.
    pub login_greeting: String,
    /// Space/comma separated CIDRs whose clients count as secured and may send XCLIENT.
    #[serde(deserialize_with = "lenient::list")]
    pub login_trusted_networks: Vec<String>,
    /// How long a client may stay unauthenticated, counted from connect (PROXY header and TLS
    /// handshake included). Roost's name for Dovecot's compiled-in `CLIENT_LOGIN_TIMEOUT_MSECS`
    /// (3 minutes, no setting in Dovecot 2.3); the login layer's absolute deadline.
    pub login_timeout: Time,
    /// Format of the `Login:`/`Disconnected:` log lines (`%s` = message, `$elements`).
    pub login_log_format: String,
    /// `login_log_format_elements`: the parts that make `$elements`.
    pub login_log_format_elements: String,
    /// Sessions per user and client IP and protocol; 0 = unlimited.
    #[serde(deserialize_with = "lenient::uint")]
    pub mail_max_userip_connections: u32,
    /// POP3 UIDL format: `%u` uid, `%v` uidvalidity, `%m` MD5 is not supported; `%08Xu%08Xv`.
    pub pop3_uidl_format: String,
    /// Allow only one POP3 session per mailbox at a time.
    #[serde(deserialize_with = "lenient::bool")]
    pub pop3_lock_session: bool,
    /// Do not mark retrieved messages \Seen.
    #[serde(deserialize_with = "lenient::bool")]
    pub pop3_no_flag_updates: bool,
    /// System user (name or number) mail is accessed as when the userdb returns no `uid`.
    /// Empty: the userdb's `uid`, else roost's own uid.
    pub mail_uid: String,
    /// System group (name or number) mail is accessed as when the userdb returns no `gid`.
    /// Empty: the userdb's `gid`, else the uid's primary group.
    pub mail_gid: String,
    /// `namespace NAME { }` blocks (see `mail::namespace`); none: Dovecot's implicit one.
    pub namespace: std::collections::BTreeMap<String, super::namespace::NamespaceSettings>,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            mail_location: String::new(),
            mail_fsync: MailFsync::Optimized,
            lmtp_save_to_detail_mailbox: false,
            lda_mailbox_autocreate: false,
            recipient_delimiter: "+".into(),
            lmtp_max_mail_size: Size(0),
            mail_temp_dir: "/tmp".into(),
            postmaster_address: String::new(),
            hostname: String::new(),
            login_greeting: "Dovecot ready.".into(),
            login_trusted_networks: Vec::new(),
            login_timeout: Time::from_secs(180),
            login_log_format: "%$: %s".into(),
            login_log_format_elements:
                "user=<%u> method=%m rip=%r lip=%l mpid=%e %c session=<%{session}>".into(),
            mail_max_userip_connections: 10,
            pop3_uidl_format: "%08Xu%08Xv".into(),
            pop3_lock_session: false,
            pop3_no_flag_updates: false,
            mail_uid: String::new(),
            mail_gid: String::new(),
            namespace: Default::default(),
        }
    }
}

impl MailSettings {
    /// The host name for greetings and headers.
    pub fn effective_hostname(&self) -> String {
        if !self.hostname.is_empty() {
            return self.hostname.clone();
        }
        system_hostname()
    }

    /// Whether `ip` is inside `login_trusted_networks`.
    pub fn is_trusted(&self, ip: std::net::IpAddr) -> bool {
        self.login_trusted_networks.iter().any(|n| {
            n.parse::<ipnet::IpNet>()
                .map(|net| net.contains(&ip))
                .or_else(|_| n.parse::<std::net::IpAddr>().map(|a| a == ip))
                .unwrap_or(false)
        })
    }
}

/// The machine's host name (`gethostname`), `localhost` if it cannot be read.
pub fn system_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_networks_match_cidrs_and_plain_addresses() {
        let s = MailSettings {
            login_trusted_networks: vec!["10.0.0.0/8".into(), "192.168.1.7".into()],
            ..Default::default()
        };
        assert!(s.is_trusted("10.1.2.3".parse().unwrap()));
        assert!(s.is_trusted("192.168.1.7".parse().unwrap()));
        assert!(!s.is_trusted("192.168.1.8".parse().unwrap()));
    }

    #[test]
    fn defaults_are_dovecots() {
        let s = MailSettings::default();
        assert_eq!(s.pop3_uidl_format, "%08Xu%08Xv");
        assert_eq!(s.recipient_delimiter, "+");
        assert_eq!(s.mail_max_userip_connections, 10);
    }
}
