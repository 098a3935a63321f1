//! Admission control: per-caller and per-target-host rate limits (governor GCRA), a bound
//! on concurrent upstream fetches, and a bound on requests waiting for one. Each limit has
//! its own error code so a 429 or 503 says which wall was hit.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::{LimitsConfig, RateConfig};
use crate::problem::Code;

/// A caller exceeded its request rate.
pub const RATE_LIMITED_CALLER: Code = Code::new("rate_limited_caller");
/// Upstream fetches to one target host exceeded their rate.
pub const RATE_LIMITED_TARGET_HOST: Code = Code::new("rate_limited_target_host");
/// Too many requests already wait for a fetch slot.
pub const OVERLOADED: Code = Code::new("overloaded");

/// Every admission code.
pub const ALL_CODES: &[Code] = &[RATE_LIMITED_CALLER, RATE_LIMITED_TARGET_HOST, OVERLOADED];

/// Distinct keys a keyed limiter holds before idle ones are swept; bounds memory when an
/// attacker varies host names.
pub const MAX_LIMITER_KEYS: usize = 100_000;

/// Which limit refused a request, and when to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The limit's code.
    pub code: Code,
    /// Suggested `Retry-After`.
    pub retry_after: Duration,
}

/// Scope label for the rate-limit metric.
impl Refusal {
    /// Bounded metric label: `caller`, `target_host` or `global`.
    pub fn scope(&self) -> &'static str {
        match self.code.as_str() {
            "rate_limited_caller" => "caller",
            "rate_limited_target_host" => "target_host",
            _ => "global",
        }
    }
}

fn quota(per_s: u32, burst: u32) -> Quota {
    let per_s = NonZeroU32::new(per_s).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(per_s);
    Quota::per_second(per_s).allow_burst(burst)
}

/// All limits of one service instance.
pub struct Admission {
    callers: DefaultKeyedRateLimiter<String>,
    hosts: DefaultKeyedRateLimiter<String>,
    fetch_slots: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
    clock: DefaultClock,
}

/// Holds a fetch slot (and counts as waiting until it has one).
pub struct FetchSlot {
    _permit: OwnedSemaphorePermit,
}

impl Admission {
    /// Builds the limits from config.
    pub fn new(rate: &RateConfig, limits: &LimitsConfig) -> Admission {
        Admission {
            callers: DefaultKeyedRateLimiter::keyed(quota(
                rate.per_caller_per_s,
                rate.per_caller_burst,
            )),
            hosts: DefaultKeyedRateLimiter::keyed(quota(
                rate.per_target_host_per_s,
                rate.per_target_host_burst,
            )),
            fetch_slots: Arc::new(Semaphore::new(limits.max_concurrent_fetches.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting: limits.max_queued_requests,
            clock: DefaultClock::default(),
        }
    }

    fn check(
        &self,
        limiter: &DefaultKeyedRateLimiter<String>,
        key: &str,
        code: Code,
    ) -> Result<(), Refusal> {
        if limiter.len() > MAX_LIMITER_KEYS {
            limiter.retain_recent();
        }
        limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| Refusal {
                code,
                retry_after: not_until
                    .wait_time_from(self.clock.now())
                    .max(Duration::from_secs(1)),
            })
    }

    /// One request from `caller`.
    pub fn admit_caller(&self, caller: &str) -> Result<(), Refusal> {
        self.check(&self.callers, caller, RATE_LIMITED_CALLER)
    }

    /// One upstream fetch to `host`.
    pub fn admit_target_host(&self, host: &str) -> Result<(), Refusal> {
        self.check(&self.hosts, host, RATE_LIMITED_TARGET_HOST)
    }

    /// Waits for a fetch slot, or refuses at once when too many already wait.
    pub async fn fetch_slot(&self) -> Result<FetchSlot, Refusal> {
        if let Ok(permit) = self.fetch_slots.clone().try_acquire_owned() {
            return Ok(FetchSlot { _permit: permit });
        }
        let waiting = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _undo = WaitingGuard(self.waiting.clone());
        if waiting >= self.max_waiting {
            return Err(Refusal {
                code: OVERLOADED,
                retry_after: Duration::from_secs(1),
            });
        }
        match self.fetch_slots.clone().acquire_owned().await {
            Ok(permit) => Ok(FetchSlot { _permit: permit }),
            Err(_) => Err(Refusal {
                code: OVERLOADED,
                retry_after: Duration::from_secs(1),
            }),
        }
    }

    /// Requests waiting for a slot now (the queued gauge).
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }
}

struct WaitingGuard(Arc<AtomicUsize>);

impl Drop for WaitingGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(per_s: u32, burst: u32, slots: usize, queue: usize) -> Admission {
        let rate = RateConfig {
            per_caller_per_s: per_s,
            per_caller_burst: burst,
            per_target_host_per_s: per_s,
            per_target_host_burst: burst,
        };
        let limits = LimitsConfig {
            max_concurrent_fetches: slots,
            max_queued_requests: queue,
            ..LimitsConfig::default()
        };
        Admission::new(&rate, &limits)
    }

    #[test]
    fn caller_burst_then_refusal_with_retry_after() {
        let a = admission(1, 3, 1, 1);
        for _ in 0..3 {
            assert!(a.admit_caller("as").is_ok());
        }
        let refusal = a.admit_caller("as").unwrap_err();
        assert_eq!(refusal.code, RATE_LIMITED_CALLER);
        assert!(refusal.retry_after >= Duration::from_secs(1));
        assert!(
            a.admit_caller("other").is_ok(),
            "callers are limited separately"
        );
    }

    #[test]
    fn target_hosts_are_limited_separately() {
        let a = admission(1, 2, 1, 1);
        assert!(a.admit_target_host("a.example").is_ok());
        assert!(a.admit_target_host("a.example").is_ok());
        assert_eq!(
            a.admit_target_host("a.example").unwrap_err().code,
            RATE_LIMITED_TARGET_HOST
        );
        assert!(a.admit_target_host("b.example").is_ok());
    }

    #[tokio::test]
    async fn queue_bound_refuses_with_overloaded() {
        let a = Arc::new(admission(100, 100, 1, 1));
        let held = a.fetch_slot().await.unwrap();
        let a2 = a.clone();
        let waiter = tokio::spawn(async move { a2.fetch_slot().await.map(|_| ()) });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(a.waiting(), 1);
        let refused = a.fetch_slot().await.err().unwrap();
        assert_eq!(refused.code, OVERLOADED);
        drop(held);
        assert!(waiter.await.unwrap().is_ok());
        assert_eq!(a.waiting(), 0);
    }
}
