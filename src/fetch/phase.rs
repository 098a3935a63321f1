//! One fetch phase (dns, tcp connect, tls, first byte, body) under its own cap, cut short by
//! the fetch's total deadline. Written once so every phase reports the same way: its own
//! timeout code when its cap ran out, `deadline_exceeded` when the total did.

use std::future::Future;
use std::time::{Duration, Instant};

use super::codes;
use crate::problem::{Code, Problem};

/// The time budget of one phase: `min(now + cap, total deadline)`.
#[derive(Clone, Copy, Debug)]
pub struct Phase {
    deadline: Instant,
    total_cut: bool,
    code: Code,
    what: &'static str,
}

impl Phase {
    /// Starts a phase now: `cap` is its own limit, `total` the fetch's absolute deadline,
    /// `code` what a phase timeout is reported as, `what` the phase in the message.
    pub fn start(cap: Duration, total: Instant, code: Code, what: &'static str) -> Phase {
        let own = Instant::now() + cap;
        Phase {
            deadline: own.min(total),
            total_cut: own >= total,
            code,
            what,
        }
    }

    /// The absolute instant the phase must be done by.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The problem for a phase that ran out of time: the phase's own code, or
    /// `deadline_exceeded` when the total deadline was the tighter limit.
    pub fn expired(&self) -> Problem {
        if self.total_cut {
            Problem::error(
                codes::DEADLINE_EXCEEDED,
                format!("total deadline passed during {}", self.what),
            )
        } else {
            Problem::error(self.code, format!("{} timed out", self.what))
        }
    }

    /// Runs `work` within the phase; a timeout becomes [`Phase::expired`].
    pub async fn run<F: Future>(&self, work: F) -> Result<F::Output, Problem> {
        tokio::time::timeout_at(self.deadline.into(), work)
            .await
            .map_err(|_| self.expired())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn phase_cap_or_total_deadline_picks_the_code() {
        let far = Instant::now() + Duration::from_secs(60);
        let own = Phase::start(Duration::ZERO, far, codes::DNS_TIMEOUT, "dns resolution");
        let err = own.run(std::future::pending::<()>()).await.unwrap_err();
        assert_eq!(err.code, codes::DNS_TIMEOUT);

        let near = Instant::now();
        let total = Phase::start(Duration::from_secs(60), near, codes::DNS_TIMEOUT, "dns");
        let err = total.run(std::future::pending::<()>()).await.unwrap_err();
        assert_eq!(err.code, codes::DEADLINE_EXCEEDED);
        assert_eq!(total.deadline(), near);

        let ok = Phase::start(Duration::from_secs(60), far, codes::BODY_TIMEOUT, "body");
        assert_eq!(ok.run(async { 7 }).await.unwrap(), 7);
    }
}
