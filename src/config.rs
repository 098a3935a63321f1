//! Service configuration: TOML, every key optional, every default a named constant.
//!
//! Structs use `deny_unknown_fields` so a typo in a key is an error, never a silent default.
//! This module only parses and checks text; reading the file is the caller's job.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::kind::Kind;

/// Where the service listens when nothing is configured: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
/// Largest `POST /v1/fetch` body accepted; a request is a URL and a few expectations.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 16 * 1024;
/// Time a caller has to send a whole request body (slowloris bound).
pub const DEFAULT_REQUEST_READ_TIMEOUT_MS: u64 = 5_000;
/// Time in-flight requests get to finish after SIGTERM.
pub const DEFAULT_SHUTDOWN_GRACE_MS: u64 = 10_000;
/// Concurrent client connections accepted by the API server.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4_096;

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
/// Requests waiting for a fetch slot before new ones get 503.
pub const DEFAULT_MAX_QUEUED_REQUESTS: usize = 1_024;

/// Shortest lifetime of a cached valid verdict, whatever the origin says.
pub const DEFAULT_CACHE_MIN_TTL_S: u64 = 300;
/// Longest lifetime of a cached valid verdict.
pub const DEFAULT_CACHE_MAX_TTL_S: u64 = 86_400;
/// Lifetime of a cached failure (invalid, blocked, unreachable) for most kinds.
pub const DEFAULT_CACHE_NEGATIVE_TTL_S: u64 = 30;
/// Lifetime of a cached CIMD failure: the draft forbids caching error responses.
pub const DEFAULT_CACHE_NEGATIVE_TTL_CLIENT_METADATA_S: u64 = 0;
/// Entries kept in the verdict cache.
pub const DEFAULT_CACHE_MAX_ENTRIES: usize = 10_000;
/// Bytes of cached verdicts kept (documents are counted by their serialized size).
pub const DEFAULT_CACHE_MAX_BYTES: usize = 64 * 1024 * 1024;

/// Requests per second each caller may make (sustained).
pub const DEFAULT_RATE_PER_CALLER_PER_S: u32 = 100;
/// Burst each caller may make.
pub const DEFAULT_RATE_PER_CALLER_BURST: u32 = 200;
/// Upstream fetches per second to one target host, so the service never floods a site.
pub const DEFAULT_RATE_PER_HOST_PER_S: u32 = 5;
/// Burst of upstream fetches to one target host.
pub const DEFAULT_RATE_PER_HOST_BURST: u32 = 10;

/// `iss` of every verdict.
pub const DEFAULT_ISSUER: &str = "portcullis";

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
    /// Fleet mode on Redis (issue 16); absent means one self-contained replica, no Redis code.
    pub fleet: Option<FleetConfig>,
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
    /// TCP address of the API.
    pub listen: SocketAddr,
    /// Also (or only, with `listen_tcp = false`) listen on this Unix socket.
    pub unix_socket: Option<PathBuf>,
    /// Whether to listen on `listen` at all (turn off to serve only on the Unix socket).
    pub listen_tcp: bool,
    /// Authenticated callers; empty means loopback-only and unauthenticated.
    pub callers: Vec<CallerConfig>,
    /// Largest request body.
    pub max_request_bytes: usize,
    /// Deadline for reading a request body.
    pub request_read_timeout_ms: u64,
    /// Time given to in-flight requests on shutdown.
    pub shutdown_grace_ms: u64,
    /// Concurrent API connections.
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            unix_socket: None,
            listen_tcp: true,
            callers: Vec::new(),
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            request_read_timeout_ms: DEFAULT_REQUEST_READ_TIMEOUT_MS,
            shutdown_grace_ms: DEFAULT_SHUTDOWN_GRACE_MS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8787))
}

/// One authenticated caller. Only the SHA-256 of its token is stored.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallerConfig {
    /// Name used as the verdict `aud` and in audit records.
    pub name: String,
    /// Lower-case hex SHA-256 of the bearer token.
    pub token_sha256: String,
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
    /// Requests waiting for a fetch slot.
    pub max_queued_requests: usize,
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
    /// Shortest lifetime of a valid verdict.
    pub min_ttl_s: u64,
    /// Longest lifetime of a valid verdict.
    pub max_ttl_s: u64,
    /// Lifetime of failures for most kinds.
    pub negative_ttl_s: u64,
    /// Lifetime of CIMD failures.
    pub negative_ttl_client_metadata_s: u64,
    /// Entries kept.
    pub max_entries: usize,
    /// Bytes kept.
    pub max_bytes: usize,
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
    /// Upstream fetches per second per target host.
    pub per_target_host_per_s: u32,
    /// Burst per target host.
    pub per_target_host_burst: u32,
}

impl Default for RateConfig {
    fn default() -> Self {
        RateConfig {
            per_caller_per_s: DEFAULT_RATE_PER_CALLER_PER_S,
            per_caller_burst: DEFAULT_RATE_PER_CALLER_BURST,
            per_target_host_per_s: DEFAULT_RATE_PER_HOST_PER_S,
            per_target_host_burst: DEFAULT_RATE_PER_HOST_BURST,
        }
    }
}

/// Signature algorithm of the verdict key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum SigningAlg {
    /// Ed25519 (RFC 8037).
    #[default]
    EdDSA,
    /// ECDSA P-256 with SHA-256.
    ES256,
}

/// `[signing]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigningConfig {
    /// The signing key (PKCS#8 PEM).
    pub key_file: Option<PathBuf>,
    /// Older keys still published in `/v1/keys` during rotation (they do not sign).
    pub previous_key_files: Vec<PathBuf>,
    /// Algorithm of the ephemeral key made when no key file is set.
    pub ephemeral_alg: SigningAlg,
    /// `iss` claim.
    pub issuer: String,
}

impl Default for SigningConfig {
    fn default() -> Self {
        SigningConfig {
            key_file: None,
            previous_key_files: Vec::new(),
            ephemeral_alg: SigningAlg::EdDSA,
            issuer: DEFAULT_ISSUER.to_owned(),
        }
    }
}

/// `[documents]`: stricter-than-spec policy an operator may turn on.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DocumentsConfig {
    /// CIMD redirect URIs (https ones) and `client_uri` must share the client_id's origin.
    pub cimd_same_origin_redirects: bool,
    /// When non-empty, client_id hosts must equal or be a subdomain of one of these.
    pub client_id_domains: Vec<String>,
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
            ("resolver.timeout_ms", self.resolver.timeout_ms),
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
        if r.per_caller_per_s == 0 || r.per_target_host_per_s == 0 {
            return Err(ConfigError::Range {
                key: "rate",
                why: "rates must be greater than zero",
            });
        }
        for caller in &self.server.callers {
            let hex_ok = caller.token_sha256.len() == 64
                && caller
                    .token_sha256
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if !hex_ok {
                return Err(ConfigError::Range {
                    key: "server.callers.token_sha256",
                    why: "must be 64 lower-case hex digits",
                });
            }
            if caller.name.is_empty() {
                return Err(ConfigError::Range {
                    key: "server.callers.name",
                    why: "must not be empty",
                });
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
    fn caller_token_hash_must_be_hex() {
        let text = "[[server.callers]]\nname = \"as\"\ntoken_sha256 = \"XYZ\"\n";
        assert!(Config::from_toml_str(text).is_err());
        let good = format!(
            "[[server.callers]]\nname = \"as\"\ntoken_sha256 = \"{}\"\n",
            "a".repeat(64)
        );
        assert_eq!(
            Config::from_toml_str(&good).unwrap().server.callers.len(),
            1
        );
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
