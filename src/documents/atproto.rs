//! The AT Protocol OAuth client metadata rules (atproto.com/specs/oauth), applied on top of
//! the CIMD checks under the `atproto` profile only: atproto requires DPoP, the `atproto`
//! scope, explicit grant/response types and authentication method, and redirect URIs that
//! fit the application type. Every problem here is tagged `atproto`.

use serde_json::{Map, Value};
use url::{Host, Url};

use super::Context;
use super::cimd::{
    ATPROTO_APPLICATION_TYPE_INVALID, ATPROTO_AUTH_METHOD_NOT_ALLOWED, ATPROTO_DPOP_REQUIRED,
    ATPROTO_GRANT_NOT_ALLOWED, ATPROTO_MEMBER_REQUIRED, ATPROTO_REDIRECT_URI_NOT_ALLOWED,
    ATPROTO_SCOPE_MISSING,
};
use crate::kind::Profile;
use crate::problem::{Code, Problem};

/// Members atproto requires although RFC 7591 lets them default.
const REQUIRED: &[&str] = &[
    "scope",
    "grant_types",
    "response_types",
    "dpop_bound_access_tokens",
    "token_endpoint_auth_method",
];

fn strings<'a>(map: &'a Map<String, Value>, name: &str) -> Vec<&'a str> {
    map.get(name)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Checks a client metadata document against the atproto rules.
pub(crate) fn check_client(
    map: &Map<String, Value>,
    client_host: Option<&str>,
    ctx: &Context<'_>,
    out: &mut Vec<Problem>,
) {
    let mut raise = |code: Code, detail: String, at: &str| {
        ctx.profile_rule(Profile::Atproto, Problem::error(code, detail).at(at), out);
    };
    for name in REQUIRED {
        if !map.contains_key(*name) {
            raise(
                ATPROTO_MEMBER_REQUIRED,
                format!("{name} is required by atproto"),
                &format!("/{name}"),
            );
        }
    }
    if map.contains_key("dpop_bound_access_tokens")
        && map.get("dpop_bound_access_tokens") != Some(&Value::Bool(true))
    {
        raise(
            ATPROTO_DPOP_REQUIRED,
            "dpop_bound_access_tokens must be true".into(),
            "/dpop_bound_access_tokens",
        );
    }
    if let Some(scope) = map.get("scope").and_then(Value::as_str)
        && !scope.split(' ').any(|s| s == "atproto")
    {
        raise(
            ATPROTO_SCOPE_MISSING,
            format!("scope {scope:?} does not include atproto"),
            "/scope",
        );
    }
    let grants = strings(map, "grant_types");
    if map.contains_key("grant_types") {
        if !grants.contains(&"authorization_code") {
            raise(
                ATPROTO_GRANT_NOT_ALLOWED,
                "grant_types must include authorization_code".into(),
                "/grant_types",
            );
        }
        for g in &grants {
            if *g != "authorization_code" && *g != "refresh_token" {
                raise(
                    ATPROTO_GRANT_NOT_ALLOWED,
                    format!("grant {g:?} is not allowed by atproto"),
                    "/grant_types",
                );
            }
        }
    }
    if map.contains_key("response_types") && !strings(map, "response_types").contains(&"code") {
        raise(
            ATPROTO_GRANT_NOT_ALLOWED,
            "response_types must include code".into(),
            "/response_types",
        );
    }
    match map
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
    {
        Some("none") | None => {}
        Some("private_key_jwt") => {
            if !map.contains_key("token_endpoint_auth_signing_alg") {
                raise(
                    ATPROTO_AUTH_METHOD_NOT_ALLOWED,
                    "private_key_jwt needs token_endpoint_auth_signing_alg".into(),
                    "/token_endpoint_auth_signing_alg",
                );
            }
        }
        Some(other) => raise(
            ATPROTO_AUTH_METHOD_NOT_ALLOWED,
            format!("token_endpoint_auth_method {other:?} is not none or private_key_jwt"),
            "/token_endpoint_auth_method",
        ),
    }
    let native = match map.get("application_type") {
        None => false,
        Some(Value::String(t)) if t == "web" => false,
        Some(Value::String(t)) if t == "native" => true,
        Some(other) => {
            raise(
                ATPROTO_APPLICATION_TYPE_INVALID,
                format!("application_type {other} is not web or native"),
                "/application_type",
            );
            false
        }
    };
    for (i, uri) in strings(map, "redirect_uris").into_iter().enumerate() {
        if let Some(why) = redirect_uri_refusal(uri, native, client_host) {
            raise(
                ATPROTO_REDIRECT_URI_NOT_ALLOWED,
                format!("{uri:?}: {why}"),
                &format!("/redirect_uris/{i}"),
            );
        }
    }
}

/// Why atproto refuses a redirect URI for this application type, or `None`.
fn redirect_uri_refusal(uri: &str, native: bool, client_host: Option<&str>) -> Option<String> {
    let url = Url::parse(uri).ok()?; // unparsable: already reported by the CIMD checks
    match url.scheme() {
        "https" => None,
        _ if !native => Some("a web client's redirect URIs must use https".into()),
        "http" => match url.host() {
            Some(Host::Ipv4(ip)) if ip.is_loopback() => None,
            Some(Host::Ipv6(ip)) if ip.is_loopback() => None,
            _ => Some("http is only allowed on a loopback IP (127.0.0.1 or [::1])".into()),
        },
        scheme => {
            let reversed: Option<String> = client_host.map(|h| {
                let mut labels: Vec<&str> = h.split('.').collect();
                labels.reverse();
                labels.join(".")
            });
            if reversed.as_deref() != Some(scheme) {
                return Some(format!(
                    "a native client's custom scheme must be its client_id host reversed ({})",
                    reversed.unwrap_or_default()
                ));
            }
            let after = &uri[scheme.len() + 1..];
            if !after.starts_with('/') || after.starts_with("//") {
                return Some("a custom-scheme redirect URI is written scheme:/path".into());
            }
            None
        }
    }
}
