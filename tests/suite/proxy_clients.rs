//! Real clients through the CONNECT proxy (issue 17): `curl --proxy`, Python `requests` with
//! `proxies=`, Node undici `ProxyAgent`. Each reaches the allowed lab origin and each is
//! refused for a blocked target with the code visible in its own error output; the trap
//! listener on the blocked address stays at zero connections.
//!
//! A client that is not installed makes its test print SKIPPED (never a silent pass).
//! `scripts/proxy-suite.sh` installs them (venv, `npm ci`) and runs these tests inside a
//! private network namespace; Python comes from `PORTCULLIS_PROXY_PYTHON` (default `python3`).

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::Ordering;

use crate::proxy::{ProxyLab, TOKEN};

struct Outcome {
    ok: bool,
    out: String,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a client with no proxy environment of its own (only what the test passes).
async fn run(mut cmd: Command) -> Outcome {
    for var in [
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        cmd.env_remove(var);
    }
    let output = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    Outcome {
        ok: output.status.success(),
        out: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

fn available(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Allowed and blocked through one client; `client(proxy_url, ca, target)` builds the command.
async fn exercise(name: &str, client: impl Fn(&str, &str, &str) -> Command) {
    let p = ProxyLab::start(|_| {}).await;
    let proxy_url = format!("http://as-1:{TOKEN}@{}", p.addr);
    let ca = p.lab.ca_file.path().display().to_string();
    let port = p.lab.port();

    let good = run(client(
        &proxy_url,
        &ca,
        &format!("https://good.test:{port}/ok"),
    ))
    .await;
    assert!(
        good.ok,
        "{name} could not reach the allowed origin: {}",
        good.out
    );
    assert!(
        good.out.contains(r#"ok"#) && good.out.contains("true"),
        "{name}: {}",
        good.out
    );
    assert_eq!(p.lab.origin.hits_for("/ok"), 1, "{name}");

    let blocked = run(client(
        &proxy_url,
        &ca,
        &format!("https://trap.test:{port}/"),
    ))
    .await;
    assert!(
        !blocked.ok,
        "{name} reached a blocked target: {}",
        blocked.out
    );
    assert!(
        blocked.out.contains("403"),
        "{name} does not show the status: {}",
        blocked.out
    );
    let code_visible = blocked.out.to_ascii_lowercase().contains("loopback");
    let metadata = run(client(
        &proxy_url,
        &ca,
        "https://169.254.169.254/latest/meta-data/",
    ))
    .await;
    assert!(!metadata.ok, "{name}: {}", metadata.out);
    assert_eq!(
        p.trap_hits.load(Ordering::SeqCst),
        0,
        "{name} connected to a blocked address"
    );
    let records = p.records(3).await;
    let refused = |host: &str, code: &str| {
        records
            .iter()
            .any(|r| r["host"] == host && r["error"] == code && r["connected"].is_null())
    };
    assert!(refused("trap.test", "loopback"), "{name}: {records:?}");
    assert!(
        refused("169.254.169.254", "cloud_metadata"),
        "{name}: {records:?}"
    );
    if code_visible {
        eprintln!(
            "{name}: refusal code visible in client output: {}",
            blocked.out.trim()
        );
    } else {
        panic!(
            "{name}: the refusal code is not visible in its output: {}",
            blocked.out
        );
    }
}

#[tokio::test]
async fn curl_through_the_proxy() {
    if !available("curl", &["--version"]) {
        crate::common::skipped("curl not installed");
        return;
    }
    exercise("curl", |proxy, ca, target| {
        let mut c = Command::new("curl");
        c.args([
            "-sS",
            "-v",
            "--max-time",
            "10",
            "--proxy",
            proxy,
            "--cacert",
            ca,
            target,
        ]);
        c
    })
    .await;
}

#[tokio::test]
async fn python_requests_through_the_proxy() {
    let python = std::env::var("PORTCULLIS_PROXY_PYTHON").unwrap_or_else(|_| "python3".into());
    if !available(&python, &["-c", "import requests"]) {
        crate::common::skipped(&format!(
            "{python} cannot import requests (scripts/proxy-suite.sh makes a venv)"
        ));
        return;
    }
    let script = repo().join("tests/proxy/python/client.py");
    exercise("python requests", |proxy, ca, target| {
        let mut c = Command::new(&python);
        c.arg(&script).args([proxy, ca, target]);
        c
    })
    .await;
}

#[tokio::test]
async fn node_undici_through_the_proxy() {
    let dir = repo().join("tests/proxy/node");
    if !available("node", &["--version"]) || !dir.join("node_modules/undici").exists() {
        crate::common::skipped("node or tests/proxy/node/node_modules missing (run npm ci there)");
        return;
    }
    exercise("node undici", |proxy, ca, target| {
        let mut c = Command::new("node");
        c.arg(dir.join("client.mjs")).args([proxy, ca, target]);
        c
    })
    .await;
}
