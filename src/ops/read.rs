//! GetCredential and ListCredentials: public facts only.

use super::{Error, Gate, Peer, Selection};
use crate::access::audit::AuditOp;
use crate::config::Operation;
use crate::credential::{Snapshot, live_jwks};

/// One credential's public facts, with the JWKS of its client's live keys.
pub async fn get_credential(
    gate: &Gate,
    peer: &Peer,
    selection: Result<Selection, Error>,
) -> Result<Snapshot, Error> {
    let admitted = gate.admit(peer, AuditOp::Read)?;
    let selection = selection?;
    let registry = gate.daemon().registry();
    let cred = registry.select(&selection.by, selection.kid.as_deref())?;
    admitted.authorize(&registry, &cred, Operation::Read)?;
    let mut out = cred.snapshot();
    // Public keys only: they are registered at the authorization server
    // anyway, so a reader of one credential may see its client's others.
    let siblings: Vec<Snapshot> = registry
        .all()
        .filter(|c| c.client_id() == cred.client_id())
        .map(|c| c.snapshot())
        .collect();
    out.client_jwks_json = live_jwks(&siblings, crate::now_unix()).to_string();
    Ok(out)
}

/// The public facts of every credential the caller may read.
pub async fn list_credentials(gate: &Gate, peer: &Peer) -> Result<Vec<Snapshot>, Error> {
    let admitted = gate.admit(peer, AuditOp::Read)?;
    let registry = gate.daemon().registry();
    Ok(registry
        .all()
        .filter(|c| admitted.may_read(&registry, c))
        .map(|c| c.snapshot())
        .collect())
}
