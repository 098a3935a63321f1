//! Input: 16 bytes (shorter inputs are zero-padded): an IPv6 address, and its first four
//! bytes as an IPv4 address.
//!
//! Properties, under the embedded default policy (with and without `allow_nat64`):
//! - an allowed address is in no must-block range (loopback, RFC 1918, link-local,
//!   metadata, ULA, multicast, documentation, NAT64 without `allow_nat64`, ...);
//! - when the IPv4 is blocked, every IPv6 form carrying it (mapped, compatible, SIIT,
//!   NAT64, 6to4) is blocked too; with `allow_nat64` the NAT64 form is allowed exactly when
//!   the IPv4 is, and without it the NAT64 form is always blocked;
//! - a decision's `matched` range contains the address; a blocked address names a range;
//! - `check_addrs` pins exactly the allowed answers, and never pins a blocked one.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use portcullis::policy::{Decision, Policy};
use portcullis_fuzz::{in_must_block, ipv4_wrappers, policy, policy_nat64};

fn check_one(p: &Policy, ip: IpAddr, nat64: bool) -> Decision {
    let d = p.classify(ip);
    assert_eq!(d.ip, ip);
    if let Some(net) = d.matched {
        // The matched range of an embedded form may be the IPv4's range.
        let inner_match = match ip {
            IpAddr::V6(v6) => portcullis::policy::embedded::extract(v6)
                .is_some_and(|(_, v4)| net.contains(&IpAddr::V4(v4))),
            IpAddr::V4(_) => false,
        };
        assert!(net.contains(&ip) || inner_match, "{ip} matched {net}");
    }
    match d.decision {
        Decision::Allow => {
            if let Some(net) = in_must_block(ip) {
                let nat64_ok = nat64
                    && ["64:ff9b::/96", "64:ff9b:1::/48"]
                        .iter()
                        .any(|s| s.parse::<ipnet::IpNet>().ok() == Some(net));
                assert!(nat64_ok, "{ip} allowed but lies in must-block {net}");
            }
            // The IPv4 a dual-stack socket or a 6to4 relay would reach, read independently.
            if let IpAddr::V6(v6) = ip {
                let s = v6.segments();
                let carried = match v6.to_ipv4_mapped() {
                    Some(v4) => Some(v4),
                    None if s[0] == 0x2002 => {
                        let [a, b] = s[1].to_be_bytes();
                        let [c, e] = s[2].to_be_bytes();
                        Some(Ipv4Addr::new(a, b, c, e))
                    }
                    None => None,
                };
                if let Some(v4) = carried {
                    assert_eq!(in_must_block(IpAddr::V4(v4)), None, "{ip} carries {v4}");
                }
            }
        }
        Decision::Block(_) => assert!(d.matched.is_some(), "{ip} blocked by no range"),
    }
    let check = p.check_addrs(&[ip, ip]);
    assert_eq!(check.decisions.len(), 2);
    match (&check.outcome, d.decision) {
        (Ok(pinned), Decision::Allow) => {
            assert_eq!(pinned.len(), 1, "{ip} pinned {pinned:?}");
            let want = match ip {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
                IpAddr::V4(_) => ip,
            };
            assert_eq!(pinned[0].ip(), want);
        }
        (Err(problems), Decision::Block(_)) => assert_eq!(problems.len(), 1, "{problems:?}"),
        (outcome, decision) => panic!("{ip}: {decision:?} but check_addrs {outcome:?}"),
    }
    d.decision
}

fuzz_target!(|data: &[u8]| {
    let mut b = [0u8; 16];
    let n = data.len().min(16);
    b[..n].copy_from_slice(&data[..n]);
    let v6 = Ipv6Addr::from(b);
    let v4 = Ipv4Addr::new(b[0], b[1], b[2], b[3]);

    for (p, nat64) in [(policy(), false), (policy_nat64(), true)] {
        check_one(p, IpAddr::V6(v6), nat64);
        let plain = check_one(p, IpAddr::V4(v4), nat64);
        for (form, wrapped) in ipv4_wrappers(v4) {
            let d = check_one(p, IpAddr::V6(wrapped), nat64);
            if plain != Decision::Allow {
                assert_ne!(
                    d,
                    Decision::Allow,
                    "{v4} blocked but {form} {wrapped} allowed"
                );
            }
            if form == "nat64" {
                if nat64 {
                    assert_eq!(
                        d == Decision::Allow,
                        plain == Decision::Allow,
                        "allow_nat64: {wrapped} vs {v4}"
                    );
                } else {
                    assert_ne!(d, Decision::Allow, "{wrapped} allowed without allow_nat64");
                }
            }
        }
        // Mixed answers are refused as a whole.
        let all = [IpAddr::V4(v4), IpAddr::V6(v6)];
        let check = p.check_addrs(&all);
        let allowed = check
            .decisions
            .iter()
            .all(|d| d.decision == Decision::Allow);
        assert_eq!(check.outcome.is_ok(), allowed);
    }
});
