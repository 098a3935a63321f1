//! `portcullis demo`: a newcomer's tour with no internet needed. It starts, inside this
//! process, a DNS responder on 127.0.0.1 and a TLS origin on 127.0.0.2 (with a throwaway CA
//! trusted only here), serves good and hostile documents, runs the real service against
//! them and prints what happened. Connections are additionally restricted to loopback.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis::assemble::{self, StartError};
use portcullis::config::Config;
use portcullis::kind::Kind;
use portcullis::server::request::{ExpectBody, FetchApiRequest};
use portcullis::service::Service;
use portcullis::testing::TestingError;
use portcullis::testing::dns::{DnsBehavior, DnsResponder};
use portcullis::testing::origin::{Route, TestOrigin};
use portcullis::testing::pki::{TestCa, Validity};

use super::{EXIT_OK, usage_error};

const ORIGIN_IP: [u8; 4] = [127, 0, 0, 2];
const NAMES: &[&str] = &[
    "app.demo.test",
    "keys.demo.test",
    "as.demo.test",
    "mixed.demo.test",
    "redirect.demo.test",
    "slow.demo.test",
    "big.demo.test",
];
const DEMO_JWKS: &str = include_str!("../../tests/fixtures/real-world/google.jwks.json");

#[derive(Debug, thiserror::Error)]
enum DemoError {
    #[error(transparent)]
    Testing(#[from] TestingError),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Rules(#[from] portcullis::policy::RulesError),
    #[error(transparent)]
    Resolver(#[from] portcullis::fetch::resolver::ResolveError),
}

struct Lab {
    _dns: DnsResponder,
    _origin: TestOrigin,
    service: Arc<Service>,
    port: u16,
}

async fn start_lab() -> Result<Lab, DemoError> {
    let origin_ip = IpAddr::from(ORIGIN_IP);
    let ca = TestCa::new()?;
    let tls = ca.server_config(NAMES, Validity::Current, &[b"http/1.1"])?;
    let origin = TestOrigin::start(origin_ip, 0, tls).await?;
    let port = origin.addr().port();
    let dns = DnsResponder::start(IpAddr::from([127, 0, 0, 1])).await?;
    for name in NAMES {
        dns.set(name, DnsBehavior::Addresses(vec![origin_ip]));
    }
    dns.set(
        "metadata.demo.test",
        DnsBehavior::Addresses(vec![IpAddr::from([169, 254, 169, 254])]),
    );
    dns.set(
        "intranet.demo.test",
        DnsBehavior::Addresses(vec![IpAddr::from([10, 0, 0, 5])]),
    );
    dns.set(
        "mixed.demo.test",
        DnsBehavior::Addresses(vec![origin_ip, IpAddr::from([127, 0, 0, 1])]),
    );

    let base = |host: &str| format!("https://{host}:{port}");
    let client_id = format!("{}/oauth/client.json", base("app.demo.test"));
    origin.route(
        "/oauth/client.json",
        Route::json(
            serde_json::json!({
                "client_id": client_id,
                "client_name": "Demo MCP Client",
                "client_uri": "https://app.demo.test/",
                "redirect_uris": ["https://app.demo.test/callback"],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none"
            })
            .to_string(),
        ),
    );
    let secret_id = format!("{}/oauth/secret.json", base("app.demo.test"));
    origin.route(
        "/oauth/secret.json",
        Route::json(
            serde_json::json!({
                "client_id": secret_id,
                "client_name": "Leaky Client",
                "client_secret": "hunter2",
                "redirect_uris": ["https://app.demo.test/callback"],
                "token_endpoint_auth_method": "client_secret_basic"
            })
            .to_string(),
        ),
    );
    origin.route(
        "/jwks.json",
        Route::response(200, "application/jwk-set+json", &[], DEMO_JWKS),
    );
    let issuer = base("as.demo.test");
    origin.route(
        "/.well-known/oauth-authorization-server",
        Route::json(
            serde_json::json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{issuer}/authorize"),
                "token_endpoint": format!("{issuer}/token"),
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"],
                "client_id_metadata_document_supported": true
            })
            .to_string(),
        ),
    );
    origin.route(
        "/go",
        Route::redirect(302, &format!("https://127.0.0.1:{port}/admin")),
    );
    origin.route(
        "/drip.json",
        Route::drip_json(vec![b' '; 100_000], 10, Duration::from_millis(100)),
    );
    origin.route(
        "/big.json",
        Route::Raw(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2000000000\r\n\r\n{".to_vec()),
    );
    origin.route(
        "/dup.json",
        Route::json(r#"{"keys":[],"keys":[{"kty":"oct","k":"AAAA"}]}"#),
    );

    let mut config = Config::default();
    config.resolver.nameservers = vec![dns.addr()];
    config.resolver.timeout_ms = 500;
    config.tls.builtin_roots = false;
    config.limits.total_timeout_ms = 2_000;
    config.limits.body_timeout_ms = 1_000;
    config.limits.first_byte_timeout_ms = 1_000;
    config.audit.enabled = false;
    let policy = portcullis::testing::one_origin_policy(
        std::net::SocketAddr::new(IpAddr::from(ORIGIN_IP), port),
        "demo origin",
    )?
    .with_self_addresses(portcullis::fetch::self_addrs::interface_addresses());
    let fetcher = portcullis::testing::lab_fetcher(&config, policy, &[ca.ca_der()])?;
    let service = assemble::build_service(config, fetcher, None)?;
    Ok(Lab {
        _dns: dns,
        _origin: origin,
        service,
        port,
    })
}

pub async fn run() -> u8 {
    let lab = match start_lab().await {
        Ok(lab) => lab,
        Err(e) => return usage_error(format!("demo could not start: {e}")),
    };
    let p = lab.port;
    let cases: Vec<(String, Kind, &str)> = vec![
        (
            format!("https://app.demo.test:{p}/oauth/client.json"),
            Kind::ClientMetadata,
            "a good client metadata document",
        ),
        (
            format!("https://app.demo.test:{p}/oauth/secret.json"),
            Kind::ClientMetadata,
            "a CIMD with a shared secret",
        ),
        (
            format!("https://keys.demo.test:{p}/jwks.json"),
            Kind::Jwks,
            "a real provider's JWK Set",
        ),
        (
            format!("https://keys.demo.test:{p}/dup.json"),
            Kind::Jwks,
            "duplicate keys and a secret key",
        ),
        (
            format!("https://as.demo.test:{p}/.well-known/oauth-authorization-server"),
            Kind::AuthorizationServerMetadata,
            "authorization server metadata",
        ),
        (
            format!("https://metadata.demo.test:{p}/latest/meta-data/"),
            Kind::Json,
            "a name resolving to 169.254.169.254",
        ),
        (
            format!("https://intranet.demo.test:{p}/admin"),
            Kind::Json,
            "a name resolving to 10.0.0.5",
        ),
        (
            format!("https://mixed.demo.test:{p}/doc.json"),
            Kind::Json,
            "one good and one loopback answer",
        ),
        (
            "https://[::ffff:169.254.169.254]/latest/meta-data/".to_owned(),
            Kind::Json,
            "metadata IP inside IPv6",
        ),
        (
            format!("https://0x7f.1:{p}/"),
            Kind::Json,
            "hex spelling of 127.0.0.1",
        ),
        (
            format!("https://redirect.demo.test:{p}/go"),
            Kind::Json,
            "a redirect to https://127.0.0.1",
        ),
        (
            format!("http://app.demo.test:{p}/oauth/client.json"),
            Kind::ClientMetadata,
            "plain http",
        ),
        (
            format!("https://slow.demo.test:{p}/drip.json"),
            Kind::Json,
            "a server dripping 10 bytes / 100 ms",
        ),
        (
            format!("https://big.demo.test:{p}/big.json"),
            Kind::Json,
            "a server announcing 2 GB",
        ),
    ];
    println!(
        "Portcullis demo: DNS on 127.0.0.1, TLS origin on 127.0.0.2:{p}, nothing leaves this machine.\n"
    );
    println!("{:<12} {:<8} {:<36} problem codes", "outcome", "ms", "case");
    println!("{}", "-".repeat(100));
    for (url, kind, what) in cases {
        let started = Instant::now();
        let request = FetchApiRequest {
            url: url.clone(),
            kind,
            expect: ExpectBody::default(),
            profile: None,
            deadline_ms: None,
        };
        let request = lab.service.resolve(request, started);
        let reply = match lab.service.verdict("demo", request, started).await {
            Ok(reply) => reply,
            Err(e) => {
                let code = e.code();
                println!("{:<12} {:<8} {:<36} {}", "refused", "-", what, code);
                continue;
            }
        };
        let ms = started.elapsed().as_millis();
        let value: serde_json::Value = serde_json::from_slice(&reply).unwrap_or_default();
        let claims = &value["claims"];
        let codes: Vec<&str> = claims["problems"]
            .as_array()
            .map(|ps| ps.iter().filter_map(|p| p["code"].as_str()).collect())
            .unwrap_or_default();
        println!(
            "{:<12} {:<8} {:<36} {}",
            claims["outcome"].as_str().unwrap_or("?"),
            ms,
            what,
            codes.join(", ")
        );
    }
    println!(
        "\nEvery answer above is a signed verdict (JWS, ES256 by default); keys: GET /v1/keys when serving."
    );
    EXIT_OK
}
