//! Postfix's XCLIENT command as Dovecot's lib-smtp parses it: `ADDR PORT PROTO HELO LOGIN
//! SESSION TTL TIMEOUT`, xtext values, `[UNAVAILABLE]` meaning "leave as is", other names
//! ignored, and lib-smtp's `501 5.5.4` replies for bad values.

use std::net::IpAddr;

use super::params::xtext_decode;
use super::Reply;

/// The attributes advertised in LHLO, in Dovecot's order.
pub const CAPABILITY: &str = "XCLIENT ADDR PORT PROTO HELO LOGIN SESSION TTL TIMEOUT";

/// What an XCLIENT command passed; `None` leaves the value unchanged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyData {
    pub addr: Option<IpAddr>,
    pub port: Option<u16>,
    pub proto: Option<String>,
    pub helo: Option<String>,
    pub login: Option<String>,
    pub session: Option<String>,
    pub ttl: Option<u32>,
    pub timeout: Option<u32>,
}

/// Is the command line an XCLIENT command? Returns its arguments.
pub fn args(line: &[u8]) -> Option<&[u8]> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() >= 7 && line[..7].eq_ignore_ascii_case(b"XCLIENT") {
        match line.get(7) {
            None => Some(&[]),
            Some(b' ') => Some(&line[8..]),
            Some(_) => None,
        }
    } else {
        None
    }
}

fn bad(what: &str) -> Reply {
    Reply::new(501, "5.5.4", &format!("Invalid {what} parameter"))
}

/// Parses the arguments of XCLIENT.
pub fn parse(args: &[u8]) -> Result<ProxyData, Reply> {
    let text = String::from_utf8_lossy(args);
    let mut d = ProxyData::default();
    for arg in text.split(' ').filter(|a| !a.is_empty()) {
        let Some((key, raw)) = arg.split_once('=') else {
            return Err(Reply::new(
                501,
                "5.5.4",
                "Invalid parameter: Unexpected end of parameter",
            ));
        };
        let key = key.to_ascii_uppercase();
        let value = xtext_decode(raw)
            .map_err(|e| Reply::new(501, "5.5.4", &format!("Invalid {key} parameter: {e}")))?;
        let unavailable = value.eq_ignore_ascii_case("[UNAVAILABLE]");
        match key.as_str() {
            "ADDR" if !unavailable => {
                let (v6, ip) = match value.get(..5) {
                    Some(p) if p.eq_ignore_ascii_case("IPV6:") => (true, &value[5..]),
                    _ => (false, value.as_str()),
                };
                match ip.parse::<IpAddr>() {
                    Ok(a) if !v6 || a.is_ipv6() => d.addr = Some(a),
                    _ => return Err(bad("ADDR")),
                }
            }
            "PORT" if !unavailable => match value.parse::<u16>() {
                Ok(p) if p > 0 => d.port = Some(p),
                _ => return Err(bad("PORT")),
            },
            "PROTO" => {
                let p = value.to_ascii_uppercase();
                if !matches!(p.as_str(), "SMTP" | "ESMTP" | "LMTP") {
                    return Err(bad("PROTO"));
                }
                d.proto = Some(p);
            }
            "HELO" if !unavailable => d.helo = Some(value),
            "LOGIN" if !unavailable => d.login = Some(value),
            "SESSION" if !unavailable => d.session = Some(value),
            "TTL" => d.ttl = Some(value.parse().map_err(|_| bad("TTL"))?),
            "TIMEOUT" => d.timeout = Some(value.parse().map_err(|_| bad("TIMEOUT"))?),
            _ => {}
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_postfix_attributes() {
        let d = parse(b"ADDR=192.0.2.7 PORT=4242 HELO=mta.example SESSION=abc LOGIN=joe PROTO=esmtp TTL=5 NAME=x").unwrap();
        assert_eq!(d.addr, Some("192.0.2.7".parse().unwrap()));
        assert_eq!(d.port, Some(4242));
        assert_eq!(d.helo.as_deref(), Some("mta.example"));
        assert_eq!(d.session.as_deref(), Some("abc"));
        assert_eq!(d.proto.as_deref(), Some("ESMTP"));
        let d = parse(b"ADDR=IPV6:2001:db8::1 HELO=[UNAVAILABLE]").unwrap();
        assert_eq!(d.addr, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(d.helo, None);
    }

    #[test]
    fn bad_values_get_lib_smtp_replies() {
        for (a, r) in [
            ("ADDR=bad", "501 5.5.4 Invalid ADDR parameter\r\n"),
            ("ADDR=IPV6:1.2.3.4", "501 5.5.4 Invalid ADDR parameter\r\n"),
            ("PORT=x", "501 5.5.4 Invalid PORT parameter\r\n"),
            ("PROTO=http", "501 5.5.4 Invalid PROTO parameter\r\n"),
        ] {
            assert_eq!(parse(a.as_bytes()).unwrap_err().to_string(), r, "{a}");
        }
        assert_eq!(
            args(b"XCLIENT ADDR=1.2.3.4\r\n"),
            Some(&b"ADDR=1.2.3.4"[..])
        );
        assert_eq!(args(b"XCLIENTX\r\n"), None);
    }
}
