//! The pending-response byte budget.
//!
//! A response body exists in memory from the moment the handler returns until the peer has
//! read it. An h2 peer that announces an initial window of 0 and opens many streams never
//! reads any, so without a bound the server holds every response it produced (the issue 12
//! OOM). Each response is charged its length against a process-wide budget and its
//! connection's share before it is answered; the charge is released when the body has been
//! handed to the transport within the peer's window, or dropped (stream reset, connection
//! closed). A response that does not fit is replaced by a small shared `503 server_busy`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use prometheus::IntGauge;

/// A pool of bytes; pure accounting with atomics, no I/O.
#[derive(Debug)]
pub struct ByteBudget {
    limit: usize,
    used: AtomicUsize,
}

impl ByteBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Arc<ByteBudget> {
        Arc::new(ByteBudget {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    /// Bytes charged now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::SeqCst)
    }

    /// True when nothing more fits (a cheap check before doing expensive work).
    pub fn is_full(&self) -> bool {
        self.used() >= self.limit
    }

    /// Takes `n` bytes if they fit.
    fn try_take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(n).filter(|total| *total <= self.limit)
            })
            .is_ok()
    }

    fn give_back(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::SeqCst);
    }
}

/// Which budget refused a charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shed {
    /// The connection's share.
    Connection,
    /// The process-wide budget.
    Global,
}

/// Bytes held for one response; released on drop.
#[derive(Debug)]
pub struct Charge {
    global: Arc<ByteBudget>,
    connection: Arc<ByteBudget>,
    gauge: IntGauge,
    bytes: usize,
}

impl Charge {
    /// Charges `bytes` to the connection's share and the global budget, or neither.
    pub fn take(
        global: &Arc<ByteBudget>,
        connection: &Arc<ByteBudget>,
        gauge: &IntGauge,
        bytes: usize,
    ) -> Result<Charge, Shed> {
        if !connection.try_take(bytes) {
            return Err(Shed::Connection);
        }
        if !global.try_take(bytes) {
            connection.give_back(bytes);
            return Err(Shed::Global);
        }
        gauge.add(i64::try_from(bytes).unwrap_or(i64::MAX));
        Ok(Charge {
            global: global.clone(),
            connection: connection.clone(),
            gauge: gauge.clone(),
            bytes,
        })
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.global.give_back(self.bytes);
        self.connection.give_back(self.bytes);
        self.gauge
            .sub(i64::try_from(self.bytes).unwrap_or(i64::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gauge() -> IntGauge {
        IntGauge::new("g", "g").unwrap()
    }

    #[test]
    fn charges_both_and_releases_on_drop() {
        let global = ByteBudget::new(100);
        let conn = ByteBudget::new(60);
        let g = gauge();
        let a = Charge::take(&global, &conn, &g, 40).unwrap();
        assert_eq!((global.used(), conn.used(), g.get()), (40, 40, 40));
        assert_eq!(
            Charge::take(&global, &conn, &g, 21).unwrap_err(),
            Shed::Connection
        );
        assert_eq!((global.used(), conn.used()), (40, 40));
        drop(a);
        assert_eq!((global.used(), conn.used(), g.get()), (0, 0, 0));
    }

    #[test]
    fn global_refusal_gives_the_connection_share_back() {
        let global = ByteBudget::new(50);
        let c1 = ByteBudget::new(40);
        let c2 = ByteBudget::new(40);
        let g = gauge();
        let _a = Charge::take(&global, &c1, &g, 40).unwrap();
        assert_eq!(
            Charge::take(&global, &c2, &g, 20).unwrap_err(),
            Shed::Global
        );
        assert_eq!(c2.used(), 0);
        assert!(!global.is_full());
        let _b = Charge::take(&global, &c2, &g, 10).unwrap();
        assert!(global.is_full());
        assert_eq!(g.get(), 50);
    }

    #[test]
    fn concurrent_charges_never_exceed_the_limit() {
        let global = ByteBudget::new(1_000);
        let g = gauge();
        let held = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    let conn = ByteBudget::new(usize::MAX);
                    for _ in 0..200 {
                        if let Ok(c) = Charge::take(&global, &conn, &g, 7) {
                            held.lock().unwrap().push(c);
                        }
                    }
                });
            }
        });
        assert!(global.used() <= 1_000);
        assert_eq!(global.used(), held.lock().unwrap().len() * 7);
    }
}
