//! Typed errors: each carries stable codes an authorization server can log.

use crate::claims::Claims;

/// Why a verdict could not be trusted, or the service could not be used (stable codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolCode {
    /// Not a compact JWS, or undecodable header / payload.
    BadJws,
    /// The header `alg` is not in the allow-list.
    AlgNotAllowed,
    /// The header `typ` is not `portcullis-verdict+jwt`.
    WrongTyp,
    /// No published key has this `kid` (even after refetching the keys).
    UnknownKid,
    /// The signature does not verify.
    BadSignature,
    /// `iss` is not the expected issuer.
    WrongIssuer,
    /// `aud` is not this caller.
    WrongAudience,
    /// `exp` has passed (beyond the leeway).
    Expired,
    /// `iat` is in the future (beyond the leeway).
    BadIat,
    /// The verdict is about another URL.
    UrlMismatch,
    /// The verdict is about another kind.
    KindMismatch,
    /// The verdict was judged against other expectations.
    ExpectMismatch,
    /// `GET /v1/keys` failed or is not a JWK Set.
    KeysUnavailable,
    /// A 200 reply without a verdict, or an unparsable reply.
    BadReply,
    /// The service refused the request (400/401/413/415/5xx); see `service_code`.
    Refused,
    /// The HTTP exchange with the service failed.
    Transport,
}

impl ProtocolCode {
    /// The stable snake_case string (same as the Node kit's codes).
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolCode::BadJws => "bad_jws",
            ProtocolCode::AlgNotAllowed => "alg_not_allowed",
            ProtocolCode::WrongTyp => "wrong_typ",
            ProtocolCode::UnknownKid => "unknown_kid",
            ProtocolCode::BadSignature => "bad_signature",
            ProtocolCode::WrongIssuer => "wrong_issuer",
            ProtocolCode::WrongAudience => "wrong_audience",
            ProtocolCode::Expired => "expired",
            ProtocolCode::BadIat => "bad_iat",
            ProtocolCode::UrlMismatch => "url_mismatch",
            ProtocolCode::KindMismatch => "kind_mismatch",
            ProtocolCode::ExpectMismatch => "expect_mismatch",
            ProtocolCode::KeysUnavailable => "keys_unavailable",
            ProtocolCode::BadReply => "bad_reply",
            ProtocolCode::Refused => "refused",
            ProtocolCode::Transport => "transport",
        }
    }
}

/// Everything but a verified `valid` verdict.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Signed verdict: the policy refused the URL or an address it resolved to.
    #[error("{} is blocked ({})", .0.url, .0.error_codes().join(", "))]
    Blocked(Box<Claims>),
    /// Signed verdict: fetched, not a valid document of the kind.
    #[error("{} is invalid ({})", .0.url, .0.error_codes().join(", "))]
    Invalid(Box<Claims>),
    /// Signed verdict: could not be fetched in time.
    #[error("{} is unreachable ({})", .0.url, .0.error_codes().join(", "))]
    Unreachable(Box<Claims>),
    /// 429 / 503 (or the service could not be reached): retry after `retry_after_s`.
    #[error("portcullis unavailable: {status} {code}")]
    Unavailable {
        /// HTTP status (0 when the service could not be reached at all).
        status: u16,
        /// The service's code (`rate_limited_caller`, `overloaded`, …).
        code: String,
        /// From the body's `retry_after`, else the `Retry-After` header.
        retry_after_s: Option<u64>,
    },
    /// The answer cannot be trusted or the request was refused; never use a document then.
    #[error("portcullis protocol error {}: {detail}", .code.as_str())]
    Protocol {
        /// What went wrong.
        code: ProtocolCode,
        /// The service's own code for [`ProtocolCode::Refused`] (e.g. `invalid_request`).
        service_code: Option<String>,
        /// HTTP status, when there was one.
        status: Option<u16>,
        /// Human text; not stable.
        detail: String,
    },
}

impl Error {
    /// A protocol error without a service code or status.
    pub(crate) fn protocol(code: ProtocolCode, detail: impl Into<String>) -> Error {
        Error::Protocol {
            code,
            service_code: None,
            status: None,
            detail: detail.into(),
        }
    }

    /// The stable codes to log: problem codes of a signed refusal, or the one error code.
    pub fn codes(&self) -> Vec<String> {
        match self {
            Error::Blocked(c) | Error::Invalid(c) | Error::Unreachable(c) => c.error_codes(),
            Error::Unavailable { code, .. } => vec![code.clone()],
            Error::Protocol {
                code, service_code, ..
            } => match service_code {
                Some(s) => vec![s.clone()],
                None => vec![code.as_str().to_owned()],
            },
        }
    }

    /// Whether retrying later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unavailable { .. })
    }

    /// The signed claims of a refusal, for the audit log.
    pub fn claims(&self) -> Option<&Claims> {
        match self {
            Error::Blocked(c) | Error::Invalid(c) | Error::Unreachable(c) => Some(c),
            _ => None,
        }
    }
}
