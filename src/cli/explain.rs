//! `portcullis explain`: the URL, host and address rules applied to one target, with the
//! reason for every decision, without fetching anything. DNS is used only with `--resolve`,
//! and what DNS said (`dns`) is kept apart from what the rules decided (`decision`).

use std::net::IpAddr;
use std::path::Path;

use portcullis::assemble;
use portcullis::fetch::AddressTrace;
use portcullis::kind::Outcome;
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

pub async fn run(target: &str, config: Option<&Path>, resolve: bool, json: bool) -> u8 {
    let (_config, fetcher) = match assemble::load_fetcher(config) {
        Ok(loaded) => loaded,
        Err(e) => return usage_error(e),
    };
    let policy = fetcher.policy().clone();
    // What the rules decide from the text alone (URL, host and literal-address rules).
    let mut rule_problems: Vec<Problem> = Vec::new();
    let mut decisions: Vec<AddrDecision> = Vec::new();

    let literal = target
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    let host_name = if let Some(ip) = literal {
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
                rule_problems.extend(p);
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
    // What DNS said, only when asked: `explain` promises not to touch the network.
    let mut dns_problems: Vec<Problem> = Vec::new();
    let dns = match (&host_name, resolve) {
        (Some(host), true) => {
            match fetcher.resolve_checked(host).await {
                Err(problem) => dns_problems.push(problem),
                Ok((all, outcome)) => {
                    decisions = all;
                    if let Err(p) = outcome {
                        rule_problems.extend(p);
                    }
                }
            }
            json!({"resolved": dns_problems.is_empty(), "problems": dns_problems})
        }
        (Some(_), false) => {
            json!({"resolved": false, "skipped": "not resolved; pass --resolve to judge the addresses DNS returns"})
        }
        (None, _) => serde_json::Value::Null,
    };
    for d in &decisions {
        if let Decision::Block(reason) = d.decision
            && !rule_problems.iter().any(|p| p.code == reason.code())
        {
            rule_problems.push(Problem::error(
                reason.code(),
                format!("{} is blocked ({})", d.ip, reason.code()),
            ));
        }
    }
    let blocked = rule_problems.iter().any(Problem::is_error);
    let unreachable = !blocked && dns_problems.iter().any(Problem::is_error);
    // Same outcome labels as `check`; "allowed" means the rules let it through (a fetch
    // could still fail or be invalid).
    let outcome = if blocked {
        Outcome::Blocked.as_str()
    } else if unreachable {
        Outcome::Unreachable.as_str()
    } else {
        "allowed"
    };
    let rules = if blocked { "block" } else { "allow" };
    let addresses: Vec<serde_json::Value> = decisions
        .iter()
        .map(|d| {
            let t = AddressTrace::from(d);
            json!({"ip": t.ip, "decision": t.decision, "code": t.code, "range": d.matched.map(|m| m.to_string())})
        })
        .collect();
    let problems: Vec<&Problem> = rule_problems.iter().chain(&dns_problems).collect();
    let report = json!({
        "target": target,
        "outcome": outcome,
        "decision": rules,
        "dns": dns,
        "problems": problems,
        "addresses": addresses,
    });
    if json {
        println!("{report}");
    } else {
        println!("outcome:  {outcome}");
        println!("rules:    {rules}");
        match (&host_name, resolve) {
            (Some(_), false) => println!("dns:      not resolved (pass --resolve)"),
            (Some(_), true) if dns_problems.is_empty() => println!("dns:      resolved"),
            (Some(_), true) => println!("dns:      failed"),
            (None, _) => {}
        }
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
    if blocked || unreachable {
        EXIT_NOT_OK
    } else {
        EXIT_OK
    }
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
