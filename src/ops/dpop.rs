//! SignDpopProof: a DPoP proof for a request the app makes itself (policy
//! operation `dpop`).

use super::{Error, Gate, Peer, Selection};
use crate::access::audit::{AuditEvent, AuditOp, Outcome};
use crate::config::Operation;
use crate::jose::dpop::Proof;

/// What a caller asks a proof for.
#[derive(Debug, Clone)]
pub struct ProofRequest {
    /// Whose DPoP key.
    pub credential: Selection,
    /// The HTTP method.
    pub htm: String,
    /// The request URL.
    pub htu: String,
    /// The access token the request presents.
    pub access_token: Option<String>,
    /// The server's nonce.
    pub nonce: Option<String>,
}

/// A proof and the key's thumbprint.
pub async fn sign_dpop_proof(
    gate: &Gate,
    peer: &Peer,
    req: Result<ProofRequest, Error>,
) -> Result<(Proof, String), Error> {
    let admitted = gate.admit(peer, AuditOp::Dpop)?;
    let req = req?;
    let registry = gate.daemon().registry();
    let cred = registry.select(&req.credential.by, req.credential.kid.as_deref())?;
    admitted.authorize(&registry, &cred, Operation::Dpop)?;
    let client = gate.daemon().oauth_client(&cred.name).ok_or_else(|| {
        Error::FailedPrecondition(format!(
            "credential {:?} has no [credentials.{}.oauth] table with sender_constraint = \
             \"dpop\"",
            cred.name, cred.name
        ))
    })?;
    let result = client
        .dpop_proof(
            &req.htm,
            &req.htu,
            req.access_token.as_deref(),
            req.nonce.as_deref(),
        )
        .await
        // As for tokens: a PIN source that is down (a DPoP key on a token)
        // is UNAVAILABLE, a configuration to change FAILED_PRECONDITION.
        .map_err(|e| super::token::oauth_error(&cred, e));
    match &result {
        Ok((proof, jkt)) => admitted.record(
            &cred,
            Outcome::Ok,
            AuditEvent {
                jti: Some(proof.jti.clone()),
                ..AuditEvent::default().detail(format!("{} {} jkt {jkt}", req.htm, proof.htu))
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
