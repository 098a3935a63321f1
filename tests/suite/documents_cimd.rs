//! Client ID Metadata Document rules: one passing and one failing case per rule at least.

use crate::doc_support::*;
use portcullis::config::DocumentsConfig;
use portcullis::documents::{Context, Expect, follows_redirects, precheck_url};
use portcullis::kind::Kind;

const URL: &str = "https://app.example.com/oauth/client.json";
const BASE: &str = r#"{
  "client_id": "https://app.example.com/oauth/client.json",
  "client_name": "Example",
  "client_uri": "https://app.example.com",
  "redirect_uris": ["https://app.example.com/cb"],
  "grant_types": ["authorization_code"],
  "response_types": ["code"],
  "token_endpoint_auth_method": "none"
}"#;

const EC_JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"a","use":"sig","alg":"ES256",
 "x":"PhZg_0E9fCp41a11ytXqoU0_kwTVC_iDBnVjis5EYXc","y":"7CknEyKupLJ6jkOI9GbSkY-EAkZh0G2kIxC0e2hycTM"}]}"#;

#[test]
fn base_document_is_valid_without_warnings() {
    let v = check(Kind::ClientMetadata, URL, BASE);
    assert!(v.problems.is_empty(), "{:#?}", v.problems);
    assert_eq!(v.document.unwrap()["client_name"], "Example");
}

#[test]
fn member_rules_table() {
    let jwks_with_d = EC_JWKS.replace(r#""kid":"a""#, r#""kid":"a","d":"AAAA""#);
    let cases: Vec<(&str, String, Option<&str>, Option<&str>)> = vec![
        // client_id
        ("client_id other", r#"{"client_id":"https://app.example.com/oauth/other.json"}"#.into(), Some("client_id_mismatch"), None),
        ("client_id trailing slash", r#"{"client_id":"https://app.example.com/oauth/client.json/"}"#.into(), Some("client_id_mismatch"), None),
        ("client_id missing", r#"{"client_id":null}"#.into(), Some("missing_member"), None),
        ("client_id number", r#"{"client_id":5}"#.into(), Some("wrong_type"), None),
        // secrets
        ("client_secret", r#"{"client_secret":"s3cret"}"#.into(), Some("client_secret_not_allowed"), None),
        ("client_secret_expires_at", r#"{"client_secret_expires_at":0}"#.into(), Some("client_secret_not_allowed"), None),
        // auth methods
        ("basic", r#"{"token_endpoint_auth_method":"client_secret_basic"}"#.into(), Some("shared_secret_auth_method"), None),
        ("post", r#"{"token_endpoint_auth_method":"client_secret_post"}"#.into(), Some("shared_secret_auth_method"), None),
        ("secret jwt", r#"{"token_endpoint_auth_method":"client_secret_jwt"}"#.into(), Some("shared_secret_auth_method"), None),
        ("method absent", r#"{"token_endpoint_auth_method":null}"#.into(), None, Some("auth_method_defaulted")),
        ("method unknown", r#"{"token_endpoint_auth_method":"magic"}"#.into(), None, Some("unknown_auth_method")),
        ("tls_client_auth", r#"{"token_endpoint_auth_method":"tls_client_auth"}"#.into(), None, None),
        ("pkjwt no keys", r#"{"token_endpoint_auth_method":"private_key_jwt"}"#.into(), Some("private_key_jwt_without_keys"), None),
        ("pkjwt jwks_uri", r#"{"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://app.example.com/jwks"}"#.into(), None, None),
        ("pkjwt jwks", format!(r#"{{"token_endpoint_auth_method":"private_key_jwt","jwks":{EC_JWKS}}}"#), None, None),
        ("jwks and jwks_uri", format!(r#"{{"token_endpoint_auth_method":"private_key_jwt","jwks":{EC_JWKS},"jwks_uri":"https://app.example.com/jwks"}}"#), Some("jwks_and_jwks_uri"), None),
        ("jwks private", format!(r#"{{"token_endpoint_auth_method":"private_key_jwt","jwks":{jwks_with_d}}}"#), Some("jwk_private_member"), None),
        ("jwks not object", r#"{"jwks":[1]}"#.into(), Some("wrong_type"), None),
        ("jwks_uri http", r#"{"jwks_uri":"http://app.example.com/jwks"}"#.into(), Some("url_not_https"), None),
        ("jwks_uri private ip", r#"{"jwks_uri":"https://10.0.0.7/jwks"}"#.into(), Some("fake_blocked"), None),
        // redirect URIs
        ("redirects missing", r#"{"redirect_uris":null}"#.into(), Some("missing_member"), None),
        ("redirects empty", r#"{"redirect_uris":[]}"#.into(), Some("empty_value"), None),
        ("redirects not array", r#"{"redirect_uris":"https://app.example.com/cb"}"#.into(), Some("wrong_type"), None),
        ("redirect number", r#"{"redirect_uris":[7]}"#.into(), Some("wrong_type"), None),
        ("redirect relative", r#"{"redirect_uris":["/cb"]}"#.into(), Some("redirect_uri_invalid"), None),
        ("redirect fragment", r#"{"redirect_uris":["https://app.example.com/cb#x"]}"#.into(), Some("redirect_uri_has_fragment"), None),
        ("redirect http public", r#"{"redirect_uris":["http://app.example.com/cb"]}"#.into(), Some("redirect_uri_insecure"), None),
        ("redirect http loopback v4", r#"{"redirect_uris":["http://127.0.0.1:8080/cb"]}"#.into(), None, Some("redirect_uris_loopback_only")),
        ("redirect http loopback v6", r#"{"redirect_uris":["http://[::1]:8080/cb"]}"#.into(), None, Some("redirect_uris_loopback_only")),
        ("redirect http localhost", r#"{"redirect_uris":["http://localhost/cb"]}"#.into(), None, Some("redirect_uris_loopback_only")),
        ("redirect mixed", r#"{"redirect_uris":["http://localhost/cb","https://app.example.com/cb"]}"#.into(), None, None),
        ("redirect private-use", r#"{"redirect_uris":["com.example.app:/oauth2redirect"]}"#.into(), None, None),
        ("redirect bare scheme", r#"{"redirect_uris":["myapp:/cb"]}"#.into(), Some("redirect_uri_scheme_not_allowed"), None),
        ("redirect javascript", r#"{"redirect_uris":["javascript:alert(1)"]}"#.into(), Some("redirect_uri_scheme_not_allowed"), None),
        // client_name
        // client_name is an MCP rule: a warning tagged mcp under the default oauth profile
        ("name missing", r#"{"client_name":null}"#.into(), None, Some("missing_member")),
        ("name empty", r#"{"client_name":"  "}"#.into(), None, Some("empty_value")),
        ("name number", r#"{"client_name":1}"#.into(), Some("wrong_type"), None),
        // URL members
        // display links: never fetched server-side, so no egress rules; http is a warning
        ("client_uri http", r#"{"client_uri":"http://app.example.com"}"#.into(), None, Some("url_not_https")),
        ("client_uri relative", r#"{"client_uri":"app.example.com"}"#.into(), Some("invalid_url"), None),
        ("logo localhost: a prefetch would be refused, so a warning", r#"{"logo_uri":"https://localhost/logo.png"}"#.into(), None, Some("fake_blocked")),
        ("logo http", r#"{"logo_uri":"http://cdn.example.net/logo.png"}"#.into(), None, Some("url_not_https")),
        ("logo ok", r#"{"logo_uri":"https://cdn.example.net/logo.png"}"#.into(), None, None),
        ("tos private", r#"{"tos_uri":"https://192.168.1.1/tos"}"#.into(), None, Some("fake_blocked")),
        // fetched or called server-side by the AS: egress rules are errors
        ("sector_identifier_uri private", r#"{"sector_identifier_uri":"https://10.0.0.9/s.json"}"#.into(), Some("fake_blocked"), None),
        ("sector_identifier_uri ok", r#"{"sector_identifier_uri":"https://app.example.com/s.json"}"#.into(), None, None),
        ("backchannel_logout_uri localhost", r#"{"backchannel_logout_uri":"https://localhost/logout"}"#.into(), Some("fake_blocked"), None),
        ("request_uris private", r#"{"request_uris":["https://app.example.com/r","https://192.168.0.2/r"]}"#.into(), Some("fake_blocked"), None),
        ("request_uris http", r#"{"request_uris":["http://app.example.com/r"]}"#.into(), Some("url_not_https"), None),
        // visited by the browser only: https, but no egress rules
        ("initiate_login_uri intranet", r#"{"initiate_login_uri":"https://10.0.0.9/login"}"#.into(), None, None),
        ("frontchannel_logout_uri http", r#"{"frontchannel_logout_uri":"http://app.example.com/l"}"#.into(), Some("url_not_https"), None),
        ("policy intranet port", r#"{"policy_uri":"https://intranet.corp:8443/p"}"#.into(), None, None),
        ("redirects absent, client_credentials only (CIMD draft: no redirect registered)", r#"{"redirect_uris":null,"grant_types":["client_credentials"],"response_types":null,"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://app.example.com/jwks"}"#.into(), None, Some("missing_member")),
        ("redirects absent, grant_types default", r#"{"redirect_uris":null,"grant_types":null}"#.into(), Some("missing_member"), None),
        ("policy fragment", r#"{"policy_uri":"https://app.example.com/p#x"}"#.into(), None, None),
        // grants
        ("implicit grant", r#"{"grant_types":["implicit"],"response_types":["token"]}"#.into(), Some("implicit_flow_not_allowed"), None),
        ("token response", r#"{"response_types":["code token"]}"#.into(), Some("implicit_flow_not_allowed"), None),
        ("code without grant", r#"{"grant_types":["urn:ietf:params:oauth:grant-type:device_code"],"response_types":["code"]}"#.into(), Some("grant_response_type_mismatch"), None),
        ("device code only, response_types absent", r#"{"grant_types":["urn:ietf:params:oauth:grant-type:device_code"],"response_types":null}"#.into(), None, None),
        ("public client_credentials", r#"{"grant_types":["client_credentials"],"response_types":null}"#.into(), Some("public_client_credentials_grant"), None),
        ("public client_credentials, method absent", r#"{"grant_types":["client_credentials"],"response_types":null,"token_endpoint_auth_method":null}"#.into(), Some("public_client_credentials_grant"), None),
        ("confidential client_credentials", r#"{"grant_types":["client_credentials"],"response_types":null,"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://app.example.com/jwks"}"#.into(), None, None),
        ("grant without code", r#"{"response_types":["id_token"]}"#.into(), Some("grant_response_type_mismatch"), None),
        ("defaults", r#"{"grant_types":null,"response_types":null}"#.into(), None, None),
        ("refresh", r#"{"grant_types":["authorization_code","refresh_token"]}"#.into(), None, None),
        // RFC 7591: unknown members are ignored
        ("unknown member", r#"{"software_id":"x","dpop_bound_access_tokens":true}"#.into(), None, None),
    ];
    for (case, p, error, warning) in cases {
        let v = check(Kind::ClientMetadata, URL, &patch(BASE, &p));
        assert_outcome(&v, case, error, warning);
    }
}

#[test]
fn embedded_jwks_problems_point_into_jwks() {
    let jwks = EC_JWKS.replace(r#""kid":"a""#, r#""kid":"a","d":"AAAA""#);
    let body = patch(BASE, &format!(r#"{{"jwks":{jwks}}}"#));
    let v = check(Kind::ClientMetadata, URL, &body);
    let p = v
        .problems
        .iter()
        .find(|p| p.code.as_str() == "jwk_private_member")
        .unwrap();
    assert_eq!(p.at.as_deref(), Some("/jwks/keys/0/d"));
}

#[test]
fn precheck_table() {
    let options = DocumentsConfig::default();
    let ctx = Context::new(&FakeRules, &options);
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("https://app.example.com/c.json", &[], &[]),
        ("https://app.example.com:8443/a/b", &[], &[]),
        (
            "http://app.example.com/c.json",
            &["client_id_not_https_url"],
            &[],
        ),
        ("not a url", &["client_id_not_https_url"], &[]),
        ("https:///c.json", &["client_id_not_https_url"], &[]),
        ("https://app.example.com", &["client_id_no_path"], &[]),
        ("https://app.example.com/", &["client_id_no_path"], &[]),
        (
            "https://app.example.com/a/../c.json",
            &["client_id_dot_segment"],
            &[],
        ),
        (
            "https://app.example.com/./c.json",
            &["client_id_dot_segment"],
            &[],
        ),
        (
            "https://app.example.com/a/%2e%2e/c.json",
            &["client_id_dot_segment"],
            &[],
        ),
        (
            "https://app.example.com/a/%2E/c.json",
            &["client_id_dot_segment"],
            &[],
        ),
        (
            "https://app.example.com/a/.%2e/c.json",
            &["client_id_dot_segment"],
            &[],
        ),
        ("https://app.example.com/a/..c.json", &[], &[]),
        (
            "https://app.example.com/c.json#x",
            &["client_id_has_fragment"],
            &[],
        ),
        (
            "https://app.example.com/c.json#",
            &["client_id_has_fragment"],
            &[],
        ),
        (
            "https://u:p@app.example.com/c.json",
            &["client_id_has_userinfo"],
            &[],
        ),
        (
            "https://@app.example.com/c.json",
            &["client_id_has_userinfo"],
            &[],
        ),
        (
            "https://app.example.com/c.json?v=1",
            &[],
            &["client_id_has_query"],
        ),
    ];
    for (url, errs, warns) in cases {
        let problems = precheck_url(Kind::ClientMetadata, url, &ctx);
        let e: Vec<_> = problems
            .iter()
            .filter(|p| p.is_error())
            .map(|p| p.code.as_str())
            .collect();
        let w: Vec<_> = problems
            .iter()
            .filter(|p| !p.is_error())
            .map(|p| p.code.as_str())
            .collect();
        assert_eq!(&e, errs, "{url}");
        assert_eq!(&w, warns, "{url}");
    }
    for kind in [
        Kind::Jwks,
        Kind::Json,
        Kind::ProtectedResourceMetadata,
        Kind::AuthorizationServerMetadata,
    ] {
        assert!(precheck_url(kind, "http://x", &ctx).is_empty());
    }
}

#[test]
fn client_id_domain_allow_list() {
    let options = DocumentsConfig {
        client_id_domains: vec!["example.com".into(), ".Example.org.".into()],
        ..DocumentsConfig::default()
    };
    let ctx = Context::new(&FakeRules, &options);
    for ok in [
        "https://example.com/c",
        "https://app.example.com/c",
        "https://a.b.example.org/c",
    ] {
        assert!(
            precheck_url(Kind::ClientMetadata, ok, &ctx).is_empty(),
            "{ok}"
        );
    }
    for bad in [
        "https://evil-example.com/c",
        "https://example.com.evil.net/c",
        "https://org/c",
    ] {
        let p = precheck_url(Kind::ClientMetadata, bad, &ctx);
        assert_eq!(p[0].code.as_str(), "client_id_domain_not_allowed", "{bad}");
    }
}

#[test]
fn validate_repeats_precheck() {
    let url = "https://app.example.com/";
    let body = patch(BASE, r#"{"client_id":"https://app.example.com/"}"#);
    assert_outcome(
        &check(Kind::ClientMetadata, url, &body),
        "no path",
        Some("client_id_no_path"),
        None,
    );
}

#[test]
fn same_origin_option() {
    let options = DocumentsConfig {
        cimd_same_origin_redirects: true,
        ..DocumentsConfig::default()
    };
    let run_p = |p: &str| {
        run(
            Kind::ClientMetadata,
            URL,
            patch(BASE, p).as_bytes(),
            &Expect::default(),
            &options,
        )
    };
    assert_outcome(&run_p("{}"), "same origin", None, None);
    assert_outcome(
        &run_p(r#"{"redirect_uris":["http://127.0.0.1/cb"]}"#),
        "loopback",
        None,
        None,
    );
    assert_outcome(
        &run_p(r#"{"redirect_uris":["https://other.example.net/cb"]}"#),
        "cross",
        Some("redirect_uri_cross_origin"),
        None,
    );
    assert_outcome(
        &run_p(r#"{"redirect_uris":["https://app.example.com:444/cb"]}"#),
        "port",
        Some("redirect_uri_cross_origin"),
        None,
    );
    assert_outcome(
        &run_p(r#"{"client_uri":"https://other.example.net"}"#),
        "client_uri",
        Some("client_uri_cross_origin"),
        None,
    );
    // Off by default.
    let v = check(
        Kind::ClientMetadata,
        URL,
        &patch(
            BASE,
            r#"{"redirect_uris":["https://other.example.net/cb"]}"#,
        ),
    );
    assert_outcome(&v, "option off", None, None);
}

#[test]
fn cimd_never_follows_redirects() {
    assert!(!follows_redirects(Kind::ClientMetadata));
    assert!(follows_redirects(Kind::Jwks));
}

#[test]
fn json_errors_stop_validation() {
    let v = check(
        Kind::ClientMetadata,
        URL,
        r#"{"client_id":"a","client_id":"b"}"#,
    );
    assert_eq!(errors(&v), ["duplicate_member"]);
    assert_eq!(v.problems[0].at.as_deref(), Some("/client_id"));
}
