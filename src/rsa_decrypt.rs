//! Decryption of shared secrets that platforms encrypt to the credential's
//! RSA certificate (STANDARDS §4).
//!
//! Every failure (a padding the credential does not accept, a tampered or
//! wrong-length ciphertext, a non-RSA key) gives the same
//! [`Error::DecryptFailed`], and a refused padding still performs a
//! decryption, so neither the answer nor its timing tells which check failed.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use openssl::encrypt::Decrypter;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKeyRef, Private};
use openssl::rsa::Padding as RsaPadding;

use crate::config::PaddingName;
use crate::credential::Credential;
use crate::error::Error;
use crate::secret::SecretBytes;
use crate::sys::cpu;

/// Decodes base64 ciphertext as platforms show it: standard or URL-safe
/// alphabet, with or without padding, whitespace and line breaks ignored.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, Error> {
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .trim_end_matches('=')
        .to_owned();
    STANDARD_NO_PAD
        .decode(&compact)
        .or_else(|_| URL_SAFE_NO_PAD.decode(&compact))
        .map_err(|e| Error::InvalidArgument(format!("ciphertext_base64 is not valid base64: {e}")))
}

/// Decrypts `ciphertext` with the credential's key under `padding`.
pub async fn decrypt(
    cred: &Arc<Credential>,
    ciphertext: Vec<u8>,
    padding: PaddingName,
) -> Result<SecretBytes, Error> {
    let allowed = cred.config.decrypt_paddings.contains(&padding);
    let unlocked = cred.unlocked().await?;
    let name = cred.name.clone();
    let result = cpu::run(move || {
        // A refused padding still costs one real decryption (OAEP-SHA256),
        // whose result is thrown away.
        let effective = if allowed {
            padding
        } else {
            PaddingName::OaepSha256
        };
        let out = unlocked
            .open()
            .ok()
            .and_then(|key| rsa_decrypt(&key, &ciphertext, effective));
        if allowed { out } else { None }
    })
    .await;
    result.ok_or_else(|| {
        tracing::info!(credential = %name, "shared-secret decryption failed");
        Error::DecryptFailed(name)
    })
}

fn rsa_decrypt(
    key: &PKeyRef<Private>,
    ciphertext: &[u8],
    padding: PaddingName,
) -> Option<SecretBytes> {
    if key.id() != Id::RSA {
        return None;
    }
    let mut d = Decrypter::new(key).ok()?;
    match padding {
        PaddingName::Pkcs1V15 => d.set_rsa_padding(RsaPadding::PKCS1).ok()?,
        PaddingName::OaepSha1 | PaddingName::OaepSha256 => {
            let md = if padding == PaddingName::OaepSha1 {
                MessageDigest::sha1()
            } else {
                MessageDigest::sha256()
            };
            d.set_rsa_padding(RsaPadding::PKCS1_OAEP).ok()?;
            // Both digests: OpenSSL would otherwise keep MGF1-SHA-1.
            d.set_rsa_oaep_md(md).ok()?;
            d.set_rsa_mgf1_md(md).ok()?;
        }
    }
    let len = d.decrypt_len(ciphertext).ok()?;
    let mut out = zeroize::Zeroizing::new(vec![0u8; len]);
    let n = d.decrypt(ciphertext, &mut out).ok()?;
    Some(SecretBytes::new(out[..n].to_vec()))
}
