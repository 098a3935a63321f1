//! The CONNECT target and the caller roles, as pure functions.
//!
//! A CONNECT request-target is an authority (`host:port`, RFC 9110 §9.3.6). It is judged
//! exactly like the authority of an `https://` URL: it is turned into `https://host:port/`
//! and given to [`Policy::check_url`], so IP literals in any spelling, the port list and the
//! host rules behave as they do for the fetcher, with the same reason codes.

use http::Uri;

use super::codes::PROXY_BAD_TARGET;
use crate::config::ProxyCallerConfig;
use crate::policy::{Policy, SafeUrl, TargetHost};
use crate::problem::Problem;

/// Turns a CONNECT request-target into the URL text the policy judges, or says why it is
/// not an authority with an explicit port.
pub fn connect_url(uri: &Uri) -> Result<String, Problem> {
    let bad = |why: &str| Problem::error(PROXY_BAD_TARGET, why.to_owned());
    if uri.scheme().is_some() || uri.path_and_query().is_some_and(|p| !p.as_str().is_empty()) {
        return Err(bad("the CONNECT target must be host:port (authority form)"));
    }
    let authority = uri
        .authority()
        .ok_or_else(|| bad("the CONNECT target has no host"))?;
    if authority.port_u16().is_none() {
        return Err(bad("the CONNECT target must name a port"));
    }
    Ok(format!("https://{}/", authority.as_str()))
}

/// Checks a CONNECT target against the URL and host rules.
pub fn judge_target(policy: &Policy, uri: &Uri) -> Result<SafeUrl, Vec<Problem>> {
    let url = connect_url(uri).map_err(|p| vec![p])?;
    policy.check_url(&url)
}

/// The host as text for roles, logs and the per-host rate limit: the normalised name, or the
/// IP address without brackets.
pub fn host_text(url: &SafeUrl) -> String {
    match url.host() {
        TargetHost::Domain(name) => name.clone(),
        TargetHost::Ip(addr) => addr.ip().to_string(),
    }
}

/// Whether a caller's allow-list admits `host`: empty admits every host; `*.example.com`
/// admits any subdomain of example.com (not example.com itself); anything else must match
/// exactly (case-insensitive, trailing dot and IPv6 brackets ignored).
pub fn host_allowed(allow_hosts: &[String], host: &str) -> bool {
    if allow_hosts.is_empty() {
        return true;
    }
    let norm = |s: &str| {
        s.trim_end_matches('.')
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase()
    };
    let host = norm(host);
    allow_hosts.iter().any(|entry| {
        let entry = norm(entry);
        match entry.strip_prefix("*.") {
            Some(suffix) => host
                .strip_suffix(suffix)
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            None => host == entry,
        }
    })
}

/// A caller's role; a caller without an entry gets the plain rules.
pub fn role_of<'a>(roles: &'a [ProxyCallerConfig], caller: &str) -> Option<&'a ProxyCallerConfig> {
    roles.iter().find(|r| r.name == caller)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicyOptions;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    fn codes(r: Result<SafeUrl, Vec<Problem>>) -> Vec<&'static str> {
        r.err()
            .unwrap_or_default()
            .iter()
            .map(|p| p.code.as_str())
            .collect()
    }

    #[test]
    fn authority_form_with_port_becomes_an_https_url() {
        assert_eq!(
            connect_url(&uri("example.com:443")).unwrap(),
            "https://example.com:443/"
        );
        assert_eq!(
            connect_url(&uri("[::1]:443")).unwrap(),
            "https://[::1]:443/"
        );
        assert!(connect_url(&uri("example.com")).is_err());
        assert!(connect_url(&uri("http://example.com:443/")).is_err());
    }

    #[test]
    fn targets_are_judged_like_urls() {
        let p = Policy::embedded_default(PolicyOptions::default());
        assert!(judge_target(&p, &uri("example.com:443")).is_ok());
        assert_eq!(
            codes(judge_target(&p, &uri("example.com:22"))),
            ["port_not_allowed"]
        );
        assert_eq!(
            codes(judge_target(&p, &uri("169.254.169.254:443"))),
            ["cloud_metadata"]
        );
        // WHATWG spellings of an IPv4 literal are normalised before the rules look.
        assert_eq!(
            codes(judge_target(&p, &uri("2130706433:443"))),
            ["loopback"]
        );
        assert_eq!(codes(judge_target(&p, &uri("0x7f.1:443"))), ["loopback"]);
        assert_eq!(
            codes(judge_target(&p, &uri("[::ffff:10.0.0.1]:443"))),
            ["private_use"]
        );
        assert!(!codes(judge_target(&p, &uri("user@example.com:443"))).is_empty());
    }

    #[test]
    fn allow_lists_match_exact_names_and_subdomains() {
        let list = vec!["api.example.com".to_owned(), "*.good.test".to_owned()];
        assert!(host_allowed(&[], "anything.test"));
        assert!(host_allowed(&list, "API.example.com."));
        assert!(host_allowed(&list, "a.b.good.test"));
        assert!(!host_allowed(&list, "good.test"));
        assert!(!host_allowed(&list, "evilgood.test"));
        assert!(!host_allowed(&list, "example.com"));
        assert!(host_allowed(&["::1".to_owned()], "::1"));
    }
}
