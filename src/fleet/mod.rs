//! Fleet mode: replicas share the verdict cache, single flight, rate limits and verdict keys
//! through Redis (issue 16). Without `[fleet]` none of this is built and no Redis code runs.
//!
//! # The seam (what the service core calls)
//!
//! The fleet layer knows nothing about judgements or verdicts: it moves opaque, sealed
//! bytes keyed by a question id. The core calls it at five points:
//!
//! 1. **lookup + flight** — on a local cache miss, inside the local single flight (so one
//!    call per replica per question): [`Fleet::acquire`] with the question id
//!    ([`question_id`]). One Redis round trip (a script) answers with one of
//!    * [`Acquired::Shared`] — another replica's judgement (from the shared cache, or the
//!      flight it just finished): decode it, keep it in the local cache, answer;
//!    * [`Acquired::Lead`] — this replica holds the fleet-wide lock: fetch, then
//!    * **store** — [`Fleet::finish`] with the encoded judgement, its expiry and cache
//!      lifetime: stores it (sealed), frees the lock, wakes the waiters (one round trip,
//!      spawn it off the reply path);
//!    * [`Acquired::Local`] — Redis unavailable or the wait ran out: fetch locally, as
//!      without a fleet;
//!    * [`Acquired::HostLimited`] — the fleet-wide per-host limit (checked in the same
//!      script when the lock is taken, so a cold miss is one round trip) refuses.
//! 2. **rate** — [`Fleet::admit_leased`] per caller (hot path: leases cells so most requests
//!    cost no round trip) and [`Fleet::admit`] per target host (exact; the service passes it to
//!    `acquire` instead, so it costs no round trip of its own): `Some(Ok)`/`Some(Err(wait))` is the fleet-wide decision; `None` means "Redis
//!    unavailable, use the local limiter".
//! 3. **keys** — [`Fleet::jwks_json`] for `/v1/keys` (local keys + every live fleet key,
//!    refreshed in the background; no Redis call on the request path).
//! 4. **metrics** — [`Fleet::metrics_text`] appended to `/metrics`.
//!
//! # Faults
//! Every Redis call has a deadline (`timeout_ms`). After [`DOWN_AFTER_FAILURES`] failures
//! in a row the replica stops calling Redis (`portcullis_fleet_up` 0) and answers from
//! local state; a background probe brings it back when Redis answers again. The connection
//! manager reconnects by itself. The egress policy never depends on Redis.

pub mod envelope;
pub mod gcra;
pub mod metrics;

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{IntoConnectionInfo, ProtocolVersion, PushKind, RedisResult, Script, Value};
use serde_json::json;
use tokio::sync::Notify;

use crate::config::{FleetConfig, MIN_FLEET_SECRET_BYTES};
use envelope::{Namespace, OpenError, Sealer, digest_id};
use metrics::FleetMetrics;

/// Consecutive failed calls after which the replica treats Redis as down and stops calling
/// it until the background probe succeeds (a circuit breaker: a dead Redis must not cost
/// every request a timeout).
pub const DOWN_AFTER_FAILURES: u32 = 3;
/// Probe period while Redis is down (the normal period is `refresh_ms`).
pub const DOWN_PROBE_MS: u64 = 250;
/// Published verdict keys read per refresh at most (bounds a flooded key namespace).
pub const MAX_FLEET_KEYS: usize = 256;
/// Age after which an unspent rate lease is dropped.
pub const LEASE_MAX_AGE: Duration = Duration::from_secs(1);
/// Leases held at most (one per active caller); the map is cleared when full.
pub const MAX_LEASES: usize = 10_000;
/// Bytes of one published key entry read at most.
pub const MAX_KEY_ENTRY_BYTES: usize = 4 * 1024;

/// Why fleet mode could not start (a config error: exit code 2, never a verdict).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// A file could not be read.
    #[error("fleet: cannot read {path}: {why}")]
    File {
        /// The file.
        path: String,
        /// The OS error.
        why: String,
    },
    /// The secret file is too short.
    #[error("fleet: secret_file must hold at least {MIN_FLEET_SECRET_BYTES} bytes")]
    WeakSecret,
    /// The Redis URL is not usable.
    #[error("fleet: redis_url: {0}")]
    Url(String),
    /// The URL carries a password; secrets belong in `password_file`.
    #[error("fleet: redis_url must not contain a password; use password_file")]
    InlinePassword,
    /// Not called inside a tokio runtime.
    #[error("fleet: must start inside the tokio runtime")]
    NoRuntime,
    /// Metrics could not be registered.
    #[error("fleet: metrics: {0}")]
    Metrics(String),
}

impl FleetError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            FleetError::File { .. } => "fleet_file_unreadable",
            FleetError::WeakSecret => "fleet_secret_too_short",
            FleetError::Url(_) => "fleet_url_invalid",
            FleetError::InlinePassword => "fleet_url_inline_password",
            FleetError::NoRuntime => "fleet_no_runtime",
            FleetError::Metrics(_) => "fleet_metrics",
        }
    }
}

/// Another replica's (or the shared cache's) verified judgement bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedEntry {
    /// Encoded judgement.
    pub payload: Vec<u8>,
    /// Unix time it stops being trustworthy.
    pub expires_unix: u64,
}

/// Proof that this replica holds the fleet-wide lock of one question.
#[derive(Debug)]
pub struct FlightLock {
    id: String,
    token: String,
}

/// What [`Fleet::acquire`] found.
#[derive(Debug)]
pub enum Acquired {
    /// Another replica's result: answer from it.
    Shared(SharedEntry),
    /// This replica fetches; call [`Fleet::finish`] afterwards.
    Lead(FlightLock),
    /// Redis unavailable or waiting ran out: fetch locally (local host limit applies).
    Local,
    /// The fleet-wide host limit refuses the upstream fetch; retry after this.
    HostLimited(Duration),
}

/// The target host's fleet-wide limit, checked when the lock is taken.
#[derive(Clone, Copy, Debug)]
pub struct HostLimit<'a> {
    /// The host name (hashed into the key).
    pub name: &'a str,
    /// Fetches per second.
    pub per_s: u32,
    /// Burst.
    pub burst: u32,
}

/// The id of a question (kind, URL, expectations as canonical bytes): hashed, so URLs are
/// not written to Redis in clear and key length is bounded.
pub fn question_id(canonical: &[u8]) -> String {
    digest_id(canonical)
}

/// KEYS: entry, flight result, lock, host limiter. ARGV: lock token, lock TTL ms, host
/// `T` µs, host `tau` µs (`T` 0: no host limit). Returns `{1, value}` (entry), `{2, value}`
/// (flight result), `{3}` (lock taken and the upstream fetch admitted by the host limit),
/// `{4}` (held elsewhere), `{5, wait_µs}` (host limit: no lock kept). One round trip for a
/// cold miss: lookup, single flight and the fleet-wide host limit together.
const ACQUIRE_BODY: &str = r"
local v = redis.call('GET', KEYS[1])
if v then return {1, v} end
v = redis.call('GET', KEYS[2])
if v then return {2, v} end
if not redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[2]) then return {4} end
if tonumber(ARGV[3]) > 0 then
  local r = gcra(KEYS[4], ARGV[3], ARGV[4], 1)
  if r[1] == 0 then
    redis.call('DEL', KEYS[3])
    return {5, r[2]}
  end
end
return {3}
";

/// KEYS: result key, lock. ARGV: sealed value, TTL ms (0: do not store), lock token,
/// channel, id. Stores, frees the lock if still ours, wakes the waiters.
const FINISH_SCRIPT: &str = r"
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
";

type Waiters = Arc<Mutex<HashMap<String, Arc<Notify>>>>;

/// Cells of one fleet-wide limit held by this replica.
struct Lease {
    /// Cells leased and not yet spent.
    left: u64,
    /// When the last cells were leased.
    at: Instant,
    /// The fleet refused until then.
    denied_until: Option<Instant>,
}

/// One replica's connection to the fleet.
pub struct Fleet {
    conn: ConnectionManager,
    ns: Namespace,
    sealer: Sealer,
    config: FleetConfig,
    timeout: Duration,
    up: AtomicBool,
    failures: AtomicU32,
    metrics: FleetMetrics,
    waiters: Waiters,
    acquire: Script,
    finish: Script,
    gcra: Script,
    writes: DefaultDirectRateLimiter,
    leases: Mutex<HashMap<String, Lease>>,
    local_keys: Vec<serde_json::Value>,
    jwks: Mutex<Bytes>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn read_file(path: &Path) -> Result<Vec<u8>, FleetError> {
    std::fs::read(path).map_err(|e| FleetError::File {
        path: path.display().to_string(),
        why: e.to_string(),
    })
}

fn trimmed(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

impl Fleet {
    /// Reads the secret (and password) files, prepares a lazily connecting, self-reconnecting
    /// Redis client and starts the background task (health probe, pub/sub subscription, key
    /// publication and listing). Does not wait for Redis: a replica starts, and answers from
    /// local state, while Redis is down. `local_keys` are this replica's public JWKs.
    pub fn start(
        config: &FleetConfig,
        local_keys: Vec<serde_json::Value>,
    ) -> Result<Arc<Fleet>, FleetError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| FleetError::NoRuntime)?;
        let secret = read_file(&config.secret_file)?;
        let secret = trimmed(&secret);
        if secret.len() < MIN_FLEET_SECRET_BYTES {
            return Err(FleetError::WeakSecret);
        }
        let info = config
            .redis_url
            .as_str()
            .into_connection_info()
            .map_err(|e| FleetError::Url(e.to_string()))?;
        if info.redis_settings().password().is_some() {
            return Err(FleetError::InlinePassword);
        }
        let mut redis_settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        if let Some(user) = &config.username {
            redis_settings = redis_settings.set_username(user);
        }
        if let Some(path) = &config.password_file {
            let password = read_file(path)?;
            let password = String::from_utf8_lossy(trimmed(&password)).into_owned();
            redis_settings = redis_settings.set_password(password);
        }
        let info = info.set_redis_settings(redis_settings);
        let client = match &config.ca_file {
            Some(path) => redis::Client::build_with_tls(
                info,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(read_file(path)?),
                },
            ),
            None => redis::Client::open(info),
        }
        .map_err(|e| FleetError::Url(e.to_string()))?;

        let waiters: Waiters = Arc::new(Mutex::new(HashMap::new()));
        let push_waiters = waiters.clone();
        let timeout = Duration::from_millis(config.timeout_ms);
        let manager_config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(timeout))
            .set_connection_timeout(Some(timeout.max(Duration::from_millis(500))))
            .set_max_delay(Duration::from_secs(2))
            .set_push_sender(move |info: redis::PushInfo| {
                wake(&push_waiters, info);
                Ok::<(), redis::aio::SendError>(())
            })
            .set_automatic_resubscription();
        let _enter = runtime.enter();
        let conn = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(|e| FleetError::Url(e.to_string()))?;
        let per_min = NonZeroU32::new(config.max_writes_per_min).unwrap_or(NonZeroU32::MIN);
        let metrics = FleetMetrics::new().map_err(|e| FleetError::Metrics(e.to_string()))?;
        let fleet = Arc::new(Fleet {
            conn,
            ns: Namespace::new(&config.key_prefix),
            sealer: Sealer::new(secret),
            config: config.clone(),
            timeout,
            up: AtomicBool::new(true),
            failures: AtomicU32::new(0),
            metrics,
            waiters,
            acquire: Script::new(&format!("{}\n{ACQUIRE_BODY}", gcra::GCRA_FUNCTION)),
            finish: Script::new(FINISH_SCRIPT),
            gcra: Script::new(&gcra::gcra_script()),
            writes: DefaultDirectRateLimiter::direct(Quota::per_minute(per_min)),
            leases: Mutex::new(HashMap::new()),
            jwks: Mutex::new(Bytes::from(
                serde_json::to_vec(&json!({ "keys": local_keys })).unwrap_or_default(),
            )),
            local_keys,
        });
        fleet.metrics.up.set(1);
        runtime.spawn(background(Arc::downgrade(&fleet)));
        Ok(fleet)
    }

    /// Key names (for tests and tools that inspect Redis).
    pub fn namespace(&self) -> &Namespace {
        &self.ns
    }

    /// Whether Redis is being used now (false: local fallback).
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// The fleet metrics (for tests).
    pub fn metrics(&self) -> &FleetMetrics {
        &self.metrics
    }

    /// Runs one Redis call under the deadline, with latency, error and breaker accounting.
    /// `None`: failed, timed out, or skipped because Redis is down.
    async fn call<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = RedisResult<T>>,
    ) -> Option<T> {
        if !self.is_up() {
            self.metrics.fallbacks.with_label_values(&[op]).inc();
            return None;
        }
        self.call_anyway(op, fut).await
    }

    async fn call_anyway<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = RedisResult<T>>,
    ) -> Option<T> {
        let started = Instant::now();
        let result = tokio::time::timeout(self.timeout, fut).await;
        self.metrics
            .latency
            .with_label_values(&[op])
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok(Ok(value)) => {
                self.failures.store(0, Ordering::Relaxed);
                Some(value)
            }
            Ok(Err(e)) => {
                tracing::debug!(op, error = %e, "fleet: redis call failed");
                self.failed(op);
                None
            }
            Err(_) => {
                tracing::debug!(op, "fleet: redis call timed out");
                self.failed(op);
                None
            }
        }
    }

    fn failed(&self, op: &'static str) {
        self.metrics.errors.with_label_values(&[op]).inc();
        self.metrics.fallbacks.with_label_values(&[op]).inc();
        if self.failures.fetch_add(1, Ordering::Relaxed) + 1 >= DOWN_AFTER_FAILURES
            && self.up.swap(false, Ordering::Relaxed)
        {
            tracing::warn!("fleet: redis unavailable, answering from local state");
            self.metrics.up.set(0);
        }
    }

    fn open(&self, key: &str, stored: &[u8]) -> Option<SharedEntry> {
        if stored.len() > self.config.max_entry_bytes + envelope::HEADER_BYTES {
            self.reject(OpenError::Malformed);
            return None;
        }
        match self.sealer.open(key, stored, unix_now()) {
            Ok(o) => Some(SharedEntry {
                payload: o.payload,
                expires_unix: o.expires_unix,
            }),
            Err(e) => {
                self.reject(e);
                None
            }
        }
    }

    /// Counts an entry the core (or this layer) refused.
    pub fn reject(&self, why: OpenError) {
        if why == OpenError::BadMac {
            tracing::warn!("fleet: dropped a shared entry whose MAC does not verify");
        }
        self.metrics.rejected.with_label_values(&[why.code()]).inc();
    }

    /// One round trip: the shared entry, the lock, or "held elsewhere" (then waits for the
    /// holder's result up to `wait`, woken by pub/sub, with a bounded fallback poll).
    pub async fn acquire(&self, id: &str, wait: Duration, host: Option<HostLimit<'_>>) -> Acquired {
        let (interval, tolerance) = host
            .map(|h| gcra::parameters(h.per_s, h.burst))
            .unwrap_or((0, 0));
        let keys = [
            self.ns.entry(id),
            self.ns.flight_result(id),
            self.ns.lock(id),
            self.ns
                .rate("host", host.map(|h| h.name).unwrap_or_default()),
        ];
        let deadline = Instant::now() + wait;
        let mut waiter: Option<WaiterGuard> = None;
        loop {
            let notify = waiter.as_ref().map(|w| w.notify.clone());
            let notified = notify.as_ref().map(|n| n.notified());
            tokio::pin!(notified);
            if let Some(n) = notified.as_mut().as_pin_mut() {
                n.enable();
            }
            let token = envelope::digest_id(&rand::random::<[u8; 16]>());
            let mut conn = self.conn.clone();
            let mut invocation = self.acquire.prepare_invoke();
            invocation
                .key(&keys[0])
                .key(&keys[1])
                .key(&keys[2])
                .key(&keys[3])
                .arg(&token)
                .arg(self.config.lock_ttl_ms)
                .arg(interval)
                .arg(tolerance);
            let op = if waiter.is_some() { "wait" } else { "lookup" };
            let Some(reply) = self
                .call(op, invocation.invoke_async::<Value>(&mut conn))
                .await
            else {
                return Acquired::Local;
            };
            match parse_acquire(&reply) {
                Some((1, Some(bytes))) => match self.open(&keys[0], &bytes) {
                    Some(entry) => {
                        self.metrics.shared_hits.with_label_values(&["cache"]).inc();
                        return Acquired::Shared(entry);
                    }
                    // A refused entry is a miss: this replica fetches, and its sealed
                    // result replaces the bad one.
                    None => return Acquired::Local,
                },
                Some((2, Some(bytes))) => {
                    if let Some(entry) = self.open(&keys[1], &bytes) {
                        self.metrics
                            .shared_hits
                            .with_label_values(&["flight"])
                            .inc();
                        return Acquired::Shared(entry);
                    }
                    return Acquired::Local;
                }
                Some((3, _)) => {
                    return Acquired::Lead(FlightLock {
                        id: id.to_owned(),
                        token,
                    });
                }
                Some((4, _)) => {}
                Some((5, _)) => {
                    let wait = match reply {
                        Value::Array(ref items) => match items.get(1) {
                            Some(Value::Int(w)) => u64::try_from(*w).unwrap_or(1),
                            _ => 1,
                        },
                        _ => 1,
                    };
                    return Acquired::HostLimited(Duration::from_micros(wait.max(1)));
                }
                _ => {
                    self.failed(op);
                    return Acquired::Local;
                }
            }
            // Held by another replica: wait for its "done" message (or the poll tick),
            // then ask again. The waiter is registered before the first re-check, so a
            // message sent in between is not lost.
            let now = Instant::now();
            if now >= deadline {
                self.metrics.fallbacks.with_label_values(&["wait"]).inc();
                return Acquired::Local;
            }
            match notified.as_mut().as_pin_mut() {
                None => {
                    waiter = Some(WaiterGuard::register(&self.waiters, id));
                }
                Some(n) => {
                    let tick = Duration::from_millis(self.config.wait_poll_ms)
                        .min(deadline.saturating_duration_since(now));
                    let _ = tokio::time::timeout(tick, n).await;
                }
            }
        }
    }

    /// Stores this replica's result for `lock`'s question, frees the lock and wakes the
    /// waiters, in one round trip. `cache_ttl_s` 0 (not cacheable) stores the result only
    /// for the flight's waiters. Results larger than `max_entry_bytes`, or past this
    /// replica's write budget, are not stored (waiters then fetch themselves).
    pub async fn finish(
        &self,
        lock: FlightLock,
        payload: &[u8],
        expires_unix: u64,
        cache_ttl_s: u64,
    ) {
        let storable = payload.len() <= self.config.max_entry_bytes && self.writes.check().is_ok();
        let (key, ttl_ms, expires) = if cache_ttl_s > 0 {
            (
                self.ns.entry(&lock.id),
                cache_ttl_s.saturating_mul(1_000),
                expires_unix,
            )
        } else {
            let ttl_ms = self.config.lock_ttl_ms;
            (
                self.ns.flight_result(&lock.id),
                ttl_ms,
                unix_now() + ttl_ms.div_ceil(1_000),
            )
        };
        let sealed = storable.then(|| (self.sealer.seal(&key, expires, payload), ttl_ms));
        self.release(lock, &key, sealed).await;
    }

    /// Frees the lock without a result (the fetch was refused before it ran, e.g. by the
    /// host rate limit) and wakes the waiters, who then ask again.
    pub async fn abandon(&self, lock: FlightLock) {
        let key = self.ns.flight_result(&lock.id);
        self.release(lock, &key, None).await;
    }

    async fn release(&self, lock: FlightLock, key: &str, sealed: Option<(Vec<u8>, u64)>) {
        let (value, ttl_ms) = sealed.unwrap_or_default();
        let mut conn = self.conn.clone();
        let mut invocation = self.finish.prepare_invoke();
        invocation
            .key(key)
            .key(self.ns.lock(&lock.id))
            .arg(value)
            .arg(ttl_ms)
            .arg(&lock.token)
            .arg(self.ns.done_channel())
            .arg(&lock.id);
        let _ = self
            .call("finish", invocation.invoke_async::<Value>(&mut conn))
            .await;
    }

    /// Fleet-wide GCRA for one limiter key (`scope`: `caller` or `host`), one cell per
    /// call (exact; for upstream fetches). `None`: Redis unavailable, use the local limiter.
    pub async fn admit(
        &self,
        scope: &str,
        name: &str,
        per_s: u32,
        burst: u32,
    ) -> Option<Result<(), Duration>> {
        self.claim(scope, name, per_s, burst, 1)
            .await
            .map(|r| r.map(|_| ()))
    }

    /// Fleet-wide GCRA with leases (for per-caller limits on the hot path): spends a
    /// locally held lease when there is one, else leases [`gcra::lease_size`] cells in one
    /// call. Leases older than [`LEASE_MAX_AGE`] are dropped so a burst keeps its shape.
    pub async fn admit_leased(
        &self,
        scope: &str,
        name: &str,
        per_s: u32,
        burst: u32,
    ) -> Option<Result<(), Duration>> {
        let lease_key = format!("{scope}\u{0}{name}");
        let now = Instant::now();
        if let Ok(mut leases) = self.leases.lock()
            && let Some(lease) = leases.get_mut(&lease_key)
        {
            // A refusal holds until its retry time: a caller hammering past its limit is
            // refused locally instead of costing a Redis call per request.
            if let Some(until) = lease.denied_until
                && until > now
            {
                return Some(Err(until - now));
            }
            if lease.left > 0 && now.duration_since(lease.at) < LEASE_MAX_AGE {
                lease.left -= 1;
                return Some(Ok(()));
            }
        }
        let wanted = gcra::lease_size(per_s, burst);
        let decision = self.claim(scope, name, per_s, burst, wanted).await?;
        if let Ok(mut leases) = self.leases.lock() {
            if leases.len() >= MAX_LEASES {
                leases.clear();
            }
            let lease = leases.entry(lease_key).or_insert(Lease {
                left: 0,
                at: now,
                denied_until: None,
            });
            match decision {
                Ok(granted) => {
                    // Concurrent claims add up: replacing would throw leased cells away and
                    // drain the fleet bucket (measured: one claim per 2.5 requests).
                    if lease.at.elapsed() >= LEASE_MAX_AGE {
                        lease.left = 0;
                    }
                    lease.left += granted.saturating_sub(1);
                    lease.at = Instant::now();
                    lease.denied_until = None;
                }
                Err(wait) => lease.denied_until = Some(Instant::now() + wait),
            }
        }
        Some(decision.map(|_| ()))
    }

    async fn claim(
        &self,
        scope: &str,
        name: &str,
        per_s: u32,
        burst: u32,
        wanted: u64,
    ) -> Option<Result<u64, Duration>> {
        let (interval, tolerance) = gcra::parameters(per_s, burst);
        let mut conn = self.conn.clone();
        let mut invocation = self.gcra.prepare_invoke();
        invocation
            .key(self.ns.rate(scope, name))
            .arg(interval)
            .arg(tolerance)
            .arg(wanted);
        let (granted, wait): (u64, u64) = self
            .call("rate", invocation.invoke_async::<(u64, u64)>(&mut conn))
            .await?;
        Some(if granted > 0 {
            Ok(granted)
        } else {
            Err(Duration::from_micros(wait.max(1)))
        })
    }

    /// `/v1/keys`: this replica's keys plus every live, verified fleet key.
    pub fn jwks_json(&self) -> Bytes {
        self.jwks.lock().map(|j| j.clone()).unwrap_or_default()
    }

    /// The `portcullis_fleet_*` exposition text.
    pub fn metrics_text(&self) -> String {
        self.metrics.render()
    }

    /// One background round: probe, (re)subscribe, publish own keys, list the fleet's.
    /// Public so tests can force a refresh instead of waiting for the period.
    pub async fn refresh(&self) {
        let mut conn = self.conn.clone();
        let pong = self
            .call_anyway("ping", redis::cmd("PING").query_async::<String>(&mut conn))
            .await;
        if pong.is_none() {
            return;
        }
        if !self.up.swap(true, Ordering::Relaxed) {
            tracing::info!("fleet: redis is back");
        }
        self.metrics.up.set(1);
        let channel = self.ns.done_channel();
        let _ = self.call("subscribe", conn.subscribe(&channel)).await;
        self.publish_keys().await;
        self.list_keys().await;
    }

    async fn publish_keys(&self) {
        let expires = unix_now() + self.config.key_ttl_s;
        for jwk in &self.local_keys {
            let kid = jwk.get("kid").and_then(|k| k.as_str()).unwrap_or_default();
            let key = self.ns.verdict_key(kid);
            let sealed = self.sealer.seal(&key, expires, jwk.to_string().as_bytes());
            let mut conn = self.conn.clone();
            let cmd = redis::cmd("SET")
                .arg(&key)
                .arg(sealed)
                .arg("EX")
                .arg(self.config.key_ttl_s)
                .to_owned();
            let _ = self
                .call("publish_key", cmd.query_async::<Value>(&mut conn))
                .await;
        }
    }

    async fn list_keys(&self) {
        let mut conn = self.conn.clone();
        let mut cursor: u64 = 0;
        let mut names: Vec<String> = Vec::new();
        loop {
            let cmd = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(self.ns.verdict_key_pattern())
                .arg("COUNT")
                .arg(100)
                .to_owned();
            let Some((next, batch)) = self
                .call(
                    "list_keys",
                    cmd.query_async::<(u64, Vec<String>)>(&mut conn),
                )
                .await
            else {
                return;
            };
            names.extend(batch);
            if next == 0 || names.len() >= MAX_FLEET_KEYS {
                break;
            }
            cursor = next;
        }
        names.truncate(MAX_FLEET_KEYS);
        let mut keys = self.local_keys.clone();
        if !names.is_empty() {
            let cmd = redis::cmd("MGET").arg(&names).to_owned();
            let Some(values) = self
                .call(
                    "list_keys",
                    cmd.query_async::<Vec<Option<Vec<u8>>>>(&mut conn),
                )
                .await
            else {
                return;
            };
            for (name, value) in names.iter().zip(values) {
                let Some(value) = value.filter(|v| v.len() <= MAX_KEY_ENTRY_BYTES) else {
                    continue;
                };
                let Some(entry) = self.open(name, &value) else {
                    continue;
                };
                let Ok(jwk) = serde_json::from_slice::<serde_json::Value>(&entry.payload) else {
                    continue;
                };
                let kid = jwk.get("kid").cloned();
                if !keys.iter().any(|k| k.get("kid") == kid.as_ref()) {
                    keys.push(jwk);
                }
            }
        }
        if let Ok(mut jwks) = self.jwks.lock() {
            *jwks = Bytes::from(serde_json::to_vec(&json!({ "keys": keys })).unwrap_or_default());
        }
    }
}

fn parse_acquire(reply: &Value) -> Option<(i64, Option<Vec<u8>>)> {
    let items = match reply {
        Value::Array(items) => items,
        _ => return None,
    };
    let tag = match items.first()? {
        Value::Int(i) => *i,
        _ => return None,
    };
    let bytes = match items.get(1) {
        Some(Value::BulkString(b)) => Some(b.clone()),
        _ => None,
    };
    Some((tag, bytes))
}

/// Wakes the local waiters of a finished flight (pub/sub push; must not block).
fn wake(waiters: &Waiters, info: redis::PushInfo) {
    if info.kind != PushKind::Message {
        return;
    }
    let Some(Value::BulkString(id)) = info.data.get(1) else {
        return;
    };
    let Ok(id) = std::str::from_utf8(id) else {
        return;
    };
    if let Ok(map) = waiters.lock()
        && let Some(notify) = map.get(id)
    {
        notify.notify_waiters();
    }
}

/// A registered local waiter; the map entry goes when the last waiter of an id leaves.
struct WaiterGuard {
    waiters: Waiters,
    id: String,
    notify: Arc<Notify>,
}

impl WaiterGuard {
    fn register(waiters: &Waiters, id: &str) -> WaiterGuard {
        let notify = waiters
            .lock()
            .map(|mut map| map.entry(id.to_owned()).or_default().clone())
            .unwrap_or_default();
        WaiterGuard {
            waiters: waiters.clone(),
            id: id.to_owned(),
            notify,
        }
    }
}

impl Drop for WaiterGuard {
    fn drop(&mut self) {
        if let Ok(mut map) = self.waiters.lock()
            && map.get(&self.id).is_some_and(|n| Arc::strong_count(n) <= 2)
        {
            map.remove(&self.id);
        }
    }
}

/// The background task: refresh now, then every `refresh_ms` (every [`DOWN_PROBE_MS`] while
/// Redis is down). Ends when the fleet is dropped.
async fn background(fleet: Weak<Fleet>) {
    loop {
        let period = {
            let Some(fleet) = fleet.upgrade() else { return };
            fleet.refresh().await;
            if fleet.is_up() {
                Duration::from_millis(fleet.config.refresh_ms)
            } else {
                Duration::from_millis(DOWN_PROBE_MS.min(fleet.config.refresh_ms))
            }
        };
        tokio::time::sleep(period).await;
    }
}
