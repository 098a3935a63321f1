//! OAuth 2.0 Protected Resource Metadata (RFC 9728), with MCP 2025-11-25's requirement
//! that `authorization_servers` is present (an `mcp` profile rule).
//!
//! The `resource` check (RFC 9728 §3.3) is what stops a malicious resource from
//! impersonating another: the document must name the exact resource whose well-known URL
//! was fetched, or the resource the caller expects.

use serde_json::{Map, Value};

use super::fields::{
    EMPTY_VALUE, Need, UrlUse, check_url, check_url_member, get_str, get_str_array,
};
use super::well_known::resources_from_metadata_url;
use super::{Context, Expect};
use crate::kind::Profile;
use crate::problem::{Code, Problem};

/// No expected resource was given and the URL is not a well-known PRM URL to derive it from.
pub const EXPECTED_RESOURCE_UNKNOWN: Code = Code::new("expected_resource_unknown");
/// `resource` is not identical to the expected resource identifier.
pub const RESOURCE_MISMATCH: Code = Code::new("resource_mismatch");
/// An `authorization_servers` entry is not an issuer identifier (has a query or fragment).
pub const AUTHORIZATION_SERVER_NOT_ISSUER: Code = Code::new("authorization_server_not_issuer");
/// A `bearer_methods_supported` value is not `header`, `body` or `query` (RFC 6750).
pub const BEARER_METHOD_UNKNOWN: Code = Code::new("bearer_method_unknown");

/// Every code this module raises.
pub const ALL_CODES: &[Code] = &[
    EXPECTED_RESOURCE_UNKNOWN,
    RESOURCE_MISMATCH,
    AUTHORIZATION_SERVER_NOT_ISSUER,
    BEARER_METHOD_UNKNOWN,
];

const LINK_MEMBERS: &[&str] = &[
    "resource_documentation",
    "resource_policy_uri",
    "resource_tos_uri",
];

/// Validates protected resource metadata fetched from `requested_url`; returns it unchanged.
pub fn validate(
    requested_url: &str,
    map: Map<String, Value>,
    expect: &Expect,
    ctx: &Context<'_>,
    out: &mut Vec<Problem>,
) -> Value {
    let expected = match &expect.resource {
        Some(r) => Some(vec![r.clone()]),
        None => resources_from_metadata_url(requested_url),
    };
    if expected.is_none() {
        out.push(Problem::error(
            EXPECTED_RESOURCE_UNKNOWN,
            format!(
                "{requested_url:?} is not a well-known protected resource metadata URL and no resource was expected"
            ),
        ));
    }
    if let Some(resource) = get_str(&map, "resource", Need::Required, out) {
        check_url(resource, "/resource", UrlUse::Endpoint, ctx, out);
        if let Some(expected) = &expected
            && !expected.iter().any(|e| e == resource)
        {
            out.push(
                Problem::error(
                    RESOURCE_MISMATCH,
                    format!("resource {resource:?} is not {:?}", expected[0]),
                )
                .at("/resource"),
            );
        }
    }
    // RFC 9728 §2 makes authorization_servers optional; MCP 2025-11-25 requires it.
    if !map.contains_key("authorization_servers") {
        ctx.profile_rule(
            Profile::Mcp,
            Problem::error(
                super::fields::MISSING_MEMBER,
                "authorization_servers is required by MCP",
            )
            .at("/authorization_servers"),
            out,
        );
    }
    if let Some(servers) = get_str_array(&map, "authorization_servers", Need::Optional, out) {
        if servers.is_empty() {
            out.push(
                Problem::error(
                    EMPTY_VALUE,
                    "authorization_servers must name at least one issuer",
                )
                .at("/authorization_servers"),
            );
        }
        for (i, issuer) in servers {
            let at = format!("/authorization_servers/{i}");
            super::as_metadata::check_issuer_not_metadata_url(issuer, &at, out);
            if let Some(url) = check_url(issuer, &at, UrlUse::Endpoint, ctx, out)
                && url.query().is_some()
            {
                out.push(
                    Problem::error(
                        AUTHORIZATION_SERVER_NOT_ISSUER,
                        format!("{issuer:?} has a query, which an issuer cannot have"),
                    )
                    .at(at),
                );
            }
        }
    }
    check_url_member(&map, "jwks_uri", Need::Optional, UrlUse::Endpoint, ctx, out);
    super::as_metadata::check_no_none_alg(&map, "resource_signing_alg_values_supported", out);
    for name in LINK_MEMBERS {
        check_url_member(&map, name, Need::Optional, UrlUse::Link, ctx, out);
    }
    if let Some(methods) = get_str_array(&map, "bearer_methods_supported", Need::Optional, out) {
        for (i, m) in methods {
            if !["header", "body", "query"].contains(&m) {
                out.push(
                    Problem::error(
                        BEARER_METHOD_UNKNOWN,
                        format!("bearer method {m:?} is not header, body or query"),
                    )
                    .at(format!("/bearer_methods_supported/{i}")),
                );
            }
        }
    }
    Value::Object(map)
}
