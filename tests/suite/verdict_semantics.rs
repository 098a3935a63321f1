//! Verdict semantics an authorization server can trust (issue 14), over the loopback Lab:
//! every answer its own token, trust is not caching, the caller's deadline, duplicate
//! lookups, the `expect` claim, and refusal audit lines that say what was refused.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use portcullis::testing::origin::Route;
use serde_json::{Value, json};

use crate::common::api::{post_fetch, send};
use crate::common::{Lab, SharedBuf};

const DOC: &str = r#"{"hello":"world","n":[1,2,3]}"#;

fn body(url: &str, kind: &str) -> String {
    crate::common::fetch_body(url, kind)
}

/// The signed payload of a reply (what a kit reads; `claims` is only a copy).
fn signed_claims(reply: &Value) -> Value {
    let jws = reply["verdict"].as_str().unwrap_or_default();
    let payload = jws.split('.').nth(1).unwrap_or_default();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Slack for the client's own connect and scheduling when it times the answer: the test
/// machine is shared, so "before the deadline" is checked as "because of the deadline"
/// (the origin would take far longer) plus this slack; the service itself aims at the
/// deadline minus `DEADLINE_MARGIN`.
const CLIENT_SLACK: Duration = Duration::from_millis(150);

fn drip(delay_ms: u64) -> Route {
    Route::drip_json(
        DOC.as_bytes(),
        DOC.len() / 4 + 1,
        Duration::from_millis(delay_ms),
    )
}

#[tokio::test]
async fn every_answer_is_its_own_token_with_a_short_trust_window() {
    let lab = Lab::start().await;
    lab.origin.route("/doc.json", Route::json(DOC));
    let svc = lab.serve(|c| c.signing.trust_s = 45).await;
    let request = body(&lab.url("good.test", "/doc.json"), "json");
    let mut jtis = std::collections::HashSet::new();
    let mut first_fetch = None;
    for _ in 0..5 {
        let reply = post_fetch(svc.addr, None, &request).await.json();
        let claims = signed_claims(&reply);
        assert_eq!(
            claims, reply["claims"],
            "the unsigned copy is the signed claims"
        );
        assert_eq!(claims["outcome"], "valid");
        let iat = claims["iat"].as_u64().unwrap();
        assert_eq!(claims["exp"].as_u64().unwrap(), iat + 45);
        assert!(jtis.insert(claims["jti"].as_str().unwrap().to_owned()));
        let fetched = claims["fetch"]["fetched_at"].as_u64().unwrap();
        assert!(fetched <= iat);
        assert_eq!(*first_fetch.get_or_insert(fetched), fetched);
    }
    assert_eq!(
        lab.origin.hits_for("/doc.json"),
        1,
        "four answers were cache hits"
    );
}

#[tokio::test]
async fn the_cache_claim_carries_the_origin_caching_not_the_service_ttl() {
    let lab = Lab::start().await;
    let cc =
        |v: &'static str| Route::response(200, "application/json", &[("Cache-Control", v)], DOC);
    lab.origin.route("/short.json", cc("max-age=30"));
    lab.origin.route("/long.json", cc("max-age=999999999"));
    lab.origin.route("/nostore.json", cc("no-store"));
    lab.origin.route("/silent.json", Route::json(DOC));
    let svc = lab
        .serve(|c| {
            c.cache.min_ttl_s = 300;
            c.cache.max_ttl_s = 3_600;
        })
        .await;
    let cache_of = |path: &'static str| {
        let url = lab.url("good.test", path);
        let addr = svc.addr;
        async move {
            signed_claims(&post_fetch(addr, None, &body(&url, "json")).await.json())["cache"]
                .clone()
        }
    };
    // max-age=30 is not stretched to min_ttl_s = 300 (a cache hit may have aged it by 1 s).
    let short = cache_of("/short.json").await;
    assert_eq!(short["no_store"], false);
    assert!(
        (29..=30).contains(&short["max_age_s"].as_u64().unwrap()),
        "{short}"
    );
    let again = cache_of("/short.json").await;
    assert!(again["max_age_s"].as_u64().unwrap() <= 30);
    assert_eq!(
        lab.origin.hits_for("/short.json"),
        1,
        "the service's own cache is longer"
    );
    let long = cache_of("/long.json").await;
    assert!(
        (3_599..=3_600).contains(&long["max_age_s"].as_u64().unwrap()),
        "{long}"
    );
    assert_eq!(
        cache_of("/nostore.json").await,
        json!({"max_age_s": 0, "no_store": true})
    );
    assert_eq!(
        cache_of("/silent.json").await,
        json!({"max_age_s": 0, "no_store": false})
    );
    // A failure has no document to cache.
    let blocked = post_fetch(svc.addr, None, &body("https://127.0.0.1/x", "json")).await;
    assert_eq!(
        signed_claims(&blocked.json())["cache"],
        json!({"max_age_s": 0, "no_store": true})
    );
    assert!(
        signed_claims(&blocked.json()).get("fetch").is_none(),
        "blocked before fetching"
    );
}

#[tokio::test]
async fn the_deadline_is_answered_with_a_signed_unreachable_verdict_and_not_cached() {
    let lab = Lab::start().await;
    lab.origin.route("/slow.json", drip(150)); // ~600 ms to deliver
    let svc = lab.serve(|_| {}).await;
    let url = lab.url("good.test", "/slow.json");
    let started = Instant::now();
    let reply = post_fetch(
        svc.addr,
        None,
        &json!({"url": url, "kind": "json", "deadline_ms": 200}).to_string(),
    )
    .await;
    let waited = started.elapsed();
    assert_eq!(reply.status, StatusCode::OK);
    let claims = signed_claims(&reply.json());
    assert_eq!(claims["outcome"], "unreachable", "{claims}");
    assert_eq!(claims["problems"][0]["code"], "deadline_exceeded");
    assert!(claims.get("fetch").is_none());
    assert!(
        waited < Duration::from_millis(200) + CLIENT_SLACK,
        "answered after the deadline: {waited:?}"
    );
    // The fetch went on; once it is done, the next request gets the real verdict.
    crate::common::wait_until(|| svc.service.cached_outcome(&key(&url)).is_some()).await;
    let next = post_fetch(svc.addr, None, &body(&url, "json")).await;
    assert_eq!(signed_claims(&next.json())["outcome"], "valid");
    assert_eq!(lab.origin.hits_for("/slow.json"), 1);
}

fn key(url: &str) -> portcullis::service::FetchKey {
    portcullis::service::FetchKey {
        kind: portcullis::kind::Kind::Json,
        url: url.to_owned(),
        expect: Default::default(),
        profile: portcullis::kind::Profile::Oauth,
    }
}

#[tokio::test]
async fn the_deadline_header_and_the_configured_maximum_bound_the_wait() {
    let lab = Lab::start().await;
    lab.origin.route("/a.json", drip(400));
    lab.origin.route("/b.json", drip(400));
    let svc = lab.serve(|c| c.limits.max_deadline_ms = 250).await;
    // Header only.
    let request = Request::post("/v1/fetch")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("X-Portcullis-Deadline-Ms", "150")
        .body(Full::new(Bytes::from(body(
            &lab.url("good.test", "/a.json"),
            "json",
        ))))
        .unwrap();
    let started = Instant::now();
    let reply = send(svc.addr, request).await;
    assert!(started.elapsed() < Duration::from_millis(150) + CLIENT_SLACK);
    assert_eq!(
        signed_claims(&reply.json())["problems"][0]["code"],
        "deadline_exceeded"
    );
    // Asking for more than the maximum gets the maximum.
    let started = Instant::now();
    let reply = post_fetch(
        svc.addr,
        None,
        &json!({"url": lab.url("good.test", "/b.json"), "kind": "json", "deadline_ms": 60_000})
            .to_string(),
    )
    .await;
    assert!(started.elapsed() < Duration::from_millis(250) + CLIENT_SLACK);
    assert_eq!(
        signed_claims(&reply.json())["problems"][0]["code"],
        "deadline_exceeded"
    );
    // A malformed header is a 400.
    let bad = Request::post("/v1/fetch")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("X-Portcullis-Deadline-Ms", "soon")
        .body(Full::new(Bytes::from(body(
            &lab.url("good.test", "/a.json"),
            "json",
        ))))
        .unwrap();
    let bad = send(svc.addr, bad).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["error"], "invalid_request");
}

#[tokio::test]
async fn a_joined_waiter_with_a_shorter_deadline_gets_its_own_deadline_verdict() {
    let lab = Lab::start().await;
    lab.origin.route("/slow.json", drip(100)); // ~400 ms
    let svc = lab.serve(|_| {}).await;
    let url = lab.url("good.test", "/slow.json");
    let addr = svc.addr;
    let leader_body = body(&url, "json");
    let leader = tokio::spawn(async move { post_fetch(addr, None, &leader_body).await });
    crate::common::wait_until(|| lab.origin.hits_for("/slow.json") == 1).await;
    let short = post_fetch(
        svc.addr,
        None,
        &json!({"url": url, "kind": "json", "deadline_ms": 50}).to_string(),
    )
    .await;
    assert_eq!(
        signed_claims(&short.json())["problems"][0]["code"],
        "deadline_exceeded"
    );
    let leader = leader.await.unwrap();
    assert_eq!(signed_claims(&leader.json())["outcome"], "valid");
    assert_eq!(lab.origin.hits_for("/slow.json"), 1);
}

#[tokio::test]
async fn duplicate_lookups_share_one_result_failures_included() {
    let lab = Lab::start().await;
    lab.origin
        .route("/client.json", Route::json(r#"{"client_id": "wrong"}"#));
    let svc = lab.serve(|c| c.cache.duplicate_window_s = 2).await;
    let cimd = body(&lab.url("good.test", "/client.json"), "client_metadata");
    for _ in 0..3 {
        let reply = post_fetch(svc.addr, None, &cimd).await.json();
        assert_eq!(signed_claims(&reply)["outcome"], "invalid");
    }
    assert_eq!(
        lab.origin.hits_for("/client.json"),
        1,
        "one fetch inside the window"
    );
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    post_fetch(svc.addr, None, &cimd).await;
    assert_eq!(
        lab.origin.hits_for("/client.json"),
        2,
        "fetched again after it"
    );
}

#[tokio::test]
async fn the_verdict_records_the_expectations_it_was_judged_against() {
    let lab = Lab::start().await;
    lab.origin.route(
        "/.well-known/oauth-authorization-server",
        Route::json(r#"{"issuer":"https://elsewhere.example"}"#),
    );
    let svc = lab.serve(|_| {}).await;
    let url = lab.url("good.test", "/.well-known/oauth-authorization-server");
    let with = json!({"url": url, "kind": "authorization_server_metadata",
                      "expect": {"issuer": "https://as.example"}});
    let claims = signed_claims(&post_fetch(svc.addr, None, &with.to_string()).await.json());
    assert_eq!(claims["expect"], json!({"issuer": "https://as.example"}));
    let without = body(&url, "authorization_server_metadata");
    let claims = signed_claims(&post_fetch(svc.addr, None, &without).await.json());
    assert!(claims.get("expect").is_none(), "{claims}");
}

#[tokio::test]
async fn a_refused_request_audit_line_says_which_url_host_and_kind() {
    let lab = Lab::start().await;
    for path in ["/a.json", "/b.json"] {
        lab.origin.route(path, Route::json(DOC));
    }
    let buf = SharedBuf::default();
    let sink = Some(buf.sink());
    let svc = lab
        .serve_with_audit(
            |c| {
                c.rate.per_target_host_per_s = 1;
                c.rate.per_target_host_burst = 1;
            },
            sink,
        )
        .await;
    let a = post_fetch(
        svc.addr,
        None,
        &body(&lab.url("good.test", "/a.json"), "json"),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let b_url = lab.url("good.test", "/b.json");
    let b = post_fetch(svc.addr, None, &body(&b_url, "jwks")).await;
    assert_eq!(b.status, StatusCode::TOO_MANY_REQUESTS);
    let text = buf.text();
    let refused: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["event"] == "refused")
        .collect();
    assert_eq!(refused.len(), 1, "{text}");
    assert_eq!(refused[0]["error"], "rate_limited_target_host");
    assert_eq!(refused[0]["url"], b_url);
    assert_eq!(refused[0]["host"], "good.test");
    assert_eq!(refused[0]["kind"], "jwks");
    // A body that never parsed has no url.
    let bad = post_fetch(svc.addr, None, "{").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let text = buf.text();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["error"], "invalid_request");
    assert!(last.get("url").is_none());
}
