//! Input: the body of a `POST /v1/fetch` request.
//!
//! Properties:
//! - a refusal is always `invalid_request`;
//! - an accepted request keeps its `expect` values within `MAX_EXPECT_BYTES`;
//! - an accepted request, written back as JSON, parses to the same request;
//! - acceptance implies the body is JSON with exactly the known members (no silent extras).
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::server::request::{MAX_EXPECT_BYTES, parse_fetch_request};
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    match parse_fetch_request(data) {
        Err(e) => assert_eq!(e.code(), "invalid_request"),
        Ok(r) => {
            for v in [&r.expect.resource, &r.expect.issuer].into_iter().flatten() {
                assert!(v.len() <= MAX_EXPECT_BYTES);
            }
            let back = json!({
                "url": r.url,
                "kind": r.kind,
                "expect": { "resource": r.expect.resource, "issuer": r.expect.issuer },
            });
            let text = serde_json::to_vec(&back).unwrap_or_default();
            match parse_fetch_request(&text) {
                Ok(again) => assert_eq!(again, r),
                Err(e) => panic!("written request does not parse: {e}"),
            }
            let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(data) else {
                panic!("accepted a body that is not a JSON object");
            };
            assert!(
                m.keys()
                    .all(|k| ["url", "kind", "expect"].contains(&k.as_str())),
                "accepted unknown members: {:?}",
                m.keys().collect::<Vec<_>>()
            );
        }
    }
});
