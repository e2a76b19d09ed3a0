//! The egress proxy: apps send plain HTTP to a local socket and the daemon
//! sends it on to a configured upstream over HTTPS, adding mutual TLS with
//! the credential's key, the access token, a DPoP proof and the FAPI
//! interaction id. Nothing secret crosses into the app.
//!
//! Listeners: a Unix socket (beside the gRPC socket by default, under the
//! same directory rules; callers identified by the kernel and held to the
//! allow rules, operation `proxy`), and, only when configured, a loopback
//! TCP port where each app shows its token in `X-Fapi-Agent-Token` (no
//! caller identity: weaker, for apps that cannot use a Unix socket).
//! HTTP/1.1 and HTTP/2 (prior knowledge) on both.
//!
//! [`route`] picks the upstream and refuses what may not pass, [`forward`]
//! handles one request, [`upstream`] keeps each upstream's pool and nonce,
//! [`body`] streams and counts bodies, [`error`] maps refusals to statuses.

pub mod body;
pub mod error;
pub mod forward;
pub mod route;
pub mod upstream;

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use crate::access::caller::Caller;
use crate::access::limits::ConnectionSlots;
use crate::config::ProxyConfig;
use crate::daemon::Daemon;
use crate::ops::proxy::App;
use crate::ops::{Gate, Peer};
use crate::secret::Passphrase;
use crate::source::{self, SourceError};
use crate::sys::listen::{BoundSocket, SocketError};

/// The FAPI interaction id header (FAPI 1.0 Baseline §6.2.2).
pub const INTERACTION_ID: HeaderName = HeaderName::from_static("x-fapi-interaction-id");

/// The header a TCP app shows its token in.
pub const APP_TOKEN: &str = "x-fapi-agent-token";

/// How long a client may take to send a request's head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The Unix socket.
    #[error("proxy socket: {0}")]
    Socket(#[from] SocketError),
    /// The TCP listener.
    #[error("proxy TCP listener {addr}: {source}")]
    Tcp {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A TCP app's token could not be fetched.
    #[error("the token of proxy.tcp.apps.{app}: {source}")]
    AppToken {
        /// The app.
        app: String,
        /// Why.
        source: SourceError,
    },
}

/// A TCP app: its token (in locked memory) and the upstreams it may use.
struct TcpApp {
    name: String,
    token: Passphrase,
    upstreams: Arc<Vec<String>>,
}

/// What every request handler shares.
pub struct Context {
    gate: Gate,
    upstreams: upstream::Upstreams,
    replay_limit: usize,
    tcp_apps: Vec<TcpApp>,
}

impl Context {
    /// The TCP app whose token the request shows.
    fn tcp_app(&self, headers: &http::HeaderMap) -> Option<App> {
        let shown = headers.get(APP_TOKEN)?.as_bytes();
        // Compared in constant time; only the length shows.
        self.tcp_apps
            .iter()
            .find(|a| {
                let want = a.token.expose();
                want.len() == shown.len() && openssl::memcmp::eq(want, shown)
            })
            .map(|a| App::Tcp {
                name: a.name.clone(),
                upstreams: Arc::clone(&a.upstreams),
            })
    }
}

/// The bound listeners, ready to serve.
pub struct Proxy {
    unix: BoundSocket,
    tcp: Option<std::net::TcpListener>,
    tcp_apps: Vec<TcpApp>,
    replay_limit: usize,
}

/// The proxy socket's path: configured, else `proxy.sock` beside the gRPC
/// socket.
pub fn socket_path(cfg: &ProxyConfig, grpc_socket: &Path) -> PathBuf {
    cfg.socket
        .clone()
        .unwrap_or_else(|| grpc_socket.with_file_name("proxy.sock"))
}

impl Proxy {
    /// Binds the listeners `daemon`'s config names (none: no proxy) and
    /// fetches the TCP apps' tokens.
    pub async fn bind(
        daemon: &Daemon,
        grpc_socket: &Path,
        group: Option<u32>,
    ) -> Result<Option<Self>, StartError> {
        let Some(cfg) = daemon.proxy_config() else {
            return Ok(None);
        };
        let unix = BoundSocket::bind(&socket_path(cfg, grpc_socket), group)?;
        let mut tcp = None;
        let mut tcp_apps = Vec::new();
        if let Some(t) = &cfg.tcp {
            let timeout =
                Duration::from_secs(daemon.agent_config().passphrase_fetch_timeout_seconds);
            let env = daemon.env_vault();
            for (name, app) in &t.apps {
                let src = source::from_config(&app.token, &env, timeout);
                let token =
                    source::fetch(&src, timeout)
                        .await
                        .map_err(|source| StartError::AppToken {
                            app: name.clone(),
                            source,
                        })?;
                tcp_apps.push(TcpApp {
                    name: name.clone(),
                    token,
                    upstreams: Arc::new(app.upstreams.clone()),
                });
            }
            let listener = std::net::TcpListener::bind(t.listen)
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .map_err(|source| StartError::Tcp {
                    addr: t.listen,
                    source,
                })?;
            tcp = Some(listener);
        }
        Ok(Some(Self {
            unix,
            tcp,
            tcp_apps,
            replay_limit: cfg.replay_buffer_bytes,
        }))
    }

    /// Where apps connect.
    pub fn socket_path(&self) -> &Path {
        self.unix.path()
    }

    /// Serves until `stopping` turns true; then the listeners close (the
    /// socket file is removed) and requests in flight finish.
    pub fn spawn(self, gate: Gate, stopping: tokio::sync::watch::Receiver<bool>) {
        let agent = gate.daemon().agent_config();
        let slots = Arc::new(ConnectionSlots::new(
            agent.max_connections,
            agent.max_connections_per_uid,
        ));
        let ctx = Arc::new(Context {
            gate,
            upstreams: upstream::Upstreams::default(),
            replay_limit: self.replay_limit,
            tcp_apps: self.tcp_apps,
        });
        tracing::info!(socket = %self.unix.path().display(), "proxy serving");
        let (listener, guard) = self.unix.into_parts();
        {
            let ctx = Arc::clone(&ctx);
            let slots = Arc::clone(&slots);
            let mut stopping = stopping.clone();
            tokio::spawn(async move {
                let _guard = guard;
                loop {
                    let accepted = tokio::select! {
                        a = listener.accept() => a,
                        _ = stopping.wait_for(|s| *s) => break,
                    };
                    let stream = match accepted {
                        Ok((s, _)) => s,
                        Err(e) => {
                            tracing::warn!("proxy accept failed: {e}");
                            continue;
                        }
                    };
                    let caller = Caller::of_stream(&stream);
                    let slot = match slots.acquire(caller.as_ref().map(|c| c.uid)) {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::warn!("proxy connection refused: {e}");
                            continue;
                        }
                    };
                    let app = App::Local(Peer(caller));
                    serve_connection(Arc::clone(&ctx), Some(app), stream, slot);
                }
            });
        }
        if let Some(std_listener) = self.tcp {
            let mut stopping = stopping;
            tokio::spawn(async move {
                let listener = match tokio::net::TcpListener::from_std(std_listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!("proxy TCP listener: {e}");
                        return;
                    }
                };
                if let Ok(addr) = listener.local_addr() {
                    tracing::warn!(%addr, "proxy serving on loopback TCP: apps are known by their token only, not by the kernel");
                }
                loop {
                    let accepted = tokio::select! {
                        a = listener.accept() => a,
                        _ = stopping.wait_for(|s| *s) => break,
                    };
                    let stream = match accepted {
                        Ok((s, _)) => s,
                        Err(e) => {
                            tracing::warn!("proxy accept failed: {e}");
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let slot = match slots.acquire(None) {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::warn!("proxy connection refused: {e}");
                            continue;
                        }
                    };
                    serve_connection(Arc::clone(&ctx), None, stream, slot);
                }
            });
        }
    }
}

/// Serves HTTP/1.1 or HTTP/2 on one accepted connection.
fn serve_connection<S>(
    ctx: Arc<Context>,
    app: Option<App>,
    stream: S,
    slot: crate::access::limits::ConnectionSlot,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let _slot = slot;
        let service = hyper::service::service_fn(move |req| {
            let ctx = Arc::clone(&ctx);
            let app = app.clone();
            async move { Ok::<_, Infallible>(forward::handle(ctx, app, req).await) }
        });
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);
        if let Err(e) = builder
            .serve_connection(TokioIo::new(stream), service)
            .await
        {
            tracing::debug!("proxy connection ended: {e}");
        }
    });
}
