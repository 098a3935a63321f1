//! The CLI contract: output shape and exit codes of `check`, `explain`, `keygen`, `token`,
//! `config check` and `--version`. `check` runs only against the loopback lab; `explain`
//! never connects to anything and asks DNS (the lab's, on 127.0.0.1) only with `--resolve`.

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
        "--resolve".into(),
        "--config".into(),
        config.path().display().to_string(),
        "--json".into(),
    ])
    .await;
    assert_eq!(exit, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["decision"], "allow");
    assert_eq!(v["outcome"], "allowed");
    assert_eq!(v["dns"]["resolved"], true);
    assert_eq!(v["addresses"][0]["ip"], "127.0.0.2");
    assert_eq!(v["addresses"][0]["decision"], "allow");
}

#[tokio::test]
async fn explain_does_not_resolve_unless_asked_and_nxdomain_is_not_a_block() {
    let lab = Lab::start().await;
    let config = lab.config_file();
    let cfg = config.path().display().to_string();
    let (exit, out, err) = run(vec![
        "explain".into(),
        "good.test".into(),
        "--config".into(),
        cfg.clone(),
        "--json".into(),
    ])
    .await;
    assert_eq!(exit, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["outcome"], "allowed");
    assert_eq!(v["dns"]["resolved"], false);
    assert!(v["addresses"].as_array().unwrap().is_empty());
    assert_eq!(lab.dns.queries("good.test"), 0, "explain asked DNS");

    // NXDOMAIN: the rules allow the name; DNS says it does not exist (check's label).
    let (exit, out, err) = run(vec![
        "explain".into(),
        "nothing-here.test".into(),
        "--resolve".into(),
        "--config".into(),
        cfg,
        "--json".into(),
    ])
    .await;
    assert_eq!(exit, 1, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["decision"], "allow", "{v}");
    assert_eq!(v["outcome"], "unreachable", "{v}");
    assert_eq!(v["dns"]["resolved"], false);
    assert!(lab.dns.queries("nothing-here.test") > 0);
}

#[tokio::test]
async fn check_needs_a_url() {
    let (code, out, err) = run(vec!["check".into(), "example.com".into()]).await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("https://example.com/"), "{err}");
    assert!(out.is_empty());
}

#[tokio::test]
async fn version_names_the_commit_and_the_embedded_rules() {
    let (code, out, _) = run(vec!["--version".into()]).await;
    assert_eq!(code, 0);
    assert!(out.contains(env!("CARGO_PKG_VERSION")), "{out}");
    assert!(out.contains("commit "), "{out}");
    assert!(
        out.contains(&portcullis::policy::RulesFile::embedded_hash()),
        "{out}"
    );
}

#[tokio::test]
async fn token_prints_a_token_and_its_hash() {
    let (code, out, _) = run(vec!["token".into(), "--name".into(), "as-9".into()]).await;
    assert_eq!(code, 0);
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap()
    };
    let token = field("token:");
    let hash = field("token_sha256:");
    assert!(token.len() >= 43, "{out}");
    assert_eq!(hash, portcullis::server::auth::token_sha256_hex(&token));
    assert!(out.contains("name = \"as-9\""), "{out}");
    // The printed entry is a valid config as is.
    let entry = &out[out.find("[[server.callers]]").unwrap()..];
    let config = portcullis::config::Config::from_toml_str(entry).unwrap();
    assert_eq!(config.server.callers[0].token_sha256.to_hex(), hash);
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// `portcullis config check --config <path>`: exit code, stdout, stderr.
async fn config_check(path: String) -> (i32, String, String) {
    run(vec![
        "config".into(),
        "check".into(),
        "--config".into(),
        path,
    ])
    .await
}

#[tokio::test]
async fn config_check_summarizes_what_serve_would_load() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let (code, _, err) = run(vec![
        "keygen".into(),
        "--out".into(),
        key.display().to_string(),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let kid = portcullis::verdict::load_key_file(&key).unwrap().kid();
    let rules = write(
        dir.path(),
        "ops.toml",
        "[[ranges]]\ncidr = \"169.254.169.254/32\"\naction = \"allow\"\n",
    );
    let hash = portcullis::config::TokenHash::of_token("t").to_hex();
    let config = write(
        dir.path(),
        "portcullis.toml",
        &format!(
            "[server]\nlisten = \"127.0.0.1:8788\"\n[[server.callers]]\nname = \"as-1\"\ntoken_sha256 = \"{hash}\"\n[rules]\nfiles = [{rules:?}]\n[signing]\nkey_file = {:?}\n",
            key.display().to_string()
        ),
    );
    let (code, out, err) = config_check(config.clone()).await;
    assert_eq!(code, 0, "{out}{err}");
    for needle in [
        format!("config:   {config}"),
        "rules:    embedded default".to_owned(),
        format!("rules:    {rules}"),
        "caller:   as-1".to_owned(),
        format!("key:      {kid} ES256 signs"),
        "listen:   tcp 127.0.0.1:8788".to_owned(),
    ] {
        assert!(out.contains(&needle), "{needle:?} not in\n{out}");
    }
    // The floor shadows the operator's allow: said, not silently ignored.
    assert!(
        out.lines()
            .any(|l| l.starts_with("warning:") && l.contains("169.254.169.254/32")),
        "{out}"
    );
}

#[tokio::test]
async fn config_check_errors_name_the_file_the_line_and_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(
        dir.path(),
        "ops.toml",
        "# ops\n[[ranges]]\ncidr = \"10.0.0.0/33\"\naction = \"block\"\n",
    );
    let config = write(
        dir.path(),
        "a.toml",
        &format!("[rules]\nfiles = [{rules:?}]\n"),
    );
    let (code, _, err) = config_check(config).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&rules), "{err}");
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("/33 is not valid for IPv4"), "{err}");

    let config = write(
        dir.path(),
        "b.toml",
        "[[server.callers]]\nname = \"as-7\"\ntoken_sha256 = \"abc\"\n",
    );
    let (code, _, err) = config_check(config.clone()).await;
    assert_eq!(code, 2);
    assert!(err.contains(&config), "{err}");
    assert!(err.contains("caller \"as-7\""), "{err}");
    assert!(err.contains("line 1"), "{err}");

    let config = write(
        dir.path(),
        "c.toml",
        "[server]\nlisten = \"localhost:8788\"\n",
    );
    let (code, _, err) = config_check(config).await;
    assert_eq!(code, 2);
    assert!(err.contains("IP literal"), "{err}");

    let config = write(
        dir.path(),
        "d.toml",
        "[server]\nlisten = \"0.0.0.0:8788\"\n",
    );
    let (code, _, err) = config_check(config).await;
    assert_eq!(code, 2, "no callers on a public address");
    assert!(err.contains("server.callers"), "{err}");

    let config = write(
        dir.path(),
        "e.toml",
        "[signing]\nkey_file = \"/nonexistent/key.pem\"\n",
    );
    let (code, _, err) = config_check(config).await;
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/key.pem"), "{err}");
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
