//! Cost of the egress policy on the hot path: URL rules plus the check of every resolved
//! address (target: < 2 µs together).
#![allow(missing_docs)]

use std::net::IpAddr;

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use portcullis::policy::{Policy, PolicyOptions};

fn policy_benches(c: &mut Criterion) {
    let policy = Policy::embedded_default(PolicyOptions::default());
    let url = "https://client.example.com/oauth/client-metadata.json";
    let addrs: Vec<IpAddr> = vec![
        "93.184.215.14"
            .parse()
            .unwrap_or(IpAddr::from([1, 1, 1, 1])),
        "2606:2800:21f:cb07:6820:80da:af6b:8b2c"
            .parse()
            .unwrap_or(IpAddr::from([1, 1, 1, 1])),
    ];
    c.bench_function("policy/check_url", |b| {
        b.iter(|| policy.check_url(black_box(url)).is_ok())
    });
    c.bench_function("policy/check_addrs_2", |b| {
        b.iter(|| policy.check_addrs(black_box(&addrs)).outcome.is_ok())
    });
    c.bench_function("policy/url_and_addrs", |b| {
        b.iter(|| {
            let ok = policy.check_url(black_box(url)).is_ok();
            ok && policy.check_addrs(black_box(&addrs)).outcome.is_ok()
        })
    });
    let mapped: IpAddr = "::ffff:169.254.169.254"
        .parse()
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    c.bench_function("policy/classify_embedded_v4", |b| {
        b.iter(|| policy.classify(black_box(mapped)))
    });
}

criterion_group!(benches, policy_benches);
criterion_main!(benches);
