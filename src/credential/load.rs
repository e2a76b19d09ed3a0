//! Reading a credential's certificate chain and the checks that make a
//! credential usable; the key file itself is the key backend's
//! ([`crate::keys::software`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::error::ErrorStack;
use openssl::pkey::{PKey, Private, Public};
use openssl::x509::X509;

use crate::jose::{Alg, KeyPolicyError, PublicJwk, x5t_s256};
use crate::keys::KeyError;
use crate::sys::fs::FileError;

/// Why a credential cannot be used. Every message says what is wrong and
/// what to do; none contains secret material.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// A file could not be read (missing, not a regular file, too large).
    #[error("{0}")]
    File(FileError),
    /// The certificate file holds no parseable certificate.
    #[error("certificate {path} is not a valid PEM or DER certificate ({detail})")]
    CorruptCertificate {
        /// The file.
        path: PathBuf,
        /// OpenSSL's reason.
        detail: String,
    },
    /// A key FAPI forbids.
    #[error("{0}")]
    KeyPolicy(#[from] KeyPolicyError),
    /// The certificate's notBefore is in the future.
    #[error(
        "certificate is not yet valid: notBefore is {not_before}, the clock here says {now}; \
         if the certificate should be valid, check clock sync (timedatectl, chrony)"
    )]
    NotYetValid {
        /// notBefore.
        not_before: String,
        /// The local time.
        now: String,
        /// notBefore, seconds since the Unix epoch: the daemon loads the
        /// credential again then.
        valid_from: i64,
    },
    /// The certificate's notAfter has passed.
    #[error("certificate expired at {not_after} (now {now}): install the renewed credential")]
    Expired {
        /// notAfter.
        not_after: String,
        /// The local time.
        now: String,
    },
    /// The key cannot be used (its file, its passphrase, its source, a
    /// lock).
    #[error(transparent)]
    Key(Arc<KeyError>),
    /// The credential has a client secret but no key or certificate.
    #[error(
        "it has no key or certificate (it authenticates with a client secret): it cannot sign, \
         decrypt or present a certificate"
    )]
    NoKey,
    /// An unexpected OpenSSL failure.
    #[error("OpenSSL failure: {0}")]
    Crypto(#[from] ErrorStack),
}

/// Reads a certificate file: PEM (leaf first, then any chain) or one DER
/// certificate.
pub fn read_certificates(path: &Path) -> Result<Vec<X509>, CredentialError> {
    parse_certificates(
        path,
        &crate::keys::software::read_file(path).map_err(CredentialError::File)?,
    )
}

/// Parses certificate-file contents (`path` is for messages).
pub fn parse_certificates(path: &Path, bytes: &[u8]) -> Result<Vec<X509>, CredentialError> {
    let parsed = if bytes.starts_with(b"-----BEGIN")
        || String::from_utf8_lossy(bytes).contains("-----BEGIN CERTIFICATE-----")
    {
        X509::stack_from_pem(bytes)
    } else {
        X509::from_der(bytes).map(|c| vec![c])
    };
    match parsed {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        Ok(_) => Err(CredentialError::CorruptCertificate {
            path: path.to_owned(),
            detail: "no certificate found".into(),
        }),
        Err(e) => Err(CredentialError::CorruptCertificate {
            path: path.to_owned(),
            detail: crate::keys::software::reasons(&e),
        }),
    }
}

/// The public facts of a credential, derived from its certificate chain.
#[derive(Debug, Clone)]
pub struct PublicFacts {
    /// The JWS algorithm the key uses.
    pub alg: Alg,
    /// Public JWK with `kid`, `x5c` and `x5t#S256`.
    pub jwk: PublicJwk,
    /// The chain as PEM, leaf first.
    pub chain_pem: String,
    /// The chain as DER, leaf first (mTLS, the Berlin Group certificate
    /// header): parsing a certificate costs OpenSSL 3 about 200 µs, so it
    /// is done once, here.
    pub chain_der: Vec<Vec<u8>>,
    /// The leaf's issuer and serial as a Berlin Group (draft-cavage)
    /// `keyId`, or why it cannot be written.
    pub berlin_group_key_id: Result<String, String>,
    /// `x5t#S256` of the leaf.
    pub x5t_s256: String,
    /// notBefore, Unix seconds.
    pub not_before: i64,
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// notAfter as OpenSSL prints it, for messages.
    pub not_after_text: String,
    /// The leaf certificate's public key, to check the private key against.
    pub public_key: PKey<Public>,
}

/// Seconds since the Unix epoch of an ASN.1 time.
fn unix(t: &Asn1TimeRef) -> Result<i64, ErrorStack> {
    let epoch = Asn1Time::from_unix(0)?;
    let d = epoch.diff(t)?;
    Ok(i64::from(d.days) * 86_400 + i64::from(d.secs))
}

impl From<KeyError> for CredentialError {
    fn from(e: KeyError) -> Self {
        CredentialError::Key(Arc::new(e))
    }
}

impl From<FileError> for CredentialError {
    fn from(e: FileError) -> Self {
        CredentialError::File(e)
    }
}

impl CredentialError {
    /// Whether the passphrase source is down (which passes: UNAVAILABLE,
    /// retried in the background).
    pub fn is_source_unavailable(&self) -> bool {
        matches!(self, CredentialError::Key(k) if k.is_source_unavailable())
    }
}

impl PublicFacts {
    /// Checks the leaf certificate (validity window now, key policy) and
    /// derives the public facts.
    pub fn from_chain(chain: &[X509]) -> Result<Self, CredentialError> {
        let leaf = chain
            .first()
            .ok_or_else(|| CredentialError::CorruptCertificate {
                path: PathBuf::new(),
                detail: "no certificate found".into(),
            })?;
        let now = Asn1Time::days_from_now(0)?;
        if leaf.not_before() > now {
            return Err(CredentialError::NotYetValid {
                not_before: leaf.not_before().to_string(),
                now: now.to_string(),
                valid_from: unix(leaf.not_before())?,
            });
        }
        if leaf.not_after() < now {
            return Err(CredentialError::Expired {
                not_after: leaf.not_after().to_string(),
                now: now.to_string(),
            });
        }
        let public_key = leaf.public_key()?;
        let alg = Alg::for_key(&public_key)?;
        let chain_der = chain
            .iter()
            .map(|c| c.to_der())
            .collect::<Result<Vec<_>, _>>()?;
        let mut chain_pem = String::new();
        for c in chain {
            chain_pem.push_str(&String::from_utf8_lossy(&c.to_pem()?));
        }
        Ok(Self {
            alg,
            jwk: PublicJwk::new(&public_key, alg, &chain_der)?,
            chain_pem,
            x5t_s256: x5t_s256(&chain_der[0])?,
            berlin_group_key_id: crate::httpsig::cavage::key_id(leaf).map_err(|e| e.to_string()),
            chain_der,
            not_before: unix(leaf.not_before())?,
            not_after: unix(leaf.not_after())?,
            not_after_text: leaf.not_after().to_string(),
            public_key,
        })
    }

    /// Checks that `key` is the private half of the certificate's key.
    pub fn check_matches(&self, key: &PKey<Private>) -> Result<(), CredentialError> {
        Ok(crate::keys::software::check_matches(
            key,
            &self.public_key,
            self.jwk.thumbprint(),
        )?)
    }

    /// Whether `e` is the mismatch [`Self::check_matches`] reports, and the
    /// certificate key's thumbprint if so.
    pub fn mismatch(e: &CredentialError) -> Option<&str> {
        match e {
            CredentialError::Key(k) => match &**k {
                KeyError::Mismatch { cert_kid } => Some(cert_kid),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether notAfter has passed at `now` (Unix seconds).
    pub fn expired_at(&self, now: i64) -> bool {
        now >= self.not_after
    }

    /// Whole days left at `now` (negative once expired).
    pub fn days_left(&self, now: i64) -> i64 {
        (self.not_after - now).div_euclid(86_400)
    }
}
