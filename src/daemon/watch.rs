//! Signals and reload triggers: SIGUSR1 locks; SIGHUP, and changes on disk to the config or to any
//! credential file (an atomic rename included: the directories are watched,
//! not the files, so a file replaced by rename is still seen).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher};

use crate::daemon::Daemon;

/// Changes closer together than this trigger one reload.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// Reloads on every SIGHUP.
pub fn spawn_sighup(daemon: Arc<Daemon>) {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::error!("cannot install the SIGHUP handler: reload with Admin.Reload");
            return;
        };
        while hup.recv().await.is_some() {
            if let Err(e) = daemon.reload("SIGHUP").await {
                tracing::error!(error = %e, "SIGHUP reload failed");
            }
        }
    });
}

/// Locks (wipes every passphrase and key) on every SIGUSR1, as ssh-agent
/// users expect.
pub fn spawn_sigusr1(daemon: Arc<Daemon>) {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut usr1) = signal(SignalKind::user_defined1()) else {
            tracing::error!("cannot install the SIGUSR1 handler: lock with Admin.Lock");
            return;
        };
        while usr1.recv().await.is_some() {
            daemon.lock("SIGUSR1", None).await;
        }
    });
}

/// Whether an inotify event means content may have changed (reads by the
/// daemon itself do not).
fn is_change(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Create(_)
            | EventKind::Modify(_)
            | EventKind::Remove(_)
            | EventKind::Any
            | EventKind::Access(AccessKind::Close(AccessMode::Write))
    )
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_owned())
}

/// Reloads when the config or a credential file changes.
pub fn spawn_file_watcher(daemon: Arc<Daemon>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<notify::Event>();
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res {
            // The receiver lives as long as the task below.
            let _ = tx.send(event);
        }
    });
    let mut watcher = match watcher {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(error = %e, "cannot watch files: reload with SIGHUP or Admin.Reload");
            return;
        }
    };
    tokio::spawn(async move {
        let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
        loop {
            let files: BTreeSet<PathBuf> =
                daemon.watched_files().iter().map(|f| absolute(f)).collect();
            let wanted: BTreeSet<PathBuf> = files
                .iter()
                .filter_map(|f| f.parent().map(Path::to_owned))
                .collect();
            for d in dirs.difference(&wanted) {
                let _ = watcher.unwatch(d);
            }
            for d in wanted.difference(&dirs) {
                if let Err(e) = watcher.watch(d, RecursiveMode::NonRecursive) {
                    tracing::warn!(dir = %d.display(), error = %e, "cannot watch directory");
                }
            }
            dirs = wanted;

            let Some(event) = rx.recv().await else { return };
            if !(is_change(&event.kind) && event.paths.iter().any(|p| files.contains(p))) {
                continue;
            }
            // Let a multi-file update (key, then certificate) settle.
            tokio::time::sleep(DEBOUNCE).await;
            while rx.try_recv().is_ok() {}
            if let Err(e) = daemon.reload("file change").await {
                tracing::error!(error = %e, "reload after a file change failed");
            }
        }
    });
}
