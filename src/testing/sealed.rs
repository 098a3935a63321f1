//! The sealed lab's one escape hatch from "loopback only".
//!
//! The adversarial suite runs inside a private network namespace (`unshare -n`) whose only
//! interface is `lo`, with "internal" addresses (10.0.0.1, 169.254.169.254, fd00:ec2::254,
//! …) added to it. There, fixtures must listen on those addresses — or on every address —
//! so that a policy regression would be *seen* as a connection rather than failing to
//! connect. [`SealedNet`] is the proof that the process is in such a namespace: it can only
//! be obtained from [`SealedNet::detect`], which succeeds only when every interface, IPv4
//! route and IPv6 route belongs to `lo`. Nothing bound there can reach another machine.

use std::fs;

/// Proof that this process runs in a network namespace with no interface but `lo`.
#[derive(Debug)]
pub struct SealedNet {
    _private: (),
}

/// Interface names from `/proc/net/dev` (after the two header lines).
fn interfaces(dev: &str) -> Vec<String> {
    dev.lines()
        .skip(2)
        .filter_map(|l| l.split_once(':').map(|(name, _)| name.trim().to_owned()))
        .collect()
}

/// Devices of IPv4 routes in `/proc/net/route` (after the header line).
fn v4_route_devices(route: &str) -> Vec<String> {
    route
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// Devices of IPv6 routes in `/proc/net/ipv6_route` (last column).
fn v6_route_devices(route: &str) -> Vec<String> {
    route
        .lines()
        .filter_map(|l| l.split_whitespace().last().map(str::to_owned))
        .collect()
}

/// Why the namespace is not sealed, or `Ok` when only `lo` exists and every route uses it.
fn check_sealed(dev: &str, v4: &str, v6: &str) -> Result<(), String> {
    let ifaces = interfaces(dev);
    if ifaces.is_empty() {
        return Err("no interfaces listed in /proc/net/dev".into());
    }
    if let Some(other) = ifaces.iter().find(|i| *i != "lo") {
        return Err(format!("interface {other:?} exists besides lo"));
    }
    if let Some(other) = v4_route_devices(v4).iter().find(|d| *d != "lo") {
        return Err(format!("an IPv4 route uses {other:?}"));
    }
    if let Some(other) = v6_route_devices(v6).iter().find(|d| *d != "lo") {
        return Err(format!("an IPv6 route uses {other:?}"));
    }
    Ok(())
}

impl SealedNet {
    /// Succeeds only inside a network namespace whose sole interface is `lo` and whose
    /// routes all use `lo`; otherwise says why not.
    pub fn detect() -> Result<SealedNet, String> {
        let read = |path: &str| fs::read_to_string(path).map_err(|e| format!("{path}: {e}"));
        let dev = read("/proc/net/dev")?;
        let v4 = read("/proc/net/route")?;
        // Missing when IPv6 is disabled: then there are no IPv6 routes at all.
        let v6 = fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default();
        check_sealed(&dev, &v4, &v6)?;
        Ok(SealedNet { _private: () })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV_LO: &str = "Inter-|   Receive\n face |bytes\n    lo:       0       0    0\n";
    const DEV_ETH: &str =
        "Inter-|   Receive\n face |bytes\n    lo:       0       0    0\n  eth0: 1 2 3\n";
    const V4_EMPTY: &str = "Iface\tDestination\tGateway\n";
    const V4_DEFAULT: &str = "Iface\tDestination\tGateway\neth0\t00000000\t0101A8C0\n";
    const V6_LO: &str = "00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000001 00000000 00000001       lo\n";

    #[test]
    fn only_lo_is_sealed() {
        assert!(check_sealed(DEV_LO, V4_EMPTY, V6_LO).is_ok());
        assert!(check_sealed(DEV_LO, V4_EMPTY, "").is_ok());
    }

    #[test]
    fn another_interface_or_route_is_not_sealed() {
        assert!(check_sealed(DEV_ETH, V4_EMPTY, V6_LO).is_err());
        assert!(check_sealed(DEV_LO, V4_DEFAULT, V6_LO).is_err());
        assert!(check_sealed(DEV_LO, V4_EMPTY, &V6_LO.replace("lo\n", "eth0\n")).is_err());
        assert!(check_sealed("", V4_EMPTY, "").is_err());
    }

    #[test]
    fn this_test_process_is_not_sealed_unless_told_so() {
        // The ordinary test run happens in the host namespace; there detect must refuse.
        if std::env::var("PORTCULLIS_SEALED").as_deref() != Ok("1") {
            let dev = fs::read_to_string("/proc/net/dev").unwrap_or_default();
            if interfaces(&dev).iter().any(|i| i != "lo") {
                assert!(SealedNet::detect().is_err());
            }
        }
    }
}
