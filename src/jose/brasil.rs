//! Open Finance Brasil signed bodies (payments and consents): the body as
//! a compact JWS, PS256, `typ: JWT`, the key's `kid`, and the claims
//! `aud` (the server's organisation), `iss` (the client's, from
//! `[credentials.NAME.open_finance_brasil]`), a fresh `jti`, `iat`, and
//! `data` (the body's JSON object). The caller gives `data` and `aud`;
//! the other claims and every header field are the daemon's
//! (docs/standards.md §9).

use serde_json::{Map, Value, json};

use super::{Alg, sign_compact};
use crate::keys::{KeyError, ReadyKey};

/// Why no body was signed.
#[derive(Debug, thiserror::Error)]
pub enum BrasilError {
    /// A request the rules refuse.
    #[error("{0}")]
    Invalid(String),
    /// The key handle failed.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Who signs.
pub struct Signer<'a> {
    /// The credential (for errors).
    pub credential: &'a str,
    /// The key's algorithm.
    pub alg: Alg,
    /// The key's `kid`.
    pub kid: &'a str,
    /// The client's organisation id (`iss`).
    pub iss: &'a str,
    /// Largest `data`, serialised, in bytes.
    pub max_body_bytes: usize,
}

/// Checks `data_json` (a JSON object) and `aud` before the key is needed.
pub fn check(
    signer: &Signer<'_>,
    data_json: &str,
    aud: &str,
) -> Result<Map<String, Value>, BrasilError> {
    if signer.alg != Alg::Ps256 {
        return Err(BrasilError::Invalid(format!(
            "Open Finance Brasil bodies are PS256: credential {:?} has a non-RSA key",
            signer.credential
        )));
    }
    if aud.is_empty() {
        return Err(BrasilError::Invalid(
            "aud (the server's organisation id) is required".into(),
        ));
    }
    if data_json.len() > signer.max_body_bytes {
        return Err(BrasilError::Invalid(format!(
            "data is {} bytes, over open_finance_brasil.max_body_bytes = {}",
            data_json.len(),
            signer.max_body_bytes
        )));
    }
    match serde_json::from_str::<Value>(data_json) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(BrasilError::Invalid("data must be a JSON object".into())),
        Err(e) => Err(BrasilError::Invalid(format!("data is not JSON: {e}"))),
    }
}

/// The signed body and its `jti`.
pub async fn sign(
    signer: &Signer<'_>,
    data_json: &str,
    aud: &str,
    key: &ReadyKey,
) -> Result<(String, String), BrasilError> {
    let data = check(signer, data_json, aud)?;
    let jti = uuid::Uuid::new_v4().to_string();
    let header = json!({"alg": "PS256", "typ": "JWT", "kid": signer.kid});
    let claims = json!({
        "aud": aud,
        "iss": signer.iss,
        "jti": jti,
        "iat": crate::now_unix(),
        "data": data,
    });
    let token = sign_compact(&header, &claims, key, Alg::Ps256).await?;
    Ok((token, jti))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(alg: Alg) -> Signer<'static> {
        Signer {
            credential: "c",
            alg,
            kid: "k",
            iss: "org",
            max_body_bytes: 64,
        }
    }

    #[test]
    fn refusals() {
        let s = signer(Alg::Ps256);
        assert!(check(&s, r#"{"a":1}"#, "aspsp").is_ok());
        for (data, aud) in [("[1]", "aspsp"), ("nope", "aspsp"), (r#"{"a":1}"#, "")] {
            assert!(check(&s, data, aud).is_err(), "{data} {aud}");
        }
        let long = format!(r#"{{"a":"{}"}}"#, "x".repeat(64));
        assert!(check(&s, &long, "aspsp").is_err());
        assert!(check(&signer(Alg::Es256), "{}", "aspsp").is_err());
    }
}
