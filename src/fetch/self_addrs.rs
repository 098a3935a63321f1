//! The host's own addresses, read at start-up so the policy can refuse to let the service
//! be turned on itself (or on a neighbour reachable through one of its interfaces).

use std::net::IpAddr;

/// Every address configured on a local interface; empty when they cannot be read (the
/// range table still blocks loopback and private ranges in that case).
pub fn interface_addresses() -> Vec<IpAddr> {
    match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces.into_iter().map(|i| i.ip()).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot list interface addresses; self-address rule covers listen addresses only");
            Vec::new()
        }
    }
}
