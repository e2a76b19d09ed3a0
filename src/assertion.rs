//! FAPI 2.0 / RFC 7523 `private_key_jwt` client assertions: rules A1–A13 of
//! STANDARDS.md, applied to one credential.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::config::MAX_ASSERTION_LIFETIME_SECS;
use crate::credential::Credential;
use crate::error::Error;
use crate::jose::{self, Alg, b64url};
use crate::now_unix;
use crate::sys::cpu;

/// A1: the `client_assertion_type` to post beside the assertion.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// A10: the `typ` header of a client assertion.
pub const TYP: &str = "client-authentication+jwt";
/// Claims the daemon sets and callers cannot override.
pub const RESERVED_CLAIMS: &[&str] = &["iss", "sub", "aud", "exp", "iat", "nbf", "jti"];
/// Largest `extra_claims` object accepted, in bytes of JSON.
const MAX_EXTRA_CLAIMS_BYTES: usize = 4096;

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
pub fn parse_extra_claims(text: &str) -> Result<Option<Map<String, Value>>, Error> {
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > MAX_EXTRA_CLAIMS_BYTES {
        return Err(Error::InvalidArgument(format!(
            "extra_claims_json is larger than {MAX_EXTRA_CLAIMS_BYTES} bytes"
        )));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Error::InvalidArgument(format!("extra_claims_json is not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(Error::InvalidArgument(
            "extra_claims_json must be a JSON object".into(),
        ));
    };
    if let Some(reserved) = map.keys().find(|k| RESERVED_CLAIMS.contains(&k.as_str())) {
        return Err(Error::InvalidArgument(format!(
            "extra_claims_json may not set the reserved claim {reserved:?} (the daemon sets \
             iss, sub, aud, exp, iat, nbf and jti)"
        )));
    }
    Ok(Some(map))
}

/// Signs a fresh client assertion with `cred` (A1–A13).
pub async fn sign(cred: &Arc<Credential>, req: Request) -> Result<Signed, Error> {
    let cfg = &cred.config.assertion;
    let facts = cred.facts()?;

    // A3: aud is the issuer string unless the config allows another value.
    let audience = match req.audience {
        None => cred.config.issuer.clone(),
        Some(a) if a == cred.config.issuer => a,
        Some(a) if cfg.allowed_audiences.contains(&a) => {
            tracing::info!(credential = %cred.name, audience = %a, "assertion for a configured non-issuer audience");
            a
        }
        Some(a) => {
            return Err(Error::InvalidArgument(format!(
                "audience {a:?} is not allowed for credential {:?}: FAPI 2.0 requires the \
                 issuer {:?}; add it to assertion.allowed_audiences only for a legacy server",
                cred.name, cred.config.issuer
            )));
        }
    };
    // A4: short lifetime with a hard cap.
    let lifetime = req.lifetime_seconds.unwrap_or(cfg.default_lifetime_seconds);
    let cap = cfg.max_lifetime_seconds.min(MAX_ASSERTION_LIFETIME_SECS);
    if lifetime == 0 || lifetime > cap {
        return Err(Error::InvalidArgument(format!(
            "lifetime {lifetime} s is outside 1..={cap} s for credential {:?}",
            cred.name
        )));
    }

    let unlocked = cred.unlocked().await?;

    // A5: 128 bits from the CSPRNG, fresh for every assertion.
    let mut jti_bytes = [0u8; 16];
    openssl::rand::rand_bytes(&mut jti_bytes).map_err(|e| Error::Internal(e.to_string()))?;
    let jti = b64url(&jti_bytes);
    // A6: iat = nbf = now (plus a configured offset), integers.
    let iat = now_unix() + cfg.clock_offset_seconds;
    let exp = iat + i64::from(lifetime);

    let mut claims = req.extra_claims.unwrap_or_default();
    // A2: iss = sub = client_id, byte-exact.
    claims.insert("iss".into(), json!(cred.config.client_id));
    claims.insert("sub".into(), json!(cred.config.client_id));
    claims.insert("aud".into(), json!(audience));
    claims.insert("iat".into(), json!(iat));
    claims.insert("nbf".into(), json!(iat));
    claims.insert("exp".into(), json!(exp));
    claims.insert("jti".into(), json!(jti));

    // A7, A9–A11: alg from the key, kid = thumbprint, typ and x5t#S256 per config.
    let alg = facts.alg;
    let kid = facts.jwk.thumbprint().to_owned();
    let mut header = Map::new();
    header.insert("alg".into(), json!(alg.as_str()));
    header.insert("kid".into(), json!(kid));
    if cfg.typ {
        header.insert("typ".into(), json!(TYP));
    }
    if cfg.x5t_s256 {
        header.insert("x5t#S256".into(), json!(facts.x5t_s256));
    }
    let (header, claims) = (Value::Object(header), Value::Object(claims));

    let sign = move || {
        let key = unlocked.open()?;
        jose::sign_compact(&header, &claims, &key, alg)
    };
    let token = match alg {
        // RSA is CPU-heavy: off the async workers.
        Alg::Ps256 => cpu::run(sign).await,
        // ECDSA and Ed25519 take tens of microseconds: a hop would cost more.
        Alg::Es256 | Alg::EdDsa => sign(),
    }
    .map_err(|e| Error::Internal(format!("signing failed: {e}")))?;

    Ok(Signed {
        token,
        kid,
        jti,
        expires_at: exp,
        alg,
        audience,
    })
}
