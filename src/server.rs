//! The Unix socket and the gRPC server on it.
//!
//! The socket's directory must be ours (or root's) and writable by nobody
//! else, so no other user can swap the socket for their own; it is created
//! `0700`. A stale socket left by a dead daemon is replaced; a live one is
//! not. The socket itself is created `0600` (process umask, then chmod).

use std::future::Future;
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::UnixListener;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::UnixListenerStream;
use tonic::transport::Server;

use crate::caller::{Caller, PeerInfo, PeerStream};
use crate::daemon::Daemon;
use crate::service::{AdminService, AgentService, pb};
use crate::{os, watch};

/// Largest request message accepted, in bytes.
const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Why the daemon cannot serve on a socket path.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The path has no parent directory.
    #[error("socket path {0} has no parent directory")]
    NoParent(PathBuf),
    /// The directory could not be created or inspected.
    #[error("socket directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The directory is unsafe.
    #[error("refusing socket directory {path}: {reason}")]
    UnsafeDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Something other than a socket is at the path.
    #[error("{0} exists and is not a socket: remove it or choose another path")]
    NotASocket(PathBuf),
    /// Another daemon answers on the socket.
    #[error("another fapi-agent is already serving on {0}")]
    InUse(PathBuf),
    /// The configured socket group does not exist.
    #[error("socket_group {0:?} is not a group on this system")]
    UnknownGroup(String),
    /// Binding failed.
    #[error("cannot listen on {path}: {source}")]
    Bind {
        /// The socket path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The gRPC server failed.
    #[error("gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
}

/// The default socket path: `/run/fapi-agent/agent.sock` for root,
/// `$XDG_RUNTIME_DIR/fapi-agent/agent.sock` otherwise (falling back to
/// `/tmp/fapi-agent-UID/agent.sock` without a runtime directory).
pub fn default_socket_path() -> PathBuf {
    let uid = os::effective_uid();
    if uid == 0 {
        return PathBuf::from("/run/fapi-agent/agent.sock");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("fapi-agent/agent.sock"),
        _ => PathBuf::from(format!("/tmp/fapi-agent-{uid}/agent.sock")),
    }
}

/// A bound socket, removed when the server stops (if it is still ours).
pub struct BoundSocket {
    listener: UnixListener,
    guard: SocketGuard,
}

/// Removes the socket file on drop if it is still the one we bound: a newer
/// daemon may have replaced it.
struct SocketGuard {
    path: PathBuf,
    inode: u64,
    /// False for a socket systemd bound and keeps (socket activation).
    owned: bool,
}

impl BoundSocket {
    /// Checks the directory, replaces a stale socket and binds. With a
    /// `group`, a directory created here is `0750` and the socket `0660`,
    /// both owned by that group; otherwise `0700` and `0600`.
    pub fn bind(path: &Path, group: Option<u32>) -> Result<Self, SocketError> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .ok_or_else(|| SocketError::NoParent(path.to_owned()))?;
        prepare_dir(dir, group)?;
        match std::fs::symlink_metadata(path) {
            Ok(meta) if !meta.file_type().is_socket() => {
                return Err(SocketError::NotASocket(path.to_owned()));
            }
            Ok(_) => match std::os::unix::net::UnixStream::connect(path) {
                Ok(_) => return Err(SocketError::InUse(path.to_owned())),
                Err(_) => {
                    tracing::info!(socket = %path.display(), "replacing stale socket");
                    std::fs::remove_file(path).map_err(|source| SocketError::Bind {
                        path: path.to_owned(),
                        source,
                    })?;
                }
            },
            Err(_) => {}
        }
        let bind_err = |source| SocketError::Bind {
            path: path.to_owned(),
            source,
        };
        let listener = UnixListener::bind(path).map_err(bind_err)?;
        let mode = if group.is_some() { 0o660 } else { 0o600 };
        std::os::unix::fs::chown(path, None, group).map_err(bind_err)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(bind_err)?;
        let inode = std::fs::symlink_metadata(path).map_err(bind_err)?.ino();
        Ok(Self {
            listener,
            guard: SocketGuard {
                path: path.to_owned(),
                inode,
                owned: true,
            },
        })
    }

    /// A listening socket systemd passed (socket activation). systemd owns
    /// the file, its mode and its directory; it is left in place at exit.
    pub fn inherited(listener: std::os::unix::net::UnixListener) -> Result<Self, SocketError> {
        let path = listener
            .local_addr()
            .ok()
            .and_then(|a| a.as_pathname().map(Path::to_owned))
            .unwrap_or_else(|| PathBuf::from("(systemd socket)"));
        let listener = UnixListener::from_std(listener).map_err(|source| SocketError::Bind {
            path: path.clone(),
            source,
        })?;
        Ok(Self {
            listener,
            guard: SocketGuard {
                path,
                inode: 0,
                owned: false,
            },
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.guard.path
    }
}

fn prepare_dir(dir: &Path, group: Option<u32>) -> Result<(), SocketError> {
    let dir_err = |source| SocketError::Dir {
        path: dir.to_owned(),
        source,
    };
    if std::fs::symlink_metadata(dir).is_err() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(dir_err)?;
        if let Some(gid) = group {
            std::os::unix::fs::chown(dir, None, Some(gid)).map_err(dir_err)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750))
                .map_err(dir_err)?;
        }
    }
    let meta = std::fs::symlink_metadata(dir).map_err(dir_err)?;
    let unsafe_dir = |reason: String| SocketError::UnsafeDir {
        path: dir.to_owned(),
        reason,
    };
    if !meta.file_type().is_dir() {
        return Err(unsafe_dir(
            "it is not a directory (symlinks are refused)".into(),
        ));
    }
    let me = os::effective_uid();
    if meta.uid() != me && meta.uid() != 0 {
        return Err(unsafe_dir(format!(
            "it is owned by uid {}, not by the daemon's uid {me} or root",
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(unsafe_dir(format!(
            "its mode {:04o} lets other users create or replace files in it: use a private \
             directory (chmod 700)",
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        if self.owned && std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.ino() == self.inode)
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Serves the API on `socket` until `shutdown` completes, then finishes
/// in-flight calls and removes the socket.
pub async fn serve(
    daemon: Arc<Daemon>,
    socket: BoundSocket,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), SocketError> {
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<pb::agent_server::AgentServer<AgentService>>()
        .await;
    health_reporter
        .set_serving::<pb::admin_server::AdminServer<AdminService>>()
        .await;
    let reflection = |b: tonic_reflection::server::Builder<'static>| {
        b.register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection(tonic_reflection::server::Builder::configure())
        .build_v1()
        .map_err(|e| SocketError::Bind {
            path: socket.guard.path.clone(),
            source: io::Error::other(e.to_string()),
        })?;
    let reflection_v1alpha = reflection(tonic_reflection::server::Builder::configure())
        .build_v1alpha()
        .map_err(|e| SocketError::Bind {
            path: socket.guard.path.clone(),
            source: io::Error::other(e.to_string()),
        })?;

    // Every service, health and reflection included, takes requests of at
    // most MAX_REQUEST_BYTES (tonic's default would be 4 MiB).
    let health = health.max_decoding_message_size(MAX_REQUEST_BYTES);
    let reflection_v1 = reflection_v1.max_decoding_message_size(MAX_REQUEST_BYTES);
    let reflection_v1alpha = reflection_v1alpha.max_decoding_message_size(MAX_REQUEST_BYTES);
    let agent = pb::agent_server::AgentServer::new(AgentService::new(Arc::clone(&daemon)))
        .max_decoding_message_size(MAX_REQUEST_BYTES);
    let admin = pb::admin_server::AdminServer::new(AdminService::new(
        Arc::clone(&daemon),
        socket.guard.path.clone(),
    ))
    .max_decoding_message_size(MAX_REQUEST_BYTES);

    daemon.start(health_reporter).await;
    watch::spawn_sigusr1(Arc::clone(&daemon));
    if daemon.config_path().is_some() {
        watch::spawn_sighup(Arc::clone(&daemon));
        if daemon.watches_files() {
            watch::spawn_file_watcher(Arc::clone(&daemon));
        }
    }
    let (locked, unlockable) = os::memory_lock_report();
    tracing::info!(
        socket = %socket.guard.path.display(),
        secret_pages_locked = locked,
        secret_pages_unlockable = unlockable,
        secure_heap = os::secure_heap_active(),
        "serving"
    );
    if unlockable > 0 {
        tracing::warn!(
            unlockable,
            "some secret pages could not be locked in RAM: raise RLIMIT_MEMLOCK (LimitMEMLOCK=)"
        );
    }
    if let Some(m) = &daemon.agent_config().metrics {
        crate::metrics::spawn_endpoint(Arc::clone(&daemon), m.clone())
            .await
            .map_err(|source| SocketError::Bind {
                path: m
                    .socket
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(format!("{:?}", m.listen))),
                source,
            })?;
    }
    crate::systemd::ready(&format!(
        "serving {} credential(s) on {}",
        daemon.registry().all().count(),
        socket.guard.path.display()
    ));
    crate::systemd::spawn_watchdog();
    let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        crate::systemd::stopping();
        let _ = stopping_tx.send(true);
    };
    let grace = std::time::Duration::from_secs(daemon.agent_config().shutdown_grace_seconds);
    // In-flight calls get `grace` to finish after the stop signal; one that
    // hangs does not keep the daemon alive.
    let drained = async move {
        let _ = stopping_rx.wait_for(|s| *s).await;
        tokio::time::sleep(grace).await;
    };

    let limits = daemon.agent_config();
    let BoundSocket { listener, guard } = socket;
    // Each connection holds a slot (daemon-wide and per uid); past either
    // cap new ones are closed at once (logged) rather than left waiting in
    // the accept queue.
    let slots =
        crate::limits::ConnectionSlots::new(limits.max_connections, limits.max_connections_per_uid);
    let incoming = UnixListenerStream::new(listener).filter_map(move |accepted| match accepted {
        Ok(stream) => {
            let info = PeerInfo(Caller::of_stream(&stream));
            let uid = info.0.as_ref().map(|c| c.uid);
            match slots.acquire(uid) {
                Ok(slot) => Some(Ok(PeerStream::new(stream, info, slot))),
                Err(e) => {
                    tracing::warn!(uid, "connection refused: {e}");
                    None
                }
            }
        }
        Err(e) => Some(Err(e)),
    });
    let serving = Server::builder()
        .layer(crate::metrics::MetricsLayer)
        .concurrency_limit_per_connection(limits.max_streams_per_connection as usize)
        .max_concurrent_streams(limits.max_streams_per_connection)
        .timeout(std::time::Duration::from_secs(
            limits.request_timeout_seconds,
        ))
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(10)))
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(agent)
        .add_service(admin)
        .serve_with_incoming_shutdown(incoming, shutdown);
    let result = tokio::select! {
        r = serving => r,
        () = drained => {
            tracing::warn!(
                grace_seconds = grace.as_secs(),
                "in-flight calls did not finish in time after the stop signal; stopping anyway"
            );
            Ok(())
        }
    };
    drop(guard);
    daemon.sync_audit();
    tracing::info!("stopped");
    result.map_err(SocketError::from)
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: finishing in-flight calls"),
        _ = int.recv() => tracing::info!("SIGINT: finishing in-flight calls"),
    }
}
