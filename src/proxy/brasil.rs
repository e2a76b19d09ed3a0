//! `signing = "open-finance-brasil"` (docs/standards.md §9): the app's
//! JSON body goes to the upstream as a PS256 JWT (`application/jwt`,
//! made by `jose::brasil` through the key handle, the app's object as the
//! `data` claim), and, with `brasil_response_jwks`, the upstream's signed
//! `application/jwt` answer is verified (PS256, its `kid` in the set,
//! `iss` the server's organisation, `aud` the client's, a fresh `iat`, a
//! `jti`) and reaches the app as its JSON payload.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::Response;
use http::header::{self, HeaderValue};
use http_body_util::BodyExt;
use openssl::hash::MessageDigest;
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Verifier};
use serde_json::{Map, Value};

use super::error::ProxyError;
use crate::config::UpstreamConfig;
use crate::credential::Credential;
use crate::jose::Alg;
use crate::jose::brasil;
use crate::jose::jwks::JwksKey;
use crate::net::Body;
use crate::ops::Error;

/// How old a response's `iat` may be.
const MAX_AGE_SECS: i64 = 300;
/// How far in the future it may lie (clock skew).
const SKEW_SECS: i64 = 60;

/// The app's JSON object `body` as a signed JWT for `audience`, by `cred`
/// (authorized for the upstream by the caller).
pub async fn sign_body(cred: &Credential, audience: &str, body: &[u8]) -> Result<String, Error> {
    let cfg = cred.config.open_finance_brasil.as_ref().ok_or_else(|| {
        Error::FailedPrecondition(format!(
            "credential {:?} has no [credentials.{}.open_finance_brasil] table (iss)",
            cred.name, cred.name
        ))
    })?;
    let data = std::str::from_utf8(body)
        .map_err(|_| Error::InvalidArgument("the body is not UTF-8 JSON".into()))?;
    let facts = cred.facts()?;
    let signer = brasil::Signer {
        credential: &cred.name,
        alg: facts.alg,
        kid: facts.jwk.thumbprint(),
        iss: &cfg.iss,
        max_body_bytes: cfg.max_body_bytes,
    };
    let invalid = |e: brasil::BrasilError| match e {
        brasil::BrasilError::Invalid(m) if m.contains("non-RSA") => Error::FailedPrecondition(m),
        brasil::BrasilError::Invalid(m) => {
            Error::InvalidArgument(format!("an Open Finance Brasil body: {m}"))
        }
        brasil::BrasilError::Key(k) => Error::from_signing(k),
    };
    brasil::check(&signer, data, audience).map_err(invalid)?;
    let key = cred.key()?.ready().await.map_err(|e| cred.key_failure(e))?;
    let (jws, _jti) = brasil::sign(&signer, data, audience, &key)
        .await
        .map_err(invalid)?;
    Ok(jws)
}

/// Whether `headers` say the body is `application/jwt`.
fn is_jwt(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/jwt"))
}

/// The upstream's answer as the app gets it: a signed `application/jwt`
/// body verified and replaced by its JSON payload; an error status that
/// is not a JWT (a gateway's own refusal) unchanged; any other answer
/// withheld.
pub async fn verified_response(
    cred: &Credential,
    upstream: &str,
    cfg: &UpstreamConfig,
    response: Response<hyper::body::Incoming>,
) -> Result<Response<Body>, ProxyError> {
    let (mut parts, incoming) = response.into_parts();
    let status = parts.status.as_u16();
    let unverified = |reason: String| ProxyError::ResponseUnverified {
        upstream: upstream.to_owned(),
        status,
        reason,
    };
    if !is_jwt(&parts.headers) {
        if status >= 400 {
            let body = incoming.map_err(crate::net::BoxError::from).boxed();
            return Ok(Response::from_parts(parts, body));
        }
        return Err(unverified(
            "an Open Finance Brasil upstream signs its answers, and this one is not \
             application/jwt"
                .into(),
        ));
    }
    let misconfigured = |cause: String| ProxyError::Misconfigured {
        upstream: upstream.to_owned(),
        cause,
    };
    let (Some(path), Some(bank), Some(client)) = (
        cfg.brasil_response_jwks.as_ref(),
        cfg.brasil_audience.as_deref(),
        cred.config
            .open_finance_brasil
            .as_ref()
            .map(|b| b.iss.as_str()),
    ) else {
        return Err(misconfigured(
            "brasil_response_jwks, brasil_audience and the credential's \
             open_finance_brasil.iss are all needed to check its answers"
                .into(),
        ));
    };
    let limit = cred.config.http_signatures.max_body_bytes;
    let collected = match http_body_util::Limited::new(incoming, limit)
        .collect()
        .await
    {
        Ok(c) => c,
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(unverified(format!(
                "its body is over [credentials.{}.http_signatures] max_body_bytes = {limit}, \
                 the most held to be checked",
                cred.name
            )));
        }
        Err(e) => {
            return Err(ProxyError::Unreachable {
                upstream: upstream.to_owned(),
                cause: format!("the response body could not be read: {e}"),
            });
        }
    };
    let doc = tokio::fs::read(path)
        .await
        .map_err(|e| misconfigured(format!("brasil_response_jwks {}: {e}", path.display())))?;
    let keys = crate::jose::jwks::parse(&doc)
        .map_err(|e| misconfigured(format!("brasil_response_jwks {}: {e}", path.display())))?;
    let body = collected.to_bytes();
    let claims = verify(&body, &keys, bank, client, crate::now_unix()).map_err(unverified)?;
    let json = Value::Object(claims).to_string();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(json.len()));
    Ok(Response::from_parts(parts, crate::net::full(json)))
}

fn part(s: &str, what: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|e| format!("the JWT's {what} is not base64url: {e}"))
}

/// Verifies a signed Brasil body by the server `bank` for the client
/// organisation `client`: its claims.
pub fn verify(
    body: &[u8],
    keys: &[JwksKey],
    bank: &str,
    client: &str,
    now: i64,
) -> Result<Map<String, Value>, String> {
    let text = std::str::from_utf8(body)
        .map_err(|_| "the application/jwt body is not text".to_owned())?
        .trim();
    let [h, p, s] = text.split('.').collect::<Vec<_>>()[..] else {
        return Err("the application/jwt body is not a compact JWS".into());
    };
    let header: Value = serde_json::from_slice(&part(h, "header")?)
        .map_err(|e| format!("the JWT header is not JSON: {e}"))?;
    if header.get("alg").and_then(Value::as_str) != Some("PS256") {
        return Err(format!(
            "alg {} is not PS256",
            header.get("alg").unwrap_or(&Value::Null)
        ));
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or("the JWT header has no kid")?;
    let key = keys
        .iter()
        .find(|k| k.alg == Alg::Ps256 && (k.kid.as_deref() == Some(kid) || k.thumbprint == kid))
        .ok_or_else(|| format!("kid {kid:?} is no RSA key of brasil_response_jwks"))?;
    let sig = part(s, "signature")?;
    let input = format!("{h}.{p}");
    let ok = (|| -> Result<bool, openssl::error::ErrorStack> {
        let mut v = Verifier::new(MessageDigest::sha256(), &key.key)?;
        v.set_rsa_padding(Padding::PKCS1_PSS)?;
        v.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
        v.set_rsa_mgf1_md(MessageDigest::sha256())?;
        v.update(input.as_bytes())?;
        v.verify(&sig)
    })()
    .unwrap_or(false);
    if !ok {
        return Err(format!("the PS256 signature by {kid:?} does not verify"));
    }
    let claims: Map<String, Value> = serde_json::from_slice(&part(p, "payload")?)
        .map_err(|e| format!("the JWT payload is not a JSON object: {e}"))?;
    let claim = |n: &str| claims.get(n).unwrap_or(&Value::Null);
    if claim("iss").as_str() != Some(bank) {
        return Err(format!(
            "iss is {}, not the server's organisation {bank:?}",
            claim("iss")
        ));
    }
    let aud_ok = match claim("aud") {
        Value::String(a) => a == client,
        Value::Array(a) => a.iter().any(|v| v.as_str() == Some(client)),
        _ => false,
    };
    if !aud_ok {
        return Err(format!(
            "aud is {}, not the client's organisation {client:?}",
            claim("aud")
        ));
    }
    match claim("iat").as_i64() {
        Some(iat) if iat > now + SKEW_SECS => {
            return Err(format!("iat is {} s in the future", iat - now));
        }
        Some(iat) if now - iat > MAX_AGE_SECS => {
            return Err(format!("iat is {} s old, over {MAX_AGE_SECS} s", now - iat));
        }
        Some(_) => {}
        None => return Err("the JWT has no numeric iat".into()),
    }
    if claim("jti").as_str().is_none_or(str::is_empty) {
        return Err("the JWT has no jti".into());
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::pkey::{PKey, Private};
    use openssl::sign::Signer;
    use serde_json::json;

    fn jwt(key: &PKey<Private>, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut s = Signer::new(MessageDigest::sha256(), key).unwrap();
        s.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
        s.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH).unwrap();
        s.set_rsa_mgf1_md(MessageDigest::sha256()).unwrap();
        s.update(input.as_bytes()).unwrap();
        format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(s.sign_to_vec().unwrap())
        )
    }

    /// Each claim and header rule refuses with its reason.
    #[test]
    fn claims_and_header_rules() {
        let key = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let public = PKey::public_key_from_pem(&key.public_key_to_pem().unwrap()).unwrap();
        let keys = [JwksKey {
            kid: Some("k1".into()),
            thumbprint: "t".into(),
            alg: Alg::Ps256,
            key: public,
        }];
        let now = 1_800_000_000;
        let header = json!({"alg": "PS256", "typ": "JWT", "kid": "k1"});
        let good = json!({"iss": "bank", "aud": "client", "iat": now, "jti": "j", "data": {}});
        let check =
            |h: &Value, c: &Value| verify(jwt(&key, h, c).as_bytes(), &keys, "bank", "client", now);
        assert_eq!(check(&header, &good).unwrap()["data"], json!({}));
        let with = |k: &str, v: Value| {
            let mut c = good.clone();
            c[k] = v;
            c
        };
        for (claims, want) in [
            (with("iss", json!("other")), "iss"),
            (with("aud", json!(["x", "y"])), "aud"),
            (with("iat", json!(now - 301)), "old"),
            (with("iat", json!(now + 61)), "future"),
            (with("jti", json!("")), "jti"),
        ] {
            let e = check(&header, &claims).unwrap_err();
            assert!(e.contains(want), "{want}: {e}");
        }
        assert!(check(&header, &with("aud", json!(["x", "client"]))).is_ok());
        let e = check(&json!({"alg": "RS256", "kid": "k1"}), &good).unwrap_err();
        assert!(e.contains("PS256"), "{e}");
        let e = check(&json!({"alg": "PS256", "kid": "k2"}), &good).unwrap_err();
        assert!(e.contains("k2"), "{e}");
        let mut bad = jwt(&key, &header, &good).into_bytes();
        let last = bad.len() - 2;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        let e = verify(&bad, &keys, "bank", "client", now).unwrap_err();
        assert!(e.contains("does not verify"), "{e}");
        assert!(verify(b"a.b", &keys, "bank", "client", now).is_err());
    }
}
