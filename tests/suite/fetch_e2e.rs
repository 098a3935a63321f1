//! End-to-end fetch tests against a real DNS responder and TLS origin on loopback.
//! Every blocked address used here is itself a loopback address, so even a policy
//! regression could not send a packet off this machine.

use crate::common;
use std::net::IpAddr;
use std::time::Duration;

use crate::common::{Lab, ORIGIN_IP, codes};
use portcullis::fetch::FetchStatus;
use portcullis::testing::dns::DnsBehavior;
use portcullis::testing::origin::Route;

const DOC: &str = r#"{"hello":"world"}"#;

fn loopback1() -> IpAddr {
    "127.0.0.1".parse().unwrap()
}

#[tokio::test]
async fn fetches_a_json_document_from_the_pinned_address() {
    let lab = Lab::start().await;
    lab.origin.route("/doc.json", Route::json(DOC));
    let report = lab.fetch(&lab.url("good.test", "/doc.json")).await;
    assert_eq!(report.status, FetchStatus::Fetched, "{:?}", report.problems);
    assert_eq!(report.body.as_deref(), Some(DOC.as_bytes()));
    assert_eq!(
        report.facts.address,
        Some(format!("127.0.0.2:{}", lab.port()))
    );
    assert_eq!(report.facts.status, Some(200));
    assert_eq!(report.facts.bytes, DOC.len() as u64);
    assert_eq!(
        report.facts.content_type.as_deref(),
        Some("application/json")
    );
    let hits = lab.origin.hits();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].host, format!("good.test:{}", lab.port()));
}

#[tokio::test]
async fn chunked_body_is_read() {
    let lab = Lab::start().await;
    lab.origin.route("/c", Route::chunked_json(DOC));
    let report = lab.fetch(&lab.url("good.test", "/c")).await;
    assert_eq!(report.status, FetchStatus::Fetched, "{:?}", report.problems);
    assert_eq!(report.body.as_deref(), Some(DOC.as_bytes()));
}

#[tokio::test]
async fn name_resolving_to_loopback_is_blocked_before_connecting() {
    let lab = Lab::start().await;
    lab.dns
        .set("evil.test", DnsBehavior::Addresses(vec![loopback1()]));
    let report = lab.fetch(&lab.url("evil.test", "/")).await;
    assert_eq!(report.status, FetchStatus::Blocked);
    assert!(codes(&report).contains(&"loopback"), "{:?}", codes(&report));
    assert_eq!(report.facts.address, None);
    assert_eq!(lab.origin.connections(), 0);
}

#[tokio::test]
async fn ipv6_loopback_answer_is_blocked() {
    let lab = Lab::start().await;
    lab.dns.set(
        "v6evil.test",
        DnsBehavior::Addresses(vec!["::1".parse().unwrap()]),
    );
    let report = lab.fetch(&lab.url("v6evil.test", "/")).await;
    assert_eq!(report.status, FetchStatus::Blocked);
    assert!(codes(&report).contains(&"loopback"), "{:?}", codes(&report));
}

#[tokio::test]
async fn mixed_answers_block_the_name() {
    let lab = Lab::start().await;
    lab.dns.set(
        "mixed.test",
        DnsBehavior::Addresses(vec![ORIGIN_IP, loopback1()]),
    );
    let report = lab.fetch(&lab.url("mixed.test", "/")).await;
    assert_eq!(report.status, FetchStatus::Blocked);
    assert!(
        codes(&report).contains(&"mixed_resolution"),
        "{:?}",
        codes(&report)
    );
    assert_eq!(lab.origin.connections(), 0);
    let hop = &report.hops[0];
    assert_eq!(hop.addresses.len(), 2);
    assert!(hop.addresses.iter().any(|a| a.decision == "allow"));
    assert!(hop.addresses.iter().any(|a| a.decision == "block"));
}

#[tokio::test]
async fn cname_chain_into_a_blocked_address_is_blocked() {
    let lab = Lab::start().await;
    lab.dns
        .set("cname.test", DnsBehavior::Cname("inner.test".into()));
    lab.dns
        .set("inner.test", DnsBehavior::Addresses(vec![loopback1()]));
    let report = lab.fetch(&lab.url("cname.test", "/")).await;
    assert_eq!(report.status, FetchStatus::Blocked, "{:?}", report.problems);
    assert!(codes(&report).contains(&"loopback"));
}

#[tokio::test]
async fn dns_rebinding_uses_the_checked_answer_and_never_re_resolves() {
    let lab = Lab::start().await;
    lab.origin.route("/doc.json", Route::json(DOC));
    lab.dns.set(
        "rebind.test",
        DnsBehavior::Rebind {
            first: vec![ORIGIN_IP],
            first_queries: 2,
            then: vec![loopback1()],
        },
    );
    let report = lab.fetch(&lab.url("rebind.test", "/doc.json")).await;
    assert_eq!(report.status, FetchStatus::Fetched, "{:?}", report.problems);
    assert_eq!(
        report.facts.address,
        Some(format!("127.0.0.2:{}", lab.port()))
    );
    // One lookup: A and AAAA, nothing after the check.
    assert_eq!(lab.dns.queries("rebind.test"), 2);
    // A second fetch sees the rebound answer and is blocked, not connected.
    let second = lab.fetch(&lab.url("rebind.test", "/doc.json")).await;
    assert_eq!(second.status, FetchStatus::Blocked);
    assert_eq!(lab.origin.hits_for("/doc.json"), 1);
}

#[tokio::test]
async fn redirect_to_a_good_document_is_followed_and_recorded() {
    let lab = Lab::start().await;
    lab.origin.route("/final.json", Route::json(DOC));
    lab.origin
        .route("/start", Route::redirect(302, "/final.json"));
    let report = lab.fetch(&lab.url("good.test", "/start")).await;
    assert_eq!(report.status, FetchStatus::Fetched, "{:?}", report.problems);
    assert_eq!(report.facts.redirects.len(), 1);
    assert_eq!(report.facts.redirects[0].status, 302);
    assert_eq!(report.facts.final_url, lab.url("good.test", "/final.json"));
    assert_eq!(report.hops.len(), 2);
}

#[tokio::test]
async fn redirect_with_307_and_308_are_followed() {
    let lab = Lab::start().await;
    lab.origin.route("/final.json", Route::json(DOC));
    lab.origin.route("/a", Route::redirect(307, "/b"));
    lab.origin.route(
        "/b",
        Route::redirect(308, &lab.url("alt.test", "/final.json")),
    );
    let report = lab.fetch(&lab.url("good.test", "/a")).await;
    assert_eq!(report.status, FetchStatus::Fetched, "{:?}", report.problems);
    assert_eq!(report.facts.redirects.len(), 2);
}

#[tokio::test]
async fn redirects_into_forbidden_places_are_blocked() {
    let lab = Lab::start().await;
    let port = lab.port();
    let cases = [
        (
            "/to-localhost",
            format!("https://localhost:{port}/x"),
            "host_blocked",
        ),
        (
            "/to-ip-literal",
            format!("https://127.0.0.1:{port}/x"),
            "loopback",
        ),
        (
            "/to-http",
            format!("http://good.test:{port}/x"),
            "scheme_not_allowed",
        ),
        (
            "/to-port",
            "https://good.test:8443/x".to_owned(),
            "port_not_allowed",
        ),
        (
            "/to-userinfo",
            format!("https://user@good.test:{port}/x"),
            "userinfo_not_allowed",
        ),
    ];
    for (path, location, _) in &cases {
        lab.origin.route(path, Route::redirect(302, location));
    }
    for (path, _, code) in &cases {
        let report = lab.fetch(&lab.url("good.test", path)).await;
        assert_eq!(
            report.status,
            FetchStatus::Blocked,
            "{path}: {:?}",
            report.problems
        );
        assert!(
            codes(&report).contains(code),
            "{path}: {:?}",
            codes(&report)
        );
        // The facts describe the refused hop, not the redirecting one.
        assert_eq!(report.facts.address, None, "{path}");
        assert_eq!(report.facts.status, None, "{path}");
        assert_eq!(report.facts.redirects.len(), 1, "{path}");
    }
    // Only the redirecting hops reached the origin.
    assert_eq!(lab.origin.hits().len(), cases.len());
}

#[tokio::test]
async fn redirect_loop_is_detected() {
    let lab = Lab::start().await;
    lab.origin.route("/l1", Route::redirect(302, "/l2"));
    lab.origin.route("/l2", Route::redirect(302, "/l1"));
    let report = lab.fetch(&lab.url("good.test", "/l1")).await;
    assert_eq!(report.status, FetchStatus::Unreachable);
    assert_eq!(codes(&report), vec!["redirect_loop"]);
}

#[tokio::test]
async fn redirect_chain_longer_than_the_cap_stops() {
    let lab = Lab::start().await;
    for i in 0..6 {
        lab.origin.route(
            &format!("/r{i}"),
            Route::redirect(302, &format!("/r{}", i + 1)),
        );
    }
    let report = lab.fetch(&lab.url("good.test", "/r0")).await;
    assert_eq!(codes(&report), vec!["too_many_redirects"]);
    // max_redirects = 3: four responses were read, the fifth hop never happened.
    assert_eq!(lab.origin.hits().len(), 4);
}

#[tokio::test]
async fn kinds_without_redirects_refuse_them() {
    let lab = Lab::start().await;
    lab.origin.route("/final.json", Route::json(DOC));
    lab.origin
        .route("/start", Route::redirect(302, "/final.json"));
    let report = lab
        .fetch_with(&lab.url("good.test", "/start"), 5120, false)
        .await;
    assert_eq!(codes(&report), vec!["redirect_not_allowed"]);
    assert_eq!(lab.origin.hits_for("/final.json"), 0);
}

#[tokio::test]
async fn oversize_body_with_content_length_is_refused_before_reading() {
    let lab = Lab::start().await;
    lab.origin.route("/big", Route::json(vec![b' '; 10_000]));
    let report = lab
        .fetch_with(&lab.url("good.test", "/big"), 5_000, true)
        .await;
    assert_eq!(codes(&report), vec!["body_too_large"]);
    assert_eq!(report.status, FetchStatus::Unreachable);
}

#[tokio::test]
async fn oversize_body_without_content_length_is_cut_at_the_cap() {
    let lab = Lab::start().await;
    lab.origin
        .route("/big", Route::chunked_json(vec![b' '; 10_000]));
    let report = lab
        .fetch_with(&lab.url("good.test", "/big"), 5_000, true)
        .await;
    assert_eq!(codes(&report), vec!["body_too_large"]);
    let mut close_delimited =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n".to_vec();
    close_delimited.extend(vec![b' '; 10_000]);
    lab.origin.route("/close", Route::Raw(close_delimited));
    let report = lab
        .fetch_with(&lab.url("good.test", "/close"), 5_000, true)
        .await;
    assert_eq!(codes(&report), vec!["body_too_large"]);
}

#[tokio::test]
async fn body_exactly_at_the_cap_is_accepted() {
    let lab = Lab::start().await;
    lab.origin
        .route("/edge", Route::chunked_json(vec![b' '; 5_000]));
    let report = lab
        .fetch_with(&lab.url("good.test", "/edge"), 5_000, true)
        .await;
    assert_eq!(report.status, FetchStatus::Fetched, "{:?}", report.problems);
    assert_eq!(report.facts.bytes, 5_000);
}

#[tokio::test]
async fn lying_content_length_fails() {
    let lab = Lab::start().await;
    let raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{}".to_vec();
    lab.origin.route("/lie", Route::Raw(raw));
    let report = lab.fetch(&lab.url("good.test", "/lie")).await;
    assert_eq!(report.status, FetchStatus::Unreachable);
    assert_eq!(codes(&report), vec!["http_failed"]);
}

#[tokio::test]
async fn slow_drip_hits_the_body_deadline() {
    let lab = Lab::start().await;
    lab.origin.route(
        "/drip",
        Route::drip_json(vec![b' '; 1000], 1, Duration::from_millis(50)),
    );
    let started = std::time::Instant::now();
    let report = lab.fetch(&lab.url("good.test", "/drip")).await;
    assert_eq!(codes(&report), vec!["body_timeout"]);
    // The cap is 1 s; the drip would take 50 s.
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn stalled_headers_hit_the_first_byte_deadline() {
    let lab = Lab::start().await;
    lab.origin.route("/stall", Route::Stall);
    let report = lab.fetch(&lab.url("good.test", "/stall")).await;
    assert_eq!(codes(&report), vec!["first_byte_timeout"]);
}

#[tokio::test]
async fn total_deadline_caps_everything() {
    let lab = Lab::start_with(|c| {
        c.limits.total_timeout_ms = 300;
    })
    .await;
    lab.origin.route("/stall", Route::Stall);
    let report = lab.fetch(&lab.url("good.test", "/stall")).await;
    assert_eq!(codes(&report), vec!["deadline_exceeded"]);
}

#[tokio::test]
async fn endless_headers_are_cut() {
    let lab = Lab::start().await;
    lab.origin
        .route("/headers", Route::EndlessHeaders { max_bytes: 200_000 });
    let report = lab.fetch(&lab.url("good.test", "/headers")).await;
    assert_eq!(codes(&report), vec!["headers_too_large"]);
}

#[tokio::test]
async fn gzip_encoded_body_is_refused() {
    let lab = Lab::start().await;
    lab.origin.route(
        "/gz",
        Route::response(
            200,
            "application/json",
            &[("Content-Encoding", "gzip")],
            vec![0x1f, 0x8b, 8, 0],
        ),
    );
    let report = lab.fetch(&lab.url("good.test", "/gz")).await;
    assert_eq!(codes(&report), vec!["content_encoding_not_allowed"]);
}

#[tokio::test]
async fn wrong_content_type_is_refused() {
    let lab = Lab::start().await;
    lab.origin.route(
        "/html",
        Route::response(200, "text/html", &[], "<html></html>"),
    );
    lab.origin
        .route("/none", Route::response(200, "", &[], DOC));
    for path in ["/html", "/none"] {
        let report = lab.fetch(&lab.url("good.test", path)).await;
        assert_eq!(codes(&report), vec!["content_type_not_json"], "{path}");
    }
    lab.origin.route(
        "/jwk",
        Route::response(200, "application/jwk-set+json", &[], DOC),
    );
    let report = lab.fetch(&lab.url("good.test", "/jwk")).await;
    assert_eq!(report.status, FetchStatus::Fetched);
}

#[tokio::test]
async fn non_200_status_is_unreachable() {
    let lab = Lab::start().await;
    lab.origin
        .route("/gone", Route::response(404, "application/json", &[], "{}"));
    lab.origin
        .route("/nc", Route::response(204, "application/json", &[], ""));
    for path in ["/gone", "/nc"] {
        let report = lab.fetch(&lab.url("good.test", path)).await;
        assert_eq!(codes(&report), vec!["status_not_ok"], "{path}");
        assert_eq!(report.status, FetchStatus::Unreachable);
    }
}

#[tokio::test]
async fn nxdomain_servfail_and_silence_are_told_apart() {
    let lab = Lab::start().await;
    lab.dns.set("gone.test", DnsBehavior::NxDomain);
    lab.dns.set("broken.test", DnsBehavior::ServFail);
    lab.dns.set("silent.test", DnsBehavior::Silent);
    lab.dns.set("noaddr.test", DnsBehavior::Addresses(vec![]));
    let cases = [
        ("gone.test", "dns_nxdomain"),
        ("broken.test", "dns_failed"),
        ("noaddr.test", "dns_no_addresses"),
    ];
    for (host, code) in cases {
        let report = lab.fetch(&lab.url(host, "/")).await;
        assert_eq!(report.status, FetchStatus::Unreachable, "{host}");
        assert_eq!(codes(&report), vec![code], "{host}");
    }
    let report = lab.fetch(&lab.url("silent.test", "/")).await;
    assert_eq!(report.status, FetchStatus::Unreachable);
    let got = codes(&report);
    assert!(
        got == vec!["dns_timeout"] || got == vec!["dns_failed"],
        "{got:?}"
    );
}

#[tokio::test]
async fn certificate_for_another_name_fails_tls() {
    let lab = Lab::start().await;
    lab.wrong_cert.route("/doc.json", Route::json(DOC));
    let report = lab.fetch(&lab.url("wrongname.test", "/doc.json")).await;
    assert_eq!(codes(&report), vec!["tls_failed"]);
    assert_eq!(lab.wrong_cert.hits().len(), 0);
}

#[tokio::test]
async fn url_rules_block_before_resolution() {
    let lab = Lab::start().await;
    for url in [
        format!("http://good.test:{}/", lab.port()),
        format!("https://good.test:{}/#frag", lab.port()),
        "https://good.test:8443/".to_owned(),
        format!("https://localhost:{}/", lab.port()),
    ] {
        let report = lab.fetch(&url).await;
        assert_eq!(report.status, FetchStatus::Blocked, "{url}");
    }
    assert_eq!(lab.dns.queries("good.test"), 0);
    assert_eq!(lab.dns.queries("localhost"), 0);
}

#[tokio::test]
async fn names_resolving_to_private_and_metadata_ranges_are_blocked() {
    // Safe to run: the lab's fetcher also refuses to connect to anything but loopback.
    let lab = Lab::start().await;
    let cases = [
        ("meta.test", "169.254.169.254"),
        ("private.test", "10.0.0.5"),
        ("cgnat.test", "100.64.0.1"),
        ("ula.test", "fd00::1"),
        ("mapped.test", "::ffff:127.0.0.1"),
        ("nat64.test", "64:ff9b::a9fe:a9fe"),
        ("zero.test", "0.0.0.0"),
    ];
    for (name, ip) in cases {
        lab.dns
            .set(name, DnsBehavior::Addresses(vec![ip.parse().unwrap()]));
        let report = lab.fetch(&lab.url(name, "/")).await;
        assert_eq!(
            report.status,
            FetchStatus::Blocked,
            "{name} -> {ip}: {:?}",
            report.problems
        );
        assert_eq!(report.facts.address, None, "{name}");
    }
    assert_eq!(lab.origin.connections(), 0);
}

#[tokio::test]
async fn http2_origin_is_fetched_over_h2() {
    use portcullis::testing::origin::TestOrigin;
    use portcullis::testing::pki::Validity;
    let lab = Lab::start().await;
    let tls = lab
        .ca
        .server_config(&["h2.test"], Validity::Current, &[b"h2"])
        .unwrap();
    let h2 = TestOrigin::start_h2(common::H2_IP, lab.port(), tls, DOC)
        .await
        .unwrap();
    lab.dns
        .set("h2.test", DnsBehavior::Addresses(vec![common::H2_IP]));
    let report = lab.fetch(&lab.url("h2.test", "/doc.json")).await;
    assert_eq!(report.status, FetchStatus::Fetched, "{:?}", report.problems);
    assert_eq!(report.body.as_deref(), Some(DOC.as_bytes()));
    let hits = h2.hits();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].path, "/doc.json");
    assert_eq!(
        hits[0].host,
        format!("h2.test:{}", lab.port()),
        "h2 :authority"
    );
}

#[tokio::test]
async fn codings_on_any_field_line_and_transfer_codings_are_refused() {
    // Regression (sealed catalogue): only the first Content-Encoding line was checked, and
    // Transfer-Encoding was not checked at all, so a coded body could be judged as the
    // document although a compliant client would decode it.
    let lab = Lab::start().await;
    let cases: [(&str, &[u8]); 3] = [
        (
            "/split",
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: identity\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        ),
        (
            "/te",
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        ),
        (
            "/obs",
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: identity\xff\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        ),
    ];
    for (path, raw) in cases {
        lab.origin.route(path, Route::Raw(raw.to_vec()));
        let report = lab.fetch(&lab.url("good.test", path)).await;
        assert_eq!(
            codes(&report),
            vec!["content_encoding_not_allowed"],
            "{path}"
        );
        assert_eq!(report.body, None, "{path}");
    }
    lab.origin.route(
        "/ok",
        Route::Raw(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: identity\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n".to_vec()),
    );
    let report = lab.fetch(&lab.url("good.test", "/ok")).await;
    assert_eq!(report.status, FetchStatus::Fetched, "{:?}", report.problems);
}
