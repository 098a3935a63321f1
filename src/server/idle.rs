//! Connection lifetime bounds that hyper does not give: a deadline for the first complete
//! request and an idle timeout, for HTTP/1.1 and h2c alike.
//!
//! hyper's `header_read_timeout` covers HTTP/1 request heads only, and h2 has no idle
//! timeout at all: a peer that sends the h2 preface and then nothing (or answers PINGs for
//! ever) would hold a connection slot for good, and `max_connections` of them lock the API
//! out. Here a connection counts as *active* only while a request handler runs (from a
//! complete request head to the response head); PINGs, SETTINGS and responses the peer does
//! not read do not count. A watcher closes the connection when it has been inactive too long.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The two limits, from `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct IdleLimits {
    /// From accept to the first complete request head.
    pub first_request: Duration,
    /// With no request being handled, after at least one was.
    pub idle: Duration,
}

/// What the watcher does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Close: no first request in time.
    CloseFirstRequest,
    /// Close: idle too long.
    CloseIdle,
    /// Look again after this long.
    WaitFor(Duration),
}

/// Pure decision: `inactive_for` is the time since the connection opened (no request yet)
/// or since the last handler finished.
pub fn decide(in_flight: usize, served: bool, inactive_for: Duration, limits: IdleLimits) -> Next {
    let limit = if served {
        limits.idle
    } else {
        limits.first_request
    };
    if in_flight > 0 {
        return Next::WaitFor(limit);
    }
    match limit.checked_sub(inactive_for) {
        Some(left) if !left.is_zero() => Next::WaitFor(left),
        _ if served => Next::CloseIdle,
        _ => Next::CloseFirstRequest,
    }
}

/// One connection's activity, shared by its request handlers and its watcher.
#[derive(Debug)]
pub struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    served: AtomicBool,
    /// Milliseconds after `opened` of the last handler start or end.
    last_change_ms: AtomicU64,
    /// Set (and notified) when the server needs this connection's slot back.
    evicted: AtomicBool,
    evict: Notify,
}

impl Activity {
    /// A connection accepted now.
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            last_change_ms: AtomicU64::new(0),
            evicted: AtomicBool::new(false),
            evict: Notify::new(),
        })
    }

    /// `Some(inactive_for)` if no handler runs and it was not evicted already: a candidate
    /// for eviction when every connection slot is taken.
    pub fn evictable(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::SeqCst) > 0 || self.evicted.load(Ordering::SeqCst) {
            return None;
        }
        let since = Duration::from_millis(self.last_change_ms.load(Ordering::SeqCst));
        Some(self.opened.elapsed().saturating_sub(since))
    }

    /// Asks the connection to close now (its slot is needed).
    pub fn evict(&self) {
        self.evicted.store(true, Ordering::SeqCst);
        self.evict.notify_one();
    }

    fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_change_ms.store(ms, Ordering::SeqCst);
    }

    /// A request head arrived; the connection is active until the guard drops.
    pub fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.served.store(true, Ordering::SeqCst);
        self.touch();
        Busy(self.clone())
    }

    /// The decision for now.
    pub fn next(&self, limits: IdleLimits) -> Next {
        let since = Duration::from_millis(self.last_change_ms.load(Ordering::SeqCst));
        let inactive_for = self.opened.elapsed().saturating_sub(since);
        decide(
            self.in_flight.load(Ordering::SeqCst),
            self.served.load(Ordering::SeqCst),
            inactive_for,
            limits,
        )
    }

    /// Resolves with the close reason (a `CLOSE_REASONS` label) once the connection should
    /// be closed: timed out, or evicted to free its slot.
    pub async fn expired(self: Arc<Self>, limits: IdleLimits) -> &'static str {
        loop {
            let wait = match self.next(limits) {
                Next::CloseFirstRequest => return "first_request_timeout",
                Next::CloseIdle => return "idle_timeout",
                Next::WaitFor(d) => d.max(Duration::from_millis(10)),
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.evict.notified() => {
                    if self.in_flight.load(Ordering::SeqCst) == 0 {
                        return "evicted_idle";
                    }
                    // A request began meanwhile: keep serving it.
                    self.evicted.store(false, Ordering::SeqCst);
                }
            }
        }
    }
}

/// Marks a request handler running; dropping it (handler done or cancelled) ends it.
#[derive(Debug)]
pub struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.touch();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: IdleLimits = IdleLimits {
        first_request: Duration::from_secs(10),
        idle: Duration::from_secs(30),
    };

    #[test]
    fn no_first_request_in_time_closes() {
        assert_eq!(
            decide(0, false, Duration::from_secs(10), LIMITS),
            Next::CloseFirstRequest
        );
        assert_eq!(
            decide(0, false, Duration::from_secs(4), LIMITS),
            Next::WaitFor(Duration::from_secs(6))
        );
    }

    #[test]
    fn idle_after_a_request_closes_on_the_idle_limit() {
        assert_eq!(
            decide(0, true, Duration::from_secs(12), LIMITS),
            Next::WaitFor(Duration::from_secs(18))
        );
        assert_eq!(
            decide(0, true, Duration::from_secs(31), LIMITS),
            Next::CloseIdle
        );
    }

    #[test]
    fn a_running_handler_keeps_it_open() {
        assert_eq!(
            decide(2, true, Duration::from_secs(300), LIMITS),
            Next::WaitFor(Duration::from_secs(30))
        );
    }

    #[tokio::test]
    async fn busy_guard_counts_and_restarts_the_clock() {
        let limits = IdleLimits {
            first_request: Duration::from_millis(40),
            idle: Duration::from_millis(40),
        };
        let activity = Activity::new();
        let busy = activity.begin();
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(matches!(activity.next(limits), Next::WaitFor(_)));
        drop(busy);
        assert!(matches!(activity.next(limits), Next::WaitFor(_)));
        let reason = activity.clone().expired(limits).await;
        assert_eq!(reason, "idle_timeout");
    }
}
