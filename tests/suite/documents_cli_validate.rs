//! `portcullis validate` as a CLI: the document validators on a file or stdin, no network
//! (URLs inside documents meet only the pure policy checks), exit codes as `check`
//! (0 valid, 1 otherwise, 2 usage). Also `keygen --alg` for the RFC 9864 names.

use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::doc_support::{fixture, patch};

fn run(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn codes(v: &serde_json::Value) -> Vec<String> {
    v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_owned())
        .collect()
}

/// (case, body, extra args, exit code, profile stated, a code that must be among the problems)
type Case<'a> = (
    &'a str,
    &'a str,
    Vec<&'a str>,
    i32,
    &'a str,
    Option<&'a str>,
);

const CIMD_URL: &str = "https://app.example.com/oauth/client-metadata.json";
const APPLE_URL: &str = "https://appleid.apple.com/.well-known/openid-configuration";
const PRM_URL: &str = "https://api.githubcopilot.com/.well-known/oauth-protected-resource/mcp";

#[test]
fn validate_table() {
    let cimd = fixture("mcp-spec-example.cimd.json");
    let nameless = patch(&cimd, r#"{"client_name":null}"#);
    let internal_jwks = patch(
        &cimd,
        r#"{"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://10.1.2.3/jwks"}"#,
    );
    let unresolvable_jwks = patch(
        &cimd,
        r#"{"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://keys.nonexistent-portcullis-test.example/jwks"}"#,
    );
    let apple = fixture("apple.metadata.json");
    let prm = fixture("github-mcp.prm.json");
    let google = fixture("google.jwks.json");
    let big = format!(
        r#"{{"client_id":"{CIMD_URL}","pad":"{}"}}"#,
        "x".repeat(6_000)
    );
    // (case, body, args, exit, profile, must contain code)
    let cases: Vec<Case> = vec![
        (
            "cimd valid",
            &cimd,
            vec!["--kind", "client_metadata", "--url", CIMD_URL],
            0,
            "oauth",
            None,
        ),
        (
            "cimd judged against itself",
            &cimd,
            vec!["--kind", "client_metadata"],
            0,
            "oauth",
            None,
        ),
        (
            "cimd other url",
            &cimd,
            vec![
                "--kind",
                "client_metadata",
                "--url",
                "https://app.example.com/other.json",
            ],
            1,
            "oauth",
            Some("client_id_mismatch"),
        ),
        (
            "cimd nameless oauth",
            &nameless,
            vec!["--kind", "client_metadata"],
            0,
            "oauth",
            Some("missing_member"),
        ),
        (
            "cimd nameless mcp",
            &nameless,
            vec!["--kind", "client_metadata", "--profile", "mcp"],
            1,
            "mcp",
            Some("missing_member"),
        ),
        (
            "cimd nameless atproto",
            &nameless,
            vec!["--kind", "client_metadata", "--profile", "atproto"],
            1,
            "atproto",
            Some("atproto_member_required"),
        ),
        (
            "jwks_uri on a private address: pure policy check",
            &internal_jwks,
            vec!["--kind", "client_metadata"],
            1,
            "oauth",
            Some("private_use"),
        ),
        (
            "jwks_uri on a name nobody resolves: not resolved",
            &unresolvable_jwks,
            vec!["--kind", "client_metadata"],
            0,
            "oauth",
            None,
        ),
        (
            "apple oauth",
            &apple,
            vec![
                "--kind",
                "authorization_server_metadata",
                "--url",
                APPLE_URL,
            ],
            0,
            "oauth",
            Some("pkce_s256_not_supported"),
        ),
        (
            "apple mcp",
            &apple,
            vec![
                "--kind",
                "authorization_server_metadata",
                "--url",
                APPLE_URL,
                "--profile",
                "mcp",
            ],
            1,
            "mcp",
            Some("pkce_s256_not_supported"),
        ),
        (
            "apple against itself",
            &apple,
            vec!["--kind", "authorization_server_metadata"],
            0,
            "oauth",
            None,
        ),
        (
            "prm valid",
            &prm,
            vec!["--kind", "protected_resource_metadata", "--url", PRM_URL],
            0,
            "oauth",
            None,
        ),
        (
            "prm expect other",
            &prm,
            vec![
                "--kind",
                "protected_resource_metadata",
                "--expect",
                "resource=https://other.example/mcp",
            ],
            1,
            "oauth",
            Some("resource_mismatch"),
        ),
        ("jwks", &google, vec!["--kind", "jwks"], 0, "oauth", None),
        (
            "not json",
            "{nope",
            vec!["--kind", "jwks"],
            1,
            "oauth",
            None,
        ),
        (
            "over the kind's size cap",
            &big,
            vec!["--kind", "client_metadata"],
            1,
            "oauth",
            Some("body_too_large"),
        ),
    ];
    for (case, body, args, exit, profile, code) in cases {
        let f = file(body);
        let path = f.path().display().to_string();
        let mut all = vec!["validate", path.as_str(), "--json"];
        all.extend(args.iter().copied());
        let (got, out, err) = run(&all, None);
        assert_eq!(got, exit, "{case}: {out}{err}");
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(
            v["outcome"],
            if exit == 0 { "valid" } else { "invalid" },
            "{case}"
        );
        assert_eq!(v["profile"], profile, "{case}");
        if let Some(code) = code {
            assert!(codes(&v).contains(&code.to_owned()), "{case}: {v}");
        }
        assert_eq!(
            v.get("document").is_some(),
            exit == 0,
            "{case}: document only when valid"
        );
    }
}

#[test]
fn validate_reads_stdin_and_prints_a_summary() {
    let nameless = patch(
        &fixture("mcp-spec-example.cimd.json"),
        r#"{"client_name":null}"#,
    );
    let (code, out, err) = run(
        &["validate", "-", "--kind", "client_metadata"],
        Some(&nameless),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("outcome:  valid"), "{out}");
    assert!(out.contains("profile:  oauth"), "{out}");
    assert!(
        out.contains("missing_member at /client_name [mcp]"),
        "{out}"
    );
    assert!(err.contains("judged against its own identifier"), "{err}");
    let (code, out, _) = run(
        &[
            "validate",
            "-",
            "--kind",
            "client_metadata",
            "--profile",
            "mcp",
        ],
        Some(&nameless),
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("outcome:  invalid"), "{out}");
}

#[test]
fn validate_usage_errors_exit_2() {
    let f = file("{}");
    let path = f.path().display().to_string();
    let cases: &[&[&str]] = &[
        &["validate", &path],
        &["validate", &path, "--kind", "html"],
        &["validate", &path, "--kind", "jwks", "--profile", "openid"],
        &[
            "validate",
            &path,
            "--kind",
            "jwks",
            "--expect",
            "audience=x",
        ],
        &[
            "validate",
            "/nonexistent/portcullis/doc.json",
            "--kind",
            "jwks",
        ],
        &["validate"],
    ];
    for args in cases {
        let (code, out, err) = run(args, None);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
    }
    let mut bad = tempfile::NamedTempFile::new().unwrap();
    bad.write_all(b"[documents]\nprofile = \"openid\"\n")
        .unwrap();
    let cfg = bad.path().display().to_string();
    let (code, _, err) = run(
        &["validate", &path, "--kind", "jwks", "--config", &cfg],
        None,
    );
    assert_eq!(code, 2, "{err}");
}

#[test]
fn validate_takes_the_profile_default_from_config() {
    let nameless = patch(
        &fixture("mcp-spec-example.cimd.json"),
        r#"{"client_name":null}"#,
    );
    let doc = file(&nameless);
    let mut cfg = tempfile::NamedTempFile::new().unwrap();
    cfg.write_all(b"[documents]\nprofile = \"mcp\"\n").unwrap();
    let (p, c) = (
        doc.path().display().to_string(),
        cfg.path().display().to_string(),
    );
    let (code, out, _) = run(
        &[
            "validate",
            &p,
            "--kind",
            "client_metadata",
            "--config",
            &c,
            "--json",
        ],
        None,
    );
    assert_eq!(code, 1, "{out}");
    let (code, out, _) = run(
        &[
            "validate",
            &p,
            "--kind",
            "client_metadata",
            "--config",
            &c,
            "--profile",
            "oauth",
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0, "flag beats config: {out}");
}

#[test]
fn keygen_alg_names() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("ES256", 0, Some("ES256")),
        ("Ed25519", 0, Some("EdDSA")), // the PEM cannot carry the name; [signing] alg does
        ("EdDSA", 0, Some("EdDSA")),
        ("RS256", 2, None),
    ];
    for (i, (alg, exit, loads_as)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("k{i}.pem"));
        let p = path.display().to_string();
        let (code, _, err) = run(&["keygen", "--out", &p, "--alg", alg], None);
        assert_eq!(code, exit, "{alg}: {err}");
        if let Some(name) = loads_as {
            let key = portcullis::verdict::load_key_file(&path).unwrap();
            assert_eq!(key.jws_alg(), name, "{alg}");
            assert!(err.contains(alg), "{alg}: {err}");
        }
    }
    // Default: ES256.
    let path = dir.path().join("default.pem");
    let (code, _, err) = run(&["keygen", "--out", &path.display().to_string()], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        portcullis::verdict::load_key_file(&path).unwrap().jws_alg(),
        "ES256"
    );
}

/// `check --profile` over the loopback lab: the claims name the profile they were judged by.
#[tokio::test]
async fn check_takes_a_profile_and_states_it_in_the_claims() {
    use portcullis::testing::origin::Route;
    let lab = crate::common::Lab::start().await;
    let url = lab.url("good.test", "/client.json");
    let doc = serde_json::json!({
        "client_id": url,
        "redirect_uris": ["https://good.test/cb"],
        "token_endpoint_auth_method": "none",
    })
    .to_string();
    lab.origin.route("/client.json", Route::json(doc));
    let config = lab.config_file();
    let cfg = config.path().display().to_string();
    for (profile, exit, outcome) in [
        (None, 0, "valid"),
        (Some("mcp"), 1, "invalid"),
        (Some("oauth"), 0, "valid"),
    ] {
        let mut args: Vec<String> = vec![
            "check".into(),
            url.clone(),
            "--kind".into(),
            "client_metadata".into(),
            "--config".into(),
            cfg.clone(),
            "--json".into(),
        ];
        if let Some(p) = profile {
            args.extend(["--profile".into(), p.into()]);
        }
        let (code, out, err) = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&refs, None)
        })
        .await
        .unwrap();
        assert_eq!(code, exit, "{profile:?}: {out}{err}");
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["outcome"], outcome, "{profile:?}");
        assert_eq!(v["profile"], profile.unwrap_or("oauth"), "{profile:?}");
    }
}
