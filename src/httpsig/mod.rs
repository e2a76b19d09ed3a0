//! HTTP message signatures, one module per scheme: RFC 9421 with the
//! FAPI 2.0 component set ([`rfc9421`]) and the Berlin Group's
//! draft-cavage-http-signatures-10 ([`cavage`]). Both sign a typed
//! request the daemon describes itself (method, target, the headers it
//! covers, a digest it computes from the body): a caller never hands over
//! a signature base or bytes to sign (docs/standards.md §9).

pub mod cavage;
pub mod rfc9421;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::keys::KeyError;

/// Why no signature was made, or a response's did not verify.
#[derive(Debug, thiserror::Error)]
pub enum HttpSigError {
    /// The request cannot be signed as given (the message says why).
    #[error("{0}")]
    Invalid(String),
    /// The body is larger than configured.
    #[error("the body is {len} bytes, over http_signatures.max_body_bytes = {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The key cannot make the signature the scheme requires.
    #[error("{0}")]
    UnsuitableKey(String),
    /// A response's signature is missing, malformed or wrong.
    #[error("the response signature does not verify: {0}")]
    Unverified(String),
    /// The key handle failed.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// RFC 9530 `Content-Digest` of `body`: `sha-256=:BASE64:` (a Structured
/// Field Dictionary with a Byte Sequence).
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(openssl::sha::sha256(body)))
}

/// RFC 3230 `Digest` of `body` as the Berlin Group wants it:
/// `SHA-256=BASE64` (standard base64, padded).
pub fn legacy_digest(body: &[u8]) -> String {
    format!("SHA-256={}", STANDARD.encode(openssl::sha::sha256(body)))
}

/// Refuses a header value a signature would cover but HTTP cannot carry
/// as given (a line break splits a signature base; RFC 9110 §5.5).
fn check_value(name: &str, value: &str) -> Result<(), HttpSigError> {
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(HttpSigError::Invalid(format!(
            "header {name:?} holds a line break or NUL: it cannot be sent or signed"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests() {
        // RFC 9530 Appendix B.1: {"hello": "world"}\n
        assert_eq!(
            content_digest(b"{\"hello\": \"world\"}\n"),
            "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:"
        );
        assert_eq!(
            legacy_digest(b"{\"hello\": \"world\"}\n"),
            "SHA-256=RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg="
        );
        assert!(check_value("x", "a\r\nb").is_err());
        assert!(check_value("x", "a b").is_ok());
    }
}
