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
//! [`body`] streams and counts bodies, [`error`] maps refusals to statuses,
//! [`brasil`] makes and checks Open Finance Brasil signed bodies.

pub mod body;
pub mod brasil;
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
        tokio::spawn(accept_loop(
            listener,
            Arc::clone(&ctx),
            Arc::clone(&slots),
            stopping.clone(),
            Some(guard),
        ));
        if let Some(std_listener) = self.tcp {
            match tokio::net::TcpListener::from_std(std_listener) {
                Ok(listener) => {
                    if let Ok(addr) = listener.local_addr() {
                        tracing::warn!(%addr, "proxy serving on loopback TCP: apps are known by their token only, not by the kernel");
                    }
                    tokio::spawn(accept_loop(listener, ctx, slots, stopping, None));
                }
                Err(e) => tracing::error!("proxy TCP listener: {e}"),
            }
        }
    }
}

/// A listener the proxy accepts connections on.
trait Listener: Send + 'static {
    type Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static;
    fn accept(&self) -> impl std::future::Future<Output = std::io::Result<Self::Stream>> + Send;
    /// The uid for the connection limits, and the app (none: a TCP app,
    /// known by the token each request shows).
    fn identify(
        stream: &Self::Stream,
    ) -> impl std::future::Future<Output = (Option<u32>, Option<App>)> + Send;
}

impl Listener for tokio::net::UnixListener {
    type Stream = tokio::net::UnixStream;
    async fn accept(&self) -> std::io::Result<Self::Stream> {
        tokio::net::UnixListener::accept(self).await.map(|(s, _)| s)
    }
    async fn identify(stream: &Self::Stream) -> (Option<u32>, Option<App>) {
        let caller = Caller::of_stream(stream).await.map(std::sync::Arc::new);
        (
            caller.as_ref().map(|c| c.uid),
            Some(App::Local(Peer(caller))),
        )
    }
}

impl Listener for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;
    async fn accept(&self) -> std::io::Result<Self::Stream> {
        let (s, _) = tokio::net::TcpListener::accept(self).await?;
        let _ = s.set_nodelay(true);
        Ok(s)
    }
    async fn identify(_: &Self::Stream) -> (Option<u32>, Option<App>) {
        (None, None)
    }
}

/// Accepts until `stopping`; each connection takes a slot in the limits.
/// The socket file (`guard`) is removed when the loop ends.
async fn accept_loop<L: Listener>(
    listener: L,
    ctx: Arc<Context>,
    slots: Arc<ConnectionSlots>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
    guard: Option<crate::sys::listen::SocketGuard>,
) {
    let _guard = guard;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stopping.wait_for(|s| *s) => break,
        };
        let stream = match accepted {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("proxy accept failed: {e}");
                continue;
            }
        };
        let (uid, app) = L::identify(&stream).await;
        match slots.acquire(uid) {
            Ok(slot) => serve_connection(Arc::clone(&ctx), app, stream, slot),
            Err(e) => tracing::warn!("proxy connection refused: {e}"),
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
