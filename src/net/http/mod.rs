//! The HTTP/1.1 server every HTTP listener uses (stats `/metrics`, the doveadm HTTP API): hyper's
//! http1 connection over the listener's `Conn` (TCP, unix, TLS, after PROXY), with roost's
//! bounds: request heads of at most [`Limits::max_head`] bytes (431), a head must be complete
//! within [`Limits::head_timeout`] of the accept or the previous answer (408 if it started,
//! else a quiet close: also the keep-alive idle time), an answer must be taken by the client
//! within [`Limits::write_timeout`], and request bodies (Content-Length or chunked) are read
//! into memory up to [`Limits::max_body`] (413) within the head timeout (408). Handlers get the
//! whole request and return a whole response; hyper does keep-alive, HEAD (no body, same
//! Content-Length), `Expect: 100-continue` and chunked decoding.

mod watch;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;

use crate::net::Conn;
use crate::runtime::{BoxFuture, Session};
use watch::{Expired, Watch, Watched};

/// A request with its whole body.
pub type Request = hyper::Request<Bytes>;
/// A response with its whole body.
pub type Response = hyper::Response<Full<Bytes>>;
/// What serves the requests of a connection.
pub type Handler = Arc<dyn Fn(Request) -> BoxFuture<Response> + Send + Sync>;

/// The bounds of one HTTP connection.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_head: usize,
    pub head_timeout: Duration,
    pub write_timeout: Duration,
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_head: 16 * 1024,
            head_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            max_body: 1024 * 1024,
        }
    }
}

/// A complete response with a Content-Type.
pub fn response(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response {
    let mut r = hyper::Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    r
}

/// A plain-text response.
pub fn text(status: StatusCode, body: &str) -> Response {
    response(status, "text/plain", body.to_string())
}

/// `resp` with `Connection: close` (hyper then closes after writing it).
fn closing(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// Reads the body of `req` within the limits, or answers why not.
async fn read_body(req: hyper::Request<Incoming>, limits: Limits) -> Result<Request, Response> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body as u64) {
        return Err(closing(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large\n",
        )));
    }
    let (parts, body) = req.into_parts();
    let collected = tokio::time::timeout(
        limits.head_timeout,
        Limited::new(body, limits.max_body).collect(),
    )
    .await;
    match collected {
        Ok(Ok(c)) => Ok(hyper::Request::from_parts(parts, c.to_bytes())),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(closing(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large\n",
        ))),
        Ok(Err(_)) => Err(closing(text(StatusCode::BAD_REQUEST, "bad request body\n"))),
        Err(_) => Err(closing(text(
            StatusCode::REQUEST_TIMEOUT,
            "request timeout\n",
        ))),
    }
}

/// Serves HTTP/1.x on `conn` until the client leaves, a deadline passes, or the session ends
/// (then in-flight answers are finished and the connection closed).
pub async fn serve(conn: Conn, session: Session, limits: Limits, handler: Handler) {
    let watch = Watch::new();
    let io = TokioIo::new(Watched::new(conn.stream, watch.clone()));
    let svc_watch = watch.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let handler = handler.clone();
        let watch = svc_watch.clone();
        async move {
            watch.handling();
            let resp = match read_body(req, limits).await {
                Ok(req) => handler(req).await,
                Err(resp) => resp,
            };
            watch.writing();
            Ok::<_, Infallible>(resp)
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new()
        .max_header_size(limits.max_head)
        .header_read_timeout(None)
        .keep_alive(true)
        .serve_connection(io, service);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ending = false;
    loop {
        tokio::select! {
            _ = &mut http => return,
            _ = session.ended(), if !ending => {
                ending = true;
                std::pin::Pin::new(&mut http).graceful_shutdown();
            }
            _ = tick.tick() => {
                let now = std::time::Instant::now();
                match watch.expired(now, limits.head_timeout, limits.write_timeout) {
                    None => {}
                    Some(Expired::Idle | Expired::Write) => return,
                    Some(Expired::Head) => {
                        let mut stream = http.into_parts().io.into_inner().into_inner();
                        let answer = b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\nContent-Length: 16\r\nConnection: close\r\n\r\nrequest timeout\n";
                        let _ = tokio::time::timeout(limits.write_timeout, async {
                            stream.write_all(answer).await?;
                            stream.shutdown().await
                        })
                        .await;
                        return;
                    }
                }
            }
        }
    }
}
