//! A scripted TLS origin on loopback that plays good and hostile web servers: plain JSON,
//! redirects, wrong types and statuses, oversize and lying lengths, compressed bodies, slow
//! drips, stalled and endless headers. It speaks just enough HTTP/1.1 by hand so a test can
//! send exactly the bytes an attacker would; when TLS negotiates `h2` it sends scripted raw
//! HTTP/2 frames instead ([`Route::RawH2`]). It records the local address of every TCP
//! connection it accepts, so a suite can prove nothing reached a blocked address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::sealed::SealedNet;
use super::{TestingError, ensure_loopback};

/// What the origin does for one path.
#[derive(Clone, Debug)]
pub enum Route {
    /// Write these bytes (status line, headers, body) and close.
    Raw(Vec<u8>),
    /// Write `head` at once, then `body` in `chunk`-byte pieces every `delay`.
    Drip {
        /// Status line and headers, with the blank line.
        head: Vec<u8>,
        /// Body bytes.
        body: Vec<u8>,
        /// Bytes per write.
        chunk: usize,
        /// Pause between writes.
        delay: Duration,
    },
    /// Read the request, then send nothing until the client gives up.
    Stall,
    /// Send a status line, then header fields forever (bounded by `max_bytes`).
    EndlessHeaders {
        /// Stop after this many bytes (the test's own bound).
        max_bytes: usize,
    },
    /// HTTP/2 only (TLS negotiated `h2`), keyed `h2:<SNI name>` (see [`Route::h2_key`]):
    /// send `preface` instead of the server's SETTINGS, wait for the client's first HEADERS
    /// frame, send `after_request`, then read and discard until the client goes away.
    RawH2 {
        /// Raw frames sent first (normally one SETTINGS frame).
        preface: Vec<u8>,
        /// Raw frames sent once the request's HEADERS frame arrived.
        after_request: Vec<u8>,
    },
}

impl Route {
    /// The route key of an HTTP/2 script for connections whose SNI is `server_name`.
    pub fn h2_key(server_name: &str) -> String {
        format!("h2:{server_name}")
    }

    /// 200 `application/json` with this body and a correct Content-Length.
    pub fn json(body: impl Into<Vec<u8>>) -> Route {
        Route::response(200, "application/json", &[], body)
    }

    /// Any status, content type and extra headers, with a correct Content-Length.
    pub fn response(
        status: u16,
        content_type: &str,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> Route {
        let body = body.into();
        let mut head = format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        if !content_type.is_empty() {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&body);
        Route::Raw(bytes)
    }

    /// A redirect with this status and Location.
    pub fn redirect(status: u16, location: &str) -> Route {
        Route::response(status, "text/plain", &[("Location", location)], Vec::new())
    }

    /// 200 JSON with a correct Content-Length whose body arrives `chunk` bytes every `delay`:
    /// the slow origin of the deadline, admission and load tests.
    pub fn drip_json(body: impl Into<Vec<u8>>, chunk: usize, delay: Duration) -> Route {
        let body = body.into();
        Route::Drip {
            head: format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes(),
            body,
            chunk,
            delay,
        }
    }

    /// 200 JSON sent chunked (no Content-Length), in one chunk.
    pub fn chunked_json(body: impl Into<Vec<u8>>) -> Route {
        let body = body.into();
        let mut bytes = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
        bytes.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
        bytes.extend_from_slice(&body);
        bytes.extend_from_slice(b"\r\n0\r\n\r\n");
        Route::Raw(bytes)
    }
}

/// One request the origin received: on which local address, for which path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The origin's address the client connected to.
    pub local: SocketAddr,
    /// Request target (path and query).
    pub path: String,
    /// The Host header.
    pub host: String,
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Route>,
    hits: Vec<Hit>,
    connections: usize,
    accepted: Vec<SocketAddr>,
}

/// The running origin; it stops when dropped.
pub struct TestOrigin {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for TestOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Largest request head the origin reads.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

impl TestOrigin {
    /// Binds `ip:port` (loopback only; port 0 picks one) and serves TLS with `tls`.
    pub async fn start(
        ip: IpAddr,
        port: u16,
        tls: Arc<ServerConfig>,
    ) -> Result<TestOrigin, TestingError> {
        ensure_loopback(ip)?;
        let listener = TcpListener::bind(SocketAddr::new(ip, port)).await?;
        TestOrigin::run(listener, tls)
    }

    /// Listens on `port` of *every* address (`[::]`, dual stack; `0.0.0.0` without IPv6),
    /// so any connection to any address in the namespace lands here and is recorded (see
    /// [`TestOrigin::accepted`]). Only possible inside a [`SealedNet`].
    pub async fn start_sealed(
        _sealed: &SealedNet,
        port: u16,
        tls: Arc<ServerConfig>,
    ) -> Result<TestOrigin, TestingError> {
        let listener =
            match TcpListener::bind(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port)).await {
                Ok(l) => l,
                Err(_) => {
                    TcpListener::bind(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port)).await?
                }
            };
        TestOrigin::run(listener, tls)
    }

    fn run(listener: TcpListener, tls: Arc<ServerConfig>) -> Result<TestOrigin, TestingError> {
        TestOrigin::run_with(listener, tls, None)
    }

    /// The accept loop shared by every kind of origin: counts and records each accepted
    /// connection, does TLS, then serves scripted HTTP/1.1, scripted HTTP/2 frames (ALPN
    /// h2), or — with `hyper_h2_body` — a well-behaved hyper HTTP/2 server.
    fn run_with(
        listener: TcpListener,
        tls: Arc<ServerConfig>,
        hyper_h2_body: Option<&'static str>,
    ) -> Result<TestOrigin, TestingError> {
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let acceptor = TlsAcceptor::from(tls);
        let task_state = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let local = unmap(tcp.local_addr().unwrap_or(addr));
                if let Ok(mut s) = task_state.lock() {
                    s.connections += 1;
                    s.accepted.push(local);
                }
                let acceptor = acceptor.clone();
                let state = task_state.clone();
                tokio::spawn(async move {
                    let Ok(Ok(tls)) =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
                    else {
                        return;
                    };
                    let (_, session) = tls.get_ref();
                    if let Some(body) = hyper_h2_body {
                        serve_hyper_h2(tls, local, state, body).await;
                    } else if session.alpn_protocol() == Some(b"h2".as_slice()) {
                        let sni = session.server_name().unwrap_or_default().to_owned();
                        serve_h2(tls, local, sni, state).await;
                    } else {
                        serve(tls, local, state).await;
                    }
                });
            }
        });
        Ok(TestOrigin { addr, state, task })
    }

    /// An HTTP/2-only origin (ALPN `h2`, served by hyper) answering every path with `body`
    /// as `application/json`: proves the fetcher's h2 path end to end.
    pub async fn start_h2(
        ip: IpAddr,
        port: u16,
        tls: Arc<ServerConfig>,
        body: &'static str,
    ) -> Result<TestOrigin, TestingError> {
        ensure_loopback(ip)?;
        let listener = TcpListener::bind(SocketAddr::new(ip, port)).await?;
        TestOrigin::run_with(listener, tls, Some(body))
    }

    /// Where the origin listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets the route for a path (with query, exactly as requested).
    pub fn route(&self, path: &str, route: Route) {
        if let Ok(mut s) = self.state.lock() {
            s.routes.insert(path.to_owned(), route);
        }
    }

    /// Every request received so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.state
            .lock()
            .map(|s| s.hits.clone())
            .unwrap_or_default()
    }

    /// Requests received for one path.
    pub fn hits_for(&self, path: &str) -> usize {
        self.hits().iter().filter(|h| h.path == path).count()
    }

    /// TCP connections accepted (even those that never finished TLS).
    pub fn connections(&self) -> usize {
        self.state.lock().map(|s| s.connections).unwrap_or(0)
    }

    /// The local address of every TCP connection accepted so far (even those that never
    /// finished TLS), IPv4-mapped addresses shown as IPv4.
    pub fn accepted(&self) -> Vec<SocketAddr> {
        self.state
            .lock()
            .map(|s| s.accepted.clone())
            .unwrap_or_default()
    }
}

fn unmap(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

/// An empty SETTINGS frame: the server preface when a route gives none.
const H2_EMPTY_SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];
/// GOAWAY(last stream 0, NO_ERROR): the answer when no script matches.
const H2_GOAWAY: &[u8] = &[0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
/// The client connection preface.
const H2_CLIENT_PREFACE_LEN: usize = 24;

/// True once `buf` holds the client preface and a complete-header HEADERS frame (type 1).
fn h2_request_seen(buf: &[u8]) -> bool {
    let mut pos = H2_CLIENT_PREFACE_LEN;
    while let Some(header) = buf.get(pos..pos + 9) {
        let len =
            (usize::from(header[0]) << 16) | (usize::from(header[1]) << 8) | usize::from(header[2]);
        if header[3] == 1 {
            return true;
        }
        pos += 9 + len;
    }
    false
}

async fn serve_h2<S>(stream: S, local: SocketAddr, sni: String, state: Arc<Mutex<State>>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let script = state
        .lock()
        .ok()
        .and_then(|s| s.routes.get(&Route::h2_key(&sni)).cloned());
    let (preface, after_request) = match script {
        Some(Route::RawH2 {
            preface,
            after_request,
        }) => (preface, after_request),
        _ => (H2_EMPTY_SETTINGS.to_vec(), H2_GOAWAY.to_vec()),
    };
    let (mut reader, mut writer) = tokio::io::split(stream);
    if writer.write_all(&preface).await.is_err() || writer.flush().await.is_err() {
        return;
    }
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !h2_request_seen(&seen) {
        if seen.len() > MAX_REQUEST_HEAD {
            return;
        }
        match tokio::time::timeout(Duration::from_secs(10), reader.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buf[..n]),
            _ => return,
        }
    }
    if let Ok(mut s) = state.lock() {
        s.hits.push(Hit {
            local,
            path: "h2".to_owned(),
            host: sni,
        });
    }
    // Keep reading while writing, so the client's own frames never block it.
    let drain = async {
        loop {
            match reader.read(&mut buf).await {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
    };
    let write = async {
        let _ = writer.write_all(&after_request).await;
        let _ = writer.flush().await;
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(drain, write);
    })
    .await;
    let _ = writer.shutdown().await;
}

/// A plain hyper HTTP/2 server answering every request with `body` as JSON.
async fn serve_hyper_h2<S>(
    stream: S,
    local: SocketAddr,
    state: Arc<Mutex<State>>,
    body: &'static str,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let state = state.clone();
        async move {
            if let Ok(mut s) = state.lock() {
                s.hits.push(Hit {
                    local,
                    path: req.uri().path().to_owned(),
                    host: req
                        .uri()
                        .authority()
                        .map(|a| a.to_string())
                        .unwrap_or_default(),
                });
            }
            let mut response = http::Response::new(http_body_util::Full::new(
                bytes::Bytes::from_static(body.as_bytes()),
            ));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let _ = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
        .await;
}

async fn serve<S>(mut stream: S, local: SocketAddr, state: Arc<Mutex<State>>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_REQUEST_HEAD {
            return;
        }
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head);
    let path = text
        .lines()
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .unwrap_or("/")
        .to_owned();
    let host = text
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("host")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    let route = {
        let Ok(mut s) = state.lock() else { return };
        s.hits.push(Hit {
            local,
            path: path.clone(),
            host,
        });
        // Exact path and query first, then the path alone (so load tests can vary queries).
        s.routes
            .get(&path)
            .or_else(|| {
                path.split_once('?')
                    .and_then(|(bare, _)| s.routes.get(bare))
            })
            .cloned()
    };
    let route =
        route.unwrap_or_else(|| Route::response(404, "text/plain", &[], b"not found".to_vec()));
    match route {
        Route::Raw(bytes) => {
            let _ = stream.write_all(&bytes).await;
        }
        Route::Drip {
            head,
            body,
            chunk,
            delay,
        } => {
            if stream.write_all(&head).await.is_err() {
                return;
            }
            for piece in body.chunks(chunk.max(1)) {
                if stream.write_all(piece).await.is_err() || stream.flush().await.is_err() {
                    return;
                }
                tokio::time::sleep(delay).await;
            }
        }
        Route::Stall => {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Route::RawH2 { .. } => {
            let _ = stream
                .write_all(b"HTTP/1.1 505 X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
        }
        Route::EndlessHeaders { max_bytes } => {
            if stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
                .await
                .is_err()
            {
                return;
            }
            let mut sent = 0;
            let mut i = 0u64;
            while sent < max_bytes {
                let line = format!("X-Filler-{i}: {}\r\n", "a".repeat(100));
                if stream.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
                sent += line.len();
                i += 1;
            }
        }
    }
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
}
