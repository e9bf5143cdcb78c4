//! TLS for the listener (SPEC §13): a PEM certificate chain and key (rustls, aws-lc-rs),
//! HTTP/2 and HTTP/1.1 offered by ALPN. The files are read again when they change — the way
//! certbot, cert-manager and Caddy renew them — and new handshakes use the new pair while open
//! connections carry on with the one they started with. A pair that does not load (a key that
//! is not the certificate's, a file half-written) is refused with a warning and the previous
//! pair stays in use.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_util::sync::CancellationToken;

/// Why a certificate and key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate { path: PathBuf },
    #[error("{path} is not a PEM certificate chain: {reason}")]
    BadCertificate { path: PathBuf, reason: String },
    #[error("{path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1): {reason}")]
    BadKey { path: PathBuf, reason: String },
    #[error("the key in {key} is not one rustls can sign with: {reason}")]
    UnusableKey { key: PathBuf, reason: String },
    #[error("the key in {key} does not belong to the certificate in {cert}")]
    Mismatch { cert: PathBuf, key: PathBuf },
    #[error("cannot make a TLS configuration: {0}")]
    Config(String),
}

/// Where the certificate chain and its key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Unreadable {
        path: path.to_owned(),
        source,
    })
}

impl CertificateFiles {
    /// Reads and checks the pair: the chain parses, the key parses, and the key is the
    /// certificate's.
    pub fn load(&self) -> Result<CertifiedKey, TlsError> {
        let cert_pem = read(&self.cert)?;
        let key_pem = read(&self.key)?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::BadCertificate {
                path: self.cert.clone(),
                reason: e.to_string(),
            })?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate {
                path: self.cert.clone(),
            });
        }
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::BadKey {
            path: self.key.clone(),
            reason: e.to_string(),
        })?;
        let signing_key =
            provider()
                .key_provider
                .load_private_key(key)
                .map_err(|e| TlsError::UnusableKey {
                    key: self.key.clone(),
                    reason: e.to_string(),
                })?;
        let certified = CertifiedKey::new(chain, signing_key);
        match certified.keys_match() {
            Ok(()) => Ok(certified),
            // A key that cannot tell its public half is checked by the first handshake.
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
                Ok(certified)
            }
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
                Err(TlsError::Mismatch {
                    cert: self.cert.clone(),
                    key: self.key.clone(),
                })
            }
            Err(e) => Err(TlsError::BadCertificate {
                path: self.cert.clone(),
                reason: e.to_string(),
            }),
        }
    }

    /// When either file last changed (and their sizes): what the watcher compares.
    fn stamp(&self) -> Option<[(SystemTime, u64); 2]> {
        let of = |path: &Path| {
            std::fs::metadata(path)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        };
        Some([of(&self.cert)?, of(&self.key)?])
    }
}

/// The pair new handshakes get; replaced when the files change.
#[derive(Debug)]
pub struct CurrentCertificate(ArcSwap<CertifiedKey>);

impl ResolvesServerCert for CurrentCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.load_full())
    }
}

/// What the listener needs: the acceptor, and the certificate it serves (for the watcher).
#[derive(Clone)]
pub struct Tls {
    pub acceptor: tokio_rustls::TlsAcceptor,
    current: Arc<CurrentCertificate>,
    files: CertificateFiles,
}

impl Tls {
    /// Loads the pair and makes the acceptor: HTTP/2 and HTTP/1.1 by ALPN, TLS 1.2 and 1.3.
    pub fn new(files: CertificateFiles) -> Result<Tls, TlsError> {
        let current = Arc::new(CurrentCertificate(ArcSwap::from_pointee(files.load()?)));
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            current,
            files,
        })
    }

    /// Loads the files again if they changed since `seen`; returns what it saw.
    fn reload_if_changed(
        &self,
        seen: Option<[(SystemTime, u64); 2]>,
    ) -> Option<[(SystemTime, u64); 2]> {
        let now = self.files.stamp();
        if now.is_none() || now == seen {
            return seen;
        }
        match self.files.load() {
            Ok(pair) => {
                self.current.0.store(Arc::new(pair));
                tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
                now
            }
            Err(e) => {
                // Perhaps half-written: tried again at the next change, the old pair serves.
                tracing::warn!(error = %e, "the changed TLS files were not loaded; the previous certificate stays in use");
                now
            }
        }
    }

    /// Looks at the files every `every` and reloads them when they change, until `stop`.
    pub async fn watch(self, every: Duration, stop: CancellationToken) {
        let mut seen = self.files.stamp();
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = stop.cancelled() => return,
            }
            seen = self.reload_if_changed(seen);
        }
    }
}
