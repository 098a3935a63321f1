//! Inputs the fuzz targets in `fuzz/` found, kept as regression tests (one per finding,
//! named after the target that found it).

use portcullis::server::request::parse_fetch_request;

/// `fetch_request_body`: serde's derived structs accept JSON arrays, so a positional body
/// `["url","kind"]` (or `expect` as an array) was accepted although the API is objects only.
#[test]
fn fetch_request_body_array_forms_are_refused() {
    for body in [
        &br#"["https://a.example/x","jwks"]"#[..],
        br#" ["https://a.example/x","jwks",{}]"#,
        br#"{"url":"https://a.example/x","kind":"jwks","expect":["https://a.example"]}"#,
        br#"{"url":"https://a.example/x","kind":"jwks","expect":[null,"https://i.example"]}"#,
    ] {
        let err = parse_fetch_request(body).expect_err("array form must be refused");
        assert_eq!(err.code(), "invalid_request");
    }
    let ok = parse_fetch_request(
        br#" {"url":"https://a.example/x","kind":"jwks","expect":{"issuer":null}} "#,
    )
    .expect("object form parses");
    assert_eq!(ok.expect.issuer, None);
}

/// Found by `url_string` (10-minute run): a URL under the length cap whose normalized form
/// (full-width dots percent-encoded, 3 bytes → 9) is over it was accepted, then refused when
/// its own serialization was checked again (as every redirect hop is). The cap now applies
/// to the normalized URL as well.
#[test]
fn url_whose_normalized_form_is_over_the_cap_is_refused() {
    use portcullis::policy::{Policy, PolicyOptions};
    let policy = Policy::embedded_default(PolicyOptions::default());
    let max = PolicyOptions::default().max_url_bytes;
    let prefix = "https://example.com/";
    // Each U+3002 is 3 bytes raw and 9 bytes percent-encoded.
    let dots = (max - prefix.len()) / 3;
    let raw = format!("{prefix}{}", "\u{3002}".repeat(dots));
    assert!(raw.len() <= max);
    let problems = policy.check_url(&raw).unwrap_err();
    assert!(
        problems.iter().any(|p| p.code.as_str() == "url_too_long"),
        "{problems:?}"
    );
    // A URL whose normalized form fits is accepted and re-accepted identically.
    let short = format!("{prefix}{}", "\u{3002}".repeat(10));
    let safe = policy.check_url(&short).unwrap();
    assert_eq!(policy.check_url(safe.as_str()).unwrap(), safe);
}
