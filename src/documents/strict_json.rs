//! Strict JSON reading: UTF-8 only, no BOM, no duplicate member names, bounded shape.
//!
//! `serde_json` silently keeps the last of two members with the same name, so two parsers
//! can disagree about what a document says (one checks the first `client_id`, another uses
//! the second). This reader refuses such documents and bounds depth, string length, array
//! length and member count so a small body cannot make validation expensive.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::problem::{Code, Problem};

/// The body is not valid JSON (syntax, trailing characters, lone surrogates, huge numbers).
pub const INVALID_JSON: Code = Code::new("invalid_json");
/// The body is not UTF-8 (RFC 8259 §8.1 requires UTF-8 between systems).
pub const NOT_UTF8: Code = Code::new("not_utf8");
/// The body starts with a byte order mark, which RFC 8259 §8.1 forbids senders to add.
pub const BOM_NOT_ALLOWED: Code = Code::new("bom_not_allowed");
/// The top-level value is not an object; every document kind is an object.
pub const NOT_AN_OBJECT: Code = Code::new("not_an_object");
/// Two members of one object share a name (after unescaping); parsers would disagree.
pub const DUPLICATE_MEMBER: Code = Code::new("duplicate_member");
/// Objects/arrays nest deeper than `JsonLimits::max_depth`.
pub const JSON_TOO_DEEP: Code = Code::new("json_too_deep");
/// A string (value or member name) is longer than `JsonLimits::max_string_bytes`.
pub const JSON_STRING_TOO_LONG: Code = Code::new("json_string_too_long");
/// An array has more than `JsonLimits::max_array_len` elements.
pub const JSON_ARRAY_TOO_LONG: Code = Code::new("json_array_too_long");
/// An object has more than `JsonLimits::max_members` members.
pub const JSON_TOO_MANY_MEMBERS: Code = Code::new("json_too_many_members");

/// Every code this module raises.
pub const ALL_CODES: &[Code] = &[
    INVALID_JSON,
    NOT_UTF8,
    BOM_NOT_ALLOWED,
    NOT_AN_OBJECT,
    DUPLICATE_MEMBER,
    JSON_TOO_DEEP,
    JSON_STRING_TOO_LONG,
    JSON_ARRAY_TOO_LONG,
    JSON_TOO_MANY_MEMBERS,
];

/// Nesting depth allowed (the top-level object is depth 1). Real metadata nests 3–4 deep;
/// 32 leaves room for extensions while staying far below serde_json's own limit of 128.
pub const DEFAULT_MAX_DEPTH: usize = 32;
/// Longest string in bytes. JWKS `x5c` certificates are 1–3 KiB of base64 each (a 4096-bit
/// RSA certificate with extensions is ~2.5 KiB); 16 KiB keeps headroom for long chains'
/// single entries and 8192-bit keys while bounding any one value.
pub const DEFAULT_MAX_STRING_BYTES: usize = 16 * 1024;
/// Longest array. The largest real lists (Entra `claims_supported`, JWKS `keys`) are well
/// under 100 entries.
pub const DEFAULT_MAX_ARRAY_LEN: usize = 1_000;
/// Most members in one object. The largest OpenID discovery documents have ~60 members.
pub const DEFAULT_MAX_MEMBERS: usize = 256;

/// Shape limits for one document; `Default` gives the named defaults above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonLimits {
    /// Deepest nesting of objects and arrays (top-level object = 1).
    pub max_depth: usize,
    /// Longest string value or member name, in bytes.
    pub max_string_bytes: usize,
    /// Longest array.
    pub max_array_len: usize,
    /// Most members in one object.
    pub max_members: usize,
}

impl Default for JsonLimits {
    fn default() -> Self {
        JsonLimits {
            max_depth: DEFAULT_MAX_DEPTH,
            max_string_bytes: DEFAULT_MAX_STRING_BYTES,
            max_array_len: DEFAULT_MAX_ARRAY_LEN,
            max_members: DEFAULT_MAX_MEMBERS,
        }
    }
}

/// Reads `body` as one JSON object under `limits`; the first problem found is the error.
pub fn read_object(body: &[u8], limits: &JsonLimits) -> Result<Map<String, Value>, Problem> {
    match read_value(body, limits)? {
        Value::Object(map) => Ok(map),
        other => Err(Problem::error(
            NOT_AN_OBJECT,
            format!(
                "the top-level value is {}, not an object",
                type_name(&other)
            ),
        )),
    }
}

/// Reads `body` as any JSON value under `limits` (used by `read_object`).
pub fn read_value(body: &[u8], limits: &JsonLimits) -> Result<Value, Problem> {
    if body.starts_with(&[0xEF, 0xBB, 0xBF])
        || body.starts_with(&[0xFE, 0xFF])
        || body.starts_with(&[0xFF, 0xFE])
    {
        return Err(Problem::error(
            BOM_NOT_ALLOWED,
            "the body starts with a byte order mark",
        ));
    }
    let text = std::str::from_utf8(body).map_err(|e| {
        Problem::error(
            NOT_UTF8,
            format!(
                "the body is not UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })?;
    let reader = Reader {
        limits: *limits,
        failure: RefCell::new(None),
    };
    let root = Path {
        parent: None,
        seg: Seg::Root,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let seed = ValueSeed {
        reader: &reader,
        path: &root,
        depth: 0,
    };
    let result = seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    match result {
        Ok(v) => Ok(v),
        Err(e) => Err(reader.failure.into_inner().unwrap_or_else(|| {
            Problem::error(INVALID_JSON, format!("the body is not valid JSON: {e}"))
        })),
    }
}

/// Short JSON type name, for details.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Escapes one reference token for a JSON pointer (RFC 6901 §3).
pub(crate) fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

struct Reader {
    limits: JsonLimits,
    failure: RefCell<Option<Problem>>,
}

enum Seg<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    seg: Seg<'a>,
}

impl Path<'_> {
    fn pointer(&self) -> String {
        let mut segs = Vec::new();
        let mut cur = Some(self);
        while let Some(p) = cur {
            match p.seg {
                Seg::Root => {}
                Seg::Key(k) => segs.push(escape_token(k)),
                Seg::Index(i) => segs.push(i.to_string()),
            }
            cur = p.parent;
        }
        segs.iter().rev().fold(String::new(), |mut acc, s| {
            acc.push('/');
            acc.push_str(s);
            acc
        })
    }
}

struct ValueSeed<'a> {
    reader: &'a Reader,
    path: &'a Path<'a>,
    depth: usize,
}

impl ValueSeed<'_> {
    fn fail<E: de::Error>(&self, code: Code, detail: String, at: String) -> E {
        let mut slot = self.reader.failure.borrow_mut();
        if slot.is_none() {
            *slot = Some(Problem::error(code, detail).at(at));
        }
        E::custom(code.as_str())
    }

    fn check_string<E: de::Error>(&self, s: &str, at: impl FnOnce() -> String) -> Result<(), E> {
        let max = self.reader.limits.max_string_bytes;
        if s.len() > max {
            return Err(self.fail(
                JSON_STRING_TOO_LONG,
                format!("a string of {} bytes exceeds the limit of {max}", s.len()),
                at(),
            ));
        }
        Ok(())
    }

    fn enter<E: de::Error>(&self) -> Result<usize, E> {
        let depth = self.depth + 1;
        let max = self.reader.limits.max_depth;
        if depth > max {
            return Err(self.fail(
                JSON_TOO_DEEP,
                format!("nesting exceeds the limit of {max} levels"),
                self.path.pointer(),
            ));
        }
        Ok(depth)
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.check_string(v, || self.path.pointer())?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.check_string(&v, || self.path.pointer())?;
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let depth = self.enter()?;
        let max = self.reader.limits.max_array_len;
        let mut out = Vec::new();
        loop {
            let index = out.len();
            let path = Path {
                parent: Some(self.path),
                seg: Seg::Index(index),
            };
            let child = ValueSeed {
                reader: self.reader,
                path: &path,
                depth,
            };
            match seq.next_element_seed(child)? {
                Some(v) => {
                    if index >= max {
                        return Err(self.fail(
                            JSON_ARRAY_TOO_LONG,
                            format!("an array has more than {max} elements"),
                            self.path.pointer(),
                        ));
                    }
                    out.push(v);
                }
                None => break,
            }
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let depth = self.enter()?;
        let max = self.reader.limits.max_members;
        let mut out = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let path = Path {
                parent: Some(self.path),
                seg: Seg::Key(&key),
            };
            self.check_string(&key, || path.pointer())?;
            if out.len() >= max {
                return Err(self.fail(
                    JSON_TOO_MANY_MEMBERS,
                    format!("an object has more than {max} members"),
                    self.path.pointer(),
                ));
            }
            if out.contains_key(&key) {
                return Err(self.fail(
                    DUPLICATE_MEMBER,
                    format!("member {key:?} appears more than once"),
                    path.pointer(),
                ));
            }
            let child = ValueSeed {
                reader: self.reader,
                path: &path,
                depth,
            };
            let value = access.next_value_seed(child)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> Problem {
        read_object(body.as_bytes(), &JsonLimits::default()).unwrap_err()
    }

    #[test]
    fn duplicate_after_unescaping_is_found_with_pointer() {
        let p = err(r#"{"a":{"b":1,"\u0062":2}}"#);
        assert_eq!(p.code, DUPLICATE_MEMBER);
        assert_eq!(p.at.as_deref(), Some("/a/b"));
    }

    #[test]
    fn pointer_escapes_tilde_and_slash() {
        let p = err(r#"{"a/b":{"~":1,"~":2}}"#);
        assert_eq!(p.at.as_deref(), Some("/a~1b/~0"));
    }

    #[test]
    fn depth_is_enforced_before_serde_json_limit() {
        let limits = JsonLimits::default();
        let ok = format!("{{\"a\":{}1{}}}", "[".repeat(31), "]".repeat(31));
        assert!(read_object(ok.as_bytes(), &limits).is_ok());
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(32), "]".repeat(32));
        assert_eq!(err(&deep).code, JSON_TOO_DEEP);
        // Far beyond serde_json's 128: still our code, no stack trouble.
        let deeper = format!("{{\"a\":{}", "[".repeat(10_000));
        assert_eq!(err(&deeper).code, JSON_TOO_DEEP);
    }

    #[test]
    fn array_string_member_limits() {
        let limits = JsonLimits {
            max_depth: 4,
            max_string_bytes: 4,
            max_array_len: 2,
            max_members: 2,
        };
        let r = |s: &str| read_object(s.as_bytes(), &limits);
        assert!(r(r#"{"a":[1,2],"b":"abcd"}"#).is_ok());
        assert_eq!(r(r#"{"a":[1,2,3]}"#).unwrap_err().code, JSON_ARRAY_TOO_LONG);
        assert_eq!(
            r(r#"{"a":"abcde"}"#).unwrap_err().code,
            JSON_STRING_TOO_LONG
        );
        assert_eq!(r(r#"{"abcde":1}"#).unwrap_err().code, JSON_STRING_TOO_LONG);
        assert_eq!(
            r(r#"{"a":1,"b":2,"c":3}"#).unwrap_err().code,
            JSON_TOO_MANY_MEMBERS
        );
    }

    #[test]
    fn encoding_and_syntax() {
        let limits = JsonLimits::default();
        assert_eq!(
            read_object(b"\xEF\xBB\xBF{}", &limits).unwrap_err().code,
            BOM_NOT_ALLOWED
        );
        assert_eq!(
            read_object(b"{\"a\":\"\xFF\"}", &limits).unwrap_err().code,
            NOT_UTF8
        );
        assert_eq!(err("{").code, INVALID_JSON);
        assert_eq!(err("{} x").code, INVALID_JSON);
        assert_eq!(err(r#"{"a":"\ud800"}"#).code, INVALID_JSON);
        assert_eq!(err("[]").code, NOT_AN_OBJECT);
        assert_eq!(err("").code, INVALID_JSON);
        assert!(read_object(b" {\"a\": [null, true, 1.5, -2, \"x\"]} ", &limits).is_ok());
    }
}
