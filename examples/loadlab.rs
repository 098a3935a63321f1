//! Load-test lab: a loopback DNS responder, TLS origin and the real service, for
//! `scripts/loadtest.sh`. Two modes:
//!
//! * `serve PORT` — run the service on 127.0.0.1:PORT over the lab and print one JSON line
//!   with the URLs to drive (until killed); `PORTCULLIS_LOADLAB_ALG` picks the verdict
//!   algorithm (default: the service default, ES256);
//! * `rate ADDR URL RPS SECS [CONNS]` — open-loop load (wrk2-style: each request has an
//!   intended send time at a fixed rate and its latency counts from then, so a stall is not
//!   hidden by coordinated omission) of one cached verdict against a service started by
//!   `serve`; `RPS = 0` runs closed-loop for the maximum throughput;
//! * `entrymem` — RSS growth per cache entry beyond its counted heap text (100,000 small
//!   entries straight into the cache structure), to check `ENTRY_OVERHEAD_BYTES`;
//! * `cachemem N` — N distinct documents padded with large arrays of small numbers through
//!   the real service (cache.max_bytes = 32 MiB), RSS against the cache's bound;
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
        Route::drip_json(vec![b' '; 1024], 64, Duration::from_millis(250)),
    );
    let dns = DnsResponder::start(IpAddr::from([127, 0, 0, 1]))
        .await
        .unwrap();
    dns.set(NAME, DnsBehavior::Addresses(vec![IpAddr::from(ORIGIN)]));
    let mut config = Config::default();
    config.resolver.nameservers = vec![dns.addr()];
    config.tls.builtin_roots = false;
    config.audit.enabled = false;
    portcullis::testing::lift_rate_limits(&mut config.rate, 1_000_000);
    config.limits.max_concurrent_fetches = max_fetches;
    config.limits.max_queued_requests = max_queue;
    // One load caller: its queue may use the whole global queue, and waits are bounded by
    // the fetch deadline rather than the (shorter) default queue deadline.
    config.limits.max_queued_per_caller = max_queue;
    config.limits.max_queue_wait_ms = 30_000;
    config.limits.total_timeout_ms = 10_000;
    config.limits.body_timeout_ms = 8_000;
    config.server.max_connections = 8_192;
    // `PORTCULLIS_LOADLAB_ALG=EdDSA` (or `Ed25519`, `ES256`) measures another verdict
    // algorithm than the default.
    if let Ok(alg) = std::env::var("PORTCULLIS_LOADLAB_ALG") {
        config.signing.alg = Some(serde_json::from_value(serde_json::json!(alg)).unwrap());
    }
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
    let policy = portcullis::testing::one_origin_policy(
        SocketAddr::new(IpAddr::from(ORIGIN), lab.port),
        "load lab origin",
    )
    .unwrap();
    let fetcher = portcullis::testing::lab_fetcher(&config, policy, &[lab.ca.ca_der()]).unwrap();
    let listeners = Listeners::bind(&config.server).await.unwrap();
    let addr = listeners.tcp_addr().unwrap();
    let server_config = config.server.clone();
    let service = assemble::build_service(config, fetcher, None).unwrap();
    let app = Arc::new(App::new(service, server_config));
    tokio::spawn(server::serve(app, listeners, std::future::pending()));
    addr
}

async fn post(addr: SocketAddr, body: String) -> (u16, Bytes) {
    let reply = portcullis::testing::api::post_fetch(addr, None, &body)
        .await
        .unwrap();
    (reply.status.as_u16(), reply.body)
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

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .unwrap_or(0)
        * 1024
}

/// A document of `n` zeros in arrays of 1,000 (within the strict JSON limits: 1,000
/// elements per array, 256 members): ~2 bytes of text per element, 32+ bytes parsed.
fn padded_doc(n: usize) -> String {
    let array = format!("[{}]", vec!["0"; 1_000].join(","));
    let members: Vec<String> = (0..n / 1_000)
        .map(|i| format!("\"m{i}\":{array}"))
        .collect();
    format!("{{{}}}", members.join(","))
}

async fn entrymem() {
    use portcullis::kind::Outcome;
    use portcullis::service::cache::VerdictCache;
    use portcullis::service::{ENTRY_OVERHEAD_BYTES, FetchKey, Settled};
    use portcullis::verdict::CacheClaim;
    // 1. Per-entry overhead: 100,000 small entries straight into the cache structure.
    let entries = 100_000;
    let before = rss_bytes();
    let mut cache: VerdictCache<FetchKey, Arc<Settled>> = VerdictCache::new(entries, usize::MAX);
    let now = Instant::now();
    let mut counted = 0usize;
    for i in 0..entries {
        let key = FetchKey {
            kind: portcullis::kind::Kind::Json,
            url: format!("https://h.example/{i:08}"),
            expect: Default::default(),
            profile: portcullis::kind::Profile::Oauth,
        };
        let settled = Settled {
            outcome: Outcome::Valid,
            fetched_at: 0,
            cache: CacheClaim::default(),
            claims: format!("{{\"url\":\"https://h.example/{i:08}\"}}"),
            audit: String::new(),
        };
        let heap = key.heap_bytes() + settled.heap_bytes();
        counted += heap;
        cache.insert(
            key,
            Arc::new(settled),
            heap,
            now + Duration::from_secs(600),
            now,
        );
    }
    let grown = rss_bytes().saturating_sub(before);
    let overhead = grown.saturating_sub(counted) / entries;
    drop(cache);
    println!(
        "{{\"micro_entries\":{entries},\"rss_growth_bytes\":{grown},\"counted_heap_bytes\":{counted},\"measured_overhead_per_entry\":{overhead},\"entry_overhead_constant\":{ENTRY_OVERHEAD_BYTES}}}"
    );
}

async fn cachemem(n: usize) {
    // The real service with padded documents, cache.max_bytes = 32 MiB.
    let max_bytes = 32 * 1024 * 1024;
    let mut lab = lab(64, 1024).await;
    lab.config.cache.max_bytes = max_bytes;
    lab.config.cache.max_entries = 1_000_000;
    lab._origin
        .route("/pad.json", Route::json(padded_doc(120_000)));
    let addr = start_service(&lab, "127.0.0.1:0".parse().unwrap()).await;
    let base = rss_bytes();
    let mut peak = base;
    for i in 0..n {
        let body = format!(
            r#"{{"url":"https://{NAME}:{}/pad.json?n={i}","kind":"json"}}"#,
            lab.port
        );
        let (status, _) = post(addr, body).await;
        assert_eq!(status, 200);
        if i % 50 == 0 {
            peak = peak.max(rss_bytes());
        }
        if (i + 1).is_power_of_two() && i >= 127 {
            println!(
                "{{\"documents_so_far\":{},\"rss_bytes\":{}}}",
                i + 1,
                rss_bytes()
            );
        }
    }
    peak = peak.max(rss_bytes());
    let metrics = get_text(addr, "/metrics").await;
    let cache_bytes = metrics
        .lines()
        .find_map(|l| l.strip_prefix("portcullis_cache_size_bytes "))
        .unwrap_or("0")
        .to_owned();
    println!(
        "{{\"documents\":{n},\"document_bytes\":{},\"cache_max_bytes\":{max_bytes},\"cache_size_bytes\":{cache_bytes},\"rss_before_bytes\":{base},\"rss_peak_bytes\":{peak},\"rss_over_baseline_bytes\":{}}}",
        padded_doc(120_000).len(),
        peak.saturating_sub(base)
    );
}

async fn get_text(addr: SocketAddr, path: &str) -> String {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = http::Request::get(path)
        .header("host", "127.0.0.1")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes()).into_owned()
}

/// Open-loop (or, with `rps = 0`, closed-loop) load of one cached verdict.
async fn rate(addr: SocketAddr, url: String, rps: u64, secs: u64, conns: usize) {
    assert!(addr.ip().is_loopback());
    let body = Bytes::from(format!(r#"{{"url":"{url}","kind":"json"}}"#));
    let _ = post(addr, String::from_utf8_lossy(&body).into_owned()).await; // warm the cache
    let start = Instant::now() + Duration::from_millis(200);
    let end = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for c in 0..conns {
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let _ = stream.set_nodelay(true);
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .unwrap();
            tokio::spawn(conn);
            let mut lat = Vec::new();
            let mut errors = 0u64;
            // This connection's share of the schedule: every `conns`-th slot.
            let interval = if rps == 0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(conns as f64 / rps as f64)
            };
            let mut intended = start + interval.mul_f64(c as f64 / conns as f64);
            tokio::time::sleep_until(intended.into()).await;
            loop {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                if rps != 0 && intended > now {
                    tokio::time::sleep_until(intended.into()).await;
                }
                let sent_for = if rps == 0 { Instant::now() } else { intended };
                let request = http::Request::post("/v1/fetch")
                    .header("host", "127.0.0.1")
                    .header("content-type", "application/json")
                    .body(Full::new(body.clone()))
                    .unwrap();
                match sender.send_request(request).await {
                    Ok(response) => {
                        let ok = response.status() == 200;
                        let _ = response.into_body().collect().await;
                        if ok {
                            lat.push(sent_for.elapsed());
                        } else {
                            errors += 1;
                        }
                    }
                    Err(_) => {
                        errors += 1;
                        break;
                    }
                }
                intended += interval;
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    all.sort();
    let n = all.len();
    println!(
        "{{\"offered_rps\":{rps},\"secs\":{secs},\"conns\":{conns},\"answered\":{n},\"errors\":{errors},\"achieved_rps\":{:.0},\"p50_ms\":{:.3},\"p90_ms\":{:.3},\"p99_ms\":{:.3},\"p999_ms\":{:.3},\"max_ms\":{:.3}}}",
        n as f64 / secs as f64,
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.9)),
        ms(percentile(&all, 0.99)),
        ms(percentile(&all, 0.999)),
        ms(percentile(&all, 1.0)),
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
        Some("entrymem") => entrymem().await,
        Some("cachemem") => {
            cachemem(args.get(1).and_then(|n| n.parse().ok()).unwrap_or(1_000)).await
        }
        Some("rate") if args.len() >= 5 => {
            let addr: SocketAddr = args[1].parse().unwrap();
            let rps = args[3].parse().unwrap();
            let secs = args[4].parse().unwrap();
            let conns = args.get(5).and_then(|c| c.parse().ok()).unwrap_or(64);
            rate(addr, args[2].clone(), rps, secs, conns).await
        }
        _ => eprintln!(
            "usage: loadlab serve [PORT] | cold [N] | entrymem | cachemem [N] | rate ADDR URL RPS SECS [CONNS]"
        ),
    }
}
