//! Document validators: strict JSON, then the rules of each document kind.
//!
//! Everything here is pure (no I/O, no clock, no network) so it can be fuzzed and tested
//! deterministically. URLs found inside documents are judged through [`UrlRules`], which
//! the egress policy implements, so this module never decides what an address means.

pub mod as_metadata;
pub mod atproto;
pub mod cimd;
pub mod fields;
pub mod jwks;
pub mod prm;
pub mod strict_json;
pub mod well_known;

use serde_json::Value;

pub use strict_json::JsonLimits;

use crate::config::DocumentsConfig;
use crate::kind::{Kind, Profile};
use crate::problem::{Code, Problem, any_error};

/// What the caller already knows the document must say; absent fields are derived from
/// the requested well-known URL where the specifications allow it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expect {
    /// Protected resource identifier the metadata must name (RFC 9728 §3.3).
    pub resource: Option<String>,
    /// Issuer the authorization server metadata must name (RFC 8414 §3.3).
    pub issuer: Option<String>,
    /// Rule book to judge by; `None` takes the configured `[documents] profile`.
    pub profile: Option<Profile>,
}

/// Judges URLs found inside documents (the egress policy implements it), because a
/// document can point a later fetch at an internal address (CIMD draft: special-use
/// addresses must not be fetched).
pub trait UrlRules {
    /// Problems for a URL found inside a document (empty = allowed).
    fn url_problems(&self, url: &str) -> Vec<Problem>;
}

/// Everything a validator may consult besides the document itself.
pub struct Context<'a> {
    /// Egress rules for URLs inside documents.
    pub url_rules: &'a dyn UrlRules,
    /// Operator policy stricter than the specifications.
    pub options: &'a DocumentsConfig,
    /// Shape limits for the strict JSON reader.
    pub limits: JsonLimits,
    /// The profile in force (set by [`validate`] from [`Expect::profile`] or the config).
    pub profile: Profile,
}

impl<'a> Context<'a> {
    /// A context with the default JSON limits, the common case.
    pub fn new(url_rules: &'a dyn UrlRules, options: &'a DocumentsConfig) -> Self {
        Context {
            url_rules,
            options,
            limits: JsonLimits::default(),
            profile: options.profile,
        }
    }

    /// Records the problem of a rule only `rule_profile` has: an error under that profile,
    /// a warning under `oauth` when the rule is MCP's (so MCP operators see it without the
    /// default profile crying wolf), nothing otherwise. Always tagged with `rule_profile`.
    pub(crate) fn profile_rule(
        &self,
        rule_profile: Profile,
        problem: Problem,
        out: &mut Vec<Problem>,
    ) {
        let problem = problem.by(rule_profile);
        if self.profile == rule_profile {
            out.push(Problem {
                severity: crate::problem::Severity::Error,
                ..problem
            });
        } else if self.profile == Profile::Oauth && rule_profile == Profile::Mcp {
            out.push(Problem {
                severity: crate::problem::Severity::Warning,
                ..problem
            });
        }
    }
}

/// The judgement of one document.
#[derive(Clone, Debug, PartialEq)]
pub struct Validated {
    /// Every problem found, errors and warnings, in a stable order.
    pub problems: Vec<Problem>,
    /// The validated document (for JWKS the usable public keys, see `jwks::PUBLIC_MEMBERS`); `Some` only when no error.
    pub document: Option<Value>,
}

impl Validated {
    /// True when no problem is an error.
    pub fn is_valid(&self) -> bool {
        !any_error(&self.problems)
    }
}

/// Validates `body` fetched from `requested_url` as a document of `kind`. The result is
/// complete on its own: checks of [`precheck_url`] are repeated here.
pub fn validate(
    kind: Kind,
    requested_url: &str,
    body: &[u8],
    expect: &Expect,
    ctx: &Context<'_>,
) -> Validated {
    let profiled;
    let ctx = match expect.profile {
        Some(p) if p != ctx.profile => {
            profiled = Context {
                url_rules: ctx.url_rules,
                options: ctx.options,
                limits: ctx.limits,
                profile: p,
            };
            &profiled
        }
        _ => ctx,
    };
    let map = match strict_json::read_object(body, &ctx.limits) {
        Ok(map) => map,
        Err(problem) => {
            return Validated {
                problems: vec![problem],
                document: None,
            };
        }
    };
    let mut problems = Vec::new();
    let document = match kind {
        Kind::Json => Value::Object(map),
        Kind::ClientMetadata => cimd::validate(requested_url, map, ctx, &mut problems),
        Kind::Jwks => jwks::validate(&map, ctx, &mut problems),
        Kind::ProtectedResourceMetadata => {
            prm::validate(requested_url, map, expect, ctx, &mut problems)
        }
        Kind::AuthorizationServerMetadata => {
            as_metadata::validate(requested_url, map, expect, ctx, &mut problems)
        }
    };
    let document = if any_error(&problems) {
        None
    } else {
        Some(document)
    };
    Validated { problems, document }
}

/// Checks run BEFORE fetching (e.g. the CIMD client_id URL shape); errors here mean "do
/// not fetch".
pub fn precheck_url(kind: Kind, requested_url: &str, ctx: &Context<'_>) -> Vec<Problem> {
    match kind {
        Kind::ClientMetadata => cimd::precheck_client_id(requested_url, ctx.options),
        _ => Vec::new(),
    }
}

/// Whether this kind's fetch may follow redirects (CIMD: never, the draft forbids it so
/// the document always comes from the URL that is the client_id).
pub fn follows_redirects(kind: Kind) -> bool {
    !matches!(kind, Kind::ClientMetadata)
}

/// Every code any document validator can raise, for docs and metric pre-registration.
pub fn all_codes() -> impl Iterator<Item = Code> {
    [
        strict_json::ALL_CODES,
        fields::ALL_CODES,
        cimd::ALL_CODES,
        jwks::ALL_CODES,
        prm::ALL_CODES,
        as_metadata::ALL_CODES,
        well_known::ALL_CODES,
    ]
    .into_iter()
    .flatten()
    .copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const DOC: &str = include_str!("../../docs/problems.md");

    #[test]
    fn every_code_is_documented_once_and_unique() {
        let mut seen = HashSet::new();
        for code in all_codes() {
            assert!(seen.insert(code), "{code} declared twice");
            assert!(
                DOC.contains(&format!("| `{code}` |")),
                "{code} missing from docs/problems.md"
            );
        }
    }

    #[test]
    fn redirects_only_forbidden_for_cimd() {
        for kind in Kind::ALL {
            assert_eq!(follows_redirects(kind), kind != Kind::ClientMetadata);
        }
    }
}
