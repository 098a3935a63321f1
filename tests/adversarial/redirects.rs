//! Redirects: chains, loops and hops to internal addresses.

use super::*;

pub(crate) fn redirect_routes() -> Vec<(&'static str, Route)> {
    let long = format!("https://good.test/{}", "a".repeat(3_000));
    let mut routes = vec![
        ("/r/ip10", Route::redirect(302, "https://10.0.0.1/")),
        (
            "/r/meta",
            Route::redirect(302, "https://169.254.169.254/latest/meta-data/"),
        ),
        (
            "/r/v6meta",
            Route::redirect(302, "https://[fd00:ec2::254]/latest/meta-data/"),
        ),
        ("/r/ip192", Route::redirect(302, "https://192.168.1.1/")),
        ("/r/decimal", Route::redirect(302, "https://2852039166/")),
        (
            "/r/mapped",
            Route::redirect(302, "https://[::ffff:a9fe:a9fe]/"),
        ),
        (
            "/r/unicode",
            Route::redirect(302, "https://%E2%91%A0%E2%93%AA.0.0.1/"),
        ),
        ("/r/loopback", Route::redirect(302, "https://127.1/")),
        ("/r/dns-meta", Route::redirect(302, "https://meta.test/")),
        ("/r/dns-mixed", Route::redirect(302, "https://mixed.test/")),
        ("/r/localhost", Route::redirect(302, "https://localhost/")),
        (
            "/r/internal-name",
            Route::redirect(302, "https://metadata.google.internal/computeMetadata/v1/"),
        ),
        (
            "/r/userinfo",
            Route::redirect(302, "https://good.test@10.0.0.1/"),
        ),
        ("/r/fragment", Route::redirect(302, "/doc.json#frag")),
        ("/r/http", Route::redirect(302, "http://good.test/doc.json")),
        (
            "/r/http-443",
            Route::redirect(302, "http://good.test:443/doc.json"),
        ),
        (
            "/r/port",
            Route::redirect(302, &format!("https://good.test:{PORT_TRAP}/doc.json")),
        ),
        ("/r/relative", Route::redirect(302, "/doc.json")),
        ("/r/a/b/dotdot", Route::redirect(302, "../../../doc.json")),
        (
            "/r/protorel-meta",
            Route::redirect(302, "//169.254.169.254/"),
        ),
        ("/r/protorel-dns", Route::redirect(302, "//v6meta.test/")),
        (
            "/r/protorel-good",
            Route::redirect(302, "//good.test/doc.json"),
        ),
        ("/r/slash-backslash", Route::redirect(302, "/\\10.0.0.1/")),
        (
            "/r/backslashes",
            Route::redirect(302, "\\\\169.254.169.254\\x"),
        ),
        ("/r/loop1", Route::redirect(302, "/r/loop2")),
        ("/r/loop2", Route::redirect(302, "/r/loop1")),
        ("/r/self", Route::redirect(301, "/r/self")),
        ("/r/301", Route::redirect(301, "/doc.json")),
        ("/r/303", Route::redirect(303, "/doc.json")),
        ("/r/307", Route::redirect(307, "/doc.json")),
        ("/r/308", Route::redirect(308, "https://alt.test/doc.json")),
        ("/r/307-internal", Route::redirect(307, "https://10.0.0.1/")),
        (
            "/r/308-v6meta",
            Route::redirect(308, "https://[fd00:ec2::254]/"),
        ),
        ("/r/300", Route::redirect(300, "/doc.json")),
        (
            "/r/no-location",
            Route::response(302, "text/plain", &[], Vec::new()),
        ),
        ("/r/empty-location", Route::redirect(302, "")),
        ("/r/bad-location", Route::redirect(302, "https://")),
        ("/r/long-location", Route::redirect(302, &long)),
        (
            "/r/expired",
            Route::redirect(
                302,
                &format!("https://expired.test:{PORT_EXPIRED}/doc.json"),
            ),
        ),
        (
            "/r/rebind",
            Route::redirect(302, "https://rebind-redirect.test/doc.json?again"),
        ),
    ];
    for i in 0..6 {
        routes.push((
            Box::leak(format!("/r/chain{i}").into_boxed_str()),
            Route::redirect(302, &format!("/r/chain{}", i + 1)),
        ));
    }
    routes.push(("/r/ok0", Route::redirect(302, "/r/ok1")));
    routes.push(("/r/ok1", Route::redirect(302, "/r/ok2")));
    routes.push(("/r/ok2", Route::redirect(302, "/doc.json")));
    routes
}

pub(crate) fn redirect_cases() -> Vec<FetchCase> {
    use Category::Redirects as C;
    use Want::{Blocked as B, Fetched as F, Unreachable as U};
    let g = |p: &str| format!("https://good.test{p}");
    let mut v = vec![
        case(C, "to-private-literal", g("/r/ip10"), B(&["private_use"])),
        case(
            C,
            "to-metadata-literal",
            g("/r/meta"),
            B(&["cloud_metadata"]),
        ),
        case(
            C,
            "to-v6-metadata-literal",
            g("/r/v6meta"),
            B(&["cloud_metadata"]),
        ),
        case(C, "to-192-literal", g("/r/ip192"), B(&["private_use"])),
        case(
            C,
            "to-decimal-metadata",
            g("/r/decimal"),
            B(&["cloud_metadata"]),
        ),
        case(
            C,
            "to-mapped-metadata",
            g("/r/mapped"),
            B(&["cloud_metadata"]),
        ),
        case(
            C,
            "to-percent-unicode-literal",
            g("/r/unicode"),
            B(&["private_use"]),
        ),
        case(C, "to-short-loopback", g("/r/loopback"), B(&["loopback"])),
        case(
            C,
            "to-name-resolving-to-metadata",
            g("/r/dns-meta"),
            B(&["cloud_metadata"]),
        ),
        case(
            C,
            "to-name-with-mixed-answers",
            g("/r/dns-mixed"),
            B(&["private_use", "mixed_resolution"]),
        ),
        case(C, "to-localhost", g("/r/localhost"), B(&["host_blocked"])),
        case(
            C,
            "to-internal-name",
            g("/r/internal-name"),
            B(&["host_blocked"]),
        ),
        case(
            C,
            "to-userinfo",
            g("/r/userinfo"),
            B(&["userinfo_not_allowed", "private_use"]),
        ),
        case(
            C,
            "to-fragment",
            g("/r/fragment"),
            B(&["fragment_not_allowed"]),
        ),
        case(
            C,
            "to-http",
            g("/r/http"),
            B(&["scheme_not_allowed", "port_not_allowed"]),
        ),
        case(
            C,
            "to-http-on-443",
            g("/r/http-443"),
            B(&["scheme_not_allowed"]),
        ),
        case(C, "to-another-port", g("/r/port"), B(&["port_not_allowed"])),
        case(C, "relative", g("/r/relative"), F),
        case(C, "relative-dot-dot", g("/r/a/b/dotdot"), F),
        case(
            C,
            "protocol-relative-metadata",
            g("/r/protorel-meta"),
            B(&["cloud_metadata"]),
        ),
        case(
            C,
            "protocol-relative-name-to-v6-metadata",
            g("/r/protorel-dns"),
            B(&["cloud_metadata"]),
        ),
        case(C, "protocol-relative-good", g("/r/protorel-good"), F),
        case(
            C,
            "slash-backslash-authority",
            g("/r/slash-backslash"),
            B(&["private_use"]),
        ),
        case(
            C,
            "backslash-authority",
            g("/r/backslashes"),
            B(&["cloud_metadata"]),
        ),
        case(C, "loop", g("/r/loop1"), U(&["redirect_loop"])),
        case(C, "self-loop", g("/r/self"), U(&["redirect_loop"])),
        case(
            C,
            "chain-longer-than-cap",
            g("/r/chain0"),
            U(&["too_many_redirects"]),
        ),
        case(C, "chain-at-cap", g("/r/ok0"), F),
        case(C, "301", g("/r/301"), F),
        case(C, "303", g("/r/303"), F),
        case(C, "307", g("/r/307"), F),
        case(C, "308-other-host", g("/r/308"), F),
        case(
            C,
            "307-to-private",
            g("/r/307-internal"),
            B(&["private_use"]),
        ),
        case(
            C,
            "308-to-v6-metadata",
            g("/r/308-v6meta"),
            B(&["cloud_metadata"]),
        ),
        case(C, "300-not-followed", g("/r/300"), U(&["status_not_ok"])),
        case(
            C,
            "no-location",
            g("/r/no-location"),
            U(&["redirect_invalid"]),
        ),
        case(
            C,
            "empty-location",
            g("/r/empty-location"),
            U(&["redirect_invalid"]),
        ),
        case(
            C,
            "unparseable-location",
            g("/r/bad-location"),
            U(&["redirect_invalid"]),
        ),
        case(
            C,
            "location-too-long",
            g("/r/long-location"),
            B(&["url_too_long"]),
        ),
        case(
            C,
            "to-expired-certificate",
            g("/r/expired"),
            U(&["tls_failed"]),
        ),
        case(
            C,
            "rebinding-between-hops",
            "https://rebind-redirect.test/r/rebind",
            B(&["cloud_metadata"]),
        ),
    ];
    let mut cimd = case(
        C,
        "kind-without-redirects",
        g("/r/relative"),
        U(&["redirect_not_allowed"]),
    );
    cimd.follow = false;
    v.push(cimd);
    v
}
