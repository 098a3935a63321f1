//! URL rules end to end through the public API: every spelling of a blocked host, every
//! refused URL shape, and the codes they produce. Pure: nothing here touches the network.

use portcullis::policy::{
    FRAGMENT_NOT_ALLOWED, HOST_BLOCKED, INVALID_URL, LOOPBACK, PORT_NOT_ALLOWED, Policy,
    PolicyOptions, RulesFile, SCHEME_NOT_ALLOWED, TargetHost, URL_TOO_LONG, USERINFO_NOT_ALLOWED,
};
use portcullis::problem::Code;
use std::net::IpAddr;

fn policy() -> Policy {
    Policy::embedded_default(PolicyOptions::default())
}

fn codes(p: &Policy, raw: &str) -> Vec<Code> {
    match p.check_url(raw) {
        Ok(u) => panic!("{raw} was allowed as {}", u.as_str()),
        Err(problems) => {
            assert!(!problems.is_empty());
            problems.into_iter().map(|p| p.code).collect()
        }
    }
}

fn has(p: &Policy, raw: &str, code: Code) {
    let got = codes(p, raw);
    assert!(got.contains(&code), "{raw}: expected {code}, got {got:?}");
}

#[test]
fn every_spelling_of_loopback_is_loopback() {
    let p = policy();
    for raw in [
        "https://127.0.0.1/",
        "https://127.1/",
        "https://0x7f.1/",
        "https://0x7f000001/",
        "https://0177.0.0.1/",
        "https://2130706433/",
        "https://①②⑦.⓪.⓪.①/",
        "https://127。0。0。1/",
        "https://１２７.０.０.１/",
        "https://%31%32%37.0.0.1/",
        "https://127.0.0.1./",
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:7f00:1]/",
        "https://[0:0:0:0:0:ffff:127.0.0.1]/",
        "https://[64:ff9b::127.0.0.1]/",
        "https://[2002:7f00:1::]/",
    ] {
        assert_eq!(codes(&p, raw), vec![LOOPBACK], "{raw}");
    }
}

#[test]
fn metadata_spellings() {
    let p = policy();
    for raw in [
        "https://169.254.169.254/latest/meta-data/",
        "https://0xa9fea9fe/",
        "https://2852039166/",
        "https://[::ffff:169.254.169.254]/",
        "https://[fd00:ec2::254]/",
    ] {
        assert_eq!(
            codes(&p, raw),
            vec![portcullis::policy::CLOUD_METADATA],
            "{raw}"
        );
    }
    for raw in [
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://metadata/",
        "https://instance-data/",
        "https://instance-data.ec2.internal/",
    ] {
        assert_eq!(codes(&p, raw), vec![HOST_BLOCKED], "{raw}");
    }
}

#[test]
fn blocked_names_including_trailing_dots_and_case() {
    let p = policy();
    for raw in [
        "https://localhost/",
        "https://localhost./",
        "https://LOCALHOST/",
        "https://ＬＯＣＡＬＨＯＳＴ/",
        "https://a.localhost/",
        "https://printer.local/",
        "https://svc.internal./",
        "https://router.home.arpa/",
        "https://intranet/",
        "https://intranet./",
        "https://localhost../",
        "https://x.onion/",
        "https://api.default.svc/",
        "https://api.default.svc.cluster.local/",
    ] {
        assert_eq!(codes(&p, raw), vec![HOST_BLOCKED], "{raw}");
    }
}

#[test]
fn public_names_and_addresses_pass() {
    let p = policy();
    let u = p
        .check_url("HTTPS://Auth.Example.COM./.well-known/openid-configuration?x=1")
        .unwrap();
    assert_eq!(u.host(), &TargetHost::Domain("auth.example.com".into()));
    assert_eq!(u.port(), 443);
    assert_eq!(u.url().scheme(), "https");
    assert!(p.url_problems(u.as_str()).is_empty());

    let u = p.check_url("https://8.8.8.8/jwks.json").unwrap();
    match u.host() {
        TargetHost::Ip(pin) => assert_eq!(pin.ip(), "8.8.8.8".parse::<IpAddr>().unwrap()),
        other => panic!("{other:?}"),
    }
    let u = p.check_url("https://[::ffff:8.8.8.8]/").unwrap();
    match u.host() {
        TargetHost::Ip(pin) => assert_eq!(pin.ip(), "8.8.8.8".parse::<IpAddr>().unwrap()),
        other => panic!("{other:?}"),
    }
    let u = p.check_url("https://bücher.example/").unwrap();
    assert_eq!(
        u.host(),
        &TargetHost::Domain("xn--bcher-kva.example".into())
    );
}

#[test]
fn userinfo_is_refused() {
    let p = policy();
    for raw in [
        "https://a@b.example/",
        "https://a:b@b.example/",
        "https://:@b.example/",
        "https://@b.example/",
        "https://good.example@evil.example/",
    ] {
        has(&p, raw, USERINFO_NOT_ALLOWED);
    }
}

#[test]
fn fragments_are_refused_even_empty() {
    let p = policy();
    assert_eq!(
        codes(&p, "https://good.example/#"),
        vec![FRAGMENT_NOT_ALLOWED]
    );
    assert_eq!(
        codes(&p, "https://good.example/#x"),
        vec![FRAGMENT_NOT_ALLOWED]
    );
    assert_eq!(
        codes(&p, "https://good.example#@evil/"),
        vec![FRAGMENT_NOT_ALLOWED]
    );
}

#[test]
fn parser_confusion_is_invalid() {
    let p = policy();
    for raw in [
        "https://evil.example\\@good.example/",
        "https:\\\\evil.example/",
        "https://good.example\\.evil.example/",
        "https:evil.example/",
        "https:/evil.example/",
        "https:///evil.example/",
        " https://good.example/",
        "https://good.example/ ",
        "https://good.exa\tmple/",
        "https://good.exa\nmple/",
        "https://good.example:65536/",
        "https://good.example:99999999999/",
        "https://exa mple.com/",
        "https://[::1/",
        "https://",
        "not a url",
        "",
        "//good.example/",
    ] {
        assert_eq!(codes(&p, raw), vec![INVALID_URL], "{raw:?}");
    }
}

#[test]
fn schemes_and_ports() {
    let p = policy();
    assert_eq!(
        codes(&p, "http://good.example/"),
        vec![SCHEME_NOT_ALLOWED, PORT_NOT_ALLOWED]
    );
    has(&p, "ftp://good.example/", SCHEME_NOT_ALLOWED);
    has(&p, "file:///etc/passwd", INVALID_URL);
    has(&p, "gopher://good.example/", SCHEME_NOT_ALLOWED);
    assert!(p.check_url("https://good.example:443/").is_ok());
    assert_eq!(
        p.check_url("https://good.example:443/").unwrap().port(),
        443
    );
    assert_eq!(
        codes(&p, "https://good.example:8443/"),
        vec![PORT_NOT_ALLOWED]
    );
    assert_eq!(
        codes(&p, "https://good.example:80/"),
        vec![PORT_NOT_ALLOWED]
    );

    let layered = Policy::new(
        vec![
            RulesFile::embedded_default(),
            RulesFile::parse("ports = [8443]\nschemes = [\"https\", \"http\"]\n", "t").unwrap(),
        ],
        PolicyOptions::default(),
    )
    .unwrap();
    assert_eq!(
        layered
            .check_url("https://good.example:8443/")
            .unwrap()
            .port(),
        8443
    );
    assert_eq!(
        codes(&layered, "https://good.example/"),
        vec![PORT_NOT_ALLOWED]
    );
    assert_eq!(
        codes(&layered, "http://good.example/"),
        vec![PORT_NOT_ALLOWED]
    );
    assert!(layered.check_url("http://good.example:8443/").is_ok());
}

#[test]
fn several_problems_are_all_reported() {
    let p = policy();
    assert_eq!(
        codes(&p, "http://user@localhost:8080/#frag"),
        vec![
            SCHEME_NOT_ALLOWED,
            USERINFO_NOT_ALLOWED,
            FRAGMENT_NOT_ALLOWED,
            PORT_NOT_ALLOWED,
            HOST_BLOCKED
        ]
    );
}

#[test]
fn long_urls() {
    let p = policy();
    let max = PolicyOptions::default().max_url_bytes;
    let prefix = "https://good.example/";
    let ok = format!("{prefix}{}", "a".repeat(max - prefix.len()));
    assert!(p.check_url(&ok).is_ok());
    let long = format!("{ok}a");
    assert_eq!(codes(&p, &long), vec![URL_TOO_LONG]);
    // Checked before parsing: even garbage that long is reported as too long.
    assert_eq!(codes(&p, &"\\".repeat(max + 1)), vec![URL_TOO_LONG]);
    let small = Policy::embedded_default(PolicyOptions {
        max_url_bytes: 10,
        ..PolicyOptions::default()
    });
    assert_eq!(codes(&small, "https://good.example/"), vec![URL_TOO_LONG]);
}

#[test]
fn test_origin_setup_allows_one_loopback_address() {
    // The service's integration tests run origins on 127.0.0.2 with this layer.
    let layer = RulesFile::parse(
        "ports = [443, 8443]\n[[ranges]]\ncidr = \"127.0.0.2/32\"\naction = \"allow\"\n",
        "test rules",
    )
    .unwrap();
    let p = Policy::new(
        vec![RulesFile::embedded_default(), layer],
        PolicyOptions::default(),
    )
    .unwrap()
    .with_self_addresses(["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()]);
    assert!(p.check_url("https://127.0.0.2:8443/metadata.json").is_ok());
    assert_eq!(codes(&p, "https://127.0.0.1:8443/"), vec![LOOPBACK]);
    assert!(
        p.check_addrs(&["127.0.0.2".parse().unwrap()])
            .outcome
            .is_ok()
    );
    assert!(
        p.check_addrs(&["127.0.0.1".parse().unwrap()])
            .outcome
            .is_err()
    );
}

#[test]
fn allow_list_restricts_names() {
    let layer = RulesFile::parse(
        "[hosts]\nallow = [\"*.example.com\", \"example.com\"]\n",
        "t",
    )
    .unwrap();
    let p = Policy::new(
        vec![RulesFile::embedded_default(), layer],
        PolicyOptions::default(),
    )
    .unwrap();
    assert!(p.check_url("https://example.com/").is_ok());
    assert!(p.check_url("https://auth.example.com/").is_ok());
    assert_eq!(codes(&p, "https://example.org/"), vec![HOST_BLOCKED]);
    assert_eq!(codes(&p, "https://evilexample.com/"), vec![HOST_BLOCKED]);
}

#[test]
fn every_code_is_documented() {
    let doc = include_str!("../../docs/problems.md");
    for code in portcullis::policy::ALL_CODES {
        let row = format!("| `{}` | blocked |", code.as_str());
        assert!(doc.contains(&row), "{code} missing from docs/problems.md");
    }
    // The reverse direction (no documented code that does not exist) is in tests/problem_codes.rs.
}
