//! The settled judgement as the cache keeps it: compact text, not parsed values.
//!
//! A parsed `serde_json::Value` costs tens of bytes per scalar (a document padded with a
//! large array of small numbers is ~20× its text in memory), and signed replies per caller
//! multiply that again. So the cache keeps, per judgement, the claims every answer shares
//! as serialized JSON text (the [`crate::verdict::JudgedClaims`]), the audit facts as text,
//! and a few fixed fields; every answer splices its own head (`iss, aud, iat, exp, jti,
//! cache`) before that text and signs. The accounted size of an entry is its real heap
//! size plus [`ENTRY_OVERHEAD_BYTES`], so `[cache] max_bytes` bounds real memory.
//!
//! A plain serializable struct: a shared cache (Redis) can store it as it is.

use serde::{Deserialize, Serialize};

use crate::kind::Outcome;
use crate::verdict::CacheClaim;

/// Fixed memory per cache entry beyond the heap text counted by [`Settled::heap_bytes`] and
/// the key's strings: the LRU node (key, value, links), its hash-table slot, the `Arc`
/// allocation around [`Settled`], and allocator headers of the four or five allocations.
/// Measured: see `loadlab cachemem` and docs/benchmarks.md (≈ 330 bytes at 100,000 entries);
/// rounded up.
pub const ENTRY_OVERHEAD_BYTES: usize = 512;

/// One settled judgement: what every answer about it shares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settled {
    /// The outcome (for metrics and tests without parsing the text).
    pub outcome: Outcome,
    /// Unix seconds of the fetch (0 when nothing was fetched); the `cache` claim ages from it.
    pub fetched_at: u64,
    /// The document's cache lifetime as fetched (bounded), aged per answer.
    pub cache: CacheClaim,
    /// The judged claims as JSON object text (`url` … `expect`).
    pub claims: String,
    /// The audit facts as JSON object text; empty when no audit sink is configured.
    pub audit: String,
}

impl Settled {
    /// Heap bytes this value owns (string capacities: the real allocation sizes).
    pub fn heap_bytes(&self) -> usize {
        self.claims.capacity() + self.audit.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::FetchFacts;
    use crate::kind::Kind;
    use crate::verdict::JudgedClaims;
    use serde_json::Value;

    /// A document padded with a large array of small numbers: the case that made the old
    /// cache hold ~20× what it counted.
    fn padded(n: usize) -> (String, Value) {
        let text = format!("{{\"pad\":[{}]}}", vec!["0"; n].join(","));
        let value = serde_json::from_str(&text).unwrap();
        (text, value)
    }

    fn settled_for(doc: &Value) -> Settled {
        let facts = FetchFacts::default();
        let judged = JudgedClaims {
            url: "https://a.example/doc.json",
            kind: Kind::Json,
            profile: None,
            outcome: Outcome::Valid,
            problems: &[],
            fetch: Some(&facts),
            sha256: Some("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"),
            document: Some(doc),
            expect: None,
        };
        Settled {
            outcome: Outcome::Valid,
            fetched_at: 0,
            cache: CacheClaim::default(),
            claims: judged.to_text().unwrap(),
            audit: String::new(),
        }
    }

    #[test]
    fn accounted_size_is_the_text_not_the_parsed_form() {
        let (text, doc) = padded(100_000);
        let s = settled_for(&doc);
        // The claims text holds the document as text: ~2 bytes per element here, where a
        // parsed Value holds 32+ bytes per element.
        assert!(s.heap_bytes() >= text.len());
        assert!(
            s.heap_bytes() < text.len() + 1_024,
            "{} vs {}",
            s.heap_bytes(),
            text.len()
        );
        assert!(s.heap_bytes() * 10 < 100_000 * std::mem::size_of::<Value>());
        // Capacity is what is counted (shrunk to fit, so no hidden slack).
        assert_eq!(s.claims.capacity(), s.claims.len());
    }

    #[test]
    fn settled_round_trips_through_serde_for_a_shared_cache() {
        let (_, doc) = padded(10);
        let s = settled_for(&doc);
        let bytes = serde_json::to_vec(&s).unwrap();
        let back: Settled = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, s);
    }
}
