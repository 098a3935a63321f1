//! The resource suite's driver (issue 12 "Proof"), run by `scripts/resource-suite.sh` inside
//! a sealed network namespace (only `lo`): it starts a DNS responder and a TLS origin on
//! loopback, writes a test config, starts the release `portcullis serve` inside the given
//! memory-capped cgroup, and for each attack class drives the attack at full strength for a
//! bounded time while a legitimate caller's requests are measured; then it checks that the
//! process is alive, was never OOM-killed, and answers at once after the attack.
//!
//! Classes: 1 h2 idlers; 2 h2 window-0 stream flood + control-frame floods; 3 cache filled
//! with documents padded with large arrays of small numbers; 4 one caller pointing at
//! slow-drip origins; 5 many redirecting hosts → one victim host; 6 cache-busting URLs on a
//! shared host by caller A while caller B asks for that host.
//!
//! Usage: `attack suite --portcullis BIN --cgroup DIR [--secs N] [--classes 1,2,..]`.
//! Every address it connects to is loopback (asserted).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]
#![allow(clippy::disallowed_methods)] // connects only to loopback (asserted), inside a sealed netns

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use portcullis::testing::api;
use portcullis::testing::dns::{DnsBehavior, DnsResponder};
use portcullis::testing::h2_frames::{frame, get_headers, ping_acks, preface};
use portcullis::testing::origin::{Route, TestOrigin};
use portcullis::testing::pki::{TestCa, Validity};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ORIGIN: [u8; 4] = [127, 0, 0, 2];
const SERVICE: &str = "127.0.0.1:18790";
const LEGIT_TOKEN: &str = "resource-suite-legit-token-0b5e";
const MALLORY_TOKEN: &str = "resource-suite-mallory-token-7d21";
const MAX_CONNECTIONS: usize = 1024;
const PER_HOST_PER_S: u32 = 20;
const PER_HOST_BURST: u32 = 40;
const SLOW_HOSTS: usize = 50;
const PAD_HOSTS: usize = 50;
const REDIRECTORS: usize = 200;
/// Legitimate requests answered (200) at least this share during an attack.
const MIN_SUCCESS: f64 = 0.95;
/// After the attack, the first legitimate requests must be answered within this p99.
const RECOVERY_P99: Duration = Duration::from_secs(2);

// ---------------------------------------------------------------- lab

struct Lab {
    _dns: DnsResponder,
    origin: TestOrigin,
    port: u16,
    dir: tempfile::TempDir,
}

fn names() -> Vec<String> {
    let mut n: Vec<String> = ["legit.test", "shared.test", "victim.test"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    n.extend((0..SLOW_HOSTS).map(|i| format!("s{i}.test")));
    n.extend((0..PAD_HOSTS).map(|i| format!("p{i}.test")));
    n.extend((0..REDIRECTORS).map(|i| format!("r{i}.test")));
    n
}

/// ~200 KB of JSON: 100 members, each an array of 1,000 zeros (inside every JSON limit).
fn padded_doc() -> String {
    let array = vec!["0"; 1_000].join(",");
    let members: Vec<String> = (0..100).map(|i| format!("\"a{i}\":[{array}]")).collect();
    format!("{{{}}}", members.join(","))
}

async fn start_lab() -> Lab {
    let ca = TestCa::new().unwrap();
    let all = names();
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let tls = ca
        .server_config(&refs, Validity::Current, &[b"http/1.1"])
        .unwrap();
    let origin = TestOrigin::start(IpAddr::from(ORIGIN), 0, tls)
        .await
        .unwrap();
    let port = origin.addr().port();
    origin.route("/doc.json", Route::json(r#"{"hello":"world","n":1}"#));
    origin.route("/victim.json", Route::json(r#"{"victim":true}"#));
    origin.route("/pad.json", Route::json(padded_doc()));
    origin.route(
        "/slow.json",
        Route::drip_json(vec![b' '; 1024], 64, Duration::from_millis(300)),
    );
    origin.route(
        "/redir",
        Route::redirect(302, &format!("https://victim.test:{port}/victim.json")),
    );
    let dns = DnsResponder::start(IpAddr::from([127, 0, 0, 1]))
        .await
        .unwrap();
    for name in &all {
        dns.set(name, DnsBehavior::Addresses(vec![IpAddr::from(ORIGIN)]));
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.ca_pem()).unwrap();
    std::fs::write(
        dir.path().join("rules.toml"),
        portcullis::testing::one_origin_rules(
            SocketAddr::new(IpAddr::from(ORIGIN), port),
            "resource suite origin",
        ),
    )
    .unwrap();
    let sha = portcullis::server::auth::token_sha256_hex;
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            r#"[server]
listen = "{SERVICE}"
max_connections = {MAX_CONNECTIONS}

[[server.callers]]
name = "legit"
token_sha256 = "{legit}"

[[server.callers]]
name = "mallory"
token_sha256 = "{mallory}"

[resolver]
nameservers = ["{dns}"]
timeout_ms = 1000
attempts = 0

[tls]
extra_roots = ["{ca}"]
builtin_roots = false

[rules]
files = ["{rules}"]

[rate]
per_target_host_per_s = {PER_HOST_PER_S}
per_target_host_burst = {PER_HOST_BURST}

[audit]
enabled = false
"#,
            legit = sha(LEGIT_TOKEN),
            mallory = sha(MALLORY_TOKEN),
            dns = dns.addr(),
            ca = dir.path().join("ca.pem").display(),
            rules = dir.path().join("rules.toml").display(),
        ),
    )
    .unwrap();
    Lab {
        _dns: dns,
        origin,
        port,
        dir,
    }
}

// ---------------------------------------------------------------- service and cgroup

struct Cgroup {
    dir: PathBuf,
    v2: bool,
}

impl Cgroup {
    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join(file)).unwrap_or_default()
    }

    fn keyed(&self, file: &str, key: &str) -> u64 {
        self.read(file)
            .lines()
            .find_map(|l| l.strip_prefix(key).map(|v| v.trim().parse().unwrap_or(0)))
            .unwrap_or(0)
    }

    fn oom_kills(&self) -> u64 {
        if self.v2 {
            self.keyed("memory.events", "oom_kill ")
        } else {
            self.keyed("memory.oom_control", "oom_kill ")
        }
    }

    fn failcnt(&self) -> u64 {
        if self.v2 {
            self.keyed("memory.events", "max ")
        } else {
            self.read("memory.failcnt").trim().parse().unwrap_or(0)
        }
    }

    /// Peak usage since the last reset, in MiB (v1 `max_usage_in_bytes`, v2 `memory.peak`).
    fn peak_mib(&self) -> f64 {
        let file = if self.v2 {
            "memory.peak"
        } else {
            "memory.max_usage_in_bytes"
        };
        self.read(file).trim().parse::<f64>().unwrap_or(0.0) / 1_048_576.0
    }

    fn reset_peak(&self) {
        let file = if self.v2 {
            "memory.peak"
        } else {
            "memory.max_usage_in_bytes"
        };
        let _ = std::fs::write(self.dir.join(file), "0");
    }
}

fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (kb("VmRSS:"), kb("VmHWM:"))
}

fn start_service(bin: &Path, cgroup: &Cgroup, config: &Path, log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    Command::new("sh")
        .arg("-c")
        .arg(r#"echo $$ > "$CG/cgroup.procs" && exec "$BIN" serve --config "$CFG""#)
        .env("CG", &cgroup.dir)
        .env("BIN", bin)
        .env("CFG", config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn service_addr() -> SocketAddr {
    let addr: SocketAddr = SERVICE.parse().unwrap();
    assert!(addr.ip().is_loopback());
    addr
}

async fn wait_ready() -> bool {
    for _ in 0..100 {
        if let Ok((200, _)) = request(None, None).await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

// ---------------------------------------------------------------- clients

/// `POST /v1/fetch` (or, without a body, `GET /healthz`) through the lab's API client,
/// given up after 15 s: `(status, body)` or why it failed.
async fn request(token: Option<&str>, body: Option<String>) -> Result<(u16, Bytes), String> {
    let go = async {
        let reply = match body {
            Some(body) => api::post_fetch(service_addr(), token, &body).await,
            None => api::get(service_addr(), "/healthz").await,
        }
        .map_err(|e| e.to_string())?;
        Ok((reply.status.as_u16(), reply.body))
    };
    tokio::time::timeout(Duration::from_secs(15), go)
        .await
        .unwrap_or_else(|_| Err("timeout".into()))
}

fn fetch_body(url: &str) -> String {
    serde_json::json!({"url": url, "kind": "json"}).to_string()
}

static SEQ: AtomicU64 = AtomicU64::new(0);

fn seq() -> u64 {
    SEQ.fetch_add(1, Ordering::Relaxed)
}

#[derive(Default)]
struct Measured {
    latencies: Vec<Duration>,
    ok: usize,
    total: usize,
    other: std::collections::BTreeMap<String, usize>,
}

impl Measured {
    fn p(&self, q: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let idx = ((sorted.len() as f64 - 1.0) * q).round() as usize;
        sorted[idx.min(sorted.len() - 1)]
    }

    fn success(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.ok as f64 / self.total as f64
        }
    }
}

/// The legitimate caller: `workers` loops, each one fresh request every `every`.
async fn legit(host: &'static str, port: u16, until: Instant, every: Duration) -> Measured {
    let mut tasks = Vec::new();
    for _ in 0..2 {
        tasks.push(tokio::spawn(async move {
            let mut m = Measured::default();
            while Instant::now() < until {
                let url = format!("https://{host}:{port}/doc.json?legit={}", seq());
                let started = Instant::now();
                let result = request(Some(LEGIT_TOKEN), Some(fetch_body(&url))).await;
                let took = started.elapsed();
                m.total += 1;
                m.latencies.push(took);
                match result {
                    Ok((200, body)) if body.windows(7).any(|w| w == b"\"valid\"") => m.ok += 1,
                    Ok((status, body)) => {
                        let code = serde_json::from_slice::<serde_json::Value>(&body)
                            .ok()
                            .and_then(|v| v["error"].as_str().map(str::to_owned))
                            .unwrap_or_else(|| "not_valid".into());
                        *m.other.entry(format!("{status} {code}")).or_default() += 1;
                    }
                    Err(e) => *m.other.entry(e).or_default() += 1,
                }
                tokio::time::sleep(every.saturating_sub(took)).await;
            }
            m
        }));
    }
    let mut all = Measured::default();
    for t in tasks {
        let m = t.await.unwrap();
        all.latencies.extend(m.latencies);
        all.ok += m.ok;
        all.total += m.total;
        for (k, v) in m.other {
            *all.other.entry(k).or_default() += v;
        }
    }
    all
}

// ---------------------------------------------------------------- raw h2

/// Reads (acknowledging PINGs) until the server closes or `stop`.
async fn hold(stream: &mut TcpStream, stop: &AtomicBool) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut pending = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await {
            Err(_) => continue,
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(n)) => pending.extend_from_slice(&buf[..n]),
        }
        let acks = ping_acks(&mut pending);
        if !acks.is_empty() && stream.write_all(&acks).await.is_err() {
            return;
        }
        if pending.len() > 1 << 20 {
            pending.clear();
        }
    }
}

async fn connect() -> Option<TcpStream> {
    TcpStream::connect(service_addr()).await.ok()
}

// ---------------------------------------------------------------- attacks

#[derive(Default)]
struct AttackStats {
    connections: AtomicU64,
    requests: AtomicU64,
}

fn spawn_attack(
    class: u8,
    port: u16,
    stop: Arc<AtomicBool>,
    stats: Arc<AttackStats>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    match class {
        1 => {
            // h2 idlers (preface, then only PING answers) and silent TCP idlers, 1.5× the slots.
            for i in 0..MAX_CONNECTIONS * 3 / 2 {
                let (stop, stats) = (stop.clone(), stats.clone());
                tasks.push(tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let Some(mut s) = connect().await else {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        };
                        stats.connections.fetch_add(1, Ordering::Relaxed);
                        if i % 4 != 0 && s.write_all(&preface(false)).await.is_err() {
                            continue;
                        }
                        hold(&mut s, &stop).await;
                    }
                }));
            }
        }
        2 => {
            // Window-0 stream floods of shared and allocated responses.
            for _ in 0..256 {
                let (stop, stats) = (stop.clone(), stats.clone());
                tasks.push(tokio::spawn(async move {
                    let paths = ["/metrics", "/healthz", "/v1/keys", "/no-such-route"];
                    while !stop.load(Ordering::Relaxed) {
                        let Some(mut s) = connect().await else {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        };
                        stats.connections.fetch_add(1, Ordering::Relaxed);
                        let mut bytes = preface(true);
                        for i in 0..64u32 {
                            bytes.extend(get_headers(2 * i + 1, paths[i as usize % paths.len()]));
                        }
                        stats.requests.fetch_add(64, Ordering::Relaxed);
                        if s.write_all(&bytes).await.is_err() {
                            continue;
                        }
                        hold(&mut s, &stop).await;
                    }
                }));
            }
            // Control-frame floods.
            for k in 0..16u8 {
                let (stop, stats) = (stop.clone(), stats.clone());
                tasks.push(tokio::spawn(async move {
                    let one = match k % 4 {
                        0 => frame(0x6, 0, 0, &[1; 8]),
                        1 => frame(0x4, 0, 0, &[]),
                        2 => frame(0x8, 0, 0, &[0, 0, 0, 1]),
                        _ => frame(0x2, 0, 1, &[0, 0, 0, 0, 16]),
                    };
                    let burst: Vec<u8> = (0..256).flat_map(|_| one.clone()).collect();
                    while !stop.load(Ordering::Relaxed) {
                        let Some(mut s) = connect().await else {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        };
                        stats.connections.fetch_add(1, Ordering::Relaxed);
                        if s.write_all(&preface(false)).await.is_err() {
                            continue;
                        }
                        while !stop.load(Ordering::Relaxed) {
                            if s.write_all(&burst).await.is_err() {
                                break;
                            }
                            stats.requests.fetch_add(256, Ordering::Relaxed);
                        }
                    }
                }));
            }
        }
        _ => {
            // Authenticated attacker at its full rate (per-caller limit): 32 concurrent, or
            // 400 against slow-drip origins (its rate times the time each fetch is held).
            let workers = if class == 4 { 400 } else { 32 };
            for w in 0..workers {
                let (stop, stats) = (stop.clone(), stats.clone());
                tasks.push(tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let n = seq();
                        let url = match class {
                            3 => format!(
                                "https://p{}.test:{port}/pad.json?n={n}",
                                n as usize % PAD_HOSTS
                            ),
                            4 => format!(
                                "https://s{}.test:{port}/slow.json?n={n}",
                                n as usize % SLOW_HOSTS
                            ),
                            5 => format!(
                                "https://r{}.test:{port}/redir?n={n}",
                                n as usize % REDIRECTORS
                            ),
                            _ => format!("https://shared.test:{port}/doc.json?bust={n}"),
                        };
                        stats.requests.fetch_add(1, Ordering::Relaxed);
                        match request(Some(MALLORY_TOKEN), Some(fetch_body(&url))).await {
                            Ok((429, _)) | Ok((503, _)) => {
                                tokio::time::sleep(Duration::from_millis(5 + (w % 32) as u64)).await
                            }
                            Ok(_) => {}
                            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                        }
                    }
                }));
            }
        }
    }
    tasks
}

// ---------------------------------------------------------------- the suite

struct Row {
    class: u8,
    name: &'static str,
    attack: String,
    during: Measured,
    after: Measured,
    peak_mib: f64,
    hwm_mib: f64,
    oom_kills: u64,
    failcnt: u64,
    alive: bool,
    extra: String,
    verdict: Result<(), String>,
}

fn class_name(class: u8) -> &'static str {
    match class {
        1 => "h2 idlers",
        2 => "h2 window-0 + control floods",
        3 => "cache fill, padded docs",
        4 => "slow-drip origins (1 caller)",
        5 => "redirectors -> 1 victim",
        6 => "cache-busting on shared host",
        _ => "?",
    }
}

/// Which defence a class exercises (named in the report when it fails).
fn depends_on(class: u8) -> &'static str {
    match class {
        3 => " (defence: cache accounting, service::settled)",
        4 | 6 => " (defence: fair slots / per-caller-and-host budgets, service::admission)",
        5 => " (defence: per-hop host limit, fetch HopGate)",
        _ => "",
    }
}

async fn run_class(
    class: u8,
    secs: u64,
    lab: &Lab,
    bin: &Path,
    cgroup: &Cgroup,
    child: &mut Child,
) -> Row {
    let log = lab.dir.path().join("service.log");
    let mut restarted = String::new();
    if !matches!(child.try_wait(), Ok(None)) {
        *child = start_service(bin, cgroup, &lab.dir.path().join("config.toml"), &log);
        restarted = "service restarted before this class; ".into();
        let _ = wait_ready().await;
    }
    let pid = child.id();
    cgroup.reset_peak();
    let oom_before = cgroup.oom_kills();
    let fail_before = cgroup.failcnt();
    let victim_before = lab
        .origin
        .hits()
        .iter()
        .filter(|h| h.path.starts_with("/victim.json"))
        .count();

    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(AttackStats::default());
    let started = Instant::now();
    let tasks = spawn_attack(class, lab.port, stop.clone(), stats.clone());
    // Let the attack reach full strength before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let host = if class == 6 {
        "shared.test"
    } else {
        "legit.test"
    };
    let during = legit(
        host,
        lab.port,
        Instant::now() + Duration::from_secs(secs),
        Duration::from_millis(250),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let attack_secs = started.elapsed().as_secs_f64();
    for t in tasks {
        t.abort();
    }
    let (_, hwm) = rss_mib(pid);
    let alive_after_attack = matches!(child.try_wait(), Ok(None));
    // Recovery: the first legitimate requests once the attack stopped.
    let after = legit(
        host,
        lab.port,
        Instant::now() + Duration::from_secs(3),
        Duration::from_millis(100),
    )
    .await;
    let alive = alive_after_attack && matches!(child.try_wait(), Ok(None));
    let oom_kills = cgroup.oom_kills().saturating_sub(oom_before);
    let failcnt = cgroup.failcnt().saturating_sub(fail_before);

    let mut extra = restarted;
    let mut problems = Vec::new();
    if class == 5 {
        let victim = lab
            .origin
            .hits()
            .iter()
            .filter(|h| h.path.starts_with("/victim.json"))
            .count()
            - victim_before;
        let allowed = f64::from(PER_HOST_PER_S) * attack_secs + f64::from(PER_HOST_BURST);
        extra.push_str(&format!(
            "victim fetched {victim} times in {attack_secs:.0} s ({:.1}/s; per-host limit {PER_HOST_PER_S}/s + burst {PER_HOST_BURST}); ",
            victim as f64 / attack_secs
        ));
        if victim as f64 > allowed * 1.1 {
            problems.push(format!(
                "victim got {victim} fetches, limit allows {allowed:.0}"
            ));
        }
    }
    extra.push_str(&format!(
        "attack: {} connections, {} requests/frames",
        stats.connections.load(Ordering::Relaxed),
        stats.requests.load(Ordering::Relaxed)
    ));
    if !alive {
        problems.push("service died".into());
    }
    if oom_kills > 0 {
        problems.push(format!("{oom_kills} OOM kill(s)"));
    }
    if during.success() < MIN_SUCCESS {
        problems.push(format!(
            "legit success {:.1}% < {:.0}% ({:?})",
            during.success() * 100.0,
            MIN_SUCCESS * 100.0,
            during.other
        ));
    }
    if after.success() < MIN_SUCCESS || after.p(0.99) > RECOVERY_P99 {
        problems.push(format!(
            "no prompt recovery: {:.1}% answered, p99 {:?} ({:?})",
            after.success() * 100.0,
            after.p(0.99),
            after.other
        ));
    }
    let verdict = if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}{}", problems.join("; "), depends_on(class)))
    };
    Row {
        class,
        name: class_name(class),
        attack: format!("{attack_secs:.0} s"),
        during,
        after,
        peak_mib: cgroup.peak_mib(),
        hwm_mib: hwm,
        oom_kills,
        failcnt,
        alive,
        extra,
        verdict,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn print_table(rows: &[Row], limit_mib: f64) {
    println!();
    println!(
        "memory cap: {limit_mib:.0} MiB (cgroup); legit caller: 2 workers × 4 req/s, fresh URLs (cache misses)"
    );
    println!(
        "| class | attack | legit answered | legit p50 ms | legit p99 ms | after: answered | after p99 ms | cgroup peak MiB | RSS peak MiB | OOM kills | alive | result |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} {} | {} | {}/{} ({:.1}%) | {} | {} | {}/{} | {} | {:.1} | {:.1} | {} | {} | {} |",
            r.class,
            r.name,
            r.attack,
            r.during.ok,
            r.during.total,
            r.during.success() * 100.0,
            ms(r.during.p(0.5)),
            ms(r.during.p(0.99)),
            r.after.ok,
            r.after.total,
            ms(r.after.p(0.99)),
            r.peak_mib,
            r.hwm_mib,
            r.oom_kills,
            if r.alive { "yes" } else { "NO" },
            match &r.verdict {
                Ok(()) => "PASS".to_owned(),
                Err(_) => "FAIL".to_owned(),
            }
        );
    }
    println!();
    for r in rows {
        println!(
            "class {}: {} (memory.failcnt +{})",
            r.class, r.extra, r.failcnt
        );
        if let Err(why) = &r.verdict {
            println!("class {} FAILED: {why}", r.class);
        }
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("suite") {
        eprintln!(
            "usage: attack suite --portcullis BIN --cgroup DIR [--secs N] [--classes 1,2,3,4,5,6]"
        );
        std::process::exit(2);
    }
    let bin = PathBuf::from(arg(&args, "--portcullis").expect("--portcullis BIN"));
    let cg = PathBuf::from(arg(&args, "--cgroup").expect("--cgroup DIR"));
    let secs: u64 = arg(&args, "--secs")
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let classes: Vec<u8> = arg(&args, "--classes")
        .unwrap_or_else(|| "1,2,3,4,5,6".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let cgroup = Cgroup {
        v2: cg.join("memory.max").exists(),
        dir: cg,
    };
    let limit_mib = {
        let raw = if cgroup.v2 {
            cgroup.read("memory.max")
        } else {
            cgroup.read("memory.limit_in_bytes")
        };
        raw.trim().parse::<f64>().unwrap_or(0.0) / 1_048_576.0
    };

    let lab = start_lab().await;
    let config = lab.dir.path().join("config.toml");
    let log = lab.dir.path().join("service.log");
    let mut child = start_service(&bin, &cgroup, &config, &log);
    if !wait_ready().await {
        eprintln!(
            "service did not become ready:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let _ = child.kill();
        std::process::exit(1);
    }
    let (rss, _) = rss_mib(child.id());
    println!(
        "service up (pid {}), RSS {rss:.1} MiB; {secs} s per class",
        child.id()
    );
    let mut rows = Vec::new();
    for class in classes {
        println!("== class {class}: {}", class_name(class));
        let row = run_class(class, secs, &lab, &bin, &cgroup, &mut child).await;
        println!(
            "   legit {}/{} answered, p50 {} ms, p99 {} ms; after {}/{}; {}",
            row.during.ok,
            row.during.total,
            ms(row.during.p(0.5)),
            ms(row.during.p(0.99)),
            row.after.ok,
            row.after.total,
            match &row.verdict {
                Ok(()) => "PASS".to_owned(),
                Err(e) => format!("FAIL: {e}"),
            }
        );
        rows.push(row);
        // Let the previous class's connections drain before the next one.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    print_table(&rows, limit_mib);
    let _ = child.kill();
    let _ = child.wait();
    let failed = rows.iter().filter(|r| r.verdict.is_err()).count();
    if failed > 0 {
        println!("resource suite: {failed} class(es) FAILED");
        std::process::exit(1);
    }
    println!("resource suite: all classes passed");
}
