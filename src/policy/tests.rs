//! Unit tests of `Policy`: classification order, layering, self addresses, answer checks.

use super::embedded::EmbeddedForm;
use super::*;
use std::net::Ipv4Addr;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn default_policy() -> Policy {
    Policy::embedded_default(PolicyOptions::default())
}

fn layered(extra: &str, options: PolicyOptions) -> Policy {
    let layers = vec![
        RulesFile::embedded_default(),
        RulesFile::parse(extra, "test layer").unwrap(),
    ];
    Policy::new(layers, options).unwrap()
}

fn decision(p: &Policy, s: &str) -> Decision {
    p.classify(ip(s)).decision
}

#[test]
fn well_known_addresses() {
    let p = default_policy();
    let cases = [
        ("127.0.0.1", Decision::Block(Reason::Loopback)),
        ("10.1.2.3", Decision::Block(Reason::PrivateUse)),
        ("172.31.255.255", Decision::Block(Reason::PrivateUse)),
        ("192.168.1.1", Decision::Block(Reason::PrivateUse)),
        ("100.64.0.1", Decision::Block(Reason::SharedAddressSpace)),
        ("0.0.0.0", Decision::Block(Reason::Unspecified)),
        ("0.1.2.3", Decision::Block(Reason::ThisNetwork)),
        ("169.254.1.1", Decision::Block(Reason::LinkLocal)),
        ("169.254.169.254", Decision::Block(Reason::CloudMetadata)),
        ("169.254.170.2", Decision::Block(Reason::CloudMetadata)),
        ("100.100.100.200", Decision::Block(Reason::CloudMetadata)),
        ("192.0.0.192", Decision::Block(Reason::CloudMetadata)),
        ("168.63.129.16", Decision::Block(Reason::CloudMetadata)),
        ("168.63.129.17", Decision::Allow),
        ("192.0.0.9", Decision::Block(Reason::IetfProtocolAssignment)),
        ("192.88.99.1", Decision::Block(Reason::SixToFourRelay)),
        ("198.19.0.1", Decision::Block(Reason::Benchmarking)),
        ("224.0.0.1", Decision::Block(Reason::Multicast)),
        ("240.0.0.1", Decision::Block(Reason::Reserved)),
        ("255.255.255.255", Decision::Block(Reason::Broadcast)),
        ("8.8.8.8", Decision::Allow),
        ("192.31.196.1", Decision::Allow),
        ("::", Decision::Block(Reason::Unspecified)),
        ("::1", Decision::Block(Reason::Loopback)),
        ("fe80::1", Decision::Block(Reason::LinkLocal)),
        ("fec0::1", Decision::Block(Reason::SiteLocal)),
        ("fd12::1", Decision::Block(Reason::UniqueLocal)),
        ("fd00:ec2::254", Decision::Block(Reason::CloudMetadata)),
        ("fd20:ce::254", Decision::Block(Reason::CloudMetadata)),
        ("ff02::1", Decision::Block(Reason::Multicast)),
        ("2001::1", Decision::Block(Reason::Teredo)),
        ("2001:1::1", Decision::Block(Reason::IetfProtocolAssignment)),
        ("2001:2::1", Decision::Block(Reason::Benchmarking)),
        ("2001:db8::1", Decision::Block(Reason::Documentation)),
        ("3fff::1", Decision::Block(Reason::Documentation)),
        ("5f00::1", Decision::Block(Reason::SegmentRouting)),
        ("100::1", Decision::Block(Reason::DiscardOnly)),
        ("100:0:0:1::1", Decision::Block(Reason::DummyPrefix)),
        ("4000::1", Decision::Block(Reason::Reserved)),
        ("2606:4700:4700::1111", Decision::Allow),
        ("2620:4f:8000::1", Decision::Allow),
    ];
    for (a, want) in cases {
        assert_eq!(decision(&p, a), want, "{a}");
    }
}

#[test]
fn embedded_forms_follow_the_ipv4() {
    let p = default_policy();
    let nat = layered(
        "",
        PolicyOptions {
            allow_nat64: true,
            ..PolicyOptions::default()
        },
    );
    let blocked = [
        (Ipv4Addr::new(127, 0, 0, 1), Reason::Loopback),
        (Ipv4Addr::new(10, 0, 0, 1), Reason::PrivateUse),
        (Ipv4Addr::new(169, 254, 169, 254), Reason::CloudMetadata),
        (Ipv4Addr::new(0, 0, 0, 0), Reason::Unspecified),
    ];
    for &form in EmbeddedForm::ALL {
        for (v4, reason) in blocked {
            let v6 = IpAddr::V6(form.wrap(v4));
            for pol in [&p, &nat] {
                assert_eq!(
                    pol.classify(v6).decision,
                    Decision::Block(reason),
                    "{form:?} {v6}"
                );
            }
        }
        let public = IpAddr::V6(form.wrap(Ipv4Addr::new(8, 8, 8, 8)));
        let (plain, with_nat) = match form {
            EmbeddedForm::Mapped | EmbeddedForm::SixToFour => (Decision::Allow, Decision::Allow),
            EmbeddedForm::Nat64 | EmbeddedForm::Nat64LocalUse => {
                (Decision::Block(Reason::Nat64), Decision::Allow)
            }
            EmbeddedForm::Compatible => (
                Decision::Block(Reason::Ipv4Compatible),
                Decision::Block(Reason::Ipv4Compatible),
            ),
            EmbeddedForm::Translated => (
                Decision::Block(Reason::Ipv4Translated),
                Decision::Block(Reason::Ipv4Translated),
            ),
        };
        assert_eq!(p.classify(public).decision, plain, "{form:?} {public}");
        assert_eq!(
            nat.classify(public).decision,
            with_nat,
            "{form:?} {public} nat64"
        );
    }
}

#[test]
fn embedded_block_reports_the_ipv4_range() {
    let p = default_policy();
    let d = p.classify(ip("::ffff:10.0.0.1"));
    assert_eq!(d.matched, Some("10.0.0.0/8".parse().unwrap()));
    let text = p.describe(&d);
    assert!(
        text.contains("10.0.0.1") && text.contains("10.0.0.0/8"),
        "{text}"
    );
}

#[test]
fn operator_allow_inside_private_range() {
    let p = layered(
        "[[ranges]]\ncidr = \"10.20.30.40/32\"\naction = \"allow\"\n",
        PolicyOptions::default(),
    );
    assert_eq!(decision(&p, "10.20.30.40"), Decision::Allow);
    assert_eq!(
        decision(&p, "10.20.30.41"),
        Decision::Block(Reason::PrivateUse)
    );
    assert_eq!(decision(&p, "::ffff:10.20.30.40"), Decision::Allow);
}

#[test]
fn allow_cannot_lift_the_floor() {
    let p = layered(
        "[[ranges]]\ncidr = \"169.254.169.254/32\"\naction = \"allow\"\n\
         [[ranges]]\ncidr = \"0.0.0.0/0\"\naction = \"allow\"\n\
         [[ranges]]\ncidr = \"::/0\"\naction = \"allow\"\n\
         [[ranges]]\ncidr = \"::/128\"\naction = \"allow\"\n\
         [[ranges]]\ncidr = \"fd00:ec2::254/128\"\naction = \"allow\"\n",
        PolicyOptions::default(),
    );
    assert_eq!(
        decision(&p, "169.254.169.254"),
        Decision::Block(Reason::CloudMetadata)
    );
    assert_eq!(
        decision(&p, "::ffff:169.254.169.254"),
        Decision::Block(Reason::CloudMetadata)
    );
    assert_eq!(
        decision(&p, "0.0.0.0"),
        Decision::Block(Reason::Unspecified)
    );
    assert_eq!(decision(&p, "::"), Decision::Block(Reason::Unspecified));
    assert_eq!(
        decision(&p, "fd00:ec2::254"),
        Decision::Block(Reason::CloudMetadata)
    );
    assert_eq!(
        decision(&p, "168.63.129.16"),
        Decision::Block(Reason::CloudMetadata)
    );
    // 0.0.0.0/0 at the same prefix as nothing else: the /8s of the default file still win
    // because they are more specific.
    assert_eq!(
        decision(&p, "10.0.0.1"),
        Decision::Block(Reason::PrivateUse)
    );
}

#[test]
fn operator_cloud_metadata_rule_joins_the_floor() {
    let p = layered(
        "[[ranges]]\ncidr = \"203.0.113.80/32\"\naction = \"block\"\nreason = \"cloud_metadata\"\n\
         [[ranges]]\ncidr = \"198.51.100.0/24\"\naction = \"allow\"\n",
        PolicyOptions::default(),
    );
    assert_eq!(
        decision(&p, "203.0.113.80"),
        Decision::Block(Reason::CloudMetadata)
    );
    let q = Policy::new(
        vec![
            RulesFile::embedded_default(),
            RulesFile::parse(
                "[[ranges]]\ncidr = \"203.0.113.80/32\"\naction = \"block\"\nreason = \"cloud_metadata\"\n",
                "a",
            )
            .unwrap(),
            RulesFile::parse("[[ranges]]\ncidr = \"203.0.113.80/32\"\naction = \"allow\"\n", "b")
                .unwrap(),
        ],
        PolicyOptions::default(),
    )
    .unwrap();
    assert_eq!(
        decision(&q, "203.0.113.80"),
        Decision::Block(Reason::CloudMetadata)
    );
}

#[test]
fn later_layer_block_beats_default_allow_at_equal_prefix() {
    let p = layered(
        "[[ranges]]\ncidr = \"192.31.196.0/24\"\naction = \"block\"\n\
         [[ranges]]\ncidr = \"8.8.8.0/24\"\naction = \"block\"\nreason = \"operator_rule\"\n",
        PolicyOptions::default(),
    );
    assert_eq!(
        decision(&p, "192.31.196.1"),
        Decision::Block(Reason::OperatorRule)
    );
    assert_eq!(
        decision(&p, "8.8.8.8"),
        Decision::Block(Reason::OperatorRule)
    );
    assert_eq!(decision(&p, "8.8.4.4"), Decision::Allow);
}

#[test]
fn self_addresses() {
    let test_layer = "[[ranges]]\ncidr = \"127.0.0.2/32\"\naction = \"allow\"\n\
                      [[ranges]]\ncidr = \"127.0.0.0/24\"\naction = \"allow\"\n";
    let p = layered(test_layer, PolicyOptions::default()).with_self_addresses([
        ip("127.0.0.1"),
        ip("127.0.0.2"),
        ip("127.0.0.3"),
        ip("203.0.113.99"),
        ip("2606:4700::99"),
    ]);
    // Exact host route allow wins over self.
    assert_eq!(decision(&p, "127.0.0.2"), Decision::Allow);
    // Allowed by a wider allow rule only: still self.
    assert_eq!(
        decision(&p, "127.0.0.3"),
        Decision::Block(Reason::SelfAddress)
    );
    assert_eq!(
        decision(&p, "127.0.0.1"),
        Decision::Block(Reason::SelfAddress)
    );
    // Not self, allowed by the /24.
    assert_eq!(decision(&p, "127.0.0.4"), Decision::Allow);
    // A blocked range keeps its own reason.
    assert_eq!(
        decision(&p, "203.0.113.99"),
        Decision::Block(Reason::Documentation)
    );
    assert_eq!(
        decision(&p, "2606:4700::99"),
        Decision::Block(Reason::SelfAddress)
    );
    assert_eq!(
        decision(&p, "::ffff:127.0.0.1"),
        Decision::Block(Reason::SelfAddress)
    );
    assert_eq!(decision(&p, "2606:4700::98"), Decision::Allow);

    // Default policy plus the usual loopback self address: loopback wins (a block decides).
    let d = default_policy().with_self_addresses([ip("127.0.0.1")]);
    assert_eq!(decision(&d, "127.0.0.1"), Decision::Block(Reason::Loopback));
}

#[test]
fn check_addrs_all_allowed_pins_in_order_without_duplicates() {
    let p = default_policy();
    let c = p.check_addrs(&[
        ip("8.8.8.8"),
        ip("2606:4700::1"),
        ip("8.8.8.8"),
        ip("::ffff:1.1.1.1"),
    ]);
    assert_eq!(c.decisions.len(), 4);
    let pinned: Vec<IpAddr> = c.outcome.unwrap().into_iter().map(PinnedAddr::ip).collect();
    assert_eq!(
        pinned,
        vec![ip("8.8.8.8"), ip("2606:4700::1"), ip("1.1.1.1")]
    );
}

#[test]
fn check_addrs_mixed_is_refused() {
    let p = default_policy();
    let c = p.check_addrs(&[ip("8.8.8.8"), ip("10.0.0.1"), ip("::1")]);
    let problems = c.outcome.unwrap_err();
    let codes: Vec<&str> = problems.iter().map(|p| p.code.as_str()).collect();
    assert_eq!(codes, vec!["private_use", "loopback", "mixed_resolution"]);
    assert!(problems[0].detail.contains("10.0.0.1") && problems[0].detail.contains("10.0.0.0/8"));
    assert!(problems.iter().all(Problem::is_error));
    assert_eq!(c.decisions[0].decision, Decision::Allow);
}

#[test]
fn check_addrs_all_blocked_has_no_mixed_problem() {
    let p = default_policy();
    let c = p.check_addrs(&[ip("10.0.0.1"), ip("10.0.0.1"), ip("169.254.169.254")]);
    let codes: Vec<&str> = c
        .outcome
        .unwrap_err()
        .iter()
        .map(|p| p.code.as_str())
        .collect();
    assert_eq!(codes, vec!["private_use", "cloud_metadata"]);
}

#[test]
fn check_addrs_empty() {
    let c = default_policy().check_addrs(&[]);
    assert!(c.decisions.is_empty());
    let problems = c.outcome.unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].code, NO_ADDRESSES);
}

#[test]
fn ports_and_schemes_layering() {
    let p = layered(
        "ports = [8443]\nschemes = [\"https\", \"http\"]\n",
        PolicyOptions::default(),
    );
    assert_eq!(p.ports(), &[8443]);
    assert_eq!(p.schemes(), &["https".to_string(), "http".to_string()]);
    let d = default_policy();
    assert_eq!(d.ports(), &[443]);
    assert_eq!(d.schemes(), &["https".to_string()]);
    let bare = Policy::new(vec![], PolicyOptions::default()).unwrap();
    assert_eq!(bare.ports(), DEFAULT_PORTS);
    assert_eq!(
        decision(&bare, "169.254.169.254"),
        Decision::Block(Reason::CloudMetadata)
    );
    assert_eq!(
        decision(&bare, "10.0.0.1"),
        Decision::Allow,
        "no layers: only the floor"
    );
}

#[test]
fn floor_addresses_are_in_the_default_file_with_the_same_reason() {
    let f = RulesFile::embedded_default();
    for (addr, reason) in ranges::FLOOR {
        let net = IpNet::from(*addr);
        assert!(
            f.ranges()
                .iter()
                .any(|r| r.net == net && r.reason == Some(*reason) && r.action == Action::Block),
            "{addr} missing from rules/default.toml"
        );
    }
}

#[test]
fn check_host_cases() {
    let p = default_policy();
    assert!(p.check_host("auth.example.com").is_ok());
    assert!(p.check_host("8.8.8.8").is_ok());
    assert!(p.check_host("[2606:4700::1]").is_ok());
    assert!(p.check_host("2606:4700::1").is_ok());
    let code = |h: &str| p.check_host(h).unwrap_err()[0].code;
    assert_eq!(code("localhost"), HOST_BLOCKED);
    assert_eq!(code("LocalHost."), HOST_BLOCKED);
    assert_eq!(code("metadata.google.internal"), HOST_BLOCKED);
    assert_eq!(code("127.1"), LOOPBACK);
    assert_eq!(code("0x7f.1"), LOOPBACK);
    assert_eq!(code("::1"), LOOPBACK);
    assert_eq!(code("[::ffff:a9fe:a9fe]"), CLOUD_METADATA);
    assert_eq!(code("a b"), HOST_BLOCKED);
}

#[test]
fn report_only_lifts_range_blocks_but_never_the_floor_or_self() {
    let p = default_policy().with_self_addresses([ip("203.0.113.5")]);
    assert_eq!(
        p.pin_report_only(ip("10.0.0.1")).map(PinnedAddr::ip),
        Some(ip("10.0.0.1"))
    );
    assert!(p.pin_report_only(ip("169.254.169.254")).is_none());
    assert!(p.pin_report_only(ip("0.0.0.0")).is_none());
    assert!(p.pin_report_only(ip("::")).is_none());
    assert!(p.pin_report_only(ip("::ffff:169.254.169.254")).is_none());
    assert!(p.pin_report_only(ip("fd00:ec2::254")).is_none());
    assert!(p.pin_report_only(ip("203.0.113.5")).is_none());
}

#[test]
fn embedded_rules_compile_into_the_default_policy() {
    let layers = vec![RulesFile::embedded().expect("the embedded rules parse")];
    assert!(Policy::new(layers, PolicyOptions::default()).is_ok());
    assert!(!decision(&default_policy(), "10.0.0.1").is_allow());
    assert!(decision(&default_policy(), "93.184.216.34").is_allow());
}

#[test]
fn policy_fallback_blocks_everything_not_only_the_floor() {
    let p = Policy::block_everything("test: rules failed", PolicyOptions::default());
    for s in [
        "93.184.216.34",
        "8.8.8.8",
        "10.0.0.1",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.169.254",
        "2606:4700::1111",
        "fd00::1",
        "::1",
    ] {
        assert!(!decision(&p, s).is_allow(), "{s} must be blocked");
    }
}
