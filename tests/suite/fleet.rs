//! Fleet mode (issue 16) against a real, throwaway `redis-server` listening only on a Unix
//! socket in a temp dir (`--port 0`: no TCP at all), with the loopback Lab origin. Several
//! replicas are several `Service`s with their own caches, limiters and keys, sharing one
//! Redis. Without `redis-server` installed every test says SKIPPED and returns.
#![allow(clippy::disallowed_methods)] // connects only to the services under test on 127.0.0.1

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::StatusCode;
use portcullis::config::{CallerConfig, Config, FleetConfig};
use portcullis::fleet::envelope::Sealer;
use portcullis::fleet::metrics::FleetMetrics;
use portcullis::testing::origin::Route;

use crate::common::api::{get, post_fetch};
use crate::common::{self, Lab, RunningService};

const JWKS: &str = include_str!("../fixtures/real-world/google.jwks.json");
const TOKEN: &str = "test-token-for-as-1";
const SECRET: &str = "fleet-test-secret-0123456789abcdef0123456789";

/// A throwaway Redis on a Unix socket; killed (by its own PID) on drop.
struct TestRedis {
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl TestRedis {
    fn start() -> Option<TestRedis> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            crate::common::skipped("redis-server not installed (apt-get install redis-server)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut redis = TestRedis { child: None, dir };
        redis.spawn();
        Some(redis)
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("redis.sock")
    }

    fn url(&self) -> String {
        format!("redis+unix://{}", self.socket().display())
    }

    fn spawn(&mut self) {
        let _ = std::fs::remove_file(self.socket());
        let child = Command::new("redis-server")
            .args(["--port", "0", "--save", "", "--appendonly", "no"])
            .arg("--unixsocket")
            .arg(self.socket())
            .args(["--unixsocketperm", "700", "--dir"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(self.socket()).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    async fn client(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn secret_file(dir: &Path) -> PathBuf {
    let path = dir.join("fleet.secret");
    std::fs::write(&path, SECRET).unwrap();
    path
}

fn callers() -> Vec<CallerConfig> {
    common::caller_with_token(TOKEN)
}

/// A replica's config tweak: generous caller limits, the fleet on `redis`.
fn replica(redis: &TestRedis, timeout_ms: u64) -> impl Fn(&mut Config) + '_ {
    move |c: &mut Config| {
        c.server.callers = callers();
        c.rate.per_caller_per_s = 1_000_000;
        c.rate.per_caller_burst = 1_000_000;
        // The per-(caller, host) budget stays local (per replica); the fleet-wide host
        // ceiling is what these tests measure.
        c.rate.per_caller_target_host_per_s = 1_000_000;
        c.rate.per_caller_target_host_burst = 1_000_000;
        let mut fleet = FleetConfig::new(redis.url(), secret_file(redis.dir.path()));
        fleet.timeout_ms = timeout_ms;
        c.fleet = Some(fleet);
    }
}

async fn replicas(lab: &Lab, redis: &TestRedis, n: usize, timeout_ms: u64) -> Vec<RunningService> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(lab.serve(replica(redis, timeout_ms)).await);
    }
    for r in &out {
        r.service.fleet().unwrap().refresh().await;
    }
    out
}

async fn ask(svc: &RunningService, url: &str) -> common::api::Reply {
    post_fetch(svc.addr, Some(TOKEN), &common::fetch_body(url, "jwks")).await
}

fn shared(svc: &RunningService, how: &str) -> u64 {
    FleetMetrics::count(&svc.service.fleet().unwrap().metrics().shared_hits, how)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_fetch_once_for_a_thousand_requests_and_share_the_result() {
    let Some(redis) = TestRedis::start() else {
        return;
    };
    let lab = Lab::start().await;
    lab.origin.route("/jwks.json", Route::json(JWKS));
    lab.origin.route("/other.json", Route::json(JWKS));
    // A generous call deadline: this test is about single flight, not about the timeout,
    // and 1,000 requests on a loaded 2-core CI machine can make one Redis call slow.
    let fleet = replicas(&lab, &redis, 3, 2_000).await;
    let fleet = Arc::new(fleet);
    let url = lab.url("good.test", "/jwks.json");

    let ok = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..1_000 {
        let fleet = fleet.clone();
        let url = url.clone();
        let ok = ok.clone();
        tasks.push(tokio::spawn(async move {
            let reply = ask(&fleet[i % 3], &url).await;
            if reply.status == StatusCode::OK && reply.json()["claims"]["outcome"] == "valid" {
                ok.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        ok.load(Ordering::SeqCst),
        1_000,
        "every request got a valid verdict"
    );
    assert_eq!(
        lab.origin.hits_for("/jwks.json"),
        1,
        "exactly one upstream fetch across three replicas"
    );
    // Which replica leads is a race; the two others each used its result (once each when
    // quiet; a loaded machine can make one use it both from the flight and the shared cache).
    let followers = fleet
        .iter()
        .filter(|r| shared(r, "flight") + shared(r, "cache") > 0)
        .count();
    assert_eq!(
        followers, 2,
        "the two other replicas used the leader's result"
    );
    let text = fleet[0].service.metrics_text();
    assert!(text.contains("portcullis_fleet_up 1"), "{text}");
    assert!(text.contains("portcullis_fleet_latency_seconds_bucket"));
    if let Ok(path) = std::env::var("PORTCULLIS_FLEET_METRICS_DUMP") {
        std::fs::write(path, &text).unwrap();
    }

    // A document fetched by A is a hit on B and C.
    let other = lab.url("good.test", "/other.json");
    assert_eq!(ask(&fleet[0], &other).await.status, StatusCode::OK);
    assert_eq!(lab.origin.hits_for("/other.json"), 1);
    for r in &fleet[1..] {
        let before = shared(r, "cache");
        let reply = ask(r, &other).await;
        assert_eq!(reply.json()["claims"]["outcome"], "valid");
        assert_eq!(shared(r, "cache"), before + 1);
    }
    assert_eq!(
        lab.origin.hits_for("/other.json"),
        1,
        "B and C did not fetch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fleet_wide_host_limit_holds_across_replicas() {
    let Some(redis) = TestRedis::start() else {
        return;
    };
    let lab = Lab::start().await;
    const RATE: u32 = 20;
    const BURST: u32 = 5;
    let mut fleet = Vec::new();
    for _ in 0..3 {
        fleet.push(
            lab.serve(|c| {
                replica(&redis, 1_000)(c);
                c.rate.per_target_host_per_s = RATE;
                c.rate.per_target_host_burst = BURST;
            })
            .await,
        );
    }
    let fleet = Arc::new(fleet);
    let started = Instant::now();
    let run_for = Duration::from_secs(3);
    let limited = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for worker in 0..6 {
        let fleet = fleet.clone();
        let limited = limited.clone();
        let base = lab.url("good.test", "/rate");
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while started.elapsed() < run_for {
                // A distinct URL per request: every one would be an upstream fetch.
                let url = format!("{base}-{worker}-{i}");
                let reply = ask(&fleet[(worker + i) % 3], &url).await;
                if reply.status == StatusCode::TOO_MANY_REQUESTS {
                    assert_eq!(reply.json()["error"], "rate_limited_target_host");
                    limited.fetch_add(1, Ordering::SeqCst);
                }
                i += 1;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let fetched = lab
        .origin
        .hits()
        .iter()
        .filter(|h| h.path.starts_with("/rate"))
        .count() as f64;
    let allowed = f64::from(BURST) + f64::from(RATE) * elapsed;
    eprintln!("fleet host limit: {fetched} fetches in {elapsed:.2} s, allowed {allowed:.1}");
    assert!(limited.load(Ordering::SeqCst) > 0, "the limit was reached");
    assert!(
        (fetched - allowed).abs() <= allowed * 0.10,
        "{fetched} fetches vs {allowed:.1} allowed fleet-wide (3 local limiters would allow {:.1})",
        3.0 * allowed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_redis_under_load_keeps_answering_and_restart_rejoins() {
    let Some(mut redis) = TestRedis::start() else {
        return;
    };
    let lab = Lab::start().await;
    lab.origin.route("/jwks.json", Route::json(JWKS));
    let mut fleet = Vec::new();
    for _ in 0..3 {
        fleet.push(
            lab.serve(|c| {
                replica(&redis, portcullis::config::DEFAULT_FLEET_TIMEOUT_MS)(c);
                c.rate.per_target_host_per_s = 100_000;
                c.rate.per_target_host_burst = 100_000;
            })
            .await,
        );
    }
    for r in &fleet {
        r.service.fleet().unwrap().refresh().await;
    }
    let fleet = Arc::new(fleet);
    // The request deadline: the whole-fetch budget plus the fleet wait bound.
    let deadline = Duration::from_millis(lab.config.limits.total_timeout_ms * 2);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let slowest = Arc::new(std::sync::Mutex::new(Duration::ZERO));
    let mut tasks = Vec::new();
    for worker in 0..6 {
        let fleet = fleet.clone();
        let stop = stop.clone();
        let answered = answered.clone();
        let slowest = slowest.clone();
        let cached = lab.url("good.test", "/jwks.json");
        let fresh = lab.url("good.test", "/jwks.json?w=");
        tasks.push(tokio::spawn(async move {
            let mut i = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let url = if i.is_multiple_of(2) {
                    cached.clone()
                } else {
                    format!("{fresh}{worker}-{i}")
                };
                let t = Instant::now();
                let reply = ask(&fleet[(worker + i) % 3], &url).await;
                let took = t.elapsed();
                assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.json());
                assert_eq!(reply.json()["claims"]["outcome"], "valid");
                let mut s = slowest.lock().unwrap();
                *s = (*s).max(took);
                answered.fetch_add(1, Ordering::SeqCst);
                i += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.kill();
    let at_kill = answered.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let during_outage = answered.load(Ordering::SeqCst) - at_kill;
    for r in fleet.iter() {
        assert!(
            !r.service.fleet().unwrap().is_up(),
            "the outage was noticed"
        );
    }
    redis.spawn();
    let rejoin = Instant::now();
    for r in fleet.iter() {
        let f = r.service.fleet().unwrap().clone();
        common::wait_until(move || f.is_up()).await;
    }
    let rejoined_in = rejoin.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    let slowest = *slowest.lock().unwrap();
    eprintln!(
        "redis outage: {} answered in total, {during_outage} during the outage, slowest {slowest:?}, rejoined in {rejoined_in:?}",
        answered.load(Ordering::SeqCst)
    );
    assert!(
        during_outage > 0,
        "requests were answered while Redis was down"
    );
    assert!(
        slowest < deadline,
        "no request past its deadline ({slowest:?})"
    );
    let fallbacks: u64 = fleet
        .iter()
        .map(|r| {
            let m = r.service.fleet().unwrap().metrics();
            FleetMetrics::count(&m.fallbacks, "lookup") + FleetMetrics::count(&m.fallbacks, "rate")
        })
        .sum();
    assert!(fallbacks > 0, "fallbacks were counted");

    // Rejoined: a document fetched by A is again a shared hit on B.
    lab.origin.route("/after.json", Route::json(JWKS));
    let after = lab.url("good.test", "/after.json");
    assert_eq!(ask(&fleet[0], &after).await.status, StatusCode::OK);
    let before = shared(&fleet[1], "cache");
    let f0 = fleet[0].service.fleet().unwrap().clone();
    // The leader stores its result off the reply path: wait until Redis holds it.
    let mut conn = redis.client().await;
    let id = portcullis::service::Service::fleet_question_id(&portcullis::service::FetchKey {
        kind: portcullis::kind::Kind::Jwks,
        url: after.clone(),
        expect: Default::default(),
        profile: portcullis::kind::Profile::Oauth,
    });
    let entry = f0.namespace().entry(&id);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let exists: bool = redis::cmd("EXISTS")
            .arg(&entry)
            .query_async(&mut conn)
            .await
            .unwrap();
        if exists {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the leader's result reached Redis"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(ask(&fleet[1], &after).await.status, StatusCode::OK);
    assert_eq!(shared(&fleet[1], "cache"), before + 1);
    assert_eq!(lab.origin.hits_for("/after.json"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_cache_entry_written_into_redis_is_rejected() {
    let Some(redis) = TestRedis::start() else {
        return;
    };
    let lab = Lab::start().await;
    lab.origin.route("/jwks.json", Route::json(JWKS));
    lab.origin
        .route("/broken.json", Route::json("{\"keys\": 5}"));
    let fleet = replicas(&lab, &redis, 2, 1_000).await;
    let url = lab.url("good.test", "/broken.json");
    // A fetches a document that is invalid; its judgement lands in Redis.
    let first = ask(&fleet[0], &url).await;
    assert_eq!(first.json()["claims"]["outcome"], "invalid");
    let mut conn = redis.client().await;
    let ns = fleet[0].service.fleet().unwrap().namespace().clone();
    let pattern = format!("{}j:*", ns.base());
    let key = {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(&pattern)
                .query_async(&mut conn)
                .await
                .unwrap();
            if let Some(k) = keys.into_iter().next() {
                break k;
            }
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let stored: Vec<u8> = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    let payload = &stored[portcullis::fleet::envelope::HEADER_BYTES..];
    let text = String::from_utf8(payload.to_vec()).unwrap();
    assert!(!text.contains(TOKEN), "no caller token stored in Redis");
    // The attacker rewrites the judgement to `valid`, keeping the old MAC...
    let forged_payload = text.replacen("\"outcome\":\"invalid\"", "\"outcome\":\"valid\"", 1);
    assert_ne!(forged_payload, text);
    let mut forged = stored[..portcullis::fleet::envelope::HEADER_BYTES].to_vec();
    forged.extend_from_slice(forged_payload.as_bytes());
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg(&forged)
        .query_async(&mut conn)
        .await
        .unwrap();
    let b = &fleet[1];
    let m = b.service.fleet().unwrap().metrics();
    let reply = ask(b, &url).await;
    assert_eq!(
        reply.json()["claims"]["outcome"],
        "invalid",
        "the forgery did not count"
    );
    assert_eq!(FleetMetrics::count(&m.rejected, "fleet_entry_bad_mac"), 1);
    assert_eq!(lab.origin.hits_for("/broken.json"), 2, "B fetched itself");

    // ...or seals it under a secret of its own.
    let wrong = Sealer::new(b"an attacker's secret, thirty-two bytes long");
    let other_url = lab.url("good.test", "/jwks.json");
    assert_eq!(ask(&fleet[0], &other_url).await.status, StatusCode::OK);
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(&mut conn)
        .await
        .unwrap();
    for k in keys {
        let forged = wrong.seal(&k, u64::MAX / 2, forged_payload.as_bytes());
        let _: () = redis::cmd("SET")
            .arg(&k)
            .arg(forged)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let c = lab.serve(replica(&redis, 1_000)).await;
    let reply = ask(&c, &url).await;
    assert_eq!(reply.json()["claims"]["outcome"], "invalid");
    let mc = c.service.fleet().unwrap().metrics();
    assert_eq!(FleetMetrics::count(&mc.rejected, "fleet_entry_bad_mac"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verdict_signed_by_a_verifies_with_keys_from_b_and_planted_keys_are_ignored() {
    let Some(redis) = TestRedis::start() else {
        return;
    };
    let lab = Lab::start().await;
    lab.origin.route("/jwks.json", Route::json(JWKS));
    let fleet = replicas(&lab, &redis, 2, 1_000).await;
    // Someone with write access to Redis plants a key of their own.
    let mut conn = redis.client().await;
    let ns = fleet[0].service.fleet().unwrap().namespace().clone();
    let planted = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "kid": "planted", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
    let wrong = Sealer::new(b"an attacker's secret, thirty-two bytes long");
    let name = ns.verdict_key("planted");
    let _: () = redis::cmd("SET")
        .arg(&name)
        .arg(wrong.seal(&name, u64::MAX / 2, planted.to_string().as_bytes()))
        .query_async(&mut conn)
        .await
        .unwrap();
    fleet[1].service.fleet().unwrap().refresh().await;

    let url = lab.url("good.test", "/jwks.json");
    let reply = ask(&fleet[0], &url).await;
    let jws = reply.json()["verdict"].as_str().unwrap().to_owned();
    let keys = get(fleet[1].addr, "/v1/keys").await;
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(&keys.body).unwrap();
    assert_eq!(jwks.keys.len(), 2, "B's own key and A's: {:?}", keys.body);
    assert!(
        jwks.find("planted").is_none(),
        "a key planted in Redis is not published"
    );
    let header = jsonwebtoken::decode_header(&jws).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&["as-1"]);
    validation.set_issuer(&["portcullis"]);
    let decoded = jsonwebtoken::decode::<serde_json::Value>(&jws, &key, &validation).unwrap();
    assert_eq!(decoded.claims["url"], url);
}

#[tokio::test]
async fn without_fleet_nothing_changes() {
    let lab = Lab::start().await;
    let svc = lab.serve(|c| c.server.callers = callers()).await;
    assert!(svc.service.fleet().is_none());
    assert!(!svc.service.metrics_text().contains("portcullis_fleet_"));
    let keys = get(svc.addr, "/v1/keys").await;
    let jwks: serde_json::Value = serde_json::from_slice(&keys.body).unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn fleet_config_refuses_inline_passwords_and_weak_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let secret = secret_file(dir.path());
    let inline = FleetConfig::new("redis://user:hunter2@127.0.0.1:6379", secret.clone());
    let err = portcullis::fleet::Fleet::start(&inline, Vec::new())
        .err()
        .unwrap();
    assert_eq!(err.code(), "fleet_url_inline_password");
    let weak = dir.path().join("weak");
    std::fs::write(&weak, "short").unwrap();
    let err =
        portcullis::fleet::Fleet::start(&FleetConfig::new("redis://127.0.0.1:1", weak), Vec::new())
            .err()
            .unwrap();
    assert_eq!(err.code(), "fleet_secret_too_short");
    let text = "[fleet]\nredis_url = \"redis://127.0.0.1:6379\"\nsecret_file = \"/x\"\nbogus = 1\n";
    assert!(
        Config::from_toml_str(text).is_err(),
        "unknown keys are refused"
    );
    let text = "[fleet]\nredis_url = \"redis://127.0.0.1:6379\"\nsecret_file = \"/x\"\n";
    let config = Config::from_toml_str(text).unwrap();
    assert_eq!(
        config.fleet.unwrap().timeout_ms,
        portcullis::config::DEFAULT_FLEET_TIMEOUT_MS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fleet_wide_caller_limit_holds_across_replicas_with_leases() {
    let Some(redis) = TestRedis::start() else {
        return;
    };
    const RATE: u32 = 50;
    const BURST: u32 = 5;
    let mut config = FleetConfig::new(redis.url(), secret_file(redis.dir.path()));
    config.timeout_ms = 1_000;
    let replicas: Vec<_> = (0..3)
        .map(|_| portcullis::fleet::Fleet::start(&config, Vec::new()).unwrap())
        .collect();
    let replicas = Arc::new(replicas);
    let started = Instant::now();
    let run_for = Duration::from_secs(3);
    let mut tasks = Vec::new();
    for worker in 0..6 {
        let replicas = replicas.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut refused) = (0u32, 0u32);
            while started.elapsed() < run_for {
                match replicas[worker % 3]
                    .admit_leased("caller", "as-1", RATE, BURST)
                    .await
                    .expect("redis answers")
                {
                    Ok(()) => ok += 1,
                    Err(wait) => {
                        refused += 1;
                        tokio::time::sleep(wait.min(Duration::from_millis(5))).await;
                    }
                }
            }
            (ok, refused)
        }));
    }
    let (mut ok, mut refused) = (0u32, 0u32);
    for t in tasks {
        let (o, r) = t.await.unwrap();
        ok += o;
        refused += r;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let allowed = f64::from(BURST) + f64::from(RATE) * elapsed;
    eprintln!(
        "fleet caller limit (leased): {ok} admitted, {refused} refused in {elapsed:.2} s, allowed {allowed:.1}"
    );
    assert!(refused > 0);
    // Leased cells are spent when leased: the fleet never exceeds the rate; at most one
    // unspent lease per replica (3 × 4 cells here) is lost.
    assert!(f64::from(ok) <= allowed * 1.10, "{ok} > {allowed:.1} + 10%");
    assert!(f64::from(ok) >= allowed * 0.85, "{ok} < {allowed:.1} - 15%");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_miss_costs_one_redis_round_trip_on_the_reply_path() {
    let Some(redis) = TestRedis::start() else {
        return;
    };
    let lab = Lab::start().await;
    lab.origin.route("/a.json", Route::json(JWKS));
    lab.origin.route("/b.json", Route::json(JWKS));
    let fleet = replicas(&lab, &redis, 1, 1_000).await;
    let r = &fleet[0];
    let m = r.service.fleet().unwrap().metrics();
    let calls = |op: &str| m.latency.with_label_values(&[op]).get_sample_count();
    // The first request also leases the caller's rate cells.
    assert_eq!(
        ask(r, &lab.url("good.test", "/a.json")).await.status,
        StatusCode::OK
    );
    // Its result is stored off the reply path; let that settle before counting.
    common::wait_until(|| calls("finish") == 1).await;
    let before: Vec<u64> = ["lookup", "wait", "rate"]
        .iter()
        .map(|op| calls(op))
        .collect();
    let reply = ask(r, &lab.url("good.test", "/b.json")).await;
    assert_eq!(reply.json()["claims"]["outcome"], "valid");
    let after: Vec<u64> = ["lookup", "wait", "rate"]
        .iter()
        .map(|op| calls(op))
        .collect();
    assert_eq!(
        (
            after[0] - before[0],
            after[1] - before[1],
            after[2] - before[2]
        ),
        (1, 0, 0),
        "one acquire round trip (lookup + lock + host limit); the caller lease was held"
    );
    // Storing the result and waking waiters happens off the reply path.
    common::wait_until(|| calls("finish") == 2).await;
    assert_eq!(lab.origin.hits_for("/b.json"), 1);
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// `rediss://` (rustls, a private CA from `ca_file`) and an ACL user whose password comes
/// from `password_file`: the fleet works end to end, and a wrong password is a fallback,
/// not a failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_with_an_acl_user_and_a_password_file() {
    if Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        crate::common::skipped("redis-server not installed (apt-get install redis-server)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = portcullis::testing::pki::TestCa::new().unwrap();
    let (chain, key) = ca
        .leaf(&["127.0.0.1"], portcullis::testing::pki::Validity::Current)
        .unwrap();
    std::fs::write(dir.path().join("cert.pem"), pem("CERTIFICATE", &chain[0])).unwrap();
    std::fs::write(
        dir.path().join("key.pem"),
        pem("PRIVATE KEY", key.secret_der()),
    )
    .unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.ca_pem()).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let acl =
        "user portcullis on >fleet-pass ~portcullis:* &portcullis:* +@all\nuser default off\n";
    std::fs::write(dir.path().join("users.acl"), acl).unwrap();
    let mut child = Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--tls-port", &port.to_string(), "--tls-auth-clients", "no"])
        .arg("--tls-cert-file")
        .arg(dir.path().join("cert.pem"))
        .arg("--tls-key-file")
        .arg(dir.path().join("key.pem"))
        .arg("--tls-ca-cert-file")
        .arg(dir.path().join("ca.pem"))
        .arg("--aclfile")
        .arg(dir.path().join("users.acl"))
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            crate::common::skipped(&format!("this redis-server has no TLS support ({status})"));
            return;
        }
        assert!(
            Instant::now() < deadline,
            "redis-server (TLS) did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let secret = secret_file(dir.path());
    let password = dir.path().join("redis-password");
    std::fs::write(&password, "fleet-pass\n").unwrap();
    let mut config = FleetConfig::new(format!("rediss://127.0.0.1:{port}/0"), secret);
    config.username = Some("portcullis".into());
    config.password_file = Some(password.clone());
    config.ca_file = Some(dir.path().join("ca.pem"));
    config.timeout_ms = 2_000;
    let fleet = portcullis::fleet::Fleet::start(&config, Vec::new()).unwrap();
    fleet.refresh().await;
    assert!(fleet.is_up());
    let admitted = fleet.admit("host", "good.test", 5, 1).await;
    assert_eq!(admitted, Some(Ok(())), "a call over TLS as the ACL user");
    assert!(matches!(
        fleet.admit("host", "good.test", 5, 1).await,
        Some(Err(_))
    ));

    let wrong = dir.path().join("wrong-password");
    std::fs::write(&wrong, "nope").unwrap();
    config.password_file = Some(wrong);
    let refused = portcullis::fleet::Fleet::start(&config, Vec::new()).unwrap();
    assert_eq!(
        refused.admit("host", "other.test", 5, 1).await,
        None,
        "a wrong password falls back to local limits"
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// Concurrent requests of one busy caller share leases: cells leased by racing requests
/// add up instead of replacing each other, so a burst is spent by requests, not lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_share_leases_instead_of_draining_the_bucket() {
    let Some(redis) = TestRedis::start() else {
        return;
    };
    let mut config = FleetConfig::new(redis.url(), secret_file(redis.dir.path()));
    config.timeout_ms = 2_000;
    let fleet = portcullis::fleet::Fleet::start(&config, Vec::new()).unwrap();
    const BURST: u32 = 20_000;
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let fleet = fleet.clone();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0u32;
            for _ in 0..500 {
                if fleet.admit_leased("caller", "busy", 1_000, BURST).await == Some(Ok(())) {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap();
    }
    let calls = fleet
        .metrics()
        .latency
        .with_label_values(&["rate"])
        .get_sample_count();
    eprintln!("leases: {ok} of 32,000 admitted (burst {BURST}) with {calls} Redis calls");
    // Leases of 100 cells: at most 64 leases' worth can be held back unspent.
    assert!(ok >= BURST - 64 * 100, "{ok}: leased cells were lost");
    assert!(
        ok <= BURST + 2_000,
        "{ok}: more than the burst and a few seconds of rate"
    );
}
