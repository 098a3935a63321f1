//! Live reload against the real binary: `portcullis serve` as a child, SIGHUP sent with
//! `kill -HUP`. Covers callers, the two-phase key rotation, a refused config (old one keeps
//! running, metrics say so), JSON start-up logs, and that SIGHUP never kills the process.
//! Every request goes to the child on 127.0.0.1; fetches are of loopback URLs, which the
//! policy blocks before any DNS or connect.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use portcullis::config::{SigningAlg, TokenHash};
use portcullis::verdict::{SigningKey, write_key_file};

use crate::common::api;

struct Served {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn start(config: &Path) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["serve", "--log-format", "json", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = loop {
            let found = log.lock().unwrap().iter().find_map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).ok()?;
                v["addr"].as_str()?.parse::<SocketAddr>().ok()
            });
            if let Some(addr) = found {
                break addr;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not log its address: {:?}",
                log.lock().unwrap()
            );
            assert!(child.try_wait().unwrap().is_none(), "serve exited early");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(addr.ip().is_loopback());
        Served { child, addr, log }
    }

    fn hangup(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    async fn metric(&self, line_start: &str) -> Option<String> {
        let text =
            String::from_utf8_lossy(&api::get(self.addr, "/metrics").await.body).into_owned();
        text.lines()
            .find(|l| l.starts_with(line_start))
            .map(str::to_owned)
    }

    async fn kids(&self) -> Vec<String> {
        api::get(self.addr, "/v1/keys").await.json()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }

    /// `(status, kid of the verdict header, aud)` of one fetch with `token`.
    async fn fetch(&self, token: &str) -> (u16, Option<String>, Option<String>) {
        let body = crate::common::fetch_body("https://127.0.0.1/x.json", "json");
        let reply = api::post_fetch(self.addr, Some(token), &body).await;
        let v = reply.json();
        let Some(jws) = v["verdict"].as_str() else {
            return (reply.status.as_u16(), None, None);
        };
        let part = |i: usize| -> serde_json::Value {
            let b64 = jws.split('.').nth(i).unwrap();
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(b64)
                .unwrap();
            serde_json::from_slice(&raw).unwrap()
        };
        (
            reply.status.as_u16(),
            part(0)["kid"].as_str().map(str::to_owned),
            part(1)["aud"].as_str().map(str::to_owned),
        )
    }

    /// Sends SIGHUP and waits until the reload counter for `result` reaches `count`.
    async fn reload_expecting(&self, result: &str, count: u32) {
        self.hangup();
        let want = format!("portcullis_config_reload_total{{result=\"{result}\"}} {count}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.metric(&want).await.is_some() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {want}; log:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn key(dir: &Path, name: &str) -> (String, String) {
    let key = SigningKey::generate(SigningAlg::EdDSA, &mut rand::rngs::OsRng);
    let path = dir.join(name);
    write_key_file(&path, &key.to_pkcs8_pem().unwrap()).unwrap();
    (path.display().to_string(), key.kid())
}

fn config_text(callers: &[(&str, &str)], signing: &str, rules: Option<&str>) -> String {
    let mut text =
        String::from("[server]\nlisten = \"127.0.0.1:0\"\n\n[audit]\nenabled = false\n\n");
    if let Some(rules) = rules {
        text.push_str(&format!("[rules]\nfiles = [{rules:?}]\n\n"));
    }
    text.push_str("[signing]\n");
    text.push_str(signing);
    text.push('\n');
    for (name, token) in callers {
        // Upper-case hex is accepted.
        text.push_str(&format!(
            "[[server.callers]]\nname = {name:?}\ntoken_sha256 = \"{}\"\n",
            TokenHash::of_token(token).to_hex().to_ascii_uppercase()
        ));
    }
    text
}

#[tokio::test]
async fn sighup_reloads_callers_and_rotates_keys_in_two_phases() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("portcullis.toml");
    let (k1, kid1) = key(dir.path(), "k1.pem");
    let (k2, kid2) = key(dir.path(), "k2.pem");
    std::fs::write(
        &config,
        config_text(&[("as-a", "token-a")], &format!("key_file = {k1:?}"), None),
    )
    .unwrap();
    let mut served = Served::start(&config);

    // Start-up log: config path, callers, key ids, listener (JSON lines).
    let log = served.log_text();
    assert!(log.contains(&config.display().to_string()), "{log}");
    assert!(log.contains(&kid1), "{log}");
    assert!(log.contains("\"callers\":1"), "{log}");
    let hash_before = served.metric("portcullis_config_info{").await.unwrap();

    assert_eq!(served.kids().await, vec![kid1.clone()]);
    let (status, kid, aud) = served.fetch("token-a").await;
    assert_eq!(status, 200);
    assert_eq!(kid.as_deref(), Some(kid1.as_str()));
    assert_eq!(aud.as_deref(), Some("as-a"));

    // Phase 1: publish the next key everywhere; the old key still signs.
    std::fs::write(
        &config,
        config_text(
            &[("as-a", "token-a")],
            &format!("key_file = {k1:?}\nnext_key_files = [{k2:?}]"),
            None,
        ),
    )
    .unwrap();
    served.reload_expecting("ok", 1).await;
    assert_eq!(served.kids().await, vec![kid1.clone(), kid2.clone()]);
    assert_eq!(
        served.fetch("token-a").await.1.as_deref(),
        Some(kid1.as_str())
    );
    let hash_after = served.metric("portcullis_config_info{").await.unwrap();
    assert_ne!(
        hash_before, hash_after,
        "config hash metric follows the config"
    );

    // Phase 2: switch signing to the new key, keep publishing the old one; callers change.
    std::fs::write(
        &config,
        config_text(
            &[("as-b", "token-b")],
            &format!("key_file = {k2:?}\nprevious_key_files = [{k1:?}]"),
            None,
        ),
    )
    .unwrap();
    served.reload_expecting("ok", 2).await;
    assert_eq!(served.kids().await, vec![kid2.clone(), kid1.clone()]);
    let (status, kid, aud) = served.fetch("token-b").await;
    assert_eq!(status, 200);
    assert_eq!(kid.as_deref(), Some(kid2.as_str()));
    assert_eq!(aud.as_deref(), Some("as-b"));
    assert_eq!(served.fetch("token-a").await.0, 401, "removed caller");
    let hash_good = served.metric("portcullis_config_info{").await.unwrap();

    // A bad rules file: refused, the running config stays, the log says why.
    let rules = dir.path().join("ops-rules.toml");
    std::fs::write(
        &rules,
        "[[ranges]]\ncidr = \"10.0.0.0/33\"\naction = \"block\"\n",
    )
    .unwrap();
    let rules_path = rules.display().to_string();
    std::fs::write(
        &config,
        config_text(
            &[("as-c", "token-c")],
            &format!("key_file = {k2:?}"),
            Some(&rules_path),
        ),
    )
    .unwrap();
    served.reload_expecting("error", 1).await;
    assert!(served.alive(), "a bad reload must not stop the service");
    assert_eq!(
        served.fetch("token-b").await.0,
        200,
        "old config still serves"
    );
    assert_eq!(served.fetch("token-c").await.0, 401);
    assert_eq!(
        served.metric("portcullis_config_info{").await.unwrap(),
        hash_good,
        "the info metric still names the running config"
    );
    let log = served.log_text();
    assert!(log.contains("config reload refused"), "{log}");
    assert!(log.contains("/33 is not valid for IPv4"), "{log}");
    assert!(log.contains("line 2"), "{log}");

    // A missing config file is refused too; SIGHUP again and again never kills.
    std::fs::remove_file(&config).unwrap();
    served.reload_expecting("error", 2).await;
    served.hangup();
    served.hangup();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(served.alive(), "SIGHUP must never kill the process");

    // SIGTERM still stops it cleanly.
    let status = Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            break status.code();
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(0));
}

#[tokio::test]
async fn without_a_key_file_a_reload_keeps_the_ephemeral_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("portcullis.toml");
    std::fs::write(&config, config_text(&[], "", None)).unwrap();
    let served = Served::start(&config);
    let before = served.kids().await;
    assert_eq!(before.len(), 1);
    let (status, _, aud) = served.fetch("ignored").await;
    assert_eq!(status, 200);
    assert_eq!(aud.as_deref(), Some("anonymous"));
    std::fs::write(&config, config_text(&[], "issuer = \"portcullis-2\"", None)).unwrap();
    served.reload_expecting("ok", 1).await;
    assert_eq!(served.kids().await, before);
}

/// In process, nothing bound: a reload that would leave a non-loopback listener without
/// callers is refused and the running callers stay (the check runs against the address the
/// service was started on, since `listen` is not reloadable).
#[tokio::test]
async fn reload_refuses_to_open_a_public_listener() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("portcullis.toml");
    let with_caller = "[server]\nlisten = \"0.0.0.0:8787\"\n[audit]\nenabled = false\n[[server.callers]]\nname = \"as-1\"\ntoken_sha256 = \"".to_owned()
        + &TokenHash::of_token("t").to_hex()
        + "\"\n";
    std::fs::write(&config, &with_caller).unwrap();
    let loaded = portcullis::assemble::load(Some(&config), None).unwrap();
    let telemetry = Arc::new(portcullis::telemetry::Telemetry::new(None, "test").unwrap());
    let service =
        portcullis::assemble::build_loaded_service(&loaded, &[], telemetry.clone()).unwrap();
    let app = Arc::new(portcullis::server::App::new(
        service,
        loaded.config.server.clone(),
    ));
    let reloader = portcullis::assemble::Reloader::new(&loaded, vec![], telemetry, app.clone());

    // Same listen address, no callers: refused. A loopback listen in the new file does not
    // help: the bound address is what counts.
    for text in [
        "[server]\nlisten = \"0.0.0.0:8787\"\n[audit]\nenabled = false\n",
        "[server]\nlisten = \"127.0.0.1:8787\"\n[audit]\nenabled = false\n",
    ] {
        std::fs::write(&config, text).unwrap();
        let err = reloader.reload().err().expect("reload must be refused");
        assert!(err.to_string().contains("server.callers"), "{err}");
        assert_eq!(app.runtime().callers.count(), 1);
    }
    let metrics = app.config_metrics().unwrap().render();
    assert!(
        metrics.contains(r#"portcullis_config_reload_total{result="error"} 2"#),
        "{metrics}"
    );

    // Back to a valid file: accepted, with a warning that `listen` did not change.
    std::fs::write(&config, with_caller.replace("0.0.0.0:8787", "0.0.0.0:9999")).unwrap();
    let loaded = reloader.reload().unwrap();
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("server.listen") && w.contains("not reloadable")),
        "{:?}",
        loaded.warnings
    );
}
