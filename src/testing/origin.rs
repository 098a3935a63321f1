//! A scripted TLS origin on loopback that plays good and hostile web servers: plain JSON,
//! redirects, wrong types and statuses, oversize and lying lengths, compressed bodies, slow
//! drips, stalled and endless headers. It speaks just enough HTTP/1.1 by hand so a test can
//! send exactly the bytes an attacker would.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

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
}

impl Route {
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
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let acceptor = TlsAcceptor::from(tls);
        let task_state = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                if let Ok(mut s) = task_state.lock() {
                    s.connections += 1;
                }
                let acceptor = acceptor.clone();
                let state = task_state.clone();
                tokio::spawn(async move {
                    let local = tcp.local_addr().unwrap_or(addr);
                    let Ok(Ok(tls)) =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
                    else {
                        return;
                    };
                    serve(tls, local, state).await;
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
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let acceptor = TlsAcceptor::from(tls);
        let task_state = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                if let Ok(mut s) = task_state.lock() {
                    s.connections += 1;
                }
                let acceptor = acceptor.clone();
                let state = task_state.clone();
                tokio::spawn(async move {
                    let local = tcp.local_addr().unwrap_or(addr);
                    let Ok(Ok(tls)) =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
                    else {
                        return;
                    };
                    let service = hyper::service::service_fn(
                        move |req: http::Request<hyper::body::Incoming>| {
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
                        },
                    );
                    let _ = hyper::server::conn::http2::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
                });
            }
        });
        Ok(TestOrigin { addr, state, task })
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
