//! TLS for outbound connections: the servers' trust (system roots plus an
//! optional CA file; verification cannot be switched off) and a client
//! certificate whose handshake signature is made by a key handle.
//!
//! The key is never serialised or exported to make an mTLS connection:
//! each new connection first makes the key ready (async: the passphrase may
//! need fetching), then hands rustls a signer over that ready key, used
//! once for the handshake and dropped with it.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::pki_types::CertificateDer;
use rustls::sign::{CertifiedKey, Signer, SigningKey};
use rustls::{ClientConfig, RootCertStore, SignatureAlgorithm, SignatureScheme as TlsScheme};

use crate::keys::{KeyKind, ReadyKey, SignatureScheme};

/// Why a TLS set-up failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The CA file could not be read or holds no certificate.
    #[error("CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// The crypto provider: ring, named explicitly (another may be linked in).
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system's roots, read once per process.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: std::sync::OnceLock<Arc<RootCertStore>> = std::sync::OnceLock::new();
    Arc::clone(ROOTS.get_or_init(|| {
        let mut store = RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            // A system root rustls cannot use is skipped, as browsers do.
            let _ = store.add(cert);
        }
        Arc::new(store)
    }))
}

/// The certificates a server may present: the system's roots, and those in
/// `ca_file` if given.
pub fn roots(ca_file: Option<&Path>) -> Result<Arc<RootCertStore>, TlsError> {
    let mut store = (*system_roots()).clone();
    if let Some(path) = ca_file {
        let err = |reason: String| TlsError::CaFile {
            path: path.to_owned(),
            reason,
        };
        let bytes = crate::sys::fs::read_capped(
            path,
            crate::sys::fs::MAX_CREDENTIAL_FILE_BYTES,
            "a CA file",
        )
        .map_err(|e| err(e.to_string()))?;
        let certs = openssl::x509::X509::stack_from_pem(&bytes)
            .map_err(|e| err(format!("not PEM certificates: {e}")))?;
        if certs.is_empty() {
            return Err(err("it holds no certificate".into()));
        }
        for c in certs {
            let der = c.to_der().map_err(|e| err(e.to_string()))?;
            store
                .add(CertificateDer::from(der))
                .map_err(|e| err(e.to_string()))?;
        }
    }
    Ok(Arc::new(store))
}

/// A client configuration trusting `roots`, presenting `client` (its chain
/// and a ready key) if given, offering `alpn`.
pub fn client_config(
    roots: Arc<RootCertStore>,
    client: Option<(Vec<CertificateDer<'static>>, ReadyKey, KeyKind)>,
    alpn: &[&[u8]],
) -> Result<ClientConfig, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let mut config = match client {
        None => builder.with_no_client_auth(),
        Some((chain, key, kind)) => builder.with_client_cert_resolver(Arc::new(OneHandshake {
            certified: Mutex::new(Some(Arc::new(CertifiedKey::new(
                chain,
                Arc::new(HandleKey { key, kind }),
            )))),
        })),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// Presents the client certificate for one handshake, then lets the ready
/// key go (a pooled connection must not keep a decrypted key alive past
/// its TTL or a Lock).
struct OneHandshake {
    certified: Mutex<Option<Arc<CertifiedKey>>>,
}

impl fmt::Debug for OneHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneHandshake")
    }
}

impl rustls::client::ResolvesClientCert for OneHandshake {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[TlsScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.certified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// A key handle's ready key as rustls' signing key.
struct HandleKey {
    key: ReadyKey,
    kind: KeyKind,
}

impl fmt::Debug for HandleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HandleKey({:?})", self.kind)
    }
}

/// Our scheme for a TLS scheme a key of `kind` can make, in preference
/// order (TLS 1.3 allows only PSS for RSA).
fn schemes(kind: KeyKind) -> &'static [(TlsScheme, SignatureScheme)] {
    match kind {
        KeyKind::Rsa { .. } => &[
            (TlsScheme::RSA_PSS_SHA256, SignatureScheme::RsaPssSha256),
            (TlsScheme::RSA_PSS_SHA512, SignatureScheme::RsaPssSha512),
            (TlsScheme::RSA_PKCS1_SHA256, SignatureScheme::RsaPkcs1Sha256),
        ],
        KeyKind::EcP256 => &[(
            TlsScheme::ECDSA_NISTP256_SHA256,
            SignatureScheme::EcdsaP256Sha256,
        )],
        KeyKind::Ed25519 => &[(TlsScheme::ED25519, SignatureScheme::Ed25519)],
    }
}

impl SigningKey for HandleKey {
    fn choose_scheme(&self, offered: &[TlsScheme]) -> Option<Box<dyn Signer>> {
        schemes(self.kind)
            .iter()
            .find(|(tls, _)| offered.contains(tls))
            .map(|&(tls, ours)| {
                Box::new(HandleSigner {
                    key: self.key.clone(),
                    tls,
                    ours,
                }) as Box<dyn Signer>
            })
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        match self.kind {
            KeyKind::Rsa { .. } => SignatureAlgorithm::RSA,
            KeyKind::EcP256 => SignatureAlgorithm::ECDSA,
            KeyKind::Ed25519 => SignatureAlgorithm::ED25519,
        }
    }
}

struct HandleSigner {
    key: ReadyKey,
    tls: TlsScheme,
    ours: SignatureScheme,
}

impl fmt::Debug for HandleSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HandleSigner({:?})", self.tls)
    }
}

impl Signer for HandleSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        // ECDSA comes out DER-encoded, as TLS wants it. rustls calls this
        // on the connection's task: RSA and token keys must not stall the
        // worker's other tasks.
        self.key
            .sign_blocking_here(self.ours, message)
            .map_err(|e| rustls::Error::General(format!("the key handle could not sign: {e}")))
    }

    fn scheme(&self) -> TlsScheme {
        self.tls
    }
}
