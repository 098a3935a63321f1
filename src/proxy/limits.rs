//! Admission for tunnels: CONNECT rate per caller and per target host (governor GCRA), and
//! open tunnels per caller and in total. Each wall has its own code (see [`super::codes`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use governor::DefaultKeyedRateLimiter;

use super::codes::{
    PROXY_CALLER_TUNNELS_EXHAUSTED, PROXY_RATE_LIMITED_CALLER, PROXY_RATE_LIMITED_TARGET_HOST,
    PROXY_TUNNELS_EXHAUSTED,
};
use crate::config::ProxyConfig;
use crate::keyed_limit;
use crate::problem::Code;

/// Rate limiters and tunnel counts of one proxy.
pub struct TunnelAdmission {
    callers: DefaultKeyedRateLimiter<String>,
    hosts: DefaultKeyedRateLimiter<String>,
    open: Arc<Mutex<OpenTunnels>>,
    max_total: usize,
    max_per_caller: usize,
}

#[derive(Default)]
struct OpenTunnels {
    total: usize,
    per_caller: HashMap<String, usize>,
}

/// One open tunnel's place; dropping it frees the place (also when the task is cancelled).
pub struct TunnelSlot {
    open: Arc<Mutex<OpenTunnels>>,
    caller: String,
}

impl Drop for TunnelSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.open.lock() {
            open.total = open.total.saturating_sub(1);
            if let Some(n) = open.per_caller.get_mut(&self.caller) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.per_caller.remove(&self.caller);
                }
            }
        }
    }
}

impl TunnelAdmission {
    /// From `[proxy]`.
    pub fn new(config: &ProxyConfig) -> TunnelAdmission {
        TunnelAdmission {
            callers: keyed_limit::keyed(config.per_caller_per_s, config.per_caller_burst),
            hosts: keyed_limit::keyed(config.per_target_host_per_s, config.per_target_host_burst),
            open: Arc::default(),
            max_total: config.max_tunnels,
            max_per_caller: config.max_tunnels_per_caller,
        }
    }

    /// The caller's CONNECT rate (a full key table refuses new callers: fail closed).
    pub fn admit_caller(&self, caller: &str) -> Result<(), Code> {
        keyed_limit::check(&self.callers, &caller.to_owned()).map_err(|_| PROXY_RATE_LIMITED_CALLER)
    }

    /// The target host's tunnel rate (a full key table refuses new hosts: fail closed).
    pub fn admit_host(&self, host: &str) -> Result<(), Code> {
        keyed_limit::check(&self.hosts, &host.to_owned())
            .map_err(|_| PROXY_RATE_LIMITED_TARGET_HOST)
    }

    /// A place for one more open tunnel, or which cap is full.
    pub fn open_slot(&self, caller: &str) -> Result<TunnelSlot, Code> {
        let mut open = self.open.lock().map_err(|_| PROXY_TUNNELS_EXHAUSTED)?;
        if open.total >= self.max_total {
            return Err(PROXY_TUNNELS_EXHAUSTED);
        }
        let mine = open.per_caller.get(caller).copied().unwrap_or(0);
        if mine >= self.max_per_caller {
            return Err(PROXY_CALLER_TUNNELS_EXHAUSTED);
        }
        open.total += 1;
        open.per_caller.insert(caller.to_owned(), mine + 1);
        Ok(TunnelSlot {
            open: self.open.clone(),
            caller: caller.to_owned(),
        })
    }

    /// Tunnels open now.
    pub fn open_tunnels(&self) -> usize {
        self.open.lock().map(|o| o.total).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tunnel_caps_per_caller_and_total_free_on_drop() {
        let config = ProxyConfig {
            max_tunnels: 3,
            max_tunnels_per_caller: 2,
            ..ProxyConfig::default()
        };
        let a = TunnelAdmission::new(&config);
        let s1 = a.open_slot("a").unwrap();
        let _s2 = a.open_slot("a").unwrap();
        assert_eq!(a.open_slot("a").err(), Some(PROXY_CALLER_TUNNELS_EXHAUSTED));
        let _s3 = a.open_slot("b").unwrap();
        assert_eq!(a.open_slot("c").err(), Some(PROXY_TUNNELS_EXHAUSTED));
        drop(s1);
        assert_eq!(a.open_tunnels(), 2);
        assert!(a.open_slot("a").is_ok());
    }

    #[test]
    fn rates_refuse_past_the_burst() {
        let config = ProxyConfig {
            per_caller_per_s: 1,
            per_caller_burst: 2,
            per_target_host_per_s: 1,
            per_target_host_burst: 1,
            ..ProxyConfig::default()
        };
        let a = TunnelAdmission::new(&config);
        assert!(a.admit_caller("a").is_ok());
        assert!(a.admit_caller("a").is_ok());
        assert_eq!(a.admit_caller("a"), Err(PROXY_RATE_LIMITED_CALLER));
        assert!(a.admit_caller("b").is_ok());
        assert!(a.admit_host("x.test").is_ok());
        assert_eq!(a.admit_host("x.test"), Err(PROXY_RATE_LIMITED_TARGET_HOST));
    }
}
