//! Hostile origins: slow, oversized, malformed and abusive HTTP/1 and HTTP/2 servers.

use super::*;

pub(crate) fn hostile_routes() -> Vec<(&'static str, Route)> {
    let json_head = |extra: &str| -> Vec<u8> {
        format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{extra}\r\n").into_bytes()
    };
    let raw = |head: &str, body: &[u8]| -> Route {
        let mut b = head.as_bytes().to_vec();
        b.extend_from_slice(body);
        Route::Raw(b)
    };
    let many_headers: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    let big_header = format!("X-Big: {}\r\n", "b".repeat(20_000));
    let mut deep = "[".repeat(10_000);
    deep.push_str(&"]".repeat(10_000));
    vec![
        ("/doc.json", Route::json(DOC)),
        ("/drip-body", Route::Drip {
            head: json_head("Content-Length: 1000\r\n"),
            body: vec![b' '; 1000],
            chunk: 1,
            delay: Duration::from_millis(50),
        }),
        ("/drip-head", Route::Drip {
            head: Vec::new(),
            body: json_head("Content-Length: 2\r\n"),
            chunk: 1,
            delay: Duration::from_millis(100),
        }),
        ("/stall", Route::Stall),
        ("/endless-headers", Route::EndlessHeaders { max_bytes: 2_000_000 }),
        ("/many-headers", raw(&format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{many_headers}\r\n", DOC.len()), DOC.as_bytes())),
        ("/huge-header", raw(&format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{big_header}\r\n", DOC.len()), DOC.as_bytes())),
        ("/oversize-cl", Route::json(vec![b' '; 10_000])),
        ("/oversize-cl-huge", raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n", b"{}")),
        ("/oversize-chunked", Route::chunked_json(vec![b' '; 10_000])),
        ("/oversize-close", raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n", &[b' '; 10_000])),
        ("/lying-cl-long", raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n", b"{}")),
        ("/lying-cl-short", raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n", br#"{}{"smuggled":true}"#)),
        ("/duplicate-cl", raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 4\r\nConnection: close\r\n\r\n", b"{}{}")),
        ("/negative-cl", raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: -1\r\nConnection: close\r\n\r\n", b"{}")),
        ("/huge-chunk-size", raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n", b"ffffffffffffffff\r\n{}")),
        ("/gzip-bomb", Route::response(200, "application/json", &[("Content-Encoding", "gzip")], include_bytes!("../fixtures/adversarial/bomb.gz").to_vec())),
        ("/deflate-bomb", Route::response(200, "application/json", &[("Content-Encoding", "deflate")], include_bytes!("../fixtures/adversarial/bomb.deflate").to_vec())),
        ("/brotli-bomb", Route::response(200, "application/json", &[("Content-Encoding", "br")], vec![0x1b, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x00, 0x00])),
        ("/stacked-encoding", Route::response(200, "application/json", &[("Content-Encoding", "identity, gzip")], include_bytes!("../fixtures/adversarial/bomb.gz").to_vec())),
        ("/gzip-transfer-encoding", raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n", b"2\r\n{}\r\n0\r\n\r\n")),
        ("/split-content-encoding", raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: identity\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\nConnection: close\r\n\r\n", b"{}")),
        ("/obs-text-content-encoding", Route::Raw(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: identity\xff\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}".to_vec())),
        ("/identity-encoding", Route::response(200, "application/json", &[("Content-Encoding", "identity")], DOC)),
        ("/html", Route::response(200, "text/html", &[], "<html></html>")),
        ("/no-content-type", Route::response(200, "", &[], DOC)),
        ("/jsonp", Route::response(200, "application/javascript", &[], DOC)),
        ("/json-lookalike", Route::response(200, "application/jsonx", &[], DOC)),
        ("/status-500", Route::response(500, "application/json", &[], DOC)),
        ("/json-nesting-bomb", Route::json(deep)),
        ("/duplicate-keys", Route::json(r#"{"a":1,"a":2}"#)),
        ("/duplicate-escaped-keys", Route::json(r#"{"a":1,"\u0061":2}"#)),
        ("/bom", Route::json(b"\xef\xbb\xbf{}".to_vec())),
        ("/not-utf8", Route::json(b"{\"a\":\"\xff\"}".to_vec())),
    ]
}

/// HTTP/2 scripts keyed by SNI name under `*.h2.test`.
pub(crate) fn h2_routes() -> Vec<(&'static str, Route)> {
    use h2::*;
    let ok = || Route::RawH2 {
        preface: settings(&[]),
        after_request: response("application/json", &[], DOC.as_bytes()),
    };
    // Huge header block: HEADERS without END_HEADERS, then 1 MiB of CONTINUATION frames.
    let huge_block = {
        let mut field = Vec::new();
        literal("x-filler", &"f".repeat(16_000), &mut field);
        let mut out = settings_ack();
        let mut first = vec![STATUS_200];
        first.extend_from_slice(&field);
        out.extend(frame(HEADERS, 0, 1, &first));
        for i in 0..64 {
            let flags = if i == 63 { END_HEADERS } else { 0 };
            out.extend(frame(CONTINUATION, flags, 1, &field));
        }
        out
    };
    // CONTINUATION flood: endless tiny frames, never END_HEADERS.
    let continuation_flood = {
        let mut out = settings_ack();
        out.extend(frame(HEADERS, 0, 1, &[STATUS_200]));
        for _ in 0..100_000 {
            out.extend(frame(CONTINUATION, 0, 1, &[]));
        }
        out
    };
    let settings_flood = {
        let mut out = settings_ack();
        for i in 0..20_000u32 {
            out.extend(settings(&[(
                SETTINGS_INITIAL_WINDOW_SIZE,
                65_535 + (i % 2),
            )]));
        }
        out
    };
    let ping_flood = {
        let mut out = settings_ack();
        for i in 0..50_000u64 {
            out.extend(frame(PING, 0, 0, &i.to_be_bytes()));
        }
        out
    };
    let push_flood = {
        let mut out = settings_ack();
        for i in 0..1_000u32 {
            let mut payload = (2 + 2 * i).to_be_bytes().to_vec();
            payload.push(STATUS_200);
            out.extend(frame(PUSH_PROMISE, END_HEADERS, 1, &payload));
        }
        out
    };
    let stream_flood = {
        let mut out = settings_ack();
        for i in 0..2_000u32 {
            out.extend(frame(HEADERS, END_HEADERS, 2 + 2 * i, &[STATUS_200]));
        }
        out
    };
    let rst_flood = {
        let mut out = settings_ack();
        for _ in 0..10_000 {
            out.extend(frame(RST_STREAM, 0, 1, &0u32.to_be_bytes()));
        }
        out
    };
    let window_overflow = {
        let mut out = settings_ack();
        for _ in 0..4 {
            out.extend(frame(WINDOW_UPDATE, 0, 0, &0x7fff_ffffu32.to_be_bytes()));
        }
        out
    };
    let data_over_cap = {
        let mut block = vec![STATUS_200];
        literal("content-type", "application/json", &mut block);
        let mut out = settings_ack();
        out.extend(frame(HEADERS, END_HEADERS, 1, &block));
        for _ in 0..4 {
            out.extend(frame(DATA, 0, 1, &[b' '; 8_000]));
        }
        out.extend(frame(DATA, END_STREAM, 1, b"{}"));
        out
    };
    let lying_length = Route::RawH2 {
        preface: settings(&[]),
        after_request: response("application/json", &[("content-length", "100")], b"{}"),
    };
    let r = |after: Vec<u8>| Route::RawH2 {
        preface: settings(&[]),
        after_request: after,
    };
    vec![
        ("ok.h2.test", ok()),
        ("huge-header-block.h2.test", r(huge_block)),
        ("continuation-flood.h2.test", r(continuation_flood)),
        ("settings-flood.h2.test", r(settings_flood)),
        (
            "settings-bad-frame-size.h2.test",
            Route::RawH2 {
                preface: settings(&[(SETTINGS_MAX_FRAME_SIZE, 100)]),
                after_request: Vec::new(),
            },
        ),
        (
            "settings-window-overflow.h2.test",
            Route::RawH2 {
                preface: settings(&[(SETTINGS_INITIAL_WINDOW_SIZE, 0x8000_0000)]),
                after_request: Vec::new(),
            },
        ),
        (
            "zero-streams.h2.test",
            Route::RawH2 {
                preface: settings(&[(SETTINGS_MAX_CONCURRENT_STREAMS, 0)]),
                after_request: Vec::new(),
            },
        ),
        ("ping-flood.h2.test", r(ping_flood)),
        ("push-promise-flood.h2.test", r(push_flood)),
        ("stream-flood.h2.test", r(stream_flood)),
        ("rst-flood.h2.test", r(rst_flood)),
        ("window-update-overflow.h2.test", r(window_overflow)),
        ("data-over-cap.h2.test", r(data_over_cap)),
        ("lying-content-length.h2.test", lying_length),
        (
            "wrong-content-type.h2.test",
            r(response("text/html", &[], b"<html>")),
        ),
        (
            "gzip.h2.test",
            r(response(
                "application/json",
                &[("content-encoding", "gzip")],
                include_bytes!("../fixtures/adversarial/bomb.gz"),
            )),
        ),
    ]
}

pub(crate) fn hostile_cases() -> Vec<FetchCase> {
    use Category::HostileOrigins as C;
    use Want::{Fetched as F, Invalid as I, Unreachable as U};
    let g = |p: &str| format!("https://good.test{p}");
    let h2 = |n: &str| format!("https://{n}.h2.test:{PORT_H2}/doc.json");
    let mut v = vec![
        case(C, "slow-drip-body", g("/drip-body"), U(&["body_timeout"])),
        case(
            C,
            "slow-drip-head",
            g("/drip-head"),
            U(&["first_byte_timeout"]),
        ),
        case(
            C,
            "stalled-headers",
            g("/stall"),
            U(&["first_byte_timeout"]),
        ),
        case(
            C,
            "endless-headers",
            g("/endless-headers"),
            U(&["headers_too_large"]),
        ),
        case(
            C,
            "too-many-headers",
            g("/many-headers"),
            U(&["headers_too_large"]),
        ),
        case(
            C,
            "one-huge-header",
            g("/huge-header"),
            U(&["headers_too_large"]),
        ),
        case(
            C,
            "oversize-with-content-length",
            g("/oversize-cl"),
            U(&["body_too_large"]),
        ),
        case(
            C,
            "oversize-announced-terabyte",
            g("/oversize-cl-huge"),
            U(&["body_too_large"]),
        ),
        case(
            C,
            "oversize-chunked",
            g("/oversize-chunked"),
            U(&["body_too_large"]),
        ),
        case(
            C,
            "oversize-close-delimited",
            g("/oversize-close"),
            U(&["body_too_large"]),
        ),
        case(
            C,
            "content-length-longer-than-body",
            g("/lying-cl-long"),
            U(&["http_failed"]),
        ),
        case(
            C,
            "content-length-shorter-than-body",
            g("/lying-cl-short"),
            F,
        ),
        case(
            C,
            "duplicate-content-length",
            g("/duplicate-cl"),
            U(&["http_failed"]),
        ),
        case(
            C,
            "negative-content-length",
            g("/negative-cl"),
            U(&["http_failed"]),
        ),
        case(
            C,
            "huge-chunk-size",
            g("/huge-chunk-size"),
            U(&["http_failed"]),
        ),
        case(
            C,
            "gzip-bomb",
            g("/gzip-bomb"),
            U(&["content_encoding_not_allowed"]),
        ),
        case(
            C,
            "deflate-bomb",
            g("/deflate-bomb"),
            U(&["content_encoding_not_allowed"]),
        ),
        case(
            C,
            "brotli-bomb",
            g("/brotli-bomb"),
            U(&["content_encoding_not_allowed"]),
        ),
        case(
            C,
            "stacked-content-encoding",
            g("/stacked-encoding"),
            U(&["content_encoding_not_allowed"]),
        ),
        case(
            C,
            "gzip-transfer-encoding",
            g("/gzip-transfer-encoding"),
            U(&["content_encoding_not_allowed"]),
        ),
        case(
            C,
            "content-encoding-split-over-lines",
            g("/split-content-encoding"),
            U(&["content_encoding_not_allowed"]),
        ),
        case(
            C,
            "content-encoding-obs-text",
            g("/obs-text-content-encoding"),
            U(&["content_encoding_not_allowed"]),
        ),
        case(C, "identity-encoding-accepted", g("/identity-encoding"), F),
        case(
            C,
            "wrong-content-type-html",
            g("/html"),
            U(&["content_type_not_json"]),
        ),
        case(
            C,
            "missing-content-type",
            g("/no-content-type"),
            U(&["content_type_not_json"]),
        ),
        case(
            C,
            "javascript-content-type",
            g("/jsonp"),
            U(&["content_type_not_json"]),
        ),
        case(
            C,
            "json-lookalike-content-type",
            g("/json-lookalike"),
            U(&["content_type_not_json"]),
        ),
        case(C, "status-500", g("/status-500"), U(&["status_not_ok"])),
        case(
            C,
            "tls-expired-certificate",
            format!("https://expired.test:{PORT_EXPIRED}/doc.json"),
            U(&["tls_failed"]),
        ),
        case(
            C,
            "tls-wrong-name",
            "https://wrongname.test/doc.json",
            U(&["tls_failed"]),
        ),
        case(
            C,
            "tls-untrusted-ca",
            format!("https://untrusted.test:{PORT_UNTRUSTED}/doc.json"),
            U(&["tls_failed"]),
        ),
        case(
            C,
            "json-nesting-bomb",
            g("/json-nesting-bomb"),
            I(&["json_too_deep"]),
        ),
        case(
            C,
            "json-duplicate-keys",
            g("/duplicate-keys"),
            I(&["duplicate_member"]),
        ),
        case(
            C,
            "json-duplicate-escaped-keys",
            g("/duplicate-escaped-keys"),
            I(&["duplicate_member"]),
        ),
        case(
            C,
            "json-byte-order-mark",
            g("/bom"),
            I(&["bom_not_allowed"]),
        ),
        case(C, "json-not-utf8", g("/not-utf8"), I(&["not_utf8"])),
        case(C, "h2-well-formed", h2("ok"), F),
        case(
            C,
            "h2-huge-header-block",
            h2("huge-header-block"),
            U(&["http_failed"]),
        ),
        case(
            C,
            "h2-continuation-flood",
            h2("continuation-flood"),
            U(&["http_failed"]),
        ),
        case(
            C,
            "h2-settings-flood",
            h2("settings-flood"),
            U(&["first_byte_timeout"]),
        ),
        case(
            C,
            "h2-settings-bad-frame-size",
            h2("settings-bad-frame-size"),
            U(&["http_failed"]),
        ),
        case(
            C,
            "h2-settings-window-overflow",
            h2("settings-window-overflow"),
            U(&["http_failed"]),
        ),
        case(
            C,
            "h2-zero-concurrent-streams",
            h2("zero-streams"),
            U(&["first_byte_timeout"]),
        ),
        case(
            C,
            "h2-ping-flood",
            h2("ping-flood"),
            U(&["first_byte_timeout"]),
        ),
        case(
            C,
            "h2-push-promise-flood",
            h2("push-promise-flood"),
            U(&["http_failed"]),
        ),
        case(
            C,
            "h2-server-stream-flood",
            h2("stream-flood"),
            U(&["http_failed"]),
        ),
        case(
            C,
            "h2-rst-stream-flood",
            h2("rst-flood"),
            U(&["http_failed"]),
        ),
        case(
            C,
            "h2-window-update-overflow",
            h2("window-update-overflow"),
            U(&["http_failed"]),
        ),
        case(
            C,
            "h2-lying-content-length",
            h2("lying-content-length"),
            U(&["http_failed"]),
        ),
        case(
            C,
            "h2-wrong-content-type",
            h2("wrong-content-type"),
            U(&["content_type_not_json"]),
        ),
        case(
            C,
            "h2-gzip",
            h2("gzip"),
            U(&["content_encoding_not_allowed"]),
        ),
    ];
    for c in &mut v {
        if c.name.starts_with("oversize") {
            c.max_body = 5_000;
        }
    }
    let mut cap = case(
        C,
        "h2-data-over-cap",
        h2("data-over-cap"),
        U(&["body_too_large"]),
    );
    cap.max_body = 16_000;
    v.push(cap);
    v
}
