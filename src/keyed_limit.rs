//! Keyed rate limiters (governor GCRA) with a bound on their keys. The service's caller and
//! host budgets and the proxy's CONNECT rates share this one mechanism, so one memory bound
//! and one fail-closed rule cover every front door.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// Distinct keys a keyed limiter holds before idle ones are swept; bounds memory when an
/// attacker varies host names. Past it (after a sweep), new keys are refused.
pub const MAX_LIMITER_KEYS: usize = 100_000;

/// A keyed limiter of `per_s` per second with a burst of `burst` (0 means 1 per second,
/// burst 0 means a burst of `per_s`: a zero in config never means "unlimited").
pub fn keyed<K: Hash + Eq + Clone>(per_s: u32, burst: u32) -> DefaultKeyedRateLimiter<K> {
    let per_s = NonZeroU32::new(per_s).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(per_s);
    DefaultKeyedRateLimiter::keyed(Quota::per_second(per_s).allow_burst(burst))
}

/// Why a key was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    /// The key is over its rate; it may try again after this long.
    Rate {
        /// Time until the key conforms again.
        retry_after: Duration,
    },
    /// The limiter holds [`MAX_LIMITER_KEYS`] keys that are all still active: new keys are
    /// refused (fail closed) rather than growing without bound.
    TooManyKeys,
}

/// Charges one cell to `key`, sweeping idle keys when the key count passes
/// [`MAX_LIMITER_KEYS`]; when sweeping does not help (an attacker varying keys faster than
/// they go idle), new keys are refused, so memory stays bounded.
pub fn check<K: Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Result<(), Denied> {
    if limiter.len() > MAX_LIMITER_KEYS {
        limiter.retain_recent();
        limiter.shrink_to_fit();
        if limiter.len() > MAX_LIMITER_KEYS {
            return Err(Denied::TooManyKeys);
        }
    }
    limiter.check_key(key).map_err(|not_until| Denied::Rate {
        retry_after: not_until.wait_time_from(DefaultClock::default().now()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refusal_per_key() {
        let limiter = keyed::<String>(1, 2);
        let a = "a".to_owned();
        assert_eq!(check(&limiter, &a), Ok(()));
        assert_eq!(check(&limiter, &a), Ok(()));
        assert!(matches!(check(&limiter, &a), Err(Denied::Rate { .. })));
        assert_eq!(check(&limiter, &"b".to_owned()), Ok(()));
    }

    #[test]
    fn zero_in_config_is_one_per_second_not_unlimited() {
        let limiter = keyed::<u8>(0, 0);
        assert_eq!(check(&limiter, &1), Ok(()));
        assert!(check(&limiter, &1).is_err());
    }
}
