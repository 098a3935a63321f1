//! The verdict cache: LRU, bounded by entry count and by bytes, with per-entry expiry.
//! It stores finished judgements, never raw responses, and takes `now` as a parameter so
//! expiry is tested without sleeping.

use std::hash::Hash;
use std::num::NonZeroUsize;
use std::time::Instant;

use lru::LruCache;

/// One cached value with its lifetime and its accounted size.
struct Entry<V> {
    value: V,
    expires: Instant,
    bytes: usize,
}

/// What a lookup found.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<V> {
    /// A live entry.
    Hit(V),
    /// Nothing, or an entry that expired (it is removed).
    Miss,
}

/// The counters the metrics layer reads; defined in telemetry (the lower layer) so
/// telemetry never imports the service.
pub use crate::telemetry::CacheStats;

/// An LRU map with expiry and a byte budget.
pub struct VerdictCache<K: Hash + Eq, V: Clone> {
    map: LruCache<K, Entry<V>>,
    max_bytes: usize,
    bytes: usize,
    evictions: u64,
}

impl<K: Hash + Eq, V: Clone> VerdictCache<K, V> {
    /// A cache of at most `max_entries` entries and `max_bytes` bytes (0 entries: disabled).
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        let cap = NonZeroUsize::new(max_entries.max(1)).unwrap_or(NonZeroUsize::MIN);
        VerdictCache {
            map: LruCache::new(cap),
            max_bytes: if max_entries == 0 { 0 } else { max_bytes },
            bytes: 0,
            evictions: 0,
        }
    }

    /// Returns a live entry and marks it recently used; drops it if expired.
    pub fn get(&mut self, key: &K, now: Instant) -> Lookup<V> {
        let expired = match self.map.get(key) {
            None => return Lookup::Miss,
            Some(entry) if entry.expires > now => return Lookup::Hit(entry.value.clone()),
            Some(_) => true,
        };
        if expired && let Some(entry) = self.map.pop(key) {
            self.bytes -= entry.bytes;
        }
        Lookup::Miss
    }

    /// Stores a value until `expires`; values larger than the whole budget are not stored.
    /// Returns whether it was stored.
    pub fn insert(
        &mut self,
        key: K,
        value: V,
        bytes: usize,
        expires: Instant,
        now: Instant,
    ) -> bool {
        if bytes > self.max_bytes || expires <= now {
            return false;
        }
        if let Some(old) = self.map.pop(&key) {
            self.bytes -= old.bytes;
        }
        while self.bytes + bytes > self.max_bytes || self.map.len() >= self.map.cap().get() {
            match self.map.pop_lru() {
                Some((_, old)) => {
                    self.bytes -= old.bytes;
                    self.evictions += 1;
                }
                None => break,
            }
        }
        self.map.push(
            key,
            Entry {
                value,
                expires,
                bytes,
            },
        );
        self.bytes += bytes;
        true
    }

    /// Current size and eviction count.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.map.len(),
            bytes: self.bytes,
            evictions: self.evictions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn hit_until_expiry_then_miss() {
        let now = Instant::now();
        let mut c = VerdictCache::new(10, 1000);
        assert!(c.insert("a", 1, 10, now + Duration::from_secs(5), now));
        assert_eq!(c.get(&"a", now + Duration::from_secs(4)), Lookup::Hit(1));
        assert_eq!(c.get(&"a", now + Duration::from_secs(5)), Lookup::Miss);
        assert_eq!(c.stats().entries, 0);
        assert_eq!(c.stats().bytes, 0);
    }

    #[test]
    fn entry_count_bound_evicts_least_recently_used() {
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let mut c = VerdictCache::new(2, 1000);
        c.insert("a", 1, 1, later, now);
        c.insert("b", 2, 1, later, now);
        assert_eq!(c.get(&"a", now), Lookup::Hit(1));
        c.insert("c", 3, 1, later, now);
        assert_eq!(c.get(&"b", now), Lookup::Miss);
        assert_eq!(c.get(&"a", now), Lookup::Hit(1));
        assert_eq!(c.stats().evictions, 1);
    }

    #[test]
    fn byte_bound_evicts_until_it_fits() {
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let mut c = VerdictCache::new(100, 100);
        c.insert("a", 1, 40, later, now);
        c.insert("b", 2, 40, later, now);
        c.insert("c", 3, 40, later, now);
        assert_eq!(c.stats().bytes, 80);
        assert_eq!(c.get(&"a", now), Lookup::Miss);
        assert!(!c.insert("huge", 4, 101, later, now));
        assert!(c.insert("edge", 5, 100, later, now));
        assert_eq!(c.stats().entries, 1);
    }

    #[test]
    fn zero_lifetime_and_disabled_cache_store_nothing() {
        let now = Instant::now();
        let mut c = VerdictCache::new(10, 100);
        assert!(!c.insert("a", 1, 1, now, now));
        let mut off = VerdictCache::new(0, 100);
        assert!(!off.insert("a", 1, 1, now + Duration::from_secs(1), now));
    }

    #[test]
    fn replacing_a_key_keeps_the_byte_count_right() {
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let mut c = VerdictCache::new(10, 100);
        c.insert("a", 1, 30, later, now);
        c.insert("a", 2, 50, later, now);
        assert_eq!(c.stats().bytes, 50);
        assert_eq!(c.get(&"a", now), Lookup::Hit(2));
    }
}
