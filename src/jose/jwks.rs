//! Public keys from a JWK Set (RFC 7517 §5): a bank's response-signing
//! keys, an authorization server's JARM keys. Only the FAPI key types
//! (RSA ≥ 2048, EC P-256, Ed25519); a set holding private members is
//! refused whole, since whoever wrote it confused the halves.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Public};
use openssl::rsa::Rsa;
use serde_json::Value;

use super::{Alg, PublicJwk};

/// One public key of a set.
#[derive(Debug, Clone)]
pub struct JwksKey {
    /// Its `kid`, if the set gives one.
    pub kid: Option<String>,
    /// Its RFC 7638 SHA-256 thumbprint.
    pub thumbprint: String,
    /// The JWS algorithm it verifies.
    pub alg: Alg,
    /// The key.
    pub key: PKey<Public>,
}

/// Why a set was refused.
#[derive(Debug, thiserror::Error)]
#[error("JWKS: {0}")]
pub struct JwksError(String);

fn member<'a>(jwk: &'a Value, name: &str, i: usize) -> Result<&'a str, JwksError> {
    jwk.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| JwksError(format!("key {i} has no string member {name:?}")))
}

fn bytes(jwk: &Value, name: &str, i: usize) -> Result<Vec<u8>, JwksError> {
    URL_SAFE_NO_PAD
        .decode(member(jwk, name, i)?)
        .map_err(|e| JwksError(format!("key {i}: {name} is not base64url: {e}")))
}

fn key_of(jwk: &Value, i: usize) -> Result<PKey<Public>, JwksError> {
    let ossl = |e: openssl::error::ErrorStack| JwksError(format!("key {i}: {e}"));
    match member(jwk, "kty", i)? {
        "RSA" => {
            let n = BigNum::from_slice(&bytes(jwk, "n", i)?).map_err(ossl)?;
            let e = BigNum::from_slice(&bytes(jwk, "e", i)?).map_err(ossl)?;
            let rsa = Rsa::from_public_components(n, e).map_err(ossl)?;
            PKey::from_rsa(rsa).map_err(ossl)
        }
        "EC" => {
            if member(jwk, "crv", i)? != "P-256" {
                return Err(JwksError(format!("key {i}: only EC P-256 is allowed")));
            }
            let (x, y) = (bytes(jwk, "x", i)?, bytes(jwk, "y", i)?);
            if x.len() != 32 || y.len() != 32 {
                return Err(JwksError(format!("key {i}: x and y must be 32 bytes")));
            }
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(ossl)?;
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            let mut ctx = BigNumContext::new().map_err(ossl)?;
            let point = EcPoint::from_bytes(&group, &point, &mut ctx).map_err(ossl)?;
            let ec = EcKey::from_public_key(&group, &point).map_err(ossl)?;
            ec.check_key().map_err(ossl)?;
            PKey::from_ec_key(ec).map_err(ossl)
        }
        "OKP" => {
            if member(jwk, "crv", i)? != "Ed25519" {
                return Err(JwksError(format!("key {i}: only OKP Ed25519 is allowed")));
            }
            PKey::public_key_from_raw_bytes(&bytes(jwk, "x", i)?, Id::ED25519).map_err(ossl)
        }
        other => Err(JwksError(format!(
            "key {i}: kty {other:?} is not RSA, EC or OKP"
        ))),
    }
}

/// The signing keys of a JWK Set document. Keys marked `use: enc` are
/// left out; an unusable signing key refuses the set.
pub fn parse(doc: &[u8]) -> Result<Vec<JwksKey>, JwksError> {
    let v: Value = serde_json::from_slice(doc).map_err(|e| JwksError(format!("not JSON: {e}")))?;
    let keys = v
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| JwksError("no \"keys\" array".into()))?;
    let mut out = Vec::with_capacity(keys.len());
    for (i, jwk) in keys.iter().enumerate() {
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|m| jwk.get(m).is_some())
        {
            return Err(JwksError(format!(
                "key {i} holds private members: a JWKS given here holds public keys only"
            )));
        }
        if jwk.get("use").and_then(Value::as_str) == Some("enc") {
            continue;
        }
        let key = key_of(jwk, i)?;
        let alg = Alg::for_key(&key).map_err(|e| JwksError(format!("key {i}: {e}")))?;
        let thumbprint = PublicJwk::new(&key, alg, &[])
            .map_err(|e| JwksError(format!("key {i}: {e}")))?
            .thumbprint()
            .to_owned();
        out.push(JwksKey {
            kid: jwk.get("kid").and_then(Value::as_str).map(str::to_owned),
            thumbprint,
            alg,
            key,
        });
    }
    if out.is_empty() {
        return Err(JwksError("no signing key".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::EcKey;

    #[test]
    fn round_trip_and_refusals() {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let ec = EcKey::generate(&group).unwrap();
        let pkey = PKey::from_ec_key(ec).unwrap();
        let jwk = PublicJwk::new(&pkey, Alg::Es256, &[]).unwrap();
        let doc = serde_json::json!({"keys": [jwk.to_json()]}).to_string();
        let keys = parse(doc.as_bytes()).unwrap();
        assert_eq!(keys[0].thumbprint, jwk.thumbprint());
        assert_eq!(keys[0].kid.as_deref(), Some(jwk.thumbprint()));
        assert!(keys[0].key.public_eq(&pkey));
        let mut private = jwk.to_json();
        private["d"] = "AA".into();
        let doc = serde_json::json!({"keys": [private]}).to_string();
        assert!(parse(doc.as_bytes()).is_err());
        assert!(parse(b"{\"keys\": []}").is_err());
        assert!(parse(b"[]").is_err());
    }
}
