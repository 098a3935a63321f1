//! How long a verdict may be trusted and cached: pure arithmetic over the origin's cache
//! hints and the configured bounds.

use crate::config::CacheConfig;
use crate::fetch::media::CacheHints;
use crate::kind::{Kind, Outcome};

/// Lifetime given to a verdict that is not cached (no-store, or a zero negative TTL): long
/// enough for the caller to act on this one answer, too short to be reused for long.
pub const UNCACHED_VERDICT_LIFETIME_S: u64 = 60;

/// Seconds to cache a judgement; 0 means do not cache.
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

/// Seconds until the verdict's `exp`: the cache lifetime, or a short fixed lifetime when
/// it is not cached.
pub fn verdict_lifetime(cache_lifetime_s: u64) -> u64 {
    if cache_lifetime_s == 0 {
        UNCACHED_VERDICT_LIFETIME_S
    } else {
        cache_lifetime_s
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
    fn no_store_is_not_cached() {
        let c = CacheConfig::default();
        assert_eq!(
            cache_lifetime(Kind::Jwks, Outcome::Valid, &hints(Some(3_600), true), &c),
            0
        );
        assert_eq!(verdict_lifetime(0), UNCACHED_VERDICT_LIFETIME_S);
    }

    #[test]
    fn failures_use_the_negative_ttl_and_cimd_failures_are_not_cached() {
        let c = CacheConfig::default();
        for outcome in [Outcome::Invalid, Outcome::Blocked, Outcome::Unreachable] {
            assert_eq!(
                cache_lifetime(Kind::Jwks, outcome, &hints(Some(3_600), false), &c),
                c.negative_ttl_s
            );
            assert_eq!(
                cache_lifetime(
                    Kind::ClientMetadata,
                    outcome,
                    &hints(Some(3_600), false),
                    &c
                ),
                0
            );
        }
    }
}
