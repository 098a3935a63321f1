//! IPv4 addresses carried inside IPv6 addresses.
//!
//! An attacker who controls DNS can answer AAAA `::ffff:127.0.0.1` or `64:ff9b::a9fe:a9fe`
//! and reach an IPv4 target through a dual-stack socket or a translator; so every IPv6 form
//! that carries an IPv4 address is unwrapped and the IPv4 is judged too.
//!
//! Forms recognised (most specific first):
//! - IPv4-mapped `::ffff:0:0/96` (RFC 4291 2.5.5.2), v4 in the last 32 bits;
//! - SIIT IPv4-translated `::ffff:0:0:0/96` (RFC 2765), v4 in the last 32 bits;
//! - NAT64 well-known prefix `64:ff9b::/96` (RFC 6052), v4 in the last 32 bits;
//! - NAT64 local-use `64:ff9b:1::/48` (RFC 8215): we decode the v4 from the **last 32 bits**,
//!   i.e. we assume a /96 translator prefix inside the /48, the common deployment. Other
//!   RFC 6052 layouts (/48, /56, /64 with the u-octet) are not decoded; a well-formed /48
//!   layout has zero low bits and so decodes to 0.0.0.0, which the floor blocks;
//! - 6to4 `2002::/16` (RFC 3056), v4 in bits 16..48;
//! - IPv4-compatible `::/96` (RFC 4291 2.5.5.1, deprecated), except `::` and `::1`.
//!
//! Teredo (2001::/32) is not decoded: it is blocked outright by the range table.

use ipnet::Ipv6Net;
use std::net::{Ipv4Addr, Ipv6Addr};

/// How an IPv6 address carries an IPv4 address; names the translation path taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EmbeddedForm {
    /// `::ffff:a.b.c.d`: a dual-stack socket connects to the IPv4 address directly.
    Mapped,
    /// `::ffff:0:a.b.c.d` (SIIT).
    Translated,
    /// `::a.b.c.d` (deprecated IPv4-compatible).
    Compatible,
    /// `64:ff9b::a.b.c.d` (NAT64 well-known prefix).
    Nat64,
    /// `64:ff9b:1:…:a.b.c.d` (NAT64 local-use prefix, /96 layout inside the /48).
    Nat64LocalUse,
    /// `2002:aabb:ccdd::/48` (6to4).
    SixToFour,
}

impl EmbeddedForm {
    /// Every form, for tests and documentation.
    pub const ALL: &'static [EmbeddedForm] = &[
        EmbeddedForm::Mapped,
        EmbeddedForm::Translated,
        EmbeddedForm::Compatible,
        EmbeddedForm::Nat64,
        EmbeddedForm::Nat64LocalUse,
        EmbeddedForm::SixToFour,
    ];

    /// True for NAT64 forms, which are only usable when `allow_nat64` is set.
    pub const fn is_nat64(self) -> bool {
        matches!(self, EmbeddedForm::Nat64 | EmbeddedForm::Nat64LocalUse)
    }

    /// The IPv6 prefix that identifies this form.
    pub fn prefix(self) -> Ipv6Net {
        let (addr, len) = match self {
            EmbeddedForm::Mapped => (Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96),
            EmbeddedForm::Translated => (Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, 0, 0), 96),
            EmbeddedForm::Compatible => (Ipv6Addr::UNSPECIFIED, 96),
            EmbeddedForm::Nat64 => (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96),
            EmbeddedForm::Nat64LocalUse => (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48),
            EmbeddedForm::SixToFour => (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16),
        };
        // The lengths above are all <= 128, so this cannot fail; fall back to a /128 anyway
        // rather than panicking.
        Ipv6Net::new(addr, len).unwrap_or_else(|_| Ipv6Net::from(addr))
    }

    /// Wraps `v4` in this form (the inverse of [`extract`]; used by tests and `explain`).
    pub fn wrap(self, v4: Ipv4Addr) -> Ipv6Addr {
        let v4 = u128::from(u32::from(v4));
        let bits = match self {
            EmbeddedForm::SixToFour => (0x2002u128 << 112) | (v4 << 80),
            _ => u128::from(self.prefix().network()) | v4,
        };
        Ipv6Addr::from(bits)
    }
}

/// The IPv4 address carried by `ip`, and how, or `None` for addresses carrying none.
pub fn extract(ip: Ipv6Addr) -> Option<(EmbeddedForm, Ipv4Addr)> {
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    for form in [
        EmbeddedForm::Mapped,
        EmbeddedForm::Translated,
        EmbeddedForm::Nat64,
        EmbeddedForm::Nat64LocalUse,
        EmbeddedForm::SixToFour,
    ] {
        if form.prefix().contains(&ip) {
            let v4 = match form {
                EmbeddedForm::SixToFour => Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32),
                _ => low32,
            };
            return Some((form, v4));
        }
    }
    // ::/96 minus :: and ::1, which are the unspecified and loopback addresses themselves.
    if EmbeddedForm::Compatible.prefix().contains(&ip) && bits > 1 {
        return Some((EmbeddedForm::Compatible, low32));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_and_extract_round_trip() {
        let v4 = Ipv4Addr::new(169, 254, 169, 254);
        for &form in EmbeddedForm::ALL {
            let v6 = form.wrap(v4);
            assert_eq!(extract(v6), Some((form, v4)), "{form:?} {v6}");
        }
    }

    #[test]
    fn known_spellings() {
        let lo = Ipv4Addr::LOCALHOST;
        let cases = [
            ("::ffff:127.0.0.1", EmbeddedForm::Mapped),
            ("::ffff:0:127.0.0.1", EmbeddedForm::Translated),
            ("::127.0.0.1", EmbeddedForm::Compatible),
            ("64:ff9b::7f00:1", EmbeddedForm::Nat64),
            ("64:ff9b:1:abcd::7f00:1", EmbeddedForm::Nat64LocalUse),
            ("2002:7f00:1::", EmbeddedForm::SixToFour),
            ("2002:7f00:1:ffff::1", EmbeddedForm::SixToFour),
        ];
        for (text, form) in cases {
            let ip: Ipv6Addr = text.parse().unwrap();
            assert_eq!(extract(ip), Some((form, lo)), "{text}");
        }
    }

    #[test]
    fn plain_addresses_carry_nothing() {
        for text in [
            "::",
            "::1",
            "2606:4700::1111",
            "fe80::1",
            "2001::1",
            "64:ff9b:2::1",
        ] {
            let ip: Ipv6Addr = text.parse().unwrap();
            assert_eq!(extract(ip), None, "{text}");
        }
    }
}
