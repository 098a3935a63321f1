//! Problems: the stable, machine-readable reasons behind every non-valid outcome.
//!
//! A [`Code`] is API: callers branch on it, metrics label by it, audit logs index it.
//! Codes are `&'static str` constants declared next to the rule that raises them, so the
//! set of codes is closed at compile time (bounded metric labels) and every module owns
//! its own list (`ALL_CODES`) that `docs/problems.md` is checked against.

use serde::{Serialize, Serializer};
use std::fmt;

use crate::kind::Profile;

/// Stable snake_case name of a problem; never renamed silently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(&'static str);

impl Code {
    /// Declares a code; only `const` items should call this so codes stay a closed set.
    pub const fn new(name: &'static str) -> Self {
        Code(name)
    }

    /// The wire form, also used as a metric label value.
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

/// Whether a problem decides the outcome (`error`) or is only reported (`warning`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The document or fetch cannot be trusted.
    Error,
    /// Worth telling the caller; the outcome stays as it would be without it.
    Warning,
}

/// One reason, with a human sentence and (for documents) the JSON pointer it is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Stable machine name.
    pub code: Code,
    /// Human sentence, lower-case start, no trailing period; may change between releases.
    pub detail: String,
    /// JSON pointer (RFC 6901) into the document, when the problem is about a field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Error or warning.
    pub severity: Severity,
    /// The profile whose rule raised it, for rules that only one profile has (MCP, AT
    /// Protocol); absent for rules of the specifications every profile shares.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
}

impl Problem {
    /// An error: it makes the outcome non-valid.
    pub fn error(code: Code, detail: impl Into<String>) -> Self {
        Problem {
            code,
            detail: detail.into(),
            at: None,
            severity: Severity::Error,
            profile: None,
        }
    }

    /// A warning: reported, but the outcome stays valid.
    pub fn warning(code: Code, detail: impl Into<String>) -> Self {
        Problem {
            code,
            detail: detail.into(),
            at: None,
            severity: Severity::Warning,
            profile: None,
        }
    }

    /// Points the problem at a field of the document.
    pub fn at(mut self, pointer: impl Into<String>) -> Self {
        self.at = Some(pointer.into());
        self
    }

    /// Tags the problem with the profile whose rule raised it.
    pub fn by(mut self, profile: Profile) -> Self {
        self.profile = Some(profile);
        self
    }

    /// True when this problem decides the outcome.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// True when any problem in the list is an error.
pub fn any_error(problems: &[Problem]) -> bool {
    problems.iter().any(Problem::is_error)
}
