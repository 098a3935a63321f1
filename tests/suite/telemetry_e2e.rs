//! Observability end to end: the audit log explains a success, a block and a timeout without
//! leaking tokens or bodies; `/metrics` counts real traffic with bounded labels; and the
//! metric table in `docs/operations.md`, the alert rules and the dashboard agree with what
//! `/metrics` exports.
//!
//! Set `PORTCULLIS_METRICS_DUMP=<file>` to keep the scraped exposition for
//! `promtool check metrics` (see `scripts/check-observability.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;
use std::collections::{BTreeMap, BTreeSet};

use crate::common::api::{get, post_fetch};
use crate::common::{DNS_IP, Lab, ORIGIN_IP, SharedBuf};
use http::StatusCode;
use portcullis::config::CallerConfig;
use portcullis::server::auth::token_sha256_hex;
use portcullis::telemetry::{AuditSink, Telemetry};
use portcullis::testing::dns::DnsBehavior;
use portcullis::testing::origin::Route;
use serde_json::Value;

const TOKEN: &str = "telemetry-test-token-9d1e6b";
/// A document whose text must never reach the audit log or the metrics.
const DOC: &str = r#"{"note":"document-body-marker-51c0ffee","n":1}"#;
const BODY_MARKER: &str = "document-body-marker-51c0ffee";

fn callers() -> Vec<CallerConfig> {
    common::caller_with_token(TOKEN)
}

fn body(url: &str, kind: &str) -> String {
    common::fetch_body(url, kind)
}

fn sink(buf: &SharedBuf) -> Option<AuditSink> {
    Some(buf.sink())
}

fn codes(record: &Value) -> Vec<&str> {
    record["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect()
}

fn assert_common_fields(record: &Value, jti: &Value, url: &str) {
    assert_eq!(record["event"], "fetch");
    assert_eq!(&record["jti"], jti, "audit joins the verdict by jti");
    assert_eq!(record["request_id"].as_str().map(str::len), Some(22));
    assert_eq!(record["caller"], "as-1");
    assert_eq!(record["url"], url);
    assert_eq!(record["kind"], "json");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let t = record["time_unix_ms"].as_u64().unwrap();
    assert!(t <= now_ms && now_ms - t < 60_000, "{t} vs {now_ms}");
    for phase in ["resolve", "connect", "tls", "first_byte", "body", "total"] {
        assert!(
            record["duration_ms"][phase].as_f64().is_some(),
            "duration_ms.{phase} in {record}"
        );
    }
    assert!(record["cache_hit"].is_boolean());
}

#[tokio::test]
async fn audit_lines_explain_a_success_a_block_and_a_timeout() {
    let lab = Lab::start().await;
    lab.origin.route("/doc.json", Route::json(DOC));
    lab.origin.route("/stall.json", Route::Stall);
    lab.dns
        .set("blocked.test", DnsBehavior::Addresses(vec![DNS_IP]));
    let buf = SharedBuf::default();
    let svc = lab
        .serve_with_audit(|c| c.server.callers = callers(), sink(&buf))
        .await;
    let port = lab.port();

    // 1. success
    let ok_url = lab.url("good.test", "/doc.json");
    let ok = post_fetch(svc.addr, Some(TOKEN), &body(&ok_url, "json")).await;
    assert_eq!(ok.status, StatusCode::OK);
    let ok = ok.json();
    assert_eq!(ok["claims"]["outcome"], "valid", "{ok}");
    // 2. the same again: a cache hit, its own request id
    let hit = post_fetch(svc.addr, Some(TOKEN), &body(&ok_url, "json"))
        .await
        .json();
    // 3. a block on the IP literal, refused before any packet
    let literal_url = "https://127.0.0.1/x";
    let literal = post_fetch(svc.addr, Some(TOKEN), &body(literal_url, "json"))
        .await
        .json();
    assert_eq!(literal["claims"]["outcome"], "blocked", "{literal}");
    // 4. a block after resolving: the name answers with a loopback address
    let dns_url = lab.url("blocked.test", "/x");
    let resolved = post_fetch(svc.addr, Some(TOKEN), &body(&dns_url, "json"))
        .await
        .json();
    assert_eq!(resolved["claims"]["outcome"], "blocked", "{resolved}");
    // 5. a timeout: the origin never answers
    let stall_url = lab.url("good.test", "/stall.json");
    let stall = post_fetch(svc.addr, Some(TOKEN), &body(&stall_url, "json"))
        .await
        .json();
    assert_eq!(stall["claims"]["outcome"], "unreachable", "{stall}");

    let text = buf.text();
    assert!(!text.contains(TOKEN), "token in audit log: {text}");
    assert!(
        !text.contains(&token_sha256_hex(TOKEN)),
        "token hash in audit log"
    );
    assert!(!text.contains(BODY_MARKER), "body in audit log: {text}");
    let records = buf.records();
    assert_eq!(records.len(), 5, "one line per answered request: {text}");
    let ids: BTreeSet<&str> = records
        .iter()
        .map(|r| r["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 5, "request ids are unique");
    let origin = format!("{ORIGIN_IP}:{port}");

    // success
    let r = &records[0];
    assert_common_fields(r, &ok["claims"]["jti"], &ok_url);
    assert_eq!(r["outcome"], "valid");
    assert!(codes(r).is_empty(), "{r}");
    assert_eq!(r["host"], "good.test");
    assert_eq!(r["address"], origin.as_str());
    assert_eq!(r["status"], 200);
    assert_eq!(r["bytes"], DOC.len() as u64);
    assert_eq!(r["content_type"], "application/json");
    assert_eq!(r["sha256"], ok["claims"]["sha256"]);
    assert!(r["sha256"].as_str().is_some_and(|s| s.len() == 43));
    assert_eq!(r["cache_hit"], false);
    let hops = r["hops"].as_array().unwrap();
    assert_eq!(hops.len(), 1, "{r}");
    assert_eq!(hops[0]["url"], ok_url.as_str());
    assert_eq!(hops[0]["addresses"][0]["ip"], ORIGIN_IP.to_string());
    assert_eq!(hops[0]["addresses"][0]["decision"], "allow");
    assert_eq!(hops[0]["connected"], origin.as_str());
    assert_eq!(hops[0]["status"], 200);
    assert_eq!(r["redirects"].as_array().unwrap().len(), 0);
    assert!(r["duration_ms"]["total"].as_f64().unwrap() > 0.0);
    assert!(r["duration_ms"]["tls"].as_f64().unwrap() > 0.0);

    // cache hit
    let r = &records[1];
    assert_common_fields(r, &hit["claims"]["jti"], &ok_url);
    assert_eq!(r["cache_hit"], true);
    assert_eq!(r["outcome"], "valid");
    assert_eq!(r["sha256"], records[0]["sha256"]);

    // block on the literal: the problem names the range; nothing was resolved or sent
    let r = &records[2];
    assert_common_fields(r, &literal["claims"]["jti"], literal_url);
    assert_eq!(r["outcome"], "blocked");
    assert_eq!(codes(r).first(), Some(&"loopback"), "{r}");
    assert_eq!(r["host"], "127.0.0.1");
    assert!(r["address"].is_null() && r["status"].is_null(), "{r}");
    assert!(r["sha256"].is_null());
    assert_eq!(r["bytes"], 0);
    assert_eq!(r["cache_hit"], false);

    // block after DNS: every answer with its decision, no connection
    let r = &records[3];
    assert_common_fields(r, &resolved["claims"]["jti"], &dns_url);
    assert_eq!(r["outcome"], "blocked");
    assert!(codes(r).contains(&"loopback"), "{r}");
    assert_eq!(r["host"], "blocked.test");
    let addresses = r["hops"][0]["addresses"].as_array().unwrap();
    assert_eq!(addresses.len(), 1, "{r}");
    assert_eq!(addresses[0]["ip"], DNS_IP.to_string());
    assert_eq!(addresses[0]["decision"], "block");
    assert_eq!(addresses[0]["code"], "loopback");
    assert!(r["hops"][0].get("connected").is_none(), "{r}");
    assert!(r["address"].is_null());
    assert!(r["sha256"].is_null());

    // timeout: connected, then no first byte in time
    let r = &records[4];
    assert_common_fields(r, &stall["claims"]["jti"], &stall_url);
    assert_eq!(r["outcome"], "unreachable");
    assert!(codes(r).contains(&"first_byte_timeout"), "{r}");
    assert_eq!(r["hops"][0]["addresses"][0]["decision"], "allow");
    assert_eq!(r["address"], origin.as_str());
    assert!(r["status"].is_null(), "{r}");
    assert!(r["sha256"].is_null());
    let first_byte = r["duration_ms"]["first_byte"].as_f64().unwrap();
    assert!(
        first_byte >= 900.0,
        "waited for the first byte timeout: {r}"
    );
    assert!(r["duration_ms"]["total"].as_f64().unwrap() >= first_byte);
}

/// `name{labels}` → value, for every sample line.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no series {series}"))
}

#[tokio::test]
async fn metrics_count_real_traffic_with_bounded_labels() {
    let lab = Lab::start().await;
    lab.origin.route("/doc.json", Route::json(DOC));
    lab.origin.route(
        "/moved",
        Route::response(302, "text/plain", &[("Location", "/doc2.json")], ""),
    );
    lab.origin.route("/doc2.json", Route::json(DOC));
    lab.origin.route("/stall.json", Route::Stall);
    let buf = SharedBuf::default();
    let svc = lab
        .serve_with_audit(|c| c.server.callers = callers(), sink(&buf))
        .await;
    let fetch = |url: String| {
        let addr = svc.addr;
        async move {
            post_fetch(addr, Some(TOKEN), &body(&url, "json"))
                .await
                .json()
        }
    };
    let ok_url = lab.url("good.test", "/doc.json");
    assert_eq!(fetch(ok_url.clone()).await["claims"]["outcome"], "valid");
    assert_eq!(fetch(ok_url).await["claims"]["outcome"], "valid");
    let moved = fetch(lab.url("good.test", "/moved")).await;
    assert_eq!(moved["claims"]["outcome"], "valid", "{moved}");
    let blocked = fetch("https://127.0.0.1/x".into()).await;
    assert_eq!(blocked["claims"]["outcome"], "blocked");
    let stall = fetch(lab.url("good.test", "/stall.json")).await;
    assert_eq!(stall["claims"]["outcome"], "unreachable");

    let reply = get(svc.addr, "/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = String::from_utf8(reply.body.to_vec()).unwrap();
    if let Some(path) = std::env::var_os("PORTCULLIS_METRICS_DUMP") {
        std::fs::write(&path, &text).unwrap();
    }
    let s = samples(&text);

    let fetches = |outcome: &str| {
        value(
            &s,
            &format!(r#"portcullis_fetches_total{{kind="json",outcome="{outcome}"}}"#),
        )
    };
    assert_eq!(fetches("valid"), 2.0, "a cache hit is not a judgement");
    assert_eq!(fetches("blocked"), 1.0);
    assert_eq!(fetches("unreachable"), 1.0);
    assert_eq!(fetches("invalid"), 0.0);
    assert_eq!(
        value(
            &s,
            r#"portcullis_fetches_total{kind="jwks",outcome="valid"}"#
        ),
        0.0,
        "pre-registered"
    );
    assert_eq!(
        value(&s, r#"portcullis_blocked_total{reason="loopback"}"#),
        1.0
    );
    assert_eq!(
        value(&s, r#"portcullis_problems_total{code="loopback"}"#),
        1.0
    );
    assert_eq!(
        value(
            &s,
            r#"portcullis_problems_total{code="first_byte_timeout"}"#
        ),
        1.0
    );
    assert_eq!(
        value(&s, r#"portcullis_problems_total{code="body_too_large"}"#),
        0.0,
        "pre-registered"
    );
    assert_eq!(value(&s, "portcullis_cache_hits_total"), 1.0);
    assert_eq!(value(&s, "portcullis_cache_misses_total"), 4.0);
    assert!(value(&s, "portcullis_cache_entries") >= 2.0);
    assert!(value(&s, "portcullis_cache_size_bytes") > 0.0);
    assert_eq!(value(&s, "portcullis_cache_evictions_total"), 0.0);
    assert_eq!(value(&s, "portcullis_redirects_followed_total"), 1.0);
    assert_eq!(value(&s, "portcullis_single_flight_joins_total"), 0.0);
    // Every answer is signed afresh, the cache hit included: 5 signatures.
    assert_eq!(value(&s, "portcullis_verdicts_signed_total"), 5.0);
    assert_eq!(value(&s, "portcullis_audit_records_total"), 5.0);
    assert_eq!(value(&s, "portcullis_audit_write_failures_total"), 0.0);
    assert_eq!(value(&s, "portcullis_fetches_in_flight"), 0.0);
    assert_eq!(value(&s, "portcullis_requests_queued"), 0.0);
    for scope in ["caller", "target_host", "global"] {
        assert_eq!(
            value(
                &s,
                &format!(r#"portcullis_rate_limited_total{{scope="{scope}"}}"#)
            ),
            0.0
        );
    }
    // Three upstream fetches (doc, redirect, stall); the literal block never fetched.
    assert_eq!(
        value(
            &s,
            r#"portcullis_fetch_duration_seconds_count{phase="total"}"#
        ),
        3.0
    );
    assert_eq!(
        value(
            &s,
            r#"portcullis_fetch_duration_seconds_count{phase="first_byte"}"#
        ),
        3.0
    );
    assert!(
        value(
            &s,
            r#"portcullis_fetch_duration_seconds_bucket{phase="first_byte",le="0.5"}"#
        ) <= 2.0,
        "the stalled fetch waited about a second"
    );
    assert!(
        value(
            &s,
            r#"portcullis_fetch_duration_seconds_sum{phase="total"}"#
        ) >= 0.9
    );
    assert_eq!(value(&s, "portcullis_response_bytes_count"), 2.0);
    assert_eq!(
        value(&s, "portcullis_response_bytes_sum"),
        2.0 * DOC.len() as f64
    );
    let created = value(&s, "portcullis_signing_key_created_timestamp_seconds");
    assert!(created > 1.6e9, "{created}");
    let age = value(&s, "portcullis_signing_key_age_seconds");
    assert!((0.0..60.0).contains(&age), "ephemeral key is new: {age}");
    assert_eq!(
        value(
            &s,
            &format!(
                r#"portcullis_build_info{{commit="{}",version="{}"}}"#,
                portcullis::assemble::BUILD_COMMIT,
                env!("CARGO_PKG_VERSION")
            )
        ),
        1.0
    );

    // Bounded labels: no host, address, URL path, caller or token anywhere.
    for leak in [
        "good.test",
        "127.0.0.1",
        "127.0.0.2",
        "/doc.json",
        "as-1",
        TOKEN,
        BODY_MARKER,
    ] {
        assert!(!text.contains(leak), "{leak:?} in /metrics");
    }
}

/// Metric name → (type, label names) from a text exposition.
fn exported(text: &str) -> BTreeMap<String, (String, BTreeSet<String>)> {
    let mut out: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            out.insert(name.to_owned(), (kind.to_owned(), BTreeSet::new()));
        }
    }
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, labels)) = line.split_once('{') else {
            continue;
        };
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|b| out.get(*b).is_some_and(|(k, _)| k == "histogram"))
            })
            .unwrap_or(name);
        let labels = labels.split_once('}').unwrap().0;
        for pair in labels.split(',').filter(|p| !p.is_empty()) {
            let label = pair.split_once('=').unwrap().0;
            if label != "le" {
                out.get_mut(base)
                    .unwrap_or_else(|| panic!("{base} has no TYPE"))
                    .1
                    .insert(label.to_owned());
            }
        }
    }
    out
}

/// Metric name → (type, label names) from the table in `docs/operations.md`.
fn documented() -> BTreeMap<String, (String, BTreeSet<String>)> {
    let doc = include_str!("../../docs/operations.md");
    let mut out = BTreeMap::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // ["", "`name`", "type", "labels", "meaning", ""]
        if cells.len() < 5 || !cells[1].starts_with("`portcullis_") {
            continue;
        }
        let name = cells[1].trim_matches('`').to_owned();
        let labels = cells[3]
            .split(',')
            .map(|l| l.trim().trim_matches('`'))
            .filter(|l| !l.is_empty() && *l != "—")
            .map(str::to_owned)
            .collect();
        let previous = out.insert(name.clone(), (cells[2].to_owned(), labels));
        assert!(previous.is_none(), "{name} documented twice");
    }
    out
}

#[test]
fn operations_doc_lists_exactly_the_exported_metrics() {
    let telemetry = Telemetry::new(None, "test").unwrap();
    // `/metrics` also carries the reload metrics, which outlive each swapped service.
    let config = portcullis::server::reload::ConfigMetrics::new().unwrap();
    config.set_hash("test");
    portcullis::proxy::observe::ProxyMetrics::register(telemetry.registry()).unwrap();
    let exported = exported(&(telemetry.render() + &config.render()));
    let documented = documented();
    assert!(documented.len() >= 20, "table parsed: {documented:?}");
    let missing: Vec<_> = exported
        .keys()
        .filter(|k| !documented.contains_key(*k))
        .collect();
    let stale: Vec<_> = documented
        .keys()
        .filter(|k| !exported.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "undocumented: {missing:?}; documented but not exported: {stale:?}"
    );
    for (name, (kind, labels)) in &exported {
        assert_eq!(
            &documented[name],
            &(kind.clone(), labels.clone()),
            "type and labels of {name}"
        );
    }
}

/// Every `portcullis_*` metric referenced by the alert rules, their tests and the dashboard
/// is exported (so a rename cannot silently break an alert or a panel).
#[test]
fn alerts_and_dashboard_reference_only_exported_metrics() {
    let telemetry = Telemetry::new(None, "test").unwrap();
    let config = portcullis::server::reload::ConfigMetrics::new().unwrap();
    config.set_hash("test");
    portcullis::proxy::observe::ProxyMetrics::register(telemetry.registry()).unwrap();
    let mut exported = exported(&(telemetry.render() + &config.render()));
    // Fleet mode's series (`[fleet]`, issue 16) are exported by fleet replicas only.
    let fleet = portcullis::fleet::metrics::FleetMetrics::new().unwrap();
    exported.extend(self::exported(&fleet.render()));
    let files = [
        (
            "alerts.yml",
            include_str!("../../deploy/prometheus/alerts.yml"),
        ),
        (
            "alerts_test.yml",
            include_str!("../../deploy/prometheus/alerts_test.yml"),
        ),
        (
            "portcullis.json",
            include_str!("../../deploy/grafana/portcullis.json"),
        ),
    ];
    for (file, text) in files {
        let mut seen = 0;
        let mut rest = text;
        while let Some(at) = rest.find("portcullis_") {
            let tail = &rest[at..];
            let end = tail
                .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(tail.len());
            let name = &tail[..end];
            rest = &tail[end..];
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .filter(|b| exported.contains_key(*b))
                .unwrap_or(name);
            assert!(
                exported.contains_key(base),
                "{file} uses {name}, which /metrics does not export"
            );
            seen += 1;
        }
        assert!(seen > 0, "{file} references no metric");
    }
    let dashboard: Value =
        serde_json::from_str(include_str!("../../deploy/grafana/portcullis.json")).unwrap();
    assert!(dashboard["panels"].as_array().is_some_and(|p| p.len() >= 8));
}

fn exprs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("expr", Value::String(e)) => out.push(e.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

/// Every dashboard query, with Grafana's variables filled in, as a recording rule file.
/// Set `PORTCULLIS_DASHBOARD_RULES=<file>` to keep it for `promtool check rules`, which then
/// parses every query of the dashboard.
#[test]
fn dashboard_queries_become_a_checkable_rule_file() {
    let dashboard: Value =
        serde_json::from_str(include_str!("../../deploy/grafana/portcullis.json")).unwrap();
    let mut queries = Vec::new();
    exprs(&dashboard, &mut queries);
    assert!(queries.len() >= 20, "{queries:?}");
    let mut yaml = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, query) in queries.iter().enumerate() {
        let query = query
            .replace("$__rate_interval", "5m")
            .replace("$job", ".*")
            .replace("$instance", ".*");
        assert!(!query.contains('$'), "unknown variable in {query}");
        yaml.push_str(&format!(
            "      - record: dashboard:query_{i}\n        expr: {}\n",
            Value::String(query)
        ));
    }
    if let Some(path) = std::env::var_os("PORTCULLIS_DASHBOARD_RULES") {
        std::fs::write(&path, yaml).unwrap();
    }
}

#[tokio::test]
async fn refused_requests_leave_an_audit_line_too() {
    let lab = Lab::start().await;
    let buf = SharedBuf::default();
    let svc = lab
        .serve_with_audit(|c| c.server.callers = callers(), sink(&buf))
        .await;
    let url = lab.url("good.test", "/doc.json");
    let wrong = post_fetch(svc.addr, Some("not-the-token"), &body(&url, "json")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let bad = post_fetch(svc.addr, Some(TOKEN), r#"{"url": 1}"#).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let text = buf.text();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["event"], "refused");
    assert_eq!(lines[0]["status"], 401);
    assert_eq!(lines[0]["error"], "invalid_token");
    assert_eq!(lines[0]["caller"], Value::Null);
    assert_eq!(lines[1]["status"], 400);
    assert_eq!(lines[1]["error"], "invalid_request");
    assert_eq!(lines[1]["caller"], "as-1");
    assert!(
        !text.contains("not-the-token") && !text.contains(TOKEN),
        "no tokens in audit"
    );
}
