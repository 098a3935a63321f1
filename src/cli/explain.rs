//! `portcullis explain`: the URL, host and address rules applied to one target, with the
//! reason for every decision, without fetching anything.

use std::net::IpAddr;
use std::path::Path;

use portcullis::assemble;
use portcullis::fetch::AddressTrace;
use portcullis::policy::{AddrDecision, Decision, TargetHost};
use portcullis::problem::Problem;
use serde_json::json;

use super::{EXIT_NOT_OK, EXIT_OK, usage_error};

/// A target with a scheme (`https://…`, but also malformed `https:/…`, `https:…` or
/// `HTTP:\\…`) is judged as the URL it is; only a bare host (optionally `host:port`) is
/// wrapped in `https://host/`. Wrapping a malformed URL would judge a different host
/// (`https`) and report the wrong reason.
fn looks_like_url(target: &str) -> bool {
    if target.contains("://") {
        return true;
    }
    let Some((scheme, rest)) = target.split_once(':') else {
        return false;
    };
    let is_scheme = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http") {
        return true;
    }
    // `host:443` is a host and port, not a scheme.
    is_scheme && !rest.chars().next().is_some_and(|c| c.is_ascii_digit()) && !scheme.contains('.')
}

pub async fn run(target: &str, config: Option<&Path>, json: bool) -> u8 {
    let (_config, fetcher) = match assemble::load_fetcher(config) {
        Ok(loaded) => loaded,
        Err(e) => return usage_error(e),
    };
    let policy = fetcher.policy().clone();
    let mut problems: Vec<Problem> = Vec::new();
    let mut decisions: Vec<AddrDecision> = Vec::new();

    let literal = target
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    let host_to_resolve = if let Some(ip) = literal {
        decisions.push(policy.classify(ip));
        None
    } else {
        // A bare host name is judged as the https URL it would be fetched through, so the
        // WHATWG host parser sees `0x7f.1` or `①②⑦.⓪.⓪.①` exactly as a fetch would.
        let url = if looks_like_url(target) {
            target.to_owned()
        } else {
            format!("https://{target}/")
        };
        match policy.check_url(&url) {
            Err(p) => {
                problems.extend(p);
                None
            }
            Ok(safe) => match safe.host() {
                TargetHost::Ip(pinned) => {
                    decisions.push(policy.classify(pinned.ip()));
                    None
                }
                TargetHost::Domain(name) => Some(name.clone()),
            },
        }
    };
    if let Some(host) = host_to_resolve {
        match fetcher.resolve_checked(&host).await {
            Err(problem) => problems.push(problem),
            Ok((all, outcome)) => {
                decisions = all;
                if let Err(p) = outcome {
                    problems.extend(p);
                }
            }
        }
    }
    for d in &decisions {
        if let Decision::Block(reason) = d.decision
            && !problems.iter().any(|p| p.code == reason.code())
        {
            problems.push(Problem::error(
                reason.code(),
                format!("{} is blocked ({})", d.ip, reason.code()),
            ));
        }
    }
    let blocked = problems.iter().any(Problem::is_error);
    let addresses: Vec<serde_json::Value> = decisions
        .iter()
        .map(|d| {
            let t = AddressTrace::from(d);
            json!({"ip": t.ip, "decision": t.decision, "code": t.code, "range": d.matched.map(|m| m.to_string())})
        })
        .collect();
    let report = json!({
        "target": target,
        "decision": if blocked { "block" } else { "allow" },
        "problems": problems,
        "addresses": addresses,
    });
    if json {
        println!("{report}");
    } else {
        println!("decision: {}", if blocked { "block" } else { "allow" });
        for a in &addresses {
            println!(
                "address:  {} {} {}",
                a["ip"].as_str().unwrap_or_default(),
                a["decision"].as_str().unwrap_or_default(),
                a["code"].as_str().unwrap_or_default()
            );
        }
        for p in &problems {
            println!("problem:  {}: {}", p.code, p.detail);
        }
    }
    if blocked { EXIT_NOT_OK } else { EXIT_OK }
}

#[cfg(test)]
mod tests {
    use super::looks_like_url;

    #[test]
    fn urls_and_hosts_are_told_apart() {
        for url in [
            "https://a.example/",
            "https:/10.0.0.1/",
            "https:a.example",
            "HTTP:\\\\x",
            "file:///etc/passwd",
            "https:10.0.0.1/",
        ] {
            assert!(looks_like_url(url), "{url}");
        }
        for host in [
            "a.example",
            "a.example:8443",
            "10.0.0.1",
            "0x7f.1",
            "[::1]",
            "localhost:443",
        ] {
            assert!(!looks_like_url(host), "{host}");
        }
    }
}
