//! JOSE: base64url, the JWS algorithms FAPI allows, public JWKs with
//! RFC 7638 thumbprints, and compact JWS signed through a key handle, one
//! module per signed object (client assertions today).
//!
//! The encoding traps of docs/standards.md §2 are handled here once:
//! unpadded base64url, ES256 as raw `R‖S` (64 bytes; the key handle gives
//! DER), PS256 with salt length 32 and MGF1-SHA-256 (the handle's
//! [`crate::keys::SignatureScheme::RsaPssSha256`]), Ed25519 as `EdDSA`
//! signed one-shot.

mod alg;
pub mod assertion;
pub mod brasil;
pub mod dpop;
pub mod jarm;
mod jwk;
pub mod jwks;
pub mod ob_detached;
pub mod request_object;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::ecdsa::EcdsaSig;
use openssl::error::ErrorStack;
use serde_json::Value;

pub use alg::{Alg, KeyPolicyError};
pub use jwk::{PublicJwk, x5t_s256};

use crate::keys::{KeyError, ReadyKey};

/// Unpadded base64url (RFC 7515 §2).
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A key handle's signature in JWS form (RFC 7518 §3.3–3.5, RFC 8037
/// §3.1): ECDSA from DER to raw `R‖S`, each half zero-padded to 32 bytes.
pub fn jws_signature(alg: Alg, signature: Vec<u8>) -> Result<Vec<u8>, ErrorStack> {
    match alg {
        Alg::Es256 => {
            let sig = EcdsaSig::from_der(&signature)?;
            let mut raw = sig.r().to_vec_padded(32)?;
            raw.extend_from_slice(&sig.s().to_vec_padded(32)?);
            Ok(raw)
        }
        Alg::Ps256 | Alg::EdDsa => Ok(signature),
    }
}

/// The signing input of a compact JWS: `b64url(header).b64url(claims)`.
pub fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    )
}

/// Signs `header` and `claims` as a compact JWS with `key` under `alg`
/// (RSA off the async workers).
pub async fn sign_compact(
    header: &Value,
    claims: &Value,
    key: &ReadyKey,
    alg: Alg,
) -> Result<String, KeyError> {
    let mut token = signing_input(header, claims);
    let signature = key
        .sign_off_workers(alg.scheme(), token.as_bytes().to_vec())
        .await?;
    token.push('.');
    token.push_str(&b64url(&jws_signature(alg, signature)?));
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::{Id, Private};
    use openssl::rsa::Padding;
    use openssl::sign::RsaPssSaltlen;
    use serde_json::json;

    /// The JWS signature of `input` by `key`, through a key handle.
    fn sign(key: &PKey<Private>, alg: Alg, input: &[u8]) -> Result<Vec<u8>, KeyError> {
        let ready = crate::keys::memory::MemoryKey::from_key(key.clone())?.into_ready();
        Ok(jws_signature(alg, ready.sign(alg.scheme(), input)?)?)
    }
    use openssl::bn::BigNum;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;

    fn unb64(s: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(s).unwrap()
    }

    /// RFC 7638 §3.1: the example RSA key's thumbprint.
    #[test]
    fn rfc7638_rsa_thumbprint_vector() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let rsa = Rsa::from_public_components(
            BigNum::from_slice(&unb64(n)).unwrap(),
            BigNum::from_slice(&unb64("AQAB")).unwrap(),
        )
        .unwrap();
        let key = PKey::from_rsa(rsa).unwrap();
        let jwk = PublicJwk::new(&key, Alg::Ps256, &[]).unwrap();
        assert_eq!(
            jwk.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    /// RFC 8037 A.1–A.4: Ed25519 public key, thumbprint (A.3) and the exact
    /// signature of the example JWS (A.4; Ed25519 is deterministic).
    #[test]
    fn rfc8037_ed25519_known_answers() {
        let d = unb64("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A");
        let key = PKey::private_key_from_raw_bytes(&d, Id::ED25519).unwrap();
        assert_eq!(
            b64url(&key.raw_public_key().unwrap()),
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        );
        assert_eq!(Alg::for_key(&key).unwrap(), Alg::EdDsa);
        let jwk = PublicJwk::new(&key, Alg::EdDsa, &[]).unwrap();
        assert_eq!(
            jwk.thumbprint(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );

        let input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
        let sig = sign(&key, Alg::EdDsa, input.as_bytes()).unwrap();
        assert_eq!(
            b64url(&sig),
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        );
        // The same through the compact serialiser, with RFC 8037's header.
        let header = json!({"alg": "EdDSA"});
        assert_eq!(
            b64url(header.to_string().as_bytes()),
            "eyJhbGciOiJFZERTQSJ9"
        );
    }

    #[test]
    fn es256_signature_is_raw_64_bytes_and_verifies() {
        use openssl::ec::{EcGroup, EcKey};
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        for _ in 0..32 {
            let sig = sign(&key, Alg::Es256, b"input").unwrap();
            assert_eq!(sig.len(), 64);
            let r = BigNum::from_slice(&sig[..32]).unwrap();
            let s = BigNum::from_slice(&sig[32..]).unwrap();
            let der = EcdsaSig::from_private_components(r, s)
                .unwrap()
                .to_der()
                .unwrap();
            let mut v = openssl::sign::Verifier::new(MessageDigest::sha256(), &key).unwrap();
            v.update(b"input").unwrap();
            assert!(v.verify(&der).unwrap());
        }
    }

    #[test]
    fn ps256_uses_salt_32() {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let sig = sign(&key, Alg::Ps256, b"input").unwrap();
        let verify = |salt: RsaPssSaltlen| {
            let mut v = openssl::sign::Verifier::new(MessageDigest::sha256(), &key).unwrap();
            v.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
            v.set_rsa_pss_saltlen(salt).unwrap();
            v.set_rsa_mgf1_md(MessageDigest::sha256()).unwrap();
            v.update(b"input").unwrap();
            v.verify(&sig).unwrap_or(false)
        };
        assert!(verify(RsaPssSaltlen::custom(32)));
        // OpenSSL checks an explicit salt length exactly, so the signature
        // fails under OpenSSL 3's signing default (the maximum, 222 here).
        assert!(!verify(RsaPssSaltlen::custom(222)));
        assert!(!verify(RsaPssSaltlen::custom(20)));
    }

    #[test]
    fn key_policy_refuses_weak_keys() {
        let small = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
        assert_eq!(
            Alg::for_key(&small).unwrap_err(),
            KeyPolicyError::RsaTooSmall(1024)
        );
        let group = openssl::ec::EcGroup::from_curve_name(Nid::SECP384R1).unwrap();
        let p384 = PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap()).unwrap();
        assert!(matches!(
            Alg::for_key(&p384).unwrap_err(),
            KeyPolicyError::WrongCurve(_)
        ));
    }
}
