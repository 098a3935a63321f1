//! Every answer to `POST /v1/fetch` that is not a verdict, as one enum: its HTTP status, its
//! stable code (the JSON body's `error`, the audit line's `error`), its metric scope and
//! its `retry_after` are decided here and nowhere else, so a new refusal cannot get a code
//! in one place and a different status in another. Pure: the server turns it into a
//! response, the service and admission produce it.

use std::time::Duration;

use serde_json::{Value, json};

use crate::problem::Code;

/// A caller exceeded its request rate (429).
pub const RATE_LIMITED_CALLER: Code = Code::new("rate_limited_caller");
/// Upstream fetches to one target host, all callers together, exceeded the host's ceiling
/// (429).
pub const RATE_LIMITED_TARGET_HOST: Code = Code::new("rate_limited_target_host");
/// Upstream fetches this caller caused to one target host exceeded its share (429).
pub const RATE_LIMITED_CALLER_TARGET_HOST: Code = Code::new("rate_limited_caller_target_host");
/// The service could not run the request at all (its work task died) (503).
pub const OVERLOADED: Code = Code::new("overloaded");
/// This caller has too many requests waiting for a fetch slot (503); other callers are
/// not affected.
pub const OVERLOADED_CALLER: Code = Code::new("overloaded_caller");
/// The request waited `limits.max_queue_wait_ms` for a fetch slot without getting one (503).
pub const QUEUE_TIMEOUT: Code = Code::new("queue_timeout");
/// The verdict could not be serialized or signed (500; fail closed, never cached).
pub const SIGNING_FAILED: &str = "signing_failed";

/// Which admission limit refused: a closed set, so the code, the status and the metric
/// scope are a `match`, never a string comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    /// The caller's request rate.
    Caller,
    /// The target host's ceiling, all callers together.
    TargetHost,
    /// This caller's share of one target host.
    CallerTargetHost,
    /// The service could not run the request at all.
    Overloaded,
    /// This caller's queue of requests waiting for a fetch slot is full.
    OverloadedCaller,
    /// The request waited too long for a fetch slot.
    QueueTimeout,
}

impl Limit {
    /// Every limit, for code lists and label pre-registration.
    pub const ALL: [Limit; 6] = [
        Limit::Caller,
        Limit::TargetHost,
        Limit::CallerTargetHost,
        Limit::Overloaded,
        Limit::OverloadedCaller,
        Limit::QueueTimeout,
    ];

    /// The stable code (docs/problems.md).
    pub const fn code(self) -> Code {
        match self {
            Limit::Caller => RATE_LIMITED_CALLER,
            Limit::TargetHost => RATE_LIMITED_TARGET_HOST,
            Limit::CallerTargetHost => RATE_LIMITED_CALLER_TARGET_HOST,
            Limit::Overloaded => OVERLOADED,
            Limit::OverloadedCaller => OVERLOADED_CALLER,
            Limit::QueueTimeout => QUEUE_TIMEOUT,
        }
    }

    /// Bounded metric label (one of `telemetry::metrics::SCOPES`; never a caller or host).
    pub const fn scope(self) -> &'static str {
        match self {
            Limit::Caller => "caller",
            Limit::TargetHost => "target_host",
            Limit::CallerTargetHost => "caller_target_host",
            Limit::OverloadedCaller => "caller_queue",
            Limit::QueueTimeout => "queue_timeout",
            Limit::Overloaded => "global",
        }
    }

    /// True when the limit is the leading caller's own (its host share, its queue), not the
    /// target host's or the service's: a caller that joined that fetch may retry on its own
    /// account.
    pub const fn is_caller_scoped(self) -> bool {
        matches!(
            self,
            Limit::CallerTargetHost | Limit::OverloadedCaller | Limit::QueueTimeout
        )
    }

    /// True for 503 refusals (the service is busy), false for 429 (a rate was exceeded).
    pub const fn is_overload(self) -> bool {
        matches!(
            self,
            Limit::Overloaded | Limit::OverloadedCaller | Limit::QueueTimeout
        )
    }
}

/// A limit's refusal and when to retry: what admission returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The limit that refused.
    pub limit: Limit,
    /// Suggested `Retry-After` (at least one second).
    pub retry_after: Duration,
}

impl Refusal {
    /// A refusal with the shortest retry hint (one second).
    pub fn soon(limit: Limit) -> Refusal {
        Refusal {
            limit,
            retry_after: Duration::from_secs(1),
        }
    }

    /// The limit's stable code.
    pub fn code(&self) -> Code {
        self.limit.code()
    }

    /// The limit's metric label.
    pub fn scope(&self) -> &'static str {
        self.limit.scope()
    }

    /// See [`Limit::is_caller_scoped`].
    pub fn is_caller_scoped(&self) -> bool {
        self.limit.is_caller_scoped()
    }

    /// See [`Limit::is_overload`].
    pub fn is_overload(&self) -> bool {
        self.limit.is_overload()
    }
}

/// Why a fetch request got no verdict: the one refusal shape of the API.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refused {
    /// No `Authorization: Bearer` header (401).
    #[error("missing bearer token")]
    MissingToken,
    /// A token that matches no configured caller (401).
    #[error("invalid bearer token")]
    InvalidToken,
    /// The body is not `application/json` (415).
    #[error("send the request as application/json")]
    UnsupportedMediaType,
    /// The body is over `[server] max_request_bytes` (413).
    #[error("request body is limited to {max_bytes} bytes")]
    RequestTooLarge {
        /// The configured limit.
        max_bytes: usize,
    },
    /// The body did not arrive within `[server] request_read_timeout_ms` (408).
    #[error("request body did not arrive in time")]
    RequestTimeout,
    /// The body or a header is not a valid fetch request (400).
    #[error("{0}")]
    InvalidRequest(String),
    /// A limit refused it (429 / 503, retryable).
    #[error("limit reached; retry later")]
    Limited(Refusal),
    /// The verdict could not be serialized or signed: 500, never cached (fail closed: no
    /// unsigned answer is ever given).
    #[error("the verdict could not be signed")]
    SigningFailed,
}

impl From<Refusal> for Refused {
    fn from(refusal: Refusal) -> Refused {
        Refused::Limited(refusal)
    }
}

impl Refused {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Refused::MissingToken | Refused::InvalidToken => 401,
            Refused::UnsupportedMediaType => 415,
            Refused::RequestTooLarge { .. } => 413,
            Refused::RequestTimeout => 408,
            Refused::InvalidRequest(_) => 400,
            Refused::Limited(r) if r.is_overload() => 503,
            Refused::Limited(_) => 429,
            Refused::SigningFailed => 500,
        }
    }

    /// The stable code: the JSON body's `error` and the audit line's `error`.
    pub fn code(&self) -> &'static str {
        match self {
            Refused::MissingToken => "missing_token",
            Refused::InvalidToken => "invalid_token",
            Refused::UnsupportedMediaType => "unsupported_media_type",
            Refused::RequestTooLarge { .. } => "request_too_large",
            Refused::RequestTimeout => "request_timeout",
            Refused::InvalidRequest(_) => "invalid_request",
            Refused::Limited(r) => r.code().as_str(),
            Refused::SigningFailed => SIGNING_FAILED,
        }
    }

    /// The rate-limit metric label, for refusals by a limit.
    pub fn scope(&self) -> Option<&'static str> {
        match self {
            Refused::Limited(r) => Some(r.scope()),
            _ => None,
        }
    }

    /// Seconds to wait before retrying (at least one), for retryable refusals.
    pub fn retry_after_s(&self) -> Option<u64> {
        match self {
            Refused::Limited(r) => Some(r.retry_after.as_secs().max(1)),
            _ => None,
        }
    }

    /// The JSON body: `{"error", "detail", "retry_after"?}` (retryable refusals say when
    /// in the body too, so an SDK need not read headers).
    pub fn body(&self) -> Value {
        let mut body = json!({ "error": self.code(), "detail": self.to_string() });
        if let (Some(after), Some(map)) = (self.retry_after_s(), body.as_object_mut()) {
            map.insert("retry_after".into(), after.into());
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_limit_has_a_registered_scope_and_a_retryable_status() {
        for limit in Limit::ALL {
            assert!(
                crate::telemetry::metrics::SCOPES.contains(&limit.scope()),
                "{limit:?}"
            );
            let refused = Refused::from(Refusal::soon(limit));
            assert!(matches!(refused.status(), 429 | 503), "{limit:?}");
            assert_eq!(refused.code(), limit.code().as_str());
            assert_eq!(refused.body()["retry_after"], 1);
        }
    }

    #[test]
    fn statuses_codes_and_bodies() {
        let cases = [
            (Refused::MissingToken, 401, "missing_token"),
            (Refused::InvalidToken, 401, "invalid_token"),
            (Refused::UnsupportedMediaType, 415, "unsupported_media_type"),
            (
                Refused::RequestTooLarge { max_bytes: 10 },
                413,
                "request_too_large",
            ),
            (Refused::RequestTimeout, 408, "request_timeout"),
            (Refused::InvalidRequest("x".into()), 400, "invalid_request"),
            (Refused::SigningFailed, 500, "signing_failed"),
            (
                Refused::from(Refusal::soon(Limit::Caller)),
                429,
                "rate_limited_caller",
            ),
            (
                Refused::from(Refusal::soon(Limit::QueueTimeout)),
                503,
                "queue_timeout",
            ),
        ];
        for (refused, status, code) in cases {
            assert_eq!((refused.status(), refused.code()), (status, code));
            let body = refused.body();
            assert_eq!(body["error"], code);
            assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
            assert_eq!(body.get("retry_after").is_some(), refused.scope().is_some());
        }
    }
}
