//! Load-test lab: a loopback DNS responder, TLS origin and the real service, for
//! `scripts/loadtest.sh`. Two modes:
//!
//! * `serve PORT` — run the service on 127.0.0.1:PORT over the lab and print one JSON line
//!   with the URLs to drive (until killed);
//! * `cold N` — measure N cold fetches through the service (HTTP API, unique URLs, no cache)
//!   against N fetches of the same document by a plain hickory + rustls + hyper client with
//!   none of the checks, and print medians, p99s and their ratios.
//!
//! Everything listens on loopback; the service's fetcher only connects to loopback. With
//! `PORTCULLIS_FLEET_REDIS` (a `redis+unix://` or loopback URL) and `PORTCULLIS_FLEET_SECRET`
//! (a file) the service runs in fleet mode (`scripts/fleet-bench.sh`).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]
#![allow(clippy::disallowed_methods)] // the naive client and the API client connect to loopback only

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::TokioIo;
use portcullis::assemble;
use portcullis::config::Config;
use portcullis::fetch::resolver::{HickoryResolver, Resolve};
use portcullis::policy::{Policy, PolicyOptions, RulesFile};
use portcullis::server::{self, App, Listeners};
use portcullis::testing::dns::{DnsBehavior, DnsResponder};
use portcullis::testing::origin::{Route, TestOrigin};
use portcullis::testing::pki::{TestCa, Validity};
use rustls::pki_types::ServerName;

const ORIGIN: [u8; 4] = [127, 0, 0, 2];
const NAME: &str = "origin.load.test";

struct Lab {
    _dns: DnsResponder,
    _origin: TestOrigin,
    ca: TestCa,
    config: Config,
    port: u16,
}

fn doc() -> String {
    // About 1 KiB of JSON.
    let keys: Vec<String> = (0..24)
        .map(|i| format!("\"member_{i:02}\":\"{}\"", "v".repeat(30)))
        .collect();
    format!("{{{}}}", keys.join(","))
}

async fn lab(max_fetches: usize, max_queue: usize) -> Lab {
    let ca = TestCa::new().unwrap();
    let tls = ca
        .server_config(&[NAME], Validity::Current, &[b"http/1.1"])
        .unwrap();
    let origin = TestOrigin::start(IpAddr::from(ORIGIN), 0, tls)
        .await
        .unwrap();
    let port = origin.addr().port();
    origin.route("/doc.json", Route::json(doc()));
    origin.route(
        "/slow.json",
        Route::Drip {
            head:
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1024\r\n\r\n"
                    .to_vec(),
            body: vec![b' '; 1024],
            chunk: 64,
            delay: Duration::from_millis(250),
        },
    );
    let dns = DnsResponder::start(IpAddr::from([127, 0, 0, 1]))
        .await
        .unwrap();
    dns.set(NAME, DnsBehavior::Addresses(vec![IpAddr::from(ORIGIN)]));
    let mut config = Config::default();
    config.resolver.nameservers = vec![dns.addr()];
    config.tls.builtin_roots = false;
    config.audit.enabled = false;
    config.rate.per_caller_per_s = 1_000_000;
    config.rate.per_caller_burst = 1_000_000;
    config.rate.per_target_host_per_s = 1_000_000;
    config.rate.per_target_host_burst = 1_000_000;
    config.limits.max_concurrent_fetches = max_fetches;
    config.limits.max_queued_requests = max_queue;
    config.limits.total_timeout_ms = 10_000;
    config.limits.body_timeout_ms = 8_000;
    config.server.max_connections = 8_192;
    // Fleet mode for scripts/fleet-bench.sh: a loopback / Unix-socket Redis only.
    if let Ok(url) = std::env::var("PORTCULLIS_FLEET_REDIS") {
        assert!(
            url.starts_with("redis+unix://") || url.starts_with("redis://127."),
            "the load lab only talks to a local Redis: {url}"
        );
        let secret = std::env::var("PORTCULLIS_FLEET_SECRET").expect("PORTCULLIS_FLEET_SECRET");
        config.fleet = Some(portcullis::config::FleetConfig::new(url, secret.into()));
    }
    Lab {
        _dns: dns,
        _origin: origin,
        ca,
        config,
        port,
    }
}

async fn start_service(lab: &Lab, listen: SocketAddr) -> SocketAddr {
    let mut config = lab.config.clone();
    config.server.listen = listen;
    let rules = format!(
        "ports = [{}]\n\n[[ranges]]\ncidr = \"127.0.0.2/32\"\naction = \"allow\"\nnote = \"load lab origin\"\n",
        lab.port
    );
    let policy = Policy::new(
        vec![
            RulesFile::embedded_default(),
            RulesFile::parse(&rules, "loadlab").unwrap(),
        ],
        PolicyOptions::default(),
    )
    .unwrap();
    let resolver: Arc<dyn Resolve> =
        Arc::new(HickoryResolver::from_config(&config.resolver).unwrap());
    let fetcher = assemble::build_fetcher_with(&config, policy, resolver, &[lab.ca.ca_der()])
        .unwrap()
        .restrict_connections(portcullis::testing::loopback_only);
    let listeners = Listeners::bind(&config.server).await.unwrap();
    let addr = listeners.tcp_addr().unwrap();
    let server_config = config.server.clone();
    let service = assemble::build_service(config, fetcher, None).unwrap();
    let app = Arc::new(App::new(service, server_config));
    tokio::spawn(server::serve(app, listeners, std::future::pending()));
    addr
}

async fn post(addr: SocketAddr, body: String) -> (u16, Bytes) {
    assert!(addr.ip().is_loopback());
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = http::Request::post("/v1/fetch")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.into_body().collect().await.unwrap().to_bytes(),
    )
}

/// A plain fetch with none of the checks: resolve, connect, TLS, GET, read.
async fn naive_fetch(
    resolver: &HickoryResolver,
    tls: Arc<rustls::ClientConfig>,
    port: u16,
    path: &str,
) -> usize {
    let ip = resolver.lookup(NAME).await.unwrap()[0];
    assert!(ip.is_loopback());
    let tcp = tokio::net::TcpStream::connect(SocketAddr::new(ip, port))
        .await
        .unwrap();
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(ServerName::try_from(NAME).unwrap(), tcp)
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = http::Request::get(path)
        .header("host", format!("{NAME}:{port}"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .len()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn cold(n: usize) {
    let lab = lab(64, 1024).await;
    let addr = start_service(&lab, "127.0.0.1:0".parse().unwrap()).await;
    let resolver = HickoryResolver::from_config(&lab.config.resolver).unwrap();
    let tls = portcullis::fetch::tls::client_config(&lab.config.tls, &[lab.ca.ca_der()]).unwrap();
    let mut through = Vec::with_capacity(n);
    let mut naive = Vec::with_capacity(n);
    // Interleave so both see the same machine state; warm up each once.
    let _ = post(
        addr,
        format!(
            r#"{{"url":"https://{NAME}:{}/doc.json?warm","kind":"json"}}"#,
            lab.port
        ),
    )
    .await;
    let _ = naive_fetch(&resolver, tls.clone(), lab.port, "/doc.json").await;
    for i in 0..n {
        let body = format!(
            r#"{{"url":"https://{NAME}:{}/doc.json?n={i}","kind":"json"}}"#,
            lab.port
        );
        let started = Instant::now();
        let (status, reply) = post(addr, body).await;
        through.push(started.elapsed());
        assert_eq!(status, 200);
        assert!(
            std::str::from_utf8(&reply)
                .unwrap()
                .contains("\"outcome\":\"valid\"")
        );
        let started = Instant::now();
        let len = naive_fetch(
            &resolver,
            tls.clone(),
            lab.port,
            &format!("/doc.json?n={i}"),
        )
        .await;
        naive.push(started.elapsed());
        assert!(len > 1000, "{len}");
    }
    through.sort();
    naive.sort();
    let (tm, tp) = (percentile(&through, 0.5), percentile(&through, 0.99));
    let (nm, np) = (percentile(&naive, 0.5), percentile(&naive, 0.99));
    println!(
        "{{\"cold_fetches\":{n},\"portcullis_median_ms\":{:.3},\"portcullis_p99_ms\":{:.3},\"naive_median_ms\":{:.3},\"naive_p99_ms\":{:.3},\"median_ratio\":{:.2},\"p99_ratio\":{:.2}}}",
        ms(tm),
        ms(tp),
        ms(nm),
        ms(np),
        tm.as_secs_f64() / nm.as_secs_f64(),
        tp.as_secs_f64() / np.as_secs_f64()
    );
}

async fn serve(port: u16) {
    let lab = lab(64, 1024).await;
    let addr = start_service(&lab, SocketAddr::from(([127, 0, 0, 1], port))).await;
    println!(
        "{{\"service\":\"http://{addr}\",\"doc_url\":\"https://{NAME}:{p}/doc.json\",\"slow_url\":\"https://{NAME}:{p}/slow.json\",\"pid\":{pid}}}",
        p = lab.port,
        pid = std::process::id()
    );
    std::future::pending::<()>().await;
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => serve(args.get(1).and_then(|p| p.parse().ok()).unwrap_or(18_787)).await,
        Some("cold") => cold(args.get(1).and_then(|n| n.parse().ok()).unwrap_or(200)).await,
        _ => eprintln!("usage: loadlab serve [PORT] | loadlab cold [N]"),
    }
}
