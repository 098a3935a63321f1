//! Input: one flag byte, then everything a hostile origin sends back on the connection
//! (status line, headers, chunking, lengths, or HTTP/2 frames). Flag bit 0 selects HTTP/2;
//! the other seven bits pick the body cap (0..=8128 bytes in steps of 64).
//!
//! The exchange runs over an in-memory duplex stream on a current-thread runtime with a
//! paused clock (deadlines cost no wall time); the fake origin writes the input, closes its
//! sending side and drains whatever the client sends.
//!
//! Properties:
//! - nothing panics and every refusal carries a declared fetch code;
//! - a response head that is accepted is within the header count and size caps;
//! - a body that is read is within the byte cap and never longer than what was sent;
//! - when the origin announced a length and the body was read, the body has that length.
#![no_main]

use std::time::{Duration, Instant, UNIX_EPOCH};

use http::header;
use libfuzzer_sys::fuzz_target;
use portcullis::fetch::codes::ALL_CODES;
use portcullis::fetch::exchange::{ExchangeLimits, send_over};
use portcullis::fetch::head::{self, HeadDecision};
use portcullis::fetch::media;
use portcullis::problem::Problem;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;

const MAX_HEADERS: usize = 16;
const MAX_HEADER_BYTES: usize = 2048;

fn declared(p: &Problem) {
    assert!(p.is_error());
    assert!(
        ALL_CODES.contains(&p.code),
        "undeclared {}: {}",
        p.code,
        p.detail
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, response)) = data.split_first() else {
        return;
    };
    let h2 = flags & 1 == 1;
    let max_body = u64::from(flags >> 1) * 64;
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
    else {
        return;
    };
    let Ok(url) = Url::parse("https://origin.example/.well-known/jwks.json?x=1") else {
        return;
    };
    let sent = response.len();
    let response = response.to_vec();
    rt.block_on(async move {
        let (client, mut origin) = tokio::io::duplex(16 * 1024);
        let origin = tokio::spawn(async move {
            let _ = origin.write_all(&response).await;
            let _ = origin.shutdown().await;
            let mut sink = [0u8; 4096];
            while let Ok(n) = origin.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        });
        let limits = ExchangeLimits {
            first_byte: Duration::from_millis(50),
            body: Duration::from_millis(50),
            deadline: Instant::now() + Duration::from_millis(80),
            max_header_bytes: MAX_HEADER_BYTES,
            max_headers: MAX_HEADERS,
            max_body_bytes: max_body,
        };
        match send_over(client, h2, &url, &limits).await {
            Err(p) => declared(&p),
            Ok(head) => {
                assert!(
                    head.headers.len() <= MAX_HEADERS,
                    "{} headers",
                    head.headers.len()
                );
                let head_bytes: usize = head
                    .headers
                    .iter()
                    .map(|(n, v)| n.as_str().len() + v.len() + 4)
                    .sum();
                assert!(head_bytes <= MAX_HEADER_BYTES, "{head_bytes} header bytes");
                // The fetcher's head judgement: only a 200 with a JSON media type and no
                // coding but identity/chunked is ever read as a document.
                let status = head.status.as_u16();
                match head::judge_head(status, &head.headers, true, UNIX_EPOCH) {
                    HeadDecision::ReadBody(_) => {
                        assert_eq!(status, 200);
                        let ct = head
                            .headers
                            .get(header::CONTENT_TYPE)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default();
                        assert!(media::is_json_media_type(ct), "{ct:?}");
                        for ce in head.headers.get_all(header::CONTENT_ENCODING) {
                            assert!(media::all_identity_encoding([ce.as_bytes()]), "{ce:?}");
                        }
                    }
                    HeadDecision::Redirect {
                        status: s,
                        location,
                    } => {
                        assert!(matches!(s, 301 | 302 | 303 | 307 | 308));
                        assert!(!location.trim().is_empty());
                    }
                    HeadDecision::Refuse(p) => declared(&p),
                }
                let announced = head.content_length();
                match head.read_body(&limits).await {
                    Err(p) => declared(&p),
                    Ok((body, _)) => {
                        let n = body.len() as u64;
                        assert!(n <= max_body, "body {n} bytes over the cap {max_body}");
                        assert!(body.len() <= sent, "body {n} bytes, origin sent {sent}");
                        if let Some(cl) = announced
                            && !matches!(status, 100..=199 | 204 | 304)
                        {
                            assert_eq!(n, cl, "status {status}: announced {cl}, read {n}");
                        }
                    }
                }
            }
        }
        origin.abort();
    });
});
