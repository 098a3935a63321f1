//! Parsing of one rules file (`rules/default.toml` or an operator's layer).
//!
//! Every struct uses `deny_unknown_fields` and reasons are a closed enum, so a typo is a load
//! error at start-up, never a silently ignored rule.

use ipnet::IpNet;
use serde::Deserialize;
use std::net::IpAddr;

use super::reason::Reason;

/// The embedded default rules, compiled into the binary so the service is safe with no files.
const DEFAULT_RULES: &str = include_str!("../../rules/default.toml");

/// Schemes a rules file may name; the fetcher speaks nothing else.
pub const KNOWN_SCHEMES: &[&str] = &["https", "http"];

/// Why a rules file could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    /// Syntax error, unknown key, unknown reason, bad CIDR or an out-of-range value.
    #[error("rules file {origin} is not valid: {why}")]
    Invalid {
        /// Where the text came from (a path, or `embedded default`).
        origin: String,
        /// What is wrong, with the TOML location when known.
        why: String,
    },
}

/// What a range rule does to the addresses it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Addresses in the range may be connected to (unless the floor or a more specific block
    /// says otherwise).
    Allow,
    /// Addresses in the range are refused with the rule's reason.
    Block,
}

/// One `[[ranges]]` entry after parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeRule {
    /// The range, with no host bits set.
    pub net: IpNet,
    /// Allow or block.
    pub action: Action,
    /// Why it is blocked; `None` in the file means `operator_rule` for a block.
    pub reason: Option<Reason>,
    /// Where the range comes from (RFC, registry, provider), for `explain` and audits.
    pub source: Option<String>,
    /// Free text for humans.
    pub note: Option<String>,
}

impl RangeRule {
    /// The reason reported when this rule blocks.
    pub fn block_reason(&self) -> Reason {
        self.reason.unwrap_or(Reason::OperatorRule)
    }
}

/// The `[hosts]` table after parsing; patterns are lower-case without a trailing dot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostRulesFile {
    /// Names refused: `name` matches exactly, `*.suffix` matches every name below `suffix`.
    pub block: Vec<String>,
    /// When any layer lists names here, only matching names are allowed (same syntax).
    pub allow: Vec<String>,
    /// Refuse names with a single label (`intranet`, `metadata`); `None` keeps the earlier
    /// layer's setting.
    pub block_single_label: Option<bool>,
}

/// One parsed rules file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RulesFile {
    origin: String,
    ranges: Vec<RangeRule>,
    hosts: HostRulesFile,
    ports: Option<Vec<u16>>,
    schemes: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    schemes: Option<Vec<String>>,
    ports: Option<Vec<u16>>,
    #[serde(default)]
    hosts: Option<RawHosts>,
    #[serde(default)]
    ranges: Vec<RawRange>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHosts {
    #[serde(default)]
    block: Vec<String>,
    #[serde(default)]
    allow: Vec<String>,
    block_single_label: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRange {
    cidr: toml::Spanned<String>,
    action: Action,
    reason: Option<Reason>,
    source: Option<String>,
    note: Option<String>,
}

impl RulesFile {
    /// Parses and checks one rules file; `origin` only labels errors.
    pub fn parse(text: &str, origin: &str) -> Result<RulesFile, RulesError> {
        let bad = |why: String| RulesError::Invalid {
            origin: origin.to_string(),
            why,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;

        let mut ranges = Vec::with_capacity(raw.ranges.len());
        for (i, r) in raw.ranges.into_iter().enumerate() {
            let line = line_of(text, r.cidr.span().start);
            let net = parse_cidr(r.cidr.get_ref())
                .map_err(|why| bad(format!("line {line}: ranges[{i}]: {why}")))?;
            if r.action == Action::Allow && r.reason.is_some() {
                return Err(bad(format!(
                    "line {line}: ranges[{i}] ({net}): an allow rule takes no reason; use note"
                )));
            }
            ranges.push(RangeRule {
                net,
                action: r.action,
                reason: r.reason,
                source: r.source,
                note: r.note,
            });
        }

        let hosts = match raw.hosts {
            None => HostRulesFile::default(),
            Some(h) => HostRulesFile {
                block: normalize_patterns(h.block, "hosts.block").map_err(bad)?,
                allow: normalize_patterns(h.allow, "hosts.allow").map_err(bad)?,
                block_single_label: h.block_single_label,
            },
        };

        if let Some(ports) = &raw.ports {
            if ports.is_empty() {
                return Err(bad("ports must not be empty".into()));
            }
            if ports.contains(&0) {
                return Err(bad("port 0 is not a port".into()));
            }
        }
        let schemes = match raw.schemes {
            None => None,
            Some(list) => {
                if list.is_empty() {
                    return Err(bad("schemes must not be empty".into()));
                }
                let mut out = Vec::with_capacity(list.len());
                for s in list {
                    let lower = s.to_ascii_lowercase();
                    if !KNOWN_SCHEMES.contains(&lower.as_str()) {
                        return Err(bad(format!(
                            "scheme {s:?} is not supported (known: {})",
                            KNOWN_SCHEMES.join(", ")
                        )));
                    }
                    out.push(lower);
                }
                Some(out)
            }
        };

        Ok(RulesFile {
            origin: origin.to_string(),
            ranges,
            hosts,
            ports: raw.ports,
            schemes,
        })
    }

    /// The rules embedded in the binary (`rules/default.toml`), or why they do not parse.
    ///
    /// Start-up (`assemble`) calls this and refuses to start on an error: falling back to
    /// floor-only rules would allow every private range, so there is no fallback.
    pub fn embedded() -> Result<RulesFile, RulesError> {
        RulesFile::parse(DEFAULT_RULES, "embedded default")
    }

    /// The rules embedded in the binary, for code that has no error path (tests, fuzzing,
    /// the demo). A parse failure is a build defect caught by this module's tests, and the
    /// service itself checks [`RulesFile::embedded`] first and refuses to start; should it
    /// still happen here, the result blocks every address (fail closed), never floor-only.
    pub fn embedded_default() -> RulesFile {
        RulesFile::embedded().unwrap_or_else(|e| RulesFile::block_everything(&e.to_string()))
    }

    /// A layer that blocks all of IPv4 and IPv6: the only safe stand-in for rules that
    /// could not be read.
    pub(crate) fn block_everything(why: &str) -> RulesFile {
        let all = |net: &str| RangeRule {
            net: net.parse().unwrap_or(IpNet::V4(ipnet::Ipv4Net::default())),
            action: Action::Block,
            reason: Some(Reason::OperatorRule),
            source: Some("portcullis: embedded rules failed to parse".into()),
            note: Some(why.to_owned()),
        };
        RulesFile {
            origin: "embedded default (failed to parse: blocking everything)".into(),
            ranges: vec![all("0.0.0.0/0"), all("::/0")],
            hosts: HostRulesFile::default(),
            ports: None,
            schemes: None,
        }
    }

    /// SHA-256 (hex, first 16 digits) of the embedded rules text: which default rules this
    /// binary enforces, for `--version` and `config check`.
    pub fn embedded_hash() -> String {
        use sha2::Digest;
        sha2::Sha256::digest(DEFAULT_RULES.as_bytes())
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The embedded default rules text, for `explain` and documentation.
    pub fn embedded_default_text() -> &'static str {
        DEFAULT_RULES
    }

    /// Where this file came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The `[[ranges]]` entries, in file order.
    pub fn ranges(&self) -> &[RangeRule] {
        &self.ranges
    }

    /// The `[hosts]` table.
    pub fn hosts(&self) -> &HostRulesFile {
        &self.hosts
    }

    /// The `ports` list, when this file sets one (it replaces earlier layers' lists).
    pub fn ports(&self) -> Option<&[u16]> {
        self.ports.as_deref()
    }

    /// The `schemes` list, when this file sets one (it replaces earlier layers' lists).
    pub fn schemes(&self) -> Option<&[String]> {
        self.schemes.as_deref()
    }
}

/// Operator `allow` rules that the unliftable floor overrides, as warnings: an allow for
/// `169.254.169.254/32` is otherwise silently without effect. The floor is the built-in
/// addresses plus every layer's block with a floor reason (`unspecified`, `cloud_metadata`).
pub fn shadowed_allows(layers: &[RulesFile]) -> Vec<String> {
    let mut floor: Vec<(IpNet, Reason)> = super::ranges::FLOOR
        .iter()
        .map(|(ip, reason)| (IpNet::from(*ip), *reason))
        .collect();
    for layer in layers {
        for rule in &layer.ranges {
            if rule.action == Action::Block && rule.block_reason().is_floor() {
                floor.push((rule.net, rule.block_reason()));
            }
        }
    }
    let mut warnings = Vec::new();
    for layer in layers {
        for rule in layer.ranges.iter().filter(|r| r.action == Action::Allow) {
            let hit = floor.iter().find(|(net, _)| {
                net.contains(&rule.net.network()) || rule.net.contains(&net.network())
            });
            if let Some((net, reason)) = hit {
                warnings.push(format!(
                    "rules file {}: allow {} has no effect on {net}: the floor blocks it as {} and no allow lifts the floor",
                    layer.origin,
                    rule.net,
                    reason.code()
                ));
            }
        }
    }
    warnings
}

/// 1-based line of a byte offset, so an error points at the rule to fix.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Parses `a.b.c.d/n`, `x::/n`, or a bare address (a host route). Host bits must be zero:
/// `10.0.0.5/8` is refused because the author's intent is ambiguous. Errors say which half
/// is wrong (`/33` is too long for IPv4), not just "invalid syntax".
fn parse_cidr(text: &str) -> Result<IpNet, String> {
    let net = if let Some((addr, len)) = text.split_once('/') {
        let ip = addr
            .parse::<IpAddr>()
            .map_err(|_| format!("{text:?}: {addr:?} is not an IP address"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let family = if ip.is_ipv4() { "IPv4" } else { "IPv6" };
        let prefix = len
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| {
                format!("{text:?}: prefix length /{len} is not valid for {family} (0 to {max})")
            })?;
        IpNet::new(ip, prefix).map_err(|e| format!("{text:?} is not a CIDR range: {e}"))?
    } else {
        IpNet::from(
            text.parse::<IpAddr>()
                .map_err(|e| format!("{text:?} is not an IP address or CIDR range: {e}"))?,
        )
    };
    if net.trunc() != net {
        return Err(format!(
            "{text:?} has host bits set; did you mean {}?",
            net.trunc()
        ));
    }
    Ok(net)
}

/// Lower-cases patterns, strips one trailing dot and checks the `name` / `*.suffix` syntax.
fn normalize_patterns(list: Vec<String>, key: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::with_capacity(list.len());
    for p in list {
        let lower = p.trim().to_ascii_lowercase();
        let lower = lower.strip_suffix('.').unwrap_or(&lower).to_string();
        let name = lower.strip_prefix("*.").unwrap_or(&lower);
        let ok = !name.is_empty()
            && name.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !ok {
            return Err(format!(
                "{key}: {p:?} is not a host pattern (use `name` or `*.suffix`, ASCII/punycode)"
            ));
        }
        out.push(lower);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_parses_and_is_documented() {
        let f = RulesFile::parse(DEFAULT_RULES, "embedded default").unwrap();
        assert!(f.ranges().len() > 40);
        for r in f.ranges() {
            assert!(r.source.is_some(), "{} has no source", r.net);
            if r.action == Action::Block {
                assert!(r.reason.is_some(), "{} block has no reason", r.net);
            }
        }
        assert_eq!(f.ports(), Some(&[443u16][..]));
        assert_eq!(f.schemes(), Some(&["https".to_string()][..]));
        assert_eq!(f.hosts().block_single_label, Some(true));
        assert!(f.hosts().block.iter().any(|p| p == "localhost"));
        assert!(f.hosts().allow.is_empty());
    }

    #[test]
    fn default_has_no_duplicate_ranges() {
        let f = RulesFile::embedded_default();
        let mut seen = std::collections::HashSet::new();
        for r in f.ranges() {
            assert!(seen.insert(r.net), "duplicate {}", r.net);
        }
    }

    #[test]
    fn unknown_key_is_an_error() {
        let e = RulesFile::parse(
            "[[ranges]]\ncidr = \"10.0.0.0/8\"\naction = \"block\"\nreasn = \"private_use\"\n",
            "t",
        );
        assert!(matches!(e, Err(RulesError::Invalid { .. })), "{e:?}");
        let e = RulesFile::parse("port = [443]\n", "t");
        assert!(e.is_err());
        let e = RulesFile::parse("[hosts]\nblocks = [\"x\"]\n", "t");
        assert!(e.is_err());
    }

    #[test]
    fn unknown_reason_is_an_error() {
        let e = RulesFile::parse(
            "[[ranges]]\ncidr = \"10.0.0.0/8\"\naction = \"block\"\nreason = \"privat_use\"\n",
            "t",
        )
        .unwrap_err();
        assert!(e.to_string().contains("privat_use"), "{e}");
    }

    #[test]
    fn unknown_action_is_an_error() {
        let e = RulesFile::parse(
            "[[ranges]]\ncidr = \"10.0.0.0/8\"\naction = \"deny\"\n",
            "t",
        );
        assert!(e.is_err());
    }

    #[test]
    fn bad_cidrs_are_errors() {
        for cidr in [
            "10.0.0.0/33",
            "10.0.0/8",
            "banana",
            "10.0.0.5/8",
            "::1/129",
            "fe80::1/10",
            "",
        ] {
            let text = format!("[[ranges]]\ncidr = \"{cidr}\"\naction = \"block\"\n");
            let e = RulesFile::parse(&text, "ops.toml");
            assert!(e.is_err(), "{cidr} parsed");
            let e = e.unwrap_err().to_string();
            assert!(e.contains("ops.toml"), "{e}");
            assert!(e.contains("line 2"), "{e}");
        }
        let e = RulesFile::parse(
            "# ops\n[[ranges]]\naction = \"block\"\ncidr = \"10.0.0.0/33\"\n",
            "ops.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 4"), "{e}");
        assert!(e.contains("/33 is not valid for IPv4 (0 to 32)"), "{e}");
        let e = RulesFile::parse("[[ranges]]\ncidr = \"10.0.0/8\"\naction = \"block\"\n", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"10.0.0\" is not an IP address"), "{e}");
    }

    #[test]
    fn allow_under_the_floor_is_reported() {
        let layer = RulesFile::parse(
            "[[ranges]]\ncidr = \"169.254.169.254/32\"\naction = \"allow\"\n[[ranges]]\ncidr = \"10.1.0.0/16\"\naction = \"allow\"\n",
            "ops.toml",
        )
        .unwrap();
        let warnings = shadowed_allows(&[RulesFile::embedded_default(), layer]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("ops.toml"), "{warnings:?}");
        assert!(warnings[0].contains("169.254.169.254/32"), "{warnings:?}");
        assert!(warnings[0].contains("cloud_metadata"), "{warnings:?}");
        assert!(shadowed_allows(&[RulesFile::embedded_default()]).is_empty());
    }

    #[test]
    fn the_stand_in_for_broken_rules_blocks_everything() {
        let f = RulesFile::block_everything("test");
        let nets: Vec<String> = f.ranges().iter().map(|r| r.net.to_string()).collect();
        assert_eq!(nets, ["0.0.0.0/0", "::/0"]);
        assert!(f.ranges().iter().all(|r| r.action == Action::Block));
    }

    #[test]
    fn embedded_rules_parse_and_have_a_hash() {
        // The service refuses to start when this fails, so the test is the build gate.
        let f = RulesFile::embedded().unwrap();
        assert!(f.ranges().len() > 40);
        assert_eq!(RulesFile::embedded_hash().len(), 16);
    }

    #[test]
    fn bare_address_is_a_host_route_and_block_defaults_to_operator_rule() {
        let f = RulesFile::parse(
            "[[ranges]]\ncidr = \"203.0.113.9\"\naction = \"block\"\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            f.ranges()[0].net,
            "203.0.113.9/32".parse::<IpNet>().unwrap()
        );
        assert_eq!(f.ranges()[0].block_reason(), Reason::OperatorRule);
    }

    #[test]
    fn allow_with_reason_is_an_error() {
        let e = RulesFile::parse(
            "[[ranges]]\ncidr = \"10.0.0.0/8\"\naction = \"allow\"\nreason = \"private_use\"\n",
            "t",
        );
        assert!(e.is_err());
    }

    #[test]
    fn ports_and_schemes_are_checked() {
        assert!(RulesFile::parse("ports = []\n", "t").is_err());
        assert!(RulesFile::parse("ports = [0]\n", "t").is_err());
        assert!(RulesFile::parse("ports = [70000]\n", "t").is_err());
        assert!(RulesFile::parse("schemes = []\n", "t").is_err());
        assert!(RulesFile::parse("schemes = [\"ftp\"]\n", "t").is_err());
        let f = RulesFile::parse("schemes = [\"HTTPS\"]\nports = [443, 8443]\n", "t").unwrap();
        assert_eq!(f.schemes(), Some(&["https".to_string()][..]));
        assert_eq!(f.ports(), Some(&[443u16, 8443][..]));
    }

    #[test]
    fn host_patterns_are_normalized_and_checked() {
        let f = RulesFile::parse(
            "[hosts]\nblock = [\"Corp.Example.\", \"*.LAN\"]\nallow = [\"*.example.com\"]\n",
            "t",
        )
        .unwrap();
        assert_eq!(f.hosts().block, vec!["corp.example", "*.lan"]);
        assert_eq!(f.hosts().allow, vec!["*.example.com"]);
        for bad in ["", "*.", "a..b", "a/b", "*x.example", "a.*.b", "ex ample"] {
            let text = format!("[hosts]\nblock = [\"{bad}\"]\n");
            assert!(RulesFile::parse(&text, "t").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn empty_file_is_fine() {
        let f = RulesFile::parse("", "t").unwrap();
        assert!(f.ranges().is_empty());
        assert_eq!(f.ports(), None);
        assert_eq!(f.schemes(), None);
    }
}
