//! Problem codes the proxy adds to the policy's and the fetcher's, and the HTTP status each
//! refusal answers with. The code travels in `X-Portcullis-Error` so client logs say why.

use http::StatusCode;

use crate::fetch::codes as fetch_codes;
use crate::problem::Code;

/// No `Proxy-Authorization` header (or not `Basic`).
pub const PROXY_AUTH_REQUIRED: Code = Code::new("proxy_auth_required");
/// `Proxy-Authorization` names no configured caller, or the name and token disagree.
pub const PROXY_AUTH_INVALID: Code = Code::new("proxy_auth_invalid");
/// Anything but `CONNECT` (plain-HTTP proxying is not offered).
pub const PROXY_METHOD_NOT_ALLOWED: Code = Code::new("proxy_method_not_allowed");
/// The CONNECT target is not `host:port`.
pub const PROXY_BAD_TARGET: Code = Code::new("proxy_bad_target");
/// The caller's role allows only other hosts.
pub const PROXY_HOST_NOT_ALLOWED_FOR_CALLER: Code = Code::new("proxy_host_not_allowed_for_caller");
/// The caller opened CONNECTs faster than its rate.
pub const PROXY_RATE_LIMITED_CALLER: Code = Code::new("proxy_rate_limited_caller");
/// Tunnels to this target host were opened faster than its rate.
pub const PROXY_RATE_LIMITED_TARGET_HOST: Code = Code::new("proxy_rate_limited_target_host");
/// The caller already holds its maximum of open tunnels.
pub const PROXY_CALLER_TUNNELS_EXHAUSTED: Code = Code::new("proxy_caller_tunnels_exhausted");
/// The proxy already holds its maximum of open tunnels.
pub const PROXY_TUNNELS_EXHAUSTED: Code = Code::new("proxy_tunnels_exhausted");

/// Every proxy code, for metric pre-registration and `docs/proxy.md`.
pub const ALL_CODES: &[Code] = &[
    PROXY_AUTH_REQUIRED,
    PROXY_AUTH_INVALID,
    PROXY_METHOD_NOT_ALLOWED,
    PROXY_BAD_TARGET,
    PROXY_HOST_NOT_ALLOWED_FOR_CALLER,
    PROXY_RATE_LIMITED_CALLER,
    PROXY_RATE_LIMITED_TARGET_HOST,
    PROXY_CALLER_TUNNELS_EXHAUSTED,
    PROXY_TUNNELS_EXHAUSTED,
];

/// The status a refusal with `code` answers: 407 auth, 405 method, 400 syntax, 429 rates and
/// per-caller tunnels, 503 the global tunnel cap, 504 timeouts, 502 DNS and connect failures,
/// and 403 for every rule (policy reason codes, roles).
pub fn status_for(code: Code) -> StatusCode {
    match code {
        PROXY_AUTH_REQUIRED | PROXY_AUTH_INVALID => StatusCode::PROXY_AUTHENTICATION_REQUIRED,
        PROXY_METHOD_NOT_ALLOWED => StatusCode::METHOD_NOT_ALLOWED,
        PROXY_BAD_TARGET => StatusCode::BAD_REQUEST,
        PROXY_RATE_LIMITED_CALLER
        | PROXY_RATE_LIMITED_TARGET_HOST
        | PROXY_CALLER_TUNNELS_EXHAUSTED => StatusCode::TOO_MANY_REQUESTS,
        PROXY_TUNNELS_EXHAUSTED => StatusCode::SERVICE_UNAVAILABLE,
        fetch_codes::DNS_TIMEOUT | fetch_codes::CONNECT_TIMEOUT => StatusCode::GATEWAY_TIMEOUT,
        fetch_codes::DNS_NXDOMAIN
        | fetch_codes::DNS_NO_ADDRESSES
        | fetch_codes::DNS_FAILED
        | fetch_codes::CONNECT_FAILED => StatusCode::BAD_GATEWAY,
        _ => StatusCode::FORBIDDEN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{CLOUD_METADATA, PORT_NOT_ALLOWED};

    #[test]
    fn each_refusal_class_has_its_status() {
        assert_eq!(status_for(PROXY_AUTH_REQUIRED).as_u16(), 407);
        assert_eq!(status_for(PROXY_METHOD_NOT_ALLOWED).as_u16(), 405);
        assert_eq!(status_for(CLOUD_METADATA).as_u16(), 403);
        assert_eq!(status_for(PORT_NOT_ALLOWED).as_u16(), 403);
        assert_eq!(status_for(PROXY_RATE_LIMITED_CALLER).as_u16(), 429);
        assert_eq!(status_for(PROXY_TUNNELS_EXHAUSTED).as_u16(), 503);
        assert_eq!(status_for(fetch_codes::CONNECT_FAILED).as_u16(), 502);
        assert_eq!(status_for(fetch_codes::DNS_TIMEOUT).as_u16(), 504);
    }
}
