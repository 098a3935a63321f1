//! Connection slots that idlers cannot keep from a real client.
//!
//! `max_connections` bounds the memory of open connections, but a bound alone is a lock: an
//! attacker that opens that many connections and idles (within every timeout, reconnecting
//! as they are cut) would keep each new client waiting. When every slot is taken, a newly
//! accepted connection therefore takes the slot of the connection that has been *inactive*
//! longest (no request being handled — an idler, never a running request), which is closed.
//! A fresh connection is the last to be chosen, so a client that connects and sends its
//! request promptly is served whatever the number of idlers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::idle::Activity;

/// How often a waiting accept asks for another eviction while no slot frees up.
const EVICT_RETRY: Duration = Duration::from_millis(50);
/// Connections evicted at once when the server is full: closing takes a scheduling round,
/// so evicting one per accept would let a reconnecting attacker pace the accept loop (the
/// resource suite measured legitimate p99 of seconds); a small batch (1/64 of the slots, at
/// most this many) leaves headroom while a fresh connection is still the last one chosen.
const EVICT_BATCH: usize = 16;

/// Pure choice: the id of the candidate inactive longest, if any.
pub fn pick_idlest(candidates: impl IntoIterator<Item = (u64, Option<Duration>)>) -> Option<u64> {
    candidates
        .into_iter()
        .filter_map(|(id, inactive)| inactive.map(|d| (id, d)))
        .max_by_key(|(id, d)| (*d, std::cmp::Reverse(*id)))
        .map(|(id, _)| id)
}

/// The slots and the live connections holding them.
pub struct Slots {
    semaphore: Arc<Semaphore>,
    live: Mutex<HashMap<u64, Arc<Activity>>>,
    next_id: AtomicU64,
    batch: usize,
}

/// A taken slot: frees the slot and unregisters the connection on drop.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    slots: Arc<Slots>,
    id: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut live) = self.slots.live.lock() {
            live.remove(&self.id);
        }
    }
}

impl Slots {
    /// `max` concurrent connections.
    pub fn new(max: usize) -> Arc<Slots> {
        Arc::new(Slots {
            semaphore: Arc::new(Semaphore::new(max.max(1))),
            live: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            batch: (max / 64).clamp(1, EVICT_BATCH),
        })
    }

    /// A slot for a connection just accepted, evicting the idlest connection if all are taken.
    pub async fn take(self: &Arc<Self>, activity: &Arc<Activity>) -> Option<Slot> {
        let permit = match self.semaphore.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => loop {
                self.evict_idlest();
                tokio::select! {
                    permit = self.semaphore.clone().acquire_owned() => break permit.ok()?,
                    () = tokio::time::sleep(EVICT_RETRY) => {}
                }
            },
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut live) = self.live.lock() {
            live.insert(id, activity.clone());
        }
        Some(Slot {
            _permit: permit,
            slots: self.clone(),
            id,
        })
    }

    fn evict_idlest(&self) {
        let Ok(live) = self.live.lock() else {
            return;
        };
        for _ in 0..self.batch {
            // An evicted connection is no longer `evictable`, so each round picks the next.
            let victim = pick_idlest(live.iter().map(|(id, a)| (*id, a.evictable())));
            match victim.and_then(|id| live.get(&id)) {
                Some(activity) => activity.evict(),
                None => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_longest_inactive_and_never_a_busy_one() {
        let ms = Duration::from_millis;
        assert_eq!(
            pick_idlest([
                (1, Some(ms(5))),
                (2, None),
                (3, Some(ms(90))),
                (4, Some(ms(7)))
            ]),
            Some(3)
        );
        assert_eq!(pick_idlest([(1, None), (2, None)]), None);
        assert_eq!(pick_idlest([(8, Some(ms(5))), (2, Some(ms(5)))]), Some(2));
    }

    #[tokio::test]
    async fn a_new_connection_evicts_an_idler_when_full() {
        let slots = Slots::new(2);
        let a = Activity::new();
        let b = Activity::new();
        let _sa = slots.take(&a).await.unwrap();
        let busy = b.begin();
        let sb = slots.take(&b).await.unwrap();
        let limits = super::super::idle::IdleLimits {
            first_request: Duration::from_secs(60),
            idle: Duration::from_secs(60),
        };
        // `a` is idle and gets evicted; its connection task would then drop its slot.
        let watcher = tokio::spawn(a.clone().expired(limits));
        let c = Activity::new();
        let slots2 = slots.clone();
        let taker = tokio::spawn(async move { slots2.take(&c).await.is_some() });
        assert_eq!(watcher.await.unwrap(), "evicted_idle");
        assert!(
            b.evictable().is_none(),
            "a running request is never evicted"
        );
        drop(_sa);
        assert!(taker.await.unwrap());
        drop((busy, sb));
    }
}
