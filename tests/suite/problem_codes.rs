//! Codes are API: every code the crate can raise must be listed in `docs/problems.md`, and
//! no two modules may declare the same code with different meanings.

use std::collections::BTreeSet;

fn every_code() -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = Vec::new();
    codes.extend(portcullis::policy::ALL_CODES.iter().map(|c| c.as_str()));
    codes.extend(
        portcullis::fetch::codes::ALL_CODES
            .iter()
            .map(|c| c.as_str()),
    );
    codes.push(portcullis::fetch::CONNECT_GUARD_REFUSED.as_str());
    codes.extend(
        portcullis::service::limits::ALL_CODES
            .iter()
            .map(|c| c.as_str()),
    );
    codes.extend(portcullis::documents::all_codes().map(|c| c.as_str()));
    codes.extend(
        portcullis::proxy::codes::ALL_CODES
            .iter()
            .map(|c| c.as_str()),
    );
    codes
}

#[test]
fn every_code_is_documented() {
    let doc = include_str!("../../docs/problems.md");
    let missing: Vec<&str> = every_code()
        .into_iter()
        .filter(|code| !doc.contains(&format!("`{code}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "codes missing from docs/problems.md: {missing:?}"
    );
}

/// Codes deliberately shared by two modules because they mean the same thing (the
/// documents module reuses the policy's constant).
const SHARED: &[&str] = &["invalid_url"];

#[test]
fn codes_are_snake_case_and_unique_across_modules() {
    let mut codes = every_code();
    for shared in SHARED {
        assert_eq!(codes.iter().filter(|c| *c == shared).count(), 2, "{shared}");
        let first = codes.iter().position(|c| c == shared).unwrap_or_default();
        codes.remove(first);
    }
    let unique: BTreeSet<&str> = codes.iter().copied().collect();
    assert_eq!(unique.len(), codes.len(), "a code is declared twice");
    for code in codes {
        assert!(
            !code.is_empty()
                && code
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{code} is not snake_case"
        );
    }
}

/// Error codes of the HTTP API (not verdict problems), documented in the same file.
const API_ERROR_CODES: &[&str] = &[
    "missing_token",
    "invalid_token",
    "invalid_request",
    "unsupported_media_type",
    "request_too_large",
    "request_timeout",
    "not_found",
    "method_not_allowed",
    "server_busy",
    "conflicting_framing",
    "request_head_too_large",
];

#[test]
fn every_documented_code_exists() {
    let doc = include_str!("../../docs/problems.md");
    let known: BTreeSet<&str> = every_code()
        .into_iter()
        .chain(API_ERROR_CODES.iter().copied())
        .collect();
    let documented: Vec<&str> = doc
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .collect();
    assert!(documented.len() > 100, "table rows not found");
    let unknown: Vec<&&str> = documented.iter().filter(|c| !known.contains(**c)).collect();
    assert!(
        unknown.is_empty(),
        "docs/problems.md lists codes the crate never raises: {unknown:?}"
    );
}
