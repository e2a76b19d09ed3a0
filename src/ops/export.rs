//! GetKeyMaterial: the private key itself, only with an `export` rule and
//! `export = true`, and every export on record.

use super::{Error, Gate, Peer, Selection};
use crate::access::audit::{AuditEvent, AuditOp, Outcome};
use crate::config::Operation;
use crate::secret::{MAX_PASSPHRASE_LEN, SecretBytes};
use crate::sys::cpu;

/// How the key is handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Unencrypted PKCS#8 PEM.
    Pkcs8Pem,
    /// PKCS#8 PEM under the request's passphrase (PBES2, AES-256-CBC).
    EncryptedPkcs8Pem,
}

/// What a caller asks for.
#[derive(Debug)]
pub struct ExportRequest {
    /// Which credential.
    pub credential: Selection,
    /// The format.
    pub format: ExportFormat,
    /// The passphrase for [`ExportFormat::EncryptedPkcs8Pem`].
    pub passphrase: SecretBytes,
}

/// The exported key and its public facts.
#[derive(Debug)]
pub struct ExportedKey {
    /// The key, PEM.
    pub private_key_pem: SecretBytes,
    /// The certificate chain, PEM, leaf first.
    pub certificate_chain_pem: String,
    /// The key's kid.
    pub kid: String,
}

/// Hands out a credential's key where its config and rules allow it.
pub async fn get_key_material(
    gate: &Gate,
    peer: &Peer,
    req: Result<ExportRequest, Error>,
) -> Result<ExportedKey, Error> {
    let admitted = gate.admit(peer, AuditOp::Export)?;
    let req = req?;
    let registry = gate.daemon().registry();
    let cred = registry.select(&req.credential.by, req.credential.kid.as_deref())?;
    admitted.authorize(&registry, &cred, Operation::Export)?;
    if !cred.config.export {
        tracing::warn!(caller = %admitted.caller(), credential = %cred.name, "key export refused: export is off");
        let e = Error::ExportDisabled(cred.name.clone());
        admitted.record(
            &cred,
            Outcome::Denied,
            AuditEvent::default().detail(e.to_string()),
        );
        return Err(e);
    }
    let exported = async {
        let encrypt = match req.format {
            ExportFormat::Pkcs8Pem => false,
            ExportFormat::EncryptedPkcs8Pem => {
                let p = req.passphrase.expose();
                if !(8..=MAX_PASSPHRASE_LEN).contains(&p.len()) || p.contains(&0) {
                    return Err(Error::InvalidArgument(format!(
                        "export_passphrase must be 8 to {MAX_PASSPHRASE_LEN} bytes with no NUL"
                    )));
                }
                true
            }
        };
        let facts = cred.facts()?;
        let key = cred.key()?.ready().await.map_err(|e| cred.key_failure(e))?;
        let passphrase = req.passphrase;
        let pem = cpu::run(move || key.export_pkcs8_pem(encrypt.then(|| passphrase.expose())))
            .await
            .map_err(|e| Error::from_export(&cred.name, e))?;
        tracing::warn!(
            caller = %admitted.caller(), credential = %cred.name, kid = %facts.jwk.thumbprint(),
            encrypted = encrypt, "PRIVATE KEY EXPORTED"
        );
        admitted.record(
            &cred,
            Outcome::Ok,
            AuditEvent::default()
                .kid(Some(facts.jwk.thumbprint().to_owned()))
                .detail(if encrypt {
                    "encrypted PKCS#8"
                } else {
                    "PKCS#8"
                }),
        );
        Ok(ExportedKey {
            private_key_pem: pem,
            certificate_chain_pem: facts.chain_pem.clone(),
            kid: facts.jwk.thumbprint().to_owned(),
        })
    }
    .await;
    // An authorized export that then failed is on record too.
    if let Err(e) = &exported {
        admitted.record(
            &cred,
            Outcome::Error,
            AuditEvent::default().detail(e.to_string()),
        );
    }
    exported
}
