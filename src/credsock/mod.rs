//! The systemd credential socket: fapi-agent as a `LoadCredential=`
//! provider.
//!
//! A unit with `LoadCredential=ID:/run/fapi-agent/creds.sock` makes the
//! system manager connect here, from a socket it has bound to the abstract
//! address `\0<random>/unit/<unit>/<ID>`, shut down its write side and read
//! the credential to EOF (systemd's `src/core/exec-credential.c`). The
//! unit and ID come from that address; abstract addresses are not access
//! controlled, so only a peer with uid 0 (the system manager) is believed,
//! and the socket itself is mode 0600. What is written is decided in
//! [`crate::ops::credsock`]; a refusal closes the connection with nothing
//! written (the unit then fails to start) and a logged, audited reason.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

use crate::config::CredSockConfig;
use crate::daemon::Daemon;
use crate::ops::Gate;
use crate::sys::listen::{BoundSocket, SocketError};

/// How long one delivery may take (a token fetch included) before the
/// connection is closed with nothing written.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// At most this many deliveries at once; more connections wait.
const MAX_CONCURRENT: usize = 16;

/// The socket's path: configured, else `creds.sock` beside the gRPC
/// socket.
pub fn socket_path(cfg: &CredSockConfig, grpc_socket: &Path) -> PathBuf {
    cfg.socket
        .clone()
        .unwrap_or_else(|| grpc_socket.with_file_name("creds.sock"))
}

/// Who asks, as the peer's socket address says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The unit, such as `payments.service`.
    pub unit: String,
    /// The credential ID it loads.
    pub id: String,
}

/// Reads the unit and ID from the abstract address systemd binds its end
/// to: `<random>/unit/<unit>/<id>` (the leading NUL already stripped).
pub fn parse_peer_address(name: &[u8]) -> Result<Request, String> {
    let text = std::str::from_utf8(name)
        .map_err(|_| "the peer's abstract address is not UTF-8".to_owned())?;
    let parts: Vec<&str> = text.split('/').collect();
    match parts.as_slice() {
        [random, "unit", unit, id] if !random.is_empty() && !unit.is_empty() && !id.is_empty() => {
            Ok(Request {
                unit: (*unit).to_owned(),
                id: (*id).to_owned(),
            })
        }
        _ => Err(format!(
            "the peer's address {text:?} is not systemd's <random>/unit/<unit>/<id>"
        )),
    }
}

/// The bound credential socket, ready to serve.
pub struct CredSock {
    socket: BoundSocket,
}

impl CredSock {
    /// Binds the socket `daemon`'s config names (none: no socket).
    pub fn bind(daemon: &Daemon, grpc_socket: &Path) -> Result<Option<Self>, SocketError> {
        let config = daemon.credsock_config();
        let Some(cfg) = config.as_ref() else {
            return Ok(None);
        };
        // No group: only the daemon's uid and root may connect.
        let socket = BoundSocket::bind(&socket_path(cfg, grpc_socket), None)?;
        Ok(Some(Self { socket }))
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        self.socket.path()
    }

    /// Serves until `stopping` turns true.
    pub fn spawn(self, gate: Gate, mut stopping: tokio::sync::watch::Receiver<bool>) {
        tracing::info!(socket = %self.socket.path().display(), "systemd credential socket serving");
        let (listener, guard) = self.socket.into_parts();
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT));
        tokio::spawn(async move {
            // Removes the socket file when serving ends.
            let _guard = guard;
            loop {
                let stream = tokio::select! {
                    r = listener.accept() => match r {
                        Ok((s, _)) => s,
                        Err(e) => {
                            tracing::warn!("credential socket accept: {e}");
                            // EMFILE and friends: let the condition pass.
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    },
                    // The borrow `wait_for` returns is not Send: dropped here.
                    () = async { let _ = stopping.wait_for(|s| *s).await; } => break,
                };
                let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                    break;
                };
                let gate = gate.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    handle(&gate, stream).await;
                });
            }
        });
    }
}

/// One connection: who, what, then the value or nothing.
async fn handle(gate: &Gate, mut stream: UnixStream) {
    let request = match identify(&stream) {
        Ok(r) => r,
        Err(why) => {
            tracing::warn!("systemd credential socket: connection refused: {why}");
            gate.daemon().audit(
                crate::access::audit::AuditEvent::new(
                    crate::access::audit::AuditOp::SystemdCredential,
                    crate::access::audit::Outcome::Denied,
                )
                .detail(why),
            );
            return;
        }
    };
    let delivery = tokio::time::timeout(
        DELIVERY_TIMEOUT,
        crate::ops::credsock::deliver(gate, &request.unit, &request.id),
    )
    .await;
    let delivery = match delivery {
        Ok(Ok(d)) => d,
        // Logged and audited by the operation.
        Ok(Err(_)) => return,
        Err(_) => {
            tracing::warn!(unit = %request.unit, id = %request.id, "systemd credential not served within {} s", DELIVERY_TIMEOUT.as_secs());
            return;
        }
    };
    if let Err(e) = stream.write_all(delivery.bytes.expose()).await {
        tracing::warn!(unit = %request.unit, id = %request.id, credential = %delivery.credential, "systemd credential not delivered: {e}");
        return;
    }
    let _ = stream.shutdown().await;
}

/// The peer must be the system manager (uid 0); its address names the
/// unit and ID.
fn identify(stream: &UnixStream) -> Result<Request, String> {
    let cred = stream
        .peer_cred()
        .map_err(|e| format!("the peer's credentials could not be read: {e}"))?;
    if cred.uid() != 0 {
        return Err(format!(
            "the peer runs as uid {}, not as the system manager (uid 0): only systemd's \
             LoadCredential= is served here",
            cred.uid()
        ));
    }
    let addr = stream
        .peer_addr()
        .map_err(|e| format!("the peer's address could not be read: {e}"))?;
    let name = addr.as_abstract_name().ok_or_else(|| {
        "the peer's socket is not bound to an abstract address, as systemd's is".to_owned()
    })?;
    parse_peer_address(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_addresses_name_unit_and_id() {
        assert_eq!(
            parse_peer_address(b"a1b2c3d4e5f60718/unit/payments.service/bank-cert"),
            Ok(Request {
                unit: "payments.service".into(),
                id: "bank-cert".into()
            })
        );
        for bad in [
            &b"a1b2/unit/payments.service"[..],
            b"a1b2/user/payments.service/x",
            b"/unit/payments.service/x",
            b"a1b2/unit//x",
            b"a1b2/unit/payments.service/",
            b"a1b2/unit/p.service/x/y",
            b"\xff/unit/p.service/x",
        ] {
            assert!(parse_peer_address(bad).is_err(), "{bad:?}");
        }
    }
}
