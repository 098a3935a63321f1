//! DNS at the edge. The fetcher never lets the OS or hyper resolve a name: it asks a
//! [`Resolve`] implementation for every A and AAAA answer, checks each, and connects only
//! to a checked address.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig as HickoryConfig,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;

use crate::config::ResolverConfig;

/// Why a name gave no addresses; each maps to its own problem code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// NXDOMAIN.
    #[error("name does not exist")]
    NxDomain,
    /// No A or AAAA records.
    #[error("name has no address records")]
    NoAddresses,
    /// Server failure, refusal, truncation, malformed answer, no reachable server.
    #[error("resolution failed: {0}")]
    Failed(String),
}

/// Boxed future returned by [`Resolve::lookup`].
pub type LookupFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<IpAddr>, ResolveError>> + Send + 'a>>;

/// Name → every address it resolves to. Behind a trait so tests and the demo can point
/// the fetcher at a local DNS responder while production uses hickory.
pub trait Resolve: Send + Sync {
    /// All A and AAAA answers for a fully qualified name (no search list applied).
    fn lookup<'a>(&'a self, host: &'a str) -> LookupFuture<'a>;
}

/// Production resolver: hickory with caching and the hosts file turned off, so every
/// lookup is a real answer that the policy sees (no stale or local override slips past).
#[derive(Clone)]
pub struct HickoryResolver {
    inner: TokioResolver,
}

impl HickoryResolver {
    /// Builds the resolver from config; empty nameservers mean the system's resolv.conf.
    pub fn from_config(config: &ResolverConfig) -> Result<HickoryResolver, ResolveError> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = if config.nameservers.is_empty() {
            TokioResolver::builder(provider).map_err(|e| {
                ResolveError::Failed(format!("cannot read system resolver config: {e}"))
            })?
        } else {
            let servers = config
                .nameservers
                .iter()
                .map(|addr| {
                    let mut server = NameServerConfig::udp_and_tcp(addr.ip());
                    for connection in &mut server.connections {
                        connection.port = addr.port();
                    }
                    server
                })
                .collect();
            TokioResolver::builder_with_config(HickoryConfig::from_name_servers(servers), provider)
        };
        let options = builder.options_mut();
        options.cache_size = 0;
        options.use_hosts_file = ResolveHosts::Never;
        options.timeout = Duration::from_millis(config.timeout_ms);
        options.attempts = config.attempts;
        options.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        options.ndots = 0;
        options.preserve_intermediates = false;
        let inner = builder
            .build()
            .map_err(|e| ResolveError::Failed(format!("cannot build resolver: {e}")))?;
        Ok(HickoryResolver { inner })
    }
}

impl Resolve for HickoryResolver {
    fn lookup<'a>(&'a self, host: &'a str) -> LookupFuture<'a> {
        Box::pin(async move {
            // A trailing dot makes the name absolute: no search domain is ever appended.
            let fqdn = format!("{}.", host.trim_end_matches('.'));
            match self.inner.lookup_ip(fqdn.as_str()).await {
                Ok(answers) => {
                    let addrs: Vec<IpAddr> = answers.iter().collect();
                    if addrs.is_empty() {
                        Err(ResolveError::NoAddresses)
                    } else {
                        Ok(addrs)
                    }
                }
                Err(e) if e.is_nx_domain() => Err(ResolveError::NxDomain),
                Err(e) if e.is_no_records_found() => Err(ResolveError::NoAddresses),
                Err(e) => Err(ResolveError::Failed(e.to_string())),
            }
        })
    }
}
