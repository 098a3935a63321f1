//! End-to-end tests of the verdict service over real loopback sockets: status codes,
//! signatures checked by an independent JOSE library, caching, single flight, limits and
//! graceful shutdown.

use crate::common;
use std::sync::Arc;
use std::time::Duration;

use crate::common::Lab;
use crate::common::api::{get, post_fetch};
use http::StatusCode;
use portcullis::config::CallerConfig;
use portcullis::kind::Kind;
use portcullis::server::request::{ExpectBody, FetchApiRequest};
use portcullis::testing::origin::Route;

const JWKS: &str = include_str!("../fixtures/real-world/google.jwks.json");
const TOKEN: &str = "test-token-for-as-1";

fn callers() -> Vec<CallerConfig> {
    common::caller_with_token(TOKEN)
}

fn body(url: &str, kind: &str) -> String {
    common::fetch_body(url, kind)
}

fn slow_jwks() -> Route {
    Route::drip_json(
        JWKS.as_bytes(),
        JWKS.len() / 4 + 1,
        Duration::from_millis(100),
    )
}

#[tokio::test]
async fn valid_verdict_verifies_with_an_independent_jose_library() {
    let lab = Lab::start().await;
    lab.origin.route("/jwks.json", Route::json(JWKS));
    let svc = lab.serve(|c| c.server.callers = callers()).await;
    let url = lab.url("good.test", "/jwks.json");
    let reply = post_fetch(svc.addr, Some(TOKEN), &body(&url, "jwks")).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.json());
    let value = reply.json();
    assert_eq!(value["claims"]["outcome"], "valid", "{value}");
    let jws = value["verdict"].as_str().unwrap();

    let keys = get(svc.addr, "/v1/keys").await;
    assert_eq!(keys.status, StatusCode::OK);
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(&keys.body).unwrap();
    let header = jsonwebtoken::decode_header(jws).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    // The default verdict algorithm is ES256 (docs/conformance.md), published in /v1/keys.
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(
        jwk.common.key_algorithm,
        Some(jsonwebtoken::jwk::KeyAlgorithm::ES256)
    );
    assert_eq!(value["claims"]["profile"], "oauth", "{value}");
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&["as-1"]);
    validation.set_issuer(&["portcullis"]);
    let decoded = jsonwebtoken::decode::<serde_json::Value>(jws, &key, &validation).unwrap();
    assert_eq!(decoded.claims["url"], url);
    assert_eq!(decoded.claims["kind"], "jwks");
    assert_eq!(
        decoded.claims["fetch"]["address"],
        format!("127.0.0.2:{}", lab.port())
    );
    assert_eq!(decoded.claims, value["claims"]);
    assert!(
        decoded.claims["document"]["keys"]
            .as_array()
            .is_some_and(|k| !k.is_empty())
    );

    // A tampered payload does not verify.
    let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].replacen('e', "f", 1);
    assert!(
        jsonwebtoken::decode::<serde_json::Value>(&parts.join("."), &key, &validation).is_err()
    );
}

#[tokio::test]
async fn every_error_status_has_its_code() {
    let lab = Lab::start().await;
    let svc = lab
        .serve(|c| {
            c.server.callers = callers();
            c.server.max_request_bytes = 512;
            c.rate.per_caller_per_s = 1;
            c.rate.per_caller_burst = 2;
        })
        .await;
    let url = lab.url("good.test", "/x");
    let missing = post_fetch(svc.addr, None, &body(&url, "jwks")).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.json()["error"], "missing_token");
    let wrong = post_fetch(svc.addr, Some("nope"), &body(&url, "jwks")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json()["error"], "invalid_token");

    let malformed = post_fetch(svc.addr, Some(TOKEN), r#"{"url": 1}"#).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.json()["error"], "invalid_request");
    let too_large = post_fetch(svc.addr, Some(TOKEN), &"x".repeat(600)).await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_large.json()["error"], "request_too_large");

    // The burst of 2 went to the malformed request (its body was read) and this one;
    // the too-large one was refused before reading. The next is limited.
    let answered = post_fetch(svc.addr, Some(TOKEN), &body(&url, "jwks")).await;
    assert_eq!(answered.status, StatusCode::OK);
    let limited = post_fetch(svc.addr, Some(TOKEN), &body(&url, "jwks")).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.json()["error"], "rate_limited_caller");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);

    assert_eq!(get(svc.addr, "/nope").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        get(svc.addr, "/v1/fetch").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(get(svc.addr, "/healthz").await.status, StatusCode::OK);
    assert_eq!(get(svc.addr, "/readyz").await.status, StatusCode::OK);
    let metrics = get(svc.addr, "/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        String::from_utf8_lossy(&metrics.body)
            .contains("portcullis_rate_limited_total{scope=\"caller\"} 1")
    );
}

#[tokio::test]
async fn blocked_and_unreachable_are_verdicts_not_errors() {
    let lab = Lab::start().await;
    let svc = lab.serve(|_| {}).await;
    let blocked = post_fetch(svc.addr, None, &body("https://127.0.0.1/x", "jwks")).await;
    assert_eq!(blocked.status, StatusCode::OK);
    assert_eq!(blocked.json()["claims"]["outcome"], "blocked");
    assert!(blocked.json()["verdict"].is_string());
    let unreachable = post_fetch(
        svc.addr,
        None,
        &body(&lab.url("good.test", "/missing"), "jwks"),
    )
    .await;
    assert_eq!(unreachable.json()["claims"]["outcome"], "unreachable");
    assert_eq!(
        unreachable.json()["claims"]["problems"][0]["code"],
        "status_not_ok"
    );
}

#[tokio::test]
async fn valid_verdicts_are_cached_until_they_expire() {
    let lab = Lab::start().await;
    lab.origin.route("/jwks.json", Route::json(JWKS));
    let svc = lab
        .serve(|c| {
            c.cache.min_ttl_s = 1;
            c.cache.max_ttl_s = 1;
            c.cache.duplicate_window_s = 0;
        })
        .await;
    let request = body(&lab.url("good.test", "/jwks.json"), "jwks");
    let first = post_fetch(svc.addr, None, &request).await.json();
    let second = post_fetch(svc.addr, None, &request).await.json();
    assert_eq!(first["claims"]["outcome"], "valid");
    assert_eq!(second["claims"]["sha256"], first["claims"]["sha256"]);
    assert_ne!(
        second["verdict"], first["verdict"],
        "every answer is its own token, cache hits included"
    );
    assert_ne!(second["claims"]["jti"], first["claims"]["jti"]);
    assert_eq!(
        second["claims"]["fetch"]["fetched_at"], first["claims"]["fetch"]["fetched_at"],
        "the fetch time stays the fetch time"
    );
    assert_eq!(
        lab.origin.hits_for("/jwks.json"),
        1,
        "second answer came from the cache"
    );
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let third = post_fetch(svc.addr, None, &request).await.json();
    assert_eq!(third["claims"]["outcome"], "valid");
    assert_eq!(
        lab.origin.hits_for("/jwks.json"),
        2,
        "expired entry was fetched again"
    );
    let metrics = String::from_utf8_lossy(&get(svc.addr, "/metrics").await.body).to_string();
    assert!(
        metrics.contains("portcullis_cache_hits_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn failures_are_cached_only_for_the_negative_ttl() {
    let lab = Lab::start().await;
    lab.origin
        .route("/broken.json", Route::json(r#"{"keys": "nope"}"#));
    lab.origin
        .route("/client.json", Route::json(r#"{"client_id": "wrong"}"#));
    let svc = lab
        .serve(|c| {
            c.cache.negative_ttl_s = 1;
            c.cache.duplicate_window_s = 0;
        })
        .await;
    let jwks = body(&lab.url("good.test", "/broken.json"), "jwks");
    for _ in 0..2 {
        assert_eq!(
            post_fetch(svc.addr, None, &jwks).await.json()["claims"]["outcome"],
            "invalid"
        );
    }
    assert_eq!(lab.origin.hits_for("/broken.json"), 1);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    post_fetch(svc.addr, None, &jwks).await;
    assert_eq!(lab.origin.hits_for("/broken.json"), 2);

    // CIMD failures are not cached (negative_ttl_client_metadata_s = 0) beyond the
    // duplicate window (0 here; see verdict_semantics for the window).
    let cimd = body(&lab.url("good.test", "/client.json"), "client_metadata");
    for _ in 0..3 {
        assert_eq!(
            post_fetch(svc.addr, None, &cimd).await.json()["claims"]["outcome"],
            "invalid"
        );
    }
    assert_eq!(lab.origin.hits_for("/client.json"), 3);
}

#[tokio::test]
async fn a_thousand_identical_requests_cause_one_fetch() {
    let lab = Lab::start().await;
    lab.origin.route("/jwks.json", slow_jwks());
    let svc = lab.serve(|_| {}).await;
    let url = lab.url("good.test", "/jwks.json");
    let mut tasks = Vec::new();
    for _ in 0..1_000 {
        let service = svc.service.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let now = std::time::Instant::now();
            let request = service.resolve(
                FetchApiRequest {
                    url,
                    kind: Kind::Jwks,
                    expect: ExpectBody::default(),
                    profile: None,
                    deadline_ms: None,
                },
                now,
            );
            let reply = service.verdict("as-1", request, now).await.unwrap();
            serde_json::from_slice::<serde_json::Value>(&reply).unwrap()["claims"]["outcome"]
                .clone()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), "valid");
    }
    assert_eq!(lab.origin.hits_for("/jwks.json"), 1);
    // And over HTTP, 50 concurrent callers after expiry-free caching: still one fetch.
    let mut http = Vec::new();
    for _ in 0..50 {
        let addr = svc.addr;
        let request = body(&url, "jwks");
        http.push(tokio::spawn(async move {
            post_fetch(addr, None, &request).await.status
        }));
    }
    for t in http {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(lab.origin.hits_for("/jwks.json"), 1);
}

#[tokio::test]
async fn target_host_rate_limit_protects_the_origin() {
    let lab = Lab::start().await;
    for path in ["/a.json", "/b.json", "/c.json"] {
        lab.origin.route(path, Route::json(JWKS));
    }
    let svc = lab
        .serve(|c| {
            c.rate.per_target_host_per_s = 1;
            c.rate.per_target_host_burst = 2;
        })
        .await;
    let a = post_fetch(
        svc.addr,
        None,
        &body(&lab.url("good.test", "/a.json"), "jwks"),
    )
    .await;
    let b = post_fetch(
        svc.addr,
        None,
        &body(&lab.url("good.test", "/b.json"), "jwks"),
    )
    .await;
    let c = post_fetch(
        svc.addr,
        None,
        &body(&lab.url("good.test", "/c.json"), "jwks"),
    )
    .await;
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(c.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(c.json()["error"], "rate_limited_target_host");
    assert!(c.headers.contains_key("retry-after"));
    assert_eq!(lab.origin.hits_for("/c.json"), 0);
    // Another host is not affected.
    lab.origin.route("/d.json", Route::json(JWKS));
    let d = post_fetch(
        svc.addr,
        None,
        &body(&lab.url("alt.test", "/d.json"), "jwks"),
    )
    .await;
    assert_eq!(d.status, StatusCode::OK);
}

#[tokio::test]
async fn concurrency_bound_answers_503_when_the_queue_is_full() {
    let lab = Lab::start().await;
    lab.origin.route("/slow1.json", slow_jwks());
    lab.origin.route("/slow2.json", slow_jwks());
    let svc = lab
        .serve(|c| {
            c.limits.max_concurrent_fetches = 1;
            c.limits.max_queued_requests = 0;
        })
        .await;
    let addr = svc.addr;
    let first_url = body(&lab.url("good.test", "/slow1.json"), "jwks");
    let first = tokio::spawn(async move { post_fetch(addr, None, &first_url).await.status });
    // The first fetch holds the only slot once the origin has its request (it drips 400 ms).
    common::wait_until(|| lab.origin.hits_for("/slow1.json") == 1).await;
    let second = post_fetch(
        svc.addr,
        None,
        &body(&lab.url("good.test", "/slow2.json"), "jwks"),
    )
    .await;
    assert_eq!(second.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second.json()["error"], "overloaded_caller");
    assert_eq!(first.await.unwrap(), StatusCode::OK);
}

#[tokio::test]
async fn shutdown_lets_the_request_in_flight_finish() {
    let lab = Lab::start().await;
    lab.origin.route("/slow.json", slow_jwks());
    let mut svc = lab.serve(|_| {}).await;
    let addr = svc.addr;
    let request = body(&lab.url("good.test", "/slow.json"), "jwks");
    let in_flight = tokio::spawn(async move { post_fetch(addr, None, &request).await });
    common::wait_until(|| lab.origin.hits_for("/slow.json") == 1).await;
    svc.shutdown.take().unwrap().send(()).unwrap();
    let reply = in_flight.await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["claims"]["outcome"], "valid");
    tokio::time::timeout(Duration::from_secs(5), &mut svc.handle)
        .await
        .unwrap()
        .unwrap();
    #[allow(clippy::disallowed_methods)] // loopback: the stopped service
    let refused = tokio::net::TcpStream::connect(addr).await;
    assert!(refused.is_err(), "listener closed after shutdown");
}

#[tokio::test]
async fn no_callers_and_a_public_address_refuse_to_start() {
    let mut config = portcullis::config::Config::default();
    config.server.listen = "0.0.0.0:0".parse().unwrap();
    assert!(matches!(
        portcullis::server::check_listen(&config.server),
        Err(portcullis::server::ServeError::OpenOnNonLoopback(_))
    ));
    config.server.callers = callers();
    assert!(portcullis::server::check_listen(&config.server).is_ok());
    let _ = Arc::new(());
}

#[tokio::test]
async fn h2c_prior_knowledge_is_served() {
    let lab = Lab::start().await;
    let svc = lab.serve(|_| {}).await;
    #[allow(clippy::disallowed_methods)] // loopback: the service under test
    let stream = tokio::net::TcpStream::connect(svc.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let request = http::Request::get(format!("http://{}/healthz", svc.addr))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), http::Version::HTTP_2);
}

#[tokio::test]
async fn unix_socket_listener_serves_the_api() {
    use http_body_util::BodyExt;
    let lab = Lab::start().await;
    lab.origin.route("/jwks.json", Route::json(JWKS));
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("portcullis.sock");
    let path = socket.clone();
    let _svc = lab
        .serve(move |c| {
            c.server.listen_tcp = false;
            c.server.unix_socket = Some(path);
        })
        .await;
    let stream = tokio::net::UnixStream::connect(&socket).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let request = http::Request::post("/v1/fetch")
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(body(
            &lab.url("good.test", "/jwks.json"),
            "jwks",
        ))))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(value["claims"]["outcome"], "valid");
}
