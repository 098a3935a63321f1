//! The local HTTP API (hyper 1.x, HTTP/1.1 and h2c): routes, caller authentication, body
//! caps and deadlines, error mapping, and graceful shutdown. It holds no policy of its own:
//! every decision is the service's.

pub mod auth;
pub mod first_bytes;
pub mod request;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::Semaphore;

use crate::config::ServerConfig;
use crate::service::Service;
use crate::service::limits::Refusal;
use auth::Callers;

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

type Body = Full<Bytes>;

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes_response(status, "application/json", Bytes::from(bytes))
}

fn bytes_response(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Full::new(body));
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

/// A request answered with an error instead of a verdict.
struct Refused {
    status: StatusCode,
    code: String,
    detail: String,
    retry_after: Option<Duration>,
}

impl Refused {
    fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Refused {
        Refused {
            status,
            code: code.to_owned(),
            detail: detail.into(),
            retry_after: None,
        }
    }

    fn into_response(self) -> Response<Body> {
        let mut response = error_response(self.status, &self.code, &self.detail);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        if let Some(after) = self.retry_after
            && let Ok(value) = header::HeaderValue::from_str(&after.as_secs().max(1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<Refusal> for Refused {
    fn from(refusal: Refusal) -> Refused {
        let status = if refusal.code == crate::service::limits::OVERLOADED {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        Refused {
            status,
            code: refusal.code.as_str().to_owned(),
            detail: "limit reached; retry later".to_owned(),
            retry_after: Some(refusal.retry_after),
        }
    }
}

/// Shared state of the running server.
pub struct App {
    service: Arc<Service>,
    callers: Callers,
    config: ServerConfig,
    ready: AtomicBool,
}

impl App {
    /// Wires the service to the server config.
    pub fn new(service: Arc<Service>, config: ServerConfig) -> App {
        App {
            callers: Callers::from_config(&config.callers),
            service,
            config,
            ready: AtomicBool::new(true),
        }
    }

    async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        let path = request.uri().path().to_owned();
        match (request.method(), path.as_str()) {
            (&Method::POST, "/v1/fetch") => self.fetch(request).await,
            (&Method::GET, "/v1/keys") => bytes_response(
                StatusCode::OK,
                "application/jwk-set+json",
                self.service.jwks_json(),
            ),
            (&Method::GET, "/metrics") => bytes_response(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                Bytes::from(self.service.metrics_text()),
            ),
            (&Method::GET, "/healthz") => json_response(StatusCode::OK, &json!({"status": "ok"})),
            (&Method::GET, "/readyz") => {
                if self.ready.load(Ordering::SeqCst) {
                    json_response(StatusCode::OK, &json!({"status": "ready"}))
                } else {
                    json_response(
                        StatusCode::SERVICE_UNAVAILABLE,
                        &json!({"status": "shutting_down"}),
                    )
                }
            }
            (_, "/v1/fetch" | "/v1/keys" | "/metrics" | "/healthz" | "/readyz") => error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed",
            ),
            _ => error_response(StatusCode::NOT_FOUND, "not_found", "no such route"),
        }
    }

    /// `POST /v1/fetch`: a verdict, or a refusal that is answered and audited in one place.
    async fn fetch(&self, request: Request<Incoming>) -> Response<Body> {
        let mut caller = None;
        match self.fetch_verdict(request, &mut caller).await {
            Ok(reply) => bytes_response(StatusCode::OK, "application/json", reply),
            Err(refused) => {
                self.service.audit_refusal(
                    caller.as_deref(),
                    refused.status.as_u16(),
                    &refused.code,
                );
                refused.into_response()
            }
        }
    }

    async fn fetch_verdict(
        &self,
        request: Request<Incoming>,
        caller_out: &mut Option<String>,
    ) -> Result<Bytes, Refused> {
        let authorization = request
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes().to_vec());
        let caller = self
            .callers
            .authenticate(authorization.as_deref())
            .map_err(|e| Refused::new(StatusCode::UNAUTHORIZED, e.code(), e.to_string()))?;
        *caller_out = Some(caller.clone());
        self.service
            .admit_caller(&caller)
            .await
            .map_err(Refused::from)?;
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(crate::fetch::media::is_json_media_type);
        if !is_json {
            return Err(Refused::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the request as application/json",
            ));
        }
        let max = self.config.max_request_bytes;
        let too_large = || {
            Refused::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_too_large",
                format!("request body is limited to {max} bytes"),
            )
        };
        let announced = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if announced.is_some_and(|len| len > max) {
            return Err(too_large());
        }
        let deadline = Duration::from_millis(self.config.request_read_timeout_ms);
        let body = Limited::new(request.into_body(), max);
        let bytes = match tokio::time::timeout(deadline, body.collect()).await {
            Err(_) => {
                return Err(Refused::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    "request body did not arrive in time",
                ));
            }
            Ok(Err(e))
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                return Err(too_large());
            }
            Ok(Err(_)) => {
                return Err(Refused::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "cannot read request body",
                ));
            }
            Ok(Ok(collected)) => collected.to_bytes(),
        };
        let parsed = request::parse_fetch_request(&bytes)
            .map_err(|e| Refused::new(StatusCode::BAD_REQUEST, e.code, e.detail))?;
        self.service
            .verdict(&caller, parsed)
            .await
            .map_err(Refused::from)
    }
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

fn builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(64 * 1024)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(64)
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
    permit: tokio::sync::OwnedSemaphorePermit,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let watcher = graceful.watcher();
    tokio::spawn(async move {
        let service = service_fn(move |req| {
            let app = app.clone();
            async move { Ok::<_, Infallible>(app.handle(req).await) }
        });
        let io = first_bytes::FirstBytesDeadline::new(io, HEADER_READ_TIMEOUT);
        let connection = builder.serve_connection(TokioIo::new(io), service);
        let _ = watcher.watch(connection.into_owned()).await;
        drop(permit);
    });
}

/// Serves until `shutdown` resolves, then stops accepting and gives in-flight requests
/// `shutdown_grace_ms` to finish.
pub async fn serve(app: Arc<App>, listeners: Listeners, shutdown: impl Future<Output = ()>) {
    let builder = Arc::new(builder());
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(app.config.max_connections.max(1)));
    let grace = Duration::from_millis(app.config.shutdown_grace_ms);
    tokio::pin!(shutdown);
    let Listeners { tcp, unix } = listeners;
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        tokio::select! {
            accepted = accept_tcp(tcp.as_ref()) => {
                if let Ok((stream, _)) = accepted {
                    let _ = stream.set_nodelay(true);
                    spawn_connection(stream, app.clone(), builder.clone(), &graceful, permit);
                }
            }
            accepted = accept_unix(unix.as_ref()) => {
                if let Ok((stream, _)) = accepted {
                    spawn_connection(stream, app.clone(), builder.clone(), &graceful, permit);
                }
            }
            () = &mut shutdown => break,
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
