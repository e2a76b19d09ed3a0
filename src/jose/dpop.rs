//! DPoP proofs (RFC 9449 §4.2, docs/standards.md §3): `typ: dpop+jwt`, the
//! public key in the header, and claims `jti`, `htm`, `htu`, `iat`, plus
//! `ath` with an access token and `nonce` when the server sent one. One
//! fresh proof per HTTP request; the key is never a credential's
//! client-authentication key.

use serde_json::{Map, Value, json};

use super::{Alg, b64url};
use crate::keys::{KeyError, ReadyKey};
use crate::now_unix;

/// The `typ` of a DPoP proof.
pub const TYP: &str = "dpop+jwt";

/// Why a proof could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DpopError {
    /// `htm` or `htu` is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// The key could not sign.
    #[error("signing failed: {0}")]
    Key(#[from] KeyError),
}

/// What a proof is for.
#[derive(Debug, Clone, Copy)]
pub struct ProofRequest<'a> {
    /// The HTTP method.
    pub htm: &'a str,
    /// The request URL (query and fragment are dropped).
    pub htu: &'a str,
    /// The access token the request presents (sets `ath`).
    pub access_token: Option<&'a str>,
    /// The server's latest nonce.
    pub nonce: Option<&'a str>,
}

/// A signed proof.
#[derive(Debug, Clone)]
pub struct Proof {
    /// The compact JWS.
    pub token: String,
    /// Its `jti`.
    pub jti: String,
    /// Its `htu`, as normalised.
    pub htu: String,
    /// Its `iat`.
    pub iat: i64,
}

/// `htu` as RFC 9449 §4.2 wants it: the URL without query and fragment.
pub fn normalize_htu(htu: &str) -> Result<String, DpopError> {
    let mut url = url::Url::parse(htu)
        .map_err(|e| DpopError::Invalid(format!("htu {htu:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(DpopError::Invalid(format!(
            "htu {htu:?} must be an http(s) URL with a host"
        )));
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url.to_string())
}

/// `ath`: base64url(SHA-256(the access token's ASCII)).
pub fn ath(access_token: &str) -> String {
    b64url(&openssl::sha::sha256(access_token.as_bytes()))
}

/// Signs a proof with `key` (algorithm `alg`, public JWK `jwk`).
pub async fn sign(
    key: &ReadyKey,
    alg: Alg,
    jwk: &Value,
    req: ProofRequest<'_>,
) -> Result<Proof, DpopError> {
    let method = req.htm;
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(DpopError::Invalid(format!(
            "htm {method:?} must be an HTTP method in upper case (GET, POST, …)"
        )));
    }
    let htu = normalize_htu(req.htu)?;
    let mut jti = [0u8; 16];
    openssl::rand::rand_bytes(&mut jti).map_err(KeyError::from)?;
    let jti = b64url(&jti);
    let iat = now_unix();
    let mut claims = Map::new();
    claims.insert("jti".into(), json!(jti));
    claims.insert("htm".into(), json!(method));
    claims.insert("htu".into(), json!(htu));
    claims.insert("iat".into(), json!(iat));
    if let Some(token) = req.access_token {
        claims.insert("ath".into(), json!(ath(token)));
    }
    if let Some(nonce) = req.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    let header = json!({ "typ": TYP, "alg": alg.as_str(), "jwk": jwk });
    let token = super::sign_compact(&header, &Value::Object(claims), key, alg).await?;
    Ok(Proof {
        token,
        jti,
        htu,
        iat,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htu_loses_query_and_fragment_only() {
        assert_eq!(
            normalize_htu("https://rs.example:8443/a/b?x=1#frag").unwrap(),
            "https://rs.example:8443/a/b"
        );
        assert_eq!(
            normalize_htu("https://RS.example/").unwrap(),
            "https://rs.example/"
        );
        assert!(normalize_htu("/relative").is_err());
        assert!(normalize_htu("ftp://x/").is_err());
    }

    /// RFC 9449 §7.1's example: the `ath` of its access token.
    #[test]
    fn ath_matches_rfc9449_example() {
        assert_eq!(
            ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }
}
