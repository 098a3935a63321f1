//! Problem codes raised by the fetcher. Every cap has its own code so a caller (and an
//! alert) can tell a slow origin from a big one from a broken one.

use crate::problem::Code;

/// The name does not exist (NXDOMAIN).
pub const DNS_NXDOMAIN: Code = Code::new("dns_nxdomain");
/// The name exists but has no A or AAAA records.
pub const DNS_NO_ADDRESSES: Code = Code::new("dns_no_addresses");
/// The resolver answered with an error (SERVFAIL, REFUSED, truncation, malformed answer).
pub const DNS_FAILED: Code = Code::new("dns_failed");
/// Resolution took longer than `limits.resolve_timeout_ms`.
pub const DNS_TIMEOUT: Code = Code::new("dns_timeout");
/// No checked address accepted a TCP connection.
pub const CONNECT_FAILED: Code = Code::new("connect_failed");
/// TCP connect took longer than `limits.connect_timeout_ms`.
pub const CONNECT_TIMEOUT: Code = Code::new("connect_timeout");
/// TLS handshake failed (certificate, name, protocol).
pub const TLS_FAILED: Code = Code::new("tls_failed");
/// TLS handshake took longer than `limits.tls_timeout_ms`.
pub const TLS_TIMEOUT: Code = Code::new("tls_timeout");
/// The HTTP exchange failed (malformed response, reset, protocol error).
pub const HTTP_FAILED: Code = Code::new("http_failed");
/// No complete response head within `limits.first_byte_timeout_ms`.
pub const FIRST_BYTE_TIMEOUT: Code = Code::new("first_byte_timeout");
/// The body did not arrive within `limits.body_timeout_ms`.
pub const BODY_TIMEOUT: Code = Code::new("body_timeout");
/// The whole fetch took longer than `limits.total_timeout_ms`.
pub const DEADLINE_EXCEEDED: Code = Code::new("deadline_exceeded");
/// The response head was larger than `limits.max_header_bytes` or had too many fields.
pub const HEADERS_TOO_LARGE: Code = Code::new("headers_too_large");
/// The body was (or announced to be) larger than the kind's cap.
pub const BODY_TOO_LARGE: Code = Code::new("body_too_large");
/// The status was not 200 (and not a redirect that could be followed).
pub const STATUS_NOT_OK: Code = Code::new("status_not_ok");
/// The `Content-Type` is not `application/json` or `application/*+json`.
pub const CONTENT_TYPE_NOT_JSON: Code = Code::new("content_type_not_json");
/// The response carries a `Content-Encoding` other than identity (on any field line), or a
/// `Transfer-Encoding` other than chunked.
pub const CONTENT_ENCODING_NOT_ALLOWED: Code = Code::new("content_encoding_not_allowed");
/// More redirects than `limits.max_redirects`.
pub const TOO_MANY_REDIRECTS: Code = Code::new("too_many_redirects");
/// A redirect pointed back to a URL already visited.
pub const REDIRECT_LOOP: Code = Code::new("redirect_loop");
/// A redirect without a usable `Location`.
pub const REDIRECT_INVALID: Code = Code::new("redirect_invalid");
/// The kind forbids redirects (CIMD) and the origin answered with one.
pub const REDIRECT_NOT_ALLOWED: Code = Code::new("redirect_not_allowed");

/// Every fetch code, for `docs/problems.md` checks and metric pre-registration.
pub const ALL_CODES: &[Code] = &[
    DNS_NXDOMAIN,
    DNS_NO_ADDRESSES,
    DNS_FAILED,
    DNS_TIMEOUT,
    CONNECT_FAILED,
    CONNECT_TIMEOUT,
    TLS_FAILED,
    TLS_TIMEOUT,
    HTTP_FAILED,
    FIRST_BYTE_TIMEOUT,
    BODY_TIMEOUT,
    DEADLINE_EXCEEDED,
    HEADERS_TOO_LARGE,
    BODY_TOO_LARGE,
    STATUS_NOT_OK,
    CONTENT_TYPE_NOT_JSON,
    CONTENT_ENCODING_NOT_ALLOWED,
    TOO_MANY_REDIRECTS,
    REDIRECT_LOOP,
    REDIRECT_INVALID,
    REDIRECT_NOT_ALLOWED,
];
