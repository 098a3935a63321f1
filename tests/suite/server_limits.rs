//! The API port cannot be locked or OOM'd (issue 12 classes 1–2 and item 8): raw sockets on
//! loopback sending exactly what an attacker would — hand-built h2 frames, idlers, floods,
//! a window-0 stream flood, and a request with both `Content-Length` and `Transfer-Encoding`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::disallowed_methods)] // connects only to the service under test on 127.0.0.1

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::api::get;
use crate::common::{Lab, RunningService, wait_until};
use portcullis::config::Config;
use portcullis::testing::h2_frames::{
    PING, RST_STREAM, SETTINGS, frame, get_headers, ping_acks, preface,
};
use portcullis::testing::origin::Route;

async fn connect(addr: SocketAddr) -> TcpStream {
    assert!(addr.ip().is_loopback());
    TcpStream::connect(addr).await.unwrap()
}

/// Reads until the server closes (EOF or reset) or `within` passes; true if it closed.
/// Every server PING is acknowledged, as a well-behaved (but idle) peer would.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut pending = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(n)) => pending.extend_from_slice(&buf[..n]),
        }
        // Answer complete PING frames; drop everything else.
        let acks = ping_acks(&mut pending);
        if !acks.is_empty() && stream.write_all(&acks).await.is_err() {
            return true;
        }
    }
}

fn closed_count(service: &RunningService, reason: &str) -> u64 {
    service
        .service
        .telemetry()
        .api()
        .connections_closed
        .with_label_values(&[reason])
        .get()
}

async fn serve(lab: &Lab, tweak: impl FnOnce(&mut Config)) -> RunningService {
    lab.serve(|c| {
        c.server.first_request_timeout_ms = 400;
        c.server.idle_timeout_ms = 400;
        tweak(c);
    })
    .await
}

#[tokio::test]
async fn h2_preface_then_silence_is_closed() {
    let lab = Lab::start().await;
    let service = serve(&lab, |_| {}).await;
    let mut idler = connect(service.addr).await;
    idler.write_all(&preface(false)).await.unwrap();
    assert!(
        closed_within(&mut idler, Duration::from_secs(5)).await,
        "an h2 peer that never sends a request must be closed"
    );
    assert!(closed_count(&service, "first_request_timeout") >= 1);
}

#[tokio::test]
async fn ping_answering_h2_idler_is_closed_after_a_request() {
    let lab = Lab::start().await;
    let service = serve(&lab, |_| {}).await;
    let mut idler = connect(service.addr).await;
    idler.write_all(&preface(false)).await.unwrap();
    idler.write_all(&get_headers(1, "/healthz")).await.unwrap();
    // Keeps pinging (within the control budget) and acknowledging the server's pings.
    let started = Instant::now();
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(5) {
        if idler.write_all(&frame(PING, 0, 0, &[9; 8])).await.is_err()
            || closed_within(&mut idler, Duration::from_millis(100)).await
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "a peer that only pings must be closed when idle");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "closed too early"
    );
    wait_until(|| closed_count(&service, "idle_timeout") >= 1).await;
}

#[tokio::test]
async fn control_frame_flood_is_closed() {
    let lab = Lab::start().await;
    let service = serve(&lab, |c| {
        c.server.h2_max_control_frames_per_s = 100;
        c.server.first_request_timeout_ms = 30_000;
    })
    .await;
    for flood_type in [PING, SETTINGS, RST_STREAM] {
        let mut peer = connect(service.addr).await;
        peer.write_all(&preface(false)).await.unwrap();
        let one = match flood_type {
            PING => frame(PING, 0, 0, &[1; 8]),
            SETTINGS => frame(SETTINGS, 0, 0, &[]),
            _ => frame(RST_STREAM, 0, 1, &[0, 0, 0, 8]),
        };
        let burst: Vec<u8> = (0..500).flat_map(|_| one.clone()).collect();
        let _ = peer.write_all(&burst).await;
        assert!(
            closed_within(&mut peer, Duration::from_secs(5)).await,
            "flood of frame type {flood_type} must close the connection"
        );
    }
    assert!(closed_count(&service, "control_frame_flood") >= 3);
    // The flood is a per-connection cut: a normal client is still served.
    assert_eq!(get(service.addr, "/healthz").await.status, 200);
}

#[tokio::test]
async fn window_zero_stream_flood_stays_within_the_pending_budget() {
    // Budgets small enough that 404 error bodies (allocated per response, ~40 bytes) fill
    // them; shared bodies (`/metrics`, `/healthz`) cost nothing per stream and are not charged.
    const BUDGET: usize = 2 * 1024;
    let lab = Lab::start().await;
    let service = serve(&lab, |c| {
        c.server.max_pending_response_bytes = BUDGET;
        c.server.max_pending_response_bytes_per_connection = 1024;
        c.server.first_request_timeout_ms = 30_000;
        c.server.idle_timeout_ms = 30_000;
        c.server.h2_max_concurrent_streams = 16;
    })
    .await;
    let api = service.service.telemetry().api().clone();
    let mut peers = Vec::new();
    for _ in 0..6 {
        let mut peer = connect(service.addr).await;
        let mut bytes = preface(true);
        for i in 0..16u32 {
            let path = if i % 4 == 0 {
                "/metrics"
            } else {
                "/no-such-route"
            };
            bytes.extend(get_headers(2 * i + 1, path));
        }
        peer.write_all(&bytes).await.unwrap();
        peers.push(peer);
    }
    wait_until(|| api.responses_shed.get() >= 10).await;
    let renders = api.metrics_renders.get();
    assert!(
        renders <= 2,
        "/metrics rendered {renders} times for 24 streams"
    );
    let pending = usize::try_from(api.pending_response_bytes.get()).unwrap();
    assert!(pending > 0, "some responses are held, charged");
    assert!(pending <= BUDGET, "pending {pending} over budget {BUDGET}");
    eprintln!(
        "window-0 flood: 96 streams, pending {pending} bytes (budget {BUDGET}), shed {}",
        api.responses_shed.get()
    );
    drop(peers);
    wait_until(|| api.pending_response_bytes.get() == 0).await;
    assert_eq!(get(service.addr, "/healthz").await.status, 200);
}

#[tokio::test]
async fn metrics_are_rendered_at_most_once_per_interval() {
    let lab = Lab::start().await;
    let service = lab
        .serve(|c| c.server.metrics_render_interval_ms = 60_000)
        .await;
    let renders = || service.service.telemetry().api().metrics_renders.get();
    let first = get(service.addr, "/metrics").await;
    assert_eq!(first.status, 200);
    for _ in 0..5 {
        let _ = get(service.addr, "/healthz").await;
        let again = get(service.addr, "/metrics").await;
        assert_eq!(again.body, first.body, "same text within the interval");
    }
    assert_eq!(renders(), 1);

    let fresh = lab.serve(|c| c.server.metrics_render_interval_ms = 0).await;
    let before = fresh.service.telemetry().api().metrics_renders.get();
    let _ = get(fresh.addr, "/metrics").await;
    let _ = get(fresh.addr, "/metrics").await;
    assert_eq!(
        fresh.service.telemetry().api().metrics_renders.get(),
        before + 2
    );
}

async fn raw_http1(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = connect(addr).await;
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn content_length_with_transfer_encoding_is_refused() {
    let lab = Lab::start().await;
    let service = lab.serve(|_| {}).await;
    let reply = raw_http1(
        service.addr,
        b"POST /v1/fetch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 400"), "got {reply:?}");
    assert!(reply.contains("conflicting_framing"), "got {reply:?}");
    assert!(closed_count(&service, "conflicting_framing") >= 1);
    // The same request with one framing header is not refused for framing.
    let ok = raw_http1(
        service.addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert!(ok.starts_with("HTTP/1.1 200"), "got {ok:?}");
}

#[tokio::test]
async fn http1_idle_keep_alive_is_closed() {
    let lab = Lab::start().await;
    let service = serve(&lab, |_| {}).await;
    let mut stream = connect(service.addr).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    assert!(closed_within(&mut stream, Duration::from_secs(4)).await);
    assert!(started.elapsed() >= Duration::from_millis(300));
    wait_until(|| closed_count(&service, "idle_timeout") >= 1).await;
}

#[tokio::test]
async fn legit_requests_are_served_while_idlers_hold_connections() {
    let lab = Lab::start().await;
    let service = serve(&lab, |c| {
        c.server.max_connections = 8;
        c.server.first_request_timeout_ms = 60_000;
        c.server.idle_timeout_ms = 60_000;
    })
    .await;
    // max_connections − 1 h2 idlers: the last slot still serves.
    let mut idlers = Vec::new();
    for _ in 0..7 {
        let mut idler = connect(service.addr).await;
        idler.write_all(&preface(false)).await.unwrap();
        idlers.push(idler);
    }
    assert_eq!(get(service.addr, "/healthz").await.status, 200);
    // More idlers than slots, and timeouts far away: a legitimate request is still served
    // at once, because a new connection evicts the idlest one.
    for _ in 0..12 {
        let mut idler = connect(service.addr).await;
        let _ = idler.write_all(&preface(false)).await;
        idlers.push(idler);
    }
    for _ in 0..3 {
        let started = Instant::now();
        let reply = tokio::time::timeout(Duration::from_secs(5), get(service.addr, "/healthz"))
            .await
            .expect("served while idlers hold every slot");
        assert_eq!(reply.status, 200);
        eprintln!("served in {:?} with every slot idling", started.elapsed());
    }
    assert!(closed_count(&service, "evicted_idle") >= 12);
    assert_eq!(closed_count(&service, "first_request_timeout"), 0);
}

#[tokio::test]
async fn a_well_behaved_h2c_client_gets_whole_bodies() {
    use http_body_util::{BodyExt, Full};
    let lab = Lab::start().await;
    let service = lab.serve(|_| {}).await;
    let stream = connect(service.addr).await;
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    for (path, min_len) in [("/healthz", 10), ("/metrics", 10_000), ("/nope", 10)] {
        let request = http::Request::get(format!("http://127.0.0.1{path}"))
            .body(Full::new(bytes::Bytes::new()))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let status = response.status();
        let announced = response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(body.len() >= min_len, "{path}: {} bytes", body.len());
        assert_eq!(
            announced,
            Some(body.len()),
            "{path}: content-length matches"
        );
        assert_eq!(status == 200, path != "/nope", "{path}: {status}");
    }
    let api = service.service.telemetry().api();
    wait_until(|| api.pending_response_bytes.get() == 0).await;
}

#[tokio::test]
async fn request_heads_are_bounded_at_8_kib() {
    let lab = Lab::start().await;
    let service = lab.serve(|_| {}).await;
    let head = |padding: usize| {
        format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Padding: {}\r\n\r\n",
            "p".repeat(padding)
        )
    };
    // Just inside the bound: served.
    let inside = head(portcullis::config::DEFAULT_MAX_REQUEST_HEAD_BYTES - 200);
    assert!(inside.len() < portcullis::config::DEFAULT_MAX_REQUEST_HEAD_BYTES);
    let ok = raw_http1(service.addr, inside.as_bytes()).await;
    assert!(ok.starts_with("HTTP/1.1 200"), "got {ok:?}");
    // Past it: 431, not a bigger buffer.
    let outside = head(portcullis::config::DEFAULT_MAX_REQUEST_HEAD_BYTES + 100);
    let refused = raw_http1(service.addr, outside.as_bytes()).await;
    assert!(refused.starts_with("HTTP/1.1 431"), "got {refused:?}");
    wait_until(|| closed_count(&service, "request_head_too_large") == 1).await;
}

/// The API does not read a connection while its request is being answered (that read would
/// cost a second buffer per waiting connection), so a client that shuts down its sending
/// side after the request still gets the verdict.
#[tokio::test]
async fn a_client_that_half_closes_after_its_request_gets_its_verdict() {
    let lab = Lab::start().await;
    let document = br#"{"keys":[]}"#.to_vec();
    lab.origin.route(
        "/slow-jwks.json",
        Route::drip_json(document, 4, Duration::from_millis(60)),
    );
    let service = lab.serve(|_| {}).await;
    let body = crate::common::fetch_body(&lab.url("good.test", "/slow-jwks.json"), "jwks");
    let request = format!(
        "POST /v1/fetch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = connect(service.addr).await;
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let reply = String::from_utf8_lossy(&out);
    assert!(reply.starts_with("HTTP/1.1 200"), "got {reply:?}");
    assert!(reply.contains("\"verdict\":\"ey"), "got {reply:?}");
}

/// The 8 KiB head bound is not a body bound: a body larger than hyper's read buffer (the
/// default `max_request_bytes` is 16 KiB) streams through it.
#[tokio::test]
async fn bodies_larger_than_the_read_buffer_are_read_whole() {
    let lab = Lab::start().await;
    lab.origin
        .route("/keys.json", Route::json(r#"{"keys":[]}"#));
    let service = lab.serve(|_| {}).await;
    let mut body = crate::common::fetch_body(&lab.url("good.test", "/keys.json"), "jwks");
    body.push_str(&" ".repeat(12 * 1024));
    assert!(body.len() > portcullis::config::DEFAULT_MAX_REQUEST_HEAD_BYTES);
    let request = format!(
        "POST /v1/fetch HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let reply = raw_http1(service.addr, request.as_bytes()).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "got {reply:?}");
    assert!(reply.contains("\"verdict\":\"ey"), "got {reply:?}");
}
