//! The CLI contract: output shape and exit codes of `check`, `explain` and `keygen`.
//! `check` runs only against the loopback lab; `explain` never connects to anything.

use std::process::Command;

use crate::common::Lab;
use portcullis::testing::origin::Route;

fn portcullis() -> Command {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
}

async fn run(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = portcullis().args(&args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn check_prints_claims_and_exits_by_outcome() {
    let lab = Lab::start().await;
    lab.origin.route("/doc.json", Route::json(r#"{"a":1}"#));
    let config = lab.config_file();
    let cfg = config.path().display().to_string();
    let url = lab.url("good.test", "/doc.json");
    let (code, out, err) = run(vec![
        "check".into(),
        url.clone(),
        "--config".into(),
        cfg.clone(),
        "--json".into(),
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["outcome"], "valid");
    assert_eq!(v["url"], url);
    assert_eq!(v["fetch"]["address"], format!("127.0.0.2:{}", lab.port()));
    assert!(v["problems"].as_array().unwrap().is_empty());

    let (code, out, _) = run(vec![
        "check".into(),
        format!("https://127.0.0.1:{}/", lab.port()),
        "--config".into(),
        cfg.clone(),
        "--json".into(),
    ])
    .await;
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["outcome"], "blocked");
    assert_eq!(v["problems"][0]["code"], "loopback");

    let (code, out, _) = run(vec![
        "check".into(),
        lab.url("good.test", "/missing"),
        "--config".into(),
        cfg,
        "--json".into(),
    ])
    .await;
    assert_eq!(code, 1);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()["outcome"],
        "unreachable"
    );
}

#[tokio::test]
async fn usage_and_config_errors_exit_2() {
    let (code, _, _) = run(vec![
        "check".into(),
        "https://a.example/".into(),
        "--kind".into(),
        "html".into(),
    ])
    .await;
    assert_eq!(code, 2);
    let mut bad = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut bad, b"[limits]\nmax_redirect = 1\n").unwrap();
    let (code, _, err) = run(vec![
        "check".into(),
        "https://a.example/".into(),
        "--config".into(),
        bad.path().display().to_string(),
    ])
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("max_redirect"), "{err}");
    let (code, _, _) = run(vec!["explain".into()]).await;
    assert_eq!(code, 2);
}

#[tokio::test]
async fn explain_says_why_without_fetching() {
    for (target, code) in [
        ("169.254.169.254", "cloud_metadata"),
        ("0x7f.1", "loopback"),
        ("https://[::ffff:10.0.0.1]/", "private_use"),
        ("localhost", "host_blocked"),
    ] {
        let (exit, out, err) = run(vec!["explain".into(), target.into(), "--json".into()]).await;
        assert_eq!(exit, 1, "{target}: {out}{err}");
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["decision"], "block", "{target}");
        let codes: Vec<&str> = v["problems"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["code"].as_str())
            .collect();
        assert!(codes.contains(&code), "{target}: {codes:?}");
    }
}

#[tokio::test]
async fn explain_resolves_names_with_the_configured_resolver() {
    let lab = Lab::start().await;
    let config = lab.config_file();
    let (exit, out, err) = run(vec![
        "explain".into(),
        "good.test".into(),
        "--config".into(),
        config.path().display().to_string(),
        "--json".into(),
    ])
    .await;
    assert_eq!(exit, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["decision"], "allow");
    assert_eq!(v["addresses"][0]["ip"], "127.0.0.2");
    assert_eq!(v["addresses"][0]["decision"], "allow");
}

#[tokio::test]
async fn keygen_writes_a_private_file_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.pem");
    let p = path.display().to_string();
    let (code, _, err) = run(vec!["keygen".into(), "--out".into(), p.clone()]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(portcullis::verdict::load_key_file(&path).is_ok());
    let (code, _, _) = run(vec!["keygen".into(), "--out".into(), p]).await;
    assert_eq!(code, 2, "refuses to overwrite");
}
