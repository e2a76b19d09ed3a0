//! JOSE primitives: base64url, JWS algorithms, public JWKs with RFC 7638
//! thumbprints, and compact JWS signing with OpenSSL.
//!
//! The encoding traps of STANDARDS.md §2 are handled here once: unpadded
//! base64url, ES256 as raw `R‖S` (64 bytes), PS256 with salt length 32 and
//! MGF1-SHA-256, Ed25519 as `EdDSA` signed one-shot.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openssl::bn::BigNumContext;
use openssl::ec::PointConversionForm;
use openssl::ecdsa::EcdsaSig;
use openssl::error::ErrorStack;
use openssl::hash::{MessageDigest, hash};
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, Id, PKeyRef, Private};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Signer};
use serde_json::{Map, Value, json};

/// Unpadded base64url (RFC 7515 §2).
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The JWS algorithms FAPI 2.0 allows (STANDARDS A7). The algorithm always
/// follows from the key; callers never choose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32; RSA ≥ 2048 bits.
    Ps256,
    /// ECDSA P-256 with SHA-256, raw `R‖S` signature.
    Es256,
    /// Ed25519 (RFC 8037), named `EdDSA` for the widest acceptance.
    EdDsa,
}

impl Alg {
    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Ps256 => "PS256",
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
        }
    }

    /// The algorithm a key must use, enforcing STANDARDS A8: RSA of at least
    /// 2048 bits, EC only on P-256, Ed25519 for EdDSA.
    pub fn for_key<T: HasPublic>(key: &PKeyRef<T>) -> Result<Alg, KeyPolicyError> {
        match key.id() {
            Id::RSA => {
                let bits = key.bits();
                if bits < 2048 {
                    return Err(KeyPolicyError::RsaTooSmall(bits));
                }
                Ok(Alg::Ps256)
            }
            Id::EC => {
                let ec = key
                    .ec_key()
                    .map_err(|_| KeyPolicyError::Unsupported("EC".into()))?;
                match ec.group().curve_name() {
                    Some(Nid::X9_62_PRIME256V1) => Ok(Alg::Es256),
                    other => Err(KeyPolicyError::WrongCurve(
                        other
                            .and_then(|n| n.short_name().ok())
                            .unwrap_or("unnamed")
                            .to_owned(),
                    )),
                }
            }
            Id::ED25519 => Ok(Alg::EdDsa),
            other => Err(KeyPolicyError::Unsupported(format!("{other:?}"))),
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key FAPI does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyPolicyError {
    /// RSA below 2048 bits (FAPI 1.0 Part 1 §5.2.2).
    #[error("RSA key of {0} bits: FAPI requires at least 2048")]
    RsaTooSmall(u32),
    /// EC on a curve other than P-256.
    #[error("EC key on curve {0}: only P-256 (ES256) is allowed")]
    WrongCurve(String),
    /// Any other key type.
    #[error("key type {0} is not allowed: use RSA (PS256), EC P-256 (ES256) or Ed25519 (EdDSA)")]
    Unsupported(String),
}

/// A public JWK with its RFC 7638 thumbprint. Public by construction: it is
/// built only from a public key and certificates.
#[derive(Debug, Clone)]
pub struct PublicJwk {
    jwk: Map<String, Value>,
    thumbprint: String,
}

impl PublicJwk {
    /// Builds the JWK of `key` for `alg`, with `kid` = RFC 7638 SHA-256
    /// thumbprint, `use: sig`, and `x5c`/`x5t#S256` when a chain (DER, leaf
    /// first) is given.
    pub fn new<T: HasPublic>(
        key: &PKeyRef<T>,
        alg: Alg,
        chain_der: &[Vec<u8>],
    ) -> Result<Self, ErrorStack> {
        let required = required_members(key, alg)?;
        // serde_json's Map is ordered by key, and `to_string` adds no
        // whitespace: exactly RFC 7638 §3.2's canonical form.
        let canonical = Value::Object(required.clone()).to_string();
        let thumbprint = b64url(&hash(MessageDigest::sha256(), canonical.as_bytes())?);
        let mut jwk = required;
        jwk.insert("kid".into(), json!(thumbprint));
        jwk.insert("alg".into(), json!(alg.as_str()));
        jwk.insert("use".into(), json!("sig"));
        if let Some(leaf) = chain_der.first() {
            let x5c: Vec<String> = chain_der.iter().map(|der| STANDARD.encode(der)).collect();
            jwk.insert("x5c".into(), json!(x5c));
            jwk.insert("x5t#S256".into(), json!(x5t_s256(leaf)?));
        }
        Ok(Self { jwk, thumbprint })
    }

    /// The RFC 7638 SHA-256 thumbprint, used as `kid`.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The JWK as a JSON object.
    pub fn to_json(&self) -> Value {
        Value::Object(self.jwk.clone())
    }
}

/// `x5t#S256`: base64url(SHA-256(DER certificate)), RFC 7515 §4.1.8 and the
/// RFC 8705 `cnf` member.
pub fn x5t_s256(cert_der: &[u8]) -> Result<String, ErrorStack> {
    Ok(b64url(&hash(MessageDigest::sha256(), cert_der)?))
}

/// The members RFC 7638 §3.2 requires, per key type.
fn required_members<T: HasPublic>(
    key: &PKeyRef<T>,
    alg: Alg,
) -> Result<Map<String, Value>, ErrorStack> {
    let mut m = Map::new();
    match alg {
        Alg::Ps256 => {
            let rsa = key.rsa()?;
            m.insert("kty".into(), json!("RSA"));
            m.insert("n".into(), json!(b64url(&rsa.n().to_vec())));
            m.insert("e".into(), json!(b64url(&rsa.e().to_vec())));
        }
        Alg::Es256 => {
            let ec = key.ec_key()?;
            let mut ctx = BigNumContext::new()?;
            // Uncompressed point: 0x04 ‖ X ‖ Y, each 32 bytes (zero-padded).
            let point = ec.public_key().to_bytes(
                ec.group(),
                PointConversionForm::UNCOMPRESSED,
                &mut ctx,
            )?;
            m.insert("kty".into(), json!("EC"));
            m.insert("crv".into(), json!("P-256"));
            m.insert("x".into(), json!(b64url(&point[1..33])));
            m.insert("y".into(), json!(b64url(&point[33..65])));
        }
        Alg::EdDsa => {
            m.insert("kty".into(), json!("OKP"));
            m.insert("crv".into(), json!("Ed25519"));
            m.insert("x".into(), json!(b64url(&key.raw_public_key()?)));
        }
    }
    Ok(m)
}

/// Signs `header` and `claims` as a compact JWS with `key` under `alg`.
pub fn sign_compact(
    header: &Value,
    claims: &Value,
    key: &PKeyRef<Private>,
    alg: Alg,
) -> Result<String, ErrorStack> {
    let mut token = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let signature = sign(key, alg, token.as_bytes())?;
    token.push('.');
    token.push_str(&b64url(&signature));
    Ok(token)
}

/// The raw JWS signature of `input` (RFC 7518 §3.3–3.5, RFC 8037 §3.1).
pub fn sign(key: &PKeyRef<Private>, alg: Alg, input: &[u8]) -> Result<Vec<u8>, ErrorStack> {
    match alg {
        Alg::Ps256 => {
            let mut s = Signer::new(MessageDigest::sha256(), key)?;
            s.set_rsa_padding(Padding::PKCS1_PSS)?;
            // OpenSSL 3 defaults to the maximum salt; JWS requires 32.
            s.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
            s.set_rsa_mgf1_md(MessageDigest::sha256())?;
            s.update(input)?;
            s.sign_to_vec()
        }
        Alg::Es256 => {
            let mut s = Signer::new(MessageDigest::sha256(), key)?;
            s.update(input)?;
            let der = s.sign_to_vec()?;
            let sig = EcdsaSig::from_der(&der)?;
            let mut raw = sig.r().to_vec_padded(32)?;
            raw.extend_from_slice(&sig.s().to_vec_padded(32)?);
            Ok(raw)
        }
        Alg::EdDsa => {
            // Ed25519 hashes internally and takes no streaming input.
            let mut s = Signer::new_without_digest(key)?;
            s.sign_oneshot_to_vec(input)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
