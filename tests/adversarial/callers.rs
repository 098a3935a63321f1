//! Callers: authentication, rate limits, slowloris and slow bodies against the API.

use super::*;

pub(crate) async fn caller_cases(lab: &SealedLab, results: &mut Results) {
    let c = Category::Callers;
    let api = start_api(lab, |cfg| {
        cfg.server.request_read_timeout_ms = 1_000;
        portcullis::testing::lift_rate_limits(&mut cfg.rate, 1_000);
    })
    .await;
    let tight = start_api(lab, |cfg| {
        portcullis::testing::lift_rate_limits(&mut cfg.rate, 1_000);
        cfg.rate.per_caller_per_s = 2;
        cfg.rate.per_caller_burst = 5;
    })
    .await;
    let good = serde_json::json!({"url": "https://good.test/doc.json", "kind": "json"}).to_string();
    let blocked =
        serde_json::json!({"url": "https://169.254.169.254/", "kind": "json"}).to_string();

    let status_code = |reply: &common::api::Reply, status: StatusCode, code: &str| {
        if reply.status == status && reply.json()["error"] == code {
            Ok(())
        } else {
            Err(format!(
                "want {status} {code}, got {} {:?}",
                reply.status,
                reply.json()
            ))
        }
    };

    let r = post_fetch(api.addr, None, &blocked).await;
    results.record(
        c,
        "missing-token",
        "api",
        status_code(&r, StatusCode::UNAUTHORIZED, "missing_token"),
    );
    let r = post_fetch(api.addr, Some("not-a-caller"), &blocked).await;
    results.record(
        c,
        "wrong-token",
        "api",
        status_code(&r, StatusCode::UNAUTHORIZED, "invalid_token"),
    );
    let r = post_fetch(api.addr, Some(&format!("{TOKEN_A}x")), &blocked).await;
    results.record(
        c,
        "token-with-suffix",
        "api",
        status_code(&r, StatusCode::UNAUTHORIZED, "invalid_token"),
    );
    let r = raw_request(
        api.addr,
        &format!("POST /v1/fetch HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {TOKEN_A}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{blocked}", blocked.len()),
    )
    .await;
    results.record(c, "basic-scheme", "api", expect_status_line(&r, 401));

    // Oversized bodies: announced, and streamed without a length.
    let big = format!(
        r#"{{"url":"https://good.test/{}","kind":"json"}}"#,
        "a".repeat(20_000)
    );
    let r = post_fetch(api.addr, Some(TOKEN_B), &big).await;
    results.record(
        c,
        "oversized-body-content-length",
        "api",
        status_code(&r, StatusCode::PAYLOAD_TOO_LARGE, "request_too_large"),
    );
    let mut chunked = format!(
        "POST /v1/fetch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN_B}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    for _ in 0..40 {
        chunked.push_str(&format!("400\r\n{}\r\n", "a".repeat(0x400)));
    }
    chunked.push_str("0\r\n\r\n");
    let r = raw_request(api.addr, &chunked).await;
    results.record(
        c,
        "oversized-body-chunked",
        "api",
        expect_status_line(&r, 413),
    );
    let r = raw_request(
        api.addr,
        "POST /v1/fetch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\nConnection: close\r\n\r\n",
    )
    .await;
    results.record(
        c,
        "oversized-body-unauthenticated",
        "api",
        expect_status_line(&r, 401),
    );
    let nested = format!(
        r#"{{"url":{}"x"{},"kind":"json"}}"#,
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    let r = post_fetch(api.addr, Some(TOKEN_B), &nested).await;
    results.record(
        c,
        "request-nesting-bomb",
        "api",
        status_code(&r, StatusCode::BAD_REQUEST, "invalid_request"),
    );
    let dup =
        r#"{"url":"https://good.test/doc.json","url":"https://169.254.169.254/","kind":"json"}"#;
    let r = post_fetch(api.addr, Some(TOKEN_B), dup).await;
    results.record(
        c,
        "request-duplicate-keys",
        "api",
        status_code(&r, StatusCode::BAD_REQUEST, "invalid_request"),
    );
    let r = raw_request(
        api.addr,
        &format!("POST /v1/fetch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN_B}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{good}", good.len()),
    )
    .await;
    results.record(
        c,
        "wrong-request-content-type",
        "api",
        expect_status_line(&r, 415),
    );

    // Slowloris: headers one byte at a time, an idle connection, and a body that trickles;
    // meanwhile another caller is served promptly.
    let slow_head = tokio::spawn(slowloris(
        api.addr,
        b"POST /v1/fetch HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n".to_vec(),
        Duration::from_millis(100),
    ));
    let idle = tokio::spawn(slowloris(api.addr, Vec::new(), Duration::from_millis(100)));
    let one_byte = tokio::spawn(slowloris(
        api.addr,
        b"P".to_vec(),
        Duration::from_millis(100),
    ));
    let keepalive = tokio::spawn(slowloris(
        api.addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        Duration::ZERO,
    ));
    let body_head = format!(
        "POST /v1/fetch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN_B}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        good.len()
    );
    let mut slow_body_bytes = body_head.into_bytes();
    let head_len = slow_body_bytes.len();
    slow_body_bytes.extend_from_slice(good.as_bytes());
    let slow_body = tokio::spawn(slow_body(api.addr, slow_body_bytes, head_len));
    let many_idle: Vec<_> = (0..50)
        .map(|_| tokio::spawn(slowloris(api.addr, Vec::new(), Duration::from_millis(100))))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut served = Ok(());
    for _ in 0..3 {
        let started = Instant::now();
        let r = post_fetch(api.addr, Some(TOKEN_B), &blocked).await;
        if r.status != StatusCode::OK || started.elapsed() > Duration::from_millis(1_000) {
            served = Err(format!(
                "other caller got {} after {:?}",
                r.status,
                started.elapsed()
            ));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    results.record(c, "other-caller-served-during-slowloris", "api", served);
    let bound = Duration::from_secs(8);
    let (closed, took, _) = slow_head.await.unwrap();
    results.record(
        c,
        "slowloris-headers",
        "api",
        slow_verdict(closed, took, bound),
    );
    let (closed, took, _) = idle.await.unwrap();
    results.record(
        c,
        "slowloris-idle-connection",
        "api",
        slow_verdict(closed, took, bound),
    );
    let (closed, took, _) = one_byte.await.unwrap();
    results.record(
        c,
        "slowloris-one-byte-then-silence",
        "api",
        slow_verdict(closed, took, bound),
    );
    let (closed, took, reply) = keepalive.await.unwrap();
    results.record(
        c,
        "slowloris-idle-keep-alive",
        "api",
        slow_verdict(closed, took, Duration::from_secs(12)).and_then(|()| {
            reply
                .starts_with("HTTP/1.1 200")
                .then_some(())
                .ok_or(format!("want 200 first, got {reply:?}"))
        }),
    );
    let (closed, took, reply) = slow_body.await.unwrap();
    results.record(
        c,
        "slowloris-body",
        "api",
        slow_verdict(closed, took, Duration::from_secs(3)).and_then(|()| {
            reply
                .starts_with("HTTP/1.1 408")
                .then_some(())
                .ok_or(format!("want 408, got {reply:?}"))
        }),
    );
    let mut all_closed = Ok(());
    for h in many_idle {
        let (closed, took, _) = h.await.unwrap();
        if let Err(e) = slow_verdict(closed, took, bound) {
            all_closed = Err(e);
        }
    }
    results.record(c, "fifty-idle-connections-reclaimed", "api", all_closed);

    // Flood from one caller: 429 with Retry-After, while another caller is still served.
    let flood: Vec<_> = (0..40)
        .map(|_| {
            let body = blocked.clone();
            let addr = tight.addr;
            tokio::spawn(async move { post_fetch(addr, Some(TOKEN_FLOOD), &body).await })
        })
        .collect();
    let other = post_fetch(tight.addr, Some(TOKEN_A), &blocked).await;
    let mut limited = 0;
    let mut ok = 0;
    let mut bad_retry = 0;
    for h in flood {
        let r = h.await.unwrap();
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
            if r.json()["error"] != "rate_limited_caller" || r.headers.get("retry-after").is_none()
            {
                bad_retry += 1;
            }
        } else if r.status == StatusCode::OK {
            ok += 1;
        }
    }
    results.record(
        c,
        "request-flood-rate-limited",
        "api",
        (limited >= 30 && ok <= 6 && bad_retry == 0)
            .then_some(())
            .ok_or(format!(
                "{ok} served, {limited} limited ({bad_retry} without code/Retry-After)"
            )),
    );
    results.record(
        c,
        "other-caller-served-during-flood",
        "api",
        (other.status == StatusCode::OK)
            .then_some(())
            .ok_or(format!("other caller got {}", other.status)),
    );
}

pub(crate) fn slow_verdict(closed: bool, took: Duration, bound: Duration) -> Result<(), String> {
    if closed && took <= bound {
        Ok(())
    } else {
        Err(format!("closed={closed} after {took:?} (bound {bound:?})"))
    }
}

pub(crate) fn expect_status_line(reply: &str, status: u16) -> Result<(), String> {
    if reply.starts_with(&format!("HTTP/1.1 {status} ")) {
        Ok(())
    } else {
        Err(format!(
            "want {status}, got {:?}",
            reply.lines().next().unwrap_or_default()
        ))
    }
}

#[allow(clippy::disallowed_methods)] // connects only to the API under test on 127.0.0.1
pub(crate) async fn connect_api(addr: SocketAddr) -> tokio::net::TcpStream {
    assert!(addr.ip().is_loopback());
    tokio::net::TcpStream::connect(addr).await.unwrap()
}

/// Sends raw bytes and reads the reply until the server closes (at most 5 s).
pub(crate) async fn raw_request(addr: SocketAddr, request: &str) -> String {
    let mut stream = connect_api(addr).await;
    let _ = stream.write_all(request.as_bytes()).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes `bytes` one at a time every `delay` (never finishing the head when it is
/// incomplete), until the server closes. Returns (closed by server, time, reply).
pub(crate) async fn slowloris(
    addr: SocketAddr,
    bytes: Vec<u8>,
    delay: Duration,
) -> (bool, Duration, String) {
    let started = Instant::now();
    let stream = connect_api(addr).await;
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        for b in bytes {
            if wr.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(delay).await;
        }
        // Then nothing at all, forever (the reader decides).
        std::future::pending::<()>().await;
    });
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), rd.read_to_end(&mut out)).await;
    writer.abort();
    (
        read.is_ok(),
        started.elapsed(),
        String::from_utf8_lossy(&out).into_owned(),
    )
}

/// Sends the head at once, then the body one byte every 300 ms.
pub(crate) async fn slow_body(
    addr: SocketAddr,
    bytes: Vec<u8>,
    head_len: usize,
) -> (bool, Duration, String) {
    let stream = connect_api(addr).await;
    let (mut rd, mut wr) = stream.into_split();
    let started = Instant::now();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&bytes[..head_len]).await;
        for b in &bytes[head_len..] {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if wr.write_all(&[*b]).await.is_err() {
                return;
            }
        }
        std::future::pending::<()>().await;
    });
    let mut out = Vec::new();
    // The server answers 408 and may keep the connection; read the first reply.
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buf = [0u8; 4096];
        loop {
            match rd.read(&mut buf).await {
                Ok(n) if n > 0 => {
                    out.extend_from_slice(&buf[..n]);
                    if out.windows(4).any(|w| w == b"\r\n\r\n") {
                        return;
                    }
                }
                _ => return,
            }
        }
    })
    .await;
    writer.abort();
    (
        read.is_ok(),
        started.elapsed(),
        String::from_utf8_lossy(&out).into_owned(),
    )
}
