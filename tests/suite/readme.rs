//! The README's Python verification snippet, run as written against a test instance with a
//! configured caller (loopback lab only). Needs python3 with PyJWT (`pip install
//! "pyjwt[crypto]" requests`); without them the test says SKIPPED.

use std::process::Command;

use crate::common::Lab;
use portcullis::config::{CallerConfig, TokenHash};
use portcullis::testing::origin::Route;

const README: &str = include_str!("../../README.md");

fn python_snippet() -> &'static str {
    let start = README
        .find("<!-- readme-python-start -->")
        .expect("README marks the Python snippet");
    let rest = &README[start..];
    let body = &rest[rest.find("```python\n").expect("python fence") + "```python\n".len()..];
    &body[..body.find("```").expect("closing fence")]
}

fn python_ready() -> bool {
    Command::new("python3")
        .args(["-c", "import jwt, requests, cryptography"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn readme_python_snippet_verifies_a_verdict() {
    let snippet = python_snippet();
    assert!(snippet.contains("audience=\"my-auth-server\""), "{snippet}");
    if !python_ready() {
        crate::common::skipped(
            "readme_python_snippet_verifies_a_verdict: python3 with PyJWT, cryptography and requests is not installed",
        );
        return;
    }
    let lab = Lab::start().await;
    lab.origin.route("/doc.json", Route::json(r#"{"a":1}"#));
    let token = "readme-token";
    let running = lab
        .serve(|c| {
            c.server.callers = vec![CallerConfig {
                name: "my-auth-server".into(),
                token_sha256: TokenHash::of_token(token),
            }];
        })
        .await;
    assert!(running.addr.ip().is_loopback());
    let target = lab.url("good.test", "/doc.json");
    let snippet = snippet.to_owned();
    let base = format!("http://{}", running.addr);
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-c", &snippet])
            .env("PORTCULLIS_URL", base)
            .env("PORTCULLIS_TOKEN", token)
            .env("TARGET_URL", target)
            .env("TARGET_KIND", "json")
            .env("NO_PROXY", "*")
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy")
            .env_remove("ALL_PROXY")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(stdout.trim(), "valid []", "{stderr}");
}
