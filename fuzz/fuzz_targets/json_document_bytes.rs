//! Input: a response body, as bytes, for the strict JSON reader.
//!
//! Properties:
//! - a value read within the limits really is within them (depth, string bytes, array
//!   length, member count);
//! - strict reading never accepts what `serde_json` refuses, and agrees with it on the value;
//! - tighter limits never accept what the default limits refuse, and read the same value;
//! - writing a value read and reading it back gives the same value (up to float rounding);
//! - a refusal is one declared error code.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::documents::strict_json::{self, ALL_CODES, JsonLimits};
use portcullis_fuzz::same_value;
use serde_json::Value;

fn within(v: &Value, l: &JsonLimits, depth: usize) -> bool {
    match v {
        Value::String(s) => s.len() <= l.max_string_bytes,
        Value::Array(a) => {
            depth < l.max_depth
                && a.len() <= l.max_array_len
                && a.iter().all(|x| within(x, l, depth + 1))
        }
        Value::Object(m) => {
            depth < l.max_depth
                && m.len() <= l.max_members
                && m.iter()
                    .all(|(k, x)| k.len() <= l.max_string_bytes && within(x, l, depth + 1))
        }
        _ => true,
    }
}

fuzz_target!(|data: &[u8]| {
    let default = JsonLimits::default();
    let tight = JsonLimits {
        max_depth: 3,
        max_string_bytes: 8,
        max_array_len: 3,
        max_members: 3,
    };
    let strict = strict_json::read_value(data, &default);
    let tight_read = strict_json::read_value(data, &tight);
    match &strict {
        Ok(v) => {
            assert!(within(v, &default, 0), "value beyond the limits");
            let loose: Value = match serde_json::from_slice(data) {
                Ok(x) => x,
                Err(e) => panic!("strict accepted what serde_json refuses: {e}"),
            };
            assert!(
                same_value(v, &loose),
                "strict {v:?} vs serde_json {loose:?}"
            );
            let text = serde_json::to_vec(v).unwrap_or_default();
            match strict_json::read_value(&text, &default) {
                Ok(back) => assert!(same_value(v, &back), "{v:?} -> {back:?}"),
                Err(e) => panic!("written value does not read back: {e:?}"),
            }
            assert_eq!(
                strict_json::read_object(data, &default).is_ok(),
                v.is_object()
            );
        }
        Err(p) => {
            assert!(p.is_error());
            assert!(ALL_CODES.contains(&p.code), "undeclared {}", p.code);
            assert!(
                tight_read.is_err(),
                "tight limits accepted what default refused"
            );
        }
    }
    if let Ok(t) = &tight_read {
        assert!(within(t, &tight, 0), "value beyond the tight limits");
        match &strict {
            Ok(v) => assert!(same_value(v, t)),
            Err(e) => panic!("tight accepted, default refused: {e:?}"),
        }
    }
});
