//! The stats HTTP session: `/metrics` (Prometheus text) and a small index at `/`, served by the
//! shared HTTP server (`net::http`) with its bounds (16 KiB heads, 30 s head and write
//! deadlines, 1 MiB bodies); other paths are 404, methods other than GET/HEAD 405.

use std::sync::Arc;

use hyper::header::{ACCEPT, ALLOW};
use hyper::{Method, StatusCode};

use crate::net::http::{self, Limits, Request, Response};
use crate::net::Conn;
use crate::runtime::{Hub, Session};

const INDEX: &str = "<html><head><title>roost stats</title></head><body><a href=\"/metrics\">/metrics</a></body></html>\n";

/// The `/metrics` answer for a scraper whose `Accept` header is `accept`: its content type and
/// body.
pub fn metrics_response(hub: &Hub, accept: Option<&str>) -> (&'static str, String) {
    super::exposition(accept, hub)
}

fn handle(hub: &Hub, req: &Request) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = http::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        r.headers_mut()
            .insert(ALLOW, hyper::header::HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match req.uri().path() {
        "/metrics" => {
            let accept = req.headers().get(ACCEPT).and_then(|v| v.to_str().ok());
            let (ctype, body) = metrics_response(hub, accept);
            http::response(StatusCode::OK, ctype, body)
        }
        "/" => http::response(StatusCode::OK, "text/html", INDEX),
        _ => http::text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

pub async fn run(conn: Conn, session: Session, hub: Arc<Hub>) {
    let handler: http::Handler = Arc::new(move |req| {
        let hub = hub.clone();
        Box::pin(async move { handle(&hub, &req) })
    });
    http::serve(conn, session, Limits::default(), handler).await
}
