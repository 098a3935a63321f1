//! Range boundaries and properties of the classifier (smokescreen-style boundary tables).
//!
//! For every range of `rules/default.toml`: its first and last address, and the addresses
//! just outside it, are classified and compared with a naive reference (linear scan for the
//! most specific default rule, plus the floor and embedded-IPv4 steps). A second, hand-written
//! table pins well-known boundaries independently of the file. Pure: no network.

use portcullis::policy::embedded::{self, EmbeddedForm};
use portcullis::policy::ranges::FLOOR;
use portcullis::policy::{Action, Decision, Policy, PolicyOptions, RangeRule, Reason, RulesFile};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn policy() -> Policy {
    Policy::embedded_default(PolicyOptions::default())
}

fn nat64_policy() -> Policy {
    Policy::embedded_default(PolicyOptions {
        allow_nat64: true,
        ..PolicyOptions::default()
    })
}

fn rules() -> Vec<RangeRule> {
    RulesFile::embedded_default().ranges().to_vec()
}

/// Naive reference: the most specific default rule containing `ip` (linear scan).
fn most_specific(rules: &[RangeRule], ip: IpAddr) -> Option<&RangeRule> {
    rules
        .iter()
        .filter(|r| r.net.contains(&ip))
        .max_by_key(|r| r.net.prefix_len())
}

/// Naive reference decision for the default rules without NAT64 or self addresses.
fn reference(rules: &[RangeRule], ip: IpAddr) -> Decision {
    if let Some((_, reason)) = FLOOR.iter().find(|(a, _)| *a == ip) {
        return Decision::Block(*reason);
    }
    if let IpAddr::V6(v6) = ip
        && let Some((_, v4)) = embedded::extract(v6)
    {
        let inner = reference(rules, IpAddr::V4(v4));
        if inner != Decision::Allow {
            return inner;
        }
    }
    match most_specific(rules, ip) {
        Some(r) if r.action == Action::Block => Decision::Block(r.block_reason()),
        _ => Decision::Allow,
    }
}

fn in_any_block(rules: &[RangeRule], ip: IpAddr) -> bool {
    rules
        .iter()
        .any(|r| r.action == Action::Block && r.net.contains(&ip))
}

fn step(ip: IpAddr, delta: i8) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(v4) => {
            let n = u32::from(v4);
            let m = if delta < 0 {
                n.checked_sub(1)
            } else {
                n.checked_add(1)
            };
            m.map(|m| IpAddr::V4(Ipv4Addr::from(m)))
        }
        IpAddr::V6(v6) => {
            let n = u128::from(v6);
            let m = if delta < 0 {
                n.checked_sub(1)
            } else {
                n.checked_add(1)
            };
            m.map(|m| IpAddr::V6(Ipv6Addr::from(m)))
        }
    }
}

#[test]
fn every_default_range_boundary_matches_the_reference() {
    let p = policy();
    let rules = rules();
    let mut checked = 0;
    for r in &rules {
        let (first, last) = (r.net.network(), r.net.broadcast());
        for ip in [first, last] {
            assert!(r.net.contains(&ip));
            let got = p.classify(ip).decision;
            assert_eq!(got, reference(&rules, ip), "{ip} (inside {})", r.net);
            // Inside a block rule, an address is never allowed unless a more specific allow
            // rule covers it.
            if r.action == Action::Block && got == Decision::Allow {
                let decider = most_specific(&rules, ip).unwrap();
                assert_eq!(decider.action, Action::Allow, "{ip}");
                assert!(decider.net.prefix_len() > r.net.prefix_len(), "{ip}");
            }
            // A block range's edges are blocked with its reason when it is the most specific.
            if r.action == Action::Block
                && most_specific(&rules, ip).map(|m| m.net) == Some(r.net)
                && !FLOOR.iter().any(|(a, _)| *a == ip)
            {
                let embedded_blocked = match ip {
                    IpAddr::V6(v6) => embedded::extract(v6)
                        .is_some_and(|(_, v4)| !p.classify(IpAddr::V4(v4)).decision.is_allow()),
                    IpAddr::V4(_) => false,
                };
                if !embedded_blocked {
                    assert_eq!(
                        got,
                        Decision::Block(r.block_reason()),
                        "{ip} edge of {}",
                        r.net
                    );
                }
            }
            checked += 1;
        }
        for outside in [step(first, -1), step(last, 1)].into_iter().flatten() {
            assert!(!r.net.contains(&outside));
            let got = p.classify(outside).decision;
            assert_eq!(
                got,
                reference(&rules, outside),
                "{outside} (next to {})",
                r.net
            );
            let embedded_v4 = match outside {
                IpAddr::V6(v6) => embedded::extract(v6).is_some(),
                IpAddr::V4(_) => false,
            };
            if !in_any_block(&rules, outside) && !embedded_v4 {
                assert_eq!(got, Decision::Allow, "{outside} (next to {})", r.net);
            }
            checked += 1;
        }
    }
    assert!(checked > 200, "only {checked} addresses checked");
}

#[test]
fn hand_written_boundaries() {
    use Decision::{Allow, Block};
    use Reason::*;
    let p = policy();
    let cases: &[(&str, Decision)] = &[
        ("0.0.0.0", Block(Unspecified)),
        ("0.0.0.1", Block(ThisNetwork)),
        ("0.255.255.255", Block(ThisNetwork)),
        ("1.0.0.0", Allow),
        ("9.255.255.255", Allow),
        ("10.0.0.0", Block(PrivateUse)),
        ("10.255.255.255", Block(PrivateUse)),
        ("11.0.0.0", Allow),
        ("100.63.255.255", Allow),
        ("100.64.0.0", Block(SharedAddressSpace)),
        ("100.100.100.199", Block(SharedAddressSpace)),
        ("100.100.100.200", Block(CloudMetadata)),
        ("100.100.100.201", Block(SharedAddressSpace)),
        ("100.127.255.255", Block(SharedAddressSpace)),
        ("100.128.0.0", Allow),
        ("126.255.255.255", Allow),
        ("127.0.0.0", Block(Loopback)),
        ("127.255.255.255", Block(Loopback)),
        ("128.0.0.0", Allow),
        ("168.63.129.15", Allow),
        ("168.63.129.16", Block(CloudMetadata)),
        ("169.253.255.255", Allow),
        ("169.254.0.0", Block(LinkLocal)),
        ("169.254.169.253", Block(LinkLocal)),
        ("169.254.169.254", Block(CloudMetadata)),
        ("169.254.169.255", Block(LinkLocal)),
        ("169.254.170.2", Block(CloudMetadata)),
        ("169.254.255.255", Block(LinkLocal)),
        ("169.255.0.0", Allow),
        ("172.15.255.255", Allow),
        ("172.16.0.0", Block(PrivateUse)),
        ("172.31.255.255", Block(PrivateUse)),
        ("172.32.0.0", Allow),
        ("191.255.255.255", Allow),
        ("192.0.0.0", Block(IetfProtocolAssignment)),
        ("192.0.0.9", Block(IetfProtocolAssignment)),
        ("192.0.0.10", Block(IetfProtocolAssignment)),
        ("192.0.0.192", Block(CloudMetadata)),
        ("192.0.0.255", Block(IetfProtocolAssignment)),
        ("192.0.1.0", Allow),
        ("192.0.2.0", Block(Documentation)),
        ("192.0.2.255", Block(Documentation)),
        ("192.0.3.0", Allow),
        ("192.31.196.0", Allow),
        ("192.52.193.255", Allow),
        ("192.88.98.255", Allow),
        ("192.88.99.0", Block(SixToFourRelay)),
        ("192.88.99.255", Block(SixToFourRelay)),
        ("192.88.100.0", Allow),
        ("192.167.255.255", Allow),
        ("192.168.0.0", Block(PrivateUse)),
        ("192.168.255.255", Block(PrivateUse)),
        ("192.169.0.0", Allow),
        ("192.175.48.1", Allow),
        ("198.17.255.255", Allow),
        ("198.18.0.0", Block(Benchmarking)),
        ("198.19.255.255", Block(Benchmarking)),
        ("198.20.0.0", Allow),
        ("198.51.99.255", Allow),
        ("198.51.100.0", Block(Documentation)),
        ("198.51.100.255", Block(Documentation)),
        ("198.51.101.0", Allow),
        ("203.0.112.255", Allow),
        ("203.0.113.0", Block(Documentation)),
        ("203.0.113.255", Block(Documentation)),
        ("203.0.114.0", Allow),
        ("223.255.255.255", Allow),
        ("224.0.0.0", Block(Multicast)),
        ("239.255.255.255", Block(Multicast)),
        ("240.0.0.0", Block(Reserved)),
        ("255.255.255.254", Block(Reserved)),
        ("255.255.255.255", Block(Broadcast)),
        // IPv6
        ("::", Block(Unspecified)),
        ("::1", Block(Loopback)),
        ("::2", Block(ThisNetwork)),
        ("::8.8.8.8", Block(Ipv4Compatible)),
        ("::1:0:0", Block(Reserved)),
        ("::fffe:ffff:ffff", Block(Reserved)),
        ("::ffff:0.0.0.0", Block(Unspecified)),
        ("::ffff:8.8.8.8", Allow),
        ("::ffff:255.255.255.255", Block(Broadcast)),
        ("::1:0:0:0", Block(Reserved)),
        ("::ffff:0:8.8.8.8", Block(Ipv4Translated)),
        ("ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Block(Reserved)),
        ("64:ff9b::8.8.8.8", Block(Nat64)),
        ("64:ff9b::10.0.0.1", Block(PrivateUse)),
        ("64:ff9b:1::8.8.8.8", Block(Nat64)),
        ("64:ff9b:1:ffff:ffff:ffff:a9fe:a9fe", Block(CloudMetadata)),
        ("100::", Block(DiscardOnly)),
        ("100::ffff:ffff:ffff:ffff", Block(DiscardOnly)),
        ("100:0:0:1::", Block(DummyPrefix)),
        ("100:0:0:2::", Block(Reserved)),
        ("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Block(Reserved)),
        ("2000::", Allow),
        ("2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Allow),
        ("2001::", Block(Teredo)),
        ("2001:0:ffff:ffff:ffff:ffff:ffff:ffff", Block(Teredo)),
        ("2001:1::", Block(IetfProtocolAssignment)),
        ("2001:2::", Block(Benchmarking)),
        ("2001:2:0:ffff:ffff:ffff:ffff:ffff", Block(Benchmarking)),
        ("2001:2:1::", Block(IetfProtocolAssignment)),
        (
            "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
            Block(IetfProtocolAssignment),
        ),
        ("2001:200::", Allow),
        ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", Allow),
        ("2001:db8::", Block(Documentation)),
        (
            "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
            Block(Documentation),
        ),
        ("2001:db9::", Allow),
        ("2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Allow),
        ("2002::", Block(Unspecified)),
        ("2002:808:808::", Allow),
        ("2002:a00:1::", Block(PrivateUse)),
        ("2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Block(Broadcast)),
        ("2003::", Allow),
        ("2620:4f:7fff:ffff:ffff:ffff:ffff:ffff", Allow),
        ("2620:4f:8000::", Allow),
        ("3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Allow),
        ("3fff::", Block(Documentation)),
        (
            "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff",
            Block(Documentation),
        ),
        ("3fff:1000::", Allow),
        ("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Allow),
        ("4000::", Block(Reserved)),
        ("5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Block(Reserved)),
        ("5f00::", Block(SegmentRouting)),
        (
            "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            Block(SegmentRouting),
        ),
        ("5f01::", Block(Reserved)),
        ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Block(Reserved)),
        ("fc00::", Block(UniqueLocal)),
        ("fd00:ec2::253", Block(UniqueLocal)),
        ("fd00:ec2::254", Block(CloudMetadata)),
        ("fd20:ce::254", Block(CloudMetadata)),
        (
            "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            Block(UniqueLocal),
        ),
        ("fe00::", Block(Reserved)),
        ("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Block(Reserved)),
        ("fe80::", Block(LinkLocal)),
        ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Block(LinkLocal)),
        ("fec0::", Block(SiteLocal)),
        ("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Block(SiteLocal)),
        ("ff00::", Block(Multicast)),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Block(Multicast)),
    ];
    for (text, want) in cases {
        let ip: IpAddr = text.parse().unwrap();
        assert_eq!(p.classify(ip).decision, *want, "{text}");
    }
}

#[test]
fn nat64_option_only_lifts_public_ipv4() {
    let p = nat64_policy();
    for (text, want) in [
        ("64:ff9b::8.8.8.8", Decision::Allow),
        ("64:ff9b:1:abcd::8.8.8.8", Decision::Allow),
        ("64:ff9b::127.0.0.1", Decision::Block(Reason::Loopback)),
        (
            "64:ff9b::169.254.169.254",
            Decision::Block(Reason::CloudMetadata),
        ),
        ("64:ff9b:1::", Decision::Block(Reason::Unspecified)),
        ("2001::8.8.8.8", Decision::Block(Reason::Teredo)),
    ] {
        let ip: IpAddr = text.parse().unwrap();
        assert_eq!(p.classify(ip).decision, want, "{text}");
    }
}

/// Puts `v4` in `form` with arbitrary bits where the form allows them.
fn wrap_noisy(form: EmbeddedForm, v4: Ipv4Addr, noise: u128) -> Ipv6Addr {
    let base = u128::from(form.wrap(v4));
    let extra = match form {
        // Subnet and interface bits of a 6to4 address: bits 0..80.
        EmbeddedForm::SixToFour => noise & ((1u128 << 80) - 1),
        // The /96 inside the local-use /48: bits 32..80.
        EmbeddedForm::Nat64LocalUse => (noise << 32) & (((1u128 << 48) - 1) << 32),
        _ => 0,
    };
    Ipv6Addr::from(base | extra)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn classify_never_panics(v4 in any::<u32>(), v6 in any::<u128>()) {
        for p in [policy(), nat64_policy()] {
            let _ = p.classify(IpAddr::V4(Ipv4Addr::from(v4)));
            let _ = p.classify(IpAddr::V6(Ipv6Addr::from(v6)));
            let _ = p.check_addrs(&[IpAddr::V4(Ipv4Addr::from(v4)), IpAddr::V6(Ipv6Addr::from(v6))]);
        }
    }

    #[test]
    fn allowed_means_no_more_specific_block(v4 in any::<u32>(), v6 in any::<u128>()) {
        let p = policy();
        let rules = rules();
        for ip in [IpAddr::V4(Ipv4Addr::from(v4)), IpAddr::V6(Ipv6Addr::from(v6))] {
            let d = p.classify(ip);
            prop_assert_eq!(d.decision, reference(&rules, ip), "{}", ip);
            if d.decision == Decision::Allow {
                if let Some(r) = most_specific(&rules, ip) {
                    prop_assert_eq!(r.action, Action::Allow, "{} allowed inside {}", ip, r.net);
                }
                prop_assert!(!FLOOR.iter().any(|(a, _)| *a == ip));
            }
        }
    }

    #[test]
    fn embedded_forms_agree_with_the_ipv4(v4 in any::<u32>(), noise in any::<u128>()) {
        let v4 = Ipv4Addr::from(v4);
        let p = policy();
        let n = nat64_policy();
        let plain = p.classify(IpAddr::V4(v4)).decision;
        for &form in EmbeddedForm::ALL {
            if form == EmbeddedForm::Compatible && u32::from(v4) <= 1 {
                continue; // :: and ::1 are not IPv4-compatible addresses
            }
            let v6 = IpAddr::V6(wrap_noisy(form, v4, noise));
            let (got, got_nat) = (p.classify(v6).decision, n.classify(v6).decision);
            match plain {
                Decision::Block(_) => {
                    prop_assert_eq!(got, plain, "{:?} {}", form, v6);
                    prop_assert_eq!(got_nat, plain, "{:?} {}", form, v6);
                }
                Decision::Allow => {
                    let (want, want_nat) = match form {
                        EmbeddedForm::Mapped | EmbeddedForm::SixToFour => (Decision::Allow, Decision::Allow),
                        EmbeddedForm::Nat64 | EmbeddedForm::Nat64LocalUse => (Decision::Block(Reason::Nat64), Decision::Allow),
                        EmbeddedForm::Compatible => (Decision::Block(Reason::Ipv4Compatible), Decision::Block(Reason::Ipv4Compatible)),
                        EmbeddedForm::Translated => (Decision::Block(Reason::Ipv4Translated), Decision::Block(Reason::Ipv4Translated)),
                    };
                    prop_assert_eq!(got, want, "{:?} {}", form, v6);
                    prop_assert_eq!(got_nat, want_nat, "{:?} {}", form, v6);
                }
            }
        }
    }

    #[test]
    fn pinned_addresses_are_always_allowed(addrs in prop::collection::vec(any::<u32>(), 0..6)) {
        let p = policy();
        let ips: Vec<IpAddr> = addrs.iter().map(|a| IpAddr::V4(Ipv4Addr::from(*a))).collect();
        let c = p.check_addrs(&ips);
        prop_assert_eq!(c.decisions.len(), ips.len());
        let all_allowed = c.decisions.iter().all(|d| d.decision.is_allow());
        match c.outcome {
            Ok(pinned) => {
                prop_assert!(all_allowed && !ips.is_empty());
                for pin in pinned {
                    prop_assert!(p.classify(pin.ip()).decision.is_allow());
                }
            }
            Err(problems) => prop_assert!(!all_allowed || ips.is_empty() && problems.len() == 1),
        }
    }

    #[test]
    fn operator_host_route_allow_inside_private_space(host in 0u32..(1 << 24)) {
        let ip = Ipv4Addr::from((10u32 << 24) | host);
        let text = format!("[[ranges]]\ncidr = \"{ip}/32\"\naction = \"allow\"\n");
        let p = Policy::new(
            vec![RulesFile::embedded_default(), RulesFile::parse(&text, "t").unwrap()],
            PolicyOptions::default(),
        ).unwrap();
        prop_assert_eq!(p.classify(IpAddr::V4(ip)).decision, Decision::Allow);
        let other = Ipv4Addr::from(u32::from(ip) ^ 1);
        prop_assert_eq!(p.classify(IpAddr::V4(other)).decision, Decision::Block(Reason::PrivateUse));
    }
}
