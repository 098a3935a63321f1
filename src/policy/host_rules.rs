//! Host-name rules: special-use and internal names are refused before any DNS query, so a
//! name like `metadata.google.internal` never reaches a resolver that might answer it.
//!
//! Precedence: an invalid name is refused; then a block pattern refuses; then a single-label
//! name is refused (when `block_single_label`); then, when any layer has an allow list, a
//! name matching none of it is refused. A block pattern therefore beats an allow pattern:
//! layering can add blocks and narrow the allowed set, never re-open a blocked name.

use super::reason::HOST_BLOCKED;
use super::rules_file::HostRulesFile;
use crate::problem::Problem;

/// Longest DNS name in presentation form without the trailing dot (RFC 1035).
pub const MAX_NAME_LEN: usize = 253;
/// Longest DNS label (RFC 1035).
pub const MAX_LABEL_LEN: usize = 63;

/// Host rules merged over all layers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostRules {
    block: Vec<String>,
    allow: Vec<String>,
    block_single_label: bool,
}

/// `name` matches itself; `*.suffix` matches names strictly below `suffix`.
fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => name
            .strip_suffix(suffix)
            .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
        None => pattern == name,
    }
}

impl HostRules {
    /// Merges layers in order: block and allow lists add up, `block_single_label` is taken
    /// from the last layer that sets it (default `true`, the safe choice).
    pub fn merge<'a>(layers: impl IntoIterator<Item = &'a HostRulesFile>) -> HostRules {
        let mut out = HostRules {
            block_single_label: true,
            ..HostRules::default()
        };
        for l in layers {
            out.block.extend(l.block.iter().cloned());
            out.allow.extend(l.allow.iter().cloned());
            if let Some(b) = l.block_single_label {
                out.block_single_label = b;
            }
        }
        out
    }

    /// Normalises a DNS name (ASCII lower-case, one trailing dot removed) and applies the
    /// rules; returns the normalised name when allowed.
    pub fn check(&self, raw: &str) -> Result<String, Problem> {
        let lower = raw.to_ascii_lowercase();
        let name = lower.strip_suffix('.').unwrap_or(&lower);
        let refuse = |why: String| Problem::error(HOST_BLOCKED, why);

        let valid = !name.is_empty()
            && name.len() <= MAX_NAME_LEN
            && name.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= MAX_LABEL_LEN
                    && l.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !valid {
            return Err(refuse(format!(
                "host {raw:?} is not a valid DNS name (labels of 1-63 letters, digits, '-' or '_', at most 253 bytes)"
            )));
        }
        if let Some(p) = self.block.iter().find(|p| matches(p, name)) {
            return Err(refuse(format!(
                "host {name} matches blocked name pattern {p}"
            )));
        }
        if self.block_single_label && !name.contains('.') {
            return Err(refuse(format!(
                "host {name} is a single-label name, resolved only by local search domains"
            )));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|p| matches(p, name)) {
            return Err(refuse(format!(
                "host {name} is not in the allowed host list"
            )));
        }
        Ok(name.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(block: &[&str], allow: &[&str], single: Option<bool>) -> HostRules {
        let f = HostRulesFile {
            block: block.iter().map(|s| s.to_string()).collect(),
            allow: allow.iter().map(|s| s.to_string()).collect(),
            block_single_label: single,
        };
        HostRules::merge([&f])
    }

    #[test]
    fn pattern_matching() {
        assert!(matches("localhost", "localhost"));
        assert!(!matches("localhost", "a.localhost"));
        assert!(matches("*.localhost", "a.localhost"));
        assert!(matches("*.localhost", "a.b.localhost"));
        assert!(!matches("*.localhost", "localhost"));
        assert!(!matches("*.localhost", "evillocalhost"));
        assert!(!matches("*.localhost", ".localhost"));
    }

    #[test]
    fn block_single_label_and_allow_list() {
        let r = rules(&["*.internal"], &[], None);
        assert_eq!(r.check("Auth.Example.COM.").unwrap(), "auth.example.com");
        assert!(r.check("intranet").is_err());
        assert!(r.check("metadata.google.internal").is_err());
        assert!(r.check("metadata.google.internal.").is_err());

        let r = rules(&["*.internal"], &[], Some(false));
        assert_eq!(r.check("intranet").unwrap(), "intranet");

        let r = rules(&["bad.example.com"], &["*.example.com"], None);
        assert!(r.check("auth.example.com").is_ok());
        assert!(r.check("example.com").is_err(), "*.x does not match x");
        assert!(r.check("auth.example.org").is_err());
        let e = r.check("bad.example.com").unwrap_err();
        assert!(
            e.detail.contains("blocked"),
            "block beats allow: {}",
            e.detail
        );
    }

    #[test]
    fn layers_merge() {
        let a = HostRulesFile {
            block: vec!["localhost".into()],
            allow: vec![],
            block_single_label: Some(true),
        };
        let b = HostRulesFile {
            block: vec!["*.corp.example".into()],
            allow: vec![],
            block_single_label: Some(false),
        };
        let c = HostRulesFile::default();
        let r = HostRules::merge([&a, &b, &c]);
        assert!(r.check("localhost").is_err());
        assert!(r.check("x.corp.example").is_err());
        assert!(
            r.check("printer").is_ok(),
            "later layer turned single-label blocking off"
        );
    }

    #[test]
    fn invalid_names() {
        let r = rules(&[], &[], None);
        let long_label = format!("{}.example", "a".repeat(64));
        let long_name = format!("{}example", "abcdefghi.".repeat(25));
        for bad in [
            "",
            ".",
            "a..b",
            "a b.example",
            "a$b.example",
            "é.example",
            &long_label,
            &long_name,
        ] {
            assert_eq!(r.check(bad).unwrap_err().code, HOST_BLOCKED, "{bad:?}");
        }
        assert!(r.check(&format!("{}.example", "a".repeat(63))).is_ok());
        assert!(r.check("_acme.example.com").is_ok());
    }
}
