//! The CONNECT proxy on loopback (issue 17): a real proxy over the lab's resolver and
//! policy, a hand-written CONNECT client, TLS to the lab origin through the tunnel. What
//! needs a private namespace (real clients, the sealed catalogue) is in
//! `scripts/proxy-suite.sh` / `tests/suite/proxy_clients.rs`.
#![allow(clippy::disallowed_methods)] // connects only to the proxy under test on 127.0.0.1

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use portcullis::config::{ProxyCallerConfig, ProxyConfig};
use portcullis::proxy::{self, Proxy};
use portcullis::server::auth::Callers;
use portcullis::telemetry::{AuditSink, Telemetry};
use portcullis::testing::dns::DnsBehavior;
use portcullis::testing::origin::Route;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{self, Lab, ORIGIN_IP, SharedBuf};

pub const TOKEN: &str = "proxy-test-token-4f1b";
/// A loopback address the test rules do not allow (blocked as `loopback`), with a listener
/// counting every connection: a refusal must leave it at zero.
pub const TRAP_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 5));
/// An allowed test address (the rules' 127.0.0.4/32) where the cap tests run an echo server.
pub const ECHO_IP: IpAddr = common::H2_IP;

/// An in-memory audit destination shared with the test.
/// The proxy's own audit lines.
fn tunnel_records(audit: &SharedBuf) -> Vec<Value> {
    audit
        .records()
        .into_iter()
        .filter(|v| v["event"] == "proxy_tunnel")
        .collect()
}

pub struct ProxyLab {
    pub lab: Lab,
    pub addr: SocketAddr,
    pub proxy: Arc<Proxy>,
    pub telemetry: Arc<Telemetry>,
    pub audit: SharedBuf,
    pub trap_hits: Arc<AtomicUsize>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// Counts connections to `ip:port` (accepts and drops them).
pub async fn trap(ip: IpAddr, port: u16) -> Arc<AtomicUsize> {
    let listener = TcpListener::bind((ip, port)).await.unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(s);
        }
    });
    hits
}

impl ProxyLab {
    pub async fn start(tweak: impl FnOnce(&mut ProxyConfig)) -> ProxyLab {
        let lab = Lab::start().await;
        lab.origin.route("/ok", Route::json(r#"{"ok":true}"#));
        let port = lab.port();
        let trap_hits = trap(TRAP_IP, port).await;
        lab.dns
            .set("trap.test", DnsBehavior::Addresses(vec![TRAP_IP]));
        lab.dns.set(
            "mixedtrap.test",
            DnsBehavior::Addresses(vec![ORIGIN_IP, TRAP_IP]),
        );
        lab.dns.set(
            "meta.test",
            DnsBehavior::Addresses(vec!["169.254.169.254".parse().unwrap()]),
        );
        lab.dns.set(
            "rebind-proxy.test",
            DnsBehavior::Rebind {
                first: vec![ORIGIN_IP],
                first_queries: 2,
                then: vec![TRAP_IP],
            },
        );
        lab.dns
            .set("echo.test", DnsBehavior::Addresses(vec![ECHO_IP]));
        lab.dns.set("gone.test", DnsBehavior::NxDomain);
        let mut config = ProxyConfig {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            ..ProxyConfig::default()
        };
        tweak(&mut config);
        let audit = SharedBuf::default();
        let telemetry = Arc::new(
            Telemetry::new(Some(AuditSink::new(Box::new(audit.clone()))), "test").unwrap(),
        );
        let callers = Callers::from_config(&common::caller_with_token(TOKEN));
        let listener = proxy::bind(&config, false).await.unwrap().unwrap();
        let addr = listener.local_addr().unwrap();
        let proxy = Arc::new(
            Proxy::new(lab.fetcher.clone(), callers, config, telemetry.clone())
                .unwrap()
                .restrict_connections(portcullis::testing::loopback_only),
        );
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(proxy::serve(proxy.clone(), listener, async move {
            let _ = rx.await;
        }));
        ProxyLab {
            lab,
            addr,
            proxy,
            telemetry,
            audit,
            trap_hits,
            _shutdown: tx,
        }
    }

    pub fn target(&self, host: &str) -> String {
        format!("{host}:{}", self.lab.port())
    }

    /// Waits for the audit line of the `n`-th CONNECT (lines are written at refusal or at
    /// tunnel end).
    pub async fn records(&self, n: usize) -> Vec<Value> {
        common::wait_until(|| tunnel_records(&self.audit).len() >= n).await;
        tunnel_records(&self.audit)
    }

    pub fn metric(&self, series: &str) -> f64 {
        let text = self.telemetry.render();
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no series {series}"))
    }
}

pub fn basic(user: &str, token: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"))
    )
}

pub struct ProxyReply {
    pub status: u16,
    pub head: String,
    pub stream: TcpStream,
}

impl ProxyReply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// Sends one request head to the proxy and reads the response head (the body, if any,
/// stays in the stream).
pub async fn send_head(proxy: SocketAddr, head: &str) -> ProxyReply {
    assert!(proxy.ip().is_loopback());
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte))
            .await
            .expect("proxy answered within 10 s")
            .unwrap();
        assert!(n == 1, "proxy closed before a response head: {buf:?}");
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap();
    ProxyReply {
        status,
        head,
        stream,
    }
}

pub async fn connect(proxy: SocketAddr, target: &str, auth: Option<&str>) -> ProxyReply {
    let auth = auth
        .map(|a| format!("Proxy-Authorization: {a}\r\n"))
        .unwrap_or_default();
    send_head(
        proxy,
        &format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{auth}\r\n"),
    )
    .await
}

pub async fn connect_as_caller(proxy: SocketAddr, target: &str) -> ProxyReply {
    connect(proxy, target, Some(&basic("as-1", TOKEN))).await
}

/// TLS through an established tunnel to a lab name, one GET, the whole response.
pub async fn get_through(lab: &Lab, tunnel: TcpStream, name: &str, path: &str) -> String {
    let roots = portcullis::fetch::tls::load_pem_certs(lab.ca_file.path()).unwrap();
    let mut store = rustls::RootCertStore::empty();
    for root in roots {
        store.add(root).unwrap();
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(store)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let server_name = rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap();
    let mut tls = connector.connect(server_name, tunnel).await.unwrap();
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn an_allowed_target_is_tunnelled_pinned_and_audited() {
    let p = ProxyLab::start(|_| {}).await;
    let reply = connect_as_caller(p.addr, &p.target("good.test")).await;
    assert_eq!(reply.status, 200, "{}", reply.head);
    let response = get_through(&p.lab, reply.stream, "good.test", "/ok").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(r#"{"ok":true}"#), "{response}");
    let records = p.records(1).await;
    let r = &records[0];
    assert_eq!(r["caller"], "as-1");
    assert_eq!(r["host"], "good.test");
    assert_eq!(r["port"], p.lab.port());
    assert_eq!(r["status"], 200);
    assert_eq!(r["addresses"][0]["ip"], "127.0.0.2");
    assert_eq!(r["addresses"][0]["decision"], "allow");
    assert_eq!(r["connected"], format!("127.0.0.2:{}", p.lab.port()));
    assert_eq!(r["ended"], "closed");
    assert!(r["bytes_up"].as_u64().unwrap() > 100, "{r}");
    assert!(r["bytes_down"].as_u64().unwrap() > 100, "{r}");
    assert!(r["duration_ms"].as_f64().unwrap() > 0.0);
    assert!(
        !r.to_string().contains(TOKEN),
        "the token never reaches the audit log"
    );
    assert_eq!(
        p.metric(r#"portcullis_proxy_connects_total{outcome="tunnel"}"#),
        1.0
    );
    assert_eq!(
        p.metric(r#"portcullis_proxy_tunnels_ended_total{reason="closed"}"#),
        1.0
    );
    assert_eq!(p.metric("portcullis_proxy_tunnels_open"), 0.0);
    assert_eq!(p.lab.origin.hits_for("/ok"), 1);
    // scripts/check-observability.sh lints this exposition with `promtool check metrics`.
    if let Some(path) = std::env::var_os("PORTCULLIS_PROXY_METRICS_DUMP") {
        std::fs::write(path, p.telemetry.render()).unwrap();
    }
}

/// (target, expected status, expected code) — every refusal names its code in the header,
/// the body and the audit line, and none reaches the trap listener.
#[tokio::test]
async fn blocked_targets_are_refused_with_the_same_codes_and_never_connected() {
    let p = ProxyLab::start(|_| {}).await;
    let port = p.lab.port();
    let cases: Vec<(String, u16, &str)> = vec![
        (format!("trap.test:{port}"), 403, "loopback"),
        (format!("127.0.0.5:{port}"), 403, "loopback"),
        (format!("2130706437:{port}"), 403, "loopback"),
        (format!("[::ffff:127.0.0.5]:{port}"), 403, "loopback"),
        (format!("mixedtrap.test:{port}"), 403, "loopback"),
        (format!("meta.test:{port}"), 403, "cloud_metadata"),
        ("169.254.169.254:443".into(), 403, "cloud_metadata"),
        (format!("0.0.0.0:{port}"), 403, "unspecified"),
        ("good.test:22".into(), 403, "port_not_allowed"),
        (format!("gone.test:{port}"), 502, "dns_nxdomain"),
        ("good.test".into(), 400, "proxy_bad_target"),
    ];
    for (target, status, code) in &cases {
        let reply = connect_as_caller(p.addr, target).await;
        assert_eq!(reply.status, *status, "{target}: {}", reply.head);
        assert_eq!(
            reply.header("x-portcullis-error").as_deref(),
            Some(*code),
            "{target}"
        );
    }
    let records = p.records(cases.len()).await;
    for (record, (target, status, code)) in records.iter().zip(&cases) {
        assert_eq!(record["status"], *status, "{target}: {record}");
        assert_eq!(record["error"], *code, "{target}: {record}");
        assert!(record["connected"].is_null(), "{target}: {record}");
    }
    let mixed = &records[4];
    let problems: Vec<&str> = mixed["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(problems.contains(&"mixed_resolution"), "{mixed}");
    assert_eq!(mixed["addresses"].as_array().unwrap().len(), 2, "{mixed}");
    assert_eq!(
        p.trap_hits.load(Ordering::SeqCst),
        0,
        "a blocked address was connected to"
    );
    assert_eq!(
        p.metric(r#"portcullis_proxy_refusals_total{code="loopback"}"#),
        5.0
    );
    assert_eq!(p.lab.origin.hits().len(), 0);
}

#[tokio::test]
async fn rebinding_cannot_move_a_tunnel_to_a_blocked_address() {
    let p = ProxyLab::start(|_| {}).await;
    // First answers point at the allowed origin, later ones at the trap; every CONNECT is
    // resolved once and pinned, so each tunnel goes where its own checked answer said.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let reply = connect_as_caller(p.addr, &p.target("rebind-proxy.test")).await;
        if reply.status == 403 {
            assert_eq!(
                reply.header("x-portcullis-error").as_deref(),
                Some("loopback")
            );
        }
        statuses.push(reply.status);
    }
    assert_eq!(statuses[0], 200, "{statuses:?}");
    assert_eq!(statuses[3], 403, "{statuses:?}");
    assert_eq!(p.trap_hits.load(Ordering::SeqCst), 0);
    let records = p.records(4).await;
    assert_eq!(
        records[0]["connected"],
        format!("127.0.0.2:{}", p.lab.port())
    );
}

#[tokio::test]
async fn authentication_and_method_refusals() {
    let p = ProxyLab::start(|_| {}).await;
    let target = p.target("good.test");
    let none = connect(p.addr, &target, None).await;
    assert_eq!(none.status, 407);
    assert!(
        none.head
            .starts_with("HTTP/1.1 407 proxy_auth_required\r\n"),
        "{}",
        none.head
    );
    assert_eq!(
        none.header("proxy-authenticate").as_deref(),
        Some("Basic realm=\"portcullis\"")
    );
    assert_eq!(
        none.header("x-portcullis-error").as_deref(),
        Some("proxy_auth_required")
    );
    let wrong = connect(p.addr, &target, Some(&basic("as-1", "nope"))).await;
    assert_eq!(
        wrong.header("x-portcullis-error").as_deref(),
        Some("proxy_auth_invalid")
    );
    assert_eq!(wrong.status, 407);
    let other_name = connect(p.addr, &target, Some(&basic("someone", TOKEN))).await;
    assert_eq!(other_name.status, 407);
    let bearer = connect(p.addr, &target, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(bearer.status, 407);
    let plain = send_head(
        p.addr,
        &format!(
            "GET http://good.test:{}/ok HTTP/1.1\r\nHost: good.test\r\nProxy-Authorization: {}\r\n\r\n",
            p.lab.port(),
            basic("as-1", TOKEN)
        ),
    )
    .await;
    assert_eq!(plain.status, 405);
    assert_eq!(
        plain.header("x-portcullis-error").as_deref(),
        Some("proxy_method_not_allowed")
    );
    let records = p.records(5).await;
    assert!(records.iter().all(|r| r["connected"].is_null()));
    assert_eq!(p.lab.origin.hits().len(), 0);
}

fn role(tweak: impl FnOnce(&mut ProxyCallerConfig)) -> impl FnOnce(&mut ProxyConfig) {
    move |c: &mut ProxyConfig| {
        let mut r = ProxyCallerConfig {
            name: "as-1".into(),
            ..ProxyCallerConfig::default()
        };
        tweak(&mut r);
        c.callers = vec![r];
    }
}

#[tokio::test]
async fn a_caller_allow_list_limits_its_hosts() {
    let p = ProxyLab::start(role(|r| r.allow_hosts = vec!["alt.test".into()])).await;
    let refused = connect_as_caller(p.addr, &p.target("good.test")).await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.header("x-portcullis-error").as_deref(),
        Some("proxy_host_not_allowed_for_caller")
    );
    let allowed = connect_as_caller(p.addr, &p.target("alt.test")).await;
    assert_eq!(allowed.status, 200, "{}", allowed.head);
}

#[tokio::test]
async fn report_only_logs_instead_of_blocking_but_never_lifts_the_floor() {
    let p = ProxyLab::start(role(|r| {
        r.allow_hosts = vec!["alt.test".into()];
        r.report_only = true;
    }))
    .await;
    // Outside the allow-list: let through, reported.
    let off_list = connect_as_caller(p.addr, &p.target("good.test")).await;
    assert_eq!(off_list.status, 200, "{}", off_list.head);
    drop(off_list);
    // A range-table block (loopback here): let through, reported, and really connected.
    let ranged = connect_as_caller(p.addr, &p.target("trap.test")).await;
    assert_eq!(ranged.status, 200, "{}", ranged.head);
    drop(ranged);
    common::wait_until(|| p.trap_hits.load(Ordering::SeqCst) == 1).await;
    // The floor stays shut.
    let meta = connect_as_caller(p.addr, &p.target("meta.test")).await;
    assert_eq!(meta.status, 403);
    assert_eq!(
        meta.header("x-portcullis-error").as_deref(),
        Some("cloud_metadata")
    );
    let records = p.records(3).await;
    let by_host = |h: &str| records.iter().find(|r| r["host"] == h).unwrap().clone();
    let good = by_host("good.test");
    assert_eq!(good["report_only"], true);
    assert_eq!(good["problems"][0], "proxy_host_not_allowed_for_caller");
    let trap = by_host("trap.test");
    assert!(
        trap["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "loopback"),
        "{trap}"
    );
    assert_eq!(by_host("meta.test")["error"], "cloud_metadata");
    assert_eq!(
        p.metric(r#"portcullis_proxy_report_only_total{code="loopback"}"#),
        1.0
    );
}

/// An echo server on the allowed 127.0.0.4 at the lab port: whatever arrives goes back, and
/// `greeting` bytes are sent first.
async fn echo(port: u16, greeting: usize) {
    let listener = TcpListener::bind((ECHO_IP, port)).await.unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                if greeting > 0 && s.write_all(&vec![b'g'; greeting]).await.is_err() {
                    return;
                }
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
}

/// Reads until the proxy closes the tunnel; returns the bytes read.
async fn drain(stream: &mut TcpStream) -> usize {
    let mut total = 0;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return total,
            Ok(Ok(n)) => total += n,
            Err(_) => panic!("tunnel still open after 10 s"),
        }
    }
}

#[tokio::test]
async fn idle_lifetime_and_byte_caps_cut_audit_and_count() {
    let p = ProxyLab::start(|c| {
        // Idle well above the busy loop's 50 ms pauses, so a loaded machine cannot turn the
        // lifetime case into an idle one.
        c.idle_timeout_ms = 1_000;
        c.max_lifetime_ms = 3_000;
        c.max_bytes_down = 10_000;
        c.max_bytes_up = 2_000;
    })
    .await;
    echo(p.lab.port(), 0).await;
    let target = p.target("echo.test");

    // Idle: nothing sent, the proxy cuts it.
    let mut idle = connect_as_caller(p.addr, &target).await;
    assert_eq!(idle.status, 200, "{}", idle.head);
    assert_eq!(drain(&mut idle.stream).await, 0);

    // Lifetime: busy every 50 ms (never idle), cut at 3 s.
    let mut busy = connect_as_caller(p.addr, &target).await.stream;
    let started = std::time::Instant::now();
    let mut buf = [0u8; 1];
    loop {
        if busy.write_all(b"x").await.is_err() {
            break;
        }
        match tokio::time::timeout(Duration::from_secs(5), busy.read(&mut buf)).await {
            Ok(Ok(1)) => {}
            _ => break,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "lifetime never cut"
        );
    }

    // Bytes up: 5 000 bytes sent, only 2 000 forwarded, then cut.
    let mut up = connect_as_caller(p.addr, &target).await.stream;
    let _ = up.write_all(&[b'u'; 5_000]).await;
    let echoed = drain(&mut up).await;
    assert!(echoed <= 2_000, "{echoed}");

    let records = p.records(3).await;
    let ended: Vec<&str> = records
        .iter()
        .map(|r| r["ended"].as_str().unwrap())
        .collect();
    assert_eq!(
        ended,
        ["idle_timeout", "lifetime_exceeded", "bytes_exceeded_up"]
    );
    assert_eq!(records[2]["bytes_up"], 2_000);
    for reason in ["idle_timeout", "lifetime_exceeded", "bytes_exceeded_up"] {
        assert_eq!(
            p.metric(&format!(
                r#"portcullis_proxy_tunnels_ended_total{{reason="{reason}"}}"#
            )),
            1.0,
            "{reason}"
        );
    }
}

#[tokio::test]
async fn bytes_down_cap_cuts_a_large_response() {
    let p = ProxyLab::start(|c| c.max_bytes_down = 10_000).await;
    echo(p.lab.port(), 50_000).await;
    let mut tunnel = connect_as_caller(p.addr, &p.target("echo.test"))
        .await
        .stream;
    assert_eq!(drain(&mut tunnel).await, 10_000);
    let records = p.records(1).await;
    assert_eq!(records[0]["ended"], "bytes_exceeded_down");
    assert_eq!(records[0]["bytes_down"], 10_000);
}

#[tokio::test]
async fn tunnel_counts_and_rates_are_capped() {
    let p = ProxyLab::start(|c| {
        c.max_tunnels_per_caller = 1;
        c.per_target_host_per_s = 1;
        c.per_target_host_burst = 2;
    })
    .await;
    let first = connect_as_caller(p.addr, &p.target("good.test")).await;
    assert_eq!(first.status, 200);
    let second = connect_as_caller(p.addr, &p.target("alt.test")).await;
    assert_eq!(second.status, 429);
    assert_eq!(
        second.header("x-portcullis-error").as_deref(),
        Some("proxy_caller_tunnels_exhausted")
    );
    assert_eq!(p.proxy.open_tunnels(), 1);
    // The host rate is checked before the tunnel slot, so while `first` holds the caller's
    // only slot, CONNECTs to a fresh host use up its burst of 2, then the rate refuses.
    let mut codes = Vec::new();
    for _ in 0..3 {
        let reply = connect_as_caller(p.addr, &p.target("final.test")).await;
        assert_eq!(reply.status, 429, "{}", reply.head);
        codes.push(reply.header("x-portcullis-error").unwrap());
    }
    assert_eq!(
        codes,
        [
            "proxy_caller_tunnels_exhausted",
            "proxy_caller_tunnels_exhausted",
            "proxy_rate_limited_target_host"
        ]
    );
    drop(first);
    common::wait_until(|| p.proxy.open_tunnels() == 0).await;
    let again = connect_as_caller(p.addr, &p.target("good.test")).await;
    assert_eq!(again.status, 200, "{}", again.head);
}

/// A free loopback port (bound, read, released) for a child process to listen on.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the child when the test ends, whichever way.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn portcullis_serve_starts_the_proxy_from_config() {
    let lab = Lab::start().await;
    lab.origin.route("/ok", Route::json(r#"{"ok":true}"#));
    let (api_port, proxy_port) = (free_port(), free_port());
    let mut text =
        common::cli_config_text(lab.dns.addr(), lab.ca_file.path(), lab.rules_file.path());
    text = format!(
        "[server]\nlisten = \"127.0.0.1:{api_port}\"\n[[server.callers]]\nname = \"as-1\"\ntoken_sha256 = \"{}\"\n\n[proxy]\nlisten = \"127.0.0.1:{proxy_port}\"\n\n{text}\n[audit]\nenabled = false\n",
        portcullis::server::auth::token_sha256_hex(TOKEN)
    );
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    let _child = Child(
        std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["serve", "--config"])
            .arg(file.path())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let proxy_addr: SocketAddr = format!("127.0.0.1:{proxy_port}").parse().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(proxy_addr).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the proxy never listened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reply = connect_as_caller(proxy_addr, &format!("good.test:{}", lab.port())).await;
    assert_eq!(reply.status, 200, "{}", reply.head);
    let response = get_through(&lab, reply.stream, "good.test", "/ok").await;
    assert!(response.contains(r#"{"ok":true}"#), "{response}");
    let refused = connect_as_caller(proxy_addr, "169.254.169.254:443").await;
    assert_eq!(
        refused.header("x-portcullis-error").as_deref(),
        Some("cloud_metadata")
    );
    // The proxy's metrics are on the API's /metrics.
    let api: SocketAddr = format!("127.0.0.1:{api_port}").parse().unwrap();
    let metrics = common::api::get(api, "/metrics").await;
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    assert!(
        text.contains(r#"portcullis_proxy_refusals_total{code="cloud_metadata"} 1"#),
        "{text}"
    );
}
