//! The `Admin` service: daemon status for operators.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tonic::{Request, Response, Status};

use super::pb;
use crate::daemon::Daemon;

/// Serves `fapi_agent.v1.Admin`.
pub struct AdminService {
    daemon: Arc<Daemon>,
    started: Instant,
    socket: PathBuf,
}

impl AdminService {
    /// A service reporting on `daemon`, serving on `socket`.
    pub fn new(daemon: Arc<Daemon>, socket: PathBuf) -> Self {
        Self {
            daemon,
            started: Instant::now(),
            socket,
        }
    }
}

#[tonic::async_trait]
impl pb::admin_server::Admin for AdminService {
    async fn status(
        &self,
        request: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        let caller = self.daemon.admit(&request, "status")?;
        self.daemon.authorize_admin(&caller, "status")?;
        let reload = self.daemon.last_reload();
        let (locked, unlockable) = crate::sys::mem::memory_lock_report();
        Ok(Response::new(pb::StatusResponse {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            uptime_seconds: self.started.elapsed().as_secs(),
            socket_path: self.socket.display().to_string(),
            credentials: self
                .daemon
                .registry()
                .all()
                .map(|c| {
                    let mut pb_cred = super::credential_to_pb(c);
                    pb_cred.passphrase_source = Some(source_status_to_pb(c.source_status()));
                    pb_cred
                })
                .collect(),
            pid: std::process::id(),
            last_reload_at: reload.at,
            last_reload_trigger: reload.trigger,
            last_reload_error: reload.error.unwrap_or_default(),
            locked: self.daemon.is_locked(),
            secret_pages_locked: locked as u64,
            secret_pages_unlockable: unlockable as u64,
            secure_heap: crate::sys::openssl::secure_heap_active(),
        }))
    }

    async fn lock(
        &self,
        request: Request<pb::LockRequest>,
    ) -> Result<Response<pb::LockResponse>, Status> {
        let caller = self.daemon.admit(&request, "lock")?;
        self.daemon.authorize_admin(&caller, "lock")?;
        let locked = self
            .daemon
            .lock(&format!("Admin.Lock by {caller}"), Some(&caller))
            .await;
        Ok(Response::new(pb::LockResponse { locked }))
    }

    async fn unlock(
        &self,
        request: Request<pb::UnlockRequest>,
    ) -> Result<Response<pb::UnlockResponse>, Status> {
        let caller = self.daemon.admit(&request, "unlock")?;
        self.daemon.authorize_admin(&caller, "unlock")?;
        tracing::info!(%caller, "unlock requested");
        let (unlocked, errors) = self.daemon.unlock(Some(&caller)).await;
        Ok(Response::new(pb::UnlockResponse { unlocked, errors }))
    }

    async fn reload(
        &self,
        request: Request<pb::ReloadRequest>,
    ) -> Result<Response<pb::ReloadResponse>, Status> {
        let caller = self.daemon.admit(&request, "reload")?;
        self.daemon.authorize_admin(&caller, "reload")?;
        tracing::info!(%caller, "reload requested");
        let report = self.daemon.reload("Admin.Reload").await?;
        Ok(Response::new(pb::ReloadResponse {
            added: report.added,
            removed: report.removed,
            updated: report.updated,
            errors: report.errors,
        }))
    }
}

fn source_status_to_pb(s: crate::credential::SourceStatus) -> pb::PassphraseSourceStatus {
    let (last_error_at, last_error) = s.last_error.unwrap_or_default();
    pb::PassphraseSourceStatus {
        kind: s.kind,
        description: s.description,
        last_fetch_at: s.last_fetch_at.unwrap_or_default(),
        last_error,
        last_error_at,
        held: s.held,
        next_retry_at: s.next_retry_at.unwrap_or_default(),
    }
}
