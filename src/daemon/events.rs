//! Credential events: what changed, derived by comparing what is observed
//! now with what was observed before (once a second and right after each
//! reload), so every kind of change, whatever caused it, becomes an event
//! the same way; and per-client health derived alike.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::{Daemon, lock};
use crate::config::AllowRule;
use crate::credential::{Phase, Selector, Snapshot};
use crate::now_unix;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Added by a reload.
    Added,
    /// Removed by a reload (the event holds its last facts).
    Removed,
    /// Now the one signing for its client_id.
    Active,
    /// The certificate entered the expiry-warning window.
    ExpiringSoon,
    /// The certificate expired.
    Expired,
    /// The credential cannot serve.
    Error,
    /// A credential in error serves again.
    Recovered,
    /// Its files or settings changed (new kid or certificate).
    Updated,
    /// Locked.
    Locked,
    /// Unlocked and serving again.
    Unlocked,
}

/// A credential change, as sent to watchers.
#[derive(Debug, Clone)]
pub struct Event {
    /// What changed.
    pub kind: EventKind,
    /// The credential's public facts after (or, if removed, before) it.
    pub credential: Snapshot,
    /// When it was observed.
    pub observed_at: i64,
    /// The credential's allow rules, to decide which watchers may see it.
    pub allow: Arc<[AllowRule]>,
}

#[derive(Debug, Clone)]
pub(super) struct Seen {
    kid: String,
    phase: Phase,
    public: Snapshot,
    allow: Arc<[AllowRule]>,
}

/// What the last observation saw.
#[derive(Default)]
pub(super) struct Observed {
    initialized: bool,
    creds: BTreeMap<String, Seen>,
    active: BTreeMap<String, String>,
}

impl Daemon {
    /// Compares the registry with what was observed last, sends an event
    /// per change, and updates per-client health.
    pub async fn observe(&self) {
        let registry = self.registry();
        let now = now_unix();
        let mut events = Vec::new();
        let mut clients: BTreeSet<String> = BTreeSet::new();
        let mut serving: HashMap<String, bool> = HashMap::new();
        {
            let mut obs = lock(&self.observed);
            let mut seen = BTreeMap::new();
            let mut emit = |kind, public: &Snapshot, allow: &Arc<[AllowRule]>| {
                events.push(Event {
                    kind,
                    credential: public.clone(),
                    observed_at: now,
                    allow: Arc::clone(allow),
                })
            };
            for cred in registry.all() {
                let public = cred.snapshot();
                let phase = cred.phase();
                let allow: Arc<[AllowRule]> = cred.config.allow.clone().into();
                let usable = matches!(phase, Phase::Available | Phase::ExpiringSoon);
                *serving.entry(cred.client_id().to_owned()).or_default() |= usable;
                use EventKind as K;
                match obs.creds.get(&cred.name) {
                    None if obs.initialized => emit(K::Added, &public, &allow),
                    None => {}
                    Some(before) => {
                        if before.kid != public.kid
                            || before.public.certificate_chain_pem != public.certificate_chain_pem
                        {
                            emit(K::Updated, &public, &allow);
                        }
                        match (before.phase, phase) {
                            (a, b) if a == b => {}
                            (_, Phase::ExpiringSoon) if before.phase == Phase::Available => {
                                emit(K::ExpiringSoon, &public, &allow)
                            }
                            (_, Phase::Locked) => emit(K::Locked, &public, &allow),
                            (Phase::Locked, Phase::Available | Phase::ExpiringSoon) => {
                                emit(K::Unlocked, &public, &allow)
                            }
                            (_, Phase::Expired) => emit(K::Expired, &public, &allow),
                            (_, Phase::Error) => emit(K::Error, &public, &allow),
                            (
                                Phase::Error | Phase::Expired,
                                Phase::Available | Phase::ExpiringSoon,
                            ) => emit(K::Recovered, &public, &allow),
                            _ => {}
                        }
                    }
                }
                seen.insert(
                    cred.name.clone(),
                    Seen {
                        kid: public.kid.clone(),
                        phase,
                        public,
                        allow,
                    },
                );
            }
            for (name, before) in &obs.creds {
                if !seen.contains_key(name) {
                    emit(EventKind::Removed, &before.public, &before.allow);
                }
            }
            // The credential each client signs with now.
            let mut active = BTreeMap::new();
            for client in serving.keys() {
                if let Ok(c) = registry.select(&Selector::ClientId(client.clone()), None)
                    && matches!(c.phase(), Phase::Available | Phase::ExpiringSoon)
                {
                    active.insert(client.clone(), c.name.clone());
                }
            }
            for (client, name) in &active {
                if obs.initialized
                    && obs.active.get(client) != Some(name)
                    && let Some(s) = seen.get(name)
                {
                    emit(EventKind::Active, &s.public, &s.allow);
                }
            }
            clients.extend(obs.creds.values().map(|s| s.public.client_id.clone()));
            clients.extend(serving.keys().cloned());
            obs.creds = seen;
            obs.active = active;
            obs.initialized = true;
        }
        for e in events {
            tracing::info!(
                event = ?e.kind, credential = %e.credential.name, kid = %e.credential.kid,
                "credential event"
            );
            // No receiver is fine: nobody is watching.
            let _ = self.events.send(e);
        }
        // Per-client health: serving while the client has a usable
        // credential. Front ends (the gRPC health service) follow it.
        self.health.send_if_modified(|health| {
            let mut changed = false;
            for client in clients {
                let now = serving.get(&client).copied().unwrap_or(false);
                if health.insert(client, now) != Some(now) {
                    changed = true;
                }
            }
            changed
        });
    }
}
