//! The host's own addresses, so the policy can refuse to let the service be turned on
//! itself (or on a neighbour reachable through one of its interfaces).
//!
//! Read once at start-up for the policy ([`interface_addresses`]), and again at connect
//! time through [`LiveSelfAddrs`]: interfaces change while the service runs (IPv6 temporary
//! addresses rotate, a VIP moves in), and an address added later must be refused too. The
//! live snapshot is refreshed at most every [`REFRESH_INTERVAL`] (one `getifaddrs` call),
//! so the connect path pays for a syscall at most once a second.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Oldest a live snapshot may be when a connection is checked against it.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// Every address configured on a local interface; empty when they cannot be read (the
/// range table still blocks loopback and private ranges in that case).
pub fn interface_addresses() -> Vec<IpAddr> {
    match SystemInterfaces.addresses() {
        Ok(addrs) => addrs,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list interface addresses; self-address rule covers listen addresses only");
            Vec::new()
        }
    }
}

/// Where the interface addresses come from (the system, or a test's list).
pub trait InterfaceSource: Send + Sync {
    /// Every address on every interface now.
    fn addresses(&self) -> std::io::Result<Vec<IpAddr>>;
}

/// The operating system's interfaces (`getifaddrs`).
pub struct SystemInterfaces;

impl InterfaceSource for SystemInterfaces {
    fn addresses(&self) -> std::io::Result<Vec<IpAddr>> {
        Ok(if_addrs::get_if_addrs()?
            .into_iter()
            .map(|i| i.ip())
            .collect())
    }
}

struct Snapshot {
    taken: Option<Instant>,
    addrs: Arc<HashSet<IpAddr>>,
}

/// A refreshed view of the host's own addresses.
pub struct LiveSelfAddrs {
    source: Box<dyn InterfaceSource>,
    max_age: Duration,
    snapshot: Mutex<Snapshot>,
}

impl LiveSelfAddrs {
    /// Reads `source` when the snapshot is older than `max_age`.
    pub fn new(source: Box<dyn InterfaceSource>, max_age: Duration) -> LiveSelfAddrs {
        LiveSelfAddrs {
            source,
            max_age,
            snapshot: Mutex::new(Snapshot {
                taken: None,
                addrs: Arc::new(HashSet::new()),
            }),
        }
    }

    /// The system's interfaces, refreshed every [`REFRESH_INTERVAL`].
    pub fn system() -> LiveSelfAddrs {
        LiveSelfAddrs::new(Box::new(SystemInterfaces), REFRESH_INTERVAL)
    }

    /// The addresses as of at most `max_age` before `now`. When the source fails, the last
    /// good snapshot is kept (and retried at the next interval): failing open to an empty
    /// set would forget addresses we know are ours.
    pub fn current(&self, now: Instant) -> Arc<HashSet<IpAddr>> {
        let Ok(mut snap) = self.snapshot.lock() else {
            return Arc::new(HashSet::new());
        };
        let fresh = snap
            .taken
            .is_some_and(|t| now.saturating_duration_since(t) < self.max_age);
        if !fresh {
            match self.source.addresses() {
                Ok(addrs) => snap.addrs = Arc::new(addrs.into_iter().collect()),
                Err(e) => tracing::warn!(error = %e, "cannot refresh interface addresses"),
            }
            snap.taken = Some(now);
        }
        snap.addrs.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Shared(Arc<Mutex<Vec<IpAddr>>>);

    impl InterfaceSource for Shared {
        fn addresses(&self) -> std::io::Result<Vec<IpAddr>> {
            self.0
                .lock()
                .map(|v| v.clone())
                .map_err(|_| std::io::Error::other("poisoned"))
        }
    }

    struct Failing;

    impl InterfaceSource for Failing {
        fn addresses(&self) -> std::io::Result<Vec<IpAddr>> {
            Err(std::io::Error::other("no netlink"))
        }
    }

    #[test]
    fn an_address_added_later_is_seen_within_the_refresh_interval() {
        let list = Arc::new(Mutex::new(vec!["192.0.2.1".parse::<IpAddr>().unwrap()]));
        let live = LiveSelfAddrs::new(Box::new(Shared(list.clone())), Duration::from_secs(1));
        let t0 = Instant::now();
        let added: IpAddr = "2001:db8::77".parse().unwrap();
        assert!(live.current(t0).contains(&"192.0.2.1".parse().unwrap()));
        list.lock().unwrap().push(added);
        assert!(
            !live
                .current(t0 + Duration::from_millis(999))
                .contains(&added),
            "cached snapshot"
        );
        assert!(live.current(t0 + Duration::from_secs(1)).contains(&added));
    }

    #[test]
    fn a_failing_source_keeps_an_empty_set_and_does_not_panic() {
        let live = LiveSelfAddrs::new(Box::new(Failing), Duration::from_secs(1));
        assert!(live.current(Instant::now()).is_empty());
    }
}
