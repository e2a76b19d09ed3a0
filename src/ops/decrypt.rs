//! DecryptSecret: a shared secret a platform encrypted to the credential's
//! RSA certificate (docs/standards.md §4).
//!
//! Every failure of the decryption itself (a padding the credential does
//! not accept, a tampered or wrong-length ciphertext, a non-RSA key) gives
//! the same [`Error::DecryptFailed`], and a refused padding still performs
//! a decryption, so neither the answer nor its timing tells which check
//! failed.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

use super::{Error, Gate, Peer, Selection};
use crate::access::audit::{AuditEvent, AuditOp, Outcome};
use crate::config::{Operation, PaddingName};
use crate::secret::SecretBytes;
use crate::sys::cpu;

/// What a caller asks to decrypt.
#[derive(Debug)]
pub struct DecryptRequest {
    /// Whose key decrypts.
    pub credential: Selection,
    /// The padding the platform used.
    pub padding: PaddingName,
    /// The ciphertext, decoded.
    pub ciphertext: Vec<u8>,
}

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

/// Decrypts a shared secret (the request as the front end decoded it).
pub async fn decrypt_secret(
    gate: &Gate,
    peer: &Peer,
    req: Result<DecryptRequest, Error>,
) -> Result<SecretBytes, Error> {
    let admitted = gate.admit(peer, AuditOp::Decrypt)?;
    let req = req?;
    let registry = gate.daemon().registry();
    let cred = registry.select(&req.credential.by, req.credential.kid.as_deref())?;
    admitted.authorize(&registry, &cred, Operation::Decrypt)?;
    let allowed = cred.config.decrypt_paddings.contains(&req.padding);
    let padding = req.padding;
    let result = async {
        let key = cred.key()?.ready().await.map_err(|e| cred.key_failure(e))?;
        let ciphertext = req.ciphertext;
        let out = cpu::run(move || {
            // A refused padding still costs one real decryption
            // (OAEP-SHA256), whose result is thrown away.
            let effective = if allowed {
                padding
            } else {
                PaddingName::OaepSha256
            };
            let out = key.decrypt(effective, &ciphertext).ok();
            if allowed { out } else { None }
        })
        .await;
        out.ok_or_else(|| {
            tracing::info!(credential = %cred.name, "shared-secret decryption failed");
            Error::DecryptFailed(cred.name.clone())
        })
    }
    .await;
    let mut event =
        AuditEvent::default().kid(cred.facts().ok().map(|f| f.jwk.thumbprint().to_owned()));
    if let Err(e) = &result {
        event = event.detail(e.to_string());
    }
    admitted.record(
        &cred,
        if result.is_ok() {
            Outcome::Ok
        } else {
            Outcome::Error
        },
        event,
    );
    let plaintext = result?;
    tracing::debug!(caller = %admitted.caller(), credential = %cred.name, ?padding, "shared secret decrypted");
    Ok(plaintext)
}
