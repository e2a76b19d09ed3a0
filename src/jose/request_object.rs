//! Request objects (JAR, RFC 9101; FAPI 2.0 Message Signing): the
//! authorization request's parameters signed by the client, `typ:
//! oauth-authz-req+jwt`, with `iss` = `client_id`, `aud` = the issuer,
//! `iat`, `nbf`, `exp` (at most an hour after `nbf`) and a fresh `jti`
//! (docs/standards.md §3). The caller's parameters cannot set those.

use serde_json::{Map, Value, json};

use super::{Alg, b64url};
use crate::keys::{KeyError, ReadyKey};
use crate::now_unix;

/// The `typ` of a request object.
pub const TYP: &str = "oauth-authz-req+jwt";
/// Claims the daemon sets.
pub const RESERVED: &[&str] = &["iss", "aud", "iat", "nbf", "exp", "jti", "client_id"];
/// Lifetime of a request object: short, it is pushed at once.
const LIFETIME_SECS: i64 = 60;

/// Signs the authorization request `params` as a request object of
/// `client_id` for `issuer`, with `key` (thumbprint `kid`).
pub async fn sign(
    key: &ReadyKey,
    alg: Alg,
    kid: &str,
    client_id: &str,
    issuer: &str,
    params: &[(String, String)],
) -> Result<String, KeyError> {
    let mut claims = Map::new();
    for (k, v) in params {
        if !RESERVED.contains(&k.as_str()) {
            claims.insert(k.clone(), json!(v));
        }
    }
    let now = now_unix();
    let mut jti = [0u8; 16];
    openssl::rand::rand_bytes(&mut jti)?;
    claims.insert("iss".into(), json!(client_id));
    claims.insert("client_id".into(), json!(client_id));
    claims.insert("aud".into(), json!(issuer));
    claims.insert("iat".into(), json!(now));
    claims.insert("nbf".into(), json!(now));
    claims.insert("exp".into(), json!(now + LIFETIME_SECS));
    claims.insert("jti".into(), json!(b64url(&jti)));
    let header = json!({ "typ": TYP, "alg": alg.as_str(), "kid": kid });
    super::sign_compact(&header, &Value::Object(claims), key, alg).await
}
