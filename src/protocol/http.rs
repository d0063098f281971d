//! A minimal HTTP/1.x request-head codec for the stats service's `/metrics` endpoint: find the
//! end of the head, parse it with `httparse`, and write responses with a Content-Length.

/// Longest request head accepted.
pub const MAX_HEAD: usize = 16 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// The client asked to close (or spoke HTTP/1.0 without keep-alive).
    pub close: bool,
    /// Bytes of the head, to drop from the buffer.
    pub head_len: usize,
    /// The request carries a body (`Content-Length` > 0 or `Transfer-Encoding`); roost's
    /// endpoints take none, so the connection is closed after the answer.
    pub has_body: bool,
    /// The `Accept` header, for content negotiation.
    pub accept: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    TooLarge,
    Invalid(String),
}

/// Parses a request head from `buf`; `Ok(None)` means more bytes are needed.
pub fn parse_request(buf: &[u8]) -> Result<Option<Request>, ParseError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Partial) => {
            if buf.len() > MAX_HEAD {
                Err(ParseError::TooLarge)
            } else {
                Ok(None)
            }
        }
        Ok(httparse::Status::Complete(n)) => {
            let version = req.version.unwrap_or(1);
            let conn_hdr = req
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("connection"))
                .map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase());
            let close = match conn_hdr.as_deref() {
                Some(v) if v.contains("close") => true,
                Some(v) if v.contains("keep-alive") => false,
                _ => version == 0,
            };
            let has_body = req.headers.iter().any(|h| {
                h.name.eq_ignore_ascii_case("transfer-encoding")
                    || (h.name.eq_ignore_ascii_case("content-length")
                        && std::str::from_utf8(h.value)
                            .map(|v| v.trim() != "0")
                            .unwrap_or(true))
            });
            let accept = req
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("accept"))
                .map(|h| String::from_utf8_lossy(h.value).into_owned());
            Ok(Some(Request {
                accept,
                method: req.method.unwrap_or("").to_string(),
                path: req.path.unwrap_or("").to_string(),
                close,
                head_len: n,
                has_body,
            }))
        }
        Err(e) => Err(ParseError::Invalid(e.to_string())),
    }
}

/// Serializes a complete response.
pub fn response(
    status: u16,
    reason: &str,
    content_type: &str,
    body: &[u8],
    close: bool,
) -> Vec<u8> {
    let mut out = head(status, reason, content_type, body.len(), close);
    out.extend_from_slice(body);
    out
}

/// The head of a response whose body has `len` bytes (alone: the answer to HEAD).
pub fn head(status: u16, reason: &str, content_type: &str, len: usize, close: bool) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\n{}\r\n",
        if close { "Connection: close\r\n" } else { "" }
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_get() {
        let r = parse_request(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nrest")
            .unwrap()
            .unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/metrics");
        assert!(!r.close);
        assert_eq!(r.head_len, 34);
        assert!(!r.has_body);
        let r = parse_request(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(r.close);
        let r = parse_request(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
            .unwrap()
            .unwrap();
        assert!(r.has_body);
    }

    #[test]
    fn partial_and_errors() {
        assert_eq!(parse_request(b"GET /met").unwrap(), None);
        assert!(matches!(
            parse_request(b"\x00\x01 junk\r\n\r\n"),
            Err(ParseError::Invalid(_))
        ));
        let big = vec![b'a'; MAX_HEAD + 10];
        let mut req = b"GET / HTTP/1.1\r\nX: ".to_vec();
        req.extend_from_slice(&big);
        assert_eq!(parse_request(&req), Err(ParseError::TooLarge));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_request(&bytes);
        }
    }
}
