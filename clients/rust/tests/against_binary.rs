//! The Rust kit against the real `portcullis serve` binary and the loopback test lab
//! (`examples/testlab.rs`): positive and negative cases. The binaries come from
//! `PORTCULLIS_BIN` / `PORTCULLIS_TESTLAB`, else the workspace target dir, built on demand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(feature = "hyper-client")]
#![allow(clippy::disallowed_methods)] // waits for the loopback service to listen

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use portcullis_client::{Client, ClientOptions, Error, Kind, ProtocolCode, Request, VerifyOptions};
use serde_json::{Value, json};

const TOKEN: &str = "rust-kit-token";
const HOST: &str = "client.rust.test";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn binaries() -> (PathBuf, PathBuf) {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"));
    let bin = std::env::var_os("PORTCULLIS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| target.join("debug/portcullis"));
    let lab = std::env::var_os("PORTCULLIS_TESTLAB")
        .map(PathBuf::from)
        .unwrap_or_else(|| target.join("debug/examples/testlab"));
    if !bin.exists() || !lab.exists() {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--bin", "portcullis", "--example", "testlab"])
            .current_dir(repo())
            .status()
            .unwrap();
        assert!(status.success(), "building portcullis and testlab failed");
    }
    (bin, lab)
}

fn cimd(path: &str, extra: Value) -> String {
    let mut doc = json!({
        "client_id": format!("https://{HOST}:${{PORT}}{path}"),
        "client_name": "Rust kit test client",
        "redirect_uris": ["https://app.rust.test/callback"],
        "token_endpoint_auth_method": "none"
    });
    for (k, v) in extra.as_object().unwrap() {
        doc[k] = v.clone();
    }
    doc.to_string()
}

fn spec(rate: Option<Value>) -> Value {
    let mut spec = json!({
        "names": {
            HOST: ["127.0.0.2"],
            "mixed.rust.test": ["127.0.0.2", "127.0.0.1"],
            "meta.rust.test": ["169.254.169.254"]
        },
        "routes": {
            "/client.json": {"headers": {"cache-control": "max-age=120"}, "body": cimd("/client.json", json!({}))},
            "/secret.json": {"body": cimd("/secret.json", json!({"client_secret": "hunter2"}))},
            "/mismatch.json": {"body": cimd("/other.json", json!({}))},
            "/stall.json": {"stall": true}
        },
        "callers": [{"name": "as-1", "token": TOKEN}]
    });
    if let Some(rate) = rate {
        spec["rate"] = rate;
    }
    spec
}

struct Lab {
    lab: Child,
    lab_stdin: Option<ChildStdin>,
    service: Option<Child>,
    bin: PathBuf,
    config: String,
    service_url: String,
    port: u16,
    _dir: tempdir::Dir,
}

mod tempdir {
    /// A scratch directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Lab {
    fn start(spec: &Value) -> Lab {
        let (bin, lab_bin) = binaries();
        let dir = std::env::temp_dir().join(format!(
            "portcullis-rust-kit-{}-{}",
            std::process::id(),
            unique()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let spec_path = dir.join("spec.json");
        std::fs::write(&spec_path, spec.to_string()).unwrap();
        let mut lab = Command::new(lab_bin)
            .arg("--spec")
            .arg(&spec_path)
            .arg("--dir")
            .arg(dir.join("lab"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(lab.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: Value = serde_json::from_str(&line).expect("testlab ready line");
        let lab_stdin = lab.stdin.take();
        let mut this = Lab {
            lab,
            lab_stdin,
            service: None,
            bin,
            config: ready["config"].as_str().unwrap().to_owned(),
            service_url: ready["service"].as_str().unwrap().to_owned(),
            port: u16::try_from(ready["origin_port"].as_u64().unwrap()).unwrap(),
            _dir: tempdir::Dir(dir),
        };
        this.start_service();
        this
    }

    fn start_service(&mut self) {
        let child = Command::new(&self.bin)
            .args(["serve", "--config", &self.config])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.service = Some(child);
        let addr = self.service_url.trim_start_matches("http://").to_owned();
        let until = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < until, "portcullis did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop_service(&mut self) {
        if let Some(mut child) = self.service.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.port)
    }

    fn client(&self, audience: &str, token: &str) -> Client {
        Client::new(ClientOptions {
            url: self.service_url.clone(),
            token: Some(token.to_owned()),
            verify: VerifyOptions::new(audience),
        })
        .unwrap()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop_service();
        if let Some(mut stdin) = self.lab_stdin.take() {
            let _ = stdin.flush();
        }
        let _ = self.lab.kill();
        let _ = self.lab.wait();
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn client_metadata(url: String) -> Request {
    Request::new(url, Kind::ClientMetadata)
}

#[tokio::test]
async fn positive_and_negative_cases_against_the_real_binary() {
    let mut lab = Lab::start(&spec(None));
    let client = lab.client("as-1", TOKEN);

    // Valid.
    let url = lab.url(HOST, "/client.json");
    let claims = client.fetch(&client_metadata(url.clone())).await.unwrap();
    assert_eq!(claims.url, url);
    assert_eq!(claims.aud, "as-1");
    assert_eq!(claims.document.as_ref().unwrap()["client_id"], url.as_str());
    if claims.cache.is_none() {
        eprintln!("SKIPPED: cache-claim check (this service predates the `cache` claim)");
        assert_eq!(claims.cache_max_age_s(), 0);
    } else {
        assert!((1..=120).contains(&claims.cache_max_age_s()));
    }
    assert_eq!(client.key_fetches(), 1);
    let again = client.fetch(&client_metadata(url.clone())).await.unwrap();
    if again.jti == claims.jti {
        eprintln!("SKIPPED: fresh-jti check (this service returns the cached JWS itself)");
    } else {
        assert!(again.iat >= claims.iat);
    }

    // Blocked: mixed answers.
    let err = client
        .fetch(&client_metadata(lab.url("mixed.rust.test", "/client.json")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Blocked(_)), "{err:?}");
    assert!(
        err.codes().contains(&"mixed_resolution".to_owned()),
        "{:?}",
        err.codes()
    );

    // Blocked: the metadata address (decided by policy before any connection).
    let err = client
        .fetch(&client_metadata(lab.url("meta.rust.test", "/client.json")))
        .await
        .unwrap_err();
    assert!(
        err.codes().contains(&"cloud_metadata".to_owned()),
        "{:?}",
        err.codes()
    );

    // Invalid: shared secret; client_id mismatch.
    let err = client
        .fetch(&client_metadata(lab.url(HOST, "/secret.json")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    assert!(
        err.codes().iter().any(|c| c.contains("secret")),
        "{:?}",
        err.codes()
    );
    let err = client
        .fetch(&client_metadata(lab.url(HOST, "/mismatch.json")))
        .await
        .unwrap_err();
    assert!(
        err.codes().contains(&"client_id_mismatch".to_owned()),
        "{:?}",
        err.codes()
    );

    // Unreachable: a name the lab DNS does not know.
    let err = client
        .fetch(&client_metadata(
            lab.url("nowhere.rust.test", "/client.json"),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Unreachable(_) | Error::Blocked(_)),
        "{err:?}"
    );
    assert!(!err.codes().is_empty());

    // Deadline: an origin that never answers.
    let mut stalled = client_metadata(lab.url(HOST, "/stall.json"));
    stalled.deadline_ms = Some(600);
    let started = Instant::now();
    let err = client.fetch(&stalled).await.unwrap_err();
    let elapsed = started.elapsed();
    if err.codes().contains(&"deadline_exceeded".to_owned()) {
        assert!(matches!(err, Error::Unreachable(_)), "{err:?}");
        assert!(elapsed < Duration::from_millis(850), "{elapsed:?}");
    } else {
        eprintln!("SKIPPED: deadline_exceeded check (service predates deadline_ms; got {err:?})");
        assert_eq!(err.codes(), vec!["service_timeout".to_owned()]);
        assert!(err.is_retryable());
        assert!(elapsed < Duration::from_millis(1_100), "{elapsed:?}");
    }

    // Wrong audience: the verdict is for as-1.
    let other = lab.client("as-2", TOKEN);
    let err = other
        .fetch(&client_metadata(lab.url(HOST, "/client.json")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Protocol {
                code: ProtocolCode::WrongAudience,
                ..
            }
        ),
        "{err:?}"
    );

    // Wrong token: final, with the service's code.
    let bad = lab.client("as-1", "wrong");
    let err = bad
        .fetch(&client_metadata(lab.url(HOST, "/client.json")))
        .await
        .unwrap_err();
    match &err {
        Error::Protocol {
            code: ProtocolCode::Refused,
            status: Some(401),
            service_code: Some(code),
            ..
        } => assert!(!code.is_empty()),
        other => panic!("expected a 401 refusal, got {other:?}"),
    }
    assert!(!err.is_retryable());

    // Key rotation: a restart makes a new ephemeral key; the client refetches once.
    lab.stop_service();
    let err = client
        .fetch(&client_metadata(lab.url(HOST, "/client.json")))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "service down is retryable: {err:?}");
    lab.start_service();
    let claims = client
        .fetch(&client_metadata(lab.url(HOST, "/client.json")))
        .await
        .unwrap();
    assert_eq!(claims.outcome, portcullis_client::Outcome::Valid);
    assert_eq!(client.key_fetches(), 2);
}

#[tokio::test]
async fn rate_limited_answers_are_retryable_with_retry_after() {
    let lab = Lab::start(&spec(Some(
        json!({"per_caller_per_s": 1, "per_caller_burst": 1}),
    )));
    let client = lab.client("as-1", TOKEN);
    let request = client_metadata(lab.url(HOST, "/client.json"));
    let mut throttled = 0;
    for _ in 0..3 {
        match client.fetch(&request).await {
            Ok(_) => {}
            Err(Error::Unavailable {
                status,
                code,
                retry_after_s,
            }) => {
                throttled += 1;
                assert_eq!(status, 429);
                assert_eq!(code, "rate_limited_caller");
                assert!(retry_after_s.is_some_and(|s| s >= 1), "{retry_after_s:?}");
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!(throttled >= 1, "at least one request was throttled");
}
