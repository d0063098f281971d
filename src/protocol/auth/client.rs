//! The auth-client protocol, version 1.2 (spec §7.2): the server greeting, the client's
//! `VERSION`/`CPID`/`AUTH`/`CONT`/`CANCEL` lines, and the `CONT`/`OK`/`FAIL` replies. Errors here
//! are protocol violations: Dovecot logs them as BUG and closes the connection without a reply.

use super::{tab_escape, tab_unescape};
use base64::Engine as _;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Protocol major and minor version the server speaks.
pub const VERSION_MAJOR: u32 = 1;
pub const VERSION_MINOR: u32 = 2;

/// One client line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientCommand {
    Version { major: u32, minor: u32 },
    Cpid(u32),
    Auth(AuthRequest),
    Cont { id: u32, data: String },
    Cancel(u32),
}

/// `AUTH\t<id>\t<MECH>\tservice=…[\tk[=v]…][\tresp=…]`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AuthRequest {
    pub id: u32,
    pub mechanism: String,
    pub service: String,
    /// Every parameter except `resp`, unescaped, in order (`secured` has an empty value).
    pub params: Vec<(String, String)>,
    /// The raw `resp=` value (base64 text), if the field was present.
    pub resp: Option<String>,
}

impl AuthRequest {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, key: &str) -> bool {
        self.params.iter().any(|(k, _)| k == key)
    }
}

/// A protocol violation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("empty line")]
    Empty,
    #[error("unknown command '{0}'")]
    UnknownCommand(String),
    #[error("{0}: missing or invalid fields")]
    Syntax(&'static str),
    #[error("invalid request id '{0}'")]
    BadId(String),
    #[error("AUTH: missing service")]
    MissingService,
    #[error("AUTH: parameters after resp")]
    AfterResp,
    #[error("incompatible protocol major version {0}")]
    Major(u32),
}

fn parse_id(s: Option<&str>) -> Result<u32, ClientError> {
    let s = s.ok_or(ClientError::Syntax("id"))?;
    match s.parse::<u32>() {
        Ok(n) if n != 0 => Ok(n),
        _ => Err(ClientError::BadId(s.to_string())),
    }
}

/// Parses one line (without the LF).
pub fn parse(line: &str) -> Result<ClientCommand, ClientError> {
    if line.is_empty() {
        return Err(ClientError::Empty);
    }
    let mut f = line.split('\t');
    let cmd = f.next().unwrap_or("");
    match cmd {
        "VERSION" => {
            let major = f
                .next()
                .and_then(|v| v.parse().ok())
                .ok_or(ClientError::Syntax("VERSION"))?;
            let minor = f
                .next()
                .and_then(|v| v.parse().ok())
                .ok_or(ClientError::Syntax("VERSION"))?;
            if major != VERSION_MAJOR {
                return Err(ClientError::Major(major));
            }
            Ok(ClientCommand::Version { major, minor })
        }
        "CPID" => {
            let pid = f
                .next()
                .and_then(|v| v.parse::<u32>().ok())
                .filter(|&p| p != 0)
                .ok_or(ClientError::Syntax("CPID"))?;
            Ok(ClientCommand::Cpid(pid))
        }
        "AUTH" => {
            let id = parse_id(f.next())?;
            let mechanism = f
                .next()
                .filter(|m| !m.is_empty())
                .ok_or(ClientError::Syntax("AUTH"))?
                .to_string();
            let mut req = AuthRequest {
                id,
                mechanism,
                ..AuthRequest::default()
            };
            for arg in f {
                if req.resp.is_some() {
                    return Err(ClientError::AfterResp);
                }
                let (k, v) = arg.split_once('=').unwrap_or((arg, ""));
                if k == "resp" {
                    req.resp = Some(v.to_string());
                    continue;
                }
                let v = tab_unescape(v);
                if k == "service" {
                    req.service = v.clone();
                }
                req.params.push((k.to_string(), v));
            }
            if req.service.is_empty() {
                return Err(ClientError::MissingService);
            }
            Ok(ClientCommand::Auth(req))
        }
        "CONT" => {
            let id = parse_id(f.next())?;
            let data = f.next().unwrap_or("").to_string();
            Ok(ClientCommand::Cont { id, data })
        }
        "CANCEL" => Ok(ClientCommand::Cancel(parse_id(f.next())?)),
        other => Err(ClientError::UnknownCommand(
            other.chars().take(32).collect(),
        )),
    }
}

/// Invalid base64 in a response: answered with `FAIL … code=invalid_base64`, not a disconnect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidBase64;

/// Decodes a `resp=` value: with client minor < 2 an empty value means "no initial response"
/// (Exim); `=` is always an empty response.
pub fn initial_response(
    resp: Option<&str>,
    client_minor: u32,
) -> Result<Option<Vec<u8>>, InvalidBase64> {
    match resp {
        None => Ok(None),
        Some("") if client_minor < 2 => Ok(None),
        Some("") | Some("=") => Ok(Some(Vec::new())),
        Some(v) => decode(v).map(Some),
    }
}

/// Decodes a `CONT` payload.
pub fn decode(data: &str) -> Result<Vec<u8>, InvalidBase64> {
    if data == "=" {
        return Ok(Vec::new());
    }
    B64.decode(data).map_err(|_| InvalidBase64)
}

/// The greeting: VERSION, one MECH per mechanism with its flags, SPID, CUID, COOKIE, DONE.
pub fn greeting(mechs: &[(&str, &[&str])], spid: u32, cuid: u64, cookie: &str) -> String {
    let mut s = format!("VERSION\t{VERSION_MAJOR}\t{VERSION_MINOR}\n");
    for (name, flags) in mechs {
        s.push_str("MECH\t");
        s.push_str(name);
        for f in *flags {
            s.push('\t');
            s.push_str(f);
        }
        s.push('\n');
    }
    s.push_str(&format!(
        "SPID\t{spid}\nCUID\t{cuid}\nCOOKIE\t{cookie}\nDONE\n"
    ));
    s
}

fn push_fields(s: &mut String, fields: &[(String, String)]) {
    for (k, v) in fields {
        s.push('\t');
        s.push_str(k);
        if !v.is_empty() {
            s.push('=');
            s.push_str(&tab_escape(v));
        }
    }
}

/// `CONT\t<id>\t<base64>`.
pub fn cont(id: u32, data: &[u8]) -> String {
    format!("CONT\t{id}\t{}\n", B64.encode(data))
}

/// `OK\t<id>\tuser=<user>[\t<fields>][\tresp=<base64>]`.
pub fn ok(id: u32, user: &str, fields: &[(String, String)], final_data: Option<&[u8]>) -> String {
    let mut s = format!("OK\t{id}\tuser={}", tab_escape(user));
    push_fields(&mut s, fields);
    if let Some(d) = final_data {
        s.push_str("\tresp=");
        s.push_str(&B64.encode(d));
    }
    s.push('\n');
    s
}

/// `FAIL\t<id>[\tuser=…][\tcode=…][\treason=…][\t<fields>]`.
pub fn fail(
    id: u32,
    user: Option<&str>,
    code: &str,
    reason: Option<&str>,
    fields: &[(String, String)],
) -> String {
    let mut s = format!("FAIL\t{id}");
    if let Some(u) = user {
        s.push_str("\tuser=");
        s.push_str(&tab_escape(u));
    }
    if !code.is_empty() {
        s.push_str("\tcode=");
        s.push_str(code);
    }
    if let Some(r) = reason {
        s.push_str("\treason=");
        s.push_str(&tab_escape(r));
    }
    push_fields(&mut s, fields);
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_postfix_and_doveadm_requests() {
        assert_eq!(
            parse("VERSION\t1\t2"),
            Ok(ClientCommand::Version { major: 1, minor: 2 })
        );
        assert_eq!(parse("VERSION\t2\t0"), Err(ClientError::Major(2)));
        assert_eq!(parse("CPID\t21563"), Ok(ClientCommand::Cpid(21563)));
        assert!(parse("CPID\t0").is_err());
        let ClientCommand::Auth(a) =
            parse("AUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=192.0.2.1\tsecured\tresp=AGEAYg==").unwrap()
        else {
            panic!()
        };
        assert_eq!(a.id, 1);
        assert_eq!(a.mechanism, "PLAIN");
        assert_eq!(a.service, "smtp");
        assert_eq!(a.param("rip"), Some("192.0.2.1"));
        assert!(a.has("secured"));
        assert_eq!(a.resp.as_deref(), Some("AGEAYg=="));
        assert_eq!(
            parse("AUTH\t1\tPLAIN\tresp=AA=="),
            Err(ClientError::MissingService)
        );
        assert_eq!(
            parse("AUTH\t1\tPLAIN\tservice=smtp\tresp=AA==\tx=y"),
            Err(ClientError::AfterResp)
        );
        assert_eq!(
            parse("AUTH\t0\tPLAIN\tservice=smtp"),
            Err(ClientError::BadId("0".into()))
        );
        assert_eq!(
            parse("AUTH\tx\tPLAIN\tservice=smtp"),
            Err(ClientError::BadId("x".into()))
        );
        assert_eq!(
            parse("CONT\t7\tdGVzdA=="),
            Ok(ClientCommand::Cont {
                id: 7,
                data: "dGVzdA==".into()
            })
        );
        assert_eq!(parse("CANCEL\t7"), Ok(ClientCommand::Cancel(7)));
        assert!(matches!(
            parse("HELLO"),
            Err(ClientError::UnknownCommand(_))
        ));
        assert_eq!(parse(""), Err(ClientError::Empty));
    }

    #[test]
    fn initial_response_rules() {
        assert_eq!(initial_response(None, 2), Ok(None));
        assert_eq!(
            initial_response(Some(""), 1),
            Ok(None),
            "Exim: empty resp = none"
        );
        assert_eq!(initial_response(Some(""), 2), Ok(Some(vec![])));
        assert_eq!(initial_response(Some("="), 1), Ok(Some(vec![])));
        assert_eq!(
            initial_response(Some("dGVzdA=="), 2),
            Ok(Some(b"test".to_vec()))
        );
        assert_eq!(initial_response(Some("!!"), 2), Err(InvalidBase64));
    }

    #[test]
    fn replies_are_byte_exact() {
        let g = greeting(
            &[("PLAIN", &["plaintext"]), ("EXTERNAL", &[])],
            123,
            4,
            "00ff",
        );
        assert_eq!(
            g,
            "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tEXTERNAL\nSPID\t123\nCUID\t4\nCOOKIE\t00ff\nDONE\n"
        );
        assert_eq!(cont(3, b"Username:"), "CONT\t3\tVXNlcm5hbWU6\n");
        assert_eq!(cont(3, b""), "CONT\t3\t\n");
        assert_eq!(
            ok(
                1,
                "alice",
                &[("proxy".into(), "".into()), ("host".into(), "a\tb".into())],
                Some(b"v=x")
            ),
            "OK\t1\tuser=alice\tproxy\thost=a\x01tb\tresp=dj14\n"
        );
        assert_eq!(fail(2, Some("bob"), "", None, &[]), "FAIL\t2\tuser=bob\n");
        assert_eq!(
            fail(2, None, "temp_fail", Some("x"), &[]),
            "FAIL\t2\tcode=temp_fail\treason=x\n"
        );
    }

    proptest! {
        #[test]
        fn random_lines_never_panic(s in "\\PC*") {
            let _ = parse(&s);
        }

        #[test]
        fn tabbed_random_fields_never_panic(fields in proptest::collection::vec("[A-Za-z0-9=+/\\x01 ]{0,12}", 0..8), cmd in "(AUTH|CONT|CANCEL|VERSION|CPID)") {
            let line = std::iter::once(cmd).chain(fields).collect::<Vec<_>>().join("\t");
            if let Ok(ClientCommand::Auth(a)) = parse(&line) {
                prop_assert!(!a.service.is_empty());
                prop_assert!(a.id != 0);
            }
        }
    }
}
