//! Admission under hostile load, over real loopback sockets: fair fetch slots between
//! callers, per-host limits on every redirect hop, per-caller host budgets, `retry_after` in
//! refusal bodies, and self addresses checked at connect time.

use std::io::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::StatusCode;
use portcullis::config::CallerConfig;
use portcullis::fetch::FetchStatus;
use portcullis::fetch::self_addrs::{InterfaceSource, LiveSelfAddrs};
use portcullis::testing::dns::DnsBehavior;
use portcullis::testing::origin::{Route, TestOrigin};
use portcullis::testing::pki::Validity;

use crate::common::api::{get, post_fetch};
use crate::common::{self, H2_IP, Lab, ORIGIN_IP};

const JWKS: &str = include_str!("../fixtures/real-world/google.jwks.json");
const TOKEN_A: &str = "token-of-caller-a";
const TOKEN_B: &str = "token-of-caller-b";

fn two_callers() -> Vec<CallerConfig> {
    vec![
        CallerConfig {
            name: "as-a".into(),
            token_sha256: portcullis::config::TokenHash::of_token(TOKEN_A),
        },
        CallerConfig {
            name: "as-b".into(),
            token_sha256: portcullis::config::TokenHash::of_token(TOKEN_B),
        },
    ]
}

fn body(url: &str) -> String {
    common::fetch_body(url, "jwks")
}

/// A JWKS dripped over ~800 ms (inside the lab's 1 s body deadline).
fn slow_jwks() -> Route {
    Route::drip_json(
        JWKS.as_bytes(),
        JWKS.len() / 4 + 1,
        Duration::from_millis(200),
    )
}

/// Caller A keeps every slot it may busy with slow origins and has many more requests
/// queued; caller B's request is answered while A's queue is still long.
#[tokio::test]
async fn a_busy_caller_does_not_starve_another() {
    let lab = Lab::start().await;
    lab.origin.route("/slow.json", slow_jwks());
    lab.origin.route("/fast.json", Route::json(JWKS));
    let svc = lab
        .serve(|c| {
            c.server.callers = two_callers();
            c.limits.max_concurrent_fetches = 4;
            c.limits.reserved_fetch_slots = 1;
            c.limits.max_queue_wait_ms = 30_000;
            portcullis::testing::lift_rate_limits(&mut c.rate, 10_000);
        })
        .await;
    const A_REQUESTS: usize = 30;
    let done_a = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..A_REQUESTS {
        let addr = svc.addr;
        let request = body(&lab.url("good.test", &format!("/slow.json?n={i}")));
        let done_a = done_a.clone();
        tasks.push(tokio::spawn(async move {
            let status = post_fetch(addr, Some(TOKEN_A), &request).await.status;
            done_a.fetch_add(1, Ordering::SeqCst);
            status
        }));
    }
    // A holds its 3 slots (4 minus the reserve) and the rest of its requests queue.
    common::wait_until(|| {
        svc.service
            .metrics_text()
            .contains("portcullis_requests_queued 27")
    })
    .await;
    let b_started = Instant::now();
    let b = post_fetch(
        svc.addr,
        Some(TOKEN_B),
        &body(&lab.url("good.test", "/fast.json")),
    )
    .await;
    let a_finished_meanwhile = done_a.load(Ordering::SeqCst);
    eprintln!(
        "fairness: caller B answered in {:?} while caller A had {} of {A_REQUESTS} unfinished",
        b_started.elapsed(),
        A_REQUESTS - a_finished_meanwhile
    );
    assert_eq!(b.status, StatusCode::OK);
    assert_eq!(b.json()["claims"]["outcome"], "valid");
    assert!(
        a_finished_meanwhile <= 6,
        "B was answered only after {a_finished_meanwhile} of A's requests"
    );
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    let metrics = get(svc.addr, "/metrics").await;
    let text = String::from_utf8_lossy(&metrics.body).to_string();
    assert!(
        text.contains("portcullis_fetch_queue_wait_seconds_count 31"),
        "{text}"
    );
}

/// One caller's overload is answered to that caller: its own queue bound gives it
/// `overloaded_caller` (with `retry_after` in the body), while the other caller is served.
#[tokio::test]
async fn a_callers_queue_overflow_is_answered_to_that_caller_only() {
    let lab = Lab::start().await;
    lab.origin.route("/slow.json", slow_jwks());
    lab.origin.route("/fast.json", Route::json(JWKS));
    let svc = lab
        .serve(|c| {
            c.server.callers = two_callers();
            c.limits.max_concurrent_fetches = 2;
            c.limits.reserved_fetch_slots = 1;
            c.limits.max_queued_per_caller = 2;
            c.limits.max_queue_wait_ms = 30_000;
            c.rate.per_caller_target_host_burst = 1_000;
            c.rate.per_target_host_burst = 1_000;
        })
        .await;
    let mut tasks = Vec::new();
    for i in 0..3 {
        let addr = svc.addr;
        let request = body(&lab.url("good.test", &format!("/slow.json?q={i}")));
        tasks.push(tokio::spawn(async move {
            post_fetch(addr, Some(TOKEN_A), &request).await.status
        }));
    }
    common::wait_until(|| {
        svc.service
            .metrics_text()
            .contains("portcullis_requests_queued 2")
    })
    .await;
    let refused = post_fetch(
        svc.addr,
        Some(TOKEN_A),
        &body(&lab.url("good.test", "/slow.json?q=9")),
    )
    .await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.json()["error"], "overloaded_caller");
    assert!(refused.json()["retry_after"].as_u64().unwrap() >= 1);
    assert!(refused.headers.contains_key("retry-after"));
    let served = post_fetch(
        svc.addr,
        Some(TOKEN_B),
        &body(&lab.url("good.test", "/fast.json")),
    )
    .await;
    assert_eq!(served.status, StatusCode::OK);
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
}

/// Cache-busting URLs on a shared host exhaust the greedy caller's own budget for that
/// host, not the budget of another caller.
#[tokio::test]
async fn one_caller_cannot_spend_another_callers_host_budget() {
    let lab = Lab::start().await;
    lab.origin.route("/doc.json", Route::json(JWKS));
    let svc = lab
        .serve(|c| {
            c.server.callers = two_callers();
            c.rate.per_target_host_per_s = 1;
            c.rate.per_target_host_burst = 10;
            c.rate.per_caller_target_host_per_s = 1;
            c.rate.per_caller_target_host_burst = 5;
        })
        .await;
    let mut statuses = Vec::new();
    let mut last = None;
    for i in 0..20 {
        let reply = post_fetch(
            svc.addr,
            Some(TOKEN_A),
            &body(&lab.url("good.test", &format!("/doc.json?bust={i}"))),
        )
        .await;
        statuses.push(reply.status);
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            last = Some(reply);
        }
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert!((5..=6).contains(&ok), "{statuses:?}");
    let refused = last.expect("the greedy caller is refused");
    assert_eq!(refused.json()["error"], "rate_limited_caller_target_host");
    assert!(refused.json()["retry_after"].as_u64().unwrap() >= 1);
    let other = post_fetch(
        svc.addr,
        Some(TOKEN_B),
        &body(&lab.url("good.test", "/doc.json?honest")),
    )
    .await;
    assert_eq!(other.status, StatusCode::OK);
    let text = svc.service.metrics_text();
    assert!(
        text.contains("portcullis_rate_limited_total{scope=\"caller_target_host\"}"),
        "{text}"
    );
}

/// Hundreds of distinct redirecting names all pointing at one victim name: the per-host
/// limit applies to the redirect target too, so the victim receives at most the
/// documented rate (burst + rate × elapsed), and the refused requests get a retryable 429.
#[tokio::test]
async fn redirect_fan_in_is_held_to_the_victims_host_rate() {
    let lab = Lab::start().await;
    // A second origin whose certificate covers every name under hop.test.
    let tls = lab
        .ca
        .server_config(&["*.hop.test"], Validity::Current, &[b"http/1.1"])
        .unwrap();
    let hop_origin = TestOrigin::start(H2_IP, lab.port(), tls).await.unwrap();
    let victim = format!("https://victim.hop.test:{}/doc.json", lab.port());
    hop_origin.route("/r", Route::redirect(302, &victim));
    hop_origin.route("/doc.json", Route::json(JWKS));
    const NAMES: usize = 300;
    lab.dns
        .set("victim.hop.test", DnsBehavior::Addresses(vec![H2_IP]));
    for i in 0..NAMES {
        lab.dns.set(
            &format!("r{i}.hop.test"),
            DnsBehavior::Addresses(vec![H2_IP]),
        );
    }
    const PER_S: u32 = 2;
    const BURST: u32 = 4;
    let svc = lab
        .serve(|c| {
            portcullis::testing::lift_rate_limits(&mut c.rate, 10_000);
            c.rate.per_target_host_per_s = PER_S;
            c.rate.per_target_host_burst = BURST;
            c.rate.per_caller_target_host_per_s = PER_S;
            c.rate.per_caller_target_host_burst = BURST;
        })
        .await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..NAMES {
        let addr = svc.addr;
        let request = body(&format!("https://r{i}.hop.test:{}/r", lab.port()));
        tasks.push(tokio::spawn(async move {
            let reply = post_fetch(addr, None, &request).await;
            (reply.status, reply.json())
        }));
    }
    let mut ok = 0;
    let mut refused = 0;
    for t in tasks {
        let (status, json) = t.await.unwrap();
        match status {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                refused += 1;
                let code = json["error"].as_str().unwrap_or_default().to_owned();
                assert!(code.starts_with("rate_limited_"), "{code}");
                assert!(json["retry_after"].as_u64().unwrap() >= 1);
            }
            other => panic!("unexpected {other}: {json}"),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let delivered = hop_origin.hits_for("/doc.json");
    let allowed = f64::from(BURST) + f64::from(PER_S) * elapsed.ceil() + 1.0;
    eprintln!(
        "redirect fan-in: {NAMES} names, {delivered} deliveries to the victim in {elapsed:.2} s \
         (bound {allowed}), {refused} refused"
    );
    assert!(
        (delivered as f64) <= allowed,
        "victim got {delivered} in {elapsed:.2} s"
    );
    assert_eq!(ok, delivered, "every delivery answered with a verdict");
    assert_eq!(ok + refused, NAMES);
    assert!(hop_origin.hits_for("/r") >= NAMES / 2, "the first hops ran");
}

struct Interfaces(Arc<Mutex<Vec<IpAddr>>>);

impl InterfaceSource for Interfaces {
    fn addresses(&self) -> std::io::Result<Vec<IpAddr>> {
        Ok(self.0.lock().unwrap().clone())
    }
}

/// A rules file that allows the lab origin through a range (not an exact host route), so
/// a self address inside it is refused.
fn range_rules(port: u16) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    write!(
        file,
        "ports = [443, {port}]\n\n[[ranges]]\ncidr = \"127.0.0.2/31\"\naction = \"allow\"\nnote = \"test lab range\"\n"
    )
    .unwrap();
    file
}

/// An address that appears on an interface after start-up is refused at connect time.
#[tokio::test]
async fn an_address_added_after_start_up_is_refused() {
    let lab = Lab::start().await;
    let file = range_rules(lab.port());
    let mut config = lab.config.clone();
    config.rules.files = vec![file.path().to_owned()];
    let policy = portcullis::assemble::build_policy(&config, &[]).unwrap();
    let fetcher = portcullis::assemble::build_fetcher_with(
        &config,
        policy,
        lab.fetcher.resolver().clone(),
        &[],
    )
    .unwrap()
    .restrict_connections(portcullis::testing::loopback_only);
    let interfaces = Arc::new(Mutex::new(Vec::new()));
    let fetcher = fetcher.watch_self_addresses(Arc::new(LiveSelfAddrs::new(
        Box::new(Interfaces(interfaces.clone())),
        Duration::ZERO,
    )));
    lab.origin.route("/doc.json", Route::json(JWKS));
    let request = portcullis::fetch::FetchRequest {
        url: lab.url("good.test", "/doc.json"),
        max_body_bytes: 64 * 1024,
        follow_redirects: false,
    };
    let before = fetcher.fetch(&request).await;
    assert_eq!(before.status, FetchStatus::Fetched, "{:?}", before.problems);
    interfaces.lock().unwrap().push(ORIGIN_IP);
    let after = fetcher.fetch(&request).await;
    assert_eq!(after.status, FetchStatus::Blocked);
    assert_eq!(common::codes(&after), vec!["self_address"]);
    assert_eq!(lab.origin.hits_for("/doc.json"), 1, "no second connection");

    // The lab's own rules allow the origin by an exact host route: that explicit allow
    // wins over the self-address rule, at start-up and at connect time alike.
    let exact = lab
        .fetcher
        .clone()
        .watch_self_addresses(Arc::new(LiveSelfAddrs::new(
            Box::new(Interfaces(interfaces.clone())),
            Duration::ZERO,
        )));
    assert_eq!(exact.fetch(&request).await.status, FetchStatus::Fetched);
}

/// A caller that joins a fetch led by another caller is not refused because of the
/// leader's own queue: when the leader's request times out in its queue, the joiner tries
/// again on its own account and is answered.
#[tokio::test]
async fn a_joiner_is_not_refused_for_the_leaders_queue() {
    let lab = Lab::start_with(|c| {
        c.limits.body_timeout_ms = 3_000;
        c.limits.total_timeout_ms = 5_000;
    })
    .await;
    let slow = Route::drip_json(
        JWKS.as_bytes(),
        JWKS.len() / 6 + 1,
        Duration::from_millis(250),
    );
    lab.origin.route("/slow.json", slow);
    lab.origin.route("/shared.json", Route::json(JWKS));
    let svc = lab
        .serve(|c| {
            c.server.callers = two_callers();
            c.limits.max_concurrent_fetches = 1;
            c.limits.max_queue_wait_ms = 1_000;
        })
        .await;
    let addr = svc.addr;
    let slow_url = body(&lab.url("good.test", "/slow.json"));
    let holder = tokio::spawn(async move { post_fetch(addr, Some(TOKEN_A), &slow_url).await });
    common::wait_until(|| lab.origin.hits_for("/slow.json") == 1).await;
    let shared = body(&lab.url("good.test", "/shared.json"));
    let leader = {
        let shared = shared.clone();
        tokio::spawn(async move { post_fetch(addr, Some(TOKEN_A), &shared).await })
    };
    common::wait_until(|| {
        svc.service
            .metrics_text()
            .contains("portcullis_requests_queued 1")
    })
    .await;
    let joiner = post_fetch(addr, Some(TOKEN_B), &shared).await;
    let leader = leader.await.unwrap();
    assert_eq!(leader.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(leader.json()["error"], "queue_timeout");
    assert_eq!(joiner.status, StatusCode::OK, "{:?}", joiner.json());
    assert_eq!(holder.await.unwrap().status, StatusCode::OK);
    assert!(
        svc.service
            .metrics_text()
            .contains("portcullis_single_flight_joins_total 1")
    );
}

/// With the default limits, one authorization server asking for 50 distinct client
/// documents on one hosting platform at once is served in full (issue 14, "Retryable vs
/// final").
#[tokio::test]
async fn defaults_let_a_hosting_platform_through() {
    let lab = Lab::start().await;
    lab.origin.route("/client.json", Route::json(JWKS));
    let svc = lab.serve(|c| c.server.callers = two_callers()).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let addr = svc.addr;
        let request = body(&lab.url("good.test", &format!("/client.json?id={i}")));
        tasks.push(tokio::spawn(async move {
            post_fetch(addr, Some(TOKEN_A), &request).await.status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    let fetched = lab
        .origin
        .hits()
        .iter()
        .filter(|h| h.path.starts_with("/client.json?id="))
        .count();
    assert_eq!(fetched, 50);
}
