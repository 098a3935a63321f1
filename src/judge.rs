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
use crate::policy::{Policy, SafeUrl};
use crate::problem::{Problem, any_error};
use crate::request::{ExpectBody, FetchKey};

/// The egress policy as the documents module sees it: URLs inside documents must pass
/// the same URL and host rules as the URLs we fetch.
pub struct PolicyUrlRules<'a>(pub &'a Policy);

impl UrlRules for PolicyUrlRules<'_> {
    fn url_problems(&self, url: &str) -> Vec<Problem> {
        self.0.url_problems(url)
    }
}

/// What a tool asked to have judged (`portcullis check`, the sealed lab); the service
/// judges a [`FetchKey`] directly, and this is resolved into one ([`JudgeRequest::key`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JudgeRequest {
    /// Document kind.
    pub kind: Kind,
    /// The untrusted URL.
    pub url: String,
    /// Expectations (resource, issuer).
    pub expect: Expect,
}

impl JudgeRequest {
    /// The request as the one question type, its profile resolved against the default.
    pub fn key(&self, default_profile: crate::kind::Profile) -> FetchKey {
        FetchKey {
            kind: self.kind,
            url: self.url.clone(),
            expect: ExpectBody {
                resource: self.expect.resource.clone(),
                issuer: self.expect.issuer.clone(),
            },
            profile: self.expect.profile.unwrap_or(default_profile),
        }
    }
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
pub fn precheck(request: &FetchKey, policy: &Policy, config: &Config) -> Vec<Problem> {
    let rules = PolicyUrlRules(policy);
    let ctx = Context::new(&rules, &config.documents);
    documents::precheck_url(request.kind, &request.url, &ctx)
}

/// Pure: turns a fetch report into a judgement by running the kind's validator.
pub fn decide(
    request: &FetchKey,
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
            let expect: Expect = request.documents_expect();
            let validated = documents::validate(request.kind, &request.url, &body, &expect, &ctx);
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
pub fn refused_before_fetch(url: &str, problems: Vec<Problem>) -> Judgement {
    Judgement {
        outcome: Outcome::Blocked,
        problems,
        facts: FetchFacts {
            final_url: url.to_owned(),
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

/// The fetch of a question under its kind's rules (body cap, redirects).
fn fetch_request(key: &FetchKey, config: &Config) -> FetchRequest {
    FetchRequest {
        url: key.url.clone(),
        max_body_bytes: config.limits.max_body_bytes.for_kind(key.kind),
        follow_redirects: documents::follows_redirects(key.kind),
    }
}

/// Pre-checks, fetches under the kind's rules, validates (the tools' path: every check here).
pub async fn judge(fetcher: &Fetcher, config: &Config, request: &JudgeRequest) -> Judgement {
    let key = request.key(config.documents.profile);
    let pre = precheck(&key, fetcher.policy(), config);
    if any_error(&pre) {
        return refused_before_fetch(&key.url, pre);
    }
    let report = fetcher.fetch(&fetch_request(&key, config)).await;
    decide(&key, report, fetcher.policy(), config)
}

/// Fetches and validates a question whose pre-check passed and whose URL already passed
/// the fetcher's policy (`url` from `fetcher.policy().check_url(&key.url)`): the service's
/// path, so the pre-check and the URL rules run once per request, not twice.
pub async fn judge_checked(
    fetcher: &Fetcher,
    config: &Config,
    key: &FetchKey,
    url: SafeUrl,
) -> Judgement {
    let report = fetcher
        .fetch_checked(&fetch_request(key, config), url)
        .await;
    decide(key, report, fetcher.policy(), config)
}
