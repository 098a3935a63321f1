//! Single flight: identical concurrent requests share one upstream fetch. The leader's work
//! runs in its own task, so a caller that disconnects does not cancel the others.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

type Flight<V> = Shared<BoxFuture<'static, Option<V>>>;

/// Whether this caller started the work or joined work already under way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Started the fetch.
    Leader,
    /// Shared an in-flight fetch.
    Joined,
}

/// In-flight work by key.
pub struct SingleFlight<K, V: Clone> {
    flights: Arc<Mutex<HashMap<K, Flight<V>>>>,
}

impl<K, V> Default for SingleFlight<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn default() -> Self {
        SingleFlight {
            flights: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

impl<K, V> SingleFlight<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Runs `make()` unless the same key is already in flight, and returns its result.
    /// `None` means the work task died (panicked or was aborted).
    pub async fn run<F, Fut>(&self, key: K, make: F) -> (Option<V>, Role)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V> + Send + 'static,
    {
        let (flight, role) = {
            let Ok(mut flights) = self.flights.lock() else {
                return (None, Role::Leader);
            };
            if let Some(flight) = flights.get(&key) {
                (flight.clone(), Role::Joined)
            } else {
                // The work removes its own entry when it finishes, even when every waiter
                // gave up (deadline, disconnect): a finished flight is never joined later.
                let map = self.flights.clone();
                let done_key = key.clone();
                let work = make();
                let work = tokio::spawn(async move {
                    let value = work.await;
                    if let Ok(mut flights) = map.lock() {
                        flights.remove(&done_key);
                    }
                    value
                });
                let flight: Flight<V> = async move { work.await.ok() }.boxed().shared();
                flights.insert(key, flight.clone());
                (flight, Role::Leader)
            }
        };
        (flight.await, role)
    }

    /// Keys in flight now (for the in-flight gauge and tests).
    pub fn in_flight(&self) -> usize {
        self.flights.lock().map(|f| f.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_identical_requests_run_once() {
        let flights: Arc<SingleFlight<&'static str, usize>> = Arc::new(SingleFlight::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let flights = flights.clone();
            let runs = runs.clone();
            tasks.push(tokio::spawn(async move {
                flights
                    .run("k", move || async move {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        runs.fetch_add(1, Ordering::SeqCst) + 41
                    })
                    .await
            }));
        }
        let mut leaders = 0;
        for t in tasks {
            let (value, role) = t.await.unwrap();
            assert_eq!(value, Some(41));
            if role == Role::Leader {
                leaders += 1;
            }
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(leaders, 1);
        assert_eq!(flights.in_flight(), 0);
    }

    #[tokio::test]
    async fn work_abandoned_by_every_waiter_finishes_and_is_not_joined_later() {
        let flights: Arc<SingleFlight<u8, u8>> = Arc::new(SingleFlight::default());
        let waiter = flights.run(1, || async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            1
        });
        assert!(
            tokio::time::timeout(Duration::from_millis(5), waiter)
                .await
                .is_err()
        );
        assert_eq!(flights.in_flight(), 1, "the work goes on without waiters");
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(flights.in_flight(), 0, "and removes itself when done");
        let (value, role) = flights.run(1, || async { 2 }).await;
        assert_eq!((value, role), (Some(2), Role::Leader));
    }

    #[tokio::test]
    async fn different_keys_run_separately_and_later_requests_run_again() {
        let flights: SingleFlight<u8, u8> = SingleFlight::default();
        let (a, _) = flights.run(1, || async { 1 }).await;
        let (b, _) = flights.run(2, || async { 2 }).await;
        let (c, role) = flights.run(1, || async { 3 }).await;
        assert_eq!((a, b, c), (Some(1), Some(2), Some(3)));
        assert_eq!(role, Role::Leader);
    }
}
