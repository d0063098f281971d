//! Secrets in printed configurations, hidden as doveconf 2.3 hides them unless `-P`: a
//! non-empty value of a setting whose name ends in `_password`, `_key` or `_nonce` (or starts
//! with `ssl_dh`) is replaced by `# hidden, use -P to show it`; inside other values, what
//! follows `pass…=`, `key…=` or `secret…=` (a word starting there, e.g. `password=x` in passdb
//! `args`) becomes `#hidden_use-P_to_show#`, and so does the user part of a
//! `http://user:pw@host` URL.

/// What replaces a whole hidden value.
pub const HIDDEN: &str = "# hidden, use -P to show it";
/// What replaces a secret inside a value.
pub const HIDDEN_PART: &str = "#hidden_use-P_to_show#";

/// Words that start a secret inside a value.
const SECRET_WORDS: &[&str] = &["key", "secret", "pass"];
/// URL schemes whose user part is hidden.
const URL_SCHEMES: &[&str] = &["http://", "https://", "ftp://"];

/// Whether setting `key` holds a secret as a whole.
pub fn is_secret_key(key: &str) -> bool {
    key.ends_with("_password")
        || key.ends_with("_key")
        || key.ends_with("_nonce")
        || key.starts_with("ssl_dh")
}

/// What to print for `key = value`: `None` if it shows as is, else the hidden form
/// ([`HIDDEN`] for a whole value, or the value with its secret parts replaced).
pub fn hide(key: &str, value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    if is_secret_key(key) {
        return Some(HIDDEN.to_string());
    }
    let out = hide_parts(value);
    (out != value).then_some(out)
}

/// Replaces `word…=value` secrets and URL user parts inside `value`.
fn hide_parts(value: &str) -> String {
    let b = value.as_bytes();
    let mut out = String::with_capacity(value.len());
    let mut i = 0;
    let at_word_start = |i: usize| i == 0 || !b[i - 1].is_ascii_alphanumeric();
    while i < b.len() {
        let rest = &value[i..];
        if let Some(scheme) = URL_SCHEMES.iter().find(|s| rest.starts_with(**s)) {
            out.push_str(scheme);
            i += scheme.len();
            let tail = &value[i..];
            let end = tail
                .find(|c: char| c.is_whitespace() || c == '/')
                .unwrap_or(tail.len());
            match tail[..end].find('@') {
                Some(at) if at > 0 => {
                    out.push_str(HIDDEN_PART);
                    i += at;
                }
                _ => {}
            }
            continue;
        }
        if at_word_start(i) && SECRET_WORDS.iter().any(|w| rest.starts_with(w)) {
            // The word runs to `=` or whitespace; the value after `=` is hidden up to
            // whitespace, `;` or `:`.
            let word_end = rest
                .find(|c: char| c == '=' || c.is_whitespace())
                .unwrap_or(rest.len());
            out.push_str(&rest[..word_end]);
            i += word_end;
            if value[i..].starts_with('=') {
                out.push('=');
                out.push_str(HIDDEN_PART);
                i += 1;
                let v = &value[i..];
                i += v
                    .find(|c: char| c.is_whitespace() || c == ';' || c == ':')
                    .unwrap_or(v.len());
            }
            continue;
        }
        let c = rest.chars().next().expect("not at the end");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_like_doveconf() {
        // doveconf 2.3.19 output for the same values.
        assert_eq!(hide("ssl_key", "</etc/k.pem").as_deref(), Some(HIDDEN));
        assert_eq!(hide("doveadm_password", "x").as_deref(), Some(HIDDEN));
        assert_eq!(hide("doveadm_api_key", "x").as_deref(), Some(HIDDEN));
        assert_eq!(hide("ssl_key", ""), None);
        assert_eq!(
            hide("args", "password=foo").as_deref(),
            Some("password=#hidden_use-P_to_show#")
        );
        assert_eq!(
            hide("args", "uid=vmail password=a b nopassword=c").as_deref(),
            Some("uid=vmail password=#hidden_use-P_to_show# b nopassword=c")
        );
        assert_eq!(
            hide("args", "pass=yes:rest").as_deref(),
            Some("pass=#hidden_use-P_to_show#:rest")
        );
        assert_eq!(
            hide("url", "https://user:pw@host/x").as_deref(),
            Some("https://#hidden_use-P_to_show#@host/x")
        );
        assert_eq!(hide("url", "https://host/x@y"), None);
        assert_eq!(hide("args", "/etc/sql.conf"), None);
        assert_eq!(hide("auth_verbose_passwords", "no"), None);
    }
}
