//! The operations themselves, on an OpenSSL private key: shared by the
//! backends that hold one (software, ephemeral).

use std::sync::OnceLock;

use openssl::encrypt::Decrypter;
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::md::{Md, MdRef};
use openssl::md_ctx::MdCtx;
use openssl::pkey::{Id, PKey, PKeyRef, Private};
use openssl::pkey_ctx::PkeyCtxRef;
use openssl::rsa::Padding as RsaPadding;
use openssl::sign::{RsaPssSaltlen, Signer};
use openssl::symm::Cipher;

use super::{KeyError, Padding, SignatureScheme};
use crate::secret::SecretBytes;
use crate::sys::openssl::SignTemplate;

/// Signs `message` with `key` under `scheme` (a key used once, such as a
/// shielded key unsealed for this signature; a held key signs through
/// [`SigningKey`]).
pub fn sign(
    key: &PKeyRef<Private>,
    scheme: SignatureScheme,
    message: &[u8],
) -> Result<Vec<u8>, KeyError> {
    let Some(md) = digest_of(scheme) else {
        return sign_without_digest(key, message);
    };
    let mut ctx = MdCtx::new()?;
    configure(ctx.digest_sign_init(Some(md), key)?, scheme, md)?;
    digest_sign(&mut ctx, message)
}

/// The digest `scheme` signs, or `None` for one that hashes internally
/// (Ed25519).
fn digest_of(scheme: SignatureScheme) -> Option<&'static MdRef> {
    match scheme {
        SignatureScheme::RsaPssSha512 => Some(Md::sha512()),
        SignatureScheme::RsaPssSha256
        | SignatureScheme::RsaPkcs1Sha256
        | SignatureScheme::EcdsaP256Sha256 => Some(Md::sha256()),
        SignatureScheme::Ed25519 => None,
    }
}

/// Sets `scheme`'s padding on a key context initialised for `md`.
fn configure(
    pkey_ctx: &mut PkeyCtxRef<Private>,
    scheme: SignatureScheme,
    md: &MdRef,
) -> Result<(), ErrorStack> {
    match scheme {
        SignatureScheme::RsaPssSha256 | SignatureScheme::RsaPssSha512 => {
            pkey_ctx.set_rsa_padding(RsaPadding::PKCS1_PSS)?;
            // OpenSSL 3 defaults to the maximum salt; PSS in JOSE, TLS 1.3
            // and RFC 9421 uses the digest length.
            pkey_ctx.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
            pkey_ctx.set_rsa_mgf1_md(md)
        }
        SignatureScheme::RsaPkcs1Sha256 => pkey_ctx.set_rsa_padding(RsaPadding::PKCS1),
        SignatureScheme::EcdsaP256Sha256 | SignatureScheme::Ed25519 => Ok(()),
    }
}

fn digest_sign(ctx: &mut MdCtx, message: &[u8]) -> Result<Vec<u8>, KeyError> {
    let mut out = Vec::new();
    ctx.digest_sign_to_vec(message, &mut out)?;
    Ok(out)
}

fn sign_without_digest(key: &PKeyRef<Private>, message: &[u8]) -> Result<Vec<u8>, KeyError> {
    // Ed25519 hashes internally and takes no streaming input.
    let mut s = Signer::new_without_digest(key)?;
    Ok(s.sign_oneshot_to_vec(message)?)
}

/// A private key held for many operations, with a signing context per
/// scheme set up on its first use and copied for each signature after
/// ([`SignTemplate`]: it saves the per-call set-up).
pub struct SigningKey {
    key: PKey<Private>,
    /// Indexed by [`template_slot`].
    templates: [OnceLock<SignTemplate>; 4],
}

fn template_slot(scheme: SignatureScheme) -> Option<usize> {
    match scheme {
        SignatureScheme::RsaPssSha256 => Some(0),
        SignatureScheme::RsaPssSha512 => Some(1),
        SignatureScheme::RsaPkcs1Sha256 => Some(2),
        SignatureScheme::EcdsaP256Sha256 => Some(3),
        SignatureScheme::Ed25519 => None,
    }
}

impl SigningKey {
    /// Holds `key`.
    pub fn new(key: PKey<Private>) -> Self {
        Self {
            key,
            templates: Default::default(),
        }
    }

    /// The key itself (decryption, export, public facts).
    pub fn key(&self) -> &PKey<Private> {
        &self.key
    }

    /// Signs `message` under `scheme`, like [`sign`].
    pub fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let (Some(slot), Some(md)) = (template_slot(scheme), digest_of(scheme)) else {
            return sign_without_digest(&self.key, message);
        };
        let template = match self.templates[slot].get() {
            Some(t) => t,
            None => {
                // Two first signatures may both build one; one is kept.
                let t = SignTemplate::new(&self.key, md, |p| configure(p, scheme, md))?;
                self.templates[slot].get_or_init(|| t)
            }
        };
        digest_sign(&mut template.fresh()?, message)
    }
}

/// Decrypts an RSA `ciphertext` with `key` under `padding`.
pub fn decrypt(
    key: &PKeyRef<Private>,
    padding: Padding,
    ciphertext: &[u8],
) -> Result<SecretBytes, KeyError> {
    if key.id() != Id::RSA {
        return Err(KeyError::Unsupported(
            "only an RSA key decrypts shared secrets".into(),
        ));
    }
    let mut d = Decrypter::new(key)?;
    match padding {
        Padding::Pkcs1V15 => d.set_rsa_padding(RsaPadding::PKCS1)?,
        Padding::OaepSha1 | Padding::OaepSha256 => {
            let md = if padding == Padding::OaepSha1 {
                MessageDigest::sha1()
            } else {
                MessageDigest::sha256()
            };
            d.set_rsa_padding(RsaPadding::PKCS1_OAEP)?;
            // Both digests: OpenSSL would otherwise keep MGF1-SHA-1.
            d.set_rsa_oaep_md(md)?;
            d.set_rsa_mgf1_md(md)?;
        }
    }
    let len = d.decrypt_len(ciphertext)?;
    let mut out = zeroize::Zeroizing::new(vec![0u8; len]);
    let n = d.decrypt(ciphertext, &mut out)?;
    Ok(SecretBytes::new(out[..n].to_vec()))
}

/// `key` as PKCS#8 PEM, encrypted (PBES2, AES-256-CBC) under `passphrase`
/// if given.
pub fn export_pkcs8_pem(
    key: &PKeyRef<Private>,
    passphrase: Option<&[u8]>,
) -> Result<SecretBytes, KeyError> {
    Ok(SecretBytes::new(match passphrase {
        Some(p) => key.private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), p)?,
        None => key.private_key_to_pem_pkcs8()?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::sign::Verifier;

    fn verifies(key: &PKey<Private>, scheme: SignatureScheme, msg: &[u8], sig: &[u8]) -> bool {
        let pss = |v: &mut Verifier<'_>, md| {
            v.set_rsa_padding(RsaPadding::PKCS1_PSS).unwrap();
            // Exactly the digest's length: a maximum-length salt fails.
            v.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH).unwrap();
            v.set_rsa_mgf1_md(md).unwrap();
        };
        let mut v = match scheme {
            SignatureScheme::RsaPssSha256 => {
                let mut v = Verifier::new(MessageDigest::sha256(), key).unwrap();
                pss(&mut v, MessageDigest::sha256());
                v
            }
            SignatureScheme::RsaPssSha512 => {
                let mut v = Verifier::new(MessageDigest::sha512(), key).unwrap();
                pss(&mut v, MessageDigest::sha512());
                v
            }
            SignatureScheme::RsaPkcs1Sha256 => {
                let mut v = Verifier::new(MessageDigest::sha256(), key).unwrap();
                v.set_rsa_padding(RsaPadding::PKCS1).unwrap();
                v
            }
            SignatureScheme::EcdsaP256Sha256 => {
                Verifier::new(MessageDigest::sha256(), key).unwrap()
            }
            SignatureScheme::Ed25519 => {
                return Verifier::new_without_digest(key)
                    .unwrap()
                    .verify_oneshot(sig, msg)
                    .unwrap();
            }
        };
        v.update(msg).unwrap();
        v.verify(sig).unwrap()
    }

    /// A held key signs each scheme many times through its templates, and
    /// every signature verifies with the scheme's exact parameters.
    #[test]
    fn a_held_key_signs_every_scheme_repeatedly() {
        let rsa = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let group =
            openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
        let ec = PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap()).unwrap();
        let ed = PKey::generate_ed25519().unwrap();
        let cases = [
            (&rsa, SignatureScheme::RsaPssSha256),
            (&rsa, SignatureScheme::RsaPssSha512),
            (&rsa, SignatureScheme::RsaPkcs1Sha256),
            (&ec, SignatureScheme::EcdsaP256Sha256),
            (&ed, SignatureScheme::Ed25519),
        ];
        for (key, scheme) in cases {
            let held = SigningKey::new(key.clone());
            for i in 0..3u8 {
                let msg = [b'm', i];
                let sig = held.sign(scheme, &msg).unwrap();
                assert!(verifies(key, scheme, &msg, &sig), "{scheme:?} #{i}");
                assert!(!verifies(key, scheme, b"other", &sig), "{scheme:?} #{i}");
                let once = sign(key, scheme, &msg).unwrap();
                assert!(verifies(key, scheme, &msg, &once), "{scheme:?} one-off");
            }
        }
    }

    #[test]
    fn a_scheme_the_key_cannot_sign_is_an_error_each_time() {
        let group =
            openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
        let held = SigningKey::new(
            PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap()).unwrap(),
        );
        for _ in 0..2 {
            assert!(held.sign(SignatureScheme::RsaPssSha256, b"m").is_err());
        }
        // The failure left nothing behind: the key's own scheme still works.
        assert!(held.sign(SignatureScheme::EcdsaP256Sha256, b"m").is_ok());
    }
}
