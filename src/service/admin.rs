//! The `Admin` service: decode, call [`crate::ops::admin`], encode.

use std::path::PathBuf;
use std::time::Instant;

use tonic::{Request, Response, Status};

use super::{convert, pb, peer};
use crate::ops::{self, Gate};

/// Serves `fapi_agent.v1.Admin`.
pub struct AdminService {
    gate: Gate,
    started: Instant,
    socket: PathBuf,
}

impl AdminService {
    /// A service behind `gate`, serving on `socket`.
    pub fn new(gate: Gate, socket: PathBuf) -> Self {
        Self {
            gate,
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
        let s = ops::admin::status(&self.gate, &peer::of_request(&request)).await?;
        Ok(Response::new(pb::StatusResponse {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            uptime_seconds: self.started.elapsed().as_secs(),
            socket_path: self.socket.display().to_string(),
            credentials: s
                .credentials
                .into_iter()
                .map(|(c, tokens)| convert::credential_with_tokens(c, tokens, &self.gate))
                .collect(),
            pid: std::process::id(),
            last_reload_at: s.last_reload.at,
            last_reload_trigger: s.last_reload.trigger,
            last_reload_error: s.last_reload.error.unwrap_or_default(),
            locked: s.locked,
            secret_pages_locked: s.secret_pages.0 as u64,
            secret_pages_unlockable: s.secret_pages.1 as u64,
            secure_heap: s.secure_heap,
        }))
    }

    async fn lock(
        &self,
        request: Request<pb::LockRequest>,
    ) -> Result<Response<pb::LockResponse>, Status> {
        let locked = ops::admin::lock(&self.gate, &peer::of_request(&request)).await?;
        Ok(Response::new(pb::LockResponse { locked }))
    }

    async fn unlock(
        &self,
        request: Request<pb::UnlockRequest>,
    ) -> Result<Response<pb::UnlockResponse>, Status> {
        let (unlocked, errors) =
            ops::admin::unlock(&self.gate, &peer::of_request(&request)).await?;
        Ok(Response::new(pb::UnlockResponse { unlocked, errors }))
    }

    async fn reload(
        &self,
        request: Request<pb::ReloadRequest>,
    ) -> Result<Response<pb::ReloadResponse>, Status> {
        let report = ops::admin::reload(&self.gate, &peer::of_request(&request)).await?;
        Ok(Response::new(pb::ReloadResponse {
            added: report.added,
            removed: report.removed,
            updated: report.updated,
            errors: report.errors,
        }))
    }
}
