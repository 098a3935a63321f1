//! The integration suite in one binary (every extra `tests/*.rs` file would link the whole
//! crate again). The sealed adversarial catalogue is its own binary (`tests/adversarial`)
//! because `scripts/sealed-suite.sh` runs it alone inside a private network namespace.

#[path = "../common/mod.rs"]
mod common;
#[path = "../doc_support/mod.rs"]
mod doc_support;

mod admission;
mod cli;
mod documents_cimd;
mod documents_cli_validate;
mod documents_jwks;
mod documents_metadata;
mod documents_profiles;
mod documents_proptest;
mod documents_real_world;
mod documents_service_profile;
mod fetch_e2e;
mod fleet;
mod fuzz_regressions;
mod layers;
mod policy_ranges;
mod policy_urls;
mod problem_codes;
mod proxy;
mod proxy_clients;
mod readme;
mod reload;
mod server_limits;
mod service_e2e;
mod telemetry_e2e;
mod verdict_semantics;
