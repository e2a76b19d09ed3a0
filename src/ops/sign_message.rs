//! Message signatures (policy operation `sign_message`): the UK Open
//! Banking detached JWS of a request body, and the Open Finance Brasil
//! signed body. The caller gives the body (and the profile, or `aud`);
//! every header field and reserved claim is the daemon's, from the
//! credential's `[ob_uk]` or `[open_finance_brasil]` table and its key.

use super::{Error, Gate, Peer, Selection};
use crate::access::audit::{AuditEvent, AuditOp, Outcome};
use crate::config::Operation;
use crate::credential::Credential;
use crate::jose::brasil::{self, BrasilError};
use crate::jose::ob_detached::{self, ObError, Version};

/// What a caller asks to have signed.
#[derive(Debug, Clone)]
pub struct ObRequest {
    /// Whose key.
    pub credential: Selection,
    /// The exact body bytes.
    pub body: Vec<u8>,
    /// Which profile's rules.
    pub version: Version,
}

/// A signature and the key that made it.
#[derive(Debug, Clone)]
pub struct ObSigned {
    /// The `x-jws-signature` value.
    pub signature: String,
    /// The key's `kid`.
    pub kid: String,
    /// The credential.
    pub credential: String,
}

/// Signs `body` for `cred` (authorized by the caller): shared by the RPC
/// and the egress proxy.
pub async fn sign_ob_body(
    cred: &Credential,
    version: Version,
    body: &[u8],
) -> Result<ObSigned, Error> {
    let ob = cred.config.ob_uk.as_ref().ok_or_else(|| {
        Error::FailedPrecondition(format!(
            "credential {:?} has no [credentials.{}.ob_uk] table (iss, tan): it signs no UK \
             Open Banking messages",
            cred.name, cred.name
        ))
    })?;
    let facts = cred.facts()?;
    let signer = ob_detached::Signer {
        credential: &cred.name,
        alg: facts.alg,
        kid: facts.jwk.thumbprint(),
        iss: &ob.iss,
        tan: &ob.tan,
        max_body_bytes: ob.max_body_bytes,
    };
    ob_detached::check(&signer, body).map_err(ob_error)?;
    let key = cred.key()?.ready().await.map_err(|e| cred.key_failure(e))?;
    let signature = ob_detached::sign(&signer, version, body, &key)
        .await
        .map_err(ob_error)?;
    Ok(ObSigned {
        signature,
        kid: signer.kid.to_owned(),
        credential: cred.name.clone(),
    })
}

fn ob_error(e: ObError) -> Error {
    match e {
        ObError::NotRsa(_) => Error::FailedPrecondition(e.to_string()),
        ObError::TooLarge { .. } => Error::InvalidArgument(e.to_string()),
        ObError::Key(k) => Error::Internal(format!("signing failed: {k}")),
    }
}

/// SignObDetachedJws: admission, selection, `sign_message`, audit.
pub async fn sign_ob_detached(
    gate: &Gate,
    peer: &Peer,
    req: Result<ObRequest, Error>,
) -> Result<ObSigned, Error> {
    let admitted = gate.admit(peer, AuditOp::SignMessage)?;
    let req = req?;
    let registry = gate.daemon().registry();
    let cred = registry.select(&req.credential.by, req.credential.kid.as_deref())?;
    admitted.authorize(&registry, &cred, Operation::SignMessage)?;
    let result = sign_ob_body(&cred, req.version, &req.body).await;
    let digest = openssl::sha::sha256(&req.body);
    let body_sha = digest[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    match &result {
        Ok(s) => admitted.record(
            &cred,
            Outcome::Ok,
            AuditEvent {
                kid: Some(s.kid.clone()),
                ..AuditEvent::default().detail(format!(
                    "{} over {} bytes, sha256:{body_sha}",
                    req.version.profile(),
                    req.body.len()
                ))
            },
        ),
        Err(e) => admitted.record(
            &cred,
            Outcome::Error,
            AuditEvent::default().detail(e.to_string()),
        ),
    }
    result
}

/// What a caller asks to have signed as an Open Finance Brasil body.
#[derive(Debug, Clone)]
pub struct BrasilRequest {
    /// Whose key.
    pub credential: Selection,
    /// The body's JSON object (`data`).
    pub data_json: String,
    /// The server's organisation id (`aud`).
    pub audience: String,
}

/// A signed Brasil body.
#[derive(Debug, Clone)]
pub struct BrasilSigned {
    /// The compact JWS: the request body to send.
    pub jws: String,
    /// Its `jti`.
    pub jti: String,
    /// The key's `kid`.
    pub kid: String,
}

/// SignBrasilBody: admission, selection, `sign_message`, audit.
pub async fn sign_brasil_body(
    gate: &Gate,
    peer: &Peer,
    req: Result<BrasilRequest, Error>,
) -> Result<BrasilSigned, Error> {
    let admitted = gate.admit(peer, AuditOp::SignMessage)?;
    let req = req?;
    let registry = gate.daemon().registry();
    let cred = registry.select(&req.credential.by, req.credential.kid.as_deref())?;
    admitted.authorize(&registry, &cred, Operation::SignMessage)?;
    let result: Result<BrasilSigned, Error> = async {
        let cfg = cred.config.open_finance_brasil.as_ref().ok_or_else(|| {
            Error::FailedPrecondition(format!(
                "credential {:?} has no [credentials.{}.open_finance_brasil] table (iss): it \
                 signs no Open Finance Brasil bodies",
                cred.name, cred.name
            ))
        })?;
        let facts = cred.facts()?;
        let signer = brasil::Signer {
            credential: &cred.name,
            alg: facts.alg,
            kid: facts.jwk.thumbprint(),
            iss: &cfg.iss,
            max_body_bytes: cfg.max_body_bytes,
        };
        brasil::check(&signer, &req.data_json, &req.audience).map_err(brasil_error)?;
        let key = cred.key()?.ready().await.map_err(|e| cred.key_failure(e))?;
        let (jws, jti) = brasil::sign(&signer, &req.data_json, &req.audience, &key)
            .await
            .map_err(brasil_error)?;
        Ok(BrasilSigned {
            jws,
            jti,
            kid: signer.kid.to_owned(),
        })
    }
    .await;
    match &result {
        Ok(s) => admitted.record(
            &cred,
            Outcome::Ok,
            AuditEvent {
                kid: Some(s.kid.clone()),
                jti: Some(s.jti.clone()),
                aud: Some(req.audience.clone()),
                ..AuditEvent::default().detail("open-finance-brasil body")
            },
        ),
        Err(e) => admitted.record(
            &cred,
            Outcome::Error,
            AuditEvent::default().detail(e.to_string()),
        ),
    }
    result
}

fn brasil_error(e: BrasilError) -> Error {
    match e {
        BrasilError::Invalid(m) if m.contains("non-RSA") => Error::FailedPrecondition(m),
        BrasilError::Invalid(m) => Error::InvalidArgument(m),
        BrasilError::Key(k) => Error::Internal(format!("signing failed: {k}")),
    }
}
