//! What is wrong with one key, and how much each defect weighs on the key and the set.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::super::fields::WRONG_TYPE;
use super::super::strict_json::{escape_token, type_name};
use super::{JWK_BAD_BASE64URL, JWK_BASE64_PADDING, JWK_MISSING_MEMBER, JWK_STANDARD_BASE64};
use crate::problem::{Code, Problem};

/// How a defect weighs on the key and the set.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Class {
    /// The key would be used and is unsafe: error, the set is invalid.
    Dangerous,
    /// The key is broken: error for a signing key, skip (warning) for an encryption key.
    Malformed,
    /// The key cannot be used at all: skip with a warning.
    Unusable,
    /// Deviation with no security weight: warning.
    Cosmetic,
}

pub(super) struct Defect {
    pub(super) class: Class,
    pub(super) problem: Problem,
}

pub(super) struct KeyCheck {
    pub(super) base: String,
    pub(super) defects: Vec<Defect>,
    /// Problems from the egress rules, kept with the severity the rules gave them.
    pub(super) direct: Vec<Problem>,
}

impl KeyCheck {
    pub(super) fn add(&mut self, class: Class, code: Code, detail: String, member: Option<&str>) {
        let at = match member {
            Some(m) => format!("{}/{}", self.base, escape_token(m)),
            None => self.base.clone(),
        };
        self.defects.push(Defect {
            class,
            problem: Problem::error(code, detail).at(at),
        });
    }

    pub(super) fn has(&self, class: Class) -> bool {
        self.defects.iter().any(|d| d.class == class)
    }

    /// A string member, `None` when absent; a non-string is Malformed.
    pub(super) fn opt_str<'a>(
        &mut self,
        key: &'a Map<String, Value>,
        name: &str,
    ) -> Option<&'a str> {
        match key.get(name)? {
            Value::String(s) => Some(s),
            other => {
                self.add(
                    Class::Malformed,
                    WRONG_TYPE,
                    format!("{name} must be a string, not {}", type_name(other)),
                    Some(name),
                );
                None
            }
        }
    }

    /// A required base64url member, decoded.
    pub(super) fn b64(&mut self, key: &Map<String, Value>, name: &str) -> Option<Vec<u8>> {
        let Some(value) = key.get(name) else {
            self.add(
                Class::Malformed,
                JWK_MISSING_MEMBER,
                format!("{name} is required"),
                Some(name),
            );
            return None;
        };
        let Value::String(s) = value else {
            self.add(
                Class::Malformed,
                WRONG_TYPE,
                format!("{name} must be a string, not {}", type_name(value)),
                Some(name),
            );
            return None;
        };
        // Decision (docs/conformance.md, "Padded and standard base64"): RFC 7515 §2 wants
        // base64url without padding, but the bytes of a padded or standard-alphabet value are
        // unambiguous and most verifiers (PyJWT, Node's JWK import, Go, Java) decode them, so
        // both are warnings and the key stays usable; strict decoders (Rust jsonwebtoken)
        // refuse them, which the warning says. Anything that is not base64 at all is an error.
        let trimmed = s.trim_end_matches('=');
        if trimmed.len() != s.len() {
            self.add(
                Class::Cosmetic,
                JWK_BASE64_PADDING,
                format!("{name} carries '=' padding (strict base64url decoders refuse it)"),
                Some(name),
            );
        }
        let normalized;
        let trimmed = if trimmed.contains(['+', '/']) {
            self.add(
                Class::Cosmetic,
                JWK_STANDARD_BASE64,
                format!(
                    "{name} uses the standard base64 alphabet ('+' or '/'), not base64url (strict decoders refuse it)"
                ),
                Some(name),
            );
            normalized = trimmed.replace('+', "-").replace('/', "_");
            normalized.as_str()
        } else {
            trimmed
        };
        match URL_SAFE_NO_PAD.decode(trimmed) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                self.add(
                    Class::Malformed,
                    JWK_BAD_BASE64URL,
                    format!("{name} is not base64url: {e}"),
                    Some(name),
                );
                None
            }
        }
    }
}
