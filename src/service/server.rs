//! The Unix socket and the gRPC server on it.
//!
//! The socket's directory must be ours (or root's) and writable by nobody
//! else, so no other user can swap the socket for their own; it is created
//! `0700`. A stale socket left by a dead daemon is replaced; a live one is
//! not. The socket itself is created `0600` (process umask, then chmod).

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use tokio_stream::StreamExt;
use tokio_stream::wrappers::UnixListenerStream;
use tonic::transport::Server;

use super::peer::{PeerInfo, PeerStream};
use crate::access::caller::Caller;
use crate::daemon::Daemon;
use crate::ops::Gate;
use crate::service::{AdminService, AgentService, pb};
use crate::sys::listen::{BoundSocket, SocketError};

/// Why the gRPC server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The socket or another listener could not be set up.
    #[error("{0}")]
    Socket(#[from] SocketError),
    /// The egress proxy could not start.
    #[error("{0}")]
    Proxy(#[from] crate::proxy::StartError),
    /// The gRPC server failed.
    #[error("gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
}
use crate::daemon::watch;

/// Largest request message accepted, in bytes.
const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Serves the API on `socket` until `shutdown` completes, then finishes
/// in-flight calls and removes the socket.
pub async fn serve(
    daemon: Arc<Daemon>,
    socket: BoundSocket,
    proxy: Option<crate::proxy::Proxy>,
    credsock: Option<crate::credsock::CredSock>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
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
            path: socket.path().to_owned(),
            source: io::Error::other(e.to_string()),
        })?;
    let reflection_v1alpha = reflection(tonic_reflection::server::Builder::configure())
        .build_v1alpha()
        .map_err(|e| SocketError::Bind {
            path: socket.path().to_owned(),
            source: io::Error::other(e.to_string()),
        })?;

    // Every service, health and reflection included, takes requests of at
    // most MAX_REQUEST_BYTES (tonic's default would be 4 MiB).
    let health = health.max_decoding_message_size(MAX_REQUEST_BYTES);
    let reflection_v1 = reflection_v1.max_decoding_message_size(MAX_REQUEST_BYTES);
    let reflection_v1alpha = reflection_v1alpha.max_decoding_message_size(MAX_REQUEST_BYTES);
    let gate = Gate::new(Arc::clone(&daemon));
    let proxy_gate = gate.clone();
    let agent = pb::agent_server::AgentServer::new(AgentService::new(gate.clone()))
        .max_decoding_message_size(MAX_REQUEST_BYTES);
    let admin =
        pb::admin_server::AdminServer::new(AdminService::new(gate, socket.path().to_owned()))
            .max_decoding_message_size(MAX_REQUEST_BYTES);

    daemon.start().await;
    spawn_client_health(&daemon, health_reporter);
    watch::spawn_sigusr1(Arc::clone(&daemon));
    if daemon.config_path().is_some() {
        watch::spawn_sighup(Arc::clone(&daemon));
        if daemon.watches_files() {
            watch::spawn_file_watcher(Arc::clone(&daemon));
        }
    }
    let (locked, unlockable) = crate::sys::mem::memory_lock_report();
    tracing::info!(
        socket = %socket.path().display(),
        secret_pages_locked = locked,
        secret_pages_unlockable = unlockable,
        secure_heap = crate::sys::openssl::secure_heap_active(),
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
    crate::sys::systemd::ready(&format!(
        "serving {} credential(s) on {}",
        daemon.registry().all().count(),
        socket.path().display()
    ));
    crate::sys::systemd::spawn_watchdog();
    let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
    if let Some(c) = credsock {
        c.spawn(proxy_gate.clone(), stopping_rx.clone());
    }
    if let Some(p) = proxy {
        p.spawn(proxy_gate, stopping_rx.clone());
    }
    let shutdown = async move {
        shutdown.await;
        crate::sys::systemd::stopping();
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
    let (listener, guard) = socket.into_parts();
    // Each connection holds a slot (daemon-wide and per uid); past either
    // cap new ones are closed at once (logged) rather than left waiting in
    // the accept queue.
    let slots = crate::access::limits::ConnectionSlots::new(
        limits.max_connections,
        limits.max_connections_per_uid,
    );
    // Identity is read once per connection as it is accepted; where a
    // system bus is present that includes asking systemd for the unit
    // (off the async workers, bounded by `caller::SYSTEMD_TIMEOUT`).
    let identified = UnixListenerStream::new(listener).then(|accepted| async move {
        match accepted {
            Ok(stream) => {
                let info = PeerInfo(Caller::of_stream(&stream).await.map(std::sync::Arc::new));
                Ok((stream, info))
            }
            Err(e) => Err(e),
        }
    });
    let incoming = identified.filter_map(move |accepted| match accepted {
        Ok((stream, info)) => {
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
    result.map_err(ServeError::from)
}

/// The health-check service name of a client: `NOT_SERVING` while the
/// client has no usable credential.
pub fn client_health_name(client_id: &str) -> String {
    format!("client/{client_id}")
}

/// Keeps the health service's `client/ID` entries as the daemon's
/// per-client health says.
fn spawn_client_health(daemon: &Daemon, reporter: tonic_health::server::HealthReporter) {
    let mut health = daemon.client_health();
    tokio::spawn(async move {
        loop {
            let now: Vec<(String, bool)> = health
                .borrow_and_update()
                .iter()
                .map(|(c, s)| (c.clone(), *s))
                .collect();
            for (client, serving) in now {
                let status = if serving {
                    tonic_health::ServingStatus::Serving
                } else {
                    tonic_health::ServingStatus::NotServing
                };
                reporter
                    .set_service_status(client_health_name(&client), status)
                    .await;
            }
            if health.changed().await.is_err() {
                return;
            }
        }
    });
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
