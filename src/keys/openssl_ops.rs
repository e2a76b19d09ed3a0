//! The operations themselves, on an OpenSSL private key: shared by the
//! backends that hold one (software, ephemeral).

use openssl::encrypt::Decrypter;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKeyRef, Private};
use openssl::rsa::Padding as RsaPadding;
use openssl::sign::{RsaPssSaltlen, Signer};
use openssl::symm::Cipher;

use super::{KeyError, Padding, SignatureScheme};
use crate::secret::SecretBytes;

/// Signs `message` with `key` under `scheme`.
pub fn sign(
    key: &PKeyRef<Private>,
    scheme: SignatureScheme,
    message: &[u8],
) -> Result<Vec<u8>, KeyError> {
    let pss = |s: &mut Signer<'_>, md: MessageDigest| -> Result<(), KeyError> {
        s.set_rsa_padding(RsaPadding::PKCS1_PSS)?;
        // OpenSSL 3 defaults to the maximum salt; PSS in JOSE, TLS 1.3 and
        // RFC 9421 uses the digest length.
        s.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
        s.set_rsa_mgf1_md(md)?;
        Ok(())
    };
    Ok(match scheme {
        SignatureScheme::RsaPssSha256 | SignatureScheme::RsaPssSha512 => {
            let md = if scheme == SignatureScheme::RsaPssSha256 {
                MessageDigest::sha256()
            } else {
                MessageDigest::sha512()
            };
            let mut s = Signer::new(md, key)?;
            pss(&mut s, md)?;
            s.update(message)?;
            s.sign_to_vec()?
        }
        SignatureScheme::RsaPkcs1Sha256 => {
            let mut s = Signer::new(MessageDigest::sha256(), key)?;
            s.set_rsa_padding(RsaPadding::PKCS1)?;
            s.update(message)?;
            s.sign_to_vec()?
        }
        SignatureScheme::EcdsaP256Sha256 => {
            let mut s = Signer::new(MessageDigest::sha256(), key)?;
            s.update(message)?;
            s.sign_to_vec()?
        }
        SignatureScheme::Ed25519 => {
            // Ed25519 hashes internally and takes no streaming input.
            let mut s = Signer::new_without_digest(key)?;
            s.sign_oneshot_to_vec(message)?
        }
    })
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
