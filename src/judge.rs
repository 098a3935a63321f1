//! One judgement: pre-checks of the kind, the guarded fetch, then the kind's validator.
//! [`decide`] is the pure half (a fetch report in, an outcome out); [`judge`] adds the fetch.

use bytes::Bytes;
use serde_json::Value;

use crate::config::Config;
use crate::documents::{self, Context, Expect, UrlRules};
use crate::facts::FetchFacts;
use crate::fetch::media::CacheHints;
use crate::fetch::{FetchReport, FetchRequest, FetchStatus, Fetcher, HopTrace, PhaseTimings};
use crate::kind::{Kind, Outcome};
use crate::policy::Policy;
use crate::problem::{Problem, any_error};

/// The egress policy as the documents module sees it: URLs inside documents must pass
/// the same URL and host rules as the URLs we fetch.
pub struct PolicyUrlRules<'a>(pub &'a Policy);

impl UrlRules for PolicyUrlRules<'_> {
    fn url_problems(&self, url: &str) -> Vec<Problem> {
        self.0.url_problems(url)
    }
}

/// What the caller asked to have judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JudgeRequest {
    /// Document kind.
    pub kind: Kind,
    /// The untrusted URL.
    pub url: String,
    /// Expectations (resource, issuer).
    pub expect: Expect,
}

/// Everything a verdict, an audit record and the cache need.
#[derive(Clone, Debug)]
pub struct Judgement {
    /// The outcome.
    pub outcome: Outcome,
    /// Every problem (errors and warnings).
    pub problems: Vec<Problem>,
    /// Fetch facts (final URL, address, status, bytes, …).
    pub facts: FetchFacts,
    /// The body, when one was read.
    pub body: Option<Bytes>,
    /// SHA-256 of the body (base64url), computed once for the verdict and the audit log.
    pub sha256: Option<String>,
    /// The validated document, when valid.
    pub document: Option<Value>,
    /// Caching hints of the response.
    pub cache: CacheHints,
    /// Per-hop trace.
    pub hops: Vec<HopTrace>,
    /// Per-phase durations.
    pub timings: PhaseTimings,
}

/// Problems from the kind's pre-fetch checks; errors mean "do not fetch".
pub fn precheck(request: &JudgeRequest, policy: &Policy, config: &Config) -> Vec<Problem> {
    let rules = PolicyUrlRules(policy);
    let ctx = Context::new(&rules, &config.documents);
    documents::precheck_url(request.kind, &request.url, &ctx)
}

/// Pure: turns a fetch report into a judgement by running the kind's validator.
pub fn decide(
    request: &JudgeRequest,
    report: FetchReport,
    policy: &Policy,
    config: &Config,
) -> Judgement {
    let mut judgement = Judgement {
        outcome: Outcome::Unreachable,
        problems: report.problems,
        facts: report.facts,
        sha256: report.body.as_deref().map(crate::verdict::body_sha256),
        body: report.body,
        document: None,
        cache: report.cache,
        hops: report.hops,
        timings: report.timings,
    };
    match report.status {
        FetchStatus::Blocked => judgement.outcome = Outcome::Blocked,
        FetchStatus::Unreachable => judgement.outcome = Outcome::Unreachable,
        FetchStatus::Fetched => {
            let rules = PolicyUrlRules(policy);
            let ctx = Context::new(&rules, &config.documents);
            let body = judgement.body.clone().unwrap_or_default();
            let validated =
                documents::validate(request.kind, &request.url, &body, &request.expect, &ctx);
            judgement.outcome = if any_error(&validated.problems) {
                Outcome::Invalid
            } else {
                Outcome::Valid
            };
            judgement.problems.extend(validated.problems);
            judgement.document = validated.document;
        }
    }
    judgement
}

/// A judgement that stopped before fetching (pre-checks failed).
pub fn refused_before_fetch(request: &JudgeRequest, problems: Vec<Problem>) -> Judgement {
    Judgement {
        outcome: Outcome::Blocked,
        problems,
        facts: FetchFacts {
            final_url: request.url.clone(),
            ..FetchFacts::default()
        },
        body: None,
        sha256: None,
        document: None,
        cache: CacheHints::default(),
        hops: Vec::new(),
        timings: PhaseTimings::default(),
    }
}

/// Pre-checks, fetches under the kind's rules, validates.
pub async fn judge(fetcher: &Fetcher, config: &Config, request: &JudgeRequest) -> Judgement {
    let pre = precheck(request, fetcher.policy(), config);
    if any_error(&pre) {
        return refused_before_fetch(request, pre);
    }
    let fetch = FetchRequest {
        url: request.url.clone(),
        max_body_bytes: config.limits.max_body_bytes.for_kind(request.kind),
        follow_redirects: documents::follows_redirects(request.kind),
    };
    let report = fetcher.fetch(&fetch).await;
    decide(request, report, fetcher.policy(), config)
}
