//! WatchCredentials: a snapshot, then every change the caller may see.

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::{Error, Gate, Peer};
use crate::access::audit::AuditOp;
use crate::access::caller::Caller;
use crate::access::policy;
use crate::config::Operation;
use crate::credential::Snapshot;
use crate::daemon::Event;

/// What a watcher receives.
#[derive(Debug, Clone)]
pub enum WatchItem {
    /// Every credential the watcher may read: first, and after a lag.
    Snapshot {
        /// The credentials.
        credentials: Vec<Snapshot>,
        /// When.
        observed_at: i64,
    },
    /// One change.
    Event(Box<Event>),
    /// The watcher fell behind and missed events; a snapshot follows.
    Lagged {
        /// When.
        observed_at: i64,
    },
}

/// Starts a watch (optionally of one client_id). The receiver ends when
/// the daemon stops; dropping it ends the watch.
pub async fn watch(
    gate: &Gate,
    peer: &Peer,
    client_id: Option<String>,
) -> Result<mpsc::Receiver<WatchItem>, Error> {
    let caller = gate.admit(peer, AuditOp::Watch)?.caller().clone();
    // Subscribe before taking the snapshot, so no change falls between.
    let mut events = gate.daemon().subscribe();
    let gate = gate.clone();
    // A small per-watcher queue: a slow reader fills it, then its broadcast
    // receiver falls behind and it is told LAGGED; nobody waits.
    let (tx, rx) = mpsc::channel(16);
    tracing::info!(%caller, client_id = ?client_id, "watcher connected");
    tokio::spawn(async move {
        let snapshot = || WatchItem::Snapshot {
            credentials: readable(&gate, &caller, client_id.as_deref()),
            observed_at: crate::now_unix(),
        };
        if tx.send(snapshot()).await.is_err() {
            return;
        }
        loop {
            let next = tokio::select! {
                () = tx.closed() => return,
                next = events.recv() => next,
            };
            let sent = match next {
                Ok(e)
                    if client_id
                        .as_ref()
                        .is_none_or(|c| *c == e.credential.client_id)
                        && may_see(&gate, &caller, &e) =>
                {
                    tx.send(WatchItem::Event(Box::new(e))).await
                }
                Ok(_) => Ok(()),
                Err(RecvError::Lagged(missed)) => {
                    tracing::info!(%caller, missed, "watcher lagged: sending a fresh snapshot");
                    let lagged = WatchItem::Lagged {
                        observed_at: crate::now_unix(),
                    };
                    match tx.send(lagged).await {
                        Ok(()) => tx.send(snapshot()).await,
                        Err(e) => Err(e),
                    }
                }
                Err(RecvError::Closed) => return,
            };
            if sent.is_err() {
                return;
            }
        }
    });
    Ok(rx)
}

fn readable(gate: &Gate, caller: &Caller, client_id: Option<&str>) -> Vec<Snapshot> {
    let registry = gate.daemon().registry();
    registry
        .all()
        .filter(|c| client_id.is_none_or(|id| c.client_id() == id))
        .filter(|c| policy::check(caller, c, Operation::Read, registry.executables()).is_ok())
        .map(|c| c.snapshot())
        .collect()
}

fn may_see(gate: &Gate, caller: &Caller, event: &Event) -> bool {
    let registry = gate.daemon().registry();
    policy::check_rules(
        caller,
        &event.credential.name,
        &event.allow,
        Operation::Read,
        registry.executables(),
    )
    .is_ok()
}
