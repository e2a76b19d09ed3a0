//! UK Open Banking `x-jws-signature`: a detached JWS (RFC 7515 Appendix F)
//! over the exact bytes of a request body, PS256, with the three
//! `http://openbanking.org.uk/` claims in the protected header, all
//! critical. Up to Read/Write API 3.1.3 the payload is unencoded (RFC 7797,
//! `b64: false`, itself critical); from 3.1.4 `b64` is absent and the
//! payload is base64url-encoded in the signing input (docs/standards.md
//! §9). The caller gives the body only: every header field is the
//! daemon's.

use serde_json::{Value, json};

use super::{Alg, b64url, jws_signature};
use crate::keys::{KeyError, ReadyKey};

/// The OB claims in the protected header.
pub const IAT: &str = "http://openbanking.org.uk/iat";
/// The TPP's identity.
pub const ISS: &str = "http://openbanking.org.uk/iss";
/// The trust anchor.
pub const TAN: &str = "http://openbanking.org.uk/tan";

/// Which rules of the profile apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// Read/Write API 3.1.3 and earlier: `b64: false`.
    UpTo313,
    /// 3.1.4 and later: no `b64`.
    From314,
}

impl Version {
    /// The profile name (`ob-uk-3.1.3`, `ob-uk-3.1.4`).
    pub fn profile(self) -> &'static str {
        match self {
            Version::UpTo313 => "ob-uk-3.1.3",
            Version::From314 => "ob-uk-3.1.4",
        }
    }

    /// By profile name.
    pub fn of_profile(name: &str) -> Option<Self> {
        match name {
            "ob-uk-3.1.3" => Some(Version::UpTo313),
            "ob-uk-3.1.4" => Some(Version::From314),
            _ => None,
        }
    }
}

/// Why no signature was made.
#[derive(Debug, thiserror::Error)]
pub enum ObError {
    /// The key cannot make the signature the profile requires.
    #[error(
        "UK Open Banking signatures are PS256: credential {0:?} has a non-RSA key (use an RSA \
         signing certificate from the directory)"
    )]
    NotRsa(String),
    /// The body is larger than configured.
    #[error("the body is {len} bytes, over ob_uk.max_body_bytes = {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The key handle failed.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Who signs, and as whom.
pub struct Signer<'a> {
    /// The credential (for errors).
    pub credential: &'a str,
    /// The key's algorithm.
    pub alg: Alg,
    /// The signing key's `kid` (as registered in the directory).
    pub kid: &'a str,
    /// `ob_uk.iss`.
    pub iss: &'a str,
    /// `ob_uk.tan`.
    pub tan: &'a str,
    /// `ob_uk.max_body_bytes`.
    pub max_body_bytes: usize,
}

/// The protected header for `version` at `iat`.
pub fn header(signer: &Signer<'_>, version: Version, iat: i64) -> Value {
    let mut h = json!({
        "alg": "PS256",
        "kid": signer.kid,
        "typ": "JOSE",
        "cty": "application/json",
        IAT: iat,
        ISS: signer.iss,
        TAN: signer.tan,
    });
    match version {
        Version::UpTo313 => {
            h["b64"] = json!(false);
            h["crit"] = json!(["b64", IAT, ISS, TAN]);
        }
        Version::From314 => h["crit"] = json!([IAT, ISS, TAN]),
    }
    h
}

/// Checks what can be checked before the key is needed.
pub fn check(signer: &Signer<'_>, body: &[u8]) -> Result<(), ObError> {
    if signer.alg != Alg::Ps256 {
        return Err(ObError::NotRsa(signer.credential.to_owned()));
    }
    if body.len() > signer.max_body_bytes {
        return Err(ObError::TooLarge {
            len: body.len(),
            max: signer.max_body_bytes,
        });
    }
    Ok(())
}

/// The `x-jws-signature` value for `body`: `header..signature`.
pub async fn sign(
    signer: &Signer<'_>,
    version: Version,
    body: &[u8],
    key: &ReadyKey,
) -> Result<String, ObError> {
    check(signer, body)?;
    let protected = b64url(
        header(signer, version, crate::now_unix())
            .to_string()
            .as_bytes(),
    );
    let mut input = Vec::with_capacity(protected.len() + 1 + body.len() * 4 / 3 + 4);
    input.extend_from_slice(protected.as_bytes());
    input.push(b'.');
    match version {
        // RFC 7797 §3: the payload as it is.
        Version::UpTo313 => input.extend_from_slice(body),
        Version::From314 => input.extend_from_slice(b64url(body).as_bytes()),
    }
    let signature = key
        .sign_off_workers(Alg::Ps256.scheme(), input)
        .await
        .map_err(ObError::Key)?;
    let signature = jws_signature(Alg::Ps256, signature).map_err(|e| ObError::Key(e.into()))?;
    Ok(format!("{protected}..{}", b64url(&signature)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer<'static> {
        Signer {
            credential: "c",
            alg: Alg::Ps256,
            kid: "k1",
            iss: "0015800001041REAAY/abc",
            tan: "openbanking.org.uk",
            max_body_bytes: 10,
        }
    }

    #[test]
    fn headers_by_version() {
        let h = header(&signer(), Version::UpTo313, 1);
        assert_eq!(h["b64"], false);
        assert_eq!(h["crit"][0], "b64");
        assert_eq!(h["crit"].as_array().unwrap().len(), 4);
        let h = header(&signer(), Version::From314, 1);
        assert!(h.get("b64").is_none());
        assert_eq!(h["crit"], json!([IAT, ISS, TAN]));
        assert_eq!(h[IAT], 1);
    }

    #[test]
    fn refusals() {
        assert!(matches!(
            check(&signer(), &[0; 11]),
            Err(ObError::TooLarge { len: 11, max: 10 })
        ));
        let es = Signer {
            alg: Alg::Es256,
            ..signer()
        };
        assert!(matches!(check(&es, b"{}"), Err(ObError::NotRsa(_))));
    }
}
