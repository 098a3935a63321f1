//! `portcullis_fleet_*` metrics: is Redis reachable, how often calls fail or time out, how
//! often a request fell back to local behaviour, call latency, and rejected entries. Kept
//! in the fleet's own registry and appended to `/metrics`, so the fleet layer stays
//! separable from the core's telemetry.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

use super::envelope::OpenError;

/// Redis operations, the bounded `op` label.
pub const OPS: [&str; 8] = [
    "lookup",
    "finish",
    "wait",
    "rate",
    "ping",
    "publish_key",
    "list_keys",
    "subscribe",
];

/// Latency buckets (seconds): a loopback / same-zone Redis answers in well under 1 ms; the
/// top buckets show calls running into the configured timeout.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// The fleet metrics.
pub struct FleetMetrics {
    registry: Registry,
    /// 1 while Redis answers, 0 while the replica runs on local fallback.
    pub up: IntGauge,
    /// Failed or timed-out Redis calls, by op.
    pub errors: IntCounterVec,
    /// Requests (or steps) answered by local behaviour because Redis failed, by op.
    pub fallbacks: IntCounterVec,
    /// Redis call latency, by op.
    pub latency: HistogramVec,
    /// Entries read from Redis and refused (bad MAC, other version, …), by reason.
    pub rejected: IntCounterVec,
    /// Questions answered from the shared cache (another replica's fetch).
    pub shared_hits: IntCounterVec,
}

impl FleetMetrics {
    /// Registers every series, pre-creating the labelled ones so they show as 0.
    pub fn new() -> Result<FleetMetrics, prometheus::Error> {
        let registry = Registry::new();
        let up = IntGauge::new("portcullis_fleet_up", "1 while the fleet's Redis answers")?;
        let errors = IntCounterVec::new(
            Opts::new(
                "portcullis_fleet_errors_total",
                "Redis calls that failed or timed out",
            ),
            &["op"],
        )?;
        let fallbacks = IntCounterVec::new(
            Opts::new(
                "portcullis_fleet_fallbacks_total",
                "Steps answered by local behaviour because Redis was unavailable",
            ),
            &["op"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("portcullis_fleet_latency_seconds", "Redis call latency")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["op"],
        )?;
        let rejected = IntCounterVec::new(
            Opts::new(
                "portcullis_fleet_rejected_entries_total",
                "Entries read from Redis and dropped (bad MAC, other format version, ...)",
            ),
            &["reason"],
        )?;
        let shared_hits = IntCounterVec::new(
            Opts::new(
                "portcullis_fleet_shared_total",
                "Questions answered by another replica's work: shared cache hit or awaited flight",
            ),
            &["how"],
        )?;
        registry.register(Box::new(up.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(fallbacks.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(rejected.clone()))?;
        registry.register(Box::new(shared_hits.clone()))?;
        for op in OPS {
            errors.with_label_values(&[op]);
            fallbacks.with_label_values(&[op]);
            latency.with_label_values(&[op]);
        }
        for reason in OpenError::ALL_CODES {
            rejected.with_label_values(&[reason]);
        }
        for how in ["cache", "flight"] {
            shared_hits.with_label_values(&[how]);
        }
        Ok(FleetMetrics {
            registry,
            up,
            errors,
            fallbacks,
            latency,
            rejected,
            shared_hits,
        })
    }

    /// Prometheus text of the fleet series.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }

    /// Current value of a labelled counter, for tests.
    pub fn count(vec: &IntCounterVec, label: &str) -> u64 {
        vec.with_label_values(&[label]).get()
    }
}
