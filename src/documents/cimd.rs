//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, as adopted
//! by MCP 2025-11-25; stricter later revisions where they differ).
//!
//! The client_id *is* the document's URL, so the URL shape is checked before fetching
//! ([`precheck_client_id`]) and the document must name exactly that URL. A CIMD client
//! cannot hold a shared secret (anyone can read the document), so secrets and
//! secret-based authentication methods are refused.

use serde_json::{Map, Value};
use url::{Host, Url};

use super::Context;
use super::fields::{
    EMPTY_VALUE, MISSING_MEMBER, Need, UrlUse, check_url_member, get_str, get_str_array, ptr,
};
use super::jwks;
use super::well_known::split_https;
use crate::config::DocumentsConfig;
use crate::kind::Profile;
use crate::problem::{Code, Problem};

/// The client_id is not an absolute https URL with a host.
pub const CLIENT_ID_NOT_HTTPS_URL: Code = Code::new("client_id_not_https_url");
/// The client_id URL has no path, or only `/` (the draft requires a path component).
pub const CLIENT_ID_NO_PATH: Code = Code::new("client_id_no_path");
/// The client_id path has a `.` or `..` segment (also percent-encoded `%2e`).
pub const CLIENT_ID_DOT_SEGMENT: Code = Code::new("client_id_dot_segment");
/// The client_id URL has a fragment.
pub const CLIENT_ID_HAS_FRAGMENT: Code = Code::new("client_id_has_fragment");
/// The client_id URL has userinfo (`user:pass@`).
pub const CLIENT_ID_HAS_USERINFO: Code = Code::new("client_id_has_userinfo");
/// The client_id URL has a query (allowed, discouraged by the draft).
pub const CLIENT_ID_HAS_QUERY: Code = Code::new("client_id_has_query");
/// The client_id host is outside the operator's `client_id_domains` allow list.
pub const CLIENT_ID_DOMAIN_NOT_ALLOWED: Code = Code::new("client_id_domain_not_allowed");
/// The document's `client_id` is not identical to the URL it was fetched from.
pub const CLIENT_ID_MISMATCH: Code = Code::new("client_id_mismatch");
/// `client_secret` or `client_secret_expires_at` is present; a public document cannot
/// hold a secret.
pub const CLIENT_SECRET_NOT_ALLOWED: Code = Code::new("client_secret_not_allowed");
/// `token_endpoint_auth_method` relies on a shared secret.
pub const SHARED_SECRET_AUTH_METHOD: Code = Code::new("shared_secret_auth_method");
/// `token_endpoint_auth_method` is absent and is treated as `none`.
pub const AUTH_METHOD_DEFAULTED: Code = Code::new("auth_method_defaulted");
/// `token_endpoint_auth_method` is not one this validator knows.
pub const UNKNOWN_AUTH_METHOD: Code = Code::new("unknown_auth_method");
/// `private_key_jwt` without `jwks` or `jwks_uri`.
pub const PRIVATE_KEY_JWT_WITHOUT_KEYS: Code = Code::new("private_key_jwt_without_keys");
/// Both `jwks` and `jwks_uri` are present (RFC 7591 §2 forbids it).
pub const JWKS_AND_JWKS_URI: Code = Code::new("jwks_and_jwks_uri");
/// A redirect URI is not an absolute URI.
pub const REDIRECT_URI_INVALID: Code = Code::new("redirect_uri_invalid");
/// A redirect URI has a fragment (RFC 6749 §3.1.2).
pub const REDIRECT_URI_HAS_FRAGMENT: Code = Code::new("redirect_uri_has_fragment");
/// A redirect URI uses http on a host that is not loopback.
pub const REDIRECT_URI_INSECURE: Code = Code::new("redirect_uri_insecure");
/// A redirect URI uses a scheme that is neither https, loopback http, nor a reverse-domain
/// private-use scheme (RFC 8252 §7.1).
pub const REDIRECT_URI_SCHEME_NOT_ALLOWED: Code = Code::new("redirect_uri_scheme_not_allowed");
/// Every redirect URI is on a loopback host (a native or development client).
pub const REDIRECT_URIS_LOOPBACK_ONLY: Code = Code::new("redirect_uris_loopback_only");
/// An https redirect URI is not on the client_id's origin (`cimd_same_origin_redirects`).
pub const REDIRECT_URI_CROSS_ORIGIN: Code = Code::new("redirect_uri_cross_origin");
/// `client_uri` is not on the client_id's origin (`cimd_same_origin_redirects`).
pub const CLIENT_URI_CROSS_ORIGIN: Code = Code::new("client_uri_cross_origin");
/// The implicit grant (`implicit`, or a response type containing `token`) is requested.
pub const IMPLICIT_FLOW_NOT_ALLOWED: Code = Code::new("implicit_flow_not_allowed");
/// `grant_types` and `response_types` disagree (`code` ⇔ `authorization_code`).
pub const GRANT_RESPONSE_TYPE_MISMATCH: Code = Code::new("grant_response_type_mismatch");
/// `client_credentials` with `token_endpoint_auth_method: none`: a public client cannot
/// use that grant (RFC 6749 §4.4 requires client authentication).
pub const PUBLIC_CLIENT_CREDENTIALS_GRANT: Code = Code::new("public_client_credentials_grant");
/// atproto: a member the AT Protocol client metadata rules require is absent.
pub const ATPROTO_MEMBER_REQUIRED: Code = Code::new("atproto_member_required");
/// atproto: `dpop_bound_access_tokens` is not `true`.
pub const ATPROTO_DPOP_REQUIRED: Code = Code::new("atproto_dpop_required");
/// atproto: `scope` does not include `atproto`.
pub const ATPROTO_SCOPE_MISSING: Code = Code::new("atproto_scope_missing");
/// atproto: `application_type` is neither `web` nor `native`.
pub const ATPROTO_APPLICATION_TYPE_INVALID: Code = Code::new("atproto_application_type_invalid");
/// atproto: `grant_types`/`response_types` lack `authorization_code`/`code`, or name a
/// grant atproto does not allow.
pub const ATPROTO_GRANT_NOT_ALLOWED: Code = Code::new("atproto_grant_not_allowed");
/// atproto: `token_endpoint_auth_method` is not `none` or `private_key_jwt`, or
/// `private_key_jwt` lacks `token_endpoint_auth_signing_alg`.
pub const ATPROTO_AUTH_METHOD_NOT_ALLOWED: Code = Code::new("atproto_auth_method_not_allowed");
/// atproto: a redirect URI its application type does not allow (web: https only; native:
/// https, `http://127.0.0.1` / `http://[::1]`, or a custom scheme that is the client_id
/// host reversed, written `scheme:/path`).
pub const ATPROTO_REDIRECT_URI_NOT_ALLOWED: Code = Code::new("atproto_redirect_uri_not_allowed");

/// Every code this module raises.
pub const ALL_CODES: &[Code] = &[
    CLIENT_ID_NOT_HTTPS_URL,
    CLIENT_ID_NO_PATH,
    CLIENT_ID_DOT_SEGMENT,
    CLIENT_ID_HAS_FRAGMENT,
    CLIENT_ID_HAS_USERINFO,
    CLIENT_ID_HAS_QUERY,
    CLIENT_ID_DOMAIN_NOT_ALLOWED,
    CLIENT_ID_MISMATCH,
    CLIENT_SECRET_NOT_ALLOWED,
    SHARED_SECRET_AUTH_METHOD,
    AUTH_METHOD_DEFAULTED,
    UNKNOWN_AUTH_METHOD,
    PRIVATE_KEY_JWT_WITHOUT_KEYS,
    JWKS_AND_JWKS_URI,
    REDIRECT_URI_INVALID,
    REDIRECT_URI_HAS_FRAGMENT,
    REDIRECT_URI_INSECURE,
    REDIRECT_URI_SCHEME_NOT_ALLOWED,
    REDIRECT_URIS_LOOPBACK_ONLY,
    REDIRECT_URI_CROSS_ORIGIN,
    CLIENT_URI_CROSS_ORIGIN,
    IMPLICIT_FLOW_NOT_ALLOWED,
    GRANT_RESPONSE_TYPE_MISMATCH,
    PUBLIC_CLIENT_CREDENTIALS_GRANT,
    ATPROTO_MEMBER_REQUIRED,
    ATPROTO_DPOP_REQUIRED,
    ATPROTO_SCOPE_MISSING,
    ATPROTO_APPLICATION_TYPE_INVALID,
    ATPROTO_GRANT_NOT_ALLOWED,
    ATPROTO_AUTH_METHOD_NOT_ALLOWED,
    ATPROTO_REDIRECT_URI_NOT_ALLOWED,
];

const SHARED_SECRET_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
];
const KNOWN_METHODS: &[&str] = &[
    "none",
    "private_key_jwt",
    "tls_client_auth",
    "self_signed_tls_client_auth",
];
/// URL members and how each is used: `jwks_uri`, OpenID's `sector_identifier_uri` and
/// `backchannel_logout_uri` are fetched or called server-side by the AS (egress rules apply,
/// errors); `initiate_login_uri` and `frontchannel_logout_uri` are visited by the browser;
/// the rest are shown to people and at most prefetched (a logo), so non-https and
/// egress-rule problems are warnings.
const URL_MEMBERS: &[(&str, UrlUse)] = &[
    ("client_uri", UrlUse::Display),
    ("logo_uri", UrlUse::Display),
    ("tos_uri", UrlUse::Display),
    ("policy_uri", UrlUse::Display),
    ("jwks_uri", UrlUse::Endpoint),
    ("sector_identifier_uri", UrlUse::Endpoint),
    ("backchannel_logout_uri", UrlUse::Endpoint),
    ("initiate_login_uri", UrlUse::Browser),
    ("frontchannel_logout_uri", UrlUse::Browser),
];

/// Checks the shape of a client_id URL before it is fetched; errors mean "do not fetch".
pub fn precheck_client_id(client_id: &str, options: &DocumentsConfig) -> Vec<Problem> {
    let mut out = Vec::new();
    let (Some(raw), Ok(url)) = (split_https(client_id), Url::parse(client_id)) else {
        out.push(Problem::error(
            CLIENT_ID_NOT_HTTPS_URL,
            format!("{client_id:?} is not an absolute https URL"),
        ));
        return out;
    };
    if url.host().is_none() {
        out.push(Problem::error(
            CLIENT_ID_NOT_HTTPS_URL,
            "the client_id URL has no host",
        ));
        return out;
    }
    if raw.authority.contains('@') {
        out.push(Problem::error(
            CLIENT_ID_HAS_USERINFO,
            "the client_id URL has userinfo",
        ));
    }
    if raw.fragment.is_some() {
        out.push(Problem::error(
            CLIENT_ID_HAS_FRAGMENT,
            "the client_id URL has a fragment",
        ));
    }
    if raw.path.is_empty() || raw.path == "/" {
        out.push(Problem::error(
            CLIENT_ID_NO_PATH,
            "the client_id URL has no path",
        ));
    }
    let dot = raw.path.split('/').any(|seg| {
        let s = seg.to_ascii_lowercase().replace("%2e", ".");
        s == "." || s == ".."
    });
    if dot {
        out.push(Problem::error(
            CLIENT_ID_DOT_SEGMENT,
            "the client_id path has a '.' or '..' segment",
        ));
    }
    if raw.query.is_some() {
        out.push(Problem::warning(
            CLIENT_ID_HAS_QUERY,
            "the client_id URL has a query",
        ));
    }
    if !options.client_id_domains.is_empty() {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let allowed = options.client_id_domains.iter().any(|d| {
            let d = d.trim_matches('.').to_ascii_lowercase();
            !d.is_empty() && (host == d || host.ends_with(&format!(".{d}")))
        });
        if !allowed {
            out.push(Problem::error(
                CLIENT_ID_DOMAIN_NOT_ALLOWED,
                format!("host {host:?} is not in the client_id domain allow list"),
            ));
        }
    }
    out
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Validates a CIMD fetched from `requested_url`; returns the document unchanged.
pub fn validate(
    requested_url: &str,
    map: Map<String, Value>,
    ctx: &Context<'_>,
    out: &mut Vec<Problem>,
) -> Value {
    out.extend(precheck_client_id(requested_url, ctx.options));
    let own_origin = Url::parse(requested_url).ok().map(|u| u.origin());

    if let Some(id) = get_str(&map, "client_id", Need::Required, out)
        && id != requested_url
    {
        out.push(
            Problem::error(
                CLIENT_ID_MISMATCH,
                format!("client_id {id:?} is not the URL it was fetched from, {requested_url:?}"),
            )
            .at("/client_id"),
        );
    }
    for name in ["client_secret", "client_secret_expires_at"] {
        if map.contains_key(name) {
            out.push(
                Problem::error(
                    CLIENT_SECRET_NOT_ALLOWED,
                    format!("{name} must not appear in a public metadata document"),
                )
                .at(ptr(name)),
            );
        }
    }

    // Authentication.
    let method = if map.contains_key("token_endpoint_auth_method") {
        get_str(&map, "token_endpoint_auth_method", Need::Optional, out)
    } else {
        out.push(
            Problem::warning(
                AUTH_METHOD_DEFAULTED,
                "token_endpoint_auth_method is absent and is treated as none",
            )
            .at("/token_endpoint_auth_method"),
        );
        Some("none")
    };
    if let Some(m) = method {
        if SHARED_SECRET_METHODS.contains(&m) {
            out.push(
                Problem::error(
                    SHARED_SECRET_AUTH_METHOD,
                    format!("token_endpoint_auth_method {m:?} needs a shared secret"),
                )
                .at("/token_endpoint_auth_method"),
            );
        } else if !KNOWN_METHODS.contains(&m) {
            out.push(
                Problem::warning(
                    UNKNOWN_AUTH_METHOD,
                    format!("token_endpoint_auth_method {m:?} is not known"),
                )
                .at("/token_endpoint_auth_method"),
            );
        }
    }
    let has_jwks = map.contains_key("jwks");
    let has_jwks_uri = map.contains_key("jwks_uri");
    if has_jwks && has_jwks_uri {
        out.push(
            Problem::error(
                JWKS_AND_JWKS_URI,
                "jwks and jwks_uri must not both be present",
            )
            .at("/jwks"),
        );
    }
    if method == Some("private_key_jwt") && !has_jwks && !has_jwks_uri {
        out.push(
            Problem::error(
                PRIVATE_KEY_JWT_WITHOUT_KEYS,
                "private_key_jwt needs jwks or jwks_uri",
            )
            .at("/token_endpoint_auth_method"),
        );
    }
    if let Some(v) = map.get("jwks") {
        match v {
            Value::Object(set) => {
                let mut inner = Vec::new();
                jwks::validate(set, ctx, &mut inner);
                out.extend(inner.into_iter().map(|p| {
                    let at = format!("/jwks{}", p.at.as_deref().unwrap_or_default());
                    p.at(at)
                }));
            }
            _ => out.push(
                Problem::error(super::fields::WRONG_TYPE, "jwks must be an object").at("/jwks"),
            ),
        }
    }

    // Redirect URIs: required for redirect-based grants (RFC 9700 §2.1 exact registration;
    // the CIMD draft exempts client_credentials and other grants without redirects), and
    // always by MCP 2025-11-25.
    if !map.contains_key("redirect_uris") {
        let missing =
            Problem::error(MISSING_MEMBER, "redirect_uris is required").at("/redirect_uris");
        if uses_redirects(&map) {
            out.push(missing);
        } else {
            ctx.profile_rule(Profile::Mcp, missing, out);
        }
    }
    if let Some(uris) = get_str_array(&map, "redirect_uris", Need::Optional, out) {
        if uris.is_empty()
            && map
                .get("redirect_uris")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty)
        {
            out.push(
                Problem::error(EMPTY_VALUE, "redirect_uris must not be empty").at("/redirect_uris"),
            );
        }
        let mut all_loopback = !uris.is_empty();
        for (i, uri) in uris {
            let at = format!("/redirect_uris/{i}");
            let loopback = check_redirect_uri(uri, &at, own_origin.as_ref(), ctx, out);
            all_loopback &= loopback;
        }
        if all_loopback {
            out.push(
                Problem::warning(
                    REDIRECT_URIS_LOOPBACK_ONLY,
                    "every redirect URI is on a loopback host",
                )
                .at("/redirect_uris"),
            );
        }
    }

    // Human-readable name: MCP 2025-11-25 requires it in a client metadata document;
    // RFC 7591 and the CIMD draft do not.
    match map.get("client_name") {
        None => ctx.profile_rule(
            Profile::Mcp,
            Problem::error(MISSING_MEMBER, "client_name is required by MCP").at("/client_name"),
            out,
        ),
        Some(Value::String(name)) if name.trim().is_empty() => ctx.profile_rule(
            Profile::Mcp,
            Problem::error(EMPTY_VALUE, "client_name must not be empty").at("/client_name"),
            out,
        ),
        Some(_) => {
            get_str(&map, "client_name", Need::Optional, out);
        }
    }

    for (name, use_) in URL_MEMBERS {
        let url = check_url_member(&map, name, Need::Optional, *use_, ctx, out);
        if *name == "client_uri"
            && ctx.options.cimd_same_origin_redirects
            && let (Some(u), Some(origin)) = (url, &own_origin)
            && u.origin() != *origin
        {
            out.push(
                Problem::error(
                    CLIENT_URI_CROSS_ORIGIN,
                    "client_uri is not on the client_id's origin",
                )
                .at("/client_uri"),
            );
        }
    }

    // OpenID `request_uris`: request objects the AS may fetch server-side.
    if let Some(uris) = get_str_array(&map, "request_uris", Need::Optional, out) {
        for (i, uri) in uris {
            super::fields::check_url(
                uri,
                &format!("/request_uris/{i}"),
                UrlUse::Endpoint,
                ctx,
                out,
            );
        }
    }
    check_grants(&map, out);
    if method == Some("none") {
        let grants = get_str_array(&map, "grant_types", Need::Optional, &mut Vec::new());
        if grants.is_some_and(|g| g.iter().any(|(_, s)| *s == "client_credentials")) {
            out.push(
                Problem::error(
                    PUBLIC_CLIENT_CREDENTIALS_GRANT,
                    "client_credentials needs client authentication; a client with token_endpoint_auth_method none cannot use it",
                )
                .at("/grant_types"),
            );
        }
    }
    if ctx.profile == Profile::Atproto {
        super::atproto::check_client(&map, own_origin_host(requested_url).as_deref(), ctx, out);
    }
    Value::Object(map)
}

/// Whether the client's grants use the authorization endpoint and so a redirect URI
/// (`grant_types` defaults to `authorization_code`, RFC 7591 §2).
fn uses_redirects(map: &Map<String, Value>) -> bool {
    match map.get("grant_types").and_then(Value::as_array) {
        None => true,
        Some(grants) => grants
            .iter()
            .any(|g| matches!(g.as_str(), Some("authorization_code" | "implicit"))),
    }
}

/// The client_id's host, for atproto's custom-scheme rule.
fn own_origin_host(requested_url: &str) -> Option<String> {
    Url::parse(requested_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
}

/// Returns whether the URI is on a loopback host (for the loopback-only warning).
fn check_redirect_uri(
    uri: &str,
    at: &str,
    own_origin: Option<&url::Origin>,
    ctx: &Context<'_>,
    out: &mut Vec<Problem>,
) -> bool {
    let url = match Url::parse(uri) {
        Ok(u) => u,
        Err(e) => {
            out.push(
                Problem::error(
                    REDIRECT_URI_INVALID,
                    format!("{uri:?} is not an absolute URI: {e}"),
                )
                .at(at),
            );
            return false;
        }
    };
    if uri.contains('#') {
        out.push(
            Problem::error(REDIRECT_URI_HAS_FRAGMENT, format!("{uri:?} has a fragment")).at(at),
        );
    }
    match url.scheme() {
        "https" => {
            if ctx.options.cimd_same_origin_redirects
                && !is_loopback(&url)
                && let Some(origin) = own_origin
                && url.origin() != *origin
            {
                out.push(
                    Problem::error(
                        REDIRECT_URI_CROSS_ORIGIN,
                        format!("{uri:?} is not on the client_id's origin"),
                    )
                    .at(at),
                );
            }
            is_loopback(&url)
        }
        "http" => {
            if is_loopback(&url) {
                true
            } else {
                out.push(
                    Problem::error(
                        REDIRECT_URI_INSECURE,
                        format!("{uri:?} uses http on a non-loopback host"),
                    )
                    .at(at),
                );
                false
            }
        }
        scheme => {
            if !scheme.contains('.') {
                out.push(
                    Problem::error(
                        REDIRECT_URI_SCHEME_NOT_ALLOWED,
                        format!("scheme {scheme:?} is neither https nor a reverse-domain private-use scheme"),
                    )
                    .at(at),
                );
            }
            false
        }
    }
}

fn check_grants(map: &Map<String, Value>, out: &mut Vec<Problem>) {
    let grants = get_str_array(map, "grant_types", Need::Optional, out)
        .map(|v| v.into_iter().map(|(_, s)| s).collect::<Vec<_>>())
        .unwrap_or_else(|| vec!["authorization_code"]);
    // RFC 7591 §2 defaults response_types to `code`; a client whose grants do not use the
    // authorization endpoint (device code, client credentials) is not thereby inconsistent.
    let responses = get_str_array(map, "response_types", Need::Optional, out)
        .map(|v| v.into_iter().map(|(_, s)| s).collect::<Vec<_>>())
        .unwrap_or_else(|| {
            if grants.contains(&"authorization_code") {
                vec!["code"]
            } else {
                Vec::new()
            }
        });
    if grants.contains(&"implicit") {
        out.push(
            Problem::error(
                IMPLICIT_FLOW_NOT_ALLOWED,
                "the implicit grant is not allowed",
            )
            .at("/grant_types"),
        );
    }
    if responses.iter().any(|r| r.split(' ').any(|w| w == "token")) {
        out.push(
            Problem::error(
                IMPLICIT_FLOW_NOT_ALLOWED,
                "a response type issuing tokens from the authorization endpoint is not allowed",
            )
            .at("/response_types"),
        );
    }
    let has_code_grant = grants.contains(&"authorization_code");
    let has_code_response = responses.iter().any(|r| r.split(' ').any(|w| w == "code"));
    if has_code_grant != has_code_response {
        out.push(
            Problem::error(
                GRANT_RESPONSE_TYPE_MISMATCH,
                "grant_types has authorization_code exactly when response_types has code",
            )
            .at(if has_code_grant {
                "/response_types"
            } else {
                "/grant_types"
            }),
        );
    }
}
