//! Input: an operator's rules file (TOML), layered over the embedded default rules.
//!
//! Properties:
//! - parsing never panics; a file that parses always compiles into a policy, alone and on
//!   top of the default layer;
//! - the floor holds whatever the file says: the unspecified addresses and the cloud
//!   metadata endpoints stay blocked;
//! - `classify` agrees with a reference model of the documented order (floor, embedded
//!   IPv4, longest prefix over all layers with later layers winning ties and allow winning
//!   within a layer) at the edges of every range in the file and at fixed probes;
//! - every `hosts.block` pattern of the file blocks the names it covers;
//! - a `ports` / `schemes` list in the top layer is what the policy uses.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use libfuzzer_sys::fuzz_target;
use portcullis::policy::ranges::FLOOR;
use portcullis::policy::{
    Action, Decision, Policy, PolicyOptions, RangeRule, Reason, RulesFile, embedded,
};

/// The documented decision order, written out naively over the raw rule lists.
fn model(layers: &[&[RangeRule]], ip: IpAddr) -> bool {
    let floor_reason = |r: &RangeRule| {
        r.action == Action::Block
            && matches!(
                r.reason,
                Some(Reason::Unspecified) | Some(Reason::CloudMetadata)
            )
    };
    if FLOOR.iter().any(|(f, _)| *f == ip)
        || layers
            .iter()
            .flat_map(|l| l.iter())
            .any(|r| floor_reason(r) && r.net.contains(&ip))
    {
        return false;
    }
    if let IpAddr::V6(v6) = ip
        && let Some((_, v4)) = embedded::extract(v6)
        && !model(layers, IpAddr::V4(v4))
    {
        return false;
    }
    let mut best: Option<(u8, usize, bool)> = None; // (prefix, layer, allow)
    for (layer, rules) in layers.iter().enumerate() {
        for r in rules.iter().filter(|r| r.net.contains(&ip)) {
            let cand = (r.net.prefix_len(), layer, r.action == Action::Allow);
            best = match best {
                Some(b) if (b.0, b.1) > (cand.0, cand.1) => Some(b),
                Some(b) if (b.0, b.1) == (cand.0, cand.1) => Some((b.0, b.1, b.2 || cand.2)),
                _ => Some(cand),
            };
        }
    }
    best.is_none_or(|b| b.2)
}

fn probes(net: IpNet) -> [IpAddr; 3] {
    let next = match net.network() {
        IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4).wrapping_add(1))),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6).wrapping_add(1))),
    };
    [net.network(), net.broadcast(), next]
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = RulesFile::parse(text, "fuzz") else {
        return;
    };
    let base = RulesFile::embedded_default();
    let alone = Policy::new(vec![file.clone()], PolicyOptions::default());
    assert!(
        alone.is_ok(),
        "parsed file does not compile alone: {alone:?}"
    );
    let layered = Policy::new(vec![base.clone(), file.clone()], PolicyOptions::default());
    let Ok(p) = layered else {
        panic!("parsed file does not compile over the default: {layered:?}");
    };

    for (ip, _) in FLOOR {
        assert!(!p.classify(*ip).decision.is_allow(), "floor {ip} lifted");
    }

    let layers: [&[RangeRule]; 2] = [base.ranges(), file.ranges()];
    let fixed: [IpAddr; 8] = [
        Ipv4Addr::new(8, 8, 8, 8).into(),
        Ipv4Addr::new(10, 1, 2, 3).into(),
        Ipv4Addr::LOCALHOST.into(),
        Ipv4Addr::new(169, 254, 169, 254).into(),
        Ipv6Addr::LOCALHOST.into(),
        Ipv6Addr::new(0x2606, 0x4700, 0, 0, 0, 0, 0, 1).into(),
        Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0x0a00, 1).into(),
        Ipv6Addr::new(0x2002, 0x0808, 0x0808, 0, 0, 0, 0, 1).into(),
    ];
    let edges = file.ranges().iter().take(64).flat_map(|r| probes(r.net));
    for ip in fixed.into_iter().chain(edges) {
        let got = p.classify(ip).decision;
        assert_eq!(
            got == Decision::Allow,
            model(&layers, ip),
            "{ip}: policy says {got:?}"
        );
    }

    for pattern in &file.hosts().block {
        let name = match pattern.strip_prefix("*.") {
            Some(suffix) => format!("x.{suffix}"),
            None => pattern.clone(),
        };
        let is_domain = matches!(url::Host::parse(&name), Ok(url::Host::Domain(d)) if d == name);
        if is_domain && name.parse::<IpAddr>().is_err() {
            assert!(
                p.check_host(&name).is_err(),
                "{name} passes block {pattern}"
            );
        }
    }
    if let Some(ports) = file.ports() {
        assert_eq!(p.ports(), ports);
    }
    if let Some(schemes) = file.schemes() {
        let lower: Vec<String> = schemes.iter().map(|s| s.to_ascii_lowercase()).collect();
        assert_eq!(p.schemes(), &lower[..]);
    }
    let _ = p.check_url("https://example.com/x");
});
