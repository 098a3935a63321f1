//! The audit log: one JSON line per answered fetch request, enough to explain any verdict
//! after the fact. It never holds a token or a document body.
//!
//! The record is a plain `Serialize` struct written by its own sink rather than a tracing
//! event: the schema is fixed by the type (field names, nesting, types), so log pipelines
//! can rely on it whatever the tracing subscriber or log level is, and it can go to its own
//! file. Each line has its own `request_id` and the `jti` of the verdict it answered with,
//! so an audit line joins the verdict a caller holds.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::facts::RedirectHop;
use crate::fetch::HopTrace;
use crate::judge::Judgement;
use crate::kind::{Kind, Outcome};

/// Where audit lines go.
pub struct AuditSink {
    out: Box<dyn Write + Send>,
}

impl AuditSink {
    /// Audit lines to any writer (stderr, a file, a test buffer).
    pub fn new(out: Box<dyn Write + Send>) -> AuditSink {
        AuditSink { out }
    }

    /// Writes one record as a JSON line and tells whether it was written; a failure is
    /// reported on the tracing log (and counted by the caller) and never fails the request.
    pub fn write(&mut self, record: &impl Serialize) -> bool {
        match serde_json::to_vec(record) {
            Ok(line) => self.write_line(line),
            Err(e) => {
                tracing::error!(error = %e, "cannot serialize audit record");
                false
            }
        }
    }

    /// Writes one already serialized JSON record as a line.
    pub fn write_line(&mut self, mut line: Vec<u8>) -> bool {
        line.push(b'\n');
        if let Err(e) = self.out.write_all(&line).and_then(|()| self.out.flush()) {
            tracing::error!(error = %e, "cannot write audit record");
            return false;
        }
        true
    }
}

/// Millisecond durations per phase (microsecond precision), summed over hops.
#[derive(Serialize)]
pub struct PhaseMillis {
    resolve: f64,
    connect: f64,
    tls: f64,
    first_byte: f64,
    body: f64,
    total: f64,
}

/// The per-answer head of an audit line: who asked, when, which verdict answered.
/// Spliced before the [`AuditFacts`] text kept with the cached judgement, so a cache hit
/// writes its line without rebuilding the facts.
#[derive(Serialize)]
pub struct AuditHead<'a> {
    /// When the request was answered, as Unix milliseconds (UTC).
    pub time_unix_ms: u128,
    /// Always `fetch`.
    pub event: &'static str,
    /// A fresh random id per answered request (same form as a `jti`).
    pub request_id: String,
    /// The `jti` of the verdict the request was answered with.
    pub jti: &'a str,
    /// The authenticated caller's configured name (never its token).
    pub caller: &'a str,
    /// Served from cache: the fetch fields then describe the cached fetch.
    pub cache_hit: bool,
}

impl<'a> AuditHead<'a> {
    /// The head for one answer.
    pub fn new(request_id: String, jti: &'a str, caller: &'a str, cache_hit: bool) -> Self {
        AuditHead {
            time_unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0),
            event: "fetch",
            request_id,
            jti,
            caller,
            cache_hit,
        }
    }
}

/// What an audit line says about the judgement (the same for every answer about it).
#[derive(Serialize)]
pub struct AuditFacts<'a> {
    /// Requested URL.
    pub url: &'a str,
    /// Kind.
    pub kind: Kind,
    /// Host of the final URL, when it parses.
    pub host: Option<String>,
    /// Outcome.
    pub outcome: Outcome,
    /// Problem codes, in order.
    pub problems: Vec<&'static str>,
    /// Every hop with its resolved addresses and decisions.
    pub hops: &'a [HopTrace],
    /// The address connected to last.
    pub address: Option<&'a str>,
    /// Redirects followed.
    pub redirects: &'a [RedirectHop],
    /// Final status.
    pub status: Option<u16>,
    /// Body bytes.
    pub bytes: u64,
    /// Content type.
    pub content_type: Option<&'a str>,
    /// SHA-256 of the body (base64url).
    pub sha256: Option<&'a str>,
    /// Durations.
    pub duration_ms: PhaseMillis,
}

impl<'a> AuditFacts<'a> {
    /// The facts of one judgement.
    pub fn new(url: &'a str, kind: Kind, j: &'a Judgement) -> AuditFacts<'a> {
        let t = &j.timings;
        AuditFacts {
            url,
            kind,
            host: url::Url::parse(&j.facts.final_url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned)),
            outcome: j.outcome,
            problems: j.problems.iter().map(|p| p.code.as_str()).collect(),
            hops: &j.hops,
            address: j.facts.address.as_deref(),
            redirects: &j.facts.redirects,
            status: j.facts.status,
            bytes: j.facts.bytes,
            content_type: j.facts.content_type.as_deref(),
            sha256: j.sha256.as_deref(),
            duration_ms: PhaseMillis {
                resolve: ms(t.resolve),
                connect: ms(t.connect),
                tls: ms(t.tls),
                first_byte: ms(t.first_byte),
                body: ms(t.body),
                total: ms(t.total),
            },
        }
    }

    /// The facts as JSON object text, kept with the cached judgement.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned());
        text.shrink_to_fit();
        text
    }
}

fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1_000.0
}

/// One audit line for a request refused before any verdict (401, 400, 408, 413, 415, 429,
/// 503): who was refused and why, so every refusal is explainable after the fact.
#[derive(Serialize)]
pub struct RefusalRecord<'a> {
    /// Unix milliseconds.
    pub time_unix_ms: u128,
    /// Always `refused`.
    pub event: &'static str,
    /// The authenticated caller, when authentication got that far.
    pub caller: Option<&'a str>,
    /// HTTP status answered.
    pub status: u16,
    /// The error code answered.
    pub error: &'a str,
    /// Requested URL, when the body was parsed that far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<&'a str>,
    /// Host of the requested URL, when it parses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Requested kind, when the body was parsed that far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
}

impl<'a> RefusalRecord<'a> {
    /// Builds the record for one refused request.
    pub fn new(
        caller: Option<&'a str>,
        status: u16,
        error: &'a str,
        request: Option<(&'a str, Kind)>,
    ) -> RefusalRecord<'a> {
        RefusalRecord {
            time_unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0),
            event: "refused",
            caller,
            status,
            error,
            url: request.map(|(url, _)| url),
            host: request.and_then(|(url, _)| {
                url::Url::parse(url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
            }),
            kind: request.map(|(_, kind)| kind),
        }
    }
}
