//! Egress proxy mode: an HTTP CONNECT proxy in front of the same guarded path as the
//! fetcher, so any HTTPS client (`HTTPS_PROXY=http://caller:token@127.0.0.1:PORT`) gets the
//! same SSRF protection without code changes. See `docs/proxy.md`.
//!
//! Per CONNECT, in order: method (only CONNECT) → caller (`Proxy-Authorization: Basic`) →
//! caller rate → target judged as `https://host:port/` by [`Policy::check_url`] → the
//! caller's role (host allow-list, report-only) → target-host rate → a tunnel slot (per
//! caller and total) → the fetcher's resolver, **every** answer checked by
//! [`Policy::check_addrs`] → TCP to a [`PinnedAddr`] through [`connect::connect_tcp`] → 200
//! → the capped relay ([`relay`]). Each refusal answers with its code in
//! `X-Portcullis-Error`; each CONNECT writes one audit line ([`observe::TunnelRecord`]).
//!
//! [`Policy::check_url`]: crate::policy::Policy::check_url
//! [`Policy::check_addrs`]: crate::policy::Policy::check_addrs

pub mod auth;
pub mod codes;
pub mod limits;
pub mod observe;
pub mod relay;
pub mod target;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

use crate::config::{ProxyCallerConfig, ProxyConfig};
use crate::fetch::connect::{self, TcpConnectError};
use crate::fetch::{AddressTrace, CONNECT_GUARD_REFUSED, Fetcher, codes as fetch_codes};
use crate::policy::{PinnedAddr, TargetHost};
use crate::problem::{Code, Problem};
use crate::server::auth::Callers;
use crate::telemetry::Telemetry;
use limits::{TunnelAdmission, TunnelSlot};
use observe::{ProxyMetrics, TunnelRecord, millis, unix_ms};
use relay::RelayCaps;

/// Response header carrying the refusal code (smokescreen's is `X-Smokescreen-Error`).
pub const ERROR_HEADER: &str = "x-portcullis-error";

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyStartError {
    /// Without callers the proxy is unauthenticated, so it only listens on loopback.
    #[error(
        "refusing to run the proxy on non-loopback {0} without [[server.callers]]: configure callers or listen on loopback"
    )]
    OpenOnNonLoopback(SocketAddr),
    /// Binding failed.
    #[error("cannot listen on {addr} (proxy): {why}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        why: String,
    },
    /// Metrics could not be registered.
    #[error("proxy metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// Binds `[proxy] listen` when set; refuses a non-loopback address when no callers exist.
pub async fn bind(
    config: &ProxyConfig,
    open: bool,
) -> Result<Option<TcpListener>, ProxyStartError> {
    let Some(addr) = config.listen else {
        return Ok(None);
    };
    if open && !addr.ip().is_loopback() {
        return Err(ProxyStartError::OpenOnNonLoopback(addr));
    }
    TcpListener::bind(addr)
        .await
        .map(Some)
        .map_err(|e| ProxyStartError::Bind {
            addr,
            why: e.to_string(),
        })
}

/// The proxy: the fetcher's policy and resolver, callers, caps, admission and telemetry.
pub struct Proxy {
    fetcher: Fetcher,
    callers: Callers,
    config: ProxyConfig,
    admission: TunnelAdmission,
    metrics: ProxyMetrics,
    telemetry: Arc<Telemetry>,
    connect_guard: Option<fn(IpAddr) -> bool>,
}

type Body = Full<Bytes>;

/// A refusal: the code decides the status and header; every problem goes in the body.
struct Refusal {
    problems: Vec<Problem>,
}

impl Refusal {
    fn code(&self) -> Code {
        self.problems
            .first()
            .map(|p| p.code)
            .unwrap_or(codes::PROXY_BAD_TARGET)
    }
}

impl From<Problem> for Refusal {
    fn from(p: Problem) -> Self {
        Refusal { problems: vec![p] }
    }
}

impl From<Vec<Problem>> for Refusal {
    fn from(problems: Vec<Problem>) -> Self {
        Refusal { problems }
    }
}

fn refusal(code: Code, detail: &str) -> Refusal {
    Refusal::from(Problem::error(code, detail.to_owned()))
}

fn refusal_response(r: &Refusal) -> Response<Body> {
    let code = r.code();
    let status = codes::status_for(code);
    let first = r.problems.first().map(|p| p.detail.as_str()).unwrap_or("");
    let body = json!({ "error": code.as_str(), "detail": first, "problems": r.problems });
    let mut response = Response::new(Full::new(Bytes::from(
        serde_json::to_vec(&body).unwrap_or_default(),
    )));
    *response.status_mut() = status;
    // The code is also the reason phrase (`HTTP/1.1 403 cloud_metadata`): many clients log
    // only the CONNECT status line ("Tunnel connection failed: 403 cloud_metadata").
    if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(code.as_str().as_bytes()) {
        response.extensions_mut().insert(reason);
    }
    let headers = response.headers_mut();
    headers.insert(ERROR_HEADER, HeaderValue::from_static(code.as_str()));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if status == StatusCode::PROXY_AUTHENTICATION_REQUIRED {
        headers.insert(
            header::PROXY_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"portcullis\""),
        );
    }
    response
}

/// A checked, connected target, ready to tunnel.
struct Established {
    stream: TcpStream,
    slot: TunnelSlot,
}

impl Proxy {
    /// Assembles the proxy; its metrics join `telemetry`'s registry, its audit lines the
    /// same sink as the API's.
    pub fn new(
        fetcher: Fetcher,
        callers: Callers,
        config: ProxyConfig,
        telemetry: Arc<Telemetry>,
    ) -> Result<Proxy, ProxyStartError> {
        let metrics = ProxyMetrics::register(telemetry.registry())?;
        Ok(Proxy {
            fetcher,
            callers,
            admission: TunnelAdmission::new(&config),
            config,
            metrics,
            telemetry,
            connect_guard: None,
        })
    }

    /// The second lock, as in [`Fetcher::restrict_connections`]: addresses for which `allow`
    /// is false are never connected to, whatever the policy said (tests, load lab).
    pub fn restrict_connections(mut self, allow: fn(IpAddr) -> bool) -> Proxy {
        self.connect_guard = Some(allow);
        self
    }

    /// Tunnels open now.
    pub fn open_tunnels(&self) -> usize {
        self.admission.open_tunnels()
    }

    fn caps(&self) -> RelayCaps {
        RelayCaps {
            idle: Duration::from_millis(self.config.idle_timeout_ms),
            lifetime: Duration::from_millis(self.config.max_lifetime_ms),
            max_up: self.config.max_bytes_up,
            max_down: self.config.max_bytes_down,
        }
    }

    /// Answers one request on the proxy port.
    pub async fn handle(
        self: Arc<Self>,
        mut request: Request<Incoming>,
        client: SocketAddr,
    ) -> Response<Body> {
        let started = Instant::now();
        let mut record = TunnelRecord {
            event: "proxy_tunnel",
            client: client.to_string(),
            host: request
                .uri()
                .authority()
                .map_or_else(|| request.uri().to_string(), |a| a.host().to_owned()),
            port: request.uri().port_u16(),
            ..TunnelRecord::default()
        };
        match self.establish(&request, &mut record).await {
            Err(r) => {
                let response = refusal_response(&r);
                let code = r.code();
                self.metrics.refused(code);
                record.status = response.status().as_u16();
                record.error = Some(code.as_str());
                record
                    .problems
                    .extend(r.problems.iter().map(|p| p.code.as_str()));
                record.setup_ms = millis(started.elapsed());
                record.time_unix_ms = unix_ms();
                self.telemetry.audit(move || record);
                response
            }
            Ok(established) => {
                let setup = started.elapsed();
                self.metrics.opened(setup);
                record.status = 200;
                record.setup_ms = millis(setup);
                let upgrade = hyper::upgrade::on(&mut request);
                let proxy = self.clone();
                tokio::spawn(async move {
                    let Established { stream, slot } = established;
                    let opened = Instant::now();
                    let report = match upgrade.await {
                        Ok(upgraded) => {
                            relay::relay(TokioIo::new(upgraded), stream, proxy.caps()).await
                        }
                        Err(_) => relay::RelayReport {
                            bytes_up: 0,
                            bytes_down: 0,
                            end: relay::TunnelEnd::IoError,
                        },
                    };
                    drop(slot);
                    let lifetime = opened.elapsed();
                    proxy.metrics.closed(&report, lifetime);
                    record.bytes_up = report.bytes_up;
                    record.bytes_down = report.bytes_down;
                    record.duration_ms = millis(lifetime);
                    record.ended = Some(report.end.as_str());
                    record.time_unix_ms = unix_ms();
                    proxy.telemetry.audit(move || record);
                });
                Response::new(Full::new(Bytes::new()))
            }
        }
    }

    /// Everything before the 200: the checks in the module documentation, in order.
    async fn establish(
        &self,
        request: &Request<Incoming>,
        record: &mut TunnelRecord,
    ) -> Result<Established, Refusal> {
        if request.method() != Method::CONNECT {
            return Err(refusal(
                codes::PROXY_METHOD_NOT_ALLOWED,
                "only CONNECT host:port is proxied; plain-HTTP proxying is not offered",
            ));
        }
        let authorization = request
            .headers()
            .get(header::PROXY_AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        let caller = auth::authenticate(&self.callers, authorization).map_err(|code| {
            refusal(
                code,
                "send Proxy-Authorization: Basic base64(caller:token), e.g. HTTPS_PROXY=http://caller:token@host:port",
            )
        })?;
        record.caller = Some(caller.clone());
        self.admission
            .admit_caller(&caller)
            .map_err(|code| refusal(code, "too many CONNECT requests from this caller"))?;

        let url = target::judge_target(self.fetcher.policy(), request.uri())?;
        let host = target::host_text(&url);
        record.host.clone_from(&host);
        record.port = Some(url.port());

        let role = target::role_of(&self.config.callers, &caller);
        let report_only = role.is_some_and(|r| r.report_only);
        record.report_only = report_only;
        if let Some(ProxyCallerConfig { allow_hosts, .. }) = role
            && !target::host_allowed(allow_hosts, &host)
        {
            if report_only {
                self.report(record, codes::PROXY_HOST_NOT_ALLOWED_FOR_CALLER);
            } else {
                return Err(refusal(
                    codes::PROXY_HOST_NOT_ALLOWED_FOR_CALLER,
                    &format!("caller {caller} may not reach {host}"),
                ));
            }
        }
        self.admission
            .admit_host(&host)
            .map_err(|code| refusal(code, "too many tunnels to this host"))?;
        let slot = self
            .admission
            .open_slot(&caller)
            .map_err(|code| refusal(code, "too many open tunnels"))?;

        let pins = self.pins(url.host(), report_only, record).await?;
        if let Some(allow) = self.connect_guard
            && let Some(p) = pins.iter().find(|p| !allow(p.ip()))
        {
            return Err(refusal(
                CONNECT_GUARD_REFUSED,
                &format!("connection guard refused {}", p.ip()),
            ));
        }
        let deadline = Instant::now() + Duration::from_millis(self.config.connect_timeout_ms);
        let (stream, peer) = match connect::connect_tcp(&pins, url.port(), deadline).await {
            Ok(ok) => ok,
            Err(TcpConnectError::TimedOut) => {
                return Err(refusal(
                    fetch_codes::CONNECT_TIMEOUT,
                    "tcp connect timed out",
                ));
            }
            Err(TcpConnectError::Refused(p)) => return Err(p.into()),
        };
        let _ = stream.set_nodelay(true);
        record.connected = Some(peer.to_string());
        Ok(Established { stream, slot })
    }

    fn report(&self, record: &mut TunnelRecord, code: Code) {
        self.metrics.reported(code);
        record.problems.push(code.as_str());
    }

    /// The addresses the tunnel may use: an allowed IP literal, or every DNS answer checked
    /// (for a report-only caller, blocks below the floor are logged and lifted).
    async fn pins(
        &self,
        host: &TargetHost,
        report_only: bool,
        record: &mut TunnelRecord,
    ) -> Result<Vec<PinnedAddr>, Refusal> {
        let name = match host {
            TargetHost::Ip(pinned) => {
                record.addresses = vec![AddressTrace::from(
                    &self.fetcher.policy().classify(pinned.ip()),
                )];
                return Ok(vec![*pinned]);
            }
            TargetHost::Domain(name) => name,
        };
        let (decisions, outcome) = self.fetcher.resolve_checked(name).await?;
        record.addresses = decisions.iter().map(AddressTrace::from).collect();
        let problems = match outcome {
            Ok(pins) => return Ok(pins),
            Err(problems) => problems,
        };
        if !report_only {
            return Err(problems.into());
        }
        let policy = self.fetcher.policy();
        let lifted: Option<Vec<PinnedAddr>> = decisions
            .iter()
            .map(|d| policy.pin_report_only(d.ip))
            .collect();
        match lifted {
            Some(mut pins) if !pins.is_empty() => {
                for p in &problems {
                    self.report(record, p.code);
                }
                pins.dedup();
                Ok(pins)
            }
            _ => Err(problems.into()),
        }
    }
}

/// Accepts proxy clients until `shutdown` resolves, at most `max_connections` at once
/// before they become tunnels (tunnels are capped by `max_tunnels`); each connection is
/// HTTP/1.1 with a head-read deadline and a head-size cap, upgraded to a tunnel after a 200.
pub async fn serve(proxy: Arc<Proxy>, listener: TcpListener, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let connections = Arc::new(tokio::sync::Semaphore::new(proxy.config.max_connections));
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => return,
            permit = connections.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let (stream, client) = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "proxy accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let header_timeout = Duration::from_millis(proxy.config.header_read_timeout_ms);
            let max_buf = proxy.config.max_header_bytes.max(8 * 1024);
            let handler = proxy.clone();
            let service = service_fn(move |req| {
                let handler = handler.clone();
                async move { Ok::<_, std::convert::Infallible>(handler.handle(req, client).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_buf_size(max_buf)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            let _ = connection.await;
        });
    }
}
