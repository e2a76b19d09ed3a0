//! Public JWKs with RFC 7638 thumbprints, and `x5t#S256`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::bn::BigNumContext;
use openssl::ec::PointConversionForm;
use openssl::error::ErrorStack;
use openssl::hash::{MessageDigest, hash};
use openssl::pkey::{HasPublic, PKeyRef};
use serde_json::{Map, Value, json};

use super::{Alg, b64url};

/// A public JWK with its RFC 7638 thumbprint. Public by construction: it is
/// built only from a public key and certificates.
#[derive(Debug, Clone)]
pub struct PublicJwk {
    jwk: Map<String, Value>,
    /// The RFC 7638 required members only: what a DPoP header carries.
    required: Map<String, Value>,
    thumbprint: String,
}

impl PublicJwk {
    /// Builds the JWK of `key` for `alg`, with `kid` = RFC 7638 SHA-256
    /// thumbprint, `use: sig`, and `x5c`/`x5t#S256` when a chain (DER, leaf
    /// first) is given.
    pub fn new<T: HasPublic>(
        key: &PKeyRef<T>,
        alg: Alg,
        chain_der: &[Vec<u8>],
    ) -> Result<Self, ErrorStack> {
        let required = required_members(key, alg)?;
        // serde_json's Map is ordered by key, and `to_string` adds no
        // whitespace: exactly RFC 7638 §3.2's canonical form.
        let canonical = Value::Object(required.clone()).to_string();
        let thumbprint = b64url(&hash(MessageDigest::sha256(), canonical.as_bytes())?);
        let mut jwk = required.clone();
        jwk.insert("kid".into(), json!(thumbprint));
        jwk.insert("alg".into(), json!(alg.as_str()));
        jwk.insert("use".into(), json!("sig"));
        if let Some(leaf) = chain_der.first() {
            let x5c: Vec<String> = chain_der.iter().map(|der| STANDARD.encode(der)).collect();
            jwk.insert("x5c".into(), json!(x5c));
            jwk.insert("x5t#S256".into(), json!(x5t_s256(leaf)?));
        }
        Ok(Self {
            jwk,
            required,
            thumbprint,
        })
    }

    /// The RFC 7638 SHA-256 thumbprint, used as `kid`.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The key's required members only (`kty`, `crv`, `x`, `y` / `n`, `e`),
    /// as a JSON object.
    pub fn minimal_json(&self) -> Value {
        Value::Object(self.required.clone())
    }

    /// The JWK as a JSON object.
    pub fn to_json(&self) -> Value {
        Value::Object(self.jwk.clone())
    }
}

/// `x5t#S256`: base64url(SHA-256(DER certificate)), RFC 7515 §4.1.8 and the
/// RFC 8705 `cnf` member.
pub fn x5t_s256(cert_der: &[u8]) -> Result<String, ErrorStack> {
    Ok(b64url(&hash(MessageDigest::sha256(), cert_der)?))
}

/// The members RFC 7638 §3.2 requires, per key type.
fn required_members<T: HasPublic>(
    key: &PKeyRef<T>,
    alg: Alg,
) -> Result<Map<String, Value>, ErrorStack> {
    let mut m = Map::new();
    match alg {
        Alg::Ps256 => {
            let rsa = key.rsa()?;
            m.insert("kty".into(), json!("RSA"));
            m.insert("n".into(), json!(b64url(&rsa.n().to_vec())));
            m.insert("e".into(), json!(b64url(&rsa.e().to_vec())));
        }
        Alg::Es256 => {
            let ec = key.ec_key()?;
            let mut ctx = BigNumContext::new()?;
            // Uncompressed point: 0x04 ‖ X ‖ Y, each 32 bytes (zero-padded).
            let point = ec.public_key().to_bytes(
                ec.group(),
                PointConversionForm::UNCOMPRESSED,
                &mut ctx,
            )?;
            m.insert("kty".into(), json!("EC"));
            m.insert("crv".into(), json!("P-256"));
            m.insert("x".into(), json!(b64url(&point[1..33])));
            m.insert("y".into(), json!(b64url(&point[33..65])));
        }
        Alg::EdDsa => {
            m.insert("kty".into(), json!("OKP"));
            m.insert("crv".into(), json!("Ed25519"));
            m.insert("x".into(), json!(b64url(&key.raw_public_key()?)));
        }
    }
    Ok(m)
}
