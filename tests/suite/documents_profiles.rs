//! Profiles (`oauth`, `mcp`, `atproto`): which rules each applies, how a profile is chosen
//! (request beats config), and that every profile-only problem names its profile.

use crate::doc_support::*;
use portcullis::config::DocumentsConfig;
use portcullis::documents::Expect;
use portcullis::kind::{Kind, Profile};
use portcullis::problem::Severity;

const ATPROTO_URL: &str = "https://my-app.com/client-metadata.json";
const COVES_URL: &str = "https://coves.social/client-metadata.json";

/// Every problem raised by a rule that only one profile has carries that profile.
#[track_caller]
fn assert_tagged(v: &portcullis::documents::Validated, codes_of: Profile, prefix: &str) {
    for p in &v.problems {
        if p.code.as_str().starts_with(prefix) {
            assert_eq!(p.profile, Some(codes_of), "{p:?}");
        }
    }
}

#[test]
fn mcp_rules_are_errors_under_mcp_warnings_under_oauth_silent_under_atproto() {
    let cimd = patch(
        &fixture("mcp-spec-example.cimd.json"),
        r#"{"client_id":"https://app.example.com/oauth/client-metadata.json","client_name":null}"#,
    );
    let url = "https://app.example.com/oauth/client-metadata.json";
    let prm = patch(
        &fixture("github-mcp.prm.json"),
        r#"{"authorization_servers":null}"#,
    );
    let prm_url = "https://api.githubcopilot.com/.well-known/oauth-protected-resource/mcp";
    let cases: &[(&str, Kind, &str, &str, &str)] = &[
        (
            "cimd without client_name",
            Kind::ClientMetadata,
            url,
            &cimd,
            "missing_member",
        ),
        (
            "prm without authorization_servers",
            Kind::ProtectedResourceMetadata,
            prm_url,
            &prm,
            "missing_member",
        ),
    ];
    for (case, kind, url, body, code) in cases {
        let v = check_profile(*kind, url, body, Profile::Mcp);
        assert_outcome(&v, &format!("{case} / mcp"), Some(code), None);
        assert_eq!(profiles_of(&v, code), [Some(Profile::Mcp)], "{case}");

        let v = check_profile(*kind, url, body, Profile::Oauth);
        assert_outcome(&v, &format!("{case} / oauth"), None, Some(code));
        assert_eq!(profiles_of(&v, code), [Some(Profile::Mcp)], "{case}");

        // atproto does not have the MCP rule (the CIMD fails atproto's own rules: no DPoP).
        let v = check_profile(*kind, url, body, Profile::Atproto);
        assert!(
            profiles_of(&v, code).is_empty(),
            "{case}: {:#?}",
            v.problems
        );
    }
}

#[test]
fn redirect_uris_for_a_client_without_redirects_is_an_mcp_rule() {
    let body = r#"{"client_id":"https://svc.example.com/client.json","client_name":"Batch",
      "grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt",
      "jwks_uri":"https://svc.example.com/jwks"}"#;
    let url = "https://svc.example.com/client.json";
    let v = check_profile(Kind::ClientMetadata, url, body, Profile::Oauth);
    assert_outcome(&v, "oauth", None, Some("missing_member"));
    assert_eq!(profiles_of(&v, "missing_member"), [Some(Profile::Mcp)]);
    let v = check_profile(Kind::ClientMetadata, url, body, Profile::Mcp);
    assert_outcome(&v, "mcp", Some("missing_member"), None);
}

#[test]
fn rfc_rules_carry_no_profile_tag() {
    let body = patch(
        &fixture("mcp-spec-example.cimd.json"),
        r#"{"client_id":"https://app.example.com/other.json"}"#,
    );
    for profile in Profile::ALL {
        let v = check_profile(
            Kind::ClientMetadata,
            "https://app.example.com/oauth/client-metadata.json",
            &body,
            profile,
        );
        assert_outcome(&v, profile.as_str(), Some("client_id_mismatch"), None);
        assert_eq!(profiles_of(&v, "client_id_mismatch"), [None]);
    }
}

#[test]
fn request_profile_beats_the_configured_default() {
    let body = patch(
        &fixture("mcp-spec-example.cimd.json"),
        r#"{"client_id":"https://app.example.com/c.json","client_name":null}"#,
    );
    let url = "https://app.example.com/c.json";
    let mcp_config = DocumentsConfig {
        profile: Profile::Mcp,
        ..DocumentsConfig::default()
    };
    let v = run(
        Kind::ClientMetadata,
        url,
        body.as_bytes(),
        &Expect::default(),
        &mcp_config,
    );
    assert_outcome(&v, "config mcp", Some("missing_member"), None);
    let oauth = Expect {
        profile: Some(Profile::Oauth),
        ..Expect::default()
    };
    let v = run(
        Kind::ClientMetadata,
        url,
        body.as_bytes(),
        &oauth,
        &mcp_config,
    );
    assert_outcome(
        &v,
        "request oauth over config mcp",
        None,
        Some("missing_member"),
    );
    // The shipped default is oauth.
    assert_eq!(DocumentsConfig::default().profile, Profile::Oauth);
    assert_eq!(portcullis::config::DEFAULT_PROFILE, Profile::Oauth);
}

#[test]
fn real_atproto_apps_are_valid_under_oauth_and_atproto() {
    let cases = [
        ("atproto-example.cimd.json", ATPROTO_URL),
        ("coves-atproto.cimd.json", COVES_URL),
    ];
    for (name, url) in cases {
        let body = fixture(name);
        for profile in [Profile::Oauth, Profile::Atproto] {
            let v = check_profile(Kind::ClientMetadata, url, &body, profile);
            assert_outcome(&v, &format!("{name} / {profile}"), None, None);
            assert!(errors(&v).is_empty());
        }
        // Without client_name: still valid under oauth and atproto, refused under mcp.
        let nameless = patch(&body, r#"{"client_name":null}"#);
        for profile in [Profile::Oauth, Profile::Atproto] {
            let v = check_profile(Kind::ClientMetadata, url, &nameless, profile);
            assert_outcome(&v, &format!("{name} nameless / {profile}"), None, None);
        }
        let v = check_profile(Kind::ClientMetadata, url, &nameless, Profile::Mcp);
        assert_outcome(
            &v,
            &format!("{name} nameless / mcp"),
            Some("missing_member"),
            None,
        );
    }
}

#[test]
fn atproto_rules_table() {
    let base = fixture("atproto-example.cimd.json");
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("as published", "{}", None),
        (
            "dpop false",
            r#"{"dpop_bound_access_tokens":false}"#,
            Some("atproto_dpop_required"),
        ),
        (
            "dpop absent",
            r#"{"dpop_bound_access_tokens":null}"#,
            Some("atproto_member_required"),
        ),
        (
            "scope absent",
            r#"{"scope":null}"#,
            Some("atproto_member_required"),
        ),
        (
            "scope without atproto",
            r#"{"scope":"transition:generic"}"#,
            Some("atproto_scope_missing"),
        ),
        (
            "scope with atproto among others",
            r#"{"scope":"transition:generic atproto"}"#,
            None,
        ),
        (
            "grant_types absent",
            r#"{"grant_types":null}"#,
            Some("atproto_member_required"),
        ),
        (
            "response_types absent",
            r#"{"response_types":null}"#,
            Some("atproto_member_required"),
        ),
        (
            "auth method absent",
            r#"{"token_endpoint_auth_method":null}"#,
            Some("atproto_member_required"),
        ),
        (
            "application_type desktop",
            r#"{"application_type":"desktop"}"#,
            Some("atproto_application_type_invalid"),
        ),
        (
            "application_type absent (web)",
            r#"{"application_type":null}"#,
            None,
        ),
        (
            "device code grant",
            r#"{"grant_types":["authorization_code","urn:ietf:params:oauth:grant-type:device_code"]}"#,
            Some("atproto_grant_not_allowed"),
        ),
        (
            "refresh only",
            r#"{"grant_types":["refresh_token"],"response_types":["code"]}"#,
            Some("atproto_grant_not_allowed"),
        ),
        (
            "tls client auth",
            r#"{"token_endpoint_auth_method":"tls_client_auth"}"#,
            Some("atproto_auth_method_not_allowed"),
        ),
        (
            "private_key_jwt without signing alg",
            r#"{"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://my-app.com/jwks"}"#,
            Some("atproto_auth_method_not_allowed"),
        ),
        (
            "private_key_jwt with signing alg",
            r#"{"token_endpoint_auth_method":"private_key_jwt","token_endpoint_auth_signing_alg":"ES256","jwks_uri":"https://my-app.com/jwks"}"#,
            None,
        ),
        (
            "native reverse-domain scheme",
            r#"{"redirect_uris":["com.my-app:/callback"]}"#,
            None,
        ),
        (
            "native other app's scheme",
            r#"{"redirect_uris":["com.other-app:/callback"]}"#,
            Some("atproto_redirect_uri_not_allowed"),
        ),
        (
            "native scheme with //",
            r#"{"redirect_uris":["com.my-app://callback"]}"#,
            Some("atproto_redirect_uri_not_allowed"),
        ),
        (
            "native loopback IP",
            r#"{"redirect_uris":["http://127.0.0.1:8080/cb"]}"#,
            None,
        ),
        (
            "native localhost name",
            r#"{"redirect_uris":["http://localhost:8080/cb"]}"#,
            Some("atproto_redirect_uri_not_allowed"),
        ),
        (
            "web custom scheme",
            r#"{"application_type":"web","redirect_uris":["com.my-app:/callback"]}"#,
            Some("atproto_redirect_uri_not_allowed"),
        ),
        (
            "web loopback",
            r#"{"application_type":"web","redirect_uris":["http://127.0.0.1/cb"]}"#,
            Some("atproto_redirect_uri_not_allowed"),
        ),
    ];
    for (case, p, error) in cases {
        let body = patch(&base, p);
        let v = check_profile(Kind::ClientMetadata, ATPROTO_URL, &body, Profile::Atproto);
        assert_outcome(&v, case, *error, None);
        assert_tagged(&v, Profile::Atproto, "atproto_");
        // The same document under oauth: no atproto rule fires.
        let v = check_profile(Kind::ClientMetadata, ATPROTO_URL, &body, Profile::Oauth);
        assert!(
            !v.problems
                .iter()
                .any(|p| p.code.as_str().starts_with("atproto_")),
            "{case} / oauth: {:#?}",
            v.problems
        );
    }
}

#[test]
fn pkce_rule_severity_per_profile() {
    let apple = fixture("apple.metadata.json");
    let url = "https://appleid.apple.com/.well-known/openid-configuration";
    let expected = [
        (Profile::Oauth, Some(Severity::Warning)),
        (Profile::Mcp, Some(Severity::Error)),
        (Profile::Atproto, None),
    ];
    for (profile, severity) in expected {
        let v = check_profile(Kind::AuthorizationServerMetadata, url, &apple, profile);
        let got: Vec<_> = v
            .problems
            .iter()
            .filter(|p| p.code.as_str() == "pkce_s256_not_supported")
            .map(|p| (p.severity, p.profile))
            .collect();
        match severity {
            Some(s) => assert_eq!(got, [(s, Some(Profile::Mcp))], "{profile}"),
            None => assert!(got.is_empty(), "{profile}: {got:?}"),
        }
    }
}

#[test]
fn profile_names_parse_and_print() {
    for profile in Profile::ALL {
        assert_eq!(profile.as_str().parse::<Profile>().unwrap(), profile);
        assert_eq!(
            serde_json::to_value(profile).unwrap(),
            serde_json::json!(profile.as_str())
        );
    }
    assert!("MCP".parse::<Profile>().is_err());
    assert!("openid".parse::<Profile>().is_err());
}

#[test]
fn request_body_profile_member() {
    use portcullis::server::request::parse_fetch_request;
    let cases: &[(&str, Result<Option<Profile>, ()>)] = &[
        (r#"{"url":"https://a.example/x","kind":"jwks"}"#, Ok(None)),
        (
            r#"{"url":"https://a.example/x","kind":"jwks","profile":"mcp"}"#,
            Ok(Some(Profile::Mcp)),
        ),
        (
            r#"{"url":"https://a.example/x","kind":"jwks","profile":"atproto"}"#,
            Ok(Some(Profile::Atproto)),
        ),
        (
            r#"{"url":"https://a.example/x","kind":"jwks","profile":"oauth"}"#,
            Ok(Some(Profile::Oauth)),
        ),
        (
            r#"{"url":"https://a.example/x","kind":"jwks","profile":"openid"}"#,
            Err(()),
        ),
        (
            r#"{"url":"https://a.example/x","kind":"jwks","profile":1}"#,
            Err(()),
        ),
        (
            r#"{"url":"https://a.example/x","kind":"jwks","expect":{"profile":"mcp"}}"#,
            Err(()),
        ),
    ];
    for (body, want) in cases {
        let got = parse_fetch_request(body.as_bytes())
            .map(|r| r.profile)
            .map_err(|e| assert_eq!(e.code(), "invalid_request"));
        assert_eq!(got, *want, "{body}");
    }
}

#[test]
fn profile_config_key() {
    let c =
        portcullis::config::Config::from_toml_str("[documents]\nprofile = \"atproto\"\n").unwrap();
    assert_eq!(c.documents.profile, Profile::Atproto);
    assert!(
        portcullis::config::Config::from_toml_str("[documents]\nprofile = \"nope\"\n").is_err()
    );
}
