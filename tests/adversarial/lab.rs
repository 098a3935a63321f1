//! The sealed lab: DNS responder, TLS origins on every namespace address, rules and config.

use super::*;

pub(crate) struct SealedLab {
    pub(crate) _ca: TestCa,
    pub(crate) dns: DnsResponder,
    pub(crate) origin: TestOrigin,
    pub(crate) expired: TestOrigin,
    pub(crate) untrusted: TestOrigin,
    pub(crate) h2: TestOrigin,
    pub(crate) trap: TestOrigin,
    pub(crate) fetcher: Fetcher,
    pub(crate) config: Config,
    pub(crate) dir: tempfile::TempDir,
}

/// Names served by the main origin's certificate (plus the public IP).
pub(crate) const CERT_NAMES: &[&str] = &[
    "good.test",
    "alt.test",
    "rebind.test",
    "rebind-redirect.test",
    "cname-good.test",
    "expired.test",
    "untrusted.test",
    "*.h2.test",
    "203.0.113.10",
];

pub(crate) fn rules_text(allowed_names: &[String]) -> String {
    let names: Vec<String> = allowed_names.iter().map(|n| format!("{n:?}")).collect();
    format!(
        r#"# Sealed lab rules: allow exactly one "public" test address and the lab's names.
ports = [{PORT_MAIN}, {PORT_EXPIRED}, {PORT_H2}, {PORT_UNTRUSTED}]

[hosts]
allow = [{}]

[[ranges]]
cidr = "203.0.113.10/32"
action = "allow"
source = "portcullis sealed lab public origin"
note = "RFC 5737 documentation address standing in for the internet inside the sealed namespace"
"#,
        names.join(", ")
    )
}

impl SealedLab {
    pub(crate) async fn start(net: &SealedNet, allowed_names: &[String]) -> SealedLab {
        let ca = TestCa::new().unwrap();
        let tls = ca
            .server_config(CERT_NAMES, Validity::Current, &[b"http/1.1"])
            .unwrap();
        let origin = TestOrigin::start_sealed(net, PORT_MAIN, tls).await.unwrap();
        let expired = TestOrigin::start_sealed(
            net,
            PORT_EXPIRED,
            ca.server_config(&["expired.test"], Validity::Expired, &[b"http/1.1"])
                .unwrap(),
        )
        .await
        .unwrap();
        let other_ca = TestCa::new().unwrap();
        let untrusted = TestOrigin::start_sealed(
            net,
            PORT_UNTRUSTED,
            other_ca
                .server_config(&["untrusted.test"], Validity::Current, &[b"http/1.1"])
                .unwrap(),
        )
        .await
        .unwrap();
        let h2 = TestOrigin::start_sealed(
            net,
            PORT_H2,
            ca.server_config(CERT_NAMES, Validity::Current, &[b"h2"])
                .unwrap(),
        )
        .await
        .unwrap();
        let trap = TestOrigin::start_sealed(
            net,
            PORT_TRAP,
            ca.server_config(CERT_NAMES, Validity::Current, &[b"http/1.1"])
                .unwrap(),
        )
        .await
        .unwrap();
        let dns = DnsResponder::start_sealed(net, DNS_ADDR.parse().unwrap())
            .await
            .unwrap();

        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("sealed-rules.toml");
        std::fs::write(&rules, rules_text(allowed_names)).unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.ca_pem()).unwrap();

        let mut config = Config::default();
        config.resolver.nameservers = vec![dns.addr()];
        config.resolver.timeout_ms = 500;
        config.resolver.attempts = 0;
        config.rules.files = vec![rules];
        config.tls.extra_roots = vec![ca_file];
        config.tls.builtin_roots = false;
        config.limits.total_timeout_ms = 3_000;
        config.limits.resolve_timeout_ms = 1_000;
        config.limits.connect_timeout_ms = 1_000;
        config.limits.tls_timeout_ms = 1_000;
        config.limits.first_byte_timeout_ms = 1_000;
        config.limits.body_timeout_ms = 1_000;

        let policy = assemble::build_policy(&config, &[]).unwrap();
        let resolver: Arc<dyn Resolve> =
            Arc::new(HickoryResolver::from_config(&config.resolver).unwrap());
        // Deliberately no `restrict_connections`: inside the sealed namespace the policy
        // alone must stop every blocked address, and the origins would see it if not.
        let fetcher = assemble::build_fetcher_with(&config, policy, resolver, &[]).unwrap();
        SealedLab {
            _ca: ca,
            dns,
            origin,
            expired,
            untrusted,
            h2,
            trap,
            fetcher,
            config,
            dir,
        }
    }

    pub(crate) async fn fetch(
        &self,
        url: &str,
        max_body: u64,
        follow: bool,
    ) -> (FetchReport, Duration) {
        let started = Instant::now();
        let report = self
            .fetcher
            .fetch(&FetchRequest {
                url: url.to_owned(),
                max_body_bytes: max_body,
                follow_redirects: follow,
            })
            .await;
        (report, started.elapsed())
    }

    /// A config file for the CLI with the same resolver, rules and roots.
    pub(crate) fn config_file(&self) -> std::path::PathBuf {
        let path = self.dir.path().join("portcullis.toml");
        let text = common::cli_config_text(
            self.dns.addr(),
            &self.config.tls.extra_roots[0],
            &self.config.rules.files[0],
        );
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(text.as_bytes()).unwrap();
        path
    }

    /// Every accepted connection, on any origin, whose local address is not the allowed
    /// public one — plus every connection at all to the trap port.
    pub(crate) fn forbidden_connections(&self) -> Vec<String> {
        let mut bad = Vec::new();
        for (label, origin) in [
            ("main", &self.origin),
            ("expired", &self.expired),
            ("untrusted", &self.untrusted),
            ("h2", &self.h2),
        ] {
            for local in origin.accepted() {
                if local.ip() != PUBLIC {
                    bad.push(format!("{label} origin accepted a connection on {local}"));
                }
            }
        }
        for local in self.trap.accepted() {
            bad.push(format!(
                "trap origin (port {PORT_TRAP}) accepted a connection on {local}"
            ));
        }
        bad
    }

    pub(crate) fn total_accepted(&self) -> usize {
        [
            &self.origin,
            &self.expired,
            &self.untrusted,
            &self.h2,
            &self.trap,
        ]
        .iter()
        .map(|o| o.accepted().len())
        .sum()
    }
}
