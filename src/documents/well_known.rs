//! Well-known URL helpers (RFC 8414 §3, RFC 9728 §3, OpenID Discovery §4) and the
//! `WWW-Authenticate: Bearer resource_metadata="…"` parameter (RFC 9728 §5.1).
//!
//! They work on the URL text, not on a normalised `Url`, because RFC 8414 and RFC 9728
//! require the identifier in the document to be *identical* to the one the URL was built
//! from; normalisation (default port removal, percent-decoding) would hide differences.

use crate::problem::{Code, Problem};

/// The issuer or resource given to a helper is not an https URL usable to build a
/// well-known URL (fragment, issuer with a query, no host).
pub const WELL_KNOWN_BAD_INPUT: Code = Code::new("well_known_bad_input");
/// A `WWW-Authenticate` header does not follow the challenge syntax of RFC 9110 §11.6.1,
/// or names `resource_metadata` twice with different values.
pub const WWW_AUTHENTICATE_INVALID: Code = Code::new("www_authenticate_invalid");
/// A `WWW-Authenticate` header or its `resource_metadata` value is longer than allowed.
pub const WWW_AUTHENTICATE_TOO_LONG: Code = Code::new("www_authenticate_too_long");

/// Every code this module raises.
pub const ALL_CODES: &[Code] = &[
    WELL_KNOWN_BAD_INPUT,
    WWW_AUTHENTICATE_INVALID,
    WWW_AUTHENTICATE_TOO_LONG,
];

/// Well-known suffix of OAuth protected resource metadata (RFC 9728 §3).
pub const PRM_SUFFIX: &str = "/.well-known/oauth-protected-resource";
/// Well-known suffix of OAuth authorization server metadata (RFC 8414 §3).
pub const OAUTH_AS_SUFFIX: &str = "/.well-known/oauth-authorization-server";
/// Well-known suffix of OpenID Provider configuration (OpenID Discovery §4).
pub const OPENID_SUFFIX: &str = "/.well-known/openid-configuration";

/// Longest `WWW-Authenticate` header parsed; real ones are a few hundred bytes.
pub const MAX_WWW_AUTHENTICATE_BYTES: usize = 8 * 1024;
/// Longest `resource_metadata` URL accepted (the default URL cap of the fetcher).
pub const MAX_RESOURCE_METADATA_BYTES: usize = crate::config::DEFAULT_MAX_URL_BYTES;

/// An https URL cut into its text parts, without any normalisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawUrl<'a> {
    /// `https://authority`
    pub origin: &'a str,
    /// Text between the authority and `?`/`#` (may be empty).
    pub path: &'a str,
    /// Query without `?`.
    pub query: Option<&'a str>,
    /// Fragment without `#`.
    pub fragment: Option<&'a str>,
    /// Authority (userinfo, host, port).
    pub authority: &'a str,
}

/// Splits `https://authority/path?query#fragment`; `None` unless the scheme is https
/// (any case) and the authority is non-empty.
pub(crate) fn split_https(raw: &str) -> Option<RawUrl<'_>> {
    let scheme = raw.get(..8)?;
    if !scheme.eq_ignore_ascii_case("https://") {
        return None;
    }
    let rest = &raw[8..];
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..auth_end];
    if authority.is_empty() {
        return None;
    }
    let origin = &raw[..8 + auth_end];
    let after = &rest[auth_end..];
    let (before_frag, fragment) = match after.find('#') {
        Some(i) => (&after[..i], Some(&after[i + 1..])),
        None => (after, None),
    };
    let (path, query) = match before_frag.find('?') {
        Some(i) => (&before_frag[..i], Some(&before_frag[i + 1..])),
        None => (before_frag, None),
    };
    Some(RawUrl {
        origin,
        path,
        query,
        fragment,
        authority,
    })
}

fn bad_input(what: &str, value: &str, why: &str) -> Problem {
    Problem::error(WELL_KNOWN_BAD_INPUT, format!("{what} {value:?} {why}"))
}

/// The protected resource metadata URL for a resource identifier (RFC 9728 §3.1): the
/// suffix goes between the host and the path, a lone `/` path is dropped, the query stays.
pub fn protected_resource_metadata_url(resource: &str) -> Result<String, Problem> {
    let u = split_https(resource)
        .ok_or_else(|| bad_input("resource", resource, "is not an https URL"))?;
    if u.fragment.is_some() {
        return Err(bad_input("resource", resource, "has a fragment"));
    }
    let path = if u.path == "/" { "" } else { u.path };
    let mut out = format!("{}{PRM_SUFFIX}{path}", u.origin);
    if let Some(q) = u.query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

/// The resource identifiers a protected resource metadata URL may have been built from;
/// `None` when the URL is not a well-known PRM URL. A host-only URL yields both `https://h`
/// and `https://h/`, which RFC 9728 §3.1 maps to the same URL.
pub fn resources_from_metadata_url(url: &str) -> Option<Vec<String>> {
    let u = split_https(url)?;
    if u.fragment.is_some() {
        return None;
    }
    let rest = u.path.strip_prefix(PRM_SUFFIX)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let query = u.query.map(|q| format!("?{q}")).unwrap_or_default();
    if rest.is_empty() {
        if query.is_empty() {
            Some(vec![u.origin.to_owned(), format!("{}/", u.origin)])
        } else {
            Some(vec![
                format!("{}/{query}", u.origin),
                format!("{}{query}", u.origin),
            ])
        }
    } else {
        Some(vec![format!("{}{rest}{query}", u.origin)])
    }
}

/// The URLs MCP clients (2025-11-25, "Authorization Server Metadata Discovery") try, in
/// order, for an issuer: with a path, RFC 8414 path insertion, OpenID path insertion, then
/// OpenID path appending; without a path, RFC 8414 then OpenID.
pub fn authorization_server_metadata_urls(issuer: &str) -> Result<Vec<String>, Problem> {
    let u =
        split_https(issuer).ok_or_else(|| bad_input("issuer", issuer, "is not an https URL"))?;
    if u.query.is_some() || u.fragment.is_some() {
        return Err(bad_input("issuer", issuer, "has a query or fragment"));
    }
    let path = u.path.trim_end_matches('/');
    if path.is_empty() {
        Ok(vec![
            format!("{}{OAUTH_AS_SUFFIX}", u.origin),
            format!("{}{OPENID_SUFFIX}", u.origin),
        ])
    } else {
        Ok(vec![
            format!("{}{OAUTH_AS_SUFFIX}{path}", u.origin),
            format!("{}{OPENID_SUFFIX}{path}", u.origin),
            format!("{}{path}{OPENID_SUFFIX}", u.origin),
        ])
    }
}

/// The issuers an authorization server metadata URL may have been built from (path
/// insertion of either suffix, or OpenID path appending); `None` when it is none of them.
/// Both RFC 8414 §3.1 and OpenID Discovery §4 drop a terminating `/` of the issuer, so
/// each form yields the issuer with and without it.
pub fn issuers_from_metadata_url(url: &str) -> Option<Vec<String>> {
    let u = split_https(url)?;
    if u.query.is_some() || u.fragment.is_some() {
        return None;
    }
    let path = [OAUTH_AS_SUFFIX, OPENID_SUFFIX]
        .iter()
        .find_map(|s| {
            u.path
                .strip_prefix(s)
                .filter(|rest| rest.is_empty() || rest.starts_with('/'))
        })
        .or_else(|| u.path.strip_suffix(OPENID_SUFFIX))?;
    let base = format!("{}{path}", u.origin);
    Some(vec![base.clone(), format!("{base}/")])
}

/// Reads the `resource_metadata` auth-param from a `WWW-Authenticate` header value (any
/// challenge; RFC 9728 §5.1). `Ok(None)` when the header has no such parameter.
pub fn resource_metadata_from_www_authenticate(header: &str) -> Result<Option<String>, Problem> {
    if header.len() > MAX_WWW_AUTHENTICATE_BYTES {
        return Err(Problem::error(
            WWW_AUTHENTICATE_TOO_LONG,
            format!("the header is longer than {MAX_WWW_AUTHENTICATE_BYTES} bytes"),
        ));
    }
    let mut found: Option<String> = None;
    for (name, value) in parse_challenges(header)?.into_iter().flat_map(|c| c.params) {
        if !name.eq_ignore_ascii_case("resource_metadata") {
            continue;
        }
        if value.len() > MAX_RESOURCE_METADATA_BYTES {
            return Err(Problem::error(
                WWW_AUTHENTICATE_TOO_LONG,
                format!("resource_metadata is longer than {MAX_RESOURCE_METADATA_BYTES} bytes"),
            ));
        }
        match &found {
            Some(prev) if *prev != value => {
                return Err(Problem::error(
                    WWW_AUTHENTICATE_INVALID,
                    "resource_metadata appears twice with different values",
                ));
            }
            _ => found = Some(value),
        }
    }
    Ok(found)
}

/// One challenge's auth-params (its scheme and any token68 are not needed here).
#[derive(Debug, PartialEq, Eq)]
struct Challenge {
    params: Vec<(String, String)>,
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn is_token68_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~+/".contains(c)
}

fn invalid(why: &str) -> Problem {
    Problem::error(
        WWW_AUTHENTICATE_INVALID,
        format!("WWW-Authenticate is not valid: {why}"),
    )
}

/// Parses `1#challenge` (RFC 9110 §11.6.1), tolerating empty list elements.
fn parse_challenges(header: &str) -> Result<Vec<Challenge>, Problem> {
    let s: Vec<char> = header.chars().collect();
    let mut i = 0;
    let mut out: Vec<Challenge> = Vec::new();
    let skip_ws = |i: &mut usize| {
        while *i < s.len() && (s[*i] == ' ' || s[*i] == '\t') {
            *i += 1;
        }
    };
    // Set after a scheme until the first comma: a token68 may follow.
    let mut after_scheme = false;
    loop {
        skip_ws(&mut i);
        while i < s.len() && (s[i] == ',' || s[i] == ' ' || s[i] == '\t') {
            if s[i] == ',' {
                after_scheme = false;
            }
            i += 1;
        }
        if i >= s.len() {
            break;
        }
        let start = i;
        while i < s.len() && (is_tchar(s[i]) || is_token68_char(s[i])) {
            i += 1;
        }
        if i == start {
            return Err(invalid(&format!("unexpected character {:?}", s[i])));
        }
        let word: String = s[start..i].iter().collect();
        let mut j = i;
        skip_ws(&mut j);
        let is_param = j < s.len()
            && s[j] == '='
            && {
                let mut k = j + 1;
                skip_ws(&mut k);
                k < s.len() && (s[k] == '"' || is_tchar(s[k]))
            }
            && word.chars().all(is_tchar);
        if is_param {
            let Some(current) = out.last_mut() else {
                return Err(invalid("a parameter comes before any scheme"));
            };
            i = j + 1;
            skip_ws(&mut i);
            let value = if s[i] == '"' {
                i += 1;
                let mut v = String::new();
                loop {
                    match s.get(i) {
                        None => return Err(invalid("unterminated quoted string")),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            let Some(c) = s.get(i + 1) else {
                                return Err(invalid("unterminated quoted string"));
                            };
                            v.push(*c);
                            i += 2;
                        }
                        Some(c) if c.is_control() && *c != '\t' => {
                            return Err(invalid("control character in a quoted string"));
                        }
                        Some(c) => {
                            v.push(*c);
                            i += 1;
                        }
                    }
                }
                v
            } else {
                let vs = i;
                while i < s.len() && is_tchar(s[i]) {
                    i += 1;
                }
                s[vs..i].iter().collect()
            };
            current.params.push((word, value));
            after_scheme = false;
            skip_ws(&mut i);
            if i < s.len() && s[i] != ',' {
                return Err(invalid("parameters must be separated by commas"));
            }
        } else if after_scheme && out.last().is_some_and(|c| c.params.is_empty()) {
            // token68 (e.g. `Basic dXNlcg==`): consume trailing '='.
            while i < s.len() && s[i] == '=' {
                i += 1;
            }
            after_scheme = false;
            skip_ws(&mut i);
            if i < s.len() && s[i] != ',' {
                return Err(invalid("a token68 must end the challenge"));
            }
        } else {
            if !word.chars().all(is_tchar) {
                return Err(invalid(&format!("{word:?} is not a scheme name")));
            }
            out.push(Challenge { params: Vec::new() });
            after_scheme = true;
        }
    }
    if out.is_empty() {
        return Err(invalid("no challenge"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prm_url_insertion_and_inverse() {
        let cases = [
            (
                "https://h",
                "https://h/.well-known/oauth-protected-resource",
            ),
            (
                "https://h/",
                "https://h/.well-known/oauth-protected-resource",
            ),
            (
                "https://h/r",
                "https://h/.well-known/oauth-protected-resource/r",
            ),
            (
                "https://h:8443/a/b/",
                "https://h:8443/.well-known/oauth-protected-resource/a/b/",
            ),
            (
                "https://h/r?x=1",
                "https://h/.well-known/oauth-protected-resource/r?x=1",
            ),
        ];
        for (resource, url) in cases {
            assert_eq!(protected_resource_metadata_url(resource).unwrap(), url);
            let back = resources_from_metadata_url(url).unwrap();
            assert!(
                back.iter().any(|r| r == resource),
                "{resource} not in {back:?}"
            );
        }
        assert_eq!(
            resources_from_metadata_url("https://h/.well-known/oauth-protected-resource").unwrap(),
            vec!["https://h".to_owned(), "https://h/".to_owned()]
        );
        assert!(
            resources_from_metadata_url("https://h/.well-known/oauth-protected-resourcex")
                .is_none()
        );
        assert!(resources_from_metadata_url("https://h/r").is_none());
        assert!(
            resources_from_metadata_url("http://h/.well-known/oauth-protected-resource").is_none()
        );
        assert!(protected_resource_metadata_url("https://h/#f").is_err());
        assert!(protected_resource_metadata_url("http://h/").is_err());
    }

    #[test]
    fn as_urls_in_mcp_order() {
        assert_eq!(
            authorization_server_metadata_urls("https://auth.example.com/tenant1").unwrap(),
            vec![
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/.well-known/openid-configuration/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            authorization_server_metadata_urls("https://auth.example.com/").unwrap(),
            vec![
                "https://auth.example.com/.well-known/oauth-authorization-server",
                "https://auth.example.com/.well-known/openid-configuration",
            ]
        );
        assert!(authorization_server_metadata_urls("https://a/?q").is_err());
        for issuer in ["https://a.example/t", "https://a.example"] {
            for url in authorization_server_metadata_urls(issuer).unwrap() {
                assert!(
                    issuers_from_metadata_url(&url)
                        .unwrap()
                        .contains(&issuer.to_owned()),
                    "{url}"
                );
            }
        }
        assert!(issuers_from_metadata_url("https://a/x").is_none());
        assert!(
            issuers_from_metadata_url("https://a/.well-known/openid-configuration?x").is_none()
        );
    }

    #[test]
    fn www_authenticate() {
        let ok = |h: &str| resource_metadata_from_www_authenticate(h).unwrap();
        assert_eq!(
            ok(r#"Bearer resource_metadata="https://r.example/.well-known/oauth-protected-resource""#).as_deref(),
            Some("https://r.example/.well-known/oauth-protected-resource")
        );
        assert_eq!(
            ok(r#"Basic realm="x", Bearer error="invalid_token", Resource_Metadata="https://a/\"q\"""#)
                .as_deref(),
            Some(r#"https://a/"q""#)
        );
        assert_eq!(
            ok("Basic dXNlcjpwYXNz==, Bearer resource_metadata=tok").as_deref(),
            Some("tok")
        );
        assert_eq!(ok(r#"Bearer realm="x""#), None);
        assert_eq!(ok("Negotiate"), None);
        let err = |h: &str| resource_metadata_from_www_authenticate(h).unwrap_err().code;
        assert_eq!(
            err(r#"Bearer resource_metadata="unterminated"#),
            WWW_AUTHENTICATE_INVALID
        );
        assert_eq!(err(r#"resource_metadata="x""#), WWW_AUTHENTICATE_INVALID);
        assert_eq!(
            err(r#"Bearer resource_metadata="a", resource_metadata="b""#),
            WWW_AUTHENTICATE_INVALID
        );
        assert_eq!(err(""), WWW_AUTHENTICATE_INVALID);
        assert_eq!(
            err(&"a".repeat(MAX_WWW_AUTHENTICATE_BYTES + 1)),
            WWW_AUTHENTICATE_TOO_LONG
        );
        let long = format!(
            "Bearer resource_metadata=\"https://a/{}\"",
            "x".repeat(3000)
        );
        assert_eq!(err(&long), WWW_AUTHENTICATE_TOO_LONG);
    }
}
