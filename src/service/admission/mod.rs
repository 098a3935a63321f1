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

use std::num::NonZeroU32;
use std::time::Duration;

use governor::Quota;

use crate::config::{LimitsConfig, RateConfig};
use crate::problem::Code;
pub use hosts::{CallerHops, HostBudgets};
pub use slots::{FetchSlot, Slots};

/// A caller exceeded its request rate (429).
pub const RATE_LIMITED_CALLER: Code = Code::new("rate_limited_caller");
/// Upstream fetches to one target host, all callers together, exceeded the host's ceiling
/// (429).
pub const RATE_LIMITED_TARGET_HOST: Code = Code::new("rate_limited_target_host");
/// Upstream fetches this caller caused to one target host exceeded its share (429).
pub const RATE_LIMITED_CALLER_TARGET_HOST: Code = Code::new("rate_limited_caller_target_host");
/// The service could not run the request at all (its work task died) (503).
pub const OVERLOADED: Code = Code::new("overloaded");
/// This caller has too many requests waiting for a fetch slot (503); other callers are
/// not affected.
pub const OVERLOADED_CALLER: Code = Code::new("overloaded_caller");
/// The request waited `limits.max_queue_wait_ms` for a fetch slot without getting one (503).
pub const QUEUE_TIMEOUT: Code = Code::new("queue_timeout");

/// Every admission code.
pub const ALL_CODES: &[Code] = &[
    RATE_LIMITED_CALLER,
    RATE_LIMITED_TARGET_HOST,
    RATE_LIMITED_CALLER_TARGET_HOST,
    OVERLOADED,
    OVERLOADED_CALLER,
    QUEUE_TIMEOUT,
];

/// Distinct keys a keyed limiter holds before idle ones are swept; bounds memory when an
/// attacker varies host names. Past it (after a sweep), new keys are refused.
pub const MAX_LIMITER_KEYS: usize = 100_000;

/// Which limit refused a request, and when to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The limit's code.
    pub code: Code,
    /// Suggested `Retry-After` (at least one second).
    pub retry_after: Duration,
}

impl Refusal {
    /// A refusal with the shortest retry hint (one second).
    pub fn soon(code: Code) -> Refusal {
        Refusal {
            code,
            retry_after: Duration::from_secs(1),
        }
    }

    /// Bounded metric label of the limit that refused (never a caller or host name).
    pub fn scope(&self) -> &'static str {
        match self.code.as_str() {
            "rate_limited_caller" => "caller",
            "rate_limited_target_host" => "target_host",
            "rate_limited_caller_target_host" => "caller_target_host",
            "overloaded_caller" => "caller_queue",
            "queue_timeout" => "queue_timeout",
            _ => "global",
        }
    }

    /// True when the refusal is about the caller whose request led the fetch (its host
    /// budget, its queue), not about the target host or the service: a caller that joined
    /// that fetch may try again on its own account.
    pub fn is_caller_scoped(&self) -> bool {
        matches!(
            self.code.as_str(),
            "rate_limited_caller_target_host" | "overloaded_caller" | "queue_timeout"
        )
    }

    /// True for 503 refusals (the service is busy), false for 429 (a rate was exceeded).
    pub fn is_overload(&self) -> bool {
        matches!(
            self.code.as_str(),
            "overloaded" | "overloaded_caller" | "queue_timeout"
        )
    }
}

/// Every scope label [`Refusal::scope`] can return, for pre-registering the metric (the
/// list lives with the metric, a layer below).
pub use crate::telemetry::metrics::SCOPES;

pub(crate) fn quota(per_s: u32, burst: u32) -> Quota {
    let per_s = NonZeroU32::new(per_s).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(per_s);
    Quota::per_second(per_s).allow_burst(burst)
}

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
            callers: governor::DefaultKeyedRateLimiter::keyed(quota(
                rate.per_caller_per_s,
                rate.per_caller_burst,
            )),
            hosts: std::sync::Arc::new(HostBudgets::new(rate)),
            slots: Slots::new(limits),
        }
    }

    /// One request from `caller`.
    pub fn admit_caller(&self, caller: &str) -> Result<(), Refusal> {
        hosts::check_keyed(&self.callers, caller.to_owned(), RATE_LIMITED_CALLER)
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
        assert_eq!(refusal.code, RATE_LIMITED_CALLER);
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
        for code in ALL_CODES {
            assert!(SCOPES.contains(&Refusal::soon(*code).scope()), "{code:?}");
        }
    }
}
