//! Fairness lab (issue 12, class 4): with the default limits, caller A floods the service
//! within its own rate limit (100 requests/s, distinct URLs on distinct hosts, every origin
//! dripping its body over ~2.4 s), while caller B asks for fast documents 10 times a
//! second. Prints B's latency (p50/p99/max) and both callers' status counts.
//!
//! `cargo run --release --example fairness [reserved_fetch_slots] [seconds]`
//!
//! Everything listens on loopback; the service's fetcher only connects to loopback.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]
#![allow(clippy::disallowed_methods)] // the API client connects to loopback only

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis::assemble;
use portcullis::config::{CallerConfig, Config};
use portcullis::server::{self, App, Listeners};
use portcullis::testing::dns::{DnsBehavior, DnsResponder};
use portcullis::testing::origin::{Route, TestOrigin};
use portcullis::testing::pki::{TestCa, Validity};

const ORIGIN: [u8; 4] = [127, 0, 0, 2];
const TOKEN_A: &str = "fairness-caller-a";
const TOKEN_B: &str = "fairness-caller-b";
const A_PER_S: u64 = 100;
const B_PER_S: u64 = 10;

async fn post(addr: SocketAddr, token: &str, body: String) -> (u16, String) {
    let reply = portcullis::testing::api::post_fetch(addr, Some(token), &body)
        .await
        .unwrap();
    (reply.status.as_u16(), reply.code())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let reserved: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(8);
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);

    let ca = TestCa::new().unwrap();
    let tls = ca
        .server_config(
            &["*.slow.test", "*.fast.test"],
            Validity::Current,
            &[b"http/1.1"],
        )
        .unwrap();
    let origin = TestOrigin::start(IpAddr::from(ORIGIN), 0, tls)
        .await
        .unwrap();
    let port = origin.addr().port();
    origin.route("/fast.json", Route::json(br#"{"keys":[]}"#.to_vec()));
    origin.route(
        "/slow.json",
        Route::drip_json(vec![b' '; 1024], 64, Duration::from_millis(150)),
    );
    let dns = DnsResponder::start(IpAddr::from([127, 0, 0, 1]))
        .await
        .unwrap();
    let a_total = A_PER_S * seconds;
    let b_total = B_PER_S * seconds;
    for i in 0..a_total {
        dns.set(
            &format!("a{i}.slow.test"),
            DnsBehavior::Addresses(vec![IpAddr::from(ORIGIN)]),
        );
    }
    for i in 0..b_total {
        dns.set(
            &format!("b{i}.fast.test"),
            DnsBehavior::Addresses(vec![IpAddr::from(ORIGIN)]),
        );
    }

    let mut config = Config::default();
    config.resolver.nameservers = vec![dns.addr()];
    config.tls.builtin_roots = false;
    config.audit.enabled = false;
    config.limits.reserved_fetch_slots = reserved;
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.server.callers = vec![
        CallerConfig {
            name: "as-a".into(),
            token_sha256: portcullis::config::TokenHash::of_token(TOKEN_A),
        },
        CallerConfig {
            name: "as-b".into(),
            token_sha256: portcullis::config::TokenHash::of_token(TOKEN_B),
        },
    ];
    let policy = portcullis::testing::one_origin_policy(
        SocketAddr::new(IpAddr::from(ORIGIN), port),
        "fairness lab origin",
    )
    .unwrap();
    let fetcher = portcullis::testing::lab_fetcher(&config, policy, &[ca.ca_der()]).unwrap();
    let listeners = Listeners::bind(&config.server).await.unwrap();
    let addr = listeners.tcp_addr().unwrap();
    let server_config = config.server.clone();
    let service = assemble::build_service(config, fetcher, None).unwrap();
    let app = Arc::new(App::new(service, server_config));
    tokio::spawn(server::serve(app, listeners, std::future::pending()));

    let started = Instant::now();
    let flood = tokio::spawn(async move {
        let mut tasks = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / A_PER_S));
        for i in 0..a_total {
            tick.tick().await;
            let body = serde_json::json!({
                "url": format!("https://a{i}.slow.test:{port}/slow.json"), "kind": "json"
            })
            .to_string();
            tasks.push(tokio::spawn(post(addr, TOKEN_A, body)));
        }
        let mut codes: BTreeMap<String, usize> = BTreeMap::new();
        for t in tasks {
            let (status, code) = t.await.unwrap();
            *codes.entry(format!("{status} {code}")).or_default() += 1;
        }
        codes
    });
    let mut b_tasks = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / B_PER_S));
    for i in 0..b_total {
        tick.tick().await;
        let body = serde_json::json!({
            "url": format!("https://b{i}.fast.test:{port}/fast.json"), "kind": "json"
        })
        .to_string();
        b_tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let (status, code) = post(addr, TOKEN_B, body).await;
            (sent.elapsed(), status, code)
        }));
    }
    let mut b_latency = Vec::new();
    let mut b_codes: BTreeMap<String, usize> = BTreeMap::new();
    for t in b_tasks {
        let (took, status, code) = t.await.unwrap();
        b_latency.push(took);
        *b_codes.entry(format!("{status} {code}")).or_default() += 1;
    }
    let a_codes = flood.await.unwrap();
    b_latency.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{}",
        serde_json::json!({
            "reserved_fetch_slots": reserved,
            "seconds": seconds,
            "elapsed_s": started.elapsed().as_secs_f64(),
            "caller_a": { "requests": a_total, "per_s": A_PER_S, "answers": a_codes },
            "caller_b": {
                "requests": b_total,
                "per_s": B_PER_S,
                "answers": b_codes,
                "p50_ms": ms(percentile(&b_latency, 0.5)),
                "p99_ms": ms(percentile(&b_latency, 0.99)),
                "max_ms": ms(*b_latency.last().unwrap()),
            },
        })
    );
}
