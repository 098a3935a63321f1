//! CONNECT proxy benchmark (issue 17), all on loopback, one process, one run:
//!
//! 1. added latency: connect + TLS handshake + one GET of a 1 KiB document from a local TLS
//!    origin, directly vs through `CONNECT` on the proxy (interleaved; median, p99, ratio);
//! 2. tunnel throughput: a large transfer from a local sender, directly vs through a tunnel;
//! 3. memory per idle tunnel: RSS growth with K idle tunnels open, minus the growth with K
//!    direct idle connections (the benchmark's own two ends), divided by K.
//!
//! Usage: `cargo run --release --example proxy_bench [N_LATENCY] [MIB] [K_IDLE]`
//! (`scripts/proxy-bench.sh`). Every listener and every connection is on 127.0.0.0/8; the
//! proxy's connections are restricted to loopback as a second lock.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)] // loopback only

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis::assemble;
use portcullis::config::{Config, ProxyConfig};
use portcullis::fetch::resolver::{HickoryResolver, Resolve};
use portcullis::policy::{Policy, PolicyOptions, RulesFile};
use portcullis::proxy::{self, Proxy};
use portcullis::server::auth::Callers;
use portcullis::telemetry::Telemetry;
use portcullis::testing::origin::{Route, TestOrigin};
use portcullis::testing::pki::{TestCa, Validity};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ORIGIN: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const SENDER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4));
const NAME: &str = "bench.test";

async fn tcp(addr: SocketAddr) -> TcpStream {
    assert!(addr.ip().is_loopback());
    let s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// CONNECT through the proxy (open mode: no callers configured); the tunnel stream.
async fn tunnel(proxy: SocketAddr, target: SocketAddr) -> TcpStream {
    let mut s = tcp(proxy).await;
    s.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut head = Vec::with_capacity(64);
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut b).await.unwrap(), 1, "proxy closed");
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

async fn get(stream: TcpStream, tls: Arc<rustls::ClientConfig>) -> usize {
    let mut tls = tokio_rustls::TlsConnector::from(tls)
        .connect(ServerName::try_from(NAME).unwrap(), stream)
        .await
        .unwrap();
    tls.write_all(
        format!("GET /doc HTTP/1.1\r\nHost: {NAME}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    out.len()
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Sends `bytes` zeros to every connection, then closes it.
async fn sender(port: u16, bytes: u64) -> SocketAddr {
    let listener = TcpListener::bind((SENDER, port)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let chunk = vec![0u8; 64 * 1024];
                let mut left = bytes;
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    if s.write_all(&chunk[..n]).await.is_err() {
                        return;
                    }
                    left -= n as u64;
                }
            });
        }
    });
    addr
}

/// Accepts and holds every connection (for idle tunnels).
async fn holder(port: u16) -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind((SENDER, port)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
            c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    (addr, count)
}

async fn drain(mut s: TcpStream) -> u64 {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return total,
            Ok(n) => total += n as u64,
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(300) as usize;
    let mib = args.get(1).copied().unwrap_or(1024);
    let k = args.get(2).copied().unwrap_or(1000) as usize;

    let ca = TestCa::new().unwrap();
    let server_tls = ca
        .server_config(&[NAME], Validity::Current, &[b"http/1.1"])
        .unwrap();
    let origin = TestOrigin::start(ORIGIN, 0, server_tls).await.unwrap();
    origin.route("/doc", Route::json(vec![b' '; 1024]));
    let port = origin.addr().port();
    let send_addr = sender(port, mib * 1024 * 1024).await;
    let (hold_addr, held) = holder(0).await;

    let mut config = Config::default();
    config.resolver.nameservers = vec!["127.0.0.1:9".parse().unwrap()];
    let rules = format!(
        "ports = [{port}, {}]\n\n[[ranges]]\ncidr = \"127.0.0.2/32\"\naction = \"allow\"\n\n[[ranges]]\ncidr = \"127.0.0.4/32\"\naction = \"allow\"\n",
        hold_addr.port()
    );
    let policy = Policy::new(
        vec![
            RulesFile::embedded_default(),
            RulesFile::parse(&rules, "bench").unwrap(),
        ],
        PolicyOptions::default(),
    )
    .unwrap();
    let resolver: Arc<dyn Resolve> =
        Arc::new(HickoryResolver::from_config(&config.resolver).unwrap());
    let fetcher = assemble::build_fetcher_with(&config, policy, resolver, &[]).unwrap();
    let proxy_config = ProxyConfig {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        max_bytes_down: u64::MAX,
        max_tunnels: k + 64,
        max_tunnels_per_caller: k + 64,
        per_caller_per_s: 1_000_000,
        per_caller_burst: 1_000_000,
        per_target_host_per_s: 1_000_000,
        per_target_host_burst: 1_000_000,
        ..ProxyConfig::default()
    };
    let telemetry = Arc::new(Telemetry::new(None, "bench").unwrap());
    let listener = proxy::bind(&proxy_config, true).await.unwrap().unwrap();
    let proxy_addr = listener.local_addr().unwrap();
    let proxy = Arc::new(
        Proxy::new(fetcher, Callers::from_config(&[]), proxy_config, telemetry)
            .unwrap()
            .restrict_connections(portcullis::testing::loopback_only),
    );
    tokio::spawn(proxy::serve(
        proxy.clone(),
        listener,
        std::future::pending(),
    ));

    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.ca_der()).unwrap();
    let tls = Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let origin_addr = origin.addr();

    // 1. latency, interleaved, after a short warm-up
    for _ in 0..20 {
        get(tcp(origin_addr).await, tls.clone()).await;
        get(tunnel(proxy_addr, origin_addr).await, tls.clone()).await;
    }
    let (mut direct, mut via) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let t = Instant::now();
        assert!(get(tcp(origin_addr).await, tls.clone()).await > 1024);
        direct.push(t.elapsed());
        let t = Instant::now();
        assert!(get(tunnel(proxy_addr, origin_addr).await, tls.clone()).await > 1024);
        via.push(t.elapsed());
    }
    direct.sort();
    via.sort();
    let (d50, v50, d99, v99) = (
        pct(&direct, 0.5),
        pct(&via, 0.5),
        pct(&direct, 0.99),
        pct(&via, 0.99),
    );
    println!(
        "latency (connect+TLS+GET 1 KiB, n={n}): direct median {:.3} ms p99 {:.3} ms; via proxy median {:.3} ms p99 {:.3} ms; ratio median {:.2}x p99 {:.2}x; added median {:.3} ms",
        ms(d50),
        ms(d99),
        ms(v50),
        ms(v99),
        v50.as_secs_f64() / d50.as_secs_f64(),
        v99.as_secs_f64() / d99.as_secs_f64(),
        ms(v50.saturating_sub(d50)),
    );

    // 2. throughput
    let t = Instant::now();
    let got = drain(tcp(send_addr).await).await;
    let direct_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let got_via = drain(tunnel(proxy_addr, send_addr).await).await;
    let via_s = t.elapsed().as_secs_f64();
    assert_eq!(got, mib * 1024 * 1024);
    assert_eq!(got_via, got);
    let mibps = |s: f64| got as f64 / 1024.0 / 1024.0 / s;
    println!(
        "throughput ({mib} MiB one way): direct {:.0} MiB/s; through a tunnel {:.0} MiB/s ({:.0}% of direct)",
        mibps(direct_s),
        mibps(via_s),
        100.0 * direct_s / via_s
    );

    // 3. memory per idle tunnel
    tokio::time::sleep(Duration::from_millis(300)).await;
    let base = rss_kib();
    let mut direct_conns = Vec::with_capacity(k);
    for _ in 0..k {
        direct_conns.push(tcp(hold_addr).await);
    }
    while held.load(std::sync::atomic::Ordering::SeqCst) < k {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let with_direct = rss_kib();
    let mut tunnels = Vec::with_capacity(k);
    for _ in 0..k {
        tunnels.push(tunnel(proxy_addr, hold_addr).await);
    }
    while proxy.open_tunnels() < k || held.load(std::sync::atomic::Ordering::SeqCst) < 2 * k {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let with_tunnels = rss_kib();
    let direct_each = (with_direct.saturating_sub(base)) as f64 / k as f64;
    let tunnel_each = (with_tunnels.saturating_sub(with_direct)) as f64 / k as f64;
    println!(
        "memory ({k} idle): {direct_each:.1} KiB per direct idle connection pair (benchmark ends); {tunnel_each:.1} KiB per idle tunnel incl. its ends; proxy share ≈ {:.1} KiB per idle tunnel",
        tunnel_each - direct_each
    );
    drop(tunnels);
    drop(direct_conns);
}
