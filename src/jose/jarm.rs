//! JARM (JWT Secured Authorization Response Mode, `response_mode=jwt`):
//! the authorization response as a JWS by the authorization server. It is
//! accepted only when the signature verifies with one of the AS's keys,
//! `iss` is the AS's issuer exactly (the mix-up defence), `aud` is the
//! client, and `exp` has not passed (JARM §4.4). Encrypted responses
//! (JWE) are refused: the daemon registers no encryption key.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Verifier};
use serde_json::Value;

use super::Alg;
use super::jwks::JwksKey;

/// Clock skew allowed on `exp`.
pub const LEEWAY_SECS: i64 = 30;

/// Why a response was refused.
#[derive(Debug, thiserror::Error)]
pub enum JarmError {
    /// Not a usable JWS.
    #[error("the JARM response is malformed: {0}")]
    Malformed(String),
    /// No key of the AS matches (a new key: fetch the JWKS again).
    #[error("no key of the authorization server matches kid {0:?}")]
    UnknownKey(Option<String>),
    /// The signature or a claim is wrong.
    #[error("the JARM response does not verify: {0}")]
    Unverified(String),
}

/// A verified response.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The response parameters (every claim, as text).
    pub parameters: BTreeMap<String, String>,
    /// The key's `kid` (or thumbprint).
    pub kid: String,
    /// The JWS algorithm.
    pub alg: Alg,
}

fn part(s: &str, what: &str) -> Result<Vec<u8>, JarmError> {
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|e| JarmError::Malformed(format!("the {what} is not base64url: {e}")))
}

/// Verifies `response` for `client_id` of the AS `issuer`, with `keys`.
pub fn verify(
    response: &str,
    keys: &[JwksKey],
    issuer: &str,
    client_id: &str,
    now: i64,
) -> Result<Verified, JarmError> {
    let parts: Vec<&str> = response.split('.').collect();
    if parts.len() == 5 {
        return Err(JarmError::Malformed(
            "it is encrypted (JWE): register no encryption for this client, the daemon reads \
             signed responses only"
                .into(),
        ));
    }
    let [h, p, s] = parts.as_slice() else {
        return Err(JarmError::Malformed(format!(
            "a compact JWS has 3 parts, this has {}",
            parts.len()
        )));
    };
    let header: Value = serde_json::from_slice(&part(h, "header")?)
        .map_err(|e| JarmError::Malformed(format!("the header is not JSON: {e}")))?;
    let alg = match header.get("alg").and_then(Value::as_str) {
        Some("PS256") => Alg::Ps256,
        Some("ES256") => Alg::Es256,
        Some("EdDSA") => Alg::EdDsa,
        other => {
            return Err(JarmError::Unverified(format!(
                "alg {other:?} is not one FAPI allows (PS256, ES256, EdDSA)"
            )));
        }
    };
    let kid = header.get("kid").and_then(Value::as_str);
    let candidates: Vec<&JwksKey> = keys
        .iter()
        .filter(|k| k.alg == alg)
        .filter(|k| kid.is_none_or(|kid| k.kid.as_deref() == Some(kid)))
        .collect();
    let key = match candidates.as_slice() {
        [k] => *k,
        [] => return Err(JarmError::UnknownKey(kid.map(str::to_owned))),
        _ => {
            return Err(JarmError::Unverified(
                "the header names no kid and the AS has several keys of its alg".into(),
            ));
        }
    };
    let sig = part(s, "signature")?;
    let input = format!("{h}.{p}");
    if !verify_jws(alg, key, input.as_bytes(), &sig) {
        return Err(JarmError::Unverified(
            "the signature does not verify".into(),
        ));
    }
    let claims: serde_json::Map<String, Value> = serde_json::from_slice(&part(p, "payload")?)
        .map_err(|e| JarmError::Malformed(format!("the payload is not a JSON object: {e}")))?;
    match claims.get("iss").and_then(Value::as_str) {
        Some(i) if i == issuer => {}
        other => {
            return Err(JarmError::Unverified(format!(
                "iss is {other:?}, not the authorization server {issuer:?}"
            )));
        }
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == client_id,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(client_id)),
        _ => false,
    };
    if !aud_ok {
        return Err(JarmError::Unverified(format!(
            "aud is {:?}, not the client {client_id:?}",
            claims.get("aud")
        )));
    }
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp + LEEWAY_SECS >= now => {}
        Some(exp) => {
            return Err(JarmError::Unverified(format!(
                "it expired {} s ago",
                now - exp
            )));
        }
        None => return Err(JarmError::Unverified("it has no numeric exp".into())),
    }
    let parameters = claims
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, text)
        })
        .collect();
    Ok(Verified {
        parameters,
        kid: key.kid.clone().unwrap_or_else(|| key.thumbprint.clone()),
        alg,
    })
}

fn verify_jws(alg: Alg, key: &JwksKey, data: &[u8], sig: &[u8]) -> bool {
    let attempt = || -> Result<bool, openssl::error::ErrorStack> {
        match alg {
            Alg::Ps256 => {
                let mut v = Verifier::new(MessageDigest::sha256(), &key.key)?;
                v.set_rsa_padding(Padding::PKCS1_PSS)?;
                v.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
                v.set_rsa_mgf1_md(MessageDigest::sha256())?;
                v.update(data)?;
                v.verify(sig)
            }
            Alg::Es256 => {
                if sig.len() != 64 {
                    return Ok(false);
                }
                let der = EcdsaSig::from_private_components(
                    BigNum::from_slice(&sig[..32])?,
                    BigNum::from_slice(&sig[32..])?,
                )?
                .to_der()?;
                let mut v = Verifier::new(MessageDigest::sha256(), &key.key)?;
                v.update(data)?;
                v.verify(&der)
            }
            Alg::EdDsa => Verifier::new_without_digest(&key.key)?.verify_oneshot(sig, data),
        }
    };
    attempt().unwrap_or(false)
}
