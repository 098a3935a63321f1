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
        assert_eq!(err.code, "invalid_request");
    }
    let ok = parse_fetch_request(
        br#" {"url":"https://a.example/x","kind":"jwks","expect":{"issuer":null}} "#,
    )
    .expect("object form parses");
    assert_eq!(ok.expect.issuer, None);
}
