//! Service configuration: TOML, every key optional, every default a named constant.
//!
//! Structs use `deny_unknown_fields` so a typo in a key is an error, never a silent default.
//! This module only parses and checks text; reading the file is the caller's job.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::kind::{Kind, Profile};

/// Where the service listens when nothing is configured: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
/// Largest `POST /v1/fetch` body accepted; a request is a URL and a few expectations.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 16 * 1024;
/// Largest HTTP/1.1 request head (request line and headers) on the API; a longer one is
/// answered `431`. It is also hyper's read buffer per connection, so the default is the
/// smallest the parser allows: API heads are a bearer token and a few headers.
pub const DEFAULT_MAX_REQUEST_HEAD_BYTES: usize = 8 * 1024;
/// hyper's smallest HTTP/1 read buffer; `server.max_request_head_bytes` below it is a
/// config error. Above it, hyper's first short read doubles the buffer (16 KiB per
/// connection at 8 KiB + 1), the cost docs/benchmarks.md measured.
pub const MIN_REQUEST_HEAD_BYTES: usize = 8 * 1024;
/// Time a caller has to send a whole request body (slowloris bound).
pub const DEFAULT_REQUEST_READ_TIMEOUT_MS: u64 = 5_000;
/// Time in-flight requests get to finish after SIGTERM.
pub const DEFAULT_SHUTDOWN_GRACE_MS: u64 = 10_000;
/// Concurrent client connections accepted by the API server.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4_096;
/// Time a new API connection has to deliver its first complete request head (HTTP/1.1 or
/// h2c); a peer that connects, sends the h2 preface and then nothing is closed after it.
pub const DEFAULT_FIRST_REQUEST_TIMEOUT_MS: u64 = 10_000;
/// Time an API connection may stay open with no request being handled (HTTP/1.1 keep-alive
/// and h2c alike, PINGs do not count): idlers cannot hold `max_connections` slots for ever.
pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 30_000;
/// Interval of the server's h2 keep-alive PINGs, so dead peers are found and closed.
pub const DEFAULT_H2_KEEP_ALIVE_INTERVAL_MS: u64 = 20_000;
/// Time an h2 peer has to answer a keep-alive PING before its connection is closed.
pub const DEFAULT_H2_KEEP_ALIVE_TIMEOUT_MS: u64 = 10_000;
/// Concurrent h2 streams per API connection: with `max_connections` and the pending
/// response budget this bounds the per-stream state a peer can make the server hold.
pub const DEFAULT_H2_MAX_CONCURRENT_STREAMS: u32 = 32;
/// Inbound h2 control frames (PING, SETTINGS, WINDOW_UPDATE, RST_STREAM, PRIORITY, GOAWAY,
/// PUSH_PROMISE, unknown types) accepted per connection per second before it is closed: a
/// busy legitimate client sends a few per request, a flood costs the server a core.
pub const DEFAULT_H2_MAX_CONTROL_FRAMES_PER_S: u32 = 1_000;
/// Response body bytes produced but not yet sent, all connections together; past it new
/// responses are answered `503 server_busy` instead of being held (window-0 peers).
pub const DEFAULT_MAX_PENDING_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// One connection's share of [`DEFAULT_MAX_PENDING_RESPONSE_BYTES`], so one peer cannot
/// take the whole budget.
pub const DEFAULT_MAX_PENDING_RESPONSE_BYTES_PER_CONNECTION: usize = 1024 * 1024;
/// `/metrics` is rendered at most once per this interval and the text shared by every
/// scrape in it, so concurrent scrapes cannot multiply the rendering cost or memory.
pub const DEFAULT_METRICS_RENDER_INTERVAL_MS: u64 = 1_000;

/// DNS query timeout; one slow nameserver must not eat the whole fetch budget.
pub const DEFAULT_RESOLVER_TIMEOUT_MS: u64 = 2_000;
/// Retries per query after the first attempt.
pub const DEFAULT_RESOLVER_ATTEMPTS: usize = 1;

/// Whole-fetch deadline across all hops and phases.
pub const DEFAULT_TOTAL_TIMEOUT_MS: u64 = 5_000;
/// Per-phase deadlines; each phase also stays inside the total deadline.
pub const DEFAULT_RESOLVE_TIMEOUT_MS: u64 = 2_000;
/// TCP connect deadline, shared by all candidate addresses of one hop.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 2_000;
/// TLS handshake deadline.
pub const DEFAULT_TLS_TIMEOUT_MS: u64 = 2_000;
/// Time from request sent to the complete response head.
pub const DEFAULT_FIRST_BYTE_TIMEOUT_MS: u64 = 3_000;
/// Time to read the whole body once the head arrived (drip-feed bound).
pub const DEFAULT_BODY_TIMEOUT_MS: u64 = 3_000;
/// Redirects followed before giving up (each hop is checked in full).
pub const DEFAULT_MAX_REDIRECTS: usize = 3;
/// Bytes of response head (status line and headers) accepted.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;
/// Number of response header fields accepted.
pub const DEFAULT_MAX_HEADERS: usize = 64;
/// Body cap for generic JSON and for kinds without a specific cap.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 256 * 1024;
/// Body cap for Client ID Metadata Documents: the draft suggests 5 KiB.
pub const DEFAULT_MAX_BODY_BYTES_CLIENT_METADATA: u64 = 5 * 1024;
/// Body cap for JWK Sets (large providers publish a few dozen keys with certificates).
pub const DEFAULT_MAX_BODY_BYTES_JWKS: u64 = 128 * 1024;
/// Body cap for protected resource and authorization server metadata.
pub const DEFAULT_MAX_BODY_BYTES_METADATA: u64 = 64 * 1024;
/// Longest URL accepted, in bytes.
pub const DEFAULT_MAX_URL_BYTES: usize = 2_048;
/// Upstream fetches in flight at once, across all callers.
pub const DEFAULT_MAX_CONCURRENT_FETCHES: usize = 64;
/// Requests waiting for a fetch slot, across all callers. When full, the newest request of
/// the caller with the longest queue is shed (`overloaded_caller`), never a request of a
/// caller holding less than its share of the queue.
pub const DEFAULT_MAX_QUEUED_REQUESTS: usize = 1_024;
/// Requests one caller may have waiting for a fetch slot; the next gets `overloaded_caller`.
pub const DEFAULT_MAX_QUEUED_PER_CALLER: usize = 256;
/// Longest time a request waits for a fetch slot before `queue_timeout`: shorter than a
/// typical authorization server's own outbound deadline (oidc-provider: 2.5 s).
pub const DEFAULT_MAX_QUEUE_WAIT_MS: u64 = 1_000;
/// Fetch slots one caller can never take while alone, so a newly arriving caller is served
/// at once instead of waiting for someone else's slow fetch to end (at most half of
/// `max_concurrent_fetches` is reserved, whatever is configured).
pub const DEFAULT_RESERVED_FETCH_SLOTS: usize = 8;
/// Longest caller deadline (`deadline_ms`) honoured, and the deadline of a request that
/// states none: the service answers every request (with an `unreachable` /
/// `deadline_exceeded` verdict if need be) within this, queue wait included. Above the
/// whole-fetch deadline so a request that states none still gets the fetch's own verdict.
pub const DEFAULT_MAX_DEADLINE_MS: u64 = 10_000;

/// Shortest time the service keeps a valid judgement, whatever the origin says (internal:
/// the caller's `cache` claim is the origin's own lifetime).
pub const DEFAULT_CACHE_MIN_TTL_S: u64 = 300;
/// Longest time a valid judgement is kept, and the bound of the `cache` claim's `max_age_s`.
pub const DEFAULT_CACHE_MAX_TTL_S: u64 = 86_400;
/// Lifetime of a cached failure (invalid, blocked, unreachable) for most kinds.
pub const DEFAULT_CACHE_NEGATIVE_TTL_S: u64 = 30;
/// Lifetime of a cached CIMD failure: the draft forbids caching error responses.
pub const DEFAULT_CACHE_NEGATIVE_TTL_CLIENT_METADATA_S: u64 = 0;
/// Entries kept in the verdict cache.
pub const DEFAULT_CACHE_MAX_ENTRIES: usize = 10_000;
/// Bytes of cached verdicts kept: the real heap size of each entry (its serialized claims
/// and audit text, its key) plus a measured fixed per-entry overhead.
pub const DEFAULT_CACHE_MAX_BYTES: usize = 64 * 1024 * 1024;
/// Identical requests within this window share one result, failures included (which are
/// otherwise not cached for CIMD): an authorization server that looks one client up twice
/// in one login costs one fetch and one rate-limit token, not two.
pub const DEFAULT_CACHE_DUPLICATE_WINDOW_S: u64 = 3;

/// Requests per second each caller may make (sustained).
pub const DEFAULT_RATE_PER_CALLER_PER_S: u32 = 100;
/// Burst each caller may make.
pub const DEFAULT_RATE_PER_CALLER_BURST: u32 = 200;
/// Upstream fetches per second to one target host from all callers together (counted on
/// every hop, redirect targets too): the ceiling that protects the host.
pub const DEFAULT_RATE_PER_HOST_PER_S: u32 = 20;
/// Burst of upstream fetches to one target host from all callers together.
pub const DEFAULT_RATE_PER_HOST_BURST: u32 = 100;
/// Upstream fetches per second one caller may cause to one target host: half the host
/// ceiling, so one caller alone cannot spend the budget another caller needs.
pub const DEFAULT_RATE_PER_CALLER_HOST_PER_S: u32 = 10;
/// Burst one caller may cause to one target host: lets a hosting platform through (50
/// distinct client documents on one host within a second from one authorization server)
/// while leaving 40 % of the host's burst to everybody else.
pub const DEFAULT_RATE_PER_CALLER_HOST_BURST: u32 = 60;

/// `iss` of every verdict.
pub const DEFAULT_ISSUER: &str = "portcullis";
/// Seconds a verdict may be trusted after it was signed (`exp - iat`). Short: it is the
/// trust window of one answer, not a caching lifetime (that is the `cache` claim).
pub const DEFAULT_VERDICT_TRUST_S: u64 = 60;

/// Service log format when neither `--log-format` nor `PORTCULLIS_LOG_FORMAT` is given:
/// text reads well on a terminal; log shippers set `json`.
pub const DEFAULT_LOG_FORMAT: LogFormat = LogFormat::Text;
/// Proxy: time a client has to send a whole CONNECT request head (slowloris bound).
pub const DEFAULT_PROXY_HEADER_READ_TIMEOUT_MS: u64 = 5_000;
/// Proxy: largest CONNECT request head accepted, in bytes.
pub const DEFAULT_PROXY_MAX_HEADER_BYTES: usize = 8 * 1024;
/// Proxy: TCP connect deadline to the target, shared by all its checked addresses.
pub const DEFAULT_PROXY_CONNECT_TIMEOUT_MS: u64 = 5_000;
/// Proxy: a tunnel with no byte in either direction for this long is cut.
pub const DEFAULT_PROXY_IDLE_TIMEOUT_MS: u64 = 60_000;
/// Proxy: longest a tunnel may live, busy or not (bounds long-poll abuse).
pub const DEFAULT_PROXY_MAX_LIFETIME_MS: u64 = 600_000;
/// Proxy: bytes a tunnel may carry from the client to the target.
pub const DEFAULT_PROXY_MAX_BYTES_UP: u64 = 16 * 1024 * 1024;
/// Proxy: bytes a tunnel may carry from the target to the client.
pub const DEFAULT_PROXY_MAX_BYTES_DOWN: u64 = 256 * 1024 * 1024;
/// Proxy: client connections at once that are not (yet) tunnels — heads being read,
/// refusals being answered; past it, new connections wait in the listen backlog. Open
/// tunnels have their own cap (`max_tunnels`).
pub const DEFAULT_PROXY_MAX_CONNECTIONS: usize = 4_096;
/// Proxy: tunnels open at once across all callers.
pub const DEFAULT_PROXY_MAX_TUNNELS: usize = 1_024;
/// Proxy: tunnels one caller may hold open at once.
pub const DEFAULT_PROXY_MAX_TUNNELS_PER_CALLER: usize = 256;
/// Proxy: CONNECT requests per second per caller (sustained).
pub const DEFAULT_PROXY_RATE_PER_CALLER_PER_S: u32 = 50;
/// Proxy: CONNECT burst per caller.
pub const DEFAULT_PROXY_RATE_PER_CALLER_BURST: u32 = 100;
/// Proxy: tunnels opened per second to one target host, so no caller can flood a site.
pub const DEFAULT_PROXY_RATE_PER_HOST_PER_S: u32 = 20;
/// Proxy: burst of tunnels to one target host.
pub const DEFAULT_PROXY_RATE_PER_HOST_BURST: u32 = 40;

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// TOML syntax error, unknown key or wrong type.
    #[error("config is not valid: {0}")]
    Parse(#[from] toml::de::Error),
    /// A value is out of its allowed range.
    #[error("config value {key} is out of range: {why}")]
    Range {
        /// The dotted key.
        key: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A caller entry is unusable (empty or duplicate name, token hash shared with another).
    #[error("caller {name:?} (server.callers[{index}]): {why}")]
    Caller {
        /// Position in `[[server.callers]]`.
        index: usize,
        /// The caller's name as written.
        name: String,
        /// What is wrong.
        why: &'static str,
    },
}

/// The whole configuration. `Config::default()` is the embedded default.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// API server.
    pub server: ServerConfig,
    /// DNS.
    pub resolver: ResolverConfig,
    /// Outbound TLS.
    pub tls: TlsConfig,
    /// Egress rule files layered over the embedded default.
    pub rules: RulesConfig,
    /// Caps on every fetch.
    pub limits: LimitsConfig,
    /// Verdict cache.
    pub cache: CacheConfig,
    /// Rate limits.
    pub rate: RateConfig,
    /// Verdict signing keys.
    pub signing: SigningConfig,
    /// Optional document policy beyond the specifications.
    pub documents: DocumentsConfig,
    /// Audit log.
    pub audit: AuditConfig,
    /// Service (diagnostic) log.
    pub log: LogConfig,
    /// Egress proxy mode (HTTP CONNECT); off unless `listen` is set.
    pub proxy: ProxyConfig,
    /// Fleet mode on Redis (issue 16); absent means one self-contained replica, no Redis code.
    pub fleet: Option<FleetConfig>,
}

/// Format of the service's own log lines (not the audit log, which is always JSON).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (`tracing-subscriber` JSON), for log shippers.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(text: &str) -> Result<LogFormat, String> {
        match text.to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("log format {text:?} is not text or json")),
        }
    }
}

/// `[log]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json`; `--log-format` and `PORTCULLIS_LOG_FORMAT` override it.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: DEFAULT_LOG_FORMAT,
        }
    }
}

/// `[proxy]`: the HTTP CONNECT egress proxy (see `docs/proxy.md`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyConfig {
    /// Where the proxy listens; absent means the proxy is off.
    pub listen: Option<SocketAddr>,
    /// Deadline for a client to send its whole CONNECT request head.
    pub header_read_timeout_ms: u64,
    /// Largest CONNECT request head.
    pub max_header_bytes: usize,
    /// TCP connect deadline to the target.
    pub connect_timeout_ms: u64,
    /// Idle cut-off (no byte either way).
    pub idle_timeout_ms: u64,
    /// Longest tunnel lifetime.
    pub max_lifetime_ms: u64,
    /// Bytes per tunnel, client → target.
    pub max_bytes_up: u64,
    /// Bytes per tunnel, target → client.
    pub max_bytes_down: u64,
    /// Client connections at once that are not tunnels yet.
    pub max_connections: usize,
    /// Open tunnels, all callers.
    pub max_tunnels: usize,
    /// Open tunnels per caller.
    pub max_tunnels_per_caller: usize,
    /// CONNECTs per second per caller.
    pub per_caller_per_s: u32,
    /// CONNECT burst per caller.
    pub per_caller_burst: u32,
    /// Tunnels per second per target host.
    pub per_target_host_per_s: u32,
    /// Tunnel burst per target host.
    pub per_target_host_burst: u32,
    /// Per-caller roles (smokescreen-like); a caller without an entry gets the plain rules.
    pub callers: Vec<ProxyCallerConfig>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            listen: None,
            header_read_timeout_ms: DEFAULT_PROXY_HEADER_READ_TIMEOUT_MS,
            max_header_bytes: DEFAULT_PROXY_MAX_HEADER_BYTES,
            connect_timeout_ms: DEFAULT_PROXY_CONNECT_TIMEOUT_MS,
            idle_timeout_ms: DEFAULT_PROXY_IDLE_TIMEOUT_MS,
            max_lifetime_ms: DEFAULT_PROXY_MAX_LIFETIME_MS,
            max_bytes_up: DEFAULT_PROXY_MAX_BYTES_UP,
            max_bytes_down: DEFAULT_PROXY_MAX_BYTES_DOWN,
            max_connections: DEFAULT_PROXY_MAX_CONNECTIONS,
            max_tunnels: DEFAULT_PROXY_MAX_TUNNELS,
            max_tunnels_per_caller: DEFAULT_PROXY_MAX_TUNNELS_PER_CALLER,
            per_caller_per_s: DEFAULT_PROXY_RATE_PER_CALLER_PER_S,
            per_caller_burst: DEFAULT_PROXY_RATE_PER_CALLER_BURST,
            per_target_host_per_s: DEFAULT_PROXY_RATE_PER_HOST_PER_S,
            per_target_host_burst: DEFAULT_PROXY_RATE_PER_HOST_BURST,
            callers: Vec::new(),
        }
    }
}

/// `[[proxy.callers]]`: what one caller may reach through the proxy, on top of the rules.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyCallerConfig {
    /// The caller's name, as in `[[server.callers]]`.
    pub name: String,
    /// When non-empty, the only hosts this caller may reach: exact names, or `*.suffix` for
    /// any subdomain of `suffix`.
    pub allow_hosts: Vec<String>,
    /// Log what would be refused instead of refusing it (roll-out aid). The floor (cloud
    /// metadata, unspecified, the service's own addresses) and the URL rules still refuse.
    pub report_only: bool,
}

/// `[audit]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Write one JSON line per answered request.
    pub enabled: bool,
    /// Append to this file; absent means stderr.
    pub path: Option<PathBuf>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            enabled: true,
            path: None,
        }
    }
}

/// `[server]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// TCP address of the API: an IP literal and port (host names are not resolved, so the
    /// bound address is exactly the one written; `localhost:8788` is refused with a hint).
    #[serde(deserialize_with = "listen_addr")]
    pub listen: SocketAddr,
    /// Also (or only, with `listen_tcp = false`) listen on this Unix socket.
    pub unix_socket: Option<PathBuf>,
    /// Whether to listen on `listen` at all (turn off to serve only on the Unix socket).
    pub listen_tcp: bool,
    /// Authenticated callers; empty means loopback-only and unauthenticated.
    pub callers: Vec<CallerConfig>,
    /// Largest request body.
    pub max_request_bytes: usize,
    /// Largest HTTP/1.1 request head (see [`DEFAULT_MAX_REQUEST_HEAD_BYTES`]).
    pub max_request_head_bytes: usize,
    /// Deadline for reading a request body.
    pub request_read_timeout_ms: u64,
    /// Time given to in-flight requests on shutdown.
    pub shutdown_grace_ms: u64,
    /// Concurrent API connections.
    pub max_connections: usize,
    /// Deadline for a connection's first complete request head.
    pub first_request_timeout_ms: u64,
    /// Close a connection with no request being handled for this long.
    pub idle_timeout_ms: u64,
    /// Interval of h2 keep-alive PINGs sent by the server.
    pub h2_keep_alive_interval_ms: u64,
    /// Time to wait for a keep-alive PING acknowledgement.
    pub h2_keep_alive_timeout_ms: u64,
    /// Concurrent h2 streams per connection.
    pub h2_max_concurrent_streams: u32,
    /// Inbound h2 control frames per connection per second before it is closed.
    pub h2_max_control_frames_per_s: u32,
    /// Response bytes produced but not yet sent, process-wide.
    pub max_pending_response_bytes: usize,
    /// One connection's share of `max_pending_response_bytes`.
    pub max_pending_response_bytes_per_connection: usize,
    /// Minimum interval between two renderings of `/metrics`.
    pub metrics_render_interval_ms: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            unix_socket: None,
            listen_tcp: true,
            callers: Vec::new(),
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            max_request_head_bytes: DEFAULT_MAX_REQUEST_HEAD_BYTES,
            request_read_timeout_ms: DEFAULT_REQUEST_READ_TIMEOUT_MS,
            shutdown_grace_ms: DEFAULT_SHUTDOWN_GRACE_MS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            first_request_timeout_ms: DEFAULT_FIRST_REQUEST_TIMEOUT_MS,
            idle_timeout_ms: DEFAULT_IDLE_TIMEOUT_MS,
            h2_keep_alive_interval_ms: DEFAULT_H2_KEEP_ALIVE_INTERVAL_MS,
            h2_keep_alive_timeout_ms: DEFAULT_H2_KEEP_ALIVE_TIMEOUT_MS,
            h2_max_concurrent_streams: DEFAULT_H2_MAX_CONCURRENT_STREAMS,
            h2_max_control_frames_per_s: DEFAULT_H2_MAX_CONTROL_FRAMES_PER_S,
            max_pending_response_bytes: DEFAULT_MAX_PENDING_RESPONSE_BYTES,
            max_pending_response_bytes_per_connection:
                DEFAULT_MAX_PENDING_RESPONSE_BYTES_PER_CONNECTION,
            metrics_render_interval_ms: DEFAULT_METRICS_RENDER_INTERVAL_MS,
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8787))
}

fn listen_addr<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(d)?;
    text.parse::<SocketAddr>().map_err(|_| {
        let hint = match text.rsplit_once(':') {
            Some((host, port)) if port.parse::<u16>().is_ok() && host.eq_ignore_ascii_case("localhost") => {
                format!(" (did you mean \"127.0.0.1:{port}\"?)")
            }
            _ => String::new(),
        };
        serde::de::Error::custom(format!(
            "listen = {text:?} is not an IP address and port: use an IP literal such as \"127.0.0.1:8787\" or \"[::1]:8787\"; host names are not resolved{hint}"
        ))
    })
}

/// SHA-256 of a caller's bearer token, decoded once at load. Only this hash is configured, so
/// a leaked config file does not leak tokens; holding bytes (not hex text) means a malformed
/// hash can never reach the authenticator, where it would be silently unusable.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The hash of `token`: what `portcullis token` prints and the server compares.
    pub fn of_token(token: &str) -> TokenHash {
        use sha2::Digest;
        TokenHash(sha2::Sha256::digest(token.as_bytes()).into())
    }

    /// The 32 bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex, as written in `token_sha256`.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenHash({})", self.to_hex())
    }
}

impl std::fmt::Display for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::str::FromStr for TokenHash {
    type Err = String;
    /// 64 hex digits, either case (`sha256sum` prints lower case, other tools upper case).
    fn from_str(text: &str) -> Result<TokenHash, String> {
        let text = text.trim();
        if text.len() != 64 {
            return Err(format!(
                "token_sha256 must be 64 hex digits (the SHA-256 of the token), got {} characters",
                text.chars().count()
            ));
        }
        if let Some(bad) = text.bytes().position(|b| !b.is_ascii_hexdigit()) {
            return Err(format!(
                "token_sha256 must be 64 hex digits (the SHA-256 of the token); character {} is not hex",
                bad + 1
            ));
        }
        let mut out = [0u8; 32];
        for (i, pair) in text.as_bytes().chunks(2).enumerate() {
            let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
            out[i] = digit(pair[0]) * 16 + digit(pair[1]);
        }
        Ok(TokenHash(out))
    }
}

/// One authenticated caller. Only the SHA-256 of its token is stored.
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "RawCaller")]
pub struct CallerConfig {
    /// Name used as the verdict `aud` and in audit records.
    pub name: String,
    /// SHA-256 of the bearer token (hex in the file, either case).
    pub token_sha256: TokenHash,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCaller {
    name: String,
    token_sha256: String,
}

impl TryFrom<RawCaller> for CallerConfig {
    type Error = String;
    fn try_from(raw: RawCaller) -> Result<CallerConfig, String> {
        let token_sha256 = raw
            .token_sha256
            .parse()
            .map_err(|why| format!("caller {:?}: {why}", raw.name))?;
        Ok(CallerConfig {
            name: raw.name,
            token_sha256,
        })
    }
}

/// `[resolver]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResolverConfig {
    /// Nameservers (UDP and TCP); empty means the system's resolv.conf.
    pub nameservers: Vec<SocketAddr>,
    /// Per-query timeout.
    pub timeout_ms: u64,
    /// Retries after the first attempt.
    pub attempts: usize,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        ResolverConfig {
            nameservers: Vec::new(),
            timeout_ms: DEFAULT_RESOLVER_TIMEOUT_MS,
            attempts: DEFAULT_RESOLVER_ATTEMPTS,
        }
    }
}

/// `[tls]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// Extra trust anchors (PEM files), for origins under a private CA.
    pub extra_roots: Vec<PathBuf>,
    /// Trust the embedded Mozilla root set.
    pub builtin_roots: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            extra_roots: Vec::new(),
            builtin_roots: true,
        }
    }
}

/// `[rules]`
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Rule files layered, in order, over the embedded `rules/default.toml`.
    pub files: Vec<PathBuf>,
    /// The network translates NAT64 (64:ff9b::/96): allow NAT64 addresses wrapping public IPv4.
    pub allow_nat64: bool,
}

/// `[limits]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Whole-fetch deadline.
    pub total_timeout_ms: u64,
    /// DNS phase deadline.
    pub resolve_timeout_ms: u64,
    /// TCP connect deadline.
    pub connect_timeout_ms: u64,
    /// TLS handshake deadline.
    pub tls_timeout_ms: u64,
    /// Request sent → response head received.
    pub first_byte_timeout_ms: u64,
    /// Response head → whole body received.
    pub body_timeout_ms: u64,
    /// Redirects followed (kinds that forbid redirects ignore this).
    pub max_redirects: usize,
    /// Response head bytes.
    pub max_header_bytes: usize,
    /// Response header fields.
    pub max_headers: usize,
    /// URL length.
    pub max_url_bytes: usize,
    /// Body caps per kind.
    pub max_body_bytes: MaxBodyBytes,
    /// Upstream fetches in flight.
    pub max_concurrent_fetches: usize,
    /// Requests waiting for a fetch slot, all callers together.
    pub max_queued_requests: usize,
    /// Requests waiting for a fetch slot, per caller.
    pub max_queued_per_caller: usize,
    /// Longest wait for a fetch slot.
    pub max_queue_wait_ms: u64,
    /// Slots a caller alone cannot take (kept for the next caller to arrive).
    pub reserved_fetch_slots: usize,
    /// Longest caller deadline honoured (and the deadline of requests that state none).
    pub max_deadline_ms: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            total_timeout_ms: DEFAULT_TOTAL_TIMEOUT_MS,
            resolve_timeout_ms: DEFAULT_RESOLVE_TIMEOUT_MS,
            connect_timeout_ms: DEFAULT_CONNECT_TIMEOUT_MS,
            tls_timeout_ms: DEFAULT_TLS_TIMEOUT_MS,
            first_byte_timeout_ms: DEFAULT_FIRST_BYTE_TIMEOUT_MS,
            body_timeout_ms: DEFAULT_BODY_TIMEOUT_MS,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_headers: DEFAULT_MAX_HEADERS,
            max_url_bytes: DEFAULT_MAX_URL_BYTES,
            max_body_bytes: MaxBodyBytes::default(),
            max_concurrent_fetches: DEFAULT_MAX_CONCURRENT_FETCHES,
            max_queued_requests: DEFAULT_MAX_QUEUED_REQUESTS,
            max_queued_per_caller: DEFAULT_MAX_QUEUED_PER_CALLER,
            max_queue_wait_ms: DEFAULT_MAX_QUEUE_WAIT_MS,
            reserved_fetch_slots: DEFAULT_RESERVED_FETCH_SLOTS,
            max_deadline_ms: DEFAULT_MAX_DEADLINE_MS,
        }
    }
}

impl LimitsConfig {
    /// Milliseconds as a `Duration`, the one conversion every phase uses.
    pub fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }
}

/// `[limits.max_body_bytes]`: one cap per kind.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaxBodyBytes {
    /// Generic JSON.
    pub json: u64,
    /// Client ID Metadata Documents.
    pub client_metadata: u64,
    /// JWK Sets.
    pub jwks: u64,
    /// Protected resource metadata.
    pub protected_resource_metadata: u64,
    /// Authorization server metadata.
    pub authorization_server_metadata: u64,
}

impl Default for MaxBodyBytes {
    fn default() -> Self {
        MaxBodyBytes {
            json: DEFAULT_MAX_BODY_BYTES,
            client_metadata: DEFAULT_MAX_BODY_BYTES_CLIENT_METADATA,
            jwks: DEFAULT_MAX_BODY_BYTES_JWKS,
            protected_resource_metadata: DEFAULT_MAX_BODY_BYTES_METADATA,
            authorization_server_metadata: DEFAULT_MAX_BODY_BYTES_METADATA,
        }
    }
}

impl MaxBodyBytes {
    /// The cap for one kind.
    pub fn for_kind(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Json => self.json,
            Kind::ClientMetadata => self.client_metadata,
            Kind::Jwks => self.jwks,
            Kind::ProtectedResourceMetadata => self.protected_resource_metadata,
            Kind::AuthorizationServerMetadata => self.authorization_server_metadata,
        }
    }
}

/// `[cache]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Shortest time the service keeps a valid judgement in its own cache (internal; never
    /// stretches the `cache` claim the caller is told).
    pub min_ttl_s: u64,
    /// Longest time the service keeps a valid judgement; also bounds the `cache` claim.
    pub max_ttl_s: u64,
    /// Lifetime of failures for most kinds.
    pub negative_ttl_s: u64,
    /// Lifetime of CIMD failures.
    pub negative_ttl_client_metadata_s: u64,
    /// Entries kept.
    pub max_entries: usize,
    /// Bytes kept (real heap size of the entries, see `service::settled`).
    pub max_bytes: usize,
    /// Window in which identical requests share one result, failures included.
    pub duplicate_window_s: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            min_ttl_s: DEFAULT_CACHE_MIN_TTL_S,
            max_ttl_s: DEFAULT_CACHE_MAX_TTL_S,
            negative_ttl_s: DEFAULT_CACHE_NEGATIVE_TTL_S,
            negative_ttl_client_metadata_s: DEFAULT_CACHE_NEGATIVE_TTL_CLIENT_METADATA_S,
            max_entries: DEFAULT_CACHE_MAX_ENTRIES,
            max_bytes: DEFAULT_CACHE_MAX_BYTES,
            duplicate_window_s: DEFAULT_CACHE_DUPLICATE_WINDOW_S,
        }
    }
}

/// `[rate]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateConfig {
    /// Requests per second per caller.
    pub per_caller_per_s: u32,
    /// Burst per caller.
    pub per_caller_burst: u32,
    /// Upstream fetches per second per target host, all callers together (every hop).
    pub per_target_host_per_s: u32,
    /// Burst per target host, all callers together.
    pub per_target_host_burst: u32,
    /// Upstream fetches per second one caller may cause to one target host.
    pub per_caller_target_host_per_s: u32,
    /// Burst one caller may cause to one target host.
    pub per_caller_target_host_burst: u32,
}

impl Default for RateConfig {
    fn default() -> Self {
        RateConfig {
            per_caller_per_s: DEFAULT_RATE_PER_CALLER_PER_S,
            per_caller_burst: DEFAULT_RATE_PER_CALLER_BURST,
            per_target_host_per_s: DEFAULT_RATE_PER_HOST_PER_S,
            per_target_host_burst: DEFAULT_RATE_PER_HOST_BURST,
            per_caller_target_host_per_s: DEFAULT_RATE_PER_CALLER_HOST_PER_S,
            per_caller_target_host_burst: DEFAULT_RATE_PER_CALLER_HOST_BURST,
        }
    }
}

/// Signature algorithm of the verdict key, by its JWS name (RFC 7518, RFC 8037, RFC 9864).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum SigningAlg {
    /// Ed25519 under the fully-specified name of RFC 9864 §2.2; the modern spelling, but
    /// not every verifier knows it yet (see docs/conformance.md, "Verdict algorithms").
    Ed25519,
    /// Ed25519 under the polymorphic RFC 8037 name, deprecated by RFC 9864 yet still the
    /// name most verifiers know for Ed25519.
    EdDSA,
    /// ECDSA P-256 with SHA-256 (RFC 7518 §3.4).
    ES256,
}

/// Default verdict algorithm: `ES256`, the only one every verifier in the tested table
/// (joserfc, PyJWT, jose, jsonwebtoken) accepts without deprecation warnings
/// (docs/conformance.md, "Verdict algorithms"; `scripts/alg-interop.sh`).
pub const DEFAULT_SIGNING_ALG: SigningAlg = SigningAlg::ES256;

/// JWS name given to an Ed25519 key file when `[signing] alg` is not set: `EdDSA`, because
/// `jsonwebtoken` 11 and older PyJWT cannot even parse a header naming `Ed25519`.
pub const DEFAULT_ED25519_KEY_ALG: SigningAlg = SigningAlg::EdDSA;

/// Default profile: `oauth`, the specifications alone. Real, conforming documents from
/// large providers and atproto apps fail the MCP-only rules; under `oauth` those rules are
/// still reported, as warnings tagged `mcp`, so an MCP deployment sees them and can make
/// them errors with `profile = "mcp"` (config) or `"profile": "mcp"` (per request).
pub const DEFAULT_PROFILE: Profile = Profile::Oauth;

/// `[signing]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigningConfig {
    /// The signing key (PKCS#8 PEM).
    pub key_file: Option<PathBuf>,
    /// Older keys still published in `/v1/keys` during rotation (they do not sign).
    pub previous_key_files: Vec<PathBuf>,
    /// Verdict algorithm. Absent: an ephemeral key uses [`DEFAULT_SIGNING_ALG`] and a key
    /// file its own type's name (an Ed25519 file [`DEFAULT_ED25519_KEY_ALG`]). Set: the
    /// ephemeral key is of this algorithm and key files must fit it (`Ed25519` and `EdDSA`
    /// both fit an Ed25519 key: they only change the published name).
    pub alg: Option<SigningAlg>,
    /// Keys published ahead of use (phase one of a rotation): every replica publishes the
    /// next key before any replica signs with it, so no verifier sees an unknown `kid`.
    pub next_key_files: Vec<PathBuf>,
    /// `iss` claim.
    pub issuer: String,
    /// Trust window of one verdict: `exp = iat + trust_s`.
    pub trust_s: u64,
}

impl Default for SigningConfig {
    fn default() -> Self {
        SigningConfig {
            key_file: None,
            previous_key_files: Vec::new(),
            alg: None,
            next_key_files: Vec::new(),
            issuer: DEFAULT_ISSUER.to_owned(),
            trust_s: DEFAULT_VERDICT_TRUST_S,
        }
    }
}

/// `[documents]`: the rule book and stricter-than-spec policy an operator may turn on.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DocumentsConfig {
    /// Profile used when a request (or `--profile`) does not name one.
    pub profile: Profile,
    /// CIMD redirect URIs (https ones) and `client_uri` must share the client_id's origin.
    pub cimd_same_origin_redirects: bool,
    /// When non-empty, client_id hosts must equal or be a subdomain of one of these.
    pub client_id_domains: Vec<String>,
}

impl Default for DocumentsConfig {
    fn default() -> Self {
        DocumentsConfig {
            profile: DEFAULT_PROFILE,
            cimd_same_origin_redirects: false,
            client_id_domains: Vec::new(),
        }
    }
}

impl Config {
    /// Parses TOML text and checks ranges. An empty string gives the defaults.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text)?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let l = &self.limits;
        let positive = [
            ("limits.total_timeout_ms", l.total_timeout_ms),
            ("limits.resolve_timeout_ms", l.resolve_timeout_ms),
            ("limits.connect_timeout_ms", l.connect_timeout_ms),
            ("limits.tls_timeout_ms", l.tls_timeout_ms),
            ("limits.first_byte_timeout_ms", l.first_byte_timeout_ms),
            ("limits.body_timeout_ms", l.body_timeout_ms),
            ("limits.max_queue_wait_ms", l.max_queue_wait_ms),
            ("resolver.timeout_ms", self.resolver.timeout_ms),
            ("limits.max_deadline_ms", l.max_deadline_ms),
            ("signing.trust_s", self.signing.trust_s),
            (
                "server.request_read_timeout_ms",
                self.server.request_read_timeout_ms,
            ),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ConfigError::Range {
                    key,
                    why: "must be greater than zero",
                });
            }
        }
        if self.server.max_request_head_bytes < MIN_REQUEST_HEAD_BYTES {
            return Err(ConfigError::Range {
                key: "server.max_request_head_bytes",
                why: "must be at least 8192 (the HTTP/1 parser's smallest buffer)",
            });
        }
        if l.max_concurrent_fetches == 0 {
            return Err(ConfigError::Range {
                key: "limits.max_concurrent_fetches",
                why: "must be greater than zero",
            });
        }
        if let Some(fleet) = &self.fleet {
            fleet.check()?;
        }
        if self.cache.min_ttl_s > self.cache.max_ttl_s {
            return Err(ConfigError::Range {
                key: "cache.min_ttl_s",
                why: "must not exceed cache.max_ttl_s",
            });
        }
        let r = &self.rate;
        if r.per_caller_per_s == 0
            || r.per_target_host_per_s == 0
            || r.per_caller_target_host_per_s == 0
        {
            return Err(ConfigError::Range {
                key: "rate",
                why: "rates must be greater than zero",
            });
        }
        let p = &self.proxy;
        let proxy_positive = [
            ("proxy.header_read_timeout_ms", p.header_read_timeout_ms),
            ("proxy.connect_timeout_ms", p.connect_timeout_ms),
            ("proxy.idle_timeout_ms", p.idle_timeout_ms),
            ("proxy.max_lifetime_ms", p.max_lifetime_ms),
            ("proxy.max_connections", p.max_connections as u64),
            ("proxy.max_tunnels", p.max_tunnels as u64),
            (
                "proxy.max_tunnels_per_caller",
                p.max_tunnels_per_caller as u64,
            ),
            ("proxy.per_caller_per_s", u64::from(p.per_caller_per_s)),
            (
                "proxy.per_target_host_per_s",
                u64::from(p.per_target_host_per_s),
            ),
        ];
        for (key, value) in proxy_positive {
            if value == 0 {
                return Err(ConfigError::Range {
                    key,
                    why: "must be greater than zero",
                });
            }
        }
        if p.callers.iter().any(|c| c.name.is_empty()) {
            return Err(ConfigError::Range {
                key: "proxy.callers.name",
                why: "must not be empty",
            });
        }
        self.check_callers()?;
        Ok(())
    }

    /// Callers built in code skip the parser, so this runs on every config: names must be
    /// non-empty and unique (they become `aud`), and no two callers may share a token.
    pub fn check_callers(&self) -> Result<(), ConfigError> {
        let callers = &self.server.callers;
        for (index, caller) in callers.iter().enumerate() {
            let bad = |why| ConfigError::Caller {
                index,
                name: caller.name.clone(),
                why,
            };
            if caller.name.trim().is_empty() {
                return Err(bad("name must not be empty"));
            }
            if callers[..index].iter().any(|c| c.name == caller.name) {
                return Err(bad("name is used by an earlier caller"));
            }
            if callers[..index]
                .iter()
                .any(|c| c.token_sha256 == caller.token_sha256)
            {
                return Err(bad("token_sha256 is the same as an earlier caller's"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_text_is_the_default() {
        let c = Config::from_toml_str("").unwrap();
        assert_eq!(c.server.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.limits.max_redirects, DEFAULT_MAX_REDIRECTS);
        assert_eq!(
            c.limits.max_body_bytes.for_kind(Kind::ClientMetadata),
            DEFAULT_MAX_BODY_BYTES_CLIENT_METADATA
        );
    }

    #[test]
    fn unknown_key_is_an_error() {
        let err = Config::from_toml_str("[limits]\nmax_redirect = 2\n").unwrap_err();
        assert!(err.to_string().contains("max_redirect"), "{err}");
    }

    #[test]
    fn unknown_section_is_an_error() {
        assert!(Config::from_toml_str("[limit]\n").is_err());
    }

    #[test]
    fn zero_timeout_is_out_of_range() {
        let err = Config::from_toml_str("[limits]\ntotal_timeout_ms = 0\n").unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Range {
                key: "limits.total_timeout_ms",
                ..
            }
        ));
    }

    #[test]
    fn request_head_bound_cannot_go_below_the_parser_minimum() {
        let err = Config::from_toml_str("[server]\nmax_request_head_bytes = 8191\n").unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Range {
                key: "server.max_request_head_bytes",
                ..
            }
        ));
        let c = Config::from_toml_str("[server]\nmax_request_head_bytes = 8192\n").unwrap();
        assert_eq!(c.server.max_request_head_bytes, MIN_REQUEST_HEAD_BYTES);
        let default = Config::from_toml_str("").unwrap();
        assert_eq!(
            default.server.max_request_head_bytes,
            DEFAULT_MAX_REQUEST_HEAD_BYTES
        );
    }

    #[test]
    fn proxy_is_off_by_default_and_checked() {
        let c = Config::from_toml_str("").unwrap();
        assert!(c.proxy.listen.is_none());
        assert_eq!(c.proxy.idle_timeout_ms, DEFAULT_PROXY_IDLE_TIMEOUT_MS);
        assert!(Config::from_toml_str("[proxy]\nidle_timeout_ms = 0\n").is_err());
        assert!(Config::from_toml_str("[proxy]\nlisen = \"127.0.0.1:1\"\n").is_err());
        let roles = "[[proxy.callers]]\nname = \"as\"\nallow_hosts = [\"*.example.com\"]\nreport_only = true\n";
        let c = Config::from_toml_str(roles).unwrap();
        assert!(c.proxy.callers[0].report_only);
    }

    #[test]
    fn admission_keys_parse_and_queue_wait_must_be_positive() {
        let text = "[rate]\nper_caller_target_host_per_s = 3\nper_caller_target_host_burst = 7\n\
                    [limits]\nmax_queued_per_caller = 9\nmax_queue_wait_ms = 250\nreserved_fetch_slots = 2\n";
        let c = Config::from_toml_str(text).unwrap();
        assert_eq!(
            (
                c.rate.per_caller_target_host_per_s,
                c.rate.per_caller_target_host_burst
            ),
            (3, 7)
        );
        assert_eq!(
            (
                c.limits.max_queued_per_caller,
                c.limits.max_queue_wait_ms,
                c.limits.reserved_fetch_slots
            ),
            (9, 250, 2)
        );
        let err = Config::from_toml_str("[limits]\nmax_queue_wait_ms = 0\n").unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Range {
                key: "limits.max_queue_wait_ms",
                ..
            }
        ));
        assert!(Config::from_toml_str("[rate]\nper_caller_target_host_per_s = 0\n").is_err());
    }

    #[test]
    fn caller_token_hash_must_be_hex_and_errors_name_the_caller_and_line() {
        let text = "[server]\n[[server.callers]]\nname = \"as\"\ntoken_sha256 = \"XYZ\"\n";
        let err = Config::from_toml_str(text).unwrap_err().to_string();
        assert!(err.contains("caller \"as\""), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("64 hex digits"), "{err}");
        let bad_digit = format!("{}g", "a".repeat(63));
        let text = format!("[[server.callers]]\nname = \"as\"\ntoken_sha256 = \"{bad_digit}\"\n");
        let err = Config::from_toml_str(&text).unwrap_err().to_string();
        assert!(err.contains("character 64 is not hex"), "{err}");
        let good = format!(
            "[[server.callers]]\nname = \"as\"\ntoken_sha256 = \"{}\"\n",
            "a".repeat(64)
        );
        assert_eq!(
            Config::from_toml_str(&good).unwrap().server.callers.len(),
            1
        );
    }

    #[test]
    fn upper_case_hash_is_the_same_hash() {
        let lower = TokenHash::of_token("abc").to_hex();
        assert_eq!(
            lower,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let upper: TokenHash = lower.to_ascii_uppercase().parse().unwrap();
        assert_eq!(upper, TokenHash::of_token("abc"));
    }

    #[test]
    fn duplicate_callers_are_errors_that_name_the_caller() {
        let hash = TokenHash::of_token("t").to_hex();
        let other = TokenHash::of_token("u").to_hex();
        let text = format!(
            "[[server.callers]]\nname = \"a\"\ntoken_sha256 = \"{hash}\"\n[[server.callers]]\nname = \"b\"\ntoken_sha256 = \"{hash}\"\n"
        );
        let err = Config::from_toml_str(&text).unwrap_err().to_string();
        assert!(err.contains("caller \"b\" (server.callers[1])"), "{err}");
        let text = format!(
            "[[server.callers]]\nname = \"a\"\ntoken_sha256 = \"{hash}\"\n[[server.callers]]\nname = \"a\"\ntoken_sha256 = \"{other}\"\n"
        );
        assert!(Config::from_toml_str(&text).is_err());
    }

    #[test]
    fn listen_needs_an_ip_literal_and_says_so() {
        let err = Config::from_toml_str("[server]\nlisten = \"localhost:8788\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("IP literal"), "{err}");
        assert!(err.contains("127.0.0.1:8788"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        let ok = Config::from_toml_str("[server]\nlisten = \"[::1]:8788\"\n").unwrap();
        assert_eq!(ok.server.listen.port(), 8788);
    }

    #[test]
    fn log_format_parses() {
        let c = Config::from_toml_str("[log]\nformat = \"json\"\n").unwrap();
        assert_eq!(c.log.format, LogFormat::Json);
        assert!(Config::from_toml_str("[log]\nformat = \"xml\"\n").is_err());
        assert_eq!("JSON".parse::<LogFormat>(), Ok(LogFormat::Json));
    }
}

/// Bound on every Redis call in fleet mode: a slow Redis costs a request at most this much
/// before it falls back to local behaviour ("tens of ms").
pub const DEFAULT_FLEET_TIMEOUT_MS: u64 = 50;
/// Namespace of every fleet key; the format version is appended (`portcullis:v1:`), so two
/// formats in one fleet during a rolling upgrade never read each other's entries.
pub const DEFAULT_FLEET_KEY_PREFIX: &str = "portcullis";
/// Largest shared cache entry (sealed judgement) written or read; bigger ones stay local.
pub const DEFAULT_FLEET_MAX_ENTRY_BYTES: usize = 256 * 1024;
/// Shared cache entries this replica writes per minute at most; bounds what one replica (or
/// an attacker varying URLs through it) can push into Redis. Redis itself should also run
/// with `maxmemory` and an LRU policy (docs/operations.md).
pub const DEFAULT_FLEET_MAX_WRITES_PER_MIN: u32 = 6_000;
/// Lifetime of a cross-replica single-flight lock: longer than a whole fetch, so a live
/// leader keeps it; a crashed leader frees it after this.
pub const DEFAULT_FLEET_LOCK_TTL_MS: u64 = 10_000;
/// Lifetime of a published verdict key; refreshed every third of it, so a stopped replica's
/// key disappears from `/v1/keys` within this time (verdicts it signed stop verifying then).
pub const DEFAULT_FLEET_KEY_TTL_S: u64 = 86_400;
/// How often a replica pings Redis, refreshes its published key and re-reads the fleet's keys.
pub const DEFAULT_FLEET_REFRESH_MS: u64 = 5_000;
/// Fallback poll of a waiting single-flight follower in case a wake-up message is lost.
pub const DEFAULT_FLEET_WAIT_POLL_MS: u64 = 250;
/// Shortest fleet MAC secret accepted (bytes of the secret file, after trimming).
pub const MIN_FLEET_SECRET_BYTES: usize = 32;

/// `[fleet]`: replicas share the verdict cache, single flight, rate limits and verdict keys
/// through Redis. No secret is written inline: passwords and the MAC key come from files.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetConfig {
    /// `redis://host:port/db`, `rediss://…` (TLS, rustls) or `redis+unix:///path.sock`;
    /// must not carry a password (use `password_file`).
    pub redis_url: String,
    /// ACL user name (Redis 6+); absent means the default user.
    #[serde(default)]
    pub username: Option<String>,
    /// File holding the Redis password (AUTH); trimmed.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// PEM CA certificate(s) that sign a `rediss://` server's certificate; absent means the
    /// system trust store.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// File holding the fleet MAC secret (≥ 32 bytes); every replica uses the same one.
    pub secret_file: PathBuf,
    /// Bound on every Redis call.
    #[serde(default = "default_fleet_timeout_ms")]
    pub timeout_ms: u64,
    /// Key namespace.
    #[serde(default = "default_fleet_key_prefix")]
    pub key_prefix: String,
    /// Largest shared cache entry.
    #[serde(default = "default_fleet_max_entry_bytes")]
    pub max_entry_bytes: usize,
    /// Shared cache writes per minute per replica.
    #[serde(default = "default_fleet_max_writes_per_min")]
    pub max_writes_per_min: u32,
    /// Single-flight lock lifetime.
    #[serde(default = "default_fleet_lock_ttl_ms")]
    pub lock_ttl_ms: u64,
    /// Published verdict key lifetime.
    #[serde(default = "default_fleet_key_ttl_s")]
    pub key_ttl_s: u64,
    /// Health / key refresh period.
    #[serde(default = "default_fleet_refresh_ms")]
    pub refresh_ms: u64,
    /// Fallback poll of single-flight followers.
    #[serde(default = "default_fleet_wait_poll_ms")]
    pub wait_poll_ms: u64,
}

fn default_fleet_timeout_ms() -> u64 {
    DEFAULT_FLEET_TIMEOUT_MS
}
fn default_fleet_key_prefix() -> String {
    DEFAULT_FLEET_KEY_PREFIX.to_owned()
}
fn default_fleet_max_entry_bytes() -> usize {
    DEFAULT_FLEET_MAX_ENTRY_BYTES
}
fn default_fleet_max_writes_per_min() -> u32 {
    DEFAULT_FLEET_MAX_WRITES_PER_MIN
}
fn default_fleet_lock_ttl_ms() -> u64 {
    DEFAULT_FLEET_LOCK_TTL_MS
}
fn default_fleet_key_ttl_s() -> u64 {
    DEFAULT_FLEET_KEY_TTL_S
}
fn default_fleet_refresh_ms() -> u64 {
    DEFAULT_FLEET_REFRESH_MS
}
fn default_fleet_wait_poll_ms() -> u64 {
    DEFAULT_FLEET_WAIT_POLL_MS
}

impl FleetConfig {
    /// A config with every default, for tests and tools.
    pub fn new(redis_url: impl Into<String>, secret_file: PathBuf) -> FleetConfig {
        FleetConfig {
            redis_url: redis_url.into(),
            username: None,
            password_file: None,
            ca_file: None,
            secret_file,
            timeout_ms: DEFAULT_FLEET_TIMEOUT_MS,
            key_prefix: DEFAULT_FLEET_KEY_PREFIX.to_owned(),
            max_entry_bytes: DEFAULT_FLEET_MAX_ENTRY_BYTES,
            max_writes_per_min: DEFAULT_FLEET_MAX_WRITES_PER_MIN,
            lock_ttl_ms: DEFAULT_FLEET_LOCK_TTL_MS,
            key_ttl_s: DEFAULT_FLEET_KEY_TTL_S,
            refresh_ms: DEFAULT_FLEET_REFRESH_MS,
            wait_poll_ms: DEFAULT_FLEET_WAIT_POLL_MS,
        }
    }

    fn check(&self) -> Result<(), ConfigError> {
        let positive = [
            ("fleet.timeout_ms", self.timeout_ms),
            ("fleet.lock_ttl_ms", self.lock_ttl_ms),
            ("fleet.key_ttl_s", self.key_ttl_s),
            ("fleet.refresh_ms", self.refresh_ms),
            ("fleet.wait_poll_ms", self.wait_poll_ms),
            ("fleet.max_entry_bytes", self.max_entry_bytes as u64),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ConfigError::Range {
                    key,
                    why: "must be greater than zero",
                });
            }
        }
        if self.key_prefix.is_empty() || self.key_prefix.contains(char::is_whitespace) {
            return Err(ConfigError::Range {
                key: "fleet.key_prefix",
                why: "must be non-empty without spaces",
            });
        }
        Ok(())
    }
}
