//! The Admin operations: status, reload, lock, unlock. Only root, the
//! daemon's uid and the admin group may call them.

use super::{Error, Gate, Peer};
use crate::access::audit::AuditOp;
use crate::credential::Snapshot;
use crate::daemon::{ReloadReport, ReloadStatus};

/// The daemon's state, for operators.
#[derive(Debug, Clone)]
pub struct StatusReport {
    /// Every credential, with its passphrase source's state, and its
    /// tokens' state when it has an OAuth client.
    pub credentials: Vec<(Snapshot, Option<crate::oauth::TokenStatus>)>,
    /// The last reload.
    pub last_reload: ReloadStatus,
    /// Whether the daemon is locked.
    pub locked: bool,
    /// Secret pages locked in RAM now, and pages that could not be.
    pub secret_pages: (usize, usize),
    /// Whether OpenSSL's secure heap holds key internals.
    pub secure_heap: bool,
}

/// The daemon's status.
pub async fn status(gate: &Gate, peer: &Peer) -> Result<StatusReport, Error> {
    gate.admit(peer, AuditOp::Status)?.authorize_admin()?;
    let daemon = gate.daemon();
    Ok(StatusReport {
        credentials: daemon
            .registry()
            .all()
            .map(|c| {
                let mut s = c.snapshot();
                s.passphrase_source = Some(c.source_status());
                (s, daemon.oauth_client(&c.name).map(|o| o.status()))
            })
            .collect(),
        last_reload: daemon.last_reload(),
        locked: daemon.is_locked(),
        secret_pages: crate::sys::mem::memory_lock_report(),
        secure_heap: crate::sys::openssl::secure_heap_active(),
    })
}

/// Re-reads the config and credential files (like SIGHUP).
pub async fn reload(gate: &Gate, peer: &Peer) -> Result<ReloadReport, Error> {
    let admitted = gate.admit(peer, AuditOp::Reload)?;
    admitted.authorize_admin()?;
    tracing::info!(caller = %admitted.caller(), "reload requested");
    Ok(gate.daemon().reload("Admin.Reload").await?)
}

/// Wipes every passphrase and key (like SIGUSR1); returns the credentials.
pub async fn lock(gate: &Gate, peer: &Peer) -> Result<Vec<String>, Error> {
    let admitted = gate.admit(peer, AuditOp::Lock)?;
    admitted.authorize_admin()?;
    let caller = admitted.caller().clone();
    Ok(gate
        .daemon()
        .lock(&format!("Admin.Lock by {caller}"), Some(&caller))
        .await)
}

/// Fetches every passphrase again and proves each key: the unlocked
/// credentials, and `NAME: reason` for each that failed.
pub async fn unlock(gate: &Gate, peer: &Peer) -> Result<(Vec<String>, Vec<String>), Error> {
    let admitted = gate.admit(peer, AuditOp::Unlock)?;
    admitted.authorize_admin()?;
    tracing::info!(caller = %admitted.caller(), "unlock requested");
    let caller = admitted.caller().clone();
    Ok(gate.daemon().unlock(Some(&caller)).await)
}
