//! The CONNECT proxy driver: the same cases through `crate::proxy`.

use super::*;

/// The CONNECT proxy (issue 17) over the same fetcher: policy alone, no connection guard.
pub(crate) async fn start_proxy(lab: &SealedLab) -> Api {
    let config = portcullis::config::ProxyConfig {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        per_caller_per_s: 10_000,
        per_caller_burst: 10_000,
        per_target_host_per_s: 10_000,
        per_target_host_burst: 10_000,
        ..Default::default()
    };
    let callers = portcullis::server::auth::Callers::from_config(&[CallerConfig {
        name: "caller-a".into(),
        token_sha256: portcullis::config::TokenHash::of_token(TOKEN_A),
    }]);
    let telemetry = Arc::new(portcullis::telemetry::Telemetry::new(None, "sealed").unwrap());
    let listener = portcullis::proxy::bind(&config, false)
        .await
        .unwrap()
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let proxy =
        portcullis::proxy::Proxy::new(lab.fetcher.clone(), callers, config, telemetry).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(portcullis::proxy::serve(
        Arc::new(proxy),
        listener,
        async move {
            let _ = rx.await;
        },
    ));
    Api {
        addr,
        _shutdown: tx,
    }
}

/// The CONNECT target (`host:port`) a proxy client would send for an https URL, when the
/// URL's authority can be a request-target at all.
pub(crate) fn connect_target(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..end)?;
    let odd = |b: u8| b <= b' ' || b >= 0x7f || b == b'%' || b == b'\\' || b == b'@';
    if authority.is_empty() || authority.bytes().any(odd) {
        return None;
    }
    let has_port = match authority.rfind(']') {
        Some(i) => authority.get(i + 1..).is_some_and(|t| t.starts_with(':')),
        None => authority.contains(':'),
    };
    let target = if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:443")
    };
    target.parse::<http::uri::Authority>().ok().map(|_| target)
}

/// One CONNECT; returns (status, problem codes of the refusal body).
pub(crate) async fn proxy_connect(
    proxy: SocketAddr,
    target: &str,
) -> Result<(u16, Vec<String>), String> {
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("caller-a:{TOKEN_A}"));
    let mut stream = connect_api(proxy).await;
    let head = format!(
        "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
    );
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let status: u16 = text
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or(format!("no status: {text:?}"))?;
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            if status == 200 || buf.len() >= end + 4 + length {
                let body: serde_json::Value =
                    serde_json::from_slice(&buf[end + 4..]).unwrap_or_default();
                let codes = sorted_codes(
                    body["problems"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|p| p["code"].as_str()),
                );
                return Ok((status, codes));
            }
        }
        let n = tokio::time::timeout_at(deadline.into(), stream.read(&mut chunk))
            .await
            .map_err(|_| format!("no complete answer: {text:?}"))?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!("proxy closed: {text:?}"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The proxy must tunnel what the fetcher fetches and refuse what it blocks, with the same
/// codes. `None` for cases a CONNECT cannot express (paths, userinfo, non-ASCII hosts, TLS
/// and HTTP behaviour of the origin).
pub(crate) async fn proxy_case(proxy: SocketAddr, c: &FetchCase) -> Option<Result<(), String>> {
    if !matches!(c.cat, Category::AddressSpellings | Category::Dns) {
        return None;
    }
    let (status, codes): (u16, &[&str]) = match c.want {
        Want::Fetched => (200, &[]),
        Want::Blocked(codes) => (403, codes),
        Want::Unreachable(codes) if codes.iter().all(|c| c.starts_with("dns_")) => {
            let status = if codes.contains(&"dns_timeout") {
                504
            } else {
                502
            };
            (status, codes)
        }
        _ => return None,
    };
    let target = connect_target(&c.url)?;
    Some(match proxy_connect(proxy, &target).await {
        Ok((got_status, got)) if got_status == status && got == want_codes(codes) => Ok(()),
        Ok((got_status, got)) => Err(format!(
            "CONNECT {target}: want {status} {:?}, got {got_status} {got:?}",
            want_codes(codes)
        )),
        Err(e) => Err(format!("CONNECT {target}: {e}")),
    })
}

/// Rebinding through the proxy: each CONNECT resolves once and is pinned to its own checked
/// answer, so the second (metadata) answer is refused and never connected.
pub(crate) async fn proxy_rebinding_case(
    lab: &SealedLab,
    proxy: SocketAddr,
    results: &mut Results,
) {
    lab.dns.set(
        "rebind.test",
        DnsBehavior::Rebind {
            first: vec![PUBLIC],
            first_queries: 2,
            then: vec!["169.254.169.254".parse().unwrap()],
        },
    );
    let first = proxy_connect(proxy, "rebind.test:443").await;
    let second = proxy_connect(proxy, "rebind.test:443").await;
    let r = match (first, second) {
        (Ok((200, _)), Ok((403, codes))) if codes == want_codes(&["cloud_metadata"]) => Ok(()),
        other => Err(format!("want 200 then 403 cloud_metadata, got {other:?}")),
    };
    results.record(Category::Dns, "rebinding-ttl0-pinned", "proxy", r);
}
