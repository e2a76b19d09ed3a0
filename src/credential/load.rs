//! Reading credential files: certificate chains, private keys in every
//! format platforms hand out, and the checks that make a credential usable.

use std::path::{Path, PathBuf};

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::error::ErrorStack;
use openssl::pkey::{PKey, Private, Public};
use openssl::x509::X509;

use crate::jose::{Alg, KeyPolicyError, PublicJwk, x5t_s256};
use crate::secret::Passphrase;
use crate::source::SourceError;
use crate::sys::fs::{self as files, FileError};

/// Why a credential cannot be used. Every message says what is wrong and
/// what to do; none contains secret material.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// A file could not be read (missing, not a regular file, too large).
    #[error("{0}")]
    File(#[from] FileError),
    /// The certificate file holds no parseable certificate.
    #[error("certificate {path} is not a valid PEM or DER certificate ({detail})")]
    CorruptCertificate {
        /// The file.
        path: PathBuf,
        /// OpenSSL's reason.
        detail: String,
    },
    /// The key file is not a private key in a known format.
    #[error("key file {path} is not a readable private key ({detail})")]
    CorruptKey {
        /// The file.
        path: PathBuf,
        /// What was found, and OpenSSL's reason.
        detail: String,
    },
    /// The passphrase does not decrypt the key.
    #[error(
        "the passphrase from {source_desc} does not decrypt {path} ({detail}): \
         store the passphrase the platform issued with this key (if it is right, the file is damaged)"
    )]
    WrongPassphrase {
        /// The key file.
        path: PathBuf,
        /// The passphrase source.
        source_desc: String,
        /// OpenSSL's reason (`bad decrypt`, `mac verify failure`).
        detail: String,
    },
    /// The key file is unencrypted and the config did not opt in.
    #[error(
        "key file {0} is not encrypted: encrypt it (openssl pkcs8 -topk8 -v2 aes256) or set \
         allow_plaintext_key = true"
    )]
    PlaintextNotAllowed(PathBuf),
    /// Key and certificate belong to different key pairs.
    #[error(
        "the private key does not match the certificate's public key: check that the .crt \
         belongs to this .key (kid of the certificate: {cert_kid})"
    )]
    KeyCertMismatch {
        /// The certificate key's thumbprint, to tell certificates apart.
        cert_kid: String,
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
    /// The daemon was locked: no passphrase or key is held.
    #[error("locked: unlock with `fapi-agent unlock` (Admin.Unlock)")]
    Locked,
    /// The passphrase source failed.
    #[error("{0}")]
    Source(#[from] SourceError),
    /// An unexpected OpenSSL failure.
    #[error("OpenSSL failure: {0}")]
    Crypto(#[from] ErrorStack),
}

/// A private key file as found on disk, not yet decrypted.
pub enum KeyFile {
    /// PEM: encrypted PKCS#8, legacy `Proc-Type: 4,ENCRYPTED`, or plaintext.
    Pem {
        /// The file.
        path: PathBuf,
        /// Its contents (encrypted unless `encrypted` is false).
        bytes: Vec<u8>,
        /// Whether a passphrase is needed.
        encrypted: bool,
    },
    /// DER PKCS#8, encrypted or not.
    Der {
        /// The file.
        path: PathBuf,
        /// Its contents.
        bytes: Vec<u8>,
        /// Whether a passphrase is needed.
        encrypted: bool,
    },
    /// A PKCS#12 bundle (key, certificate, chain).
    Pkcs12 {
        /// The file.
        path: PathBuf,
        /// Its contents.
        der: Vec<u8>,
    },
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        // A plaintext key file's bytes are the key itself.
        use zeroize::Zeroize;
        match self {
            KeyFile::Pem { bytes, .. } | KeyFile::Der { bytes, .. } => bytes.zeroize(),
            KeyFile::Pkcs12 { der, .. } => der.zeroize(),
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, CredentialError> {
    Ok(files::read_capped(
        path,
        files::MAX_CREDENTIAL_FILE_BYTES,
        "a key, certificate or PKCS#12 file",
    )?)
}

fn reasons(e: &ErrorStack) -> String {
    let mut out: Vec<&str> = e.errors().iter().filter_map(|e| e.reason()).collect();
    out.dedup();
    if out.is_empty() {
        "no detail from OpenSSL".into()
    } else {
        out.join("; ")
    }
}

impl KeyFile {
    /// Reads a key file and tells its format, without decrypting.
    pub fn read_key(path: &Path) -> Result<Self, CredentialError> {
        Self::from_bytes(path, read(path)?)
    }

    /// Tells the format of key-file contents (`path` is for messages).
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self, CredentialError> {
        let path = path.to_owned();
        let text = String::from_utf8_lossy(&bytes);
        if text.contains("-----BEGIN ") {
            let encrypted = if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
                || text.contains("Proc-Type: 4,ENCRYPTED")
            {
                true
            } else if ["", "RSA ", "EC "]
                .iter()
                .any(|kind| text.contains(&format!("-----BEGIN {kind}PRIVATE KEY-----")))
            {
                false
            } else {
                return Err(CredentialError::CorruptKey {
                    path,
                    detail: "no PEM private key block (BEGIN [ENCRYPTED] PRIVATE KEY) found".into(),
                });
            };
            return Ok(KeyFile::Pem {
                path,
                bytes,
                encrypted,
            });
        }
        // DER: a plaintext PKCS#8/traditional key parses without a passphrase.
        let encrypted = PKey::private_key_from_der(&bytes).is_err();
        Ok(KeyFile::Der {
            path,
            bytes,
            encrypted,
        })
    }

    /// Reads a PKCS#12 bundle (opened later, with the passphrase).
    pub fn read_pkcs12(path: &Path) -> Result<Self, CredentialError> {
        Ok(KeyFile::Pkcs12 {
            der: read(path)?,
            path: path.to_owned(),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        match self {
            KeyFile::Pem { path, .. }
            | KeyFile::Der { path, .. }
            | KeyFile::Pkcs12 { path, .. } => path,
        }
    }

    /// Whether decrypting needs a passphrase.
    pub fn needs_passphrase(&self) -> bool {
        match self {
            KeyFile::Pem { encrypted, .. } | KeyFile::Der { encrypted, .. } => *encrypted,
            KeyFile::Pkcs12 { .. } => true,
        }
    }

    /// Decrypts the key (and, for PKCS#12, its certificates). CPU-heavy for
    /// scrypt/PBKDF2: call on a blocking thread.
    pub fn decrypt(
        &self,
        pass: Option<&Passphrase>,
        source_desc: &str,
    ) -> Result<Decrypted, CredentialError> {
        // OpenSSL asks the callback for the passphrase and copies it into its
        // own buffer, which it cleanses; we never make another copy.
        let callback = |buf: &mut [u8]| -> Result<usize, ErrorStack> {
            let Some(p) = pass else {
                // No passphrase configured: fail rather than let OpenSSL prompt.
                return Ok(0);
            };
            let p = p.expose();
            let dst = buf.get_mut(..p.len()).ok_or_else(ErrorStack::get)?;
            dst.copy_from_slice(p);
            Ok(p.len())
        };
        let result = match self {
            KeyFile::Pem { bytes, .. } => PKey::private_key_from_pem_callback(bytes, callback)
                .map(|key| Decrypted { key, certs: None }),
            KeyFile::Der {
                bytes,
                encrypted: false,
                ..
            } => PKey::private_key_from_der(bytes).map(|key| Decrypted { key, certs: None }),
            KeyFile::Der { bytes, .. } => PKey::private_key_from_pkcs8_callback(bytes, callback)
                .map(|key| Decrypted { key, certs: None }),
            KeyFile::Pkcs12 { der, .. } => match pass {
                Some(p) => {
                    crate::sys::openssl::pkcs12_parse(der, p.expose_nul_terminated()).map(|c| {
                        let mut certs = vec![c.cert];
                        certs.extend(c.chain);
                        Decrypted {
                            key: c.key,
                            certs: Some(certs),
                        }
                    })
                }
                None => Err(ErrorStack::get()),
            },
        };
        // The calls above ran below this frame: wipe what they left there.
        crate::sys::mem::scrub_stack();
        result.map_err(|e| self.classify(&e, source_desc))
    }

    fn classify(&self, e: &ErrorStack, source_desc: &str) -> CredentialError {
        let detail = reasons(e);
        let path = self.path().to_owned();
        // Damage to the file's framing shows before any decryption. Past
        // it, a wrong passphrase usually fails the padding ("bad decrypt")
        // but passes it about once in 256 tries and then fails on garbage
        // ASN.1 (measured: 1500 wrong passphrases, all one or the other).
        // A file OpenSSL cannot make sense of at all says only
        // "unsupported".
        const FRAMING: &[&str] = &[
            "bad base64 decode",
            "no start line",
            "bad end line",
            "short header",
            "not proc type",
            "not encrypted",
            "unsupported encryption",
            "unsupported cipher",
            "wrong final block length",
            "data not multiple of block length",
        ];
        const DECRYPTED_GARBAGE: &[&str] = &[
            "bad decrypt",
            "mac verify failure",
            "bad password read",
            "nested asn1 error",
            "wrong tag",
            "header too long",
            "bad object header",
            "decode error",
        ];
        let damaged = FRAMING.iter().any(|r| detail.contains(r));
        let wrong = DECRYPTED_GARBAGE.iter().any(|r| detail.contains(r));
        if self.needs_passphrase() && wrong && !damaged {
            return CredentialError::WrongPassphrase {
                path,
                source_desc: source_desc.to_owned(),
                detail,
            };
        }
        CredentialError::CorruptKey { path, detail }
    }
}

/// A decrypted key, and the certificates when they came in the same file.
pub struct Decrypted {
    /// The private key (OpenSSL frees it with its secure heap when set up).
    pub key: PKey<Private>,
    /// Leaf first, then chain: only for PKCS#12.
    pub certs: Option<Vec<X509>>,
}

/// Reads a certificate file: PEM (leaf first, then any chain) or one DER
/// certificate.
pub fn read_certificates(path: &Path) -> Result<Vec<X509>, CredentialError> {
    parse_certificates(path, &read(path)?)
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
            detail: reasons(&e),
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
            not_before: unix(leaf.not_before())?,
            not_after: unix(leaf.not_after())?,
            not_after_text: leaf.not_after().to_string(),
            public_key,
        })
    }

    /// Checks that `key` is the private half of the certificate's key.
    pub fn check_matches(&self, key: &PKey<Private>) -> Result<(), CredentialError> {
        if key.public_eq(&self.public_key) {
            Ok(())
        } else {
            Err(CredentialError::KeyCertMismatch {
                cert_kid: self.jwk.thumbprint().to_owned(),
            })
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

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::symm::Cipher;

    /// A wrong passphrase passes the CBC padding check about once in 256
    /// tries and then fails on garbage ASN.1: it must still be reported as
    /// a wrong passphrase, never as a corrupt file.
    #[test]
    fn every_wrong_passphrase_is_reported_as_such() {
        let group =
            openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
        let ec = PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap()).unwrap();
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        let files = [
            ec.private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"right")
                .unwrap(),
            rsa.private_key_to_pem_passphrase(Cipher::aes_256_cbc(), b"right")
                .unwrap(),
        ];
        for pem in files {
            let kf = KeyFile::from_bytes(Path::new("k.key"), pem).unwrap();
            for i in 0..300 {
                let p = Passphrase::from_slice(format!("wrong-{i}").as_bytes()).unwrap();
                match kf.decrypt(Some(&p), "test") {
                    Err(CredentialError::WrongPassphrase { .. }) => {}
                    Err(e) => panic!("wrong passphrase #{i} reported as: {e}"),
                    Ok(_) => panic!("wrong passphrase #{i} decrypted the key"),
                }
            }
        }
        let garbage = b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nnot base64!\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let kf = KeyFile::from_bytes(Path::new("k.key"), garbage.to_vec()).unwrap();
        let p = Passphrase::from_slice(b"x").unwrap();
        assert!(matches!(
            kf.decrypt(Some(&p), "test"),
            Err(CredentialError::CorruptKey { .. })
        ));
    }
}
