//! The compiled IP range table: longest-prefix classification over all layers, and the floor.
//!
//! Rules are indexed by prefix length, so a lookup costs one hash probe per distinct prefix
//! length (a few dozen at most) whatever the number of operator rules.

use ipnet::IpNet;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::reason::Reason;
use super::rules_file::{Action, RangeRule};

/// Addresses blocked whatever the rules say: the unspecified addresses (connecting to them
/// reaches the local host) and the best-known cloud metadata endpoints. Rules files list
/// them too, for documentation; this copy keeps them blocked even with no rules at all.
pub const FLOOR: &[(IpAddr, Reason)] = &[
    (IpAddr::V4(Ipv4Addr::UNSPECIFIED), Reason::Unspecified),
    (IpAddr::V6(Ipv6Addr::UNSPECIFIED), Reason::Unspecified),
    (
        IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
        Reason::CloudMetadata,
    ),
    (
        IpAddr::V4(Ipv4Addr::new(169, 254, 170, 2)),
        Reason::CloudMetadata,
    ),
    (
        IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
        Reason::CloudMetadata,
    ),
    (
        IpAddr::V4(Ipv4Addr::new(192, 0, 0, 192)),
        Reason::CloudMetadata,
    ),
    (
        IpAddr::V4(Ipv4Addr::new(168, 63, 129, 16)),
        Reason::CloudMetadata,
    ),
    (
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
        Reason::CloudMetadata,
    ),
    (
        IpAddr::V6(Ipv6Addr::new(0xfd20, 0xce, 0, 0, 0, 0, 0, 0x254)),
        Reason::CloudMetadata,
    ),
];

/// The rule that decided an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The range.
    pub net: IpNet,
    /// Allow or block.
    pub action: Action,
    /// Reason reported when it blocks.
    pub reason: Reason,
    /// Index of the layer the rule came from (later layers have higher indexes).
    pub layer: usize,
    /// Provenance, for problem details.
    pub source: Option<String>,
}

/// Rules of one address family, grouped by prefix length (longest first).
#[derive(Clone, Debug, Default)]
struct Family {
    by_len: Vec<(u8, HashMap<u128, Entry>)>,
}

impl Family {
    fn insert(&mut self, key: u128, len: u8, entry: Entry) {
        let pos = match self.by_len.binary_search_by(|(l, _)| len.cmp(l)) {
            Ok(pos) => pos,
            Err(pos) => {
                self.by_len.insert(pos, (len, HashMap::new()));
                pos
            }
        };
        let Some((_, map)) = self.by_len.get_mut(pos) else {
            return;
        };
        match map.get(&key) {
            // Equal prefixes: a later layer wins; within a layer, allow wins.
            Some(old)
                if old.layer > entry.layer
                    || (old.layer == entry.layer && old.action == Action::Allow) => {}
            _ => {
                map.insert(key, entry);
            }
        }
    }

    fn lookup(&self, bits: u128, width: u8) -> Option<&Entry> {
        self.by_len.iter().find_map(|(len, map)| {
            let key = mask(bits, *len, width);
            map.get(&key)
        })
    }
}

/// Keeps the top `len` bits of a `width`-bit address.
fn mask(bits: u128, len: u8, width: u8) -> u128 {
    if len == 0 {
        0
    } else {
        let drop = u32::from(width.saturating_sub(len));
        let full: u128 = if width >= 128 {
            u128::MAX
        } else {
            (1u128 << width) - 1
        };
        bits & (full >> drop << drop)
    }
}

fn key_of(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

/// All range rules of all layers, ready for longest-prefix lookups.
#[derive(Clone, Debug, Default)]
pub struct RangeTable {
    v4: Family,
    v6: Family,
    floor: Vec<(IpNet, Reason)>,
}

impl RangeTable {
    /// Builds the table from layers in order; blocks with a floor reason join the floor.
    pub fn build<'a>(layers: impl IntoIterator<Item = (usize, &'a [RangeRule])>) -> RangeTable {
        let mut t = RangeTable {
            floor: FLOOR.iter().map(|(ip, r)| (IpNet::from(*ip), *r)).collect(),
            ..RangeTable::default()
        };
        for (layer, rules) in layers {
            for rule in rules {
                t.add(layer, rule);
            }
        }
        t
    }

    /// Adds one rule from `layer`.
    pub fn add(&mut self, layer: usize, rule: &RangeRule) {
        let reason = rule.block_reason();
        if rule.action == Action::Block
            && reason.is_floor()
            && !self.floor.contains(&(rule.net, reason))
        {
            self.floor.push((rule.net, reason));
        }
        let entry = Entry {
            net: rule.net,
            action: rule.action,
            reason,
            layer,
            source: rule.source.clone(),
        };
        let (key, width) = key_of(rule.net.network());
        let len = rule.net.prefix_len();
        match rule.net {
            IpNet::V4(_) => self.v4.insert(mask(key, len, width), len, entry),
            IpNet::V6(_) => self.v6.insert(mask(key, len, width), len, entry),
        }
    }

    /// The most specific rule covering `ip`, if any.
    pub fn lookup(&self, ip: IpAddr) -> Option<&Entry> {
        let (bits, width) = key_of(ip);
        match ip {
            IpAddr::V4(_) => self.v4.lookup(bits, width),
            IpAddr::V6(_) => self.v6.lookup(bits, width),
        }
    }

    /// The floor entry covering `ip` (the most specific one), if any.
    pub fn floor(&self, ip: IpAddr) -> Option<(IpNet, Reason)> {
        self.floor
            .iter()
            .filter(|(net, _)| net.contains(&ip))
            .max_by_key(|(net, _)| net.prefix_len())
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(cidr: &str, action: Action, reason: Option<Reason>) -> RangeRule {
        RangeRule {
            net: cidr.parse().unwrap(),
            action,
            reason,
            source: None,
            note: None,
        }
    }

    #[test]
    fn longest_prefix_wins() {
        let l0 = [
            rule("10.0.0.0/8", Action::Block, Some(Reason::PrivateUse)),
            rule("10.1.0.0/16", Action::Allow, None),
            rule("10.1.2.0/24", Action::Block, Some(Reason::OperatorRule)),
        ];
        let t = RangeTable::build([(0, &l0[..])]);
        let at = |s: &str| {
            t.lookup(s.parse().unwrap())
                .map(|e| (e.net.to_string(), e.action))
        };
        assert_eq!(at("10.9.9.9"), Some(("10.0.0.0/8".into(), Action::Block)));
        assert_eq!(at("10.1.9.9"), Some(("10.1.0.0/16".into(), Action::Allow)));
        assert_eq!(at("10.1.2.3"), Some(("10.1.2.0/24".into(), Action::Block)));
        assert_eq!(at("11.0.0.0"), None);
        assert_eq!(at("::a01:203"), None, "families never mix");
    }

    #[test]
    fn ties_later_layer_then_allow() {
        let a = [
            rule("192.0.2.0/24", Action::Block, Some(Reason::Documentation)),
            rule("192.0.2.0/24", Action::Allow, None),
            rule("198.51.100.0/24", Action::Allow, None),
        ];
        let b = [rule("198.51.100.0/24", Action::Block, None)];
        let t = RangeTable::build([(0, &a[..]), (1, &b[..])]);
        let e = t.lookup("192.0.2.1".parse().unwrap()).unwrap();
        assert_eq!(e.action, Action::Allow, "allow wins a tie within a layer");
        let e = t.lookup("198.51.100.1".parse().unwrap()).unwrap();
        assert_eq!(
            (e.action, e.reason, e.layer),
            (Action::Block, Reason::OperatorRule, 1)
        );
    }

    #[test]
    fn zero_length_prefixes_work() {
        let l = [
            rule("0.0.0.0/0", Action::Block, None),
            rule("::/0", Action::Allow, None),
        ];
        let t = RangeTable::build([(0, &l[..])]);
        assert_eq!(
            t.lookup("8.8.8.8".parse().unwrap()).unwrap().action,
            Action::Block
        );
        assert_eq!(
            t.lookup("2001:4860::8888".parse().unwrap()).unwrap().action,
            Action::Allow
        );
    }

    #[test]
    fn floor_is_present_without_rules_and_grows_with_floor_reasons() {
        let l = [rule(
            "203.0.113.7/32",
            Action::Block,
            Some(Reason::CloudMetadata),
        )];
        let t = RangeTable::build([(0, &l[..])]);
        assert_eq!(
            t.floor("169.254.169.254".parse().unwrap()).map(|f| f.1),
            Some(Reason::CloudMetadata)
        );
        assert_eq!(
            t.floor("::".parse().unwrap()).map(|f| f.1),
            Some(Reason::Unspecified)
        );
        assert!(t.floor("203.0.113.7".parse().unwrap()).is_some());
        assert!(t.floor("203.0.113.8".parse().unwrap()).is_none());
    }
}
