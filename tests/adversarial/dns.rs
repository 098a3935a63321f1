//! DNS: what the lab's responder answers and the expected outcome, plus rebinding.

use super::*;

/// DNS names and how the lab answers them, with the expected outcome.
pub(crate) fn dns_table() -> Vec<(&'static str, DnsBehavior, Want)> {
    use DnsBehavior::{Addresses as A, Cname, NxDomain, ServFail, Silent, Truncated};
    use Want::{Blocked as B, Fetched as F, Unreachable as U};
    let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
    let ips = |v: &[&str]| -> Vec<IpAddr> { v.iter().map(|s| ip(s)).collect() };
    let mut long = vec![PUBLIC];
    for i in 1..=60u8 {
        long.push(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)));
    }
    let mut huge = Vec::new();
    for i in 0..400u16 {
        huge.push(IpAddr::V4(Ipv4Addr::new(10, 1, (i >> 8) as u8, i as u8)));
    }
    vec![
        (
            "meta.test",
            A(ips(&["169.254.169.254"])),
            B(&["cloud_metadata"]),
        ),
        ("private.test", A(ips(&["10.0.0.1"])), B(&["private_use"])),
        ("home.test", A(ips(&["192.168.1.1"])), B(&["private_use"])),
        ("corp.test", A(ips(&["172.16.0.1"])), B(&["private_use"])),
        (
            "v6meta.test",
            A(ips(&["fd00:ec2::254"])),
            B(&["cloud_metadata"]),
        ),
        (
            "gcp6.test",
            A(ips(&["fd20:ce::254"])),
            B(&["cloud_metadata"]),
        ),
        (
            "ecs.test",
            A(ips(&["169.254.170.2"])),
            B(&["cloud_metadata"]),
        ),
        (
            "azure.test",
            A(ips(&["168.63.129.16"])),
            B(&["cloud_metadata"]),
        ),
        (
            "alibaba.test",
            A(ips(&["100.100.100.200"])),
            B(&["cloud_metadata"]),
        ),
        (
            "oracle.test",
            A(ips(&["192.0.0.192"])),
            B(&["cloud_metadata"]),
        ),
        ("loop.test", A(ips(&["127.0.0.1"])), B(&["loopback"])),
        ("v6loop.test", A(ips(&["::1"])), B(&["loopback"])),
        ("zero.test", A(ips(&["0.0.0.0"])), B(&["unspecified"])),
        ("v6zero.test", A(ips(&["::"])), B(&["unspecified"])),
        (
            "cgnat.test",
            A(ips(&["100.64.0.1"])),
            B(&["shared_address_space"]),
        ),
        ("ll6.test", A(ips(&["fe80::1"])), B(&["link_local"])),
        ("ula.test", A(ips(&["fd00::1"])), B(&["unique_local"])),
        ("mcast.test", A(ips(&["224.0.0.1"])), B(&["multicast"])),
        (
            "bcast.test",
            A(ips(&["255.255.255.255"])),
            B(&["broadcast"]),
        ),
        (
            "neighbour.test",
            A(ips(&["203.0.113.11"])),
            B(&["documentation"]),
        ),
        (
            "mapped.test",
            A(ips(&["::ffff:169.254.169.254"])),
            B(&["cloud_metadata"]),
        ),
        (
            "compat.test",
            A(ips(&["::a9fe:a9fe"])),
            B(&["cloud_metadata"]),
        ),
        (
            "nat64.test",
            A(ips(&["64:ff9b::a9fe:a9fe"])),
            B(&["cloud_metadata"]),
        ),
        (
            "nat64-public.test",
            A(ips(&["64:ff9b::cb00:710a"])),
            B(&["nat64"]),
        ),
        (
            "sixtofour.test",
            A(ips(&["2002:a9fe:a9fe::1"])),
            B(&["cloud_metadata"]),
        ),
        (
            "teredo.test",
            A(ips(&["2001:0:4136:e378:8000:63bf:3fff:fdd2"])),
            B(&["teredo"]),
        ),
        (
            "mixed.test",
            A(ips(&["203.0.113.10", "10.0.0.1"])),
            B(&["private_use", "mixed_resolution"]),
        ),
        (
            "mixed6.test",
            A(ips(&["203.0.113.10", "fd00:ec2::254"])),
            B(&["cloud_metadata", "mixed_resolution"]),
        ),
        (
            "mixed-mapped.test",
            A(ips(&["203.0.113.10", "::ffff:192.168.1.1"])),
            B(&["private_use", "mixed_resolution"]),
        ),
        (
            "all-internal.test",
            A(ips(&["10.0.0.1", "192.168.1.1", "169.254.169.254"])),
            B(&["private_use", "cloud_metadata"]),
        ),
        (
            "cname-chain.test",
            Cname("cname-2.test".into()),
            B(&["cloud_metadata"]),
        ),
        (
            "cname-internal.test",
            Cname("metadata.google.internal".into()),
            B(&["cloud_metadata"]),
        ),
        ("cname-good.test", Cname("good.test".into()), F),
        (
            "cname-loop.test",
            Cname("cname-loop-2.test".into()),
            U(&["dns_no_addresses"]),
        ),
        (
            "long-answer.test",
            A(long),
            B(&["private_use", "mixed_resolution"]),
        ),
        ("huge-answer.test", A(huge), U(&["dns_failed"])),
        ("nxdomain.test", NxDomain, U(&["dns_nxdomain"])),
        ("servfail.test", ServFail, U(&["dns_failed"])),
        ("truncated.test", Truncated, U(&["dns_failed"])),
        ("silent.test", Silent, U(&["dns_failed"])),
        ("empty.test", A(vec![]), U(&["dns_no_addresses"])),
    ]
}

/// Zone entries that are only reached through CNAMEs (not fetched by name).
pub(crate) fn dns_helpers() -> Vec<(&'static str, DnsBehavior)> {
    let meta: IpAddr = "169.254.169.254".parse().unwrap();
    vec![
        ("good.test", DnsBehavior::Addresses(vec![PUBLIC])),
        ("alt.test", DnsBehavior::Addresses(vec![PUBLIC])),
        ("expired.test", DnsBehavior::Addresses(vec![PUBLIC])),
        ("untrusted.test", DnsBehavior::Addresses(vec![PUBLIC])),
        ("wrongname.test", DnsBehavior::Addresses(vec![PUBLIC])),
        ("cname-2.test", DnsBehavior::Cname("cname-3.test".into())),
        ("cname-3.test", DnsBehavior::Cname("meta.test".into())),
        (
            "metadata.google.internal",
            DnsBehavior::Addresses(vec![meta]),
        ),
        (
            "cname-loop-2.test",
            DnsBehavior::Cname("cname-loop.test".into()),
        ),
        // The homograph resolves to an internal address: only the host allow list stops it.
        (
            "xn--gd-nmca.test",
            DnsBehavior::Addresses(vec!["10.0.0.1".parse().unwrap()]),
        ),
    ]
}

// ------------------------------------------------------------------ special cases

pub(crate) async fn rebinding_cases(lab: &SealedLab, results: &mut Results) {
    let c = Category::Dns;
    // TTL 0, public for the first lookup (A + AAAA), then the metadata address.
    lab.dns.set(
        "rebind.test",
        DnsBehavior::Rebind {
            first: vec![PUBLIC],
            first_queries: 2,
            then: vec!["169.254.169.254".parse().unwrap()],
        },
    );
    let before = lab.origin.hits_for("/doc.json");
    let (first, e1) = lab
        .fetch("https://rebind.test/doc.json", 65_536, true)
        .await;
    let (second, e2) = lab
        .fetch("https://rebind.test/doc.json", 65_536, true)
        .await;
    let r = check_report(Want::Fetched, &first, e1)
        .and_then(|()| check_report(Want::Blocked(&["cloud_metadata"]), &second, e2))
        .and_then(|()| {
            let q = lab.dns.queries("rebind.test");
            (q == 4)
                .then_some(())
                .ok_or(format!("{q} queries: something re-resolved"))
        })
        .and_then(|()| {
            let hits = lab.origin.hits_for("/doc.json") - before;
            (hits == 1)
                .then_some(())
                .ok_or(format!("{hits} requests reached the origin"))
        });
    results.record(c, "rebinding-ttl0-pinned", "lib", r);

    lab.dns.set(
        "rebind-first-internal.test",
        DnsBehavior::Rebind {
            first: vec!["10.0.0.1".parse().unwrap()],
            first_queries: 2,
            then: vec![PUBLIC],
        },
    );
    let (report, e) = lab
        .fetch("https://rebind-first-internal.test/doc.json", 65_536, true)
        .await;
    results.record(
        c,
        "rebinding-internal-first",
        "lib",
        check_report(Want::Blocked(&["private_use"]), &report, e),
    );
}
