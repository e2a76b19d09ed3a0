//! Connecting to a running daemon over its Unix socket (used by the CLI's
//! client commands and by tests).

use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint};

use crate::service::pb::{admin_client::AdminClient, agent_client::AgentClient};

/// A gRPC channel to the daemon on `socket`, for any service on it
/// (health, reflection, or the generated clients).
pub async fn channel(socket: &Path) -> Result<Channel, tonic::transport::Error> {
    // The URI is unused: the connector always dials the socket. h2 servers
    // reject a path as `:authority`, so it stays `localhost`.
    channel_with(Endpoint::from_static("http://localhost"), socket).await
}

/// Like [`channel`] with the caller's endpoint settings (timeouts, HTTP/2
/// windows).
pub async fn channel_with(
    endpoint: Endpoint,
    socket: &Path,
) -> Result<Channel, tonic::transport::Error> {
    let path: PathBuf = socket.to_owned();
    endpoint
        .connect_with_connector(tower::service_fn(move |_| {
            let path = path.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(path).await?)) }
        }))
        .await
}

/// A connected client for both services.
#[derive(Clone)]
pub struct Client {
    /// The `Agent` service.
    pub agent: AgentClient<Channel>,
    /// The `Admin` service.
    pub admin: AdminClient<Channel>,
}

impl Client {
    /// Connects to the daemon on `socket`.
    pub async fn connect(socket: &Path) -> Result<Self, tonic::transport::Error> {
        let channel = channel(socket).await?;
        Ok(Self {
            agent: AgentClient::new(channel.clone()),
            admin: AdminClient::new(channel),
        })
    }
}
