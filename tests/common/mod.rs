//! A loopback lab for end-to-end tests: a DNS responder on 127.0.0.1, a TLS origin on
//! 127.0.0.2 (and a second one on 127.0.0.3 with a certificate for another name), and a
//! fetcher whose only extra rule allows exactly those two test addresses.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};

use portcullis::assemble;
use portcullis::config::Config;
use portcullis::fetch::{FetchReport, FetchRequest, Fetcher};
use portcullis::testing::dns::{DnsBehavior, DnsResponder};
use portcullis::testing::origin::TestOrigin;
use portcullis::testing::pki::{TestCa, Validity};

/// The main test origin's address.
pub const ORIGIN_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// The wrong-certificate origin's address.
pub const WRONG_CERT_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
/// The HTTP/2-only origin's address (started by the tests that need it).
pub const H2_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4));
/// Where the DNS responder listens (loopback; blocked as a fetch target).
pub const DNS_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));

/// Names on the main origin's certificate.
pub const NAMES: &[&str] = &[
    "good.test",
    "alt.test",
    "rebind.test",
    "mixed.test",
    "cname.test",
    "final.test",
    "v6.test",
];

pub struct Lab {
    pub ca: TestCa,
    pub dns: DnsResponder,
    pub origin: TestOrigin,
    pub wrong_cert: TestOrigin,
    pub fetcher: Fetcher,
    pub config: Config,
    pub rules_file: tempfile::NamedTempFile,
    pub ca_file: tempfile::NamedTempFile,
}

/// A rules file that allows exactly the two test origins and the lab's port.
pub fn test_rules(port: u16) -> String {
    format!(
        r#"ports = [443, {port}]

[[ranges]]
cidr = "127.0.0.2/32"
action = "allow"
note = "test lab address"
source = "portcullis test lab origin"

[[ranges]]
cidr = "127.0.0.3/32"
action = "allow"
note = "test lab address"
source = "portcullis test lab wrong-certificate origin"

[[ranges]]
cidr = "127.0.0.4/32"
action = "allow"
note = "test lab http/2 origin"
"#
    )
}

impl Lab {
    pub async fn start() -> Lab {
        Lab::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Lab {
        let ca = TestCa::new().unwrap();
        let tls = ca
            .server_config(NAMES, Validity::Current, &[b"http/1.1"])
            .unwrap();
        let origin = TestOrigin::start(ORIGIN_IP, 0, tls).await.unwrap();
        let port = origin.addr().port();
        let wrong_tls = ca
            .server_config(&["other.test"], Validity::Current, &[b"http/1.1"])
            .unwrap();
        let wrong_cert = TestOrigin::start(WRONG_CERT_IP, port, wrong_tls)
            .await
            .unwrap();
        let dns = DnsResponder::start(DNS_IP).await.unwrap();
        for name in NAMES {
            dns.set(name, DnsBehavior::Addresses(vec![ORIGIN_IP]));
        }
        dns.set(
            "wrongname.test",
            DnsBehavior::Addresses(vec![WRONG_CERT_IP]),
        );

        let mut rules_file = tempfile::NamedTempFile::new().unwrap();
        rules_file.write_all(test_rules(port).as_bytes()).unwrap();
        let mut ca_file = tempfile::NamedTempFile::new().unwrap();
        ca_file.write_all(ca.ca_pem().as_bytes()).unwrap();

        let mut config = Config::default();
        config.resolver.nameservers = vec![dns.addr()];
        config.resolver.timeout_ms = 500;
        config.resolver.attempts = 0;
        config.rules.files = vec![rules_file.path().to_owned()];
        config.tls.extra_roots = vec![ca_file.path().to_owned()];
        config.tls.builtin_roots = false;
        config.limits.total_timeout_ms = 3_000;
        config.limits.resolve_timeout_ms = 1_000;
        config.limits.first_byte_timeout_ms = 1_000;
        config.limits.body_timeout_ms = 1_000;
        tweak(&mut config);

        let policy = assemble::build_policy(&config, &[]).unwrap();
        let fetcher = portcullis::testing::lab_fetcher(&config, policy, &[]).unwrap();
        Lab {
            ca,
            dns,
            origin,
            wrong_cert,
            fetcher,
            config,
            rules_file,
            ca_file,
        }
    }

    pub fn port(&self) -> u16 {
        self.origin.addr().port()
    }

    pub fn url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.port())
    }

    pub async fn fetch(&self, url: &str) -> FetchReport {
        self.fetch_with(url, 64 * 1024, true).await
    }

    pub async fn fetch_with(
        &self,
        url: &str,
        max_body_bytes: u64,
        follow_redirects: bool,
    ) -> FetchReport {
        self.fetcher
            .fetch(&FetchRequest {
                url: url.to_owned(),
                max_body_bytes,
                follow_redirects,
            })
            .await
    }

    /// Writes a config file for CLI tests and returns its path holder.
    pub fn config_file(&self) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let text = cli_config_text(self.dns.addr(), self.ca_file.path(), self.rules_file.path());
        file.write_all(text.as_bytes()).unwrap();
        file
    }
}

/// The codes of a report's problems.
pub fn codes(report: &FetchReport) -> Vec<&'static str> {
    report.problems.iter().map(|p| p.code.as_str()).collect()
}

pub mod api {
    //! The lab's API client ([`portcullis::testing::api`]); a failed exchange fails the test.

    use bytes::Bytes;
    use http::Request;
    use http_body_util::Full;
    use std::net::SocketAddr;

    use portcullis::testing::api as client;
    pub use portcullis::testing::api::Reply;

    pub async fn send(addr: SocketAddr, request: Request<Full<Bytes>>) -> Reply {
        client::send(addr, request).await.unwrap()
    }

    pub async fn post_fetch(addr: SocketAddr, token: Option<&str>, body: &str) -> Reply {
        client::post_fetch(addr, token, body).await.unwrap()
    }

    pub async fn get(addr: SocketAddr, path: &str) -> Reply {
        client::get(addr, path).await.unwrap()
    }
}

pub struct RunningService {
    pub addr: std::net::SocketAddr,
    pub service: std::sync::Arc<portcullis::service::Service>,
    pub shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    pub handle: tokio::task::JoinHandle<()>,
}

impl Lab {
    /// Starts the real service and API server on 127.0.0.1:0 over this lab's fetcher.
    pub async fn serve(&self, tweak: impl FnOnce(&mut Config)) -> RunningService {
        self.serve_with_audit(tweak, None).await
    }

    pub async fn serve_with_audit(
        &self,
        tweak: impl FnOnce(&mut Config),
        audit: Option<portcullis::telemetry::AuditSink>,
    ) -> RunningService {
        let mut config = self.config.clone();
        config.server.listen = "127.0.0.1:0".parse().unwrap();
        tweak(&mut config);
        let listeners = portcullis::server::Listeners::bind(&config.server)
            .await
            .unwrap();
        let addr = listeners
            .tcp_addr()
            .unwrap_or_else(|| "127.0.0.1:0".parse().unwrap());
        let server_config = config.server.clone();
        let service = assemble::build_service(config, self.fetcher.clone(), audit).unwrap();
        let app = std::sync::Arc::new(portcullis::server::App::new(service.clone(), server_config));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(portcullis::server::serve(app, listeners, async move {
            let _ = rx.await;
        }));
        RunningService {
            addr,
            service,
            shutdown: Some(tx),
            handle,
        }
    }
}

/// Polls `condition` every 5 ms for up to 10 s; tests wait for an event instead of sleeping
/// for a guessed time, so a loaded CI machine cannot reorder them.
pub async fn wait_until(condition: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "condition not reached in 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// One configured caller named `as-1` whose bearer token is `token`.
pub fn caller_with_token(token: &str) -> Vec<portcullis::config::CallerConfig> {
    vec![portcullis::config::CallerConfig {
        name: "as-1".into(),
        token_sha256: portcullis::config::TokenHash::of_token(token),
    }]
}

/// A `POST /v1/fetch` body.
pub fn fetch_body(url: &str, kind: &str) -> String {
    serde_json::json!({"url": url, "kind": kind}).to_string()
}

/// The TOML a CLI test passes with `--config`: resolver, trust roots and rules of a lab.
pub fn cli_config_text(
    dns: std::net::SocketAddr,
    ca: &std::path::Path,
    rules: &std::path::Path,
) -> String {
    portcullis::testing::lab_config_toml(dns, ca, rules, 3_000)
}

/// Says a test could not run here: `SKIPPED: why` on stderr and, when
/// `PORTCULLIS_SKIP_LOG` names a file, one line appended to it, so `.ci/run` can list every
/// skip after `cargo test` instead of letting it pass for a plain "ok".
pub fn skipped(why: &str) {
    eprintln!("SKIPPED: {why}");
    if let Some(path) = std::env::var_os("PORTCULLIS_SKIP_LOG")
        && let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let _ = writeln!(file, "SKIPPED: {why}");
    }
}

/// An in-memory audit destination shared with the test: the service writes JSON lines, the
/// test reads them back.
#[derive(Clone, Default)]
pub struct SharedBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuf {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// Every line, parsed.
    pub fn records(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }

    /// An audit sink writing here.
    pub fn sink(&self) -> portcullis::telemetry::AuditSink {
        portcullis::telemetry::AuditSink::new(Box::new(self.clone()))
    }
}
