//! The JWS algorithms FAPI allows, and which key each needs.

use std::fmt;

use openssl::nid::Nid;
use openssl::pkey::{HasPublic, Id, PKeyRef};

use crate::keys::SignatureScheme;

/// The JWS algorithms FAPI 2.0 allows (STANDARDS A7). The algorithm always
/// follows from the key; callers never choose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32; RSA ≥ 2048 bits.
    Ps256,
    /// ECDSA P-256 with SHA-256, raw `R‖S` signature.
    Es256,
    /// Ed25519 (RFC 8037), named `EdDSA` for the widest acceptance.
    EdDsa,
}

impl Alg {
    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Ps256 => "PS256",
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
        }
    }

    /// The algorithm a key must use, enforcing STANDARDS A8: RSA of at least
    /// 2048 bits, EC only on P-256, Ed25519 for EdDSA.
    pub fn for_key<T: HasPublic>(key: &PKeyRef<T>) -> Result<Alg, KeyPolicyError> {
        match key.id() {
            Id::RSA => {
                let bits = key.bits();
                if bits < 2048 {
                    return Err(KeyPolicyError::RsaTooSmall(bits));
                }
                Ok(Alg::Ps256)
            }
            Id::EC => {
                let ec = key
                    .ec_key()
                    .map_err(|_| KeyPolicyError::Unsupported("EC".into()))?;
                match ec.group().curve_name() {
                    Some(Nid::X9_62_PRIME256V1) => Ok(Alg::Es256),
                    other => Err(KeyPolicyError::WrongCurve(
                        other
                            .and_then(|n| n.short_name().ok())
                            .unwrap_or("unnamed")
                            .to_owned(),
                    )),
                }
            }
            Id::ED25519 => Ok(Alg::EdDsa),
            other => Err(KeyPolicyError::Unsupported(format!("{other:?}"))),
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key FAPI does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyPolicyError {
    /// RSA below 2048 bits (FAPI 1.0 Part 1 §5.2.2).
    #[error("RSA key of {0} bits: FAPI requires at least 2048")]
    RsaTooSmall(u32),
    /// EC on a curve other than P-256.
    #[error("EC key on curve {0}: only P-256 (ES256) is allowed")]
    WrongCurve(String),
    /// Any other key type.
    #[error("key type {0} is not allowed: use RSA (PS256), EC P-256 (ES256) or Ed25519 (EdDSA)")]
    Unsupported(String),
}

impl Alg {
    /// How the key signs for this algorithm.
    pub fn scheme(self) -> SignatureScheme {
        match self {
            Alg::Ps256 => SignatureScheme::RsaPssSha256,
            Alg::Es256 => SignatureScheme::EcdsaP256Sha256,
            Alg::EdDsa => SignatureScheme::Ed25519,
        }
    }
}
