//! FAPI 2.0 / RFC 7523 `private_key_jwt` client assertions: rules A1–A13 of
//! docs/standards.md §1, for one credential's key.

use serde_json::{Map, Value, json};

use super::{Alg, b64url};
use crate::config::{AssertionConfig, MAX_ASSERTION_LIFETIME_SECS};
use crate::keys::{KeyError, ReadyKey};
use crate::now_unix;

/// A1: the `client_assertion_type` to post beside the assertion.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// A10: the `typ` header of a client assertion.
pub const TYP: &str = "client-authentication+jwt";
/// Claims the daemon sets and callers cannot override.
pub const RESERVED_CLAIMS: &[&str] = &["iss", "sub", "aud", "exp", "iat", "nbf", "jti"];
/// Largest `extra_claims` object accepted, in bytes of JSON.
const MAX_EXTRA_CLAIMS_BYTES: usize = 4096;

/// Why an assertion was not signed.
#[derive(Debug, thiserror::Error)]
pub enum AssertionError {
    /// The request asks for something the rules or the config forbid.
    #[error("{0}")]
    Invalid(String),
    /// The key could not sign.
    #[error("signing failed: {0}")]
    Key(#[from] KeyError),
}

/// What a caller may choose about an assertion.
#[derive(Debug, Default, Clone)]
pub struct Request {
    /// `aud`; `None` means the configured issuer.
    pub audience: Option<String>,
    /// Lifetime in seconds; `None` means the configured default.
    pub lifetime_seconds: Option<u32>,
    /// Additional, non-reserved claims (a JSON object).
    pub extra_claims: Option<Map<String, Value>>,
}

/// Who signs: the credential's identity and public facts.
#[derive(Debug, Clone, Copy)]
pub struct Signer<'a> {
    /// The credential's name, for messages and logs.
    pub credential: &'a str,
    /// `iss` and `sub`.
    pub client_id: &'a str,
    /// The authorization server's issuer: the default `aud`.
    pub issuer: &'a str,
    /// The credential's assertion settings.
    pub config: &'a AssertionConfig,
    /// The key's algorithm.
    pub alg: Alg,
    /// The key's RFC 7638 thumbprint.
    pub kid: &'a str,
    /// The certificate's `x5t#S256`.
    pub x5t_s256: &'a str,
}

/// A signed assertion and the facts a caller needs about it.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The compact JWS.
    pub token: String,
    /// Its `kid`.
    pub kid: String,
    /// Its `jti`.
    pub jti: String,
    /// Its `exp`.
    pub expires_at: i64,
    /// Its `alg`.
    pub alg: Alg,
    /// The audience used.
    pub audience: String,
}

/// Parses a caller's `extra_claims` JSON text: an object, small, with no
/// reserved claim.
pub fn parse_extra_claims(text: &str) -> Result<Option<Map<String, Value>>, AssertionError> {
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > MAX_EXTRA_CLAIMS_BYTES {
        return Err(AssertionError::Invalid(format!(
            "extra_claims_json is larger than {MAX_EXTRA_CLAIMS_BYTES} bytes"
        )));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        AssertionError::Invalid(format!("extra_claims_json is not valid JSON: {e}"))
    })?;
    let Value::Object(map) = value else {
        return Err(AssertionError::Invalid(
            "extra_claims_json must be a JSON object".into(),
        ));
    };
    if let Some(reserved) = map.keys().find(|k| RESERVED_CLAIMS.contains(&k.as_str())) {
        return Err(AssertionError::Invalid(format!(
            "extra_claims_json may not set the reserved claim {reserved:?} (the daemon sets \
             iss, sub, aud, exp, iat, nbf and jti)"
        )));
    }
    Ok(Some(map))
}

/// The audience and lifetime `req` asks for, checked against the rules (A3,
/// A4); done before the key is touched.
pub fn check(signer: &Signer<'_>, req: &Request) -> Result<(String, u32), AssertionError> {
    let cfg = signer.config;
    // A3: aud is the issuer string unless the config allows another value.
    let audience = match &req.audience {
        None => signer.issuer.to_owned(),
        Some(a) if a == signer.issuer => a.clone(),
        Some(a) if cfg.allowed_audiences.contains(a) => {
            tracing::info!(credential = %signer.credential, audience = %a, "assertion for a configured non-issuer audience");
            a.clone()
        }
        Some(a) => {
            return Err(AssertionError::Invalid(format!(
                "audience {a:?} is not allowed for credential {:?}: FAPI 2.0 requires the \
                 issuer {:?}; add it to assertion.allowed_audiences only for a legacy server",
                signer.credential, signer.issuer
            )));
        }
    };
    // A4: short lifetime with a hard cap.
    let lifetime = req.lifetime_seconds.unwrap_or(cfg.default_lifetime_seconds);
    let cap = cfg.max_lifetime_seconds.min(MAX_ASSERTION_LIFETIME_SECS);
    if lifetime == 0 || lifetime > cap {
        return Err(AssertionError::Invalid(format!(
            "lifetime {lifetime} s is outside 1..={cap} s for credential {:?}",
            signer.credential
        )));
    }
    Ok((audience, lifetime))
}

/// Signs a fresh client assertion (A1–A13) with `key`.
pub async fn sign(
    signer: &Signer<'_>,
    req: Request,
    key: &ReadyKey,
) -> Result<Signed, AssertionError> {
    let (audience, lifetime) = check(signer, &req)?;
    let cfg = signer.config;
    // A5: 128 bits from the CSPRNG, fresh for every assertion.
    let mut jti_bytes = [0u8; 16];
    openssl::rand::rand_bytes(&mut jti_bytes).map_err(KeyError::from)?;
    let jti = b64url(&jti_bytes);
    // A6: iat = nbf = now (plus a configured offset), integers.
    let iat = now_unix() + cfg.clock_offset_seconds;
    let exp = iat + i64::from(lifetime);

    let mut claims = req.extra_claims.unwrap_or_default();
    // A2: iss = sub = client_id, byte-exact.
    claims.insert("iss".into(), json!(signer.client_id));
    claims.insert("sub".into(), json!(signer.client_id));
    claims.insert("aud".into(), json!(audience));
    claims.insert("iat".into(), json!(iat));
    claims.insert("nbf".into(), json!(iat));
    claims.insert("exp".into(), json!(exp));
    claims.insert("jti".into(), json!(jti));

    // A7, A9–A11: alg from the key, kid = thumbprint, typ and x5t#S256 per config.
    let mut header = Map::new();
    header.insert("alg".into(), json!(signer.alg.as_str()));
    header.insert("kid".into(), json!(signer.kid));
    if cfg.typ {
        header.insert("typ".into(), json!(TYP));
    }
    if cfg.x5t_s256 {
        header.insert("x5t#S256".into(), json!(signer.x5t_s256));
    }
    let token = super::sign_compact(
        &Value::Object(header),
        &Value::Object(claims),
        key,
        signer.alg,
    )
    .await?;
    Ok(Signed {
        token,
        kid: signer.kid.to_owned(),
        jti,
        expires_at: exp,
        alg: signer.alg,
        audience,
    })
}
