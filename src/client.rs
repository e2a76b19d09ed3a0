//! Connecting to a running daemon over its Unix socket (used by the CLI's
//! client commands and by tests).
//!
//! Clients trust the daemon too: after connecting, the server's uid is
//! read from the kernel (`SO_PEERCRED` on the connected socket, so a
//! replaced socket file cannot fool it) and must be the caller's own uid,
//! root, or the uid in `FAPI_AGENT_SOCKET_OWNER`; otherwise the connection
//! is dropped before a single byte is sent.

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
            async move {
                let stream = UnixStream::connect(&path).await?;
                check_server(&stream, &path)?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        }))
        .await
}

/// The uids a daemon may run as, for this client.
pub fn trusted_server_uids() -> Vec<u32> {
    let mut uids = vec![crate::sys::process::effective_uid(), 0];
    if let Some(uid) = std::env::var("FAPI_AGENT_SOCKET_OWNER")
        .ok()
        .and_then(|v| v.trim().parse().ok())
    {
        uids.push(uid);
    }
    uids
}

fn check_server(stream: &UnixStream, path: &Path) -> std::io::Result<()> {
    let server = stream.peer_cred()?.uid();
    if trusted_server_uids().contains(&server) {
        return Ok(());
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        format!(
            "{} is served by uid {server}, not by this user, root or FAPI_AGENT_SOCKET_OWNER: \
             refusing to talk to it (set FAPI_AGENT_SOCKET_OWNER={server} if that uid runs \
             fapi-agent)",
            path.display()
        ),
    ))
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
