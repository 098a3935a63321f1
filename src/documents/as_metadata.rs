//! OAuth 2.0 Authorization Server Metadata (RFC 8414) and OpenID Provider configuration.
//!
//! The issuer check (RFC 8414 §3.3) stops mix-up attacks: the document must name the
//! issuer its well-known URL was built from. MCP clients refuse servers without PKCE
//! S256, so its absence is an error under the `mcp` profile (a warning under `oauth`).

use serde_json::{Map, Value};

use super::fields::{
    EMPTY_VALUE, Need, UrlUse, check_url, check_url_member, get_bool, get_str, get_str_array,
};
use super::well_known::issuers_from_metadata_url;
use super::{Context, Expect};
use crate::kind::Profile;
use crate::problem::{Code, Problem};

/// No expected issuer was given and the URL is not a well-known metadata URL to derive it from.
pub const EXPECTED_ISSUER_UNKNOWN: Code = Code::new("expected_issuer_unknown");
/// `issuer` is not identical to the expected issuer.
pub const ISSUER_MISMATCH: Code = Code::new("issuer_mismatch");
/// `issuer` has a query component (RFC 8414 §2 forbids it).
pub const ISSUER_HAS_QUERY: Code = Code::new("issuer_has_query");
/// `issuer` is a template (e.g. Entra's `{tenantid}`), not an identifier.
pub const ISSUER_TEMPLATED: Code = Code::new("issuer_templated");
/// `code_challenge_methods_supported` is absent or lacks `S256`; MCP clients refuse it.
pub const PKCE_S256_NOT_SUPPORTED: Code = Code::new("pkce_s256_not_supported");
/// `code_challenge_methods_supported` offers `plain` (RFC 9700 §2.1.1 discourages it).
pub const PKCE_PLAIN_SUPPORTED: Code = Code::new("pkce_plain_supported");
/// An issuer identifier (`issuer`, or an `authorization_servers` entry of protected resource
/// metadata) is itself a `/.well-known/oauth-authorization-server` or
/// `/.well-known/openid-configuration` URL: clients build the metadata URL from the issuer,
/// so discovery breaks (seen in real MCP servers' metadata).
pub const ISSUER_IS_METADATA_URL: Code = Code::new("issuer_is_metadata_url");
/// A `*_signing_alg_values_supported` list offers `none` (RFC 8414 §2 and RFC 9728 §2:
/// "The value `none` MUST NOT be used").
pub const SIGNING_ALG_NONE: Code = Code::new("signing_alg_none");

/// Every code this module raises.
pub const ALL_CODES: &[Code] = &[
    EXPECTED_ISSUER_UNKNOWN,
    ISSUER_MISMATCH,
    ISSUER_HAS_QUERY,
    ISSUER_TEMPLATED,
    PKCE_S256_NOT_SUPPORTED,
    PKCE_PLAIN_SUPPORTED,
    ISSUER_IS_METADATA_URL,
    SIGNING_ALG_NONE,
];

/// AS metadata members that list signing algorithms where `none` is forbidden.
const SIGNING_ALG_MEMBERS: &[&str] = &[
    "token_endpoint_auth_signing_alg_values_supported",
    "revocation_endpoint_auth_signing_alg_values_supported",
    "introspection_endpoint_auth_signing_alg_values_supported",
];

/// Endpoints a client calls server-side: https required, fragments forbidden, egress rules
/// apply. (`authorization_endpoint` is judged as a browser URL, see [`BROWSER_MEMBERS`].)
const ENDPOINT_MEMBERS: &[&str] = &[
    "token_endpoint",
    "jwks_uri",
    "registration_endpoint",
    "revocation_endpoint",
    "introspection_endpoint",
    "userinfo_endpoint",
    "device_authorization_endpoint",
    "pushed_authorization_request_endpoint",
    "backchannel_authentication_endpoint",
];
/// Endpoints only a user's browser visits: https and no fragment, but no egress rules.
const BROWSER_MEMBERS: &[&str] = &["end_session_endpoint"];
/// Pages for people: non-https is a warning.
const LINK_MEMBERS: &[&str] = &["service_documentation", "op_policy_uri", "op_tos_uri"];
/// Marker of the client_id metadata document support, always present in the output.
const CIMD_SUPPORTED: &str = "client_id_metadata_document_supported";

/// Validates authorization server metadata fetched from `requested_url`; returns it with
/// `client_id_metadata_document_supported` made explicit (false when absent).
pub fn validate(
    requested_url: &str,
    mut map: Map<String, Value>,
    expect: &Expect,
    ctx: &Context<'_>,
    out: &mut Vec<Problem>,
) -> Value {
    let expected = match &expect.issuer {
        Some(i) => Some(vec![i.clone()]),
        None => issuers_from_metadata_url(requested_url),
    };
    if expected.is_none() {
        out.push(Problem::error(
            EXPECTED_ISSUER_UNKNOWN,
            format!(
                "{requested_url:?} is not a well-known metadata URL and no issuer was expected"
            ),
        ));
    }
    if let Some(issuer) = get_str(&map, "issuer", Need::Required, out) {
        if let Some(url) = check_url(issuer, "/issuer", UrlUse::Endpoint, ctx, out)
            && url.query().is_some()
        {
            out.push(
                Problem::error(ISSUER_HAS_QUERY, "issuer must not have a query").at("/issuer"),
            );
        }
        check_issuer_not_metadata_url(issuer, "/issuer", out);
        if issuer.contains('{') || issuer.contains('}') {
            out.push(
                Problem::error(
                    ISSUER_TEMPLATED,
                    format!("issuer {issuer:?} is a template, not an identifier"),
                )
                .at("/issuer"),
            );
        }
        if let Some(expected) = &expected
            && !expected.iter().any(|e| e == issuer)
        {
            out.push(
                Problem::error(
                    ISSUER_MISMATCH,
                    format!("issuer {issuer:?} is not {:?}", expected[0]),
                )
                .at("/issuer"),
            );
        }
    }
    if let Some(types) = get_str_array(&map, "response_types_supported", Need::Required, out)
        && types.is_empty()
    {
        out.push(
            Problem::error(EMPTY_VALUE, "response_types_supported must not be empty")
                .at("/response_types_supported"),
        );
    }
    // RFC 8414 §2: grant_types_supported defaults to authorization_code and implicit.
    let grants: Vec<&str> = get_str_array(&map, "grant_types_supported", Need::Optional, out)
        .map(|v| v.into_iter().map(|(_, s)| s).collect())
        .unwrap_or_else(|| vec!["authorization_code", "implicit"]);
    let uses_authz_endpoint = grants
        .iter()
        .any(|g| *g == "authorization_code" || *g == "implicit");
    let only_implicit = !grants.is_empty() && grants.iter().all(|g| *g == "implicit");
    let authz_need = if uses_authz_endpoint {
        Need::Required
    } else {
        Need::Optional
    };
    check_url_member(
        &map,
        "authorization_endpoint",
        authz_need,
        UrlUse::Browser,
        ctx,
        out,
    );
    if !only_implicit && !map.contains_key("token_endpoint") {
        out.push(
            Problem::error(super::fields::MISSING_MEMBER, "token_endpoint is required")
                .at("/token_endpoint"),
        );
    }
    for name in ENDPOINT_MEMBERS {
        check_url_member(&map, name, Need::Optional, UrlUse::Endpoint, ctx, out);
    }
    for name in BROWSER_MEMBERS {
        check_url_member(&map, name, Need::Optional, UrlUse::Browser, ctx, out);
    }
    for name in LINK_MEMBERS {
        check_url_member(&map, name, Need::Optional, UrlUse::Link, ctx, out);
    }
    let methods = get_str_array(
        &map,
        "code_challenge_methods_supported",
        Need::Optional,
        out,
    );
    let methods: Vec<&str> = methods
        .map(|v| v.into_iter().map(|(_, s)| s).collect())
        .unwrap_or_default();
    // MCP 2025-11-25: clients MUST refuse an AS whose metadata lacks S256. RFC 8414 makes
    // the member optional, so under `oauth` this is a warning tagged `mcp`.
    if !methods.contains(&"S256") {
        ctx.profile_rule(
            Profile::Mcp,
            Problem::error(
                PKCE_S256_NOT_SUPPORTED,
                "code_challenge_methods_supported must list S256 (MCP clients refuse otherwise)",
            )
            .at("/code_challenge_methods_supported"),
            out,
        );
    }
    if methods.contains(&"plain") {
        out.push(
            Problem::warning(PKCE_PLAIN_SUPPORTED, "the plain PKCE method is offered")
                .at("/code_challenge_methods_supported"),
        );
    }
    for name in SIGNING_ALG_MEMBERS {
        check_no_none_alg(&map, name, out);
    }
    let cimd = get_bool(&map, CIMD_SUPPORTED, out).unwrap_or(false);
    if !map.contains_key(CIMD_SUPPORTED) {
        map.insert(CIMD_SUPPORTED.into(), Value::Bool(cimd));
    }
    Value::Object(map)
}

/// Well-known suffixes a client appends to an issuer; an issuer ending in one is a metadata
/// URL given where the issuer belongs.
const METADATA_SUFFIXES: &[&str] = &[
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
];

/// Reports an issuer identifier that is a metadata URL (RFC 8414 §3.1 inserts the suffix
/// into the issuer; an issuer already holding it yields a URL that does not exist).
pub(crate) fn check_issuer_not_metadata_url(issuer: &str, at: &str, out: &mut Vec<Problem>) {
    let Ok(url) = url::Url::parse(issuer) else {
        return;
    };
    let path = url.path().to_ascii_lowercase();
    if METADATA_SUFFIXES
        .iter()
        .any(|s| path.starts_with(s) || path.ends_with(s) || path.contains(&format!("{s}/")))
    {
        out.push(
            Problem::error(
                ISSUER_IS_METADATA_URL,
                format!("{issuer:?} is a metadata URL, not an issuer identifier"),
            )
            .at(at),
        );
    }
}

/// Reports `none` in a list of signing algorithms (RFC 8414 §2, RFC 9728 §2).
pub(crate) fn check_no_none_alg(map: &Map<String, Value>, name: &str, out: &mut Vec<Problem>) {
    if let Some(algs) = get_str_array(map, name, Need::Optional, out) {
        for (i, alg) in algs {
            if alg == "none" {
                out.push(
                    Problem::error(SIGNING_ALG_NONE, format!("{name} must not offer none"))
                        .at(format!("/{name}/{i}")),
                );
            }
        }
    }
}
