//! What `roost who` and `roost kick` print, in `doveadm`'s words: `who` aggregates sessions per
//! user and protocol (`username # proto (pids) (ips)`), `who -1` prints one line per connection
//! (`username proto pid ip`), both through doveadm's formatters (`format`); the `pid` column is
//! the virtual process. `kick` prints the users it kicked.

use std::net::IpAddr;

use super::filter::Filter;
use super::format::{h, Columns};
use crate::runtime::SessionRow;

/// `doveadm who`'s columns.
pub const WHO: Columns = Columns {
    headers: &[
        h("username", "username", false, false),
        h("connections", "#", true, false),
        h("service", "proto", false, false),
        h("pids", "(pids)", false, false),
        h("ips", "(ips)", false, false),
    ],
    size_from_first_row: true,
};

/// `doveadm who -1`'s columns.
pub const WHO_LINES: Columns = Columns {
    headers: &[
        h("username", "username", false, true),
        h("service", "proto", false, false),
        h("pid", "pid", false, false),
        h("ip", "ip", false, false),
    ],
    size_from_first_row: false,
};

fn ip_text(ip: Option<IpAddr>) -> String {
    ip.map(|i| i.to_string()).unwrap_or_default()
}

/// `doveadm who`: one row per (user, protocol) with its connection count, virtual processes
/// and client IPs, for users the filter matches (on any of their IPs), in the order of their
/// oldest session.
pub fn who_users(rows: &[SessionRow], filter: &Filter) -> Vec<Vec<String>> {
    struct User<'a> {
        user: &'a str,
        service: &'a str,
        count: usize,
        vprocs: Vec<u64>,
        ips: Vec<IpAddr>,
    }
    let mut users: Vec<User> = Vec::new();
    for r in rows {
        let i = match users
            .iter()
            .position(|u| u.user == r.user && u.service == r.service)
        {
            Some(i) => i,
            None => {
                users.push(User {
                    user: &r.user,
                    service: &r.service,
                    count: 0,
                    vprocs: Vec::new(),
                    ips: Vec::new(),
                });
                users.len() - 1
            }
        };
        let u = &mut users[i];
        u.count += 1;
        if !u.vprocs.contains(&r.vproc) {
            u.vprocs.push(r.vproc);
        }
        if let Some(ip) = r.rip {
            if !u.ips.contains(&ip) {
                u.ips.push(ip);
            }
        }
    }
    let join = |v: Vec<String>| format!("({})", v.join(" "));
    users
        .into_iter()
        .filter(|u| filter.matches(u.user, &u.ips))
        .map(|u| {
            vec![
                u.user.to_string(),
                u.count.to_string(),
                u.service.to_string(),
                join(u.vprocs.iter().map(u64::to_string).collect()),
                join(u.ips.iter().map(IpAddr::to_string).collect()),
            ]
        })
        .collect()
}

/// `doveadm who -1`: one row per connection the filter matches, oldest first.
pub fn who_lines(rows: &[SessionRow], filter: &Filter) -> Vec<Vec<String>> {
    rows.iter()
        .filter(|r| filter.matches(&r.user, r.rip.as_slice()))
        .map(|r| {
            vec![
                r.user.clone(),
                r.service.clone(),
                r.vproc.to_string(),
                ip_text(r.rip),
            ]
        })
        .collect()
}
/// What `doveadm kick` prints for the users it kicked, and its exit code (68, `EX_NOHOST`,
/// when nobody matched).
pub fn kicked(users: &[String]) -> (String, i32) {
    if users.is_empty() {
        return ("no users kicked\n".into(), 68);
    }
    let mut out = String::from("kicked connections from the following users:\n");
    for u in users {
        out.push_str(u);
        out.push(' ');
    }
    out.push('\n');
    (out, 0)
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::anvil::format::{render, Format};

    fn row(user: &str, vproc: u64, ip: &str) -> SessionRow {
        SessionRow {
            user: user.into(),
            service: "pop3".into(),
            vproc,
            rip: Some(ip.parse().unwrap()),
            lip: None,
            since: 0,
            session_id: String::new(),
        }
    }

    fn sessions() -> Vec<SessionRow> {
        vec![
            row("user1@example.test", 20361, "127.0.0.1"),
            row("user1@example.test", 20362, "127.0.0.1"),
            row("user22@example.test", 20363, "127.0.0.1"),
        ]
    }

    /// Dovecot 2.3.19's `doveadm who user1*` with two POP3 sessions of user1 open (captured
    /// from the reference instance, stdout not a terminal).
    #[test]
    fn who_table_is_doveadms() {
        let f = Filter::parse(&["user1*".into()]).unwrap();
        let out = render(Format::Table, &WHO, &who_users(&sessions(), &f), 80);
        assert_eq!(
            out,
            "username           # proto (pids)        (ips)                    \n\
             user1@example.test 2 pop3  (20361 20362) (127.0.0.1)              \n"
        );
    }

    /// Dovecot 2.3.19's `doveadm who` and `who -1` with a longer name after the first row:
    /// `who` sizes its columns from the first row, `who -1` from all of them. (The sessions
    /// are listed in the order doveadm printed its users.)
    #[test]
    fn who_sizes_from_the_first_row_and_who_lines_from_all() {
        let rows = vec![
            row("user1@example.test", 11783, "127.0.0.1"),
            row("user1@example.test", 11780, "127.0.0.1"),
            row("user22@example.test", 11782, "127.0.0.1"),
            row("user1000@example.test", 11781, "127.0.0.1"),
        ];
        let f = Filter::default();
        assert_eq!(
            render(Format::Table, &WHO, &who_users(&rows, &f), 80).replace(' ', "."),
            "username...........#.proto.(pids)........(ips)....................\n\
             user1@example.test.2.pop3..(11783.11780).(127.0.0.1)..............\n\
             user22@example.test.1.pop3..(11782).......(127.0.0.1)..............\n\
             user1000@example.test.1.pop3..(11781).......(127.0.0.1)..............\n"
        );
        let lines = render(Format::Table, &WHO_LINES, &who_lines(&rows, &f), 80);
        assert_eq!(
            lines.lines().nth(4).unwrap().replace(' ', "."),
            "user1000@example.test...................pop3..11781.127.0.0.1"
        );
    }

    /// Dovecot 2.3.19's `doveadm who -1` with the same three sessions.
    #[test]
    fn who_lines_table_is_doveadms() {
        let out = render(
            Format::Table,
            &WHO_LINES,
            &who_lines(&sessions(), &Filter::default()),
            80,
        );
        assert_eq!(
            out,
            "username                               proto pid   ip       \n\
             user1@example.test                     pop3  20361 127.0.0.1\n\
             user1@example.test                     pop3  20362 127.0.0.1\n\
             user22@example.test                    pop3  20363 127.0.0.1\n"
        );
    }

    #[test]
    fn tab_flow_and_json_use_titles_and_keys() {
        let rows = who_users(&sessions(), &Filter::default());
        assert_eq!(
            render(Format::Tab, &WHO, &rows, 80),
            "username\t#\tproto\t(pids)\t(ips)\n\
             user1@example.test\t2\tpop3\t(20361 20362)\t(127.0.0.1)\n\
             user22@example.test\t1\tpop3\t(20363)\t(127.0.0.1)\n"
        );
        assert_eq!(
            render(Format::Flow, &WHO, &rows[1..], 80),
            "username=user22@example.test #=1 proto=pop3 (pids)=(20363) (ips)=(127.0.0.1)\n"
        );
        assert_eq!(
            render(Format::Json, &WHO, &rows[1..], 80),
            "[{\"username\":\"user22@example.test\",\"connections\":\"1\",\"service\":\"pop3\",\"pids\":\"(20363)\",\"ips\":\"(127.0.0.1)\"}]"
        );
    }

    /// Dovecot 2.3.19's `doveadm who` and `who -1` on a 30-column terminal (`stty cols 30`).
    #[test]
    fn a_narrow_table_shrinks_like_doveadms() {
        let rows = vec![
            row("user1@example.test", 8455, "127.0.0.1"),
            row("user1@example.test", 8456, "127.0.0.1"),
            row("user22@example.test", 8457, "127.0.0.1"),
        ];
        let f = Filter::default();
        assert_eq!(
            render(Format::Table, &WHO, &who_users(&rows, &f), 30),
            "username      # proto (pids)    (ips)   \n\
             user1@example.test 2 pop3 (8455 8456) (127.0.0.1)\n\
             user22@example.test 1 pop3 (8457)    (127.0.0.1)\n"
        );
        let lines = render(Format::Table, &WHO_LINES, &who_lines(&rows, &f), 30);
        assert_eq!(lines.lines().next().unwrap(), "username  proto pid ip    ");
    }

    #[test]
    fn kick_prints_doveadms_words() {
        assert_eq!(kicked(&[]), ("no users kicked\n".into(), 68));
        assert_eq!(
            kicked(&["alice".into(), "bob".into()]).0,
            "kicked connections from the following users:\nalice bob \n"
        );
    }
}
