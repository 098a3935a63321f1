//! The async side of the fair fetch slots: waiting requests park on a oneshot channel and
//! are woken by [`fair::FairSlots`] decisions; a slot is charged to a caller and given back
//! when its [`FetchSlot`] is dropped (also when the fetch task is cancelled).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::fair::{Dispatch, Enter, FairConfig, FairSlots, Ticket};
use super::{Limit, Refusal};
use crate::config::LimitsConfig;

type Wake = oneshot::Sender<Result<(), Limit>>;

struct State {
    fair: FairSlots,
    waiters: HashMap<Ticket, (String, Wake)>,
    next_ticket: Ticket,
}

impl State {
    /// Tells waiters what `dispatch` decided. A slot granted to a waiter that is gone
    /// (cancelled) is released at once, which may grant it to the next one.
    fn apply(&mut self, mut dispatch: Dispatch) {
        loop {
            for ticket in dispatch.expired {
                if let Some((_, wake)) = self.waiters.remove(&ticket) {
                    let _ = wake.send(Err(Limit::QueueTimeout));
                }
            }
            let mut orphaned = Vec::new();
            for ticket in dispatch.granted {
                if let Some((caller, wake)) = self.waiters.remove(&ticket)
                    && wake.send(Ok(())).is_err()
                {
                    orphaned.push(caller);
                }
            }
            let Some(caller) = orphaned.pop() else { return };
            let now = Instant::now();
            let mut next = self.fair.release(&caller, now);
            for caller in orphaned {
                let more = self.fair.release(&caller, now);
                next.granted.extend(more.granted);
                next.expired.extend(more.expired);
            }
            dispatch = next;
        }
    }
}

/// Global fetch slots shared fairly between callers.
pub struct Slots {
    state: Arc<Mutex<State>>,
    max_wait: Duration,
}

/// A held fetch slot; dropping it gives the slot back (to the fairest waiting caller).
pub struct FetchSlot {
    state: Arc<Mutex<State>>,
    caller: String,
    /// How long the request waited for this slot (for the queue-wait histogram).
    pub waited: Duration,
}

impl Drop for FetchSlot {
    fn drop(&mut self) {
        let mut state = lock(&self.state);
        let dispatch = state.fair.release(&self.caller, Instant::now());
        state.apply(dispatch);
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // The state is consistent after every method of `FairSlots` returns; a panic elsewhere
    // while holding the lock cannot leave it half-updated.
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Slots {
    /// Slots, queue bounds and wait deadline from `[limits]`.
    pub fn new(limits: &LimitsConfig) -> Slots {
        let max_wait = LimitsConfig::ms(limits.max_queue_wait_ms);
        Slots {
            state: Arc::new(Mutex::new(State {
                fair: FairSlots::new(FairConfig {
                    slots: limits.max_concurrent_fetches,
                    reserved: limits.reserved_fetch_slots,
                    max_queued: limits.max_queued_requests,
                    max_queued_per_caller: limits.max_queued_per_caller,
                    max_wait,
                }),
                waiters: HashMap::new(),
                next_ticket: 0,
            })),
            max_wait,
        }
    }

    /// Requests waiting now.
    pub fn waiting(&self) -> usize {
        lock(&self.state).fair.queued()
    }

    /// Slots held now.
    pub fn in_use(&self) -> usize {
        lock(&self.state).fair.in_use()
    }

    /// A slot for `caller`: at once, or after a fair wait of at most `max_queue_wait_ms`.
    pub async fn acquire(&self, caller: &str) -> Result<FetchSlot, Refusal> {
        let started = Instant::now();
        let slot = |waited| FetchSlot {
            state: self.state.clone(),
            caller: caller.to_owned(),
            waited,
        };
        let (ticket, mut woken) = {
            let mut state = lock(&self.state);
            let ticket = state.next_ticket;
            state.next_ticket = state.next_ticket.wrapping_add(1);
            match state.fair.enter(caller, ticket, started) {
                Enter::Granted => return Ok(slot(Duration::ZERO)),
                Enter::CallerQueueFull => return Err(Refusal::soon(Limit::OverloadedCaller)),
                Enter::Queued { shed } => {
                    for t in shed {
                        if let Some((_, wake)) = state.waiters.remove(&t) {
                            let _ = wake.send(Err(Limit::OverloadedCaller));
                        }
                    }
                    let (wake, woken) = oneshot::channel();
                    state.waiters.insert(ticket, (caller.to_owned(), wake));
                    // A slot may be free that this caller could not take directly (it was
                    // over its share): let the fair order decide who gets it now.
                    let dispatch = state.fair.dispatch(started);
                    state.apply(dispatch);
                    (ticket, woken)
                }
            }
        };
        let answer = match tokio::time::timeout(self.max_wait, &mut woken).await {
            Ok(answer) => answer.ok(),
            Err(_) => {
                let mut state = lock(&self.state);
                if state.fair.cancel(caller, ticket) {
                    state.waiters.remove(&ticket);
                    return Err(Refusal::soon(Limit::QueueTimeout));
                }
                drop(state);
                // Granted, shed or expired just as the deadline passed: take that answer.
                woken.try_recv().ok()
            }
        };
        match answer {
            Some(Ok(())) => Ok(slot(started.elapsed())),
            Some(Err(limit)) => Err(Refusal::soon(limit)),
            None => Err(Refusal::soon(Limit::Overloaded)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(n: usize, reserved: usize, wait_ms: u64) -> Arc<Slots> {
        Arc::new(Slots::new(&LimitsConfig {
            max_concurrent_fetches: n,
            reserved_fetch_slots: reserved,
            max_queued_requests: 10_000,
            max_queued_per_caller: 2_000,
            max_queue_wait_ms: wait_ms,
            ..LimitsConfig::default()
        }))
    }

    /// Caller A holds every slot it may and has 1,000 requests queued; caller B arrives
    /// and gets a slot without any of A's fetches ending, and caller C (arriving when
    /// the reserve is used) gets the very next slot freed, ahead of A's queue.
    #[tokio::test]
    async fn caller_b_is_served_while_caller_a_has_a_thousand_queued() {
        let s = slots(4, 1, 60_000);
        let mut held_by_a = Vec::new();
        for _ in 0..3 {
            held_by_a.push(s.acquire("a").await.unwrap());
        }
        let mut queued_a = Vec::new();
        for _ in 0..1_000 {
            let s = s.clone();
            queued_a.push(tokio::spawn(async move { s.acquire("a").await.is_ok() }));
        }
        crate_wait(|| s.waiting() == 1_000).await;
        let b = tokio::time::timeout(Duration::from_secs(10), s.acquire("b"))
            .await
            .expect("b must not wait for a's fetches")
            .unwrap();
        assert_eq!(b.waited, Duration::ZERO);
        assert_eq!(s.in_use(), 4);

        let c = {
            let s = s.clone();
            tokio::spawn(async move { s.acquire("c").await.map(|slot| slot.waited) })
        };
        crate_wait(|| s.waiting() == 1_001).await;
        drop(held_by_a.pop());
        let c_slot = tokio::time::timeout(Duration::from_secs(10), c)
            .await
            .expect("c served by the first freed slot")
            .unwrap();
        assert!(c_slot.is_ok());
        // C's slot was dropped with its task; A's queue proceeds.
        drop(held_by_a);
        drop(b);
        for task in queued_a {
            assert!(task.await.unwrap());
        }
        assert_eq!((s.in_use(), s.waiting()), (0, 0));
    }

    #[tokio::test]
    async fn a_queued_request_times_out_with_queue_timeout() {
        let s = slots(1, 0, 50);
        let _held = s.acquire("a").await.unwrap();
        let refused = s.acquire("b").await.err().unwrap();
        assert_eq!(refused.limit, Limit::QueueTimeout);
        assert!(refused.is_overload());
        assert_eq!(s.waiting(), 0);
    }

    #[tokio::test]
    async fn a_cancelled_waiter_does_not_leak_its_slot() {
        let s = slots(1, 0, 60_000);
        let held = s.acquire("a").await.unwrap();
        let waiter = {
            let s = s.clone();
            tokio::spawn(async move { s.acquire("b").await.is_ok() })
        };
        crate_wait(|| s.waiting() == 1).await;
        waiter.abort();
        let _ = waiter.await;
        drop(held);
        assert_eq!(
            s.in_use(),
            0,
            "the slot granted to the gone waiter came back"
        );
        assert!(s.acquire("c").await.is_ok());
    }

    async fn crate_wait(condition: impl Fn() -> bool) {
        for _ in 0..2_000 {
            if condition() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("condition not reached in 10 s");
    }
}
