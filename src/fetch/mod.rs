//! The guarded fetch: for each hop, URL rules → resolve → check every answer → pinned
//! connect → TLS → one capped GET, following redirects only through the same gate.
//!
//! This is the only place that opens outbound connections, and it can only connect to a
//! [`PinnedAddr`](crate::policy::PinnedAddr) that the policy produced.

pub mod codes;
pub mod connect;
pub mod exchange;
pub mod head;
pub mod media;
pub mod phase;
pub mod resolver;
pub mod self_addrs;
pub mod tls;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use serde::Serialize;

use crate::config::LimitsConfig;
use crate::facts::{FetchFacts, RedirectHop};
use crate::policy::{AddrDecision, Decision, PinnedAddr, Policy, SafeUrl, TargetHost};
use crate::problem::Problem;
use connect::ConnectBudget;
use exchange::ExchangeLimits;
use head::HeadDecision;
use media::CacheHints;
use phase::Phase;
use resolver::{Resolve, ResolveError};

/// Time caps of one fetch, from `[limits]`.
#[derive(Clone, Copy, Debug)]
pub struct FetchLimits {
    /// Whole fetch.
    pub total: Duration,
    /// DNS, per hop.
    pub resolve: Duration,
    /// TCP connect, per hop.
    pub connect: Duration,
    /// TLS handshake, per hop.
    pub tls: Duration,
    /// Request → response head.
    pub first_byte: Duration,
    /// Head → body complete.
    pub body: Duration,
    /// Redirects followed.
    pub max_redirects: usize,
    /// Response head bytes.
    pub max_header_bytes: usize,
    /// Response header fields.
    pub max_headers: usize,
}

impl From<&LimitsConfig> for FetchLimits {
    fn from(l: &LimitsConfig) -> Self {
        FetchLimits {
            total: LimitsConfig::ms(l.total_timeout_ms),
            resolve: LimitsConfig::ms(l.resolve_timeout_ms),
            connect: LimitsConfig::ms(l.connect_timeout_ms),
            tls: LimitsConfig::ms(l.tls_timeout_ms),
            first_byte: LimitsConfig::ms(l.first_byte_timeout_ms),
            body: LimitsConfig::ms(l.body_timeout_ms),
            max_redirects: l.max_redirects,
            max_header_bytes: l.max_header_bytes,
            max_headers: l.max_headers,
        }
    }
}

/// What to fetch and under which per-kind rules.
#[derive(Clone, Debug)]
pub struct FetchRequest {
    /// The untrusted URL, as the caller sent it.
    pub url: String,
    /// Body cap for this kind.
    pub max_body_bytes: u64,
    /// Whether redirects may be followed (never for CIMD).
    pub follow_redirects: bool,
}

/// How the fetch ended, before any document validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FetchStatus {
    /// A 200 JSON body was read within every cap.
    Fetched,
    /// Policy refused a URL or address before any byte went to that target.
    Blocked,
    /// DNS, connect, TLS, HTTP, timeout, status or a cap stopped it.
    Unreachable,
}

/// One address answer and what the policy said of it (for audit records and `explain`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AddressTrace {
    /// The address.
    pub ip: String,
    /// `allow` or `block`.
    pub decision: &'static str,
    /// The reason code when blocked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
}

impl From<&AddrDecision> for AddressTrace {
    fn from(d: &AddrDecision) -> Self {
        match d.decision {
            Decision::Allow => AddressTrace {
                ip: d.ip.to_string(),
                decision: "allow",
                code: None,
            },
            Decision::Block(reason) => AddressTrace {
                ip: d.ip.to_string(),
                decision: "block",
                code: Some(reason.code().as_str()),
            },
        }
    }
}

/// What happened on one hop.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HopTrace {
    /// URL of the hop.
    pub url: String,
    /// Every resolved (or literal) address with its decision.
    pub addresses: Vec<AddressTrace>,
    /// The address connected to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected: Option<String>,
    /// HTTP status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

/// Time spent per phase, summed over hops (for the phase histogram).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhaseTimings {
    /// DNS.
    pub resolve: Duration,
    /// TCP connect.
    pub connect: Duration,
    /// TLS handshake.
    pub tls: Duration,
    /// Request → head.
    pub first_byte: Duration,
    /// Body.
    pub body: Duration,
    /// Whole fetch.
    pub total: Duration,
}

/// Everything a fetch produced.
#[derive(Clone, Debug)]
pub struct FetchReport {
    /// How it ended.
    pub status: FetchStatus,
    /// Why, when not fetched.
    pub problems: Vec<Problem>,
    /// Facts for the verdict.
    pub facts: FetchFacts,
    /// The body, when fetched.
    pub body: Option<Bytes>,
    /// Caching hints of the final response.
    pub cache: CacheHints,
    /// Per-hop trace for the audit record.
    pub hops: Vec<HopTrace>,
    /// Per-phase durations.
    pub timings: PhaseTimings,
}

/// Asked before every hop of a fetch, before its DNS query and connection: lets the service
/// apply limits that depend on the hop's host (the per-target-host rate applies to redirect
/// targets too) without the fetcher knowing anything about callers or rates.
pub trait HopGate: Send + Sync {
    /// `hop` is 0 for the URL asked for, 1 for the first redirect target, and so on; `host`
    /// is the hop's host (a domain name, or an IP address as text). An error ends the fetch
    /// as `Unreachable` with that problem, before anything is sent for that hop.
    fn admit_hop(&self, hop: usize, host: &str) -> Result<(), Problem>;
}

/// The fetcher: policy, resolver and TLS configuration, shared across fetches.
#[derive(Clone)]
pub struct Fetcher {
    policy: Arc<Policy>,
    resolver: Arc<dyn Resolve>,
    tls: Arc<ClientConfig>,
    limits: FetchLimits,
    connect_guard: Option<fn(std::net::IpAddr) -> bool>,
    hop_gate: Option<Arc<dyn HopGate>>,
    self_addrs: Option<Arc<self_addrs::LiveSelfAddrs>>,
}

/// Problem code when the connection guard refuses an address the policy allowed: a
/// policy regression caught by the second lock (tests and the demo use loopback only).
pub const CONNECT_GUARD_REFUSED: crate::problem::Code =
    crate::problem::Code::new("connect_guard_refused");

struct Run {
    report: FetchReport,
    started: Instant,
}

impl Run {
    fn finish(mut self, status: FetchStatus, problems: Vec<Problem>) -> FetchReport {
        self.report.status = status;
        self.report.problems = problems;
        let elapsed = self.started.elapsed();
        self.report.timings.total = elapsed;
        self.report.facts.elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        self.report
    }

    fn hop(&mut self) -> &mut HopTrace {
        if self.report.hops.is_empty() {
            self.report.hops.push(HopTrace::default());
        }
        let last = self.report.hops.len() - 1;
        &mut self.report.hops[last]
    }
}

fn resolve_problem(e: &ResolveError, host: &str) -> Problem {
    match e {
        ResolveError::NxDomain => {
            Problem::error(codes::DNS_NXDOMAIN, format!("{host} does not exist"))
        }
        ResolveError::NoAddresses => Problem::error(
            codes::DNS_NO_ADDRESSES,
            format!("{host} has no A or AAAA records"),
        ),
        ResolveError::Failed(why) => {
            Problem::error(codes::DNS_FAILED, format!("resolving {host} failed: {why}"))
        }
    }
}

impl Fetcher {
    /// Assembles a fetcher from its parts (built at the edge by the CLI or service).
    pub fn new(
        policy: Arc<Policy>,
        resolver: Arc<dyn Resolve>,
        tls: Arc<ClientConfig>,
        limits: FetchLimits,
    ) -> Fetcher {
        Fetcher {
            policy,
            resolver,
            tls,
            limits,
            connect_guard: None,
            hop_gate: None,
            self_addrs: None,
        }
    }

    /// A copy of this fetcher that asks `gate` before every hop (cheap: shared parts are
    /// reference counted). The service makes one per fetch, bound to the calling caller.
    pub fn with_hop_gate(&self, gate: Arc<dyn HopGate>) -> Fetcher {
        let mut gated = self.clone();
        gated.hop_gate = Some(gate);
        gated
    }

    /// Checks every address against the host's own addresses *at connect time*, from a
    /// snapshot at most [`self_addrs::REFRESH_INTERVAL`] old, so an address added after
    /// start-up (a new IPv6 temporary address, a VIP) is refused as `self_address` too. The
    /// policy's start-up set and its exact-host-route exemption still apply.
    pub fn watch_self_addresses(mut self, live: Arc<self_addrs::LiveSelfAddrs>) -> Fetcher {
        self.self_addrs = Some(live);
        self
    }

    /// Adds a second, independent lock in front of every TCP connect: addresses for which
    /// `allow` is false are never connected to, whatever the policy said. The test lab and
    /// the demo pass `testing::loopback_only` so that even a policy bug cannot send a packet
    /// off the machine. It can only narrow what the policy allows.
    pub fn restrict_connections(mut self, allow: fn(std::net::IpAddr) -> bool) -> Fetcher {
        self.connect_guard = Some(allow);
        self
    }

    /// The policy this fetcher enforces.
    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    /// The resolver this fetcher uses (shared with `explain`).
    pub fn resolver(&self) -> &Arc<dyn Resolve> {
        &self.resolver
    }

    /// Resolves a name and classifies every answer, without connecting.
    pub async fn resolve_checked(
        &self,
        host: &str,
    ) -> Result<(Vec<AddrDecision>, Result<Vec<PinnedAddr>, Vec<Problem>>), Problem> {
        let deadline = Instant::now() + self.limits.resolve.min(self.limits.total);
        match tokio::time::timeout_at(deadline.into(), self.resolver.lookup(host)).await {
            Err(_) => Err(Problem::error(
                codes::DNS_TIMEOUT,
                format!("resolving {host} timed out"),
            )),
            Ok(Err(e)) => Err(resolve_problem(&e, host)),
            Ok(Ok(ips)) => {
                let check = self.policy.check_addrs(&ips);
                Ok((check.decisions, check.outcome))
            }
        }
    }

    /// Fetches one URL under every rule. Never panics and never returns an error: every way
    /// a fetch can end is a [`FetchReport`].
    pub async fn fetch(&self, request: &FetchRequest) -> FetchReport {
        self.fetch_from(request, None).await
    }

    /// [`Fetcher::fetch`] of a URL that already passed this fetcher's policy (the service
    /// checked it to find the host to charge), so the URL rules are not run twice. Every
    /// redirect target and every DNS answer is still checked.
    pub async fn fetch_checked(&self, request: &FetchRequest, url: SafeUrl) -> FetchReport {
        self.fetch_from(request, Some(url)).await
    }

    async fn fetch_from(&self, request: &FetchRequest, checked: Option<SafeUrl>) -> FetchReport {
        let fetched_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let started = Instant::now();
        let deadline = started + self.limits.total;
        let mut run = Run {
            report: FetchReport {
                status: FetchStatus::Unreachable,
                problems: Vec::new(),
                facts: FetchFacts {
                    final_url: request.url.clone(),
                    fetched_at,
                    ..FetchFacts::default()
                },
                body: None,
                cache: CacheHints::default(),
                hops: Vec::new(),
                timings: PhaseTimings::default(),
            },
            started,
        };
        let checked = match checked {
            Some(url) => Ok(url),
            None => self.policy.check_url(&request.url),
        };
        let mut current = match checked {
            Ok(url) => url,
            Err(problems) => return run.finish(FetchStatus::Blocked, problems),
        };
        let mut visited: HashSet<String> = HashSet::from([current.as_str().to_owned()]);
        let mut hop: usize = 0;
        loop {
            run.report.facts.final_url = current.as_str().to_owned();
            run.report.hops.push(HopTrace {
                url: current.as_str().to_owned(),
                ..HopTrace::default()
            });
            if let Some(gate) = &self.hop_gate {
                let host = match current.host() {
                    TargetHost::Domain(name) => name.clone(),
                    TargetHost::Ip(ip) => ip.ip().to_string(),
                };
                if let Err(problem) = gate.admit_hop(hop, &host) {
                    return run.finish(FetchStatus::Unreachable, vec![problem]);
                }
            }
            match self.hop(&mut run, &current, request, deadline).await {
                HopEnd::Done(status, problems) => return run.finish(status, problems),
                HopEnd::Redirect(location, status) => {
                    let next = match current.url().join(&location) {
                        Ok(next) => next,
                        Err(e) => {
                            return run.finish(
                                FetchStatus::Unreachable,
                                vec![Problem::error(
                                    codes::REDIRECT_INVALID,
                                    format!(
                                        "redirect Location {location:?} is not a valid URL: {e}"
                                    ),
                                )],
                            );
                        }
                    };
                    run.report.facts.redirects.push(RedirectHop {
                        from: current.as_str().to_owned(),
                        status,
                        to: next.as_str().to_owned(),
                    });
                    if run.report.facts.redirects.len() > self.limits.max_redirects {
                        return run.finish(
                            FetchStatus::Unreachable,
                            vec![Problem::error(
                                codes::TOO_MANY_REDIRECTS,
                                format!("more than {} redirects", self.limits.max_redirects),
                            )],
                        );
                    }
                    if !visited.insert(next.as_str().to_owned()) {
                        return run.finish(
                            FetchStatus::Unreachable,
                            vec![Problem::error(
                                codes::REDIRECT_LOOP,
                                format!("redirect back to {next}, already visited"),
                            )],
                        );
                    }
                    // The facts describe the last hop: a redirect target that is refused
                    // must not appear next to the previous hop's address and status.
                    run.report.facts.final_url = next.as_str().to_owned();
                    run.report.facts.address = None;
                    run.report.facts.status = None;
                    run.report.facts.content_type = None;
                    current = match self.policy.check_url(next.as_str()) {
                        Ok(url) => url,
                        Err(problems) => return run.finish(FetchStatus::Blocked, problems),
                    };
                    hop += 1;
                }
            }
        }
    }

    /// One hop, as a sequence: resolve and check the addresses, re-check them at connect
    /// time, connect (TCP + TLS), send and read the head, judge it, read the body. Each step
    /// either hands the next one its input or ends the hop.
    async fn hop(
        &self,
        run: &mut Run,
        url: &SafeUrl,
        request: &FetchRequest,
        deadline: Instant,
    ) -> HopEnd {
        match self.try_hop(run, url, request, deadline).await {
            Ok(end) | Err(end) => end,
        }
    }

    async fn try_hop(
        &self,
        run: &mut Run,
        url: &SafeUrl,
        request: &FetchRequest,
        deadline: Instant,
    ) -> Result<HopEnd, HopEnd> {
        let (addrs, server_name) = self.addresses(run, url, deadline).await?;
        self.connect_time_checks(&addrs)?;
        let connected = self
            .connect(run, &addrs, url.port(), server_name, deadline)
            .await?;
        let limits = ExchangeLimits {
            first_byte: self.limits.first_byte,
            body: self.limits.body,
            deadline,
            max_header_bytes: self.limits.max_header_bytes,
            max_headers: self.limits.max_headers,
            max_body_bytes: request.max_body_bytes,
        };
        let head = Self::send(run, connected, url, &limits).await?;
        let cache = Self::judge_head(&head, request)?;
        Ok(Self::read_body(run, head, &limits, cache).await)
    }

    /// The pinned addresses and TLS name of the hop: an IP literal as is, a name resolved
    /// (under the dns phase budget) and every answer checked by the policy.
    async fn addresses(
        &self,
        run: &mut Run,
        url: &SafeUrl,
        deadline: Instant,
    ) -> Result<(Vec<PinnedAddr>, ServerName<'static>), HopEnd> {
        let name = match url.host() {
            TargetHost::Ip(pinned) => {
                let decision = self.policy.classify(pinned.ip());
                run.hop().addresses.push(AddressTrace::from(&decision));
                return Ok((vec![*pinned], ServerName::IpAddress(pinned.ip().into())));
            }
            TargetHost::Domain(name) => name,
        };
        let Ok(server_name) = ServerName::try_from(name.clone()) else {
            return Err(blocked(Problem::error(
                codes::TLS_FAILED,
                format!("{name} is not a valid TLS server name"),
            )));
        };
        let started = Instant::now();
        let phase = Phase::start(
            self.limits.resolve,
            deadline,
            codes::DNS_TIMEOUT,
            "dns resolution",
        );
        let answer = phase.run(self.resolver.lookup(name)).await;
        run.report.timings.resolve += started.elapsed();
        let ips = answer
            .map_err(unreachable)?
            .map_err(|e| unreachable(resolve_problem(&e, name)))?;
        let check = self.policy.check_addrs(&ips);
        run.hop().addresses = check.decisions.iter().map(AddressTrace::from).collect();
        match check.outcome {
            Ok(pinned) => Ok((pinned, server_name)),
            Err(problems) => Err(HopEnd::Done(FetchStatus::Blocked, problems)),
        }
    }

    /// Checks made at connect time, after the policy: the host's live own addresses and the
    /// optional connection guard.
    fn connect_time_checks(&self, addrs: &[PinnedAddr]) -> Result<(), HopEnd> {
        if let Some(live) = &self.self_addrs {
            let own = live.current(Instant::now());
            if let Some(own_addr) = addrs
                .iter()
                .find(|a| own.contains(&a.ip()) && !self.policy.self_address_exempt(a.ip()))
            {
                return Err(blocked(Problem::error(
                    crate::policy::SELF_ADDRESS,
                    format!(
                        "address {} is one of this host's own addresses (checked at connect time)",
                        own_addr.ip()
                    ),
                )));
            }
        }
        if let Some(allow) = self.connect_guard
            && let Some(refused) = addrs.iter().find(|a| !allow(a.ip()))
        {
            return Err(unreachable(Problem::error(
                CONNECT_GUARD_REFUSED,
                format!(
                    "{} passed the policy but is outside the connection guard",
                    refused.ip()
                ),
            )));
        }
        Ok(())
    }

    /// TCP + TLS to the first checked address that accepts. A phase that fails still took
    /// time: it is added to that phase, so timeouts show in the phase histogram and the audit
    /// record's durations.
    async fn connect(
        &self,
        run: &mut Run,
        addrs: &[PinnedAddr],
        port: u16,
        server_name: ServerName<'static>,
        deadline: Instant,
    ) -> Result<connect::Connected, HopEnd> {
        let budget = ConnectBudget {
            connect: self.limits.connect,
            tls: self.limits.tls,
            deadline,
        };
        let started = Instant::now();
        match connect::connect(addrs, port, server_name, self.tls.clone(), budget).await {
            Ok(connected) => {
                run.report.timings.connect += connected.connect_time;
                run.report.timings.tls += connected.tls_time;
                let peer: SocketAddr = connected.peer;
                run.report.facts.address = Some(peer.to_string());
                run.hop().connected = Some(peer.to_string());
                Ok(connected)
            }
            Err(problem) => {
                let spent = started.elapsed();
                if problem.code == codes::TLS_FAILED || problem.code == codes::TLS_TIMEOUT {
                    run.report.timings.tls += spent;
                } else {
                    run.report.timings.connect += spent;
                }
                Err(unreachable(problem))
            }
        }
    }

    /// Sends the request and reads the response head; records status and content type.
    async fn send(
        run: &mut Run,
        connected: connect::Connected,
        url: &SafeUrl,
        limits: &ExchangeLimits,
    ) -> Result<exchange::Head, HopEnd> {
        let started = Instant::now();
        let head = match exchange::send(connected, url.url(), limits).await {
            Ok(head) => head,
            Err(problem) => {
                run.report.timings.first_byte += started.elapsed();
                return Err(unreachable(problem));
            }
        };
        run.report.timings.first_byte += head.first_byte_time;
        let status = head.status.as_u16();
        run.report.facts.status = Some(status);
        run.hop().status = Some(status);
        run.report.facts.content_type = head
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(head)
    }

    /// Redirect, refusal, or a body worth reading (with its caching hints).
    fn judge_head(head: &exchange::Head, request: &FetchRequest) -> Result<CacheHints, HopEnd> {
        match head::judge_head(
            head.status.as_u16(),
            &head.headers,
            request.follow_redirects,
            SystemTime::now(),
        ) {
            HeadDecision::Redirect { location, status } => Err(HopEnd::Redirect(location, status)),
            HeadDecision::Refuse(problem) => Err(unreachable(problem)),
            HeadDecision::ReadBody(cache) => Ok(cache),
        }
    }

    /// Reads the body under its caps; the hop ends here either way.
    async fn read_body(
        run: &mut Run,
        head: exchange::Head,
        limits: &ExchangeLimits,
        cache: CacheHints,
    ) -> HopEnd {
        let started = Instant::now();
        match head.read_body(limits).await {
            Ok((body, body_time)) => {
                run.report.timings.body += body_time;
                run.report.facts.bytes = body.len() as u64;
                run.report.body = Some(body);
                run.report.cache = cache;
                HopEnd::Done(FetchStatus::Fetched, Vec::new())
            }
            Err(problem) => {
                run.report.timings.body += started.elapsed();
                unreachable(problem)
            }
        }
    }
}

/// A hop that ended because the policy (or a check made with it) refused.
fn blocked(problem: Problem) -> HopEnd {
    HopEnd::Done(FetchStatus::Blocked, vec![problem])
}

/// A hop that ended because the network or the origin failed.
fn unreachable(problem: Problem) -> HopEnd {
    HopEnd::Done(FetchStatus::Unreachable, vec![problem])
}

enum HopEnd {
    Done(FetchStatus, Vec<Problem>),
    Redirect(String, u16),
}
