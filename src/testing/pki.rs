//! A throwaway certificate authority for local TLS origins, trusted only by whoever is
//! handed its PEM (a test config's `tls.extra_roots`, or the demo's fetcher).

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    date_time_ymd,
};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::TestingError;

/// A CA that can issue leaf certificates for any names.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    cert: CertificateDer<'static>,
    pem: String,
}

fn pki(e: impl std::fmt::Display) -> TestingError {
    TestingError::Pki(e.to_string())
}

/// Validity of a leaf certificate, to test expired and not-yet-valid certificates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// Valid now.
    Current,
    /// Expired in 2001.
    Expired,
}

impl TestCa {
    /// Makes a new CA with a fresh P-256 key.
    pub fn new() -> Result<TestCa, TestingError> {
        let key = KeyPair::generate().map_err(pki)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(pki)?;
        params.distinguished_name.push(
            DnType::CommonName,
            "Portcullis test CA (never trust outside tests)",
        );
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).map_err(pki)?;
        let pem = cert.pem();
        let der = cert.der().clone();
        Ok(TestCa {
            issuer: Issuer::new(params, key),
            cert: der,
            pem,
        })
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.pem
    }

    /// The CA certificate, DER.
    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.cert.clone()
    }

    /// Issues a leaf for `names` (DNS names or IP literals).
    pub fn leaf(
        &self,
        names: &[&str],
        validity: Validity,
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TestingError> {
        let key = KeyPair::generate().map_err(pki)?;
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).map_err(pki)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "portcullis test origin");
        if validity == Validity::Expired {
            params.not_before = date_time_ymd(2000, 1, 1);
            params.not_after = date_time_ymd(2001, 1, 1);
        }
        let cert = params.signed_by(&key, &self.issuer).map_err(pki)?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok((vec![cert.der().clone(), self.cert.clone()], key_der))
    }

    /// A rustls server configuration presenting a leaf for `names`, ALPN `alpn`.
    pub fn server_config(
        &self,
        names: &[&str],
        validity: Validity,
        alpn: &[&[u8]],
    ) -> Result<Arc<ServerConfig>, TestingError> {
        let (chain, key) = self.leaf(names, validity)?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(pki)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(pki)?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}
