//! Lifetimes: pure arithmetic over the origin's cache hints and the configured bounds.
//!
//! Three different clocks, kept apart on purpose (trust is not caching):
//! * the **trust window** of one answer (`exp - iat`, `[signing] trust_s`), per answer;
//! * the **document's cache age** told to the caller (the `cache` claim): the origin's own
//!   `max-age` / `Expires`, bounded by `[cache] max_ttl_s`, aged by the time since the
//!   fetch; never stretched by `min_ttl_s`, and `no-store` says `no_store: true`;
//! * the service's **own cache lifetime** ([`internal_lifetime`]): an internal matter
//!   (`min_ttl_s`/`max_ttl_s` for valid documents, the negative TTLs for failures, and the
//!   duplicate window so identical lookups share one result, failures included).

use crate::config::CacheConfig;
use crate::fetch::media::CacheHints;
use crate::kind::{Kind, Outcome};
use crate::verdict::CacheClaim;

/// Seconds the service caches a judgement by the TTL rules alone; 0 means do not cache.
/// (See [`internal_lifetime`] for the duplicate window on top.)
pub fn cache_lifetime(
    kind: Kind,
    outcome: Outcome,
    hints: &CacheHints,
    cache: &CacheConfig,
) -> u64 {
    match outcome {
        Outcome::Valid => {
            if hints.no_store {
                0
            } else {
                hints
                    .max_age_s
                    .unwrap_or(cache.min_ttl_s)
                    .clamp(cache.min_ttl_s, cache.max_ttl_s)
            }
        }
        _ => {
            if kind == Kind::ClientMetadata {
                cache.negative_ttl_client_metadata_s
            } else {
                cache.negative_ttl_s
            }
        }
    }
}

/// Seconds the service keeps a judgement: [`cache_lifetime`], raised to the duplicate
/// window so identical requests shortly after share the result, failures included (CIMD
/// failures too: see docs/operations.md on the draft's "do not cache errors"). A valid
/// document the origin marked `no-store` is never kept.
pub fn internal_lifetime(
    kind: Kind,
    outcome: Outcome,
    hints: &CacheHints,
    cache: &CacheConfig,
) -> u64 {
    if outcome == Outcome::Valid && hints.no_store {
        return 0;
    }
    cache_lifetime(kind, outcome, hints, cache).max(cache.duplicate_window_s)
}

/// The document's cache lifetime as fetched: the origin's freshness bounded by
/// `max_ttl_s` (never raised by `min_ttl_s`); `no_store` for `no-store` responses and for
/// every non-valid outcome (there is no document to cache).
pub fn document_cache(outcome: Outcome, hints: &CacheHints, cache: &CacheConfig) -> CacheClaim {
    if outcome != Outcome::Valid || hints.no_store {
        return CacheClaim {
            max_age_s: 0,
            no_store: true,
        };
    }
    CacheClaim {
        max_age_s: hints.max_age_s.unwrap_or(0).min(cache.max_ttl_s),
        no_store: false,
    }
}

/// The `cache` claim of one answer: the fetched lifetime minus the time since the fetch.
pub fn aged(fetched: CacheClaim, fetched_at: u64, now: u64) -> CacheClaim {
    CacheClaim {
        max_age_s: fetched
            .max_age_s
            .saturating_sub(now.saturating_sub(fetched_at)),
        no_store: fetched.no_store,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hints(max_age: Option<u64>, no_store: bool) -> CacheHints {
        CacheHints {
            no_store,
            max_age_s: max_age,
            etag: None,
        }
    }

    #[test]
    fn valid_lifetime_is_clamped_to_the_bounds() {
        let c = CacheConfig::default();
        assert_eq!(
            cache_lifetime(Kind::Jwks, Outcome::Valid, &hints(Some(10), false), &c),
            c.min_ttl_s
        );
        assert_eq!(
            cache_lifetime(Kind::Jwks, Outcome::Valid, &hints(Some(3_600), false), &c),
            3_600
        );
        assert_eq!(
            cache_lifetime(
                Kind::Jwks,
                Outcome::Valid,
                &hints(Some(10_000_000), false),
                &c
            ),
            c.max_ttl_s
        );
        assert_eq!(
            cache_lifetime(Kind::Jwks, Outcome::Valid, &hints(None, false), &c),
            c.min_ttl_s
        );
    }

    #[test]
    fn no_store_is_not_cached_nor_shared() {
        let c = CacheConfig::default();
        let h = hints(Some(3_600), true);
        assert_eq!(cache_lifetime(Kind::Jwks, Outcome::Valid, &h, &c), 0);
        assert_eq!(internal_lifetime(Kind::Jwks, Outcome::Valid, &h, &c), 0);
        assert_eq!(
            document_cache(Outcome::Valid, &h, &c),
            CacheClaim {
                max_age_s: 0,
                no_store: true
            }
        );
    }

    #[test]
    fn failures_use_the_negative_ttl_and_cimd_failures_only_the_duplicate_window() {
        let c = CacheConfig::default();
        for outcome in [Outcome::Invalid, Outcome::Blocked, Outcome::Unreachable] {
            let h = hints(Some(3_600), false);
            assert_eq!(
                cache_lifetime(Kind::Jwks, outcome, &h, &c),
                c.negative_ttl_s
            );
            assert_eq!(cache_lifetime(Kind::ClientMetadata, outcome, &h, &c), 0);
            assert_eq!(
                internal_lifetime(Kind::ClientMetadata, outcome, &h, &c),
                c.duplicate_window_s
            );
            assert!(c.duplicate_window_s > 0 && c.duplicate_window_s <= 10);
            assert!(document_cache(outcome, &h, &c).no_store);
        }
    }

    #[test]
    fn the_caller_is_told_the_origin_lifetime_never_stretched() {
        let c = CacheConfig::default();
        // max-age=30 stays 30 although the service keeps it min_ttl_s.
        let short = document_cache(Outcome::Valid, &hints(Some(30), false), &c);
        assert_eq!(short.max_age_s, 30);
        assert!(!short.no_store);
        assert_eq!(
            cache_lifetime(Kind::Jwks, Outcome::Valid, &hints(Some(30), false), &c),
            c.min_ttl_s
        );
        // Bounded by max_ttl_s; nothing said → 0.
        assert_eq!(
            document_cache(Outcome::Valid, &hints(Some(u64::MAX), false), &c).max_age_s,
            c.max_ttl_s
        );
        assert_eq!(
            document_cache(Outcome::Valid, &hints(None, false), &c).max_age_s,
            0
        );
        // Aged by the time since the fetch, never below 0.
        assert_eq!(aged(short, 1_000, 1_010).max_age_s, 20);
        assert_eq!(aged(short, 1_000, 5_000).max_age_s, 0);
        assert_eq!(aged(short, 1_000, 900).max_age_s, 30);
    }
}
