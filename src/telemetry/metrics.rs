//! The metric set. Every label value comes from a closed set (kinds, outcomes, problem
//! codes, phases, scopes) so cardinality is bounded whatever the callers send; never a URL,
//! a host name or a caller. Every label value of that closed set is registered at start so
//! each series exists (at 0) from the first scrape and `rate()` and alerts see no gaps.
//!
//! The list of metrics here is documented one for one in `docs/operations.md`; a test
//! (`tests/telemetry_e2e.rs`) fails when the two disagree.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use super::audit::AuditSink;
use crate::judge::Judgement;
use crate::kind::{Kind, Outcome};
use crate::problem::Code;

/// Phase label values of the duration histogram.
pub const PHASES: [&str; 6] = ["resolve", "connect", "tls", "first_byte", "body", "total"];
/// Scope label values of the rate-limit counter: every scope an admission refusal can
/// carry (`service::admission` re-exports this list; its test checks each code maps into it).
pub const SCOPES: [&str; 6] = [
    "caller",
    "target_host",
    "caller_target_host",
    "caller_queue",
    "queue_timeout",
    "global",
];

/// The verdict cache's counters as the metrics layer reads them (plain numbers, so
/// telemetry need not know the cache).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Entries now held.
    pub entries: usize,
    /// Bytes now held.
    pub bytes: usize,
    /// Entries evicted to make room (not expiries).
    pub evictions: u64,
}

/// Bucket bounds of the fetch-slot queue wait histogram, in seconds.
pub const QUEUE_WAIT_BUCKETS: [f64; 10] =
    [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
/// Bucket bounds of the fetch duration histogram, in seconds.
pub const DURATION_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Every problem code the service can put in a verdict, for pre-registering the
/// `code` / `reason` label values. One place to extend when a module gains a code list.
pub fn known_problem_codes() -> Vec<Code> {
    let mut codes: Vec<Code> = crate::fetch::codes::ALL_CODES.to_vec();
    codes.push(crate::fetch::CONNECT_GUARD_REFUSED);
    codes.extend_from_slice(crate::policy::ALL_CODES);
    codes.extend(crate::documents::all_codes());
    codes.sort();
    codes.dedup();
    codes
}

/// All metrics plus the audit sink.
pub struct Telemetry {
    registry: Registry,
    fetches: IntCounterVec,
    problems: IntCounterVec,
    blocked: IntCounterVec,
    duration_seconds: HistogramVec,
    response_bytes: Histogram,
    redirects: IntCounter,
    cache_hits: IntCounter,
    cache_misses: IntCounter,
    cache_evictions: IntCounter,
    cache_entries: IntGauge,
    cache_bytes: IntGauge,
    evictions_seen: AtomicU64,
    single_flight_joins: IntCounter,
    rate_limited: IntCounterVec,
    in_flight: IntGauge,
    queued: IntGauge,
    queue_wait_seconds: Histogram,
    verdicts_signed: IntCounter,
    key_created: IntGauge,
    key_age: IntGauge,
    audit_records: IntCounter,
    audit_failures: IntCounter,
    audit: Mutex<Option<AuditSink>>,
    api: ApiMetrics,
}

/// Decrements the in-flight gauge when a fetch ends, whichever way (also on cancel).
pub struct InFlightGuard<'a>(&'a IntGauge);

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, prometheus::Error> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

fn counter(registry: &Registry, name: &str, help: &str) -> Result<IntCounter, prometheus::Error> {
    let c = IntCounter::new(name, help)?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

fn gauge(registry: &Registry, name: &str, help: &str) -> Result<IntGauge, prometheus::Error> {
    let g = IntGauge::new(name, help)?;
    registry.register(Box::new(g.clone()))?;
    Ok(g)
}

fn to_i64(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Telemetry {
    /// Builds and registers every metric; `audit` receives one line per answered request.
    pub fn new(audit: Option<AuditSink>, commit: &str) -> Result<Telemetry, prometheus::Error> {
        let r = Registry::new();
        let fetches = counter_vec(
            &r,
            "portcullis_fetches_total",
            "Judgements (upstream fetches and refusals before fetching) by kind and outcome.",
            &["kind", "outcome"],
        )?;
        let problems = counter_vec(
            &r,
            "portcullis_problems_total",
            "Problems reported in judgements, by code.",
            &["code"],
        )?;
        let blocked = counter_vec(
            &r,
            "portcullis_blocked_total",
            "Blocked judgements by the code of their first problem.",
            &["reason"],
        )?;
        let duration_seconds = HistogramVec::new(
            HistogramOpts::new(
                "portcullis_fetch_duration_seconds",
                "Upstream fetch time by phase, summed over redirect hops.",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["phase"],
        )?;
        r.register(Box::new(duration_seconds.clone()))?;
        let response_bytes = Histogram::with_opts(
            HistogramOpts::new(
                "portcullis_response_bytes",
                "Body bytes read per upstream fetch.",
            )
            .buckets(prometheus::exponential_buckets(256.0, 4.0, 8)?),
        )?;
        r.register(Box::new(response_bytes.clone()))?;
        let queue_wait_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "portcullis_fetch_queue_wait_seconds",
                "Time a request waited for an upstream fetch slot (0 when one was free).",
            )
            .buckets(QUEUE_WAIT_BUCKETS.to_vec()),
        )?;
        r.register(Box::new(queue_wait_seconds.clone()))?;
        let build = IntGaugeVec::new(
            Opts::new("portcullis_build_info", "Build information; always 1."),
            &["version", "commit"],
        )?;
        r.register(Box::new(build.clone()))?;
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION"), commit])
            .set(1);
        let t = Telemetry {
            fetches,
            problems,
            blocked,
            duration_seconds,
            response_bytes,
            redirects: counter(
                &r,
                "portcullis_redirects_followed_total",
                "Redirects followed by upstream fetches.",
            )?,
            cache_hits: counter(
                &r,
                "portcullis_cache_hits_total",
                "Requests answered from the verdict cache.",
            )?,
            cache_misses: counter(
                &r,
                "portcullis_cache_misses_total",
                "Requests not in the verdict cache.",
            )?,
            cache_evictions: counter(
                &r,
                "portcullis_cache_evictions_total",
                "Cache entries evicted to make room.",
            )?,
            cache_entries: gauge(
                &r,
                "portcullis_cache_entries",
                "Entries in the verdict cache.",
            )?,
            cache_bytes: gauge(
                &r,
                "portcullis_cache_size_bytes",
                "Approximate bytes held by the verdict cache.",
            )?,
            evictions_seen: AtomicU64::new(0),
            single_flight_joins: counter(
                &r,
                "portcullis_single_flight_joins_total",
                "Requests that joined an identical in-flight fetch.",
            )?,
            rate_limited: counter_vec(
                &r,
                "portcullis_rate_limited_total",
                "Requests refused by a limit, by scope.",
                &["scope"],
            )?,
            in_flight: gauge(
                &r,
                "portcullis_fetches_in_flight",
                "Upstream fetches running now.",
            )?,
            queued: gauge(
                &r,
                "portcullis_requests_queued",
                "Requests waiting for an upstream fetch slot.",
            )?,
            queue_wait_seconds,
            verdicts_signed: counter(&r, "portcullis_verdicts_signed_total", "Verdicts signed.")?,
            key_created: gauge(
                &r,
                "portcullis_signing_key_created_timestamp_seconds",
                "Unix time the current signing key was created.",
            )?,
            key_age: gauge(
                &r,
                "portcullis_signing_key_age_seconds",
                "Age of the current signing key at scrape time.",
            )?,
            audit_records: counter(&r, "portcullis_audit_records_total", "Audit lines written.")?,
            audit_failures: counter(
                &r,
                "portcullis_audit_write_failures_total",
                "Audit lines that could not be serialized or written.",
            )?,
            audit: Mutex::new(audit),
            api: ApiMetrics::register(&r)?,
            registry: r,
        };
        for kind in Kind::ALL {
            for outcome in Outcome::ALL {
                t.fetches
                    .with_label_values(&[kind.as_str(), outcome.as_str()]);
            }
        }
        for code in known_problem_codes() {
            t.problems.with_label_values(&[code.as_str()]);
            t.blocked.with_label_values(&[code.as_str()]);
        }
        for phase in PHASES {
            t.duration_seconds.with_label_values(&[phase]);
        }
        for scope in SCOPES {
            t.rate_limited.with_label_values(&[scope]);
        }
        Ok(t)
    }

    /// The registry, so another front door (the CONNECT proxy) adds its metrics to the same
    /// `/metrics` exposition instead of a second scrape target.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Text exposition of every metric (Prometheus text format 0.0.4).
    pub fn render(&self) -> String {
        let created = self.key_created.get();
        if created > 0 {
            self.key_age
                .set(to_i64(unix_now()).saturating_sub(created).max(0));
        }
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// The API server's own metrics (connection cuts, pending response bytes).
    pub fn api(&self) -> &ApiMetrics {
        &self.api
    }

    /// A cache hit.
    pub fn cache_hit(&self) {
        self.cache_hits.inc();
    }

    /// A cache miss.
    pub fn cache_miss(&self) {
        self.cache_misses.inc();
    }

    /// A request that shared another's fetch.
    pub fn single_flight_join(&self) {
        self.single_flight_joins.inc();
    }

    /// How long a request waited for its fetch slot.
    pub fn queue_wait(&self, waited: std::time::Duration) {
        self.queue_wait_seconds.observe(waited.as_secs_f64());
    }

    /// A refusal by a limit (one of [`SCOPES`]).
    pub fn rate_limited(&self, scope: &'static str) {
        self.rate_limited.with_label_values(&[scope]).inc();
    }

    /// A verdict signed.
    pub fn verdict_signed(&self) {
        self.verdicts_signed.inc();
    }

    /// Records when the signing key was made (for the key-age alert).
    pub fn signing_key_created(&self, unix: u64) {
        self.key_created.set(to_i64(unix));
        self.key_age.set(to_i64(unix_now().saturating_sub(unix)));
    }

    /// An upstream fetch starts; the guard ends it.
    pub fn fetch_started(&self) -> InFlightGuard<'_> {
        self.in_flight.inc();
        InFlightGuard(&self.in_flight)
    }

    /// A judgement was made (fetched, or refused before fetching): counts it by kind and
    /// outcome, with its problems, block reason, durations, bytes and redirects. Runs once
    /// per judgement however many requests share it (cache hits and single-flight joins
    /// are counted by their own metrics).
    pub fn fetch_finished(&self, kind: Kind, judgement: &Judgement) {
        self.fetches
            .with_label_values(&[kind.as_str(), judgement.outcome.as_str()])
            .inc();
        for problem in &judgement.problems {
            self.problems
                .with_label_values(&[problem.code.as_str()])
                .inc();
        }
        if judgement.outcome == Outcome::Blocked
            && let Some(first) = judgement.problems.first()
        {
            self.blocked.with_label_values(&[first.code.as_str()]).inc();
        }
        let t = &judgement.timings;
        if !t.total.is_zero() {
            for (phase, d) in
                PHASES
                    .iter()
                    .zip([t.resolve, t.connect, t.tls, t.first_byte, t.body, t.total])
            {
                if !d.is_zero() || *phase == "total" {
                    self.duration_seconds
                        .with_label_values(&[phase])
                        .observe(d.as_secs_f64());
                }
            }
        }
        if judgement.body.is_some() {
            self.response_bytes.observe(judgement.facts.bytes as f64);
        }
        self.redirects
            .inc_by(judgement.facts.redirects.len() as u64);
    }

    /// Copies cache gauges (read at scrape time); the eviction counter only moves forward
    /// even if two scrapes race.
    pub fn observe_cache(&self, stats: CacheStats) {
        self.cache_entries.set(to_i64(stats.entries));
        self.cache_bytes.set(to_i64(stats.bytes));
        let seen = self
            .evictions_seen
            .fetch_max(stats.evictions, Ordering::SeqCst);
        if stats.evictions > seen {
            self.cache_evictions.inc_by(stats.evictions - seen);
        }
    }

    /// Copies the queue gauge (read at scrape time): requests waiting for a fetch slot.
    pub fn observe_queue(&self, waiting: usize) {
        self.queued.set(to_i64(waiting));
    }

    /// Whether audit lines are written at all (so the cache need not keep audit facts
    /// nobody will read).
    pub fn auditing(&self) -> bool {
        self.audit.lock().map(|s| s.is_some()).unwrap_or(false)
    }

    /// Writes one pre-serialized audit line, built only when a sink is configured.
    pub fn audit_line(&self, line: impl FnOnce() -> Option<Vec<u8>>) {
        if let Ok(mut sink) = self.audit.lock()
            && let Some(sink) = sink.as_mut()
        {
            if line().is_some_and(|line| sink.write_line(line)) {
                self.audit_records.inc();
            } else {
                self.audit_failures.inc();
            }
        }
    }

    /// Writes one audit record, built only when a sink is configured (the cached path
    /// must not pay for a record nobody reads).
    pub fn audit<R: serde::Serialize>(&self, record: impl FnOnce() -> R) {
        if let Ok(mut sink) = self.audit.lock()
            && let Some(sink) = sink.as_mut()
        {
            if sink.write(&record()) {
                self.audit_records.inc();
            } else {
                self.audit_failures.inc();
            }
        }
    }
}

/// Why the API server closed a connection: label values of
/// `portcullis_api_connections_closed_total{reason}`.
pub const CLOSE_REASONS: [&str; 6] = [
    "first_request_timeout",
    "idle_timeout",
    "evicted_idle",
    "control_frame_flood",
    "conflicting_framing",
    "request_head_too_large",
];

/// The API server's protections, visible: each cut is counted so an operator sees an attack
/// (or a too-tight limit) on a dashboard. Cheap handles, cloned into each connection.
#[derive(Clone)]
pub struct ApiMetrics {
    /// Connections closed by a server limit, by reason (one of [`CLOSE_REASONS`]).
    pub connections_closed: IntCounterVec,
    /// Response body bytes produced but not yet sent.
    pub pending_response_bytes: IntGauge,
    /// Responses replaced by `503 server_busy` because the pending budget was used up.
    pub responses_shed: IntCounter,
    /// Renderings of `/metrics` (at most one per render interval).
    pub metrics_renders: IntCounter,
}

impl ApiMetrics {
    fn register(r: &Registry) -> Result<ApiMetrics, prometheus::Error> {
        let m = ApiMetrics {
            connections_closed: counter_vec(
                r,
                "portcullis_api_connections_closed_total",
                "API connections closed by a server limit, by reason.",
                &["reason"],
            )?,
            pending_response_bytes: gauge(
                r,
                "portcullis_api_pending_response_bytes",
                "API response body bytes produced but not yet sent.",
            )?,
            responses_shed: counter(
                r,
                "portcullis_api_responses_shed_total",
                "API responses answered 503 because the pending response budget was used up.",
            )?,
            metrics_renders: counter(
                r,
                "portcullis_api_metrics_renders_total",
                "Renderings of /metrics.",
            )?,
        };
        for reason in CLOSE_REASONS {
            m.connections_closed.with_label_values(&[reason]);
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_exists_before_any_traffic() {
        let t = Telemetry::new(None, "abc").unwrap();
        let text = t.render();
        assert!(text.contains(r#"portcullis_fetches_total{kind="jwks",outcome="blocked"} 0"#));
        assert!(text.contains(r#"portcullis_problems_total{code="first_byte_timeout"} 0"#));
        assert!(text.contains(r#"portcullis_rate_limited_total{scope="global"} 0"#));
        assert!(text.contains(r#"portcullis_fetch_duration_seconds_count{phase="tls"} 0"#));
        assert!(text.contains(r#"portcullis_build_info{commit="abc",version=""#));
    }

    #[test]
    fn key_age_follows_creation_time() {
        let t = Telemetry::new(None, "x").unwrap();
        t.signing_key_created(unix_now() - 3_600);
        let text = t.render();
        let age: i64 = text
            .lines()
            .find_map(|l| l.strip_prefix("portcullis_signing_key_age_seconds "))
            .unwrap()
            .parse()
            .unwrap();
        assert!((3_600..3_700).contains(&age), "{age}");
    }

    #[test]
    fn evictions_never_go_backwards() {
        let t = Telemetry::new(None, "x").unwrap();
        let stats = |evictions| CacheStats {
            entries: 1,
            bytes: 10,
            evictions,
        };
        t.observe_cache(stats(5));
        t.observe_cache(stats(3));
        t.observe_cache(stats(6));
        assert_eq!(t.cache_evictions.get(), 6);
    }
}
