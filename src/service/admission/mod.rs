//! Admission control: who may start work now, and who is told to come back later.
//!
//! - [`Admission::admit_caller`]: the caller's request rate (governor GCRA);
//! - [`hosts::HostBudgets`]: upstream fetches per target host, on *every* hop, as a
//!   per-(caller, host) budget under a global per-host ceiling, so the service never floods
//!   a host and one caller cannot spend the budget another caller needs;
//! - [`slots::Slots`]: the global fetch slots, shared fairly between callers
//!   ([`fair`]), with a deadline and a per-caller bound on waiting requests.
//!
//! Every refusal has its own stable code, so a 429 or 503 says which wall was hit, and
//! carries a `retry_after`. Refusals are retryable answers, never verdicts.

pub mod fair;
pub mod hosts;
pub mod slots;

use crate::config::{LimitsConfig, RateConfig};
use crate::keyed_limit;
use crate::problem::Code;
pub use hosts::{CallerHops, HostBudgets};
pub use slots::{FetchSlot, Slots};

/// The admission codes and the refusal type live in [`crate::refusal`] (one refusal enum
/// for the whole API); re-exported here under their established paths.
pub use crate::refusal::{
    Limit, OVERLOADED, OVERLOADED_CALLER, QUEUE_TIMEOUT, RATE_LIMITED_CALLER,
    RATE_LIMITED_CALLER_TARGET_HOST, RATE_LIMITED_TARGET_HOST, Refusal,
};

/// Every admission code.
pub const ALL_CODES: &[Code] = &[
    RATE_LIMITED_CALLER,
    RATE_LIMITED_TARGET_HOST,
    RATE_LIMITED_CALLER_TARGET_HOST,
    OVERLOADED,
    OVERLOADED_CALLER,
    QUEUE_TIMEOUT,
];

/// The key bound of every keyed limiter (defined with the mechanism, [`crate::keyed_limit`]).
pub use crate::keyed_limit::MAX_LIMITER_KEYS;

/// Every scope label [`Refusal::scope`] can return, for pre-registering the metric (the
/// list lives with the metric, a layer below).
pub use crate::telemetry::metrics::SCOPES;

/// All limits of one service instance.
pub struct Admission {
    callers: governor::DefaultKeyedRateLimiter<String>,
    hosts: std::sync::Arc<HostBudgets>,
    slots: Slots,
}

impl Admission {
    /// Builds the limits from config.
    pub fn new(rate: &RateConfig, limits: &LimitsConfig) -> Admission {
        Admission {
            callers: keyed_limit::keyed(rate.per_caller_per_s, rate.per_caller_burst),
            hosts: std::sync::Arc::new(HostBudgets::new(rate)),
            slots: Slots::new(limits),
        }
    }

    /// One request from `caller`.
    pub fn admit_caller(&self, caller: &str) -> Result<(), Refusal> {
        hosts::check_keyed(&self.callers, &caller.to_owned(), Limit::Caller)
    }

    /// One upstream fetch by `caller` to `host` (first hop).
    pub fn admit_target_host(&self, caller: &str, host: &str) -> Result<(), Refusal> {
        self.hosts.admit(caller, host)
    }

    /// The per-hop gate for one fetch on behalf of `caller`: charges every later hop's host.
    pub fn hop_gate(&self, caller: &str) -> std::sync::Arc<CallerHops> {
        std::sync::Arc::new(CallerHops::new(self.hosts.clone(), caller))
    }

    /// Waits (fairly, with a deadline) for a fetch slot charged to `caller`.
    pub async fn fetch_slot(&self, caller: &str) -> Result<FetchSlot, Refusal> {
        self.slots.acquire(caller).await
    }

    /// Requests waiting for a slot now (the queued gauge).
    pub fn waiting(&self) -> usize {
        self.slots.waiting()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn caller_burst_then_refusal_with_retry_after() {
        let rate = RateConfig {
            per_caller_per_s: 1,
            per_caller_burst: 3,
            ..RateConfig::default()
        };
        let a = Admission::new(&rate, &LimitsConfig::default());
        for _ in 0..3 {
            assert!(a.admit_caller("as").is_ok());
        }
        let refusal = a.admit_caller("as").unwrap_err();
        assert_eq!(refusal.code(), RATE_LIMITED_CALLER);
        assert_eq!(refusal.scope(), "caller");
        assert!(!refusal.is_overload());
        assert!(refusal.retry_after >= Duration::from_secs(1));
        assert!(
            a.admit_caller("other").is_ok(),
            "callers are limited separately"
        );
    }

    #[test]
    fn every_code_has_a_scope_in_the_registered_set() {
        for limit in Limit::ALL {
            assert!(SCOPES.contains(&Refusal::soon(limit).scope()), "{limit:?}");
            assert!(ALL_CODES.contains(&limit.code()), "{limit:?}");
        }
    }
}
