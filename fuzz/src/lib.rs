//! Shared harness for the Portcullis fuzz targets (see `fuzz/fuzz_targets/`).
//!
//! Each target eats one untrusted input and asserts properties, not just "no panic"; the
//! helpers here build the policy once, split validator inputs into URL and body, and
//! compare JSON values the way a round trip through text can change them.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use ipnet::IpNet;
use portcullis::config::DocumentsConfig;
use portcullis::documents::{self, Context, Expect, JsonLimits, UrlRules, Validated, strict_json};
use portcullis::kind::Kind;
use portcullis::policy::{Policy, PolicyOptions};
use portcullis::problem::Problem;
use serde_json::Value;

/// The embedded default policy, as the service enforces it with no rule files.
pub fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| Policy::embedded_default(PolicyOptions::default()))
}

/// The embedded default policy with `allow_nat64` set.
pub fn policy_nat64() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        Policy::embedded_default(PolicyOptions {
            allow_nat64: true,
            ..PolicyOptions::default()
        })
    })
}

/// URL rules for the validator targets: the real embedded policy, exactly what
/// `judge::PolicyUrlRules` hands the validators in the service. The policy itself is
/// fuzzed directly by `url_string` and `ip_address_bytes`.
pub struct PolicyRules;

impl UrlRules for PolicyRules {
    fn url_problems(&self, url: &str) -> Vec<Problem> {
        policy().url_problems(url)
    }
}

/// Every code a document validation may raise: the documents module's and the policy's
/// (URLs inside documents are judged by the policy).
pub fn document_codes() -> &'static HashSet<&'static str> {
    static CODES: OnceLock<HashSet<&'static str>> = OnceLock::new();
    CODES.get_or_init(|| {
        documents::all_codes()
            .map(|c| c.as_str())
            .chain(portcullis::policy::ALL_CODES.iter().map(|c| c.as_str()))
            .collect()
    })
}

/// Ranges the default policy must never allow, whatever the rules file says: the floor of
/// what "hardened egress" means. Written out here independently of `rules/default.toml`.
pub fn must_block() -> &'static [IpNet] {
    static NETS: OnceLock<Vec<IpNet>> = OnceLock::new();
    NETS.get_or_init(|| {
        [
            "0.0.0.0/8",
            "10.0.0.0/8",
            "100.64.0.0/10",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "172.16.0.0/12",
            "192.0.0.0/24",
            "192.0.2.0/24",
            "192.168.0.0/16",
            "198.18.0.0/15",
            "198.51.100.0/24",
            "203.0.113.0/24",
            "224.0.0.0/4",
            "240.0.0.0/4",
            "::/128",
            "::1/128",
            "::/96",
            "::ffff:0:0:0/96",
            "64:ff9b::/96",
            "64:ff9b:1::/48",
            "100::/64",
            "2001::/32",
            "2001:db8::/32",
            "fc00::/7",
            "fe80::/10",
            "fec0::/10",
            "ff00::/8",
            "fd00:ec2::254/128",
        ]
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
    })
}

/// The IPv6 forms that carry `v4`, built here independently of `policy::embedded`:
/// mapped, IPv4-compatible, NAT64 well-known, SIIT translated, 6to4.
pub fn ipv4_wrappers(v4: Ipv4Addr) -> [(&'static str, Ipv6Addr); 5] {
    let o = v4.octets();
    let hi = u16::from_be_bytes([o[0], o[1]]);
    let lo = u16::from_be_bytes([o[2], o[3]]);
    [
        ("mapped", Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, hi, lo)),
        ("compatible", Ipv6Addr::new(0, 0, 0, 0, 0, 0, hi, lo)),
        ("nat64", Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, hi, lo)),
        ("translated", Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, hi, lo)),
        ("6to4", Ipv6Addr::new(0x2002, hi, lo, 0, 0, 0, 0, 1)),
    ]
}

/// True when `ip` lies in a must-block range.
pub fn in_must_block(ip: IpAddr) -> Option<IpNet> {
    must_block().iter().copied().find(|n| n.contains(&ip))
}

/// A validator input: `@URL[\tEXPECT]\n` then the body, or the whole input as the body
/// (then the kind's default URL is used). `EXPECT` fills both `resource` and `issuer`.
pub struct ValidatorInput<'a> {
    /// The URL the document was "fetched" from.
    pub url: &'a str,
    /// Expectations stated by the caller.
    pub expect: Expect,
    /// The document bytes.
    pub body: &'a [u8],
}

impl<'a> ValidatorInput<'a> {
    /// Splits fuzz bytes into URL, expectation and body.
    pub fn split(data: &'a [u8], default_url: &'a str) -> Self {
        let fallback = ValidatorInput {
            url: default_url,
            expect: Expect::default(),
            body: data,
        };
        let Some(rest) = data.strip_prefix(b"@") else {
            return fallback;
        };
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            return fallback;
        };
        let Ok(line) = std::str::from_utf8(&rest[..nl]) else {
            return fallback;
        };
        let (url, expect) = match line.split_once('\t') {
            Some((u, e)) => (
                u,
                Expect {
                    resource: Some(e.to_owned()),
                    issuer: Some(e.to_owned()),
                    profile: None,
                },
            ),
            None => (line, Expect::default()),
        };
        ValidatorInput {
            url,
            expect,
            body: &rest[nl + 1..],
        }
    }
}

/// Equality of JSON values up to float rounding: `serde_json` prints the shortest text and
/// its default parser may land one ulp away, which is not a validator bug.
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x == y {
                return true;
            }
            match (x.as_f64(), y.as_f64()) {
                (Some(p), Some(q)) if x.is_f64() && y.is_f64() => {
                    p == q || (p - q).abs() <= p.abs().max(q.abs()) * 4.0 * f64::EPSILON
                }
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && same_value(v1, v2))
        }
        _ => a == b,
    }
}

/// True when the value holds a float anywhere (problem details may print it).
pub fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(a) => a.iter().any(has_float),
        Value::Object(m) => m.values().any(has_float),
        _ => false,
    }
}

/// Validation outcomes agree: same problem codes, pointers and severities; same details
/// unless floats are involved; same document up to float rounding.
pub fn same_validation(a: &Validated, b: &Validated, floats: bool) -> bool {
    let problems = a.problems.len() == b.problems.len()
        && a.problems.iter().zip(&b.problems).all(|(p, q)| {
            p.code == q.code
                && p.at == q.at
                && p.severity == q.severity
                && (floats || p.detail == q.detail)
        });
    let document = match (&a.document, &b.document) {
        (Some(x), Some(y)) => same_value(x, y),
        (None, None) => true,
        _ => false,
    };
    problems && document
}

/// The document validator properties, shared by the four validator targets:
/// - validity and the presence of a document agree, and every code raised is declared;
/// - the pre-fetch checks are repeated by the validator (its result is complete on its own);
/// - re-serialising the parsed body and validating again gives the same judgement;
/// - a valid document (except JWKS, whose document is a key summary) re-validates as valid
///   and identical after a round trip through text.
pub fn check_validator(kind: Kind, default_url: &str, data: &[u8]) {
    let input = ValidatorInput::split(data, default_url);
    let options = DocumentsConfig::default();
    let ctx = Context::new(&PolicyRules, &options);
    let run = |body: &[u8]| documents::validate(kind, input.url, body, &input.expect, &ctx);

    let v = run(input.body);
    assert_eq!(
        v.is_valid(),
        v.document.is_some(),
        "valid iff document: {v:?}"
    );
    for p in &v.problems {
        assert!(
            document_codes().contains(p.code.as_str()),
            "undeclared code {}",
            p.code
        );
    }

    let Ok(map) = strict_json::read_object(input.body, &JsonLimits::default()) else {
        assert!(!v.is_valid(), "unparsable body judged valid");
        assert_eq!(v.problems.len(), 1, "a parse failure is one problem");
        return;
    };
    for p in documents::precheck_url(kind, input.url, &ctx) {
        if p.is_error() {
            assert!(
                v.problems.contains(&p),
                "precheck problem {p:?} not repeated by validate: {:?}",
                v.problems
            );
        }
    }
    let parsed = Value::Object(map);
    let floats = has_float(&parsed);
    let text = serde_json::to_vec(&parsed).unwrap_or_default();
    let again = run(&text);
    assert!(
        same_validation(&v, &again, floats),
        "round trip changed the judgement:\n{v:?}\n{again:?}\nbody {}",
        String::from_utf8_lossy(&text)
    );

    if kind != Kind::Jwks
        && let Some(doc) = &v.document
    {
        let text = serde_json::to_vec(doc).unwrap_or_default();
        let re = run(&text);
        assert!(re.is_valid(), "valid document re-validates invalid: {re:?}");
        assert!(
            same_validation(&v, &re, floats),
            "valid document changed on re-validation:\n{v:?}\n{re:?}"
        );
    }
}
