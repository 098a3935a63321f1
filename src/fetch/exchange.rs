//! One capped HTTP exchange over an already-pinned TLS stream: a single GET with fixed
//! headers, a bounded response head, and a body read against a byte cap and deadlines.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinHandle;
use url::Url;

use super::codes;
use super::connect::Connected;
use super::phase::Phase;
use crate::problem::Problem;

/// User-Agent sent on every fetch: fixed, so origins can recognise and rate us.
pub const USER_AGENT: &str = concat!("portcullis/", env!("CARGO_PKG_VERSION"));

/// Caps for one exchange.
#[derive(Clone, Copy, Debug)]
pub struct ExchangeLimits {
    /// Request sent → head received.
    pub first_byte: Duration,
    /// Head received → body complete.
    pub body: Duration,
    /// Absolute deadline of the whole fetch.
    pub deadline: Instant,
    /// Response head bytes.
    pub max_header_bytes: usize,
    /// Response header fields.
    pub max_headers: usize,
    /// Body bytes.
    pub max_body_bytes: u64,
}

/// Aborts the connection driver when the exchange is over, whatever path it took.
struct DriverGuard(JoinHandle<()>);

impl DriverGuard {
    /// Runs a hyper connection driver (h1 or h2) in its own task, owned by the guard.
    fn spawn<F>(connection: F) -> DriverGuard
    where
        F: std::future::Future + Send + 'static,
    {
        DriverGuard(tokio::spawn(async move {
            let _ = connection.await;
        }))
    }
}

impl Drop for DriverGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A response head, with its body still unread.
pub struct Head {
    /// Status code.
    pub status: StatusCode,
    /// Header fields.
    pub headers: HeaderMap,
    body: Incoming,
    _driver: DriverGuard,
    /// Time from request sent to head received.
    pub first_byte_time: Duration,
}

fn hyper_problem(e: &hyper::Error) -> Problem {
    if e.is_parse_too_large() {
        Problem::error(
            codes::HEADERS_TOO_LARGE,
            "response head exceeds the header size or count cap",
        )
    } else {
        Problem::error(codes::HTTP_FAILED, format!("http exchange failed: {e}"))
    }
}

/// Sends the GET over a pinned TLS connection and waits for the response head.
pub async fn send(conn: Connected, url: &Url, limits: &ExchangeLimits) -> Result<Head, Problem> {
    send_over(conn.stream, conn.h2, url, limits).await
}

/// Sends the GET over any byte stream (HTTP/2 when `h2`, else HTTP/1.1) and waits for the
/// response head. [`send`] is this over a pinned TLS stream; the fuzz target
/// `http_response_bytes` drives it over an in-memory duplex stream playing a hostile origin.
pub async fn send_over<IO>(
    io: IO,
    h2: bool,
    url: &Url,
    limits: &ExchangeLimits,
) -> Result<Head, Problem>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(io);
    let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
    let host = url.host_str().unwrap_or_default();
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let builder = Request::get(if h2 { url.as_str() } else { path })
        .header(header::ACCEPT, "application/json")
        .header(header::ACCEPT_ENCODING, "identity")
        .header(header::USER_AGENT, USER_AGENT);
    let builder = if h2 {
        builder
    } else {
        builder.header(header::HOST, authority)
    };
    let request = builder
        .body(Empty::<Bytes>::new())
        .map_err(|e| Problem::error(codes::HTTP_FAILED, format!("cannot build request: {e}")))?;

    let started = Instant::now();
    let phase = Phase::start(
        limits.first_byte,
        limits.deadline,
        codes::FIRST_BYTE_TIMEOUT,
        "the response head",
    );
    let handshake_and_send = async {
        if h2 {
            let header_list = u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX);
            let (mut sender, connection) =
                hyper::client::conn::http2::Builder::new(TokioExecutor::new())
                    .max_header_list_size(header_list)
                    .max_concurrent_streams(1)
                    .max_concurrent_reset_streams(4)
                    .max_pending_accept_reset_streams(4)
                    .initial_stream_window_size(64 * 1024)
                    .initial_connection_window_size(64 * 1024)
                    .handshake(io)
                    .await
                    .map_err(|e| hyper_problem(&e))?;
            let driver = DriverGuard::spawn(connection);
            let response = sender.send_request(request).await;
            Ok::<_, Problem>((response.map_err(|e| hyper_problem(&e))?, driver))
        } else {
            let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
                .max_headers(limits.max_headers)
                .max_buf_size(limits.max_header_bytes.max(8192))
                .handshake(io)
                .await
                .map_err(|e| hyper_problem(&e))?;
            let driver = DriverGuard::spawn(connection);
            let response = sender.send_request(request).await;
            Ok((response.map_err(|e| hyper_problem(&e))?, driver))
        }
    };
    let (response, driver) = phase.run(handshake_and_send).await??;
    let (parts, body) = response.into_parts();
    let head_bytes: usize = parts
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if head_bytes > limits.max_header_bytes || parts.headers.len() > limits.max_headers {
        return Err(Problem::error(
            codes::HEADERS_TOO_LARGE,
            format!(
                "response head has {} fields and {head_bytes} bytes (caps {} and {})",
                parts.headers.len(),
                limits.max_headers,
                limits.max_header_bytes
            ),
        ));
    }
    Ok(Head {
        status: parts.status,
        headers: parts.headers,
        body,
        _driver: driver,
        first_byte_time: started.elapsed(),
    })
}

impl Head {
    /// The announced body length, when the origin sent a parseable one.
    pub fn content_length(&self) -> Option<u64> {
        self.headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
    }

    /// Reads the whole body, refusing at the first byte past the cap.
    pub async fn read_body(
        mut self,
        limits: &ExchangeLimits,
    ) -> Result<(Bytes, Duration), Problem> {
        let too_large = |n: u64| {
            Problem::error(
                codes::BODY_TOO_LARGE,
                format!(
                    "body exceeds the cap of {} bytes (at least {n})",
                    limits.max_body_bytes
                ),
            )
        };
        if let Some(announced) = self.content_length()
            && announced > limits.max_body_bytes
        {
            return Err(too_large(announced));
        }
        let started = Instant::now();
        let phase = Phase::start(
            limits.body,
            limits.deadline,
            codes::BODY_TIMEOUT,
            "the body",
        );
        let capacity = self
            .content_length()
            .unwrap_or(1024)
            .min(limits.max_body_bytes);
        let mut buf = BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(1024));
        loop {
            let frame = phase.run(self.body.frame()).await?;
            let Some(frame) = frame else { break };
            let frame = frame.map_err(|e| hyper_problem(&e))?;
            if let Ok(data) = frame.into_data() {
                let total = buf.len() as u64 + data.len() as u64;
                if total > limits.max_body_bytes {
                    return Err(too_large(total));
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok((buf.freeze(), started.elapsed()))
    }
}
