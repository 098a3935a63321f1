//! Shared test helpers: a fake egress policy and short validation calls.
#![allow(dead_code)]

use portcullis::config::DocumentsConfig;
use portcullis::documents::{Context, Expect, UrlRules, Validated, validate};
use portcullis::kind::{Kind, Profile};
use portcullis::problem::{Code, Problem, Severity};
use url::{Host, Url};

/// Code raised by the fake policy.
pub const FAKE_BLOCKED: Code = Code::new("fake_blocked");

/// Stand-in for the egress policy: rejects non-https, `localhost` and a few private ranges.
pub struct FakeRules;

impl UrlRules for FakeRules {
    fn url_problems(&self, url: &str) -> Vec<Problem> {
        let Ok(u) = Url::parse(url) else {
            return vec![Problem::error(FAKE_BLOCKED, "unparsable")];
        };
        let blocked = u.scheme() != "https"
            || match u.host() {
                Some(Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
                Some(Host::Ipv4(ip)) => ip.is_private() || ip.is_loopback() || ip.is_link_local(),
                Some(Host::Ipv6(ip)) => ip.is_loopback() || ip.segments()[0] & 0xfe00 == 0xfc00,
                None => true,
            };
        if blocked {
            vec![Problem::error(FAKE_BLOCKED, format!("{url} is blocked"))]
        } else {
            Vec::new()
        }
    }
}

pub fn run(
    kind: Kind,
    url: &str,
    body: &[u8],
    expect: &Expect,
    options: &DocumentsConfig,
) -> Validated {
    let ctx = Context::new(&FakeRules, options);
    validate(kind, url, body, expect, &ctx)
}

pub fn check(kind: Kind, url: &str, body: &str) -> Validated {
    run(
        kind,
        url,
        body.as_bytes(),
        &Expect::default(),
        &DocumentsConfig::default(),
    )
}

/// Validates under an explicit profile (the request's `"profile"`).
pub fn check_profile(kind: Kind, url: &str, body: &str, profile: Profile) -> Validated {
    run(
        kind,
        url,
        body.as_bytes(),
        &Expect {
            profile: Some(profile),
            ..Expect::default()
        },
        &DocumentsConfig::default(),
    )
}

/// The profile tag of every problem with this code (to check who raised it).
pub fn profiles_of(v: &Validated, code: &str) -> Vec<Option<Profile>> {
    v.problems
        .iter()
        .filter(|p| p.code.as_str() == code)
        .map(|p| p.profile)
        .collect()
}

pub fn errors(v: &Validated) -> Vec<&'static str> {
    v.problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| p.code.as_str())
        .collect()
}

pub fn warnings(v: &Validated) -> Vec<&'static str> {
    v.problems
        .iter()
        .filter(|p| p.severity == Severity::Warning)
        .map(|p| p.code.as_str())
        .collect()
}

pub fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/real-world/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).unwrap()
}

/// Sets (or, for `null`, removes) top-level members of a JSON object text.
pub fn patch(base: &str, patch: &str) -> String {
    let mut doc: serde_json::Map<String, serde_json::Value> = serde_json::from_str(base).unwrap();
    let patch: serde_json::Map<String, serde_json::Value> = serde_json::from_str(patch).unwrap();
    for (k, v) in patch {
        if v.is_null() {
            doc.remove(&k);
        } else {
            doc.insert(k, v);
        }
    }
    serde_json::to_string(&doc).unwrap()
}

/// Asserts the outcome: `expect_error` is `None` for valid (then `warning` must be among the
/// warnings, if given) or `Some(code)` for an error with that code.
#[track_caller]
pub fn assert_outcome(v: &Validated, case: &str, error: Option<&str>, warning: Option<&str>) {
    match error {
        None => {
            assert!(
                v.is_valid(),
                "{case}: expected valid, got {:#?}",
                v.problems
            );
            assert!(v.document.is_some(), "{case}: valid without document");
        }
        Some(code) => {
            assert!(
                errors(v).contains(&code),
                "{case}: expected error {code}, got {:#?}",
                v.problems
            );
            assert!(v.document.is_none(), "{case}: document despite error");
        }
    }
    if let Some(w) = warning {
        assert!(
            warnings(v).contains(&w),
            "{case}: expected warning {w}, got {:#?}",
            v.problems
        );
    }
}
