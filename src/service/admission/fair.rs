//! Fair sharing of the global fetch slots between callers — pure bookkeeping, no I/O, no
//! clock (every call takes `now`), so the scheduling rules are unit-tested exactly.
//!
//! Why: with one shared FIFO, a caller within its own rate limit pointing at slow origins
//! fills every slot and the queue, and every other caller waits or gets 503. The rules:
//! - each caller has its own FIFO queue, bounded (`max_queued_per_caller`);
//! - a caller alone may hold every slot but `reserved` ones, so a newly arriving caller
//!   finds a free slot at once instead of waiting for someone's slow fetch to end;
//! - while other callers wait, a caller gets a new slot only below its fair share
//!   (`total / active callers`, at least 1); a freed slot goes to the waiting caller that
//!   holds the fewest slots, ties served round-robin (work conserving: a slot never stays
//!   free while anyone waits);
//! - every queued request has a deadline; past it the request is expired (`queue_timeout`);
//! - when the global queue bound is reached, the newest request of the caller with the
//!   longest queue is shed — the overload is answered to the caller causing it.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Identifies one waiting request (chosen by the caller of this module).
pub type Ticket = u64;

/// Sizes and deadlines of the scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FairConfig {
    /// Global fetch slots.
    pub slots: usize,
    /// Slots a caller alone cannot take (clamped to half the slots, so a small
    /// configuration still lets a lone caller use at least half of them).
    pub reserved: usize,
    /// Waiting requests, all callers together.
    pub max_queued: usize,
    /// Waiting requests per caller.
    pub max_queued_per_caller: usize,
    /// Longest wait for a slot.
    pub max_wait: Duration,
}

/// The answer to one request for a slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Enter {
    /// A slot is held now; call [`FairSlots::release`] when done.
    Granted,
    /// Queued; a later [`Dispatch`] grants or expires it. `shed` lists tickets of other
    /// requests (of the longest queue) pushed out to make room: refuse them.
    Queued {
        /// Tickets refused to make room.
        shed: Vec<Ticket>,
    },
    /// This caller's own queue is full (or it holds the longest queue when all are full).
    CallerQueueFull,
}

/// What changed after a release or a deadline check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dispatch {
    /// Tickets that now hold a slot.
    pub granted: Vec<Ticket>,
    /// Tickets whose deadline passed while queued.
    pub expired: Vec<Ticket>,
}

#[derive(Debug, Default)]
struct Caller {
    in_flight: usize,
    queue: VecDeque<(Ticket, Instant)>,
}

/// The scheduler state.
#[derive(Debug)]
pub struct FairSlots {
    config: FairConfig,
    in_use: usize,
    queued: usize,
    callers: HashMap<String, Caller>,
    /// Callers with a non-empty queue, in round-robin order (front is served next).
    turn: VecDeque<String>,
}

impl FairSlots {
    /// An idle scheduler.
    pub fn new(mut config: FairConfig) -> FairSlots {
        config.slots = config.slots.max(1);
        config.reserved = config.reserved.min(config.slots / 2);
        FairSlots {
            config,
            in_use: 0,
            queued: 0,
            callers: HashMap::new(),
            turn: VecDeque::new(),
        }
    }

    /// Slots held now.
    pub fn in_use(&self) -> usize {
        self.in_use
    }

    /// Requests waiting now, all callers.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Slots `caller` holds now.
    pub fn held_by(&self, caller: &str) -> usize {
        self.callers.get(caller).map_or(0, |c| c.in_flight)
    }

    /// Requests `caller` has waiting now.
    pub fn queued_for(&self, caller: &str) -> usize {
        self.callers.get(caller).map_or(0, |c| c.queue.len())
    }

    fn active_callers(&self) -> usize {
        self.callers.len().max(1)
    }

    /// The most slots `caller` may hold for a new grant now.
    fn cap(&self, caller: &str) -> usize {
        let others_wait = self.turn.iter().any(|c| c != caller);
        if others_wait {
            (self.config.slots / self.active_callers()).max(1)
        } else {
            self.config.slots - self.config.reserved
        }
    }

    /// Asks for a slot for `caller`; `ticket` names the request if it must wait.
    pub fn enter(&mut self, caller: &str, ticket: Ticket, now: Instant) -> Enter {
        let own_queue = self.queued_for(caller);
        if own_queue == 0
            && self.in_use < self.config.slots
            && self.held_by(caller) < self.cap(caller)
        {
            self.grant_to(caller);
            return Enter::Granted;
        }
        if own_queue >= self.config.max_queued_per_caller {
            return Enter::CallerQueueFull;
        }
        let mut shed = Vec::new();
        if self.queued >= self.config.max_queued {
            match self.longest_queue() {
                Some((longest, len)) if longest != caller && len > own_queue + 1 => {
                    if let Some(t) = self.pop_newest(&longest) {
                        shed.push(t);
                    }
                }
                _ => return Enter::CallerQueueFull,
            }
        }
        let entry = self.callers.entry(caller.to_owned()).or_default();
        entry.queue.push_back((ticket, now + self.config.max_wait));
        if entry.queue.len() == 1 {
            self.turn.push_back(caller.to_owned());
        }
        self.queued += 1;
        Enter::Queued { shed }
    }

    /// Takes a waiting request out (its requester gave up); true if it was still queued.
    pub fn cancel(&mut self, caller: &str, ticket: Ticket) -> bool {
        let Some(entry) = self.callers.get_mut(caller) else {
            return false;
        };
        let Some(pos) = entry.queue.iter().position(|(t, _)| *t == ticket) else {
            return false;
        };
        entry.queue.remove(pos);
        self.queued -= 1;
        self.tidy(caller);
        true
    }

    /// A slot held by `caller` is free again; hands free slots to waiting requests.
    pub fn release(&mut self, caller: &str, now: Instant) -> Dispatch {
        if let Some(entry) = self.callers.get_mut(caller)
            && entry.in_flight > 0
        {
            entry.in_flight -= 1;
            self.in_use -= 1;
        }
        self.tidy(caller);
        self.dispatch(now)
    }

    /// Expires requests past their deadline and hands out free slots.
    pub fn dispatch(&mut self, now: Instant) -> Dispatch {
        let mut out = Dispatch::default();
        self.expire(now, &mut out.expired);
        while self.in_use < self.config.slots {
            let Some(next) = self.next_turn() else { break };
            let Some(entry) = self.callers.get_mut(&next) else {
                break;
            };
            let Some((ticket, _)) = entry.queue.pop_front() else {
                break;
            };
            self.queued -= 1;
            self.grant_to(&next);
            out.granted.push(ticket);
        }
        out
    }

    /// The caller served next: the waiting caller holding the fewest slots, ties broken by
    /// turn order, among those below the lone-caller cap (so the reserve stays free for a
    /// caller that has none). It moves to the back of the turn order (or leaves it when
    /// its queue empties), so equal callers alternate.
    fn next_turn(&mut self) -> Option<String> {
        let solo_cap = self.config.slots - self.config.reserved;
        let pos = self
            .turn
            .iter()
            .enumerate()
            .filter(|(_, c)| self.held_by(c) < solo_cap)
            .min_by_key(|(i, c)| (self.held_by(c), *i))
            .map(|(i, _)| i)?;
        let caller = self.turn.remove(pos)?;
        if self.queued_for(&caller) > 1 {
            self.turn.push_back(caller.clone());
        }
        Some(caller)
    }

    fn grant_to(&mut self, caller: &str) {
        self.callers.entry(caller.to_owned()).or_default().in_flight += 1;
        self.in_use += 1;
    }

    fn expire(&mut self, now: Instant, expired: &mut Vec<Ticket>) {
        let mut emptied = Vec::new();
        for (name, entry) in &mut self.callers {
            let before = entry.queue.len();
            entry.queue.retain(|(t, deadline)| {
                let keep = *deadline > now;
                if !keep {
                    expired.push(*t);
                }
                keep
            });
            self.queued -= before - entry.queue.len();
            if before > 0 && entry.queue.is_empty() {
                emptied.push(name.clone());
            }
        }
        for name in emptied {
            self.tidy(&name);
        }
    }

    fn longest_queue(&self) -> Option<(String, usize)> {
        self.callers
            .iter()
            .map(|(n, c)| (n, c.queue.len()))
            .max_by_key(|(_, len)| *len)
            .map(|(n, len)| (n.clone(), len))
    }

    fn pop_newest(&mut self, caller: &str) -> Option<Ticket> {
        let (ticket, _) = self.callers.get_mut(caller)?.queue.pop_back()?;
        self.queued -= 1;
        self.tidy(caller);
        Some(ticket)
    }

    /// Drops a caller's turn when its queue is empty, and its record when it is idle, so
    /// memory follows the callers active now.
    fn tidy(&mut self, caller: &str) {
        let Some(entry) = self.callers.get(caller) else {
            return;
        };
        if entry.queue.is_empty() {
            self.turn.retain(|c| c != caller);
            if entry.in_flight == 0 {
                self.callers.remove(caller);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(slots: usize, reserved: usize, max_queued: usize, per_caller: usize) -> FairSlots {
        FairSlots::new(FairConfig {
            slots,
            reserved,
            max_queued,
            max_queued_per_caller: per_caller,
            max_wait: Duration::from_secs(1),
        })
    }

    #[test]
    fn a_caller_alone_leaves_the_reserve_free_for_the_next_caller() {
        let now = Instant::now();
        let mut s = slots(4, 1, 100, 100);
        for t in 0..3 {
            assert_eq!(s.enter("a", t, now), Enter::Granted);
        }
        assert!(matches!(s.enter("a", 3, now), Enter::Queued { .. }));
        assert_eq!(s.in_use(), 3);
        assert_eq!(
            s.release("a", now).granted,
            vec![3],
            "a's queue gets a's slot back"
        );
        assert_eq!(s.in_use(), 3, "but never the reserve");
        assert_eq!(s.enter("b", 100, now), Enter::Granted, "b served at once");
        assert_eq!(s.held_by("b"), 1);
    }

    #[test]
    fn no_slot_stays_idle_while_callers_below_the_lone_cap_wait() {
        let now = Instant::now();
        let mut s = slots(5, 1, 100, 100);
        for t in 0..4 {
            assert_eq!(s.enter("a", t, now), Enter::Granted);
        }
        for t in 10..13 {
            assert!(matches!(s.enter("a", t, now), Enter::Queued { .. }));
        }
        assert_eq!(s.enter("b", 20, now), Enter::Granted);
        assert!(matches!(s.enter("b", 21, now), Enter::Queued { .. }));
        // a frees two: b (holding fewer) is served first, then a — a freed slot never
        // idles while a caller below the lone-caller cap waits.
        assert_eq!(s.release("a", now).granted, vec![21]);
        assert_eq!(s.release("a", now).granted, vec![10]);
        assert_eq!(s.in_use(), 5);
    }

    #[test]
    fn freed_slots_go_round_robin_to_callers_below_their_share() {
        let now = Instant::now();
        let mut s = slots(4, 1, 100, 100);
        for t in 0..3 {
            assert_eq!(s.enter("a", t, now), Enter::Granted);
        }
        for t in 10..20 {
            assert!(matches!(s.enter("a", t, now), Enter::Queued { .. }));
        }
        assert_eq!(s.enter("b", 100, now), Enter::Granted);
        // All four slots held: b and c now queue behind a's ten waiting requests.
        assert!(matches!(s.enter("b", 101, now), Enter::Queued { .. }));
        assert!(matches!(s.enter("c", 200, now), Enter::Queued { .. }));
        // c holds nothing: served first, ahead of a's ten older requests.
        assert_eq!(s.release("a", now).granted, vec![200]);
        // a and b hold one each: turn order (a queued first), then a goes to the back.
        assert_eq!(s.release("a", now).granted, vec![10]);
        // b holds none now: served before a's next.
        assert_eq!(s.release("b", now).granted, vec![101]);
        assert_eq!(s.held_by("a"), 2);
        assert_eq!(s.queued_for("a"), 9);
    }

    #[test]
    fn the_reserve_is_at_most_half_the_slots() {
        let now = Instant::now();
        let mut s = slots(4, 8, 100, 100);
        assert_eq!(s.enter("a", 1, now), Enter::Granted);
        assert_eq!(s.enter("a", 2, now), Enter::Granted);
        assert!(matches!(s.enter("a", 3, now), Enter::Queued { .. }));
        let mut one = slots(1, 8, 100, 100);
        assert_eq!(one.enter("a", 1, now), Enter::Granted);
    }

    #[test]
    fn over_share_caller_waits_while_others_wait() {
        let now = Instant::now();
        let mut s = slots(2, 0, 100, 100);
        assert_eq!(s.enter("a", 1, now), Enter::Granted);
        assert_eq!(s.enter("a", 2, now), Enter::Granted);
        assert!(matches!(s.enter("b", 3, now), Enter::Queued { .. }));
        assert!(matches!(s.enter("a", 4, now), Enter::Queued { .. }));
        // The freed slot goes to b (holding none), not to a's queued request.
        assert_eq!(s.release("a", now).granted, vec![3]);
        assert_eq!(s.release("a", now).granted, vec![4]);
    }

    #[test]
    fn queued_requests_expire_at_their_deadline() {
        let now = Instant::now();
        let mut s = slots(1, 0, 100, 100);
        assert_eq!(s.enter("a", 1, now), Enter::Granted);
        assert!(matches!(s.enter("a", 2, now), Enter::Queued { .. }));
        let later = now + Duration::from_millis(500);
        assert!(matches!(s.enter("b", 3, later), Enter::Queued { .. }));
        let d = s.dispatch(now + Duration::from_millis(999));
        assert_eq!(d, Dispatch::default());
        let d = s.dispatch(now + Duration::from_secs(1));
        assert_eq!(d.expired, vec![2]);
        assert_eq!(s.queued(), 1);
        let d = s.release("a", now + Duration::from_millis(1_400));
        assert_eq!(d.granted, vec![3]);
        assert_eq!(s.queued(), 0);
    }

    #[test]
    fn per_caller_queue_bound_refuses_only_that_caller() {
        let now = Instant::now();
        let mut s = slots(1, 0, 100, 2);
        assert_eq!(s.enter("a", 1, now), Enter::Granted);
        assert!(matches!(s.enter("a", 2, now), Enter::Queued { .. }));
        assert!(matches!(s.enter("a", 3, now), Enter::Queued { .. }));
        assert_eq!(s.enter("a", 4, now), Enter::CallerQueueFull);
        assert!(matches!(s.enter("b", 5, now), Enter::Queued { .. }));
    }

    #[test]
    fn full_global_queue_sheds_the_longest_queue_not_the_newcomer() {
        let now = Instant::now();
        let mut s = slots(1, 0, 3, 10);
        assert_eq!(s.enter("a", 1, now), Enter::Granted);
        for t in 2..5 {
            assert!(matches!(s.enter("a", t, now), Enter::Queued { .. }));
        }
        assert_eq!(s.enter("b", 10, now), Enter::Queued { shed: vec![4] });
        assert_eq!(s.queued(), 3);
        assert_eq!(s.enter("a", 5, now), Enter::CallerQueueFull);
        // b now has 1, a has 2: b's second request would make them even; b is refused
        // rather than shedding a down to b's size.
        assert_eq!(s.enter("b", 11, now), Enter::CallerQueueFull);
    }

    #[test]
    fn cancel_and_release_forget_idle_callers() {
        let now = Instant::now();
        let mut s = slots(1, 0, 10, 10);
        assert_eq!(s.enter("a", 1, now), Enter::Granted);
        assert!(matches!(s.enter("b", 2, now), Enter::Queued { .. }));
        assert!(s.cancel("b", 2));
        assert!(!s.cancel("b", 2));
        assert_eq!(s.release("a", now), Dispatch::default());
        assert_eq!((s.in_use(), s.queued(), s.callers.len()), (0, 0, 0));
        assert!(s.turn.is_empty());
    }
}
