//! The doveadm HTTP API on the service's `inet_listener http`, as Dovecot 2.3 serves it:
//! `OPTIONS *` (CORS headers, no authentication), `GET /` (the mounts), `GET /doveadm/v1` (the
//! command list), `POST /doveadm/v1` (run commands; see `api`). Authentication:
//! `Authorization: X-Dovecot-API <base64(doveadm_api_key)>` or `Basic
//! <base64(doveadm:doveadm_password)>`, compared in constant time; otherwise `401
//! Authentication required` with a `WWW-Authenticate` per configured scheme; with neither
//! setting, `500 Internal Server Error` and an error in the log.

use std::sync::Arc;

use base64::Engine;
use hyper::ext::ReasonPhrase;
use hyper::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use hyper::{Method, StatusCode};
use tracing::error;

use super::api;
use super::command::Context;
use crate::net::http::{self, Request, Response};

const JSON: &str = "application/json; charset=utf-8";

/// `a == b` without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn with_reason(mut r: Response, reason: &'static str) -> Response {
    r.extensions_mut()
        .insert(ReasonPhrase::from_static(reason.as_bytes()));
    r
}

/// Whether the request carries valid credentials; logs why not, as Dovecot does.
fn authorized(ctx: &Context, req: &Request) -> bool {
    let set = &ctx.settings.doveadm;
    let Some((scheme, data)) = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
    else {
        return false;
    };
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let data = data.trim().as_bytes();
    if scheme.eq_ignore_ascii_case("Basic") {
        if set.doveadm_password.is_empty() {
            error!("doveadm: Invalid authentication attempt to HTTP API: Basic authentication scheme not enabled");
            return false;
        }
        let want = b64(&format!("doveadm:{}", set.doveadm_password));
        if constant_time_eq(data, want.as_bytes()) {
            return true;
        }
        error!("doveadm: Invalid authentication attempt to HTTP API (using Basic authentication scheme)");
        false
    } else if scheme.eq_ignore_ascii_case("X-Dovecot-API") {
        if set.doveadm_api_key.is_empty() {
            error!("doveadm: Invalid authentication attempt to HTTP API: X-Dovecot-API authentication scheme not enabled");
            return false;
        }
        if constant_time_eq(data, b64(&set.doveadm_api_key).as_bytes()) {
            return true;
        }
        error!("doveadm: Invalid authentication attempt to HTTP API (using X-Dovecot-API authentication scheme)");
        false
    } else {
        let shown: String = scheme.chars().take(128).collect();
        error!("doveadm: Unsupported authentication scheme to HTTP API: {shown}");
        false
    }
}

/// The answer when the request may not go on, or `None` when it is authorized.
fn refuse(ctx: &Context, req: &Request) -> Option<Response> {
    let set = &ctx.settings.doveadm;
    if set.doveadm_api_key.is_empty() && set.doveadm_password.is_empty() {
        error!("doveadm: No authentication defined in configuration. Add API key or password");
        return Some(http::text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error\n",
        ));
    }
    if authorized(ctx, req) {
        return None;
    }
    let mut r = with_reason(
        http::response(StatusCode::UNAUTHORIZED, "text/plain", ""),
        "Authentication required",
    );
    if !set.doveadm_api_key.is_empty() {
        r.headers_mut()
            .append(WWW_AUTHENTICATE, HeaderValue::from_static("X-Dovecot-API"));
    }
    if !set.doveadm_password.is_empty() {
        r.headers_mut().append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic Realm=\"doveadm\""),
        );
    }
    Some(r)
}

fn options() -> Response {
    let mut r = http::response(StatusCode::OK, "text/plain", "");
    let h = r.headers_mut();
    for (name, value) in [
        ("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
        (
            "Access-Control-Allow-Request-Headers",
            "Content-Type, X-API-Key, Authorization",
        ),
        (
            "Access-Control-Allow-Headers",
            "Content-Type, WWW-Authenticate",
        ),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    r
}

const MOUNTS: &str = "[\n{\"method\":\"OPTIONS\",\"path\":\"*\"},\n{\"method\":\"GET\",\"path\":\"/\"},\n{\"method\":\"GET\",\"path\":\"/doveadm/v1\"},\n{\"method\":\"POST\",\"path\":\"/doveadm/v1\"}\n]";

/// Serves one request.
pub async fn handle(ctx: Arc<Context>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    if method == Method::OPTIONS {
        return options();
    }
    let get = method == Method::GET || method == Method::HEAD;
    let known = (get && (path == "/" || path == "/doveadm/v1"))
        || (method == Method::POST && path == "/doveadm/v1");
    if !known {
        return with_reason(
            http::text(StatusCode::NOT_FOUND, "Path Not Found\n"),
            "Path Not Found",
        );
    }
    if let Some(r) = refuse(&ctx, &req) {
        return r;
    }
    if get && path == "/" {
        return http::response(StatusCode::OK, JSON, MOUNTS);
    }
    if get {
        return http::response(StatusCode::OK, JSON, api::listing());
    }
    match api::parse(req.body()) {
        Err(e) => http::text(StatusCode::BAD_REQUEST, &format!("{e}\n")),
        Ok(calls) => {
            let results = api::run(&ctx, calls).await;
            http::response(
                StatusCode::OK,
                JSON,
                api::answer(results, false).to_string(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
