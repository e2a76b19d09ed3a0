//! Reload: re-read the config and credential files, validate the new state
//! fully, then swap it in at once (see the parent module's docs).

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{Daemon, Event, EventKind, Origin, ReloadReport, ReloadStatus, lock};
use crate::config::Config;
use crate::credential::{Credential, Registry};
use crate::now_unix;

/// Why a reload did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReloadError {
    /// The daemon is locked.
    #[error("the daemon is locked: unlock it (`fapi-agent unlock`) before reloading")]
    Locked,
    /// Dev mode: no config file.
    #[error("this daemon runs without a config file (dev mode): nothing to reload")]
    NoConfig,
    /// A Lock came while reloading.
    #[error(
        "the daemon was locked during the reload, which is abandoned: unlock it \
         (`fapi-agent unlock`), then reload again"
    )]
    LockIntervened,
    /// The config could not be loaded.
    #[error("reload failed, the running configuration stays: {0}")]
    Config(String),
    /// A bug or resource failure.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Daemon {
    /// Re-reads the config and credential files and swaps in the new state
    /// (see the module docs). Reloads never overlap.
    pub async fn reload(&self, trigger: &str) -> Result<ReloadReport, ReloadError> {
        let _gate = self.reload_gate.lock().await;
        if self.is_locked() {
            return Err(ReloadError::Locked);
        }
        let Origin::Config { path, env } = &self.origin else {
            return Err(ReloadError::NoConfig);
        };
        tracing::info!(trigger, "reloading");
        crate::sys::systemd::reloading();
        // READY=1 again whatever the outcome: the running state serves.
        struct ReadyAgain;
        impl Drop for ReadyAgain {
            fn drop(&mut self) {
                crate::sys::systemd::ready("serving (reloaded)");
            }
        }
        let _ready = ReadyAgain;
        let loaded = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || Config::load(&path)).await
        };
        let config = match loaded {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(self.reload_failed(trigger, e.to_string())),
            Err(e) => return Err(self.reload_failed(trigger, format!("loader failed: {e}"))),
        };
        let epoch = self.lock_epoch.load(std::sync::atomic::Ordering::SeqCst);
        let lock_intervened = || ReloadError::LockIntervened;
        let old = self.registry();
        let mut report = ReloadReport::default();
        let mut next: Vec<Arc<Credential>> = Vec::new();
        for (name, cfg) in &config.credentials {
            let previous = old.get(name);
            // Reused only if it loaded: a credential that failed to load is
            // always tried again (its source may be back).
            if let Some(prev) = previous
                && prev.is_current(cfg)
                && prev.is_loaded()
            {
                // Unchanged files, but a shared secret in a source may
                // have been re-encrypted at the platform.
                report.errors.extend(prev.refresh_shared_secrets().await);
                next.push(Arc::clone(prev));
                continue;
            }
            let fresh = {
                let (name, cfg, agent, env) = (
                    name.clone(),
                    cfg.clone(),
                    config.agent.clone(),
                    Arc::clone(env),
                );
                let observer = self.observer.clone();
                tokio::task::spawn_blocking(move || {
                    Credential::load(&name, cfg, &agent, &env, observer)
                })
                .await
                .map_err(|e| ReloadError::Internal(format!("credential loader failed: {e}")))?
            };
            let fresh = Arc::new(fresh);
            {
                // Registered where Lock finds it before it decrypts anything.
                let _swap = lock(&self.swap);
                if self.lock_epoch.load(std::sync::atomic::Ordering::SeqCst) != epoch {
                    fresh.lock();
                    lock(&self.pending).clear();
                    return Err(lock_intervened());
                }
                lock(&self.pending).push(Arc::downgrade(&fresh));
            }
            // Validate fully: a new key must decrypt and match its certificate.
            let validation = match fresh.facts() {
                Ok(_) => fresh.verify().await.err(),
                Err(e) => Some(e),
            };
            match (validation, previous) {
                (Some(e), Some(prev)) if prev.is_loaded() => {
                    let reason = e.to_string();
                    tracing::error!(credential = %name, error = %reason, "reload: new version invalid, previous version keeps serving");
                    prev.set_notice(Some(format!(
                        "reload failed, previous version still serving: {reason}"
                    )));
                    report.errors.push(format!("{name}: {reason}"));
                    next.push(Arc::clone(prev));
                }
                (validation, previous) => {
                    if let Some(e) = validation {
                        report.errors.push(format!("{name}: {e}"));
                    }
                    if previous.is_some() {
                        report.updated.push(name.clone());
                    } else {
                        report.added.push(name.clone());
                    }
                    next.push(fresh);
                }
            }
        }
        let kept: BTreeSet<&str> = config.credentials.keys().map(String::as_str).collect();
        report.removed = old
            .all()
            .filter(|c| !kept.contains(c.name.as_str()))
            .map(|c| c.name.clone())
            .collect();
        for cred in &next {
            if !report
                .errors
                .iter()
                .any(|e| e.starts_with(&format!("{}: ", cred.name)))
            {
                cred.set_notice(None);
            }
        }
        // Kept-old credentials stay available, so observation sees no
        // change: their failed reload is announced here.
        let failed_reloads: Vec<Event> = next
            .iter()
            .filter(|c| {
                report
                    .errors
                    .iter()
                    .any(|e| e.starts_with(&format!("{}: ", c.name)))
            })
            .map(|c| Event {
                kind: EventKind::Error,
                credential: c.snapshot(),
                observed_at: now_unix(),
                allow: c.config.allow.clone().into(),
            })
            .collect();
        {
            let _swap = lock(&self.swap);
            lock(&self.pending).clear();
            if self.lock_epoch.load(std::sync::atomic::Ordering::SeqCst) != epoch {
                // What this reload loaded is dropped (and wiped) here.
                return Err(lock_intervened());
            }
            self.registry.store(Arc::new(Registry::from_shared(next)));
        }
        // New clients take the new [agent] settings.
        *lock(&self.agent) = config.agent.clone();
        // Outside the swap lock: it reads CA files (see rebuild_oauth).
        self.rebuild_oauth();
        self.set_upstreams(&config.upstreams);
        self.credsock
            .store(Arc::new(config.systemd_credentials.clone()));
        for e in failed_reloads {
            let _ = self.events.send(e);
        }
        *lock(&self.admin_gid) = config
            .agent
            .admin_group
            .as_deref()
            .and_then(crate::sys::process::group_id);
        self.rate.reconfigure(
            config.agent.requests_per_second_per_uid,
            config.agent.request_burst_per_uid,
        );
        *lock(&self.last_reload) = ReloadStatus {
            at: now_unix(),
            trigger: trigger.to_owned(),
            error: None,
        };
        tracing::info!(
            trigger,
            added = ?report.added, removed = ?report.removed, updated = ?report.updated,
            errors = report.errors.len(), "reloaded"
        );
        self.observe().await;
        Ok(report)
    }

    fn reload_failed(&self, trigger: &str, reason: String) -> ReloadError {
        tracing::error!(trigger, error = %reason, "reload failed: the running configuration stays");
        *lock(&self.last_reload) = ReloadStatus {
            at: now_unix(),
            trigger: trigger.to_owned(),
            error: Some(reason.clone()),
        };
        ReloadError::Config(reason)
    }
}
