//! The `Admin` service: daemon status for operators.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tonic::{Request, Response, Status};

use super::{credential_to_pb, pb};
use crate::caller::Caller;
use crate::credential::Registry;

/// Serves `fapi_agent.v1.Admin`.
pub struct AdminService {
    registry: Arc<Registry>,
    started: Instant,
    socket: PathBuf,
}

impl AdminService {
    /// A service reporting on `registry`, serving on `socket`.
    pub fn new(registry: Arc<Registry>, socket: PathBuf) -> Self {
        Self {
            registry,
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
        Caller::authorize(&request)?;
        Ok(Response::new(pb::StatusResponse {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            uptime_seconds: self.started.elapsed().as_secs(),
            socket_path: self.socket.display().to_string(),
            credentials: self.registry.all().map(|c| credential_to_pb(c)).collect(),
            pid: std::process::id(),
        }))
    }
}
