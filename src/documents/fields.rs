//! Typed member access shared by the validators, so every kind reports a missing member,
//! a wrong type or a bad URL with the same code.

use serde_json::{Map, Value};
use url::Url;

use super::Context;
use super::strict_json::{escape_token, type_name};
use crate::problem::{Code, Problem};

/// A member the specification requires is absent.
pub const MISSING_MEMBER: Code = Code::new("missing_member");
/// A member has the wrong JSON type (e.g. a number where a string is required).
pub const WRONG_TYPE: Code = Code::new("wrong_type");
/// A required string or array is empty.
pub const EMPTY_VALUE: Code = Code::new("empty_value");
/// A URL-valued member is not an absolute URL.
pub const INVALID_URL: Code = crate::policy::INVALID_URL;
/// A URL-valued member does not use https.
pub const URL_NOT_HTTPS: Code = Code::new("url_not_https");
/// A URL-valued member carries a fragment where the specification forbids one.
pub const URL_HAS_FRAGMENT: Code = Code::new("url_has_fragment");

/// Every code this module raises.
pub const ALL_CODES: &[Code] = &[
    MISSING_MEMBER,
    WRONG_TYPE,
    EMPTY_VALUE,
    INVALID_URL,
    URL_NOT_HTTPS,
    URL_HAS_FRAGMENT,
];

/// JSON pointer of a top-level member.
pub(crate) fn ptr(name: &str) -> String {
    format!("/{}", escape_token(name))
}

fn wrong_type(name: &str, want: &str, got: &Value) -> Problem {
    Problem::error(
        WRONG_TYPE,
        format!("{name} must be {want}, not {}", type_name(got)),
    )
    .at(ptr(name))
}

/// Whether a member that is absent is an error.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    Required,
    Optional,
}

fn absent(name: &str, need: Need, out: &mut Vec<Problem>) {
    if need == Need::Required {
        out.push(Problem::error(MISSING_MEMBER, format!("{name} is required")).at(ptr(name)));
    }
}

/// A string member; `None` when absent or of the wrong type (problem recorded).
pub(crate) fn get_str<'a>(
    map: &'a Map<String, Value>,
    name: &str,
    need: Need,
    out: &mut Vec<Problem>,
) -> Option<&'a str> {
    match map.get(name) {
        None => {
            absent(name, need, out);
            None
        }
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            out.push(wrong_type(name, "a string", other));
            None
        }
    }
}

/// A boolean member.
pub(crate) fn get_bool(
    map: &Map<String, Value>,
    name: &str,
    out: &mut Vec<Problem>,
) -> Option<bool> {
    match map.get(name) {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            out.push(wrong_type(name, "a boolean", other));
            None
        }
    }
}

/// An array-of-strings member; non-string elements are reported and dropped.
pub(crate) fn get_str_array<'a>(
    map: &'a Map<String, Value>,
    name: &str,
    need: Need,
    out: &mut Vec<Problem>,
) -> Option<Vec<(usize, &'a str)>> {
    match map.get(name) {
        None => {
            absent(name, need, out);
            None
        }
        Some(Value::Array(items)) => {
            let mut strings = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => strings.push((i, s.as_str())),
                    other => out.push(
                        Problem::error(
                            WRONG_TYPE,
                            format!("{name} elements must be strings, not {}", type_name(other)),
                        )
                        .at(format!("{}/{i}", ptr(name))),
                    ),
                }
            }
            Some(strings)
        }
        Some(other) => {
            out.push(wrong_type(name, "an array of strings", other));
            None
        }
    }
}

/// How strictly a URL member is judged.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum UrlUse {
    /// Fetched server-side (by the AS, a resource server or a server-side client): https
    /// required, fragment forbidden, and the egress rules apply, because a document must not
    /// point a later server-side fetch at an internal address.
    Endpoint,
    /// Visited by a user's browser only (`authorization_endpoint`, `end_session_endpoint`):
    /// https required, fragment forbidden (RFC 6749 §3.1), but no egress rules — a port or
    /// an intranet name there is the server's own business, no server fetches it.
    Browser,
    /// Shown to people (policy, terms, docs of a server): non-https is only a warning and
    /// the egress rules do not apply.
    Link,
    /// Shown to people but possibly prefetched by the AS (a client's `logo_uri`,
    /// `client_uri`, `tos_uri`, `policy_uri`: the CIMD draft tells an AS to prefetch logos
    /// and never to fetch URLs of a CIMD that reach special-use addresses): non-https and
    /// egress-rule problems are warnings, so an AS that prefetches knows to refuse.
    Display,
}

/// Checks one URL found at `at`: absolute, https, no fragment (endpoints), egress rules
/// (server-side endpoints only).
pub(crate) fn check_url(
    value: &str,
    at: &str,
    use_: UrlUse,
    ctx: &Context<'_>,
    out: &mut Vec<Problem>,
) -> Option<Url> {
    let url = match Url::parse(value) {
        Ok(u) => u,
        Err(e) => {
            out.push(
                Problem::error(
                    INVALID_URL,
                    format!("{value:?} is not an absolute URL: {e}"),
                )
                .at(at),
            );
            return None;
        }
    };
    if url.scheme() != "https" {
        let detail = format!("{value:?} does not use https");
        out.push(
            match use_ {
                UrlUse::Endpoint | UrlUse::Browser => Problem::error(URL_NOT_HTTPS, detail),
                UrlUse::Link | UrlUse::Display => Problem::warning(URL_NOT_HTTPS, detail),
            }
            .at(at),
        );
    }
    if matches!(use_, UrlUse::Endpoint | UrlUse::Browser) && value.contains('#') {
        out.push(Problem::error(URL_HAS_FRAGMENT, format!("{value:?} has a fragment")).at(at));
    }
    if matches!(use_, UrlUse::Endpoint | UrlUse::Display) {
        for p in ctx.url_rules.url_problems(value) {
            let p = if p.at.is_none() { p.at(at) } else { p };
            out.push(match use_ {
                UrlUse::Display => Problem {
                    severity: crate::problem::Severity::Warning,
                    ..p
                },
                _ => p,
            });
        }
    }
    Some(url)
}

/// Checks an optional (or required) URL member.
pub(crate) fn check_url_member(
    map: &Map<String, Value>,
    name: &str,
    need: Need,
    use_: UrlUse,
    ctx: &Context<'_>,
    out: &mut Vec<Problem>,
) -> Option<Url> {
    let value = get_str(map, name, need, out)?;
    check_url(value, &ptr(name), use_, ctx, out)
}
