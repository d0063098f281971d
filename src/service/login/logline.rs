//! Login log lines in `login_log_format` (default `%$: %s`, where `%$` is the message such as
//! `Login` and `%s` the elements) with `login_log_format_elements` (default
//! `user=<%u> method=%m rip=%r lip=%l mpid=%e %c session=<%{session}>`): each
//! space-separated element is expanded, elements whose variables are all empty are dropped,
//! and the rest are joined with `, `, as Dovecot does.

/// Values for one line.
#[derive(Clone, Debug, Default)]
pub struct LogVars<'a> {
    pub user: &'a str,
    pub method: &'a str,
    pub rip: String,
    pub lip: String,
    pub rport: String,
    pub lport: String,
    /// Post-login process id (empty in roost: sessions are tasks).
    pub mpid: &'a str,
    /// `secured`, `TLS`, or empty.
    pub conn_state: &'a str,
    pub session: &'a str,
}

fn var<'v>(key: &str, v: &'v LogVars<'_>) -> Option<std::borrow::Cow<'v, str>> {
    use std::borrow::Cow::Borrowed;
    Some(match key {
        "u" | "user" => Borrowed(v.user),
        "n" | "username" => Borrowed(v.user.split('@').next().unwrap_or("")),
        "d" | "domain" => Borrowed(v.user.split_once('@').map(|x| x.1).unwrap_or("")),
        "m" | "mechanism" => Borrowed(v.method),
        "r" | "rip" => Borrowed(v.rip.as_str()),
        "l" | "lip" => Borrowed(v.lip.as_str()),
        "b" | "rport" => Borrowed(v.rport.as_str()),
        "a" | "lport" => Borrowed(v.lport.as_str()),
        "e" | "mail_pid" => Borrowed(v.mpid),
        "c" | "secured" => Borrowed(v.conn_state),
        "session" => Borrowed(v.session),
        _ => return None,
    })
}

/// Expands one template; returns the text and whether any variable was non-empty (or there
/// were no variables).
fn expand(t: &str, v: &LogVars<'_>) -> (String, bool) {
    let mut out = String::new();
    let mut any_var = false;
    let mut any_value = false;
    let mut chars = t.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let key: String = match chars.next() {
            Some('{') => chars.by_ref().take_while(|&c| c != '}').collect(),
            Some('%') => {
                out.push('%');
                continue;
            }
            Some(c) => c.to_string(),
            None => break,
        };
        any_var = true;
        if let Some(val) = var(&key, v) {
            // Dovecot keeps `user=<>` for a client that never named a user.
            any_value |= !val.is_empty() || key == "u" || key == "user";
            out.push_str(&val);
        }
    }
    (out, !any_var || any_value)
}

/// The full line for `message` (`Login`, `Disconnected: …`).
pub fn format(format: &str, elements: &str, message: &str, v: &LogVars<'_>) -> String {
    let parts: Vec<String> = elements
        .split(' ')
        .filter(|e| !e.is_empty())
        .filter_map(|e| {
            let (text, keep) = expand(e, v);
            keep.then_some(text)
        })
        .collect();
    format
        .replace("%$", message)
        .replace("%s", &parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ELEMENTS: &str = "user=<%u> method=%m rip=%r lip=%l mpid=%e %c session=<%{session}>";

    #[test]
    fn default_layout_matches_dovecots_login_line() {
        let v = LogVars {
            user: "bob",
            method: "PLAIN",
            rip: "127.0.0.1".into(),
            lip: "127.0.0.1".into(),
            conn_state: "secured",
            session: "uSu+L11hjL5/AAAB",
            ..Default::default()
        };
        // Dovecot: "Login: user=<bob>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1,
        // mpid=16203, secured, session=<uSu+L11hjL5/AAAB>"; roost has no mail pid.
        assert_eq!(
            format("%$: %s", ELEMENTS, "Login", &v),
            "Login: user=<bob>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, secured, session=<uSu+L11hjL5/AAAB>"
        );
    }

    #[test]
    fn a_client_that_named_no_user_keeps_user_element() {
        let v = LogVars {
            rip: "127.0.0.1".into(),
            lip: "127.0.0.1".into(),
            conn_state: "secured",
            session: "KuqRwHhhgt1/AAAB",
            ..Default::default()
        };
        // Dovecot 2.3.19: "Disconnected: Connection closed (no auth attempts in 0 secs):
        // user=<>, rip=127.0.0.1, lip=127.0.0.1, secured, session=<KuqRwHhhgt1/AAAB>".
        assert_eq!(
            format(
                "%$: %s",
                ELEMENTS,
                "Disconnected: Connection closed (no auth attempts in 0 secs)",
                &v
            ),
            "Disconnected: Connection closed (no auth attempts in 0 secs): user=<>, rip=127.0.0.1, lip=127.0.0.1, secured, session=<KuqRwHhhgt1/AAAB>"
        );
    }

    #[test]
    fn custom_formats() {
        let v = LogVars {
            user: "bob@example.test",
            rip: "10.0.0.1".into(),
            ..Default::default()
        };
        assert_eq!(
            format("[%$] %s", "%n@%d from=%r %c", "Login", &v),
            "[Login] bob@example.test, from=10.0.0.1"
        );
    }
}
