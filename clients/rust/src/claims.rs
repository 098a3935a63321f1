//! The verdict claims, as signed by the service (contract v2 of issue 14).

use serde::Deserialize;
use serde_json::Value;

use crate::request::Kind;

/// How the service's fetch ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Fetched and valid: `document` is present.
    Valid,
    /// Fetched, but not a valid document of the kind.
    Invalid,
    /// Refused by policy (URL, host or address rules).
    Blocked,
    /// Could not be fetched in time.
    Unreachable,
}

/// One problem the service found; `code` is stable snake_case (docs/problems.md).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Problem {
    /// Stable code.
    pub code: String,
    /// `error` or `warning`.
    #[serde(default)]
    pub severity: Option<String>,
    /// Human text; not stable.
    #[serde(default)]
    pub detail: Option<String>,
}

impl Problem {
    /// Warnings accompany `valid` answers; everything else is an error.
    pub fn is_warning(&self) -> bool {
        self.severity.as_deref() == Some("warning")
    }
}

/// The `cache` claim: how long the caller may cache the *document* (not the trust window).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub struct CacheHint {
    /// Seconds, bounded by the service configuration.
    pub max_age_s: u64,
    /// The origin said `no-store`: do not cache.
    pub no_store: bool,
}

/// The verified claims. Only fields a caller acts on are typed; `fetch` stays JSON.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Claims {
    /// Issuer (the service's `signing.issuer`).
    pub iss: String,
    /// The caller the verdict was made for.
    pub aud: String,
    /// When this answer was signed (unix seconds).
    pub iat: u64,
    /// End of the trust window (unix seconds).
    pub exp: u64,
    /// Unique id of this answer.
    pub jti: String,
    /// The URL asked about, exactly as requested.
    pub url: String,
    /// The kind asked for.
    pub kind: Kind,
    /// How it ended.
    pub outcome: Outcome,
    /// Why (errors for refusals, warnings possible on `valid`).
    #[serde(default)]
    pub problems: Vec<Problem>,
    /// Fetch facts (address, status, `fetched_at`, …), absent when blocked before fetching.
    #[serde(default)]
    pub fetch: Option<Value>,
    /// base64url SHA-256 of the body.
    #[serde(default)]
    pub sha256: Option<String>,
    /// The validated document (only when `valid`).
    #[serde(default)]
    pub document: Option<Value>,
    /// Caching hint for the document; absent from older services (then: do not cache).
    #[serde(default)]
    pub cache: Option<CacheHint>,
    /// The expectations judged against, when the service echoes them.
    #[serde(default)]
    pub expect: Option<Value>,
}

impl Claims {
    /// Seconds the document may be cached: 0 when `no_store` or when there is no hint.
    pub fn cache_max_age_s(&self) -> u64 {
        match self.cache {
            Some(CacheHint {
                no_store: false,
                max_age_s,
            }) => max_age_s,
            _ => 0,
        }
    }

    /// The codes of the error problems (all problems when none is marked as an error).
    pub fn error_codes(&self) -> Vec<String> {
        let errors: Vec<String> = self
            .problems
            .iter()
            .filter(|p| !p.is_warning())
            .map(|p| p.code.clone())
            .collect();
        if errors.is_empty() {
            self.problems.iter().map(|p| p.code.clone()).collect()
        } else {
            errors
        }
    }
}
