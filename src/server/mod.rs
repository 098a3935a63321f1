//! The local HTTP API (hyper 1.x, HTTP/1.1 and h2c): routes, caller authentication, body
//! caps and deadlines, error mapping, and graceful shutdown. It holds no policy of its own:
//! every decision is the service's.

pub mod auth;
pub mod body;
pub mod budget;
pub mod control_frames;
pub mod first_bytes;
pub mod framing;
pub mod h2_guard;
pub mod idle;
pub mod reload;
pub mod render_cache;
/// The request body parser, now a layer below the server (`crate::request`); kept under
/// its old path for tests, tools and the fuzz target.
pub use crate::request;
pub mod slots;
mod write_through;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, Version, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};

use crate::config::{MIN_REQUEST_HEAD_BYTES, ServerConfig};
use crate::kind::Kind;
use crate::refusal::Refused;
use crate::service::Service;
use crate::telemetry::metrics::ApiMetrics;
use arc_swap::ArcSwap;
use body::ApiBody;
use budget::{ByteBudget, Charge};
use idle::{Activity, IdleLimits};
use reload::{ConfigMetrics, Runtime};
use render_cache::RenderCache;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Listening without callers on a non-loopback address would expose an open fetcher.
    #[error(
        "refusing to listen on non-loopback {0} without [[server.callers]]: configure callers or listen on loopback"
    )]
    OpenOnNonLoopback(SocketAddr),
    /// Binding failed.
    #[error("cannot listen on {addr}: {why}")]
    Bind {
        /// The address.
        addr: String,
        /// The OS error.
        why: String,
    },
    /// Neither TCP nor a Unix socket is configured.
    #[error("no listener configured (listen_tcp = false and no unix_socket)")]
    NoListener,
}

type Body = ApiBody;

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes_response(status, "application/json", Bytes::from(bytes))
}

fn bytes_response(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    with_headers(status, content_type, ApiBody::uncharged(body))
}

/// A response whose body is shared, not allocated for it (see [`ApiBody::shared`]).
fn shared_response(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    with_headers(status, content_type, ApiBody::shared(body))
}

fn with_headers(status: StatusCode, content_type: &'static str, body: ApiBody) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// `{"error": code, "detail": sentence}` with a status.
pub fn error_response(status: StatusCode, code: &str, detail: &str) -> Response<Body> {
    json_response(status, &json!({ "error": code, "detail": detail }))
}

/// The response for a refusal: status, `{"error","detail","retry_after"?}` and the headers
/// its status calls for, all read from [`Refused`] (the one place they are decided).
fn refusal_response(refused: &Refused) -> Response<Body> {
    let status =
        StatusCode::from_u16(refused.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(status, &refused.body());
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    if let Some(after) = refused.retry_after_s() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(after));
    }
    response
}

/// Static bodies: built once, shared by every response (a reference count, no copy).
const HEALTHZ_OK: &[u8] = br#"{"status":"ok"}"#;
const READYZ_READY: &[u8] = br#"{"status":"ready"}"#;
const READYZ_SHUTTING_DOWN: &[u8] = br#"{"status":"shutting_down"}"#;
const SERVER_BUSY: &[u8] =
    br#"{"error":"server_busy","detail":"too many responses are waiting to be read; retry later"}"#;
const CONFLICTING_FRAMING: &[u8] = br#"{"error":"conflicting_framing","detail":"a request must not carry both Content-Length and Transfer-Encoding"}"#;

/// One connection's state shared with its request handlers.
struct Conn {
    activity: Arc<Activity>,
    pending: Arc<ByteBudget>,
    /// Raised by the inbound scanner: an HTTP/1.1 head had conflicting framing headers.
    conflicting_framing: Arc<AtomicBool>,
}

/// Shared state of the running server.
pub struct App {
    /// Service, callers and per-request settings; swapped whole by a reload.
    runtime: ArcSwap<Runtime>,
    /// Listener settings fixed at start (`listen`, `max_connections`, shutdown grace).
    config: ServerConfig,
    ready: AtomicBool,
    config_metrics: Option<ConfigMetrics>,
    metrics: ApiMetrics,
    pending: Arc<ByteBudget>,
    rendered: RenderCache,
}

impl App {
    /// Wires the service to the server config.
    pub fn new(service: Arc<Service>, config: ServerConfig) -> App {
        let config_metrics = ConfigMetrics::new()
            .inspect_err(|e| tracing::warn!(error = %e, "config metrics unavailable"))
            .ok();
        App {
            metrics: service.telemetry().api().clone(),
            pending: ByteBudget::new(config.max_pending_response_bytes),
            rendered: RenderCache::new(Duration::from_millis(config.metrics_render_interval_ms)),
            runtime: ArcSwap::from_pointee(Runtime::new(service, config.clone())),
            config,
            ready: AtomicBool::new(true),
            config_metrics,
        }
    }

    /// The runtime new requests are served with.
    pub fn runtime(&self) -> Arc<Runtime> {
        self.runtime.load_full()
    }

    /// Swaps in a runtime built from a new config; requests in flight keep the old one.
    pub fn swap(&self, runtime: Runtime) {
        self.runtime.store(Arc::new(runtime));
    }

    /// The reload counters and config-hash info metric, if they could be registered.
    pub fn config_metrics(&self) -> Option<&ConfigMetrics> {
        self.config_metrics.as_ref()
    }

    /// The shared `503 server_busy` (static, so outside the budget).
    fn busy(&self) -> Response<Body> {
        self.metrics.responses_shed.inc();
        let mut response = shared_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "application/json",
            Bytes::from_static(SERVER_BUSY),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        response
    }

    /// Charges a response to the pending budgets, or answers `503 server_busy` instead.
    /// Shared bodies cost no memory per response and pass uncharged.
    fn charge(&self, response: Response<Body>, conn: &Conn) -> Response<Body> {
        if response.body().is_shared() {
            return response;
        }
        let (parts, body) = response.into_parts();
        match Charge::take(
            &self.pending,
            &conn.pending,
            &self.metrics.pending_response_bytes,
            body.len(),
        ) {
            Ok(charge) => Response::from_parts(parts, body.charged(charge)),
            Err(_) => self.busy(),
        }
    }

    /// Routes a request. Everything but `POST /v1/fetch` is answered here, at once; a fetch
    /// leaves with its head already read (see [`FetchCall`]).
    fn handle(&self, request: Request<Incoming>, conn: &Conn) -> Handled {
        if conflicting_framing(&request, &conn.conflicting_framing) {
            self.metrics
                .connections_closed
                .with_label_values(&["conflicting_framing"])
                .inc();
            let mut response = shared_response(
                StatusCode::BAD_REQUEST,
                "application/json",
                Bytes::from_static(CONFLICTING_FRAMING),
            );
            response.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            return Handled::Now(response);
        }
        let rt = self.runtime.load_full();
        let path = request.uri().path().to_owned();
        Handled::Now(match (request.method(), path.as_str()) {
            (&Method::POST, "/v1/fetch") => {
                if self.pending.is_full() || conn.pending.is_full() {
                    return Handled::Now(self.busy());
                }
                return Handled::Fetch(FetchCall::read(rt, request));
            }
            (&Method::GET, "/v1/keys") => shared_response(
                StatusCode::OK,
                "application/jwk-set+json",
                rt.service.jwks_json(),
            ),
            (&Method::GET, "/metrics") => {
                let text = self.rendered.get(Instant::now(), || {
                    self.metrics.metrics_renders.inc();
                    // The reload metrics outlive each swapped service.
                    let mut text = rt.service.metrics_text();
                    if let Some(metrics) = &self.config_metrics {
                        text.push_str(&metrics.render());
                    }
                    Bytes::from(text)
                });
                shared_response(
                    StatusCode::OK,
                    "text/plain; version=0.0.4; charset=utf-8",
                    text,
                )
            }
            (&Method::GET, "/healthz") => shared_response(
                StatusCode::OK,
                "application/json",
                Bytes::from_static(HEALTHZ_OK),
            ),
            (&Method::GET, "/readyz") => {
                if self.ready.load(Ordering::SeqCst) {
                    shared_response(
                        StatusCode::OK,
                        "application/json",
                        Bytes::from_static(READYZ_READY),
                    )
                } else {
                    shared_response(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "application/json",
                        Bytes::from_static(READYZ_SHUTTING_DOWN),
                    )
                }
            }
            (_, "/v1/fetch" | "/v1/keys" | "/metrics" | "/healthz" | "/readyz") => error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed",
            ),
            _ => error_response(StatusCode::NOT_FOUND, "not_found", "no such route"),
        })
    }

    /// `POST /v1/fetch`: a verdict, or a refusal that is answered and audited in one place.
    async fn fetch(call: FetchCall) -> Response<Body> {
        let FetchCall {
            rt,
            received,
            head,
            body,
        } = call;
        let mut asked = None;
        let (caller, result) = match head {
            FetchHead::Refused { caller, why } => (caller, Err(why)),
            FetchHead::Accepted {
                caller,
                header_deadline,
            } => {
                let result =
                    Self::fetch_verdict(&rt, &caller, header_deadline, body, received, &mut asked)
                        .await;
                (Some(caller), result)
            }
        };
        match result {
            Ok(reply) => bytes_response(StatusCode::OK, "application/json", reply),
            Err(refused) => {
                rt.service.audit_refusal(
                    caller.as_deref(),
                    refused.status(),
                    refused.code(),
                    asked
                        .as_ref()
                        .map(|(url, kind): &(String, Kind)| (url.as_str(), *kind)),
                );
                refusal_response(&refused)
            }
        }
    }

    async fn fetch_verdict(
        rt: &Runtime,
        caller: &str,
        header_deadline: Option<u64>,
        body: Incoming,
        received: Instant,
        asked_out: &mut Option<(String, Kind)>,
    ) -> Result<Bytes, Refused> {
        let max = rt.server.max_request_bytes;
        let too_large = || Refused::RequestTooLarge { max_bytes: max };
        let deadline = Duration::from_millis(rt.server.request_read_timeout_ms);
        let body = Limited::new(body, max);
        let bytes = match tokio::time::timeout(deadline, body.collect()).await {
            Err(_) => {
                return Err(Refused::RequestTimeout);
            }
            Ok(Err(e))
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                return Err(too_large());
            }
            Ok(Err(_)) => {
                return Err(Refused::InvalidRequest("cannot read request body".into()));
            }
            Ok(Ok(collected)) => collected.to_bytes(),
        };
        let parsed = request::parse_fetch_request(&bytes);
        // The body may be a slice of the connection's read buffer: keep it past this point
        // and the whole buffer stays pinned while the request waits, and hyper allocates
        // another for the next read. Everything needed was copied out by the parser.
        drop(bytes);
        if let Ok(asked) = &parsed {
            *asked_out = Some((asked.url.clone(), asked.kind));
        }
        // The caller's rate is charged once the body is read (malformed bodies included),
        // so a refused request's audit line can say which URL and kind were throttled.
        rt.service
            .admit_caller(caller)
            .await
            .map_err(Refused::from)?;
        let mut parsed = parsed?;
        // Both given: the shorter deadline wins.
        parsed.deadline_ms = match (parsed.deadline_ms, header_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let resolved = rt.service.resolve(parsed, received);
        rt.service.verdict(caller, resolved, received).await
    }
}

/// What the router did with a request: answered it, or read a fetch's head.
enum Handled {
    Now(Response<Body>),
    Fetch(FetchCall),
}

/// A `POST /v1/fetch` whose head has been read and dropped: a waiting request holds these
/// few fields, not hyper's parsed head (issue 13: up to `max_queued` of them wait at once).
struct FetchCall {
    rt: Arc<Runtime>,
    /// When the request arrived; the caller's deadline counts from it.
    received: Instant,
    head: FetchHead,
    body: Incoming,
}

/// What the head alone decided.
enum FetchHead {
    /// Refused before reading the body; `caller` is known when authentication passed.
    Refused {
        caller: Option<String>,
        why: Refused,
    },
    /// Authenticated, JSON, not announced too large: read the body next.
    Accepted {
        caller: String,
        header_deadline: Option<u64>,
    },
}

impl FetchCall {
    fn read(rt: Arc<Runtime>, request: Request<Incoming>) -> FetchCall {
        let received = Instant::now();
        let (parts, body) = request.into_parts();
        let head = FetchCall::check_head(&rt, &parts.headers);
        FetchCall {
            rt,
            received,
            head,
            body,
        }
    }

    fn check_head(rt: &Runtime, headers: &header::HeaderMap) -> FetchHead {
        let caller = match rt
            .callers
            .authenticate(headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()))
        {
            Ok(caller) => caller,
            Err(why) => return FetchHead::Refused { caller: None, why },
        };
        let refuse = |caller: String, why: Refused| FetchHead::Refused {
            caller: Some(caller),
            why,
        };
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(crate::fetch::media::is_json_media_type);
        if !is_json {
            return refuse(caller, Refused::UnsupportedMediaType);
        }
        let max = rt.server.max_request_bytes;
        let announced = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if announced.is_some_and(|len| len > max) {
            return refuse(caller, Refused::RequestTooLarge { max_bytes: max });
        }
        match headers
            .get(request::DEADLINE_HEADER)
            .map(|v| request::parse_deadline_header(v.as_bytes()))
            .transpose()
        {
            Ok(header_deadline) => FetchHead::Accepted {
                caller,
                header_deadline,
            },
            Err(why) => refuse(caller, why),
        }
    }
}

/// RFC 9112 §6.3: a request with both `Content-Length` and `Transfer-Encoding` is a
/// request-smuggling vector; hyper reads it as chunked, drops `Content-Length` and closes
/// the connection afterwards, but still answers it. Refuse it instead: the inbound scanner
/// saw both headers in a head, and this request is chunked (hyper's reading of it). h2
/// forbids `Transfer-Encoding` itself.
fn conflicting_framing<B>(request: &Request<B>, seen: &AtomicBool) -> bool {
    request.version() < Version::HTTP_2
        && request.headers().contains_key(header::TRANSFER_ENCODING)
        && (seen.load(Ordering::SeqCst) || request.headers().contains_key(header::CONTENT_LENGTH))
}

/// Checks the safe-default rule before binding: no callers means loopback only.
pub fn check_listen(config: &ServerConfig) -> Result<(), ServeError> {
    if config.listen_tcp && config.callers.is_empty() && !config.listen.ip().is_loopback() {
        return Err(ServeError::OpenOnNonLoopback(config.listen));
    }
    if !config.listen_tcp && config.unix_socket.is_none() {
        return Err(ServeError::NoListener);
    }
    Ok(())
}

/// Bound listeners, ready to serve.
pub struct Listeners {
    /// TCP listener, if configured.
    pub tcp: Option<TcpListener>,
    /// Unix listener, if configured.
    pub unix: Option<UnixListener>,
}

impl Listeners {
    /// Binds what the config asks for (after [`check_listen`]).
    pub async fn bind(config: &ServerConfig) -> Result<Listeners, ServeError> {
        check_listen(config)?;
        let tcp = if config.listen_tcp {
            Some(
                TcpListener::bind(config.listen)
                    .await
                    .map_err(|e| ServeError::Bind {
                        addr: config.listen.to_string(),
                        why: e.to_string(),
                    })?,
            )
        } else {
            None
        };
        let unix = match &config.unix_socket {
            Some(path) => {
                let _ = std::fs::remove_file(path);
                Some(UnixListener::bind(path).map_err(|e| ServeError::Bind {
                    addr: path.display().to_string(),
                    why: e.to_string(),
                })?)
            }
            None => None,
        };
        Ok(Listeners { tcp, unix })
    }

    /// The TCP address actually bound (port 0 resolved).
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp.as_ref().and_then(|l| l.local_addr().ok())
    }
}

/// Time a client has to send its request head (and, before that, the first bytes that tell
/// HTTP/1.1 from h2c; see [`first_bytes`]).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

fn builder(config: &ServerConfig) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        // The largest request head is hyper's read buffer per connection. At hyper's minimum
        // (the default) the 24 bytes the protocol sniffer hands back cannot make hyper's
        // first read grow the buffer to 16 KiB for the connection's life (issue 13). The
        // clamp keeps a config built in code from reaching hyper's assertion.
        .max_buf_size(config.max_request_head_bytes.max(MIN_REQUEST_HEAD_BYTES))
        // Do not read a connection while its request is answered: hyper's probe for a
        // hang-up reserves a second 8 KiB buffer per waiting connection (the request body
        // still pins the first). A client that hangs up is noticed when its answer is
        // written; its wait is bounded by the queue and request deadlines either way, and
        // a client that only shuts down its sending side still gets the answer (issue 13).
        .half_close(true)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(config.h2_max_concurrent_streams)
        .keep_alive_interval(Some(Duration::from_millis(
            config.h2_keep_alive_interval_ms.max(1),
        )))
        .keep_alive_timeout(Duration::from_millis(
            config.h2_keep_alive_timeout_ms.max(1),
        ))
        .max_header_list_size(16 * 1024)
        .max_pending_accept_reset_streams(16)
        .max_local_error_reset_streams(64);
    builder
}

fn spawn_connection<I>(
    io: I,
    app: Arc<App>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    graceful: &GracefulShutdown,
    activity: Arc<Activity>,
    slot: slots::Slot,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let watcher = graceful.watcher();
    let per_second = app.config.h2_max_control_frames_per_s;
    let flood_counter = app
        .metrics
        .connections_closed
        .with_label_values(&["control_frame_flood"]);
    let io = first_bytes::FirstBytesDeadline::new(io, HEADER_READ_TIMEOUT);
    let io = h2_guard::ControlFrameGuard::new(io, per_second, flood_counter);
    let conn = Arc::new(Conn {
        activity: activity.clone(),
        pending: ByteBudget::new(app.config.max_pending_response_bytes_per_connection),
        conflicting_framing: io.conflict_flag(),
    });
    let limits = IdleLimits {
        first_request: Duration::from_millis(app.config.first_request_timeout_ms),
        idle: Duration::from_millis(app.config.idle_timeout_ms),
    };
    let metrics = app.metrics.clone();
    tokio::spawn(async move {
        let service = service_fn(move |req| {
            let busy = conn.activity.begin();
            // Routed before the future is made, so the future never holds the request
            // head: only a fetch's few fields (`FetchCall`) or a finished response.
            let handled = app.handle(req, &conn);
            let app = app.clone();
            let conn = conn.clone();
            // Boxed: hyper's HTTP/1 dispatcher allocates room for the service future with
            // every connection, busy or not; boxed, that room is a pointer and the handler's
            // state is allocated only while a request is in flight (issue 13).
            Box::pin(async move {
                let response = match handled {
                    Handled::Now(response) => response,
                    Handled::Fetch(call) => App::fetch(call).await,
                };
                let response = app.charge(response, &conn);
                drop(busy);
                Ok::<_, Infallible>(response)
            })
        });
        let connection = builder.serve_connection(TokioIo::new(io), service);
        tokio::select! {
            ended = watcher.watch(connection.into_owned()) => {
                // hyper answers an oversized head with `431` itself, before any handler
                // runs; the connection's error is the only place to count it.
                if ended.is_err_and(|e| head_too_large(e.as_ref())) {
                    metrics
                        .connections_closed
                        .with_label_values(&["request_head_too_large"])
                        .inc();
                }
            }
            reason = activity.expired(limits) => {
                metrics.connections_closed.with_label_values(&[reason]).inc();
            }
        }
        drop(slot);
    });
}

/// True when hyper ended a connection over a request head larger than
/// `server.max_request_head_bytes` (it has answered `431`).
fn head_too_large(error: &(dyn std::error::Error + 'static)) -> bool {
    error
        .downcast_ref::<hyper::Error>()
        .is_some_and(hyper::Error::is_parse_too_large)
}

/// Serves until `shutdown` resolves, then stops accepting and gives in-flight requests
/// `shutdown_grace_ms` to finish.
pub async fn serve(app: Arc<App>, listeners: Listeners, shutdown: impl Future<Output = ()>) {
    let builder = Arc::new(builder(&app.config));
    let graceful = GracefulShutdown::new();
    let slots = slots::Slots::new(app.config.max_connections);
    let grace = Duration::from_millis(app.config.shutdown_grace_ms);
    tokio::pin!(shutdown);
    let Listeners { tcp, unix } = listeners;
    loop {
        // Accept first, then find a slot (evicting the idlest connection if all are taken):
        // a full server still takes in the next client instead of leaving it in the backlog.
        let accepted = tokio::select! {
            accepted = accept_tcp(tcp.as_ref()) => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    Accepted::Tcp(stream)
                }
                Err(_) => continue,
            },
            accepted = accept_unix(unix.as_ref()) => match accepted {
                Ok((stream, _)) => Accepted::Unix(stream),
                Err(_) => continue,
            },
            () = &mut shutdown => break,
        };
        let activity = Activity::new();
        let slot = tokio::select! {
            slot = slots.take(&activity) => slot,
            () = &mut shutdown => break,
        };
        let Some(slot) = slot else { break };
        let (app, builder) = (app.clone(), builder.clone());
        match accepted {
            Accepted::Tcp(s) => spawn_connection(s, app, builder, &graceful, activity, slot),
            Accepted::Unix(s) => spawn_connection(s, app, builder, &graceful, activity, slot),
        }
    }
    app.ready.store(false, Ordering::SeqCst);
    drop(tcp);
    drop(unix);
    tracing::info!(
        grace_ms = grace.as_millis() as u64,
        "shutting down: no new connections, finishing in-flight requests"
    );
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace period passed with requests still in flight");
    }
}

enum Accepted {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

async fn accept_tcp(
    listener: Option<&TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

async fn accept_unix(
    listener: Option<&UnixListener>,
) -> std::io::Result<(tokio::net::UnixStream, tokio::net::unix::SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signing_failure_is_a_500_with_its_code_never_a_verdict() {
        let response = refusal_response(&Refused::SigningFailed);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }
}
