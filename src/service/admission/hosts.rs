//! Per-target-host budgets: every upstream hop (the URL asked for and each redirect
//! target) is charged to the caller's budget for that host *and* to the host's global
//! ceiling. The caller's budget is checked first, so a caller that exhausts its own share
//! is refused without spending the ceiling other callers need; the ceiling still bounds
//! what all callers together send to one host.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::DefaultKeyedRateLimiter;

use super::{Limit, Refusal};
use crate::config::RateConfig;
use crate::fetch::HopGate;
use crate::keyed_limit::{self, Denied};
use crate::problem::Problem;

/// [`keyed_limit::check`] answered as the service's [`Refusal`] for `limit` (at least 1 s
/// `retry_after`, so a client never spins).
pub(crate) fn check_keyed<K>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
    limit: Limit,
) -> Result<(), Refusal>
where
    K: std::hash::Hash + Eq + Clone,
{
    keyed_limit::check(limiter, key).map_err(|denied| match denied {
        Denied::TooManyKeys => Refusal::soon(limit),
        Denied::Rate { retry_after } => Refusal {
            limit,
            retry_after: retry_after.max(Duration::from_secs(1)),
        },
    })
}

/// Per-(caller, host) budgets under per-host ceilings.
pub struct HostBudgets {
    ceiling: DefaultKeyedRateLimiter<String>,
    per_caller: DefaultKeyedRateLimiter<(String, String)>,
}

impl HostBudgets {
    /// Builds both limiters from `[rate]`.
    pub fn new(rate: &RateConfig) -> HostBudgets {
        HostBudgets {
            ceiling: keyed_limit::keyed(rate.per_target_host_per_s, rate.per_target_host_burst),
            per_caller: keyed_limit::keyed(
                rate.per_caller_target_host_per_s,
                rate.per_caller_target_host_burst,
            ),
        }
    }

    /// One upstream hop by `caller` to `host`: the caller's share first, then the ceiling.
    pub fn admit(&self, caller: &str, host: &str) -> Result<(), Refusal> {
        check_keyed(
            &self.per_caller,
            &(caller.to_owned(), host.to_owned()),
            Limit::CallerTargetHost,
        )?;
        check_keyed(&self.ceiling, &host.to_owned(), Limit::TargetHost)
    }
}

/// The fetcher's per-hop gate for one fetch on behalf of one caller.
///
/// Hop 0 is admitted by the service before it takes a fetch slot (so a refused first hop
/// costs no slot); this gate charges hops 1.. (redirect targets) before their DNS query and
/// connection. A refusal ends the fetch, and the service answers the request with the same
/// retryable 429 a refused first hop gets (never a cached verdict): the document may well
/// be fine, the service just may not fetch it now.
pub struct CallerHops {
    budgets: Arc<HostBudgets>,
    caller: String,
    refused: Mutex<Option<Refusal>>,
}

impl CallerHops {
    /// A gate charging hops to `caller`.
    pub fn new(budgets: Arc<HostBudgets>, caller: &str) -> CallerHops {
        CallerHops {
            budgets,
            caller: caller.to_owned(),
            refused: Mutex::new(None),
        }
    }

    /// The refusal that ended the fetch, if a hop was refused.
    pub fn refused(&self) -> Option<Refusal> {
        self.refused.lock().ok().and_then(|r| *r)
    }
}

impl HopGate for CallerHops {
    fn admit_hop(&self, hop: usize, host: &str) -> Result<(), Problem> {
        if hop == 0 {
            return Ok(());
        }
        self.budgets.admit(&self.caller, host).map_err(|refusal| {
            if let Ok(mut slot) = self.refused.lock() {
                *slot = Some(refusal);
            }
            Problem::error(
                refusal.code(),
                format!("redirect target {host} is over its fetch rate; retry later"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::refusal::{RATE_LIMITED_CALLER_TARGET_HOST, RATE_LIMITED_TARGET_HOST};

    fn budgets(host: (u32, u32), caller_host: (u32, u32)) -> HostBudgets {
        HostBudgets::new(&RateConfig {
            per_target_host_per_s: host.0,
            per_target_host_burst: host.1,
            per_caller_target_host_per_s: caller_host.0,
            per_caller_target_host_burst: caller_host.1,
            ..RateConfig::default()
        })
    }

    #[test]
    fn one_caller_cannot_spend_another_callers_host_budget() {
        let b = budgets((1, 10), (1, 6));
        for _ in 0..6 {
            assert!(b.admit("greedy", "shared.example").is_ok());
        }
        // The greedy caller is stopped by its own share; its refusals cost the host nothing.
        for _ in 0..100 {
            assert_eq!(
                b.admit("greedy", "shared.example").unwrap_err().code(),
                RATE_LIMITED_CALLER_TARGET_HOST
            );
        }
        for _ in 0..4 {
            assert!(b.admit("honest", "shared.example").is_ok());
        }
        // The ceiling (10) still protects the host from both together.
        assert_eq!(
            b.admit("third", "shared.example").unwrap_err().code(),
            RATE_LIMITED_TARGET_HOST
        );
        assert!(b.admit("third", "other.example").is_ok());
    }

    #[test]
    fn defaults_let_a_hosting_platform_through_and_bound_the_host() {
        let b = HostBudgets::new(&RateConfig::default());
        for i in 0..50 {
            assert!(b.admit("as", "platform.example").is_ok(), "request {i}");
        }
        let limit = crate::config::DEFAULT_RATE_PER_HOST_BURST;
        let mut passed = 50;
        for caller in ["as2", "as3", "as4"] {
            while b.admit(caller, "platform.example").is_ok() {
                passed += 1;
            }
        }
        assert!(passed <= limit + 1, "{passed} passed");
    }

    #[test]
    fn hop_gate_charges_redirect_hops_only_and_remembers_the_refusal() {
        let b = Arc::new(budgets((100, 100), (1, 1)));
        let gate = CallerHops::new(b.clone(), "as");
        assert!(gate.admit_hop(0, "a.example").is_ok());
        assert!(gate.admit_hop(1, "victim.example").is_ok());
        assert_eq!(gate.refused(), None);
        let problem = gate.admit_hop(2, "victim.example").unwrap_err();
        assert_eq!(problem.code, RATE_LIMITED_CALLER_TARGET_HOST);
        assert_eq!(
            gate.refused().map(|r| r.code()),
            Some(RATE_LIMITED_CALLER_TARGET_HOST)
        );
    }
}
