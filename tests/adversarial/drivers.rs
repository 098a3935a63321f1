//! Drivers: the same case through the fetcher, the CLI (`explain`) and the HTTP API.

use super::*;

pub(crate) async fn run_fetch_case(lab: &SealedLab, c: &FetchCase) -> Result<(), String> {
    if let Want::Invalid(codes) = c.want {
        let started = Instant::now();
        let judgement = judge::judge(
            &lab.fetcher,
            &lab.config,
            &JudgeRequest {
                kind: Kind::Json,
                url: c.url.clone(),
                expect: Expect::default(),
            },
        )
        .await;
        let got = sorted_codes(judgement.problems.iter().map(|p| p.code.as_str()));
        if judgement.outcome != Outcome::Invalid || got != want_codes(codes) {
            return Err(format!(
                "want invalid {:?}, got {:?} {got:?}",
                want_codes(codes),
                judgement.outcome
            ));
        }
        if started.elapsed() > CASE_BOUND {
            return Err(format!("took {:?}", started.elapsed()));
        }
        return Ok(());
    }
    let (report, elapsed) = lab.fetch(&c.url, c.max_body, c.follow).await;
    check_report(c.want, &report, elapsed)?;
    if c.name == "content-length-shorter-than-body" && report.body.as_deref() != Some(b"{}") {
        return Err(format!("read beyond Content-Length: {:?}", report.body));
    }
    if c.name.ends_with("-bomb") && c.cat == Category::HostileOrigins && report.facts.bytes != 0 {
        return Err(format!("read {} body bytes of a bomb", report.facts.bytes));
    }
    Ok(())
}

pub(crate) async fn run_cli(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(&args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

/// `portcullis explain --json` must agree with the fetcher: same decision, same codes.
pub(crate) async fn explain_case(config: &Path, c: &FetchCase) -> Result<(), String> {
    let (code, out, err) = run_cli(vec![
        "explain".into(),
        c.url.clone(),
        "--resolve".into(),
        "--config".into(),
        config.display().to_string(),
        "--json".into(),
    ])
    .await;
    let v: serde_json::Value =
        serde_json::from_str(out.trim()).map_err(|e| format!("exit {code}: {e}: {out}{err}"))?;
    let got = sorted_codes(
        v["problems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["code"].as_str()),
    );
    match c.want {
        Want::Fetched => {
            if code != 0 || v["decision"] != "allow" {
                return Err(format!("want allow, got exit {code} {v}"));
            }
        }
        Want::Blocked(codes) | Want::Unreachable(codes) => {
            let mut want = want_codes(codes);
            // explain reports a name's blocked answers; `mixed_resolution` is the fetcher's.
            if got.iter().all(|g| g != "mixed_resolution") {
                want.retain(|w| w != "mixed_resolution");
            }
            // What the rules decide (`decision`) is apart from what DNS said: a name that
            // does not resolve is `unreachable` (check's label), not a block.
            let (decision, outcome) = match c.want {
                Want::Blocked(_) => ("block", "blocked"),
                _ => ("allow", "unreachable"),
            };
            if code != 1 || v["decision"] != decision || v["outcome"] != outcome || got != want {
                return Err(format!(
                    "want {outcome} {want:?}, got exit {code} {} {} {got:?}",
                    v["decision"], v["outcome"]
                ));
            }
        }
        Want::Invalid(_) => {}
    }
    Ok(())
}

/// The API must give the same outcome and codes as the fetcher, in a verdict.
pub(crate) async fn api_case(api: SocketAddr, c: &FetchCase) -> Result<(), String> {
    let body = serde_json::json!({"url": c.url, "kind": "json"}).to_string();
    let reply = post_fetch(api, Some(TOKEN_A), &body).await;
    if reply.status != StatusCode::OK {
        return Err(format!("status {} {:?}", reply.status, reply.json()));
    }
    let v = reply.json();
    let claims = &v["claims"];
    let got = sorted_codes(
        claims["problems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["severity"] != "warning")
            .filter_map(|p| p["code"].as_str()),
    );
    let (outcome, codes): (&str, &[&str]) = match c.want {
        Want::Fetched => ("valid", &[]),
        Want::Blocked(codes) => ("blocked", codes),
        Want::Unreachable(codes) => ("unreachable", codes),
        Want::Invalid(codes) => ("invalid", codes),
    };
    if claims["outcome"] != outcome || got != want_codes(codes) {
        return Err(format!(
            "want {outcome} {:?}, got {} {got:?}",
            want_codes(codes),
            claims["outcome"]
        ));
    }
    let address = &claims["fetch"]["address"];
    let public = format!("{PUBLIC}:");
    if outcome == "blocked"
        && !address.is_null()
        && !address.as_str().is_some_and(|a| a.starts_with(&public))
    {
        return Err(format!("blocked verdict names an address: {claims}"));
    }
    Ok(())
}

pub(crate) struct Api {
    pub(crate) addr: SocketAddr,
    pub(crate) _shutdown: tokio::sync::oneshot::Sender<()>,
}

pub(crate) async fn start_api(lab: &SealedLab, tweak: impl FnOnce(&mut Config)) -> Api {
    let mut config = lab.config.clone();
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.server.callers = [
        ("caller-a", TOKEN_A),
        ("caller-b", TOKEN_B),
        ("flooder", TOKEN_FLOOD),
    ]
    .iter()
    .map(|(name, token)| CallerConfig {
        name: (*name).into(),
        token_sha256: portcullis::config::TokenHash::of_token(token),
    })
    .collect();
    tweak(&mut config);
    let listeners = portcullis::server::Listeners::bind(&config.server)
        .await
        .unwrap();
    let addr = listeners.tcp_addr().unwrap();
    let server_config = config.server.clone();
    let service = assemble::build_service(config, lab.fetcher.clone(), None).unwrap();
    let app = Arc::new(portcullis::server::App::new(service, server_config));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(portcullis::server::serve(app, listeners, async move {
        let _ = rx.await;
    }));
    Api {
        addr,
        _shutdown: tx,
    }
}
