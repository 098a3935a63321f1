//! The metric set. Every label value comes from a closed set (kinds, outcomes, problem
//! codes, phases, scopes) so cardinality is bounded whatever the callers send.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use super::audit::{AuditRecord, AuditSink};
use crate::judge::Judgement;
use crate::kind::{Kind, Outcome};
use crate::service::cache::CacheStats;

/// Phase label values of the duration histogram.
pub const PHASES: [&str; 6] = ["resolve", "connect", "tls", "first_byte", "body", "total"];
/// Scope label values of the rate-limit counter.
pub const SCOPES: [&str; 3] = ["caller", "target_host", "global"];

/// All metrics plus the audit sink.
pub struct Telemetry {
    registry: Registry,
    fetches: IntCounterVec,
    problems: IntCounterVec,
    blocked: IntCounterVec,
    phase_seconds: HistogramVec,
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
    verdicts_signed: IntCounter,
    key_created: IntGauge,
    audit: Mutex<Option<AuditSink>>,
}

/// Decrements the in-flight gauge when a fetch ends, whichever way.
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

impl Telemetry {
    /// Builds and registers every metric; `audit` receives one line per answered request.
    pub fn new(audit: Option<AuditSink>, commit: &str) -> Result<Telemetry, prometheus::Error> {
        let r = Registry::new();
        let fetches = counter_vec(
            &r,
            "portcullis_fetches_total",
            "Answered fetch requests by kind and outcome.",
            &["kind", "outcome"],
        )?;
        let problems = counter_vec(
            &r,
            "portcullis_problems_total",
            "Problems reported in verdicts, by code.",
            &["code"],
        )?;
        let blocked = counter_vec(
            &r,
            "portcullis_blocked_total",
            "Blocked verdicts by the code of their first problem.",
            &["reason"],
        )?;
        let phase_seconds = HistogramVec::new(
            HistogramOpts::new(
                "portcullis_fetch_phase_seconds",
                "Upstream fetch time by phase.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["phase"],
        )?;
        r.register(Box::new(phase_seconds.clone()))?;
        let response_bytes = Histogram::with_opts(
            HistogramOpts::new(
                "portcullis_response_bytes",
                "Body bytes read per upstream fetch.",
            )
            .buckets(prometheus::exponential_buckets(256.0, 4.0, 8)?),
        )?;
        r.register(Box::new(response_bytes.clone()))?;
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
            phase_seconds,
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
            verdicts_signed: counter(&r, "portcullis_verdicts_signed_total", "Verdicts signed.")?,
            key_created: gauge(
                &r,
                "portcullis_signing_key_created_timestamp_seconds",
                "Unix time the current signing key was created.",
            )?,
            audit: Mutex::new(audit),
            registry: r,
        };
        for kind in Kind::ALL {
            for outcome in Outcome::ALL {
                t.fetches
                    .with_label_values(&[kind.as_str(), outcome.as_str()]);
            }
        }
        for phase in PHASES {
            t.phase_seconds.with_label_values(&[phase]);
        }
        for scope in SCOPES {
            t.rate_limited.with_label_values(&[scope]);
        }
        Ok(t)
    }

    /// Text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
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

    /// A refusal by a limit (`caller`, `target_host`, `global`).
    pub fn rate_limited(&self, scope: &'static str) {
        self.rate_limited.with_label_values(&[scope]).inc();
    }

    /// A verdict signed.
    pub fn verdict_signed(&self) {
        self.verdicts_signed.inc();
    }

    /// Records when the signing key was made (for the key-age alert).
    pub fn signing_key_created(&self, unix: u64) {
        self.key_created
            .set(i64::try_from(unix).unwrap_or(i64::MAX));
    }

    /// An upstream fetch starts; the guard ends it.
    pub fn fetch_started(&self) -> InFlightGuard<'_> {
        self.in_flight.inc();
        InFlightGuard(&self.in_flight)
    }

    /// A judgement was made (fetched or refused before fetching).
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
                    self.phase_seconds
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

    /// Copies cache gauges (read at scrape time).
    pub fn observe_cache(&self, stats: CacheStats) {
        self.cache_entries
            .set(i64::try_from(stats.entries).unwrap_or(i64::MAX));
        self.cache_bytes
            .set(i64::try_from(stats.bytes).unwrap_or(i64::MAX));
        let seen = self.evictions_seen.swap(stats.evictions, Ordering::SeqCst);
        self.cache_evictions
            .inc_by(stats.evictions.saturating_sub(seen));
    }

    /// Copies queue gauges (read at scrape time).
    pub fn observe_queue(&self, waiting: usize, in_flight_slots: usize) {
        self.queued.set(i64::try_from(waiting).unwrap_or(i64::MAX));
        let _ = in_flight_slots;
    }

    /// Writes one audit record, built only when a sink is configured (the cached path
    /// must not pay for a record nobody reads).
    pub fn audit<'a>(&self, record: impl FnOnce() -> AuditRecord<'a>) {
        if let Ok(mut sink) = self.audit.lock()
            && let Some(sink) = sink.as_mut()
        {
            sink.write(&record());
        }
    }
}
