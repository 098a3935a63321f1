//! Adapter for the current service core: a [`Judgement`] as the compact bytes the fleet
//! shares. It keeps what a verdict and the cache need (outcome, problems, fetch facts,
//! body, document, cache hints) and drops per-fetch traces (hops, phase timings), which
//! belong to the replica that fetched.
//!
//! A problem code is read back only if this build knows it (codes are a closed set of
//! `&'static str`): an entry with an unknown code (a newer release in the fleet) is refused
//! as undecodable, i.e. a miss, never a guess.

use std::collections::HashMap;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::facts::FetchFacts;
use crate::fetch::media::CacheHints;
use crate::judge::Judgement;
use crate::kind::Outcome;
use crate::problem::{Code, Problem, Severity};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireProblem {
    code: String,
    detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at: Option<String>,
    warning: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireJudgement {
    outcome: Outcome,
    problems: Vec<WireProblem>,
    facts: FetchFacts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body_b64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    document: Option<Value>,
    no_store: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_age_s: Option<u64>,
}

fn known_codes() -> &'static HashMap<&'static str, Code> {
    static CODES: OnceLock<HashMap<&'static str, Code>> = OnceLock::new();
    CODES.get_or_init(|| {
        crate::telemetry::metrics::known_problem_codes()
            .into_iter()
            .map(|c| (c.as_str(), c))
            .collect()
    })
}

/// The shared form of a judgement.
pub fn encode(j: &Judgement) -> Vec<u8> {
    let wire = WireJudgement {
        outcome: j.outcome,
        problems: j
            .problems
            .iter()
            .map(|p| WireProblem {
                code: p.code.as_str().to_owned(),
                detail: p.detail.clone(),
                at: p.at.clone(),
                warning: p.severity == Severity::Warning,
            })
            .collect(),
        facts: j.facts.clone(),
        body_b64: j.body.as_ref().map(|b| STANDARD.encode(b)),
        sha256: j.sha256.clone(),
        document: j.document.clone(),
        no_store: j.cache.no_store,
        max_age_s: j.cache.max_age_s,
    };
    serde_json::to_vec(&wire).unwrap_or_default()
}

/// A judgement from its shared form; `None` if it does not decode or names a code this
/// build does not know.
pub fn decode(bytes: &[u8]) -> Option<Judgement> {
    let wire: WireJudgement = serde_json::from_slice(bytes).ok()?;
    let codes = known_codes();
    let mut problems = Vec::with_capacity(wire.problems.len());
    for p in wire.problems {
        let code = *codes.get(p.code.as_str())?;
        let mut problem = if p.warning {
            Problem::warning(code, p.detail)
        } else {
            Problem::error(code, p.detail)
        };
        problem.at = p.at;
        problems.push(problem);
    }
    let body = match wire.body_b64 {
        Some(b) => Some(Bytes::from(STANDARD.decode(b).ok()?)),
        None => None,
    };
    Some(Judgement {
        outcome: wire.outcome,
        problems,
        facts: wire.facts,
        body,
        sha256: wire.sha256,
        document: wire.document,
        cache: CacheHints {
            no_store: wire.no_store,
            max_age_s: wire.max_age_s,
            etag: None,
        },
        hops: Vec::new(),
        timings: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Judgement {
        let code = crate::telemetry::metrics::known_problem_codes()[0];
        let mut warn = Problem::warning(code, "w");
        warn.at = Some("/keys/0".into());
        Judgement {
            outcome: Outcome::Valid,
            problems: vec![warn, Problem::error(code, "e")],
            facts: FetchFacts {
                final_url: "https://good.test/jwks".into(),
                status: Some(200),
                bytes: 2,
                ..FetchFacts::default()
            },
            body: Some(Bytes::from_static(b"{}")),
            sha256: Some("abc".into()),
            document: Some(json!({"keys": []})),
            cache: CacheHints {
                no_store: false,
                max_age_s: Some(600),
                etag: Some("x".into()),
            },
            hops: Vec::new(),
            timings: Default::default(),
        }
    }

    #[test]
    fn round_trip_keeps_what_a_verdict_needs() {
        let j = sample();
        let back = decode(&encode(&j)).unwrap();
        assert_eq!(back.outcome, j.outcome);
        assert_eq!(back.problems, j.problems);
        assert_eq!(back.facts, j.facts);
        assert_eq!(back.body, j.body);
        assert_eq!(back.document, j.document);
        assert_eq!(back.cache.max_age_s, Some(600));
    }

    #[test]
    fn unknown_codes_and_garbage_do_not_decode() {
        let text = String::from_utf8(encode(&sample())).unwrap();
        let first = crate::telemetry::metrics::known_problem_codes()[0].as_str();
        let unknown = text.replace(first, "a_code_from_the_future");
        assert!(decode(unknown.as_bytes()).is_none());
        assert!(decode(b"not json").is_none());
        assert!(decode(b"{}").is_none());
    }
}
