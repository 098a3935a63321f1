//! Test lab for the client kits and the oidc-provider end-to-end test (issue 14).
//!
//! Starts a DNS responder and a TLS origin serving the documents of a JSON spec, writes a
//! ready-made `portcullis serve` config (resolver, extra root, a rules layer allowing exactly
//! the origin address) into a directory, prints one JSON line saying where everything is,
//! and runs until its standard input closes (so a test that spawned it and died takes it
//! down) or it is sent SIGTERM / SIGINT. On the way out it prints a second JSON line with
//! the connections counted on the "blocked" addresses and the origin's hits.
//!
//! ```text
//! cargo run --example testlab -- --spec spec.json --dir /tmp/lab
//! ```
//!
//! Spec (every member optional):
//!
//! ```json
//! {"names": {"client.lab.test": ["127.0.0.2"], "meta.lab.test": ["169.254.169.254"]},
//!  "routes": {"/client.json": {"status": 200, "headers": {"cache-control": "max-age=30"},
//!                             "body": "{\"client_id\":\"https://client.lab.test:${PORT}/client.json\"}"}},
//!  "callers": [{"name": "as-1", "token": "secret"}],
//!  "counters": ["169.254.169.254", "10.0.0.5"],
//!  "rate": {"per_target_host_per_s": 1000, "per_target_host_burst": 1000}}
//! ```
//!
//! A route with `"stall": true` never answers (deadline tests).
//! `${PORT}` in a route body is replaced by the origin's port. The origin listens on
//! 127.0.0.2; `counters` are addresses where a plain TCP listener on the origin's port counts
//! connections. Counters on non-loopback addresses are only opened inside a sealed network
//! namespace (`SealedNet::detect`); outside one they are refused and the lab exits.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use portcullis::testing::dns::{DnsBehavior, DnsResponder};
use portcullis::testing::origin::{Route, TestOrigin};
use portcullis::testing::pki::{TestCa, Validity};
use portcullis::testing::sealed::SealedNet;
use serde::Deserialize;
use std::io::{Read as _, Write as _};

/// Where the origin listens: the one address the lab's rules allow.
const ORIGIN_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// Where the DNS responder listens.
const DNS_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Spec {
    names: BTreeMap<String, Vec<IpAddr>>,
    routes: BTreeMap<String, RouteSpec>,
    callers: Vec<CallerSpec>,
    counters: Vec<IpAddr>,
    rate: Option<RateSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSpec {
    #[serde(default = "ok")]
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    body: String,
    /// Accept, read the request, never answer (deadline tests).
    #[serde(default)]
    stall: bool,
}

fn ok() -> u16 {
    200
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallerSpec {
    name: String,
    token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateSpec {
    per_caller_per_s: Option<u32>,
    per_caller_burst: Option<u32>,
    per_target_host_per_s: Option<u32>,
    per_target_host_burst: Option<u32>,
}

struct Args {
    spec: PathBuf,
    dir: PathBuf,
}

fn args() -> Result<Args, String> {
    let mut spec = None;
    let mut dir = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--spec" => spec = it.next().map(PathBuf::from),
            "--dir" => dir = it.next().map(PathBuf::from),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        spec: spec.ok_or("--spec FILE is required")?,
        dir: dir.ok_or("--dir DIR is required")?,
    })
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    l.local_addr().unwrap().port()
}

fn config_text(service_port: u16, dns: SocketAddr, dir: &std::path::Path, spec: &Spec) -> String {
    let mut text = format!(
        "[server]\nlisten = \"127.0.0.1:{service_port}\"\n",
        service_port = service_port
    );
    if !spec.callers.is_empty() {
        text.push_str("callers = [\n");
        for c in &spec.callers {
            text.push_str(&format!(
                "  {{ name = {:?}, token_sha256 = {:?} }},\n",
                c.name,
                portcullis::server::auth::token_sha256_hex(&c.token)
            ));
        }
        text.push_str("]\n");
    }
    let rate = spec.rate.as_ref();
    let pick = |v: Option<u32>, d: u32| v.unwrap_or(d);
    text.push('\n');
    text.push_str(&portcullis::testing::lab_config_toml(
        dns,
        &dir.join("ca.pem"),
        &dir.join("rules.toml"),
        2_000,
    ));
    text.push_str(&format!(
        r#"
[rate]
per_caller_per_s = {pc}
per_caller_burst = {pcb}
per_target_host_per_s = {ph}
per_target_host_burst = {phb}

[audit]
enabled = true
path = "{audit}"
"#,
        audit = dir.join("audit.log").display(),
        pc = pick(rate.and_then(|r| r.per_caller_per_s), 10_000),
        pcb = pick(rate.and_then(|r| r.per_caller_burst), 10_000),
        ph = pick(rate.and_then(|r| r.per_target_host_per_s), 10_000),
        phb = pick(rate.and_then(|r| r.per_target_host_burst), 10_000),
    ));
    text
}

/// Counts connections accepted on `addr` (and closes them at once).
async fn counter(addr: SocketAddr, count: Arc<AtomicUsize>) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    Ok(())
}

async fn until_stopped() {
    // A plain thread reads stdin (blocking) and reports its end over a oneshot.
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 64];
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
        let _ = closed_tx.send(());
    });
    let stdin_closed = async {
        let _ = closed_rx.await;
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        () = stdin_closed => {}
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[tokio::main]
async fn main() {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("testlab: {e}\nusage: testlab --spec FILE --dir DIR");
            std::process::exit(2);
        }
    };
    let spec: Spec = serde_json::from_slice(&std::fs::read(&args.spec).expect("read spec"))
        .expect("spec is valid JSON of the documented shape");
    std::fs::create_dir_all(&args.dir).expect("create --dir");

    let ca = TestCa::new().unwrap();
    let names: Vec<&str> = spec.names.keys().map(String::as_str).collect();
    let tls = ca
        .server_config(&names, Validity::Current, &[b"http/1.1"])
        .unwrap();
    let origin = TestOrigin::start(ORIGIN_IP, 0, tls).await.unwrap();
    let port = origin.addr().port();
    for (path, r) in &spec.routes {
        if r.stall {
            origin.route(path, Route::Stall);
            continue;
        }
        let body = r.body.replace("${PORT}", &port.to_string());
        let headers: Vec<(&str, &str)> = r
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let ct = r.content_type.as_deref().unwrap_or("application/json");
        origin.route(path, Route::response(r.status, ct, &headers, body));
    }

    let dns = DnsResponder::start(DNS_IP).await.unwrap();
    for (name, addrs) in &spec.names {
        dns.set(name, DnsBehavior::Addresses(addrs.clone()));
    }

    let mut counts: BTreeMap<IpAddr, Arc<AtomicUsize>> = BTreeMap::new();
    if spec.counters.iter().any(|ip| !ip.is_loopback())
        && let Err(why) = SealedNet::detect()
    {
        eprintln!("testlab: counters on non-loopback addresses need a sealed namespace: {why}");
        std::process::exit(3);
    }
    for ip in &spec.counters {
        let count = Arc::new(AtomicUsize::new(0));
        counter(SocketAddr::new(*ip, port), count.clone())
            .await
            .expect("bind counter");
        counts.insert(*ip, count);
    }

    let service_port = free_port();
    std::fs::write(args.dir.join("ca.pem"), ca.ca_pem()).unwrap();
    std::fs::write(
        args.dir.join("rules.toml"),
        portcullis::testing::one_origin_rules(
            SocketAddr::new(ORIGIN_IP, port),
            "client-kit test lab origin",
        ),
    )
    .unwrap();
    let config = args.dir.join("portcullis.toml");
    std::fs::write(
        &config,
        config_text(service_port, dns.addr(), &args.dir, &spec),
    )
    .unwrap();

    println!(
        "{}",
        serde_json::json!({
            "ready": true,
            "origin_port": port,
            "dns": dns.addr().to_string(),
            "config": config,
            "audit": args.dir.join("audit.log"),
            "service": format!("http://127.0.0.1:{service_port}"),
            "pid": std::process::id(),
        })
    );

    until_stopped().await;

    let counted: BTreeMap<String, usize> = counts
        .iter()
        .map(|(ip, c)| (ip.to_string(), c.load(Ordering::SeqCst)))
        .collect();
    let hits: BTreeMap<String, usize> = spec
        .routes
        .keys()
        .map(|p| (p.clone(), origin.hits_for(p)))
        .collect();
    // The reader may have gone (a test that only wanted the ready line): ignore EPIPE.
    let _ = writeln!(
        std::io::stdout(),
        "{}",
        serde_json::json!({"stopped": true, "counters": counted, "origin_hits": hits,
                           "origin_connections": origin.connections()})
    );
}
