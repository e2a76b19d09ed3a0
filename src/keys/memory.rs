//! A key that lives only in this process's memory (OpenSSL's secure heap
//! when it is active): generated here, such as a DPoP proof key, or given
//! (tests, benchmarks). It is never exported.

use openssl::pkey::{PKey, Private, Public};

use super::openssl_ops::{self, SigningKey};
use super::{KeyError, KeyKind, Operations, Padding, ReadyKey, SignatureScheme};
use crate::secret::SecretBytes;

/// A private key held in memory, usable through [`ReadyKey`].
pub struct MemoryKey {
    key: SigningKey,
    kind: KeyKind,
}

impl MemoryKey {
    /// Generates a fresh key of `kind` (RSA keys with `bits`).
    pub fn generate(kind: KeyKind) -> Result<Self, KeyError> {
        let key = kind.generate()?;
        Ok(Self {
            key: SigningKey::new(key),
            kind,
        })
    }

    /// Holds an existing key.
    pub fn from_key(key: PKey<Private>) -> Result<Self, KeyError> {
        let kind = KeyKind::of(&key)
            .ok_or_else(|| KeyError::Unsupported("a key of no supported kind".into()))?;
        Ok(Self {
            key: SigningKey::new(key),
            kind,
        })
    }

    /// The key's kind.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The public half.
    pub fn public_key(&self) -> Result<PKey<Public>, KeyError> {
        Ok(PKey::public_key_from_der(
            &self.key.key().public_key_to_der()?,
        )?)
    }

    /// The key, ready for operations.
    pub fn into_ready(self) -> ReadyKey {
        ReadyKey::new(std::sync::Arc::new(self))
    }
}

impl Operations for MemoryKey {
    fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        if !self.kind.signs(scheme) {
            return Err(KeyError::Unsupported(format!(
                "a {:?} key cannot sign with {scheme:?}",
                self.kind
            )));
        }
        self.key.sign(scheme, message)
    }

    fn decrypt(&self, padding: Padding, ciphertext: &[u8]) -> Result<SecretBytes, KeyError> {
        openssl_ops::decrypt(self.key.key(), padding, ciphertext)
    }

    fn export_pkcs8_pem(&self, _: Option<&[u8]>) -> Result<SecretBytes, KeyError> {
        Err(KeyError::NotExtractable(
            "a key generated in memory is never exported".into(),
        ))
    }
}
