//! Real documents from providers and specifications (tests/fixtures/real-world/README.md).
//! Each test states what the fixture yields and mutates it to fail with a named code.
//!
//! | fixture | yields |
//! |---|---|
//! | google.jwks.json | valid, no problems |
//! | apple.jwks.json | valid, no problems |
//! | auth0-common.jwks.json | valid; warning `jwk_x5t_invalid` (an `x5t` of 40 bytes: hex SHA-1 encoded again) |
//! | entra-common.jwks.json | valid; `x5c` certificates match; warning `jwk_unregistered_member` (`issuer`) on each key |
//! | paypal.jwks.json | valid, none skipped; warnings `jwk_rsa_leading_zero`, `jwk_unregistered_member` (`acr`), `jwk_base64_padding` (X25519, usable: padding is a warning) |
//! | yahoo.jwks.json | INVALID: `jwk_rsa_too_small` (1024-bit); warnings `jwk_rsa_leading_zero`, `jwks_duplicate_key` (kids 0 and 4) |
//! | google.metadata.json | valid; warning `pkce_plain_supported` |
//! | apple.metadata.json | oauth: valid, warning `pkce_s256_not_supported` (tagged `mcp`); mcp: INVALID `pkce_s256_not_supported` |
//! | entra-common.metadata.json | INVALID: `issuer_templated`, `issuer_mismatch` (+ `pkce_s256_not_supported`, a warning under oauth) |
//! | github.as-metadata.json | valid, no problems |
//! | github-mcp.prm.json, rfc9728-example.prm.json | valid, no problems |
//! | mcp-spec-example.cimd.json | valid; warning `redirect_uris_loopback_only` |
//! | atproto-example.cimd.json | valid, no problems |

use crate::doc_support::*;
use portcullis::kind::{Kind, Profile};
use serde_json::{Value, json};

const JWKS_URL: &str = "https://idp.example.com/jwks";

fn jwks(name: &str) -> portcullis::documents::Validated {
    check(Kind::Jwks, JWKS_URL, &fixture(name))
}

fn mutated(name: &str, f: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(&fixture(name)).unwrap();
    f(&mut v);
    v.to_string()
}

#[test]
fn google_and_apple_jwks_are_clean() {
    for (name, n) in [("google.jwks.json", 2), ("apple.jwks.json", 3)] {
        let v = jwks(name);
        assert!(v.problems.is_empty(), "{name}: {:#?}", v.problems);
        assert_eq!(v.document.unwrap()["keys"].as_array().unwrap().len(), n);
    }
    let body = mutated("google.jwks.json", |v| {
        v["keys"][1]["kid"] = v["keys"][0]["kid"].clone()
    });
    assert_outcome(
        &check(Kind::Jwks, JWKS_URL, &body),
        "google dup kid",
        Some("jwks_duplicate_kid"),
        None,
    );
    let body = mutated("apple.jwks.json", |v| v["keys"][0]["alg"] = json!("HS256"));
    assert_outcome(
        &check(Kind::Jwks, JWKS_URL, &body),
        "apple HS256",
        Some("jwk_alg_forbidden"),
        None,
    );
}

#[test]
fn auth0_x5t_of_40_bytes_is_a_warning() {
    let v = jwks("auth0-common.jwks.json");
    assert_outcome(&v, "auth0", None, Some("jwk_x5t_invalid"));
    let p = v
        .problems
        .iter()
        .find(|p| p.code.as_str() == "jwk_x5t_invalid")
        .unwrap();
    assert_eq!(p.at.as_deref(), Some("/keys/0/x5t"));
    assert!(p.detail.contains("40 bytes"), "{}", p.detail);
    let body = mutated("auth0-common.jwks.json", |v| {
        v["keys"][0]["n"] = v["keys"][1]["n"].clone()
    });
    assert_outcome(
        &check(Kind::Jwks, JWKS_URL, &body),
        "auth0 swapped n",
        Some("jwk_x5c_mismatch"),
        None,
    );
}

#[test]
fn entra_keys_with_x5c_are_valid() {
    let v = jwks("entra-common.jwks.json");
    assert_outcome(&v, "entra", None, Some("jwk_unregistered_member"));
    assert!(
        warnings(&v).iter().all(|w| *w == "jwk_unregistered_member"),
        "{:#?}",
        v.problems
    );
    let body = mutated("entra-common.jwks.json", |v| {
        v["keys"][2]["d"] = json!("AQAB")
    });
    assert_outcome(
        &check(Kind::Jwks, JWKS_URL, &body),
        "entra private",
        Some("jwk_private_member"),
        None,
    );
}

#[test]
fn paypal_quirks_are_warnings_and_padded_x25519_is_usable() {
    let v = jwks("paypal.jwks.json");
    assert_outcome(&v, "paypal", None, Some("jwk_rsa_leading_zero"));
    let w = warnings(&v);
    for code in ["jwk_unregistered_member", "jwk_base64_padding"] {
        assert!(w.contains(&code), "{code}: {:#?}", v.problems);
    }
    let doc = v.document.unwrap();
    // Decision (docs/conformance.md): padding is a warning, so the padded X25519 key is
    // usable (it was skipped when padding was an error).
    assert_eq!(doc["skipped"], 0, "{:#?}", v.problems);
    assert_eq!(doc["keys"].as_array().unwrap().len(), 15);
    // Without the padding the warning goes away and nothing else changes.
    let body = mutated("paypal.jwks.json", |v| {
        let x = v["keys"][7]["x"]
            .as_str()
            .unwrap()
            .trim_end_matches('=')
            .to_owned();
        v["keys"][7]["x"] = json!(x);
    });
    let v = check(Kind::Jwks, JWKS_URL, &body);
    assert!(
        !warnings(&v).contains(&"jwk_base64_padding"),
        "{:#?}",
        v.problems
    );
    assert_eq!(v.document.unwrap()["skipped"], 0);
    // An EC key moved off the curve invalidates the set.
    let body = mutated("paypal.jwks.json", |v| {
        v["keys"][3]["y"] = v["keys"][4]["y"].clone()
    });
    assert_outcome(
        &check(Kind::Jwks, JWKS_URL, &body),
        "paypal off curve",
        Some("jwk_point_not_on_curve"),
        None,
    );
}

#[test]
fn yahoo_1024_bit_keys_make_the_set_invalid() {
    let v = jwks("yahoo.jwks.json");
    assert_outcome(
        &v,
        "yahoo",
        Some("jwk_rsa_too_small"),
        Some("jwk_rsa_leading_zero"),
    );
    assert!(
        warnings(&v).contains(&"jwks_duplicate_key"),
        "{:#?}",
        v.problems
    );
    // Dropping the RSA keys leaves a valid ES256 set.
    let body = mutated("yahoo.jwks.json", |v| {
        let keys: Vec<Value> = v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["kty"] == "EC")
            .cloned()
            .collect();
        v["keys"] = json!(keys);
    });
    assert_outcome(
        &check(Kind::Jwks, JWKS_URL, &body),
        "yahoo ec only",
        None,
        None,
    );
}

#[test]
fn discovery_documents() {
    let google = fixture("google.metadata.json");
    let v = check(
        Kind::AuthorizationServerMetadata,
        "https://accounts.google.com/.well-known/openid-configuration",
        &google,
    );
    assert_outcome(&v, "google", None, Some("pkce_plain_supported"));
    let v = check(
        Kind::AuthorizationServerMetadata,
        "https://accounts.google.com.evil.example/.well-known/openid-configuration",
        &google,
    );
    assert_outcome(&v, "google elsewhere", Some("issuer_mismatch"), None);

    let v = check(
        Kind::AuthorizationServerMetadata,
        "https://appleid.apple.com/.well-known/openid-configuration",
        &fixture("apple.metadata.json"),
    );
    // Apple's metadata lacks code_challenge_methods_supported: fine by RFC 8414 (oauth,
    // warning tagged mcp), refused by MCP clients (mcp, error).
    assert_outcome(&v, "apple oauth", None, Some("pkce_s256_not_supported"));
    assert_eq!(
        profiles_of(&v, "pkce_s256_not_supported"),
        [Some(Profile::Mcp)]
    );
    let v = check_profile(
        Kind::AuthorizationServerMetadata,
        "https://appleid.apple.com/.well-known/openid-configuration",
        &fixture("apple.metadata.json"),
        Profile::Mcp,
    );
    assert_outcome(&v, "apple mcp", Some("pkce_s256_not_supported"), None);
    assert_eq!(errors(&v), ["pkce_s256_not_supported"]);
    let v = check_profile(
        Kind::AuthorizationServerMetadata,
        "https://appleid.apple.com/.well-known/openid-configuration",
        &fixture("apple.metadata.json"),
        Profile::Atproto,
    );
    assert!(v.problems.is_empty(), "apple atproto: {:#?}", v.problems);

    let v = check(
        Kind::AuthorizationServerMetadata,
        "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration",
        &fixture("entra-common.metadata.json"),
    );
    let mut e = errors(&v);
    e.sort();
    assert_eq!(e, ["issuer_mismatch", "issuer_templated"]);

    let github = fixture("github.as-metadata.json");
    let url = "https://github.com/.well-known/oauth-authorization-server/login/oauth";
    let v = check(Kind::AuthorizationServerMetadata, url, &github);
    assert!(v.problems.is_empty(), "{:#?}", v.problems);
    let body = patch(&github, r#"{"code_challenge_methods_supported":["plain"]}"#);
    assert_outcome(
        &check(Kind::AuthorizationServerMetadata, url, &body),
        "github plain oauth",
        None,
        Some("pkce_s256_not_supported"),
    );
    assert_outcome(
        &check_profile(Kind::AuthorizationServerMetadata, url, &body, Profile::Mcp),
        "github plain mcp",
        Some("pkce_s256_not_supported"),
        None,
    );
}

#[test]
fn protected_resource_documents() {
    let url = "https://api.githubcopilot.com/.well-known/oauth-protected-resource/mcp";
    let gh = fixture("github-mcp.prm.json");
    assert!(
        check(Kind::ProtectedResourceMetadata, url, &gh)
            .problems
            .is_empty()
    );
    let body = patch(&gh, r#"{"resource":"https://api.githubcopilot.com/"}"#);
    assert_outcome(
        &check(Kind::ProtectedResourceMetadata, url, &body),
        "github other",
        Some("resource_mismatch"),
        None,
    );

    let url = "https://resource.example.com/.well-known/oauth-protected-resource";
    let rfc = fixture("rfc9728-example.prm.json");
    assert!(
        check(Kind::ProtectedResourceMetadata, url, &rfc)
            .problems
            .is_empty()
    );
    let body = patch(&rfc, r#"{"bearer_methods_supported":["header","dpop"]}"#);
    assert_outcome(
        &check(Kind::ProtectedResourceMetadata, url, &body),
        "rfc dpop",
        Some("bearer_method_unknown"),
        None,
    );
}

#[test]
fn cimd_documents() {
    let url = "https://app.example.com/oauth/client-metadata.json";
    let mcp = fixture("mcp-spec-example.cimd.json");
    let v = check(Kind::ClientMetadata, url, &mcp);
    assert_outcome(&v, "mcp example", None, Some("redirect_uris_loopback_only"));
    assert_eq!(warnings(&v), ["redirect_uris_loopback_only"]);
    let body = patch(&mcp, r#"{"client_secret":"x"}"#);
    assert_outcome(
        &check(Kind::ClientMetadata, url, &body),
        "mcp secret",
        Some("client_secret_not_allowed"),
        None,
    );
    // Served from another URL than its client_id.
    let v = check(
        Kind::ClientMetadata,
        "https://app.example.com/other.json",
        &mcp,
    );
    assert_outcome(&v, "mcp moved", Some("client_id_mismatch"), None);

    // The README says: rewrite the client_id to the URL the document is served from.
    let url = "https://my-app.example/client-metadata.json";
    let atproto = patch(
        &fixture("atproto-example.cimd.json"),
        &format!(r#"{{"client_id":"{url}"}}"#),
    );
    assert!(
        check(Kind::ClientMetadata, url, &atproto)
            .problems
            .is_empty()
    );
    let body = patch(
        &atproto,
        r#"{"redirect_uris":["http://my-app.com/atproto-oauth-callback"]}"#,
    );
    assert_outcome(
        &check(Kind::ClientMetadata, url, &body),
        "atproto http",
        Some("redirect_uri_insecure"),
        None,
    );
}

#[test]
fn valid_documents_revalidate_identically() {
    let cases = [
        (
            Kind::ClientMetadata,
            "https://app.example.com/oauth/client-metadata.json",
            fixture("mcp-spec-example.cimd.json"),
        ),
        (
            Kind::ProtectedResourceMetadata,
            "https://api.githubcopilot.com/.well-known/oauth-protected-resource/mcp",
            fixture("github-mcp.prm.json"),
        ),
        (
            Kind::AuthorizationServerMetadata,
            "https://accounts.google.com/.well-known/openid-configuration",
            fixture("google.metadata.json"),
        ),
        (
            Kind::AuthorizationServerMetadata,
            "https://github.com/.well-known/oauth-authorization-server/login/oauth",
            fixture("github.as-metadata.json"),
        ),
        (
            Kind::Json,
            "https://x.example/j",
            fixture("paypal.jwks.json"),
        ),
    ];
    for (kind, url, body) in cases {
        let first = check(kind, url, &body);
        let doc = first.document.clone().unwrap();
        let second = check(kind, url, &doc.to_string());
        assert_eq!(first, second, "{kind} {url}");
    }
}
