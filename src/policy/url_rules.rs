//! URL rules: untrusted text to [`SafeUrl`], or the list of every rule it breaks.
//!
//! Parsing is WHATWG (the `url` crate), the same algorithm browsers use, so `127.1`,
//! `0x7f.1`, `2130706433`, `%31%32%37.0.0.1`, fullwidth or circled digits and ideographic
//! full stops all become 127.0.0.1 before any rule looks at the host. On top of that we refuse
//! spellings on which parsers disagree (backslashes, controls, spaces, a scheme not followed
//! by exactly `//`), so what we judge is what any other parser would have fetched.

use url::{Host, Url};

use super::reason::{
    FRAGMENT_NOT_ALLOWED, INVALID_URL, PORT_NOT_ALLOWED, SCHEME_NOT_ALLOWED, URL_TOO_LONG,
    USERINFO_NOT_ALLOWED,
};
use super::{Decision, PinnedAddr, Policy, SafeUrl, TargetHost};
use crate::problem::Problem;

/// Refuses raw text whose meaning differs between URL parsers, before WHATWG parsing
/// silently normalises it.
fn raw_syntax_problem(raw: &str) -> Option<String> {
    if let Some(c) = raw
        .chars()
        .find(|c| c.is_ascii_control() || *c == ' ' || *c == '\\')
    {
        return Some(format!(
            "the URL contains {c:?}; controls, spaces and backslashes are refused because URL parsers disagree about them"
        ));
    }
    let after_scheme = raw.split_once(':').map(|(_, rest)| rest).unwrap_or("");
    if !after_scheme.starts_with("//") || after_scheme.starts_with("///") {
        return Some("the scheme must be followed by exactly \"//\" and a host".into());
    }
    None
}

/// The raw authority (between `scheme://` and the first `/`, `?` or `#`): the only place an
/// empty userinfo (`https://@host/`) is still visible, since the parser drops it.
fn raw_authority(raw: &str) -> &str {
    let rest = raw.split_once("://").map(|(_, r)| r).unwrap_or("");
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    rest.get(..end).unwrap_or("")
}

/// See [`Policy::check_url`].
pub(super) fn check_url(policy: &Policy, raw: &str) -> Result<SafeUrl, Vec<Problem>> {
    let max = policy.options.max_url_bytes;
    if raw.len() > max {
        return Err(vec![Problem::error(
            URL_TOO_LONG,
            format!(
                "the URL is {} bytes long; at most {max} are accepted",
                raw.len()
            ),
        )]);
    }
    if let Some(why) = raw_syntax_problem(raw) {
        return Err(vec![Problem::error(INVALID_URL, why)]);
    }
    let url = match Url::parse(raw) {
        Ok(u) => u,
        Err(e) => {
            return Err(vec![Problem::error(
                INVALID_URL,
                format!("the text is not a URL: {e}"),
            )]);
        }
    };

    let mut problems = Vec::new();
    // The serialized URL is what gets fetched (and re-checked on every redirect hop); WHATWG
    // percent-encoding can make it longer than the raw text, so the cap applies to it too
    // (found by the `url_string` fuzz target: accepted raw, refused when re-checked).
    if url.as_str().len() > max {
        problems.push(Problem::error(
            URL_TOO_LONG,
            format!(
                "the URL is {} bytes long once normalized; at most {max} are accepted",
                url.as_str().len()
            ),
        ));
    }
    if !policy.schemes.iter().any(|s| s == url.scheme()) {
        problems.push(Problem::error(
            SCHEME_NOT_ALLOWED,
            format!(
                "scheme {} is not allowed (allowed: {})",
                url.scheme(),
                policy.schemes.join(", ")
            ),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() || raw_authority(raw).contains('@') {
        problems.push(Problem::error(
            USERINFO_NOT_ALLOWED,
            "the URL carries userinfo (user name, password or '@' before the host)",
        ));
    }
    if raw.contains('#') || url.fragment().is_some() {
        problems.push(Problem::error(
            FRAGMENT_NOT_ALLOWED,
            "the URL has a fragment ('#'); fragments are never sent to the server",
        ));
    }
    let port = url.port_or_known_default();
    match port {
        Some(p) if policy.ports.contains(&p) => {}
        Some(p) => problems.push(Problem::error(
            PORT_NOT_ALLOWED,
            format!(
                "port {p} is not allowed (allowed: {})",
                join_ports(&policy.ports)
            ),
        )),
        None => problems.push(Problem::error(
            INVALID_URL,
            format!("scheme {} has no default port", url.scheme()),
        )),
    }

    let host = match url.host() {
        None => {
            problems.push(Problem::error(INVALID_URL, "the URL has no host"));
            None
        }
        Some(Host::Domain(d)) => match policy.hosts.check(d) {
            Ok(name) => Some(TargetHost::Domain(name)),
            Err(p) => {
                problems.push(p);
                None
            }
        },
        Some(Host::Ipv4(v4)) => policy.ip_host(v4.into(), &mut problems),
        Some(Host::Ipv6(v6)) => policy.ip_host(v6.into(), &mut problems),
    };

    match (host, port) {
        (Some(host), Some(port)) if problems.is_empty() => Ok(SafeUrl { url, host, port }),
        _ => Err(problems),
    }
}

impl Policy {
    /// Classifies an IP-literal host, pushing the block problem or returning the pinned host.
    fn ip_host(&self, ip: std::net::IpAddr, problems: &mut Vec<Problem>) -> Option<TargetHost> {
        let d = self.classify(ip);
        match d.decision {
            Decision::Allow => Some(TargetHost::Ip(PinnedAddr::new(ip))),
            Decision::Block(reason) => {
                problems.push(Problem::error(reason.code(), self.describe(&d)));
                None
            }
        }
    }
}

fn join_ports(ports: &[u16]) -> String {
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_authority_cases() {
        assert_eq!(raw_authority("https://a@b.example/x"), "a@b.example");
        assert_eq!(raw_authority("https://good.example#@evil/"), "good.example");
        assert_eq!(raw_authority("https://good.example?@evil/"), "good.example");
        assert_eq!(raw_authority("https://@b.example"), "@b.example");
    }

    #[test]
    fn raw_syntax() {
        assert!(raw_syntax_problem("https://a.example/").is_none());
        assert!(raw_syntax_problem("https:a.example/").is_some());
        assert!(raw_syntax_problem("https:/a.example/").is_some());
        assert!(raw_syntax_problem("https:///a.example/").is_some());
        assert!(raw_syntax_problem("https://a.example\\@b/").is_some());
        assert!(raw_syntax_problem(" https://a.example/").is_some());
        assert!(raw_syntax_problem("https://a.exa\tmple/").is_some());
        assert!(raw_syntax_problem("no-colon").is_some());
    }
}
