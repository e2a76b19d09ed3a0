//! A private key file as found on disk, and its decryption: every format
//! platforms hand out (encrypted PKCS#8 with PBKDF2, scrypt or 3DES, legacy
//! `Proc-Type: 4,ENCRYPTED` PEM, DER, PKCS#12 bundles), with a wrong
//! passphrase told apart from a damaged file.

use std::path::{Path, PathBuf};

use openssl::error::ErrorStack;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use crate::keys::KeyError;
use crate::secret::Passphrase;
use crate::sys::fs as files;

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
    /// One private-key entry of a Java keystore (JKS or PKCS#12), by alias.
    Keystore(super::keystore::Keystore),
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        // A plaintext key file's bytes are the key itself.
        use zeroize::Zeroize;
        match self {
            KeyFile::Pem { bytes, .. } | KeyFile::Der { bytes, .. } => bytes.zeroize(),
            KeyFile::Pkcs12 { der, .. } => der.zeroize(),
            // Wiped by its own Drop.
            KeyFile::Keystore(_) => {}
        }
    }
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, KeyError> {
    Ok(files::read_capped(
        path,
        files::MAX_CREDENTIAL_FILE_BYTES,
        "a key, certificate or PKCS#12 file",
    )?)
}

pub(crate) fn reasons(e: &ErrorStack) -> String {
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
    pub fn read_key(path: &Path) -> Result<Self, KeyError> {
        Self::from_bytes(path, read(path)?)
    }

    /// Tells the format of key-file contents (`path` is for messages).
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self, KeyError> {
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
                return Err(KeyError::CorruptKey {
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
    pub fn read_pkcs12(path: &Path) -> Result<Self, KeyError> {
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
            KeyFile::Keystore(k) => k.path(),
        }
    }

    /// The file as operators name it: `key file PATH`, `PKCS#12 bundle
    /// PATH`, `keystore PATH, alias ALIAS`.
    pub fn describe(&self) -> String {
        match self {
            KeyFile::Pem { path, .. } | KeyFile::Der { path, .. } => {
                format!("key file {}", path.display())
            }
            KeyFile::Pkcs12 { path, .. } => format!("PKCS#12 bundle {}", path.display()),
            KeyFile::Keystore(k) => {
                format!("keystore {}, alias {:?}", k.path().display(), k.alias())
            }
        }
    }

    /// Whether decrypting needs a passphrase.
    pub fn needs_passphrase(&self) -> bool {
        match self {
            KeyFile::Pem { encrypted, .. } | KeyFile::Der { encrypted, .. } => *encrypted,
            KeyFile::Pkcs12 { .. } | KeyFile::Keystore(_) => true,
        }
    }

    /// Decrypts the key (and, for PKCS#12, its certificates). CPU-heavy for
    /// scrypt/PBKDF2: call on a blocking thread.
    pub fn decrypt(
        &self,
        pass: Option<&Passphrase>,
        source_desc: &str,
    ) -> Result<Decrypted, KeyError> {
        if let KeyFile::Keystore(k) = self {
            // The keystore reader tells its own failures apart.
            return match pass {
                Some(p) => k.open(p, source_desc),
                None => Err(KeyError::WrongPassphrase {
                    path: k.path().to_owned(),
                    source_desc: source_desc.to_owned(),
                    detail: "a keystore needs its store password".into(),
                }),
            };
        }
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
            // Returned above.
            KeyFile::Keystore(_) => Err(ErrorStack::get()),
        };
        // The calls above ran below this frame: wipe what they left there.
        crate::sys::mem::scrub_stack();
        result.map_err(|e| self.classify(&e, source_desc))
    }

    fn classify(&self, e: &ErrorStack, source_desc: &str) -> KeyError {
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
            return KeyError::WrongPassphrase {
                path,
                source_desc: source_desc.to_owned(),
                detail,
            };
        }
        KeyError::CorruptKey { path, detail }
    }
}

/// A decrypted key, and the certificates when they came in the same file.
pub struct Decrypted {
    /// The private key (OpenSSL frees it with its secure heap when set up).
    pub key: PKey<Private>,
    /// Leaf first, then chain: only for PKCS#12.
    pub certs: Option<Vec<X509>>,
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
                    Err(KeyError::WrongPassphrase { .. }) => {}
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
            Err(KeyError::CorruptKey { .. })
        ));
    }
}
