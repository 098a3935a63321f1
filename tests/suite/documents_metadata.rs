//! Protected resource metadata (RFC 9728), authorization server metadata (RFC 8414) and
//! the plain `json` kind: one passing and one failing case per rule at least.

use crate::doc_support::*;
use portcullis::config::DocumentsConfig;
use portcullis::documents::Expect;
use portcullis::kind::Kind;

const PRM_URL: &str = "https://api.example.com/.well-known/oauth-protected-resource/mcp";
const PRM: &str = r#"{"resource":"https://api.example.com/mcp","authorization_servers":["https://as.example.com"]}"#;

#[test]
fn prm_rules_table() {
    let cases: &[(&str, &str, Option<&str>, Option<&str>)] = &[
        ("base", "{}", None, None),
        (
            "resource other",
            r#"{"resource":"https://api.example.com/other"}"#,
            Some("resource_mismatch"),
            None,
        ),
        (
            "resource trailing slash",
            r#"{"resource":"https://api.example.com/mcp/"}"#,
            Some("resource_mismatch"),
            None,
        ),
        (
            "resource case",
            r#"{"resource":"https://API.example.com/mcp"}"#,
            Some("resource_mismatch"),
            None,
        ),
        (
            "resource missing",
            r#"{"resource":null}"#,
            Some("missing_member"),
            None,
        ),
        (
            "servers missing (MCP rule: warning under oauth)",
            r#"{"authorization_servers":null}"#,
            None,
            Some("missing_member"),
        ),
        (
            "servers empty",
            r#"{"authorization_servers":[]}"#,
            Some("empty_value"),
            None,
        ),
        (
            "server http",
            r#"{"authorization_servers":["http://as.example.com"]}"#,
            Some("url_not_https"),
            None,
        ),
        (
            "server query",
            r#"{"authorization_servers":["https://as.example.com/?t=1"]}"#,
            Some("authorization_server_not_issuer"),
            None,
        ),
        (
            "server fragment",
            r#"{"authorization_servers":["https://as.example.com/#x"]}"#,
            Some("url_has_fragment"),
            None,
        ),
        (
            "server private",
            r#"{"authorization_servers":["https://10.1.2.3"]}"#,
            Some("fake_blocked"),
            None,
        ),
        (
            "server with path",
            r#"{"authorization_servers":["https://as.example.com/tenant"]}"#,
            None,
            None,
        ),
        (
            "jwks_uri http",
            r#"{"jwks_uri":"http://api.example.com/jwks"}"#,
            Some("url_not_https"),
            None,
        ),
        (
            "jwks_uri ok",
            r#"{"jwks_uri":"https://api.example.com/jwks"}"#,
            None,
            None,
        ),
        (
            "bearer ok",
            r#"{"bearer_methods_supported":["header","body","query"]}"#,
            None,
            None,
        ),
        (
            "bearer cookie",
            r#"{"bearer_methods_supported":["cookie"]}"#,
            Some("bearer_method_unknown"),
            None,
        ),
        (
            "doc link http (a link: warning, no egress rules)",
            r#"{"resource_documentation":"http://api.example.com/docs"}"#,
            None,
            Some("url_not_https"),
        ),
        (
            "doc link localhost (a link: no egress rules)",
            r#"{"resource_policy_uri":"https://localhost/p"}"#,
            None,
            None,
        ),
        (
            "resource signing algs offer none",
            r#"{"resource_signing_alg_values_supported":["ES256","none"]}"#,
            Some("signing_alg_none"),
            None,
        ),
        (
            "resource signing algs without none",
            r#"{"resource_signing_alg_values_supported":["ES256"]}"#,
            None,
            None,
        ),
        (
            "server is an AS metadata URL",
            r#"{"authorization_servers":["https://as.example.com/.well-known/oauth-authorization-server"]}"#,
            Some("issuer_is_metadata_url"),
            None,
        ),
        (
            "server is an OIDC configuration URL",
            r#"{"authorization_servers":["https://as.example.com/tenant/.well-known/openid-configuration"]}"#,
            Some("issuer_is_metadata_url"),
            None,
        ),
        (
            "server path merely mentions well-known",
            r#"{"authorization_servers":["https://as.example.com/well-known-tenant"]}"#,
            None,
            None,
        ),
    ];
    for (case, p, error, warning) in cases {
        let v = check(Kind::ProtectedResourceMetadata, PRM_URL, &patch(PRM, p));
        assert_outcome(&v, case, *error, *warning);
    }
}

#[test]
fn prm_expected_resource() {
    let opts = DocumentsConfig::default();
    // Not a well-known URL and no expectation.
    let v = check(
        Kind::ProtectedResourceMetadata,
        "https://api.example.com/prm.json",
        PRM,
    );
    assert_outcome(&v, "unknown", Some("expected_resource_unknown"), None);
    // The expectation overrides the URL.
    let expect = Expect {
        resource: Some("https://api.example.com/mcp".into()),
        issuer: None,
        profile: None,
    };
    let v = run(
        Kind::ProtectedResourceMetadata,
        "https://api.example.com/prm.json",
        PRM.as_bytes(),
        &expect,
        &opts,
    );
    assert_outcome(&v, "expected", None, None);
    let expect = Expect {
        resource: Some("https://api.example.com/other".into()),
        issuer: None,
        profile: None,
    };
    let v = run(
        Kind::ProtectedResourceMetadata,
        PRM_URL,
        PRM.as_bytes(),
        &expect,
        &opts,
    );
    assert_outcome(&v, "expected other", Some("resource_mismatch"), None);
    // Host-only: `https://h` and `https://h/` both build the same URL, both accepted.
    for r in ["https://api.example.com", "https://api.example.com/"] {
        let body = patch(PRM, &format!(r#"{{"resource":"{r}"}}"#));
        let v = check(
            Kind::ProtectedResourceMetadata,
            "https://api.example.com/.well-known/oauth-protected-resource",
            &body,
        );
        assert_outcome(&v, r, None, None);
    }
}

const AS_URL: &str = "https://as.example.com/.well-known/oauth-authorization-server/tenant";
const AS: &str = r#"{"issuer":"https://as.example.com/tenant",
 "authorization_endpoint":"https://as.example.com/tenant/authorize",
 "token_endpoint":"https://as.example.com/tenant/token",
 "response_types_supported":["code"],
 "code_challenge_methods_supported":["S256"]}"#;

#[test]
fn as_rules_table() {
    let cases: &[(&str, &str, Option<&str>, Option<&str>)] = &[
        ("base", "{}", None, None),
        (
            "issuer other",
            r#"{"issuer":"https://as.example.com/other"}"#,
            Some("issuer_mismatch"),
            None,
        ),
        (
            "issuer missing",
            r#"{"issuer":null}"#,
            Some("missing_member"),
            None,
        ),
        (
            "issuer query",
            r#"{"issuer":"https://as.example.com/tenant?x=1"}"#,
            Some("issuer_has_query"),
            None,
        ),
        (
            "issuer fragment",
            r#"{"issuer":"https://as.example.com/tenant#x"}"#,
            Some("url_has_fragment"),
            None,
        ),
        (
            "issuer http",
            r#"{"issuer":"http://as.example.com/tenant"}"#,
            Some("url_not_https"),
            None,
        ),
        (
            "issuer template",
            r#"{"issuer":"https://as.example.com/{tenant}"}"#,
            Some("issuer_templated"),
            None,
        ),
        (
            "issuer trailing slash",
            r#"{"issuer":"https://as.example.com/tenant/"}"#,
            None,
            None,
        ),
        (
            "response types missing",
            r#"{"response_types_supported":null}"#,
            Some("missing_member"),
            None,
        ),
        (
            "response types empty",
            r#"{"response_types_supported":[]}"#,
            Some("empty_value"),
            None,
        ),
        (
            "authz endpoint missing",
            r#"{"authorization_endpoint":null}"#,
            Some("missing_member"),
            None,
        ),
        (
            "authz endpoint not needed",
            r#"{"authorization_endpoint":null,"grant_types_supported":["client_credentials"]}"#,
            None,
            None,
        ),
        (
            "token endpoint missing",
            r#"{"token_endpoint":null}"#,
            Some("missing_member"),
            None,
        ),
        (
            "token endpoint not needed",
            r#"{"token_endpoint":null,"grant_types_supported":["implicit"]}"#,
            None,
            None,
        ),
        (
            "authz http",
            r#"{"authorization_endpoint":"http://as.example.com/a"}"#,
            Some("url_not_https"),
            None,
        ),
        (
            "token private",
            r#"{"token_endpoint":"https://192.168.0.10/token"}"#,
            Some("fake_blocked"),
            None,
        ),
        (
            "jwks_uri localhost",
            r#"{"jwks_uri":"https://localhost/jwks"}"#,
            Some("fake_blocked"),
            None,
        ),
        (
            "registration relative",
            r#"{"registration_endpoint":"/register"}"#,
            Some("invalid_url"),
            None,
        ),
        (
            "docs http (a link: warning, no egress rules)",
            r#"{"service_documentation":"http://as.example.com/docs"}"#,
            None,
            Some("url_not_https"),
        ),
        // MCP rule: a warning tagged mcp under the default oauth profile
        (
            "pkce missing",
            r#"{"code_challenge_methods_supported":null}"#,
            None,
            Some("pkce_s256_not_supported"),
        ),
        (
            "pkce plain only",
            r#"{"code_challenge_methods_supported":["plain"]}"#,
            None,
            Some("pkce_s256_not_supported"),
        ),
        // browser-only endpoints: https and no fragment, but no egress rules
        (
            "authz endpoint on a port and an intranet name",
            r#"{"authorization_endpoint":"https://login.corp:8443/authorize"}"#,
            None,
            None,
        ),
        (
            "authz endpoint on a private IP",
            r#"{"authorization_endpoint":"https://10.0.0.5/authorize"}"#,
            None,
            None,
        ),
        (
            "authz endpoint fragment",
            r#"{"authorization_endpoint":"https://as.example.com/a#x"}"#,
            Some("url_has_fragment"),
            None,
        ),
        (
            "end_session on localhost",
            r#"{"end_session_endpoint":"https://localhost/logout"}"#,
            None,
            None,
        ),
        (
            "end_session http",
            r#"{"end_session_endpoint":"http://as.example.com/logout"}"#,
            Some("url_not_https"),
            None,
        ),
        (
            "userinfo private (fetched server-side)",
            r#"{"userinfo_endpoint":"https://10.0.0.5/userinfo"}"#,
            Some("fake_blocked"),
            None,
        ),
        (
            "token endpoint signing algs offer none",
            r#"{"token_endpoint_auth_signing_alg_values_supported":["RS256","none"]}"#,
            Some("signing_alg_none"),
            None,
        ),
        (
            "token endpoint signing algs without none",
            r#"{"token_endpoint_auth_signing_alg_values_supported":["RS256","ES256"]}"#,
            None,
            None,
        ),
        (
            "introspection signing algs offer none",
            r#"{"introspection_endpoint_auth_signing_alg_values_supported":["none"]}"#,
            Some("signing_alg_none"),
            None,
        ),
        (
            "issuer is a metadata URL",
            r#"{"issuer":"https://as.example.com/tenant/.well-known/oauth-authorization-server"}"#,
            Some("issuer_is_metadata_url"),
            None,
        ),
        (
            "pkce both",
            r#"{"code_challenge_methods_supported":["plain","S256"]}"#,
            None,
            Some("pkce_plain_supported"),
        ),
        (
            "cimd flag wrong type",
            r#"{"client_id_metadata_document_supported":"yes"}"#,
            Some("wrong_type"),
            None,
        ),
        (
            "cimd flag",
            r#"{"client_id_metadata_document_supported":true}"#,
            None,
            None,
        ),
    ];
    for (case, p, error, warning) in cases {
        let v = check(Kind::AuthorizationServerMetadata, AS_URL, &patch(AS, p));
        assert_outcome(&v, case, *error, *warning);
    }
}

#[test]
fn as_cimd_flag_is_always_in_the_output() {
    let v = check(Kind::AuthorizationServerMetadata, AS_URL, AS);
    assert_eq!(
        v.document.unwrap()["client_id_metadata_document_supported"],
        false
    );
    let body = patch(AS, r#"{"client_id_metadata_document_supported":true}"#);
    let v = check(Kind::AuthorizationServerMetadata, AS_URL, &body);
    assert_eq!(
        v.document.unwrap()["client_id_metadata_document_supported"],
        true
    );
}

#[test]
fn as_expected_issuer_forms() {
    for url in [
        AS_URL,
        "https://as.example.com/.well-known/openid-configuration/tenant",
        "https://as.example.com/tenant/.well-known/openid-configuration",
    ] {
        assert_outcome(
            &check(Kind::AuthorizationServerMetadata, url, AS),
            url,
            None,
            None,
        );
    }
    let v = check(
        Kind::AuthorizationServerMetadata,
        "https://as.example.com/.well-known/oauth-authorization-server",
        AS,
    );
    assert_outcome(&v, "root form", Some("issuer_mismatch"), None);
    let v = check(
        Kind::AuthorizationServerMetadata,
        "https://as.example.com/meta.json",
        AS,
    );
    assert_outcome(&v, "unknown", Some("expected_issuer_unknown"), None);
    let expect = Expect {
        resource: None,
        issuer: Some("https://as.example.com/tenant".into()),
        profile: None,
    };
    let v = run(
        Kind::AuthorizationServerMetadata,
        "https://as.example.com/meta.json",
        AS.as_bytes(),
        &expect,
        &DocumentsConfig::default(),
    );
    assert_outcome(&v, "expected", None, None);
}

#[test]
fn json_kind_reads_strictly_and_returns_the_object() {
    let v = check(Kind::Json, "https://x.example/a", r#"{"a":[1,{"b":null}]}"#);
    assert_eq!(v.document.unwrap(), serde_json::json!({"a":[1,{"b":null}]}));
    let cases: &[(&[u8], &str)] = &[
        (b"[1]", "not_an_object"),
        (b"{\"a\":1,\"a\":1}", "duplicate_member"),
        (b"\xEF\xBB\xBF{}", "bom_not_allowed"),
        (b"{\"a\":\"\xC3\x28\"}", "not_utf8"),
        (b"{\"a\":1,}", "invalid_json"),
        (b"{\"a\":NaN}", "invalid_json"),
        (b"{\"a\":1e999}", "invalid_json"),
    ];
    for (body, code) in cases {
        let v = run(
            Kind::Json,
            "https://x.example/a",
            body,
            &Expect::default(),
            &DocumentsConfig::default(),
        );
        assert_eq!(errors(&v), [*code], "{}", String::from_utf8_lossy(body));
        assert!(v.document.is_none());
    }
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(40), "]".repeat(40));
    assert_eq!(
        errors(&check(Kind::Json, "https://x.example/a", &deep)),
        ["json_too_deep"]
    );
    let long = format!("{{\"a\":\"{}\"}}", "x".repeat(16 * 1024 + 1));
    assert_eq!(
        errors(&check(Kind::Json, "https://x.example/a", &long)),
        ["json_string_too_long"]
    );
    let wide = format!("{{\"a\":[{}1]}}", "1,".repeat(1000));
    assert_eq!(
        errors(&check(Kind::Json, "https://x.example/a", &wide)),
        ["json_array_too_long"]
    );
    let members: Vec<String> = (0..257).map(|i| format!("\"m{i}\":1")).collect();
    let many = format!("{{{}}}", members.join(","));
    assert_eq!(
        errors(&check(Kind::Json, "https://x.example/a", &many)),
        ["json_too_many_members"]
    );
}
