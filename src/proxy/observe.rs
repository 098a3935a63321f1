//! Proxy metrics (bounded labels: outcomes, problem codes, end reasons, directions; never a
//! host or a caller) and the one audit record per CONNECT.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry};
use serde::Serialize;

use super::relay::{RelayReport, TunnelEnd};
use crate::fetch::AddressTrace;
use crate::problem::Code;

/// Bucket bounds of the tunnel lifetime histogram, in seconds.
pub const TUNNEL_DURATION_BUCKETS: [f64; 10] =
    [0.01, 0.05, 0.25, 1.0, 5.0, 15.0, 60.0, 180.0, 600.0, 3600.0];
/// Bucket bounds of the CONNECT set-up histogram (auth → resolve → connect), in seconds.
pub const SETUP_BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5, 10.0,
];

/// Every code a refusal can carry: the proxy's, the policy's and the fetcher's.
pub fn refusal_codes() -> Vec<Code> {
    let mut codes = crate::telemetry::metrics::known_problem_codes();
    codes.extend_from_slice(super::codes::ALL_CODES);
    codes.sort();
    codes.dedup();
    codes
}

/// The proxy's metric handles.
#[derive(Clone)]
pub struct ProxyMetrics {
    connects: IntCounterVec,
    refusals: IntCounterVec,
    report_only: IntCounterVec,
    open: IntGauge,
    ended: IntCounterVec,
    bytes: IntCounterVec,
    duration: Histogram,
    setup: Histogram,
}

impl ProxyMetrics {
    /// Registers every proxy metric (each label value pre-registered at 0).
    pub fn register(r: &Registry) -> Result<ProxyMetrics, prometheus::Error> {
        let vec =
            |name: &str, help: &str, label: &str| -> Result<IntCounterVec, prometheus::Error> {
                let c = IntCounterVec::new(Opts::new(name, help), &[label])?;
                r.register(Box::new(c.clone()))?;
                Ok(c)
            };
        let connects = vec(
            "portcullis_proxy_connects_total",
            "CONNECT requests by outcome (tunnel or refused).",
            "outcome",
        )?;
        let refusals = vec(
            "portcullis_proxy_refusals_total",
            "Refused CONNECT requests by problem code.",
            "code",
        )?;
        let report_only = vec(
            "portcullis_proxy_report_only_total",
            "Rules a report-only caller broke and was let through, by problem code.",
            "code",
        )?;
        let ended = vec(
            "portcullis_proxy_tunnels_ended_total",
            "Tunnels ended, by how they ended (closed or a cap).",
            "reason",
        )?;
        let bytes = vec(
            "portcullis_proxy_tunnel_bytes_total",
            "Bytes carried by tunnels, by direction (up: client to target).",
            "direction",
        )?;
        let open = IntGauge::new("portcullis_proxy_tunnels_open", "Tunnels open now.")?;
        r.register(Box::new(open.clone()))?;
        let duration = Histogram::with_opts(
            HistogramOpts::new(
                "portcullis_proxy_tunnel_duration_seconds",
                "Tunnel lifetime from 200 to close.",
            )
            .buckets(TUNNEL_DURATION_BUCKETS.to_vec()),
        )?;
        r.register(Box::new(duration.clone()))?;
        let setup = Histogram::with_opts(
            HistogramOpts::new(
                "portcullis_proxy_setup_duration_seconds",
                "CONNECT received to tunnel established (rules, DNS, TCP connect).",
            )
            .buckets(SETUP_BUCKETS.to_vec()),
        )?;
        r.register(Box::new(setup.clone()))?;
        for outcome in ["tunnel", "refused"] {
            connects.with_label_values(&[outcome]);
        }
        for code in refusal_codes() {
            refusals.with_label_values(&[code.as_str()]);
            report_only.with_label_values(&[code.as_str()]);
        }
        for end in TunnelEnd::ALL {
            ended.with_label_values(&[end.as_str()]);
        }
        for direction in ["up", "down"] {
            bytes.with_label_values(&[direction]);
        }
        Ok(ProxyMetrics {
            connects,
            refusals,
            report_only,
            open,
            ended,
            bytes,
            duration,
            setup,
        })
    }

    /// A CONNECT refused with `code`.
    pub fn refused(&self, code: Code) {
        self.connects.with_label_values(&["refused"]).inc();
        self.refusals.with_label_values(&[code.as_str()]).inc();
    }

    /// A rule a report-only caller broke.
    pub fn reported(&self, code: Code) {
        self.report_only.with_label_values(&[code.as_str()]).inc();
    }

    /// A tunnel established after `setup`.
    pub fn opened(&self, setup: Duration) {
        self.connects.with_label_values(&["tunnel"]).inc();
        self.setup.observe(setup.as_secs_f64());
        self.open.inc();
    }

    /// A tunnel ended.
    pub fn closed(&self, report: &RelayReport, lifetime: Duration) {
        self.open.dec();
        self.ended.with_label_values(&[report.end.as_str()]).inc();
        self.bytes
            .with_label_values(&["up"])
            .inc_by(report.bytes_up);
        self.bytes
            .with_label_values(&["down"])
            .inc_by(report.bytes_down);
        self.duration.observe(lifetime.as_secs_f64());
    }
}

/// One audit line per CONNECT: refused ones (with the code) and tunnels (with what they
/// carried and how they ended). Never a token.
#[derive(Serialize, Debug, Default)]
pub struct TunnelRecord {
    /// Unix milliseconds when the line was written (refusal, or tunnel end).
    pub time_unix_ms: u128,
    /// Always `proxy_tunnel`.
    pub event: &'static str,
    /// The authenticated caller, when authentication got that far.
    pub caller: Option<String>,
    /// The client's address.
    pub client: String,
    /// Target host as normalised by the URL rules (or the raw target when it did not parse).
    pub host: String,
    /// Target port.
    pub port: Option<u16>,
    /// Every resolved (or literal) address and the policy's decision on it.
    pub addresses: Vec<AddressTrace>,
    /// The address the tunnel was pinned to.
    pub connected: Option<String>,
    /// HTTP status answered to the CONNECT.
    pub status: u16,
    /// Refusal code (absent for a tunnel).
    pub error: Option<&'static str>,
    /// Every problem found (for a report-only caller: what was let through).
    pub problems: Vec<&'static str>,
    /// True when the caller is report-only and `problems` were logged, not enforced.
    pub report_only: bool,
    /// Bytes client → target.
    pub bytes_up: u64,
    /// Bytes target → client.
    pub bytes_down: u64,
    /// CONNECT set-up time (ms).
    pub setup_ms: f64,
    /// Tunnel lifetime (ms).
    pub duration_ms: f64,
    /// How the tunnel ended (absent for a refusal).
    pub ended: Option<&'static str>,
}

/// Milliseconds with microsecond precision.
pub fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1_000.0
}

/// Now, as Unix milliseconds.
pub fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}
