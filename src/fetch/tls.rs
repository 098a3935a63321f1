//! Outbound TLS configuration: rustls with an explicit provider, TLS 1.2+, the web PKI
//! roots plus operator roots, ALPN h2 and http/1.1.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

use crate::config::TlsConfig;

/// Why the TLS client configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    /// An `extra_roots` file could not be read or holds no certificate.
    #[error("cannot load trust roots from {path}: {why}")]
    Roots {
        /// The file.
        path: String,
        /// What went wrong.
        why: String,
    },
    /// No trust anchor at all: every handshake would fail.
    #[error("no trust roots configured (builtin_roots = false and no extra_roots)")]
    NoRoots,
    /// rustls refused the configuration.
    #[error("tls configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Reads every certificate from a PEM file.
pub fn load_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let err = |why: String| TlsSetupError::Roots {
        path: path.display().to_string(),
        why,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no certificate in file".to_owned()));
    }
    Ok(certs)
}

/// Builds the client configuration every fetch uses.
///
/// The provider is passed explicitly so another crate enabling a second rustls provider
/// cannot make rustls panic on an ambiguous default.
pub fn client_config(
    config: &TlsConfig,
    extra: &[CertificateDer<'static>],
) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    if config.builtin_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for path in &config.extra_roots {
        for cert in load_pem_certs(path)? {
            roots.add(cert)?;
        }
    }
    for cert in extra {
        roots.add(cert.clone())?;
    }
    if roots.is_empty() {
        return Err(TlsSetupError::NoRoots);
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    tls.enable_sni = true;
    Ok(Arc::new(tls))
}
