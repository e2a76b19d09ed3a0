//! The running daemon's state: the current credential registry, swapped
//! whole on reload, and the credential events derived from it.
//!
//! Every request takes the registry as it is when the request starts
//! ([`Daemon::registry`]) and finishes on it, even if a reload swaps in a
//! new one meanwhile. A reload validates the new state fully (it decrypts
//! every new or changed key) before the swap; an invalid new version of a
//! credential keeps the old one serving. Events are derived by comparing
//! what is observed now with what was observed before, once a second and
//! right after each reload, so every kind of change, whatever caused it,
//! becomes an event the same way.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::broadcast;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::audit::{AuditEvent, AuditLog};
use crate::caller::Caller;
use crate::config::{AgentConfig, AllowRule, Config};
use crate::credential::{Credential, Phase, Registry, Selector};
use crate::error::Error;
use crate::limits::{RateLimiter, Verdict};
use crate::now_unix;
use crate::service::{credential_to_pb, pb};
use crate::source::EnvVault;

/// First and longest interval between automatic reloads while a
/// credential could not be loaded because its passphrase source was down.
const LOAD_RETRY_FIRST: Duration = Duration::from_secs(2);
const LOAD_RETRY_MAX: Duration = Duration::from_secs(60);

/// A credential change, as sent to watchers.
#[derive(Debug, Clone)]
pub struct Event {
    /// What changed.
    pub kind: pb::CredentialEventKind,
    /// The credential's public facts after (or, if removed, before) it.
    pub credential: pb::Credential,
    /// When it was observed.
    pub observed_at: i64,
    /// The credential's allow rules, to decide which watchers may see it.
    pub allow: Arc<[AllowRule]>,
}

/// What a reload did.
#[derive(Debug, Default, Clone)]
pub struct ReloadReport {
    /// New credential names.
    pub added: Vec<String>,
    /// Removed credential names.
    pub removed: Vec<String>,
    /// Credentials loaded anew because their files or config changed.
    pub updated: Vec<String>,
    /// `NAME: reason` for each credential whose new version failed.
    pub errors: Vec<String>,
}

/// The last reload, for `Status`.
#[derive(Debug, Default, Clone)]
pub struct ReloadStatus {
    /// Unix seconds, 0 if never.
    pub at: i64,
    /// SIGHUP, Admin.Reload, or a file change.
    pub trigger: String,
    /// Why the config could not be loaded, if it could not.
    pub error: Option<String>,
}

/// Where credentials come from.
enum Origin {
    /// A config file, read again on reload, and the environment passphrases
    /// taken at start (the environment cannot be read again).
    Config { path: PathBuf, env: Arc<EnvVault> },
    /// A fixed set (dev mode): nothing to reload.
    Fixed,
}

#[derive(Debug, Clone)]
struct Seen {
    kid: String,
    phase: Phase,
    public: pb::Credential,
    allow: Arc<[AllowRule]>,
}

#[derive(Default)]
struct Observed {
    initialized: bool,
    creds: BTreeMap<String, Seen>,
    active: BTreeMap<String, String>,
}

/// The daemon's shared state.
pub struct Daemon {
    registry: ArcSwap<Registry>,
    origin: Origin,
    agent: Mutex<AgentConfig>,
    events: broadcast::Sender<Event>,
    observed: Mutex<Observed>,
    health: Mutex<Option<HealthReporter>>,
    /// Serialises reloads. Lock and Unlock never take it: a reload may be
    /// slow (KDFs, a stalled passphrase source) and Lock must not wait.
    reload_gate: tokio::sync::Mutex<()>,
    /// Held, briefly and with no I/O, to swap the registry in and to set or
    /// clear the lock, so that neither misses the other.
    swap: Mutex<()>,
    /// Credentials a reload in progress has loaded and not yet swapped in:
    /// Lock wipes them too.
    pending: Mutex<Vec<std::sync::Weak<Credential>>>,
    /// Incremented by every Lock: a reload during which it changed is
    /// abandoned, so nothing loaded before a Lock is swapped in after it.
    lock_epoch: std::sync::atomic::AtomicU64,
    last_reload: Mutex<ReloadStatus>,
    locked: std::sync::atomic::AtomicBool,
    rate: RateLimiter,
    admin_gid: Mutex<Option<u32>>,
    audit: Option<Arc<AuditLog>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The health-check service name of a client: `NOT_SERVING` while the
/// client has no usable credential.
pub fn client_health_name(client_id: &str) -> String {
    format!("client/{client_id}")
}

impl Daemon {
    /// State for credentials loaded from the config file at `path`.
    pub fn from_config(registry: Registry, config: &Config, path: PathBuf, env: EnvVault) -> Self {
        Self::new(
            registry,
            config.agent.clone(),
            Origin::Config {
                path,
                env: Arc::new(env),
            },
        )
    }

    /// State for a fixed set of credentials (nothing to reload).
    pub fn fixed(registry: Registry, agent: AgentConfig) -> Self {
        Self::new(registry, agent, Origin::Fixed)
    }

    fn new(registry: Registry, agent: AgentConfig, origin: Origin) -> Self {
        let (events, _) = broadcast::channel(agent.event_buffer.max(4));
        Self {
            registry: ArcSwap::from_pointee(registry),
            origin,
            events,
            observed: Mutex::new(Observed::default()),
            health: Mutex::new(None),
            reload_gate: tokio::sync::Mutex::new(()),
            swap: Mutex::new(()),
            pending: Mutex::new(Vec::new()),
            lock_epoch: std::sync::atomic::AtomicU64::new(0),
            last_reload: Mutex::new(ReloadStatus::default()),
            locked: std::sync::atomic::AtomicBool::new(false),
            rate: RateLimiter::new(
                agent.requests_per_second_per_uid,
                agent.request_burst_per_uid,
            ),
            admin_gid: Mutex::new(
                agent
                    .admin_group
                    .as_deref()
                    .and_then(crate::sys::process::group_id),
            ),
            agent: Mutex::new(agent),
            audit: None,
        }
    }

    /// Records every sign, decrypt, export, lock, unlock and denial in `log`.
    pub fn with_audit(mut self, log: AuditLog) -> Self {
        self.audit = Some(Arc::new(log));
        self
    }

    /// Flushes audit records appended since the last flush to disk.
    pub fn sync_audit(&self) {
        if let Some(log) = &self.audit {
            log.sync();
        }
    }

    /// Appends an audit record, if an audit log is configured.
    pub fn audit(&self, event: AuditEvent) {
        if let Some(log) = &self.audit {
            log.record(event);
        }
    }

    /// Whether `caller` may use the Admin service for `op`; denials are
    /// logged and audited.
    pub fn authorize_admin(&self, caller: &Caller, op: &str) -> Result<(), Error> {
        crate::policy::check_admin(caller, self.admin_gid()).inspect_err(|e| {
            tracing::warn!(%caller, operation = op, "denied: {e}");
            self.audit(AuditEvent {
                op: op.into(),
                outcome: "denied".into(),
                caller: Some(caller.into()),
                detail: Some(e.to_string()),
                ..Default::default()
            });
        })
    }

    /// The caller of a request, if its identity is known and it is within
    /// its rate. Every service method starts here; `op` names the request
    /// in the audit record of a refusal.
    pub fn admit<T>(&self, req: &tonic::Request<T>, op: &str) -> Result<Caller, Error> {
        let caller = Caller::of_request(req).inspect_err(|e| {
            tracing::warn!(operation = op, "denied: {e}");
            self.audit(AuditEvent {
                op: op.into(),
                outcome: "denied".into(),
                detail: Some(e.to_string()),
                ..Default::default()
            });
        })?;
        match self.rate.take(caller.uid) {
            Verdict::Allowed => {}
            Verdict::Refused => {
                tracing::warn!(%caller, operation = op, "rate limit exceeded");
                let e = Error::RateLimited(caller.uid);
                self.audit(AuditEvent {
                    op: op.into(),
                    outcome: "denied".into(),
                    caller: Some((&caller).into()),
                    detail: Some(format!(
                        "{e} (further refusals until this uid is served again are not recorded)"
                    )),
                    ..Default::default()
                });
                return Err(e);
            }
            Verdict::RefusedAgain => {
                tracing::debug!(%caller, operation = op, "rate limit exceeded again");
                return Err(Error::RateLimited(caller.uid));
            }
        }
        Ok(caller)
    }

    /// The Admin group's gid, if configured.
    pub fn admin_gid(&self) -> Option<u32> {
        *lock(&self.admin_gid)
    }

    /// The daemon-wide settings in force.
    pub fn agent_config(&self) -> AgentConfig {
        lock(&self.agent).clone()
    }

    /// Whether the daemon is locked.
    pub fn is_locked(&self) -> bool {
        self.locked.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Wipes every passphrase and decrypted key (Admin.Lock, SIGUSR1),
    /// including those a reload in progress has loaded. Never waits for a
    /// reload or for file I/O.
    pub async fn lock(&self, trigger: &str, caller: Option<&Caller>) -> Vec<String> {
        let names = {
            let _swap = lock(&self.swap);
            self.locked.store(true, std::sync::atomic::Ordering::SeqCst);
            self.lock_epoch
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut names = Vec::new();
            for cred in self.registry().all() {
                cred.lock();
                names.push(cred.name.clone());
            }
            for cred in lock(&self.pending)
                .iter()
                .filter_map(std::sync::Weak::upgrade)
            {
                cred.lock();
            }
            names
        };
        tracing::warn!(trigger, credentials = ?names, "locked: passphrases and keys wiped");
        self.audit(AuditEvent {
            op: "lock".into(),
            outcome: "ok".into(),
            caller: caller.map(Into::into),
            detail: Some(trigger.to_owned()),
            ..Default::default()
        });
        self.observe().await;
        names
    }

    /// Fetches every passphrase again and proves each key, all credentials
    /// at once (each fetch bounded by its timeout); returns the unlocked
    /// names and `NAME: reason` for failures.
    pub async fn unlock(&self, caller: Option<&Caller>) -> (Vec<String>, Vec<String>) {
        let creds: Vec<Arc<Credential>> = {
            let _swap = lock(&self.swap);
            self.locked
                .store(false, std::sync::atomic::Ordering::SeqCst);
            self.registry().all().cloned().collect()
        };
        let mut unlocking = tokio::task::JoinSet::new();
        for cred in creds {
            unlocking.spawn(async move {
                let outcome = cred.unlock().await;
                (cred.name.clone(), outcome)
            });
        }
        let (mut ok, mut failed) = (Vec::new(), Vec::new());
        while let Some(done) = unlocking.join_next().await {
            match done {
                Ok((name, Ok(()))) => ok.push(name),
                Ok((name, Err(e))) => failed.push(format!("{name}: {e}")),
                Err(e) => failed.push(format!("unlock task failed: {e}")),
            }
        }
        ok.sort();
        failed.sort();
        tracing::info!(unlocked = ?ok, failed = failed.len(), "unlocked");
        self.audit(AuditEvent {
            op: "unlock".into(),
            outcome: if failed.is_empty() { "ok" } else { "error" }.into(),
            caller: caller.map(Into::into),
            detail: (!failed.is_empty()).then(|| failed.join("; ")),
            ..Default::default()
        });
        self.observe().await;
        (ok, failed)
    }

    /// The registry as it is now; hold it for the whole request.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.load_full()
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The last reload.
    pub fn last_reload(&self) -> ReloadStatus {
        lock(&self.last_reload).clone()
    }

    /// Whether file changes trigger reloads (`[agent] watch_files`).
    pub fn watches_files(&self) -> bool {
        lock(&self.agent).watch_files
    }

    /// The config file, if any.
    pub fn config_path(&self) -> Option<&Path> {
        match &self.origin {
            Origin::Config { path, .. } => Some(path),
            Origin::Fixed => None,
        }
    }

    /// Every file whose change should trigger a reload: the config and each
    /// credential's key, certificate or bundle.
    pub fn watched_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self.config_path().map(Path::to_owned).into_iter().collect();
        for cred in self.registry().all() {
            files.extend(cred.config.files().map(Path::to_owned));
            // A replaced binary is a new file: resolve the rules again.
            files.extend(cred.config.allow.iter().flat_map(|r| r.executables.clone()));
        }
        files
    }

    /// Starts background work: per-client health, the first check of every
    /// key, and once a second the TTL sweep and change observation.
    pub async fn start(self: &Arc<Self>, health: HealthReporter) {
        *lock(&self.health) = Some(health);
        self.observe().await;
        for cred in self.registry().all() {
            if !cred.is_loaded() {
                continue;
            }
            let cred = Arc::clone(cred);
            tokio::spawn(async move {
                match cred.verify().await {
                    Ok(()) => tracing::info!(credential = %cred.name, "key verified"),
                    Err(e) => {
                        tracing::error!(credential = %cred.name, error = %e, "key check failed")
                    }
                }
            });
        }
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut load_retry = LOAD_RETRY_FIRST;
            let mut next_load_retry = tokio::time::Instant::now() + load_retry;
            loop {
                tick.tick().await;
                if let Some(log) = me.audit.clone() {
                    // At most SYNC_INTERVAL (1 s) between a record and its
                    // flush; the disk wait is off the async workers.
                    tokio::task::spawn_blocking(move || log.sync());
                }
                for cred in me.registry().all() {
                    // Passphrase first: a key whose passphrase is gone is
                    // kept until its hard TTL (see evict_expired_key).
                    if cred.evict_expired_passphrase() {
                        tracing::debug!(credential = %cred.name, "passphrase wiped (TTL)");
                    }
                    if cred.evict_expired_key() {
                        tracing::debug!(credential = %cred.name, "decrypted key dropped (TTL)");
                    }
                    if cred.retry_due() {
                        // Background retry: a credential whose source was
                        // down recovers with no request and no restart.
                        let cred = Arc::clone(cred);
                        tokio::spawn(async move {
                            if cred.verify().await.is_ok() && !cred.failing() {
                                tracing::info!(credential = %cred.name, "recovered: key verified");
                            }
                        });
                    }
                }
                // Credentials whose load failed for a passing reason (a
                // bundle's source down, a certificate that has since become
                // valid) are loaded again, with a growing interval.
                let now = now_unix();
                if me.registry().all().any(|c| c.load_retryable(now)) {
                    if tokio::time::Instant::now() >= next_load_retry && !me.is_locked() {
                        let _ = me
                            .reload("retry of credentials that could not be loaded")
                            .await;
                        load_retry = (load_retry * 2).min(LOAD_RETRY_MAX);
                        next_load_retry = tokio::time::Instant::now() + load_retry;
                    }
                } else {
                    load_retry = LOAD_RETRY_FIRST;
                }
                me.observe().await;
            }
        });
    }

    /// Re-reads the config and credential files and swaps in the new state
    /// (see the module docs). Reloads never overlap.
    pub async fn reload(&self, trigger: &str) -> Result<ReloadReport, Error> {
        let _gate = self.reload_gate.lock().await;
        if self.is_locked() {
            return Err(Error::FailedPrecondition(
                "the daemon is locked: unlock it (`fapi-agent unlock`) before reloading".into(),
            ));
        }
        let Origin::Config { path, env } = &self.origin else {
            return Err(Error::FailedPrecondition(
                "this daemon runs without a config file (dev mode): nothing to reload".into(),
            ));
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
        let lock_intervened = || {
            Error::FailedPrecondition(
                "the daemon was locked during the reload, which is abandoned: unlock it \
                 (`fapi-agent unlock`), then reload again"
                    .into(),
            )
        };
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
                tokio::task::spawn_blocking(move || Credential::load(&name, cfg, &agent, &env))
                    .await
                    .map_err(|e| Error::Internal(format!("credential loader failed: {e}")))?
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
                kind: pb::CredentialEventKind::Error,
                credential: credential_to_pb(c),
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
        *lock(&self.agent) = config.agent.clone();
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

    fn reload_failed(&self, trigger: &str, reason: String) -> Error {
        tracing::error!(trigger, error = %reason, "reload failed: the running configuration stays");
        *lock(&self.last_reload) = ReloadStatus {
            at: now_unix(),
            trigger: trigger.to_owned(),
            error: Some(reason.clone()),
        };
        Error::FailedPrecondition(format!(
            "reload failed, the running configuration stays: {reason}"
        ))
    }

    /// Whether `caller` may perform `op` on `cred`; denials are logged.
    pub fn authorize(
        &self,
        caller: &Caller,
        cred: &Credential,
        op: crate::config::Operation,
    ) -> Result<(), Error> {
        crate::policy::check(caller, cred, op, self.registry().executables()).inspect_err(|e| {
            tracing::warn!(%caller, credential = %cred.name, operation = op.as_str(), "denied: {e}");
            self.audit(AuditEvent {
                op: op.as_str().into(),
                outcome: "denied".into(),
                caller: Some(caller.into()),
                credential: Some(cred.name.clone()),
                detail: Some(e.to_string()),
                ..Default::default()
            });
        })
    }

    /// Whether `caller` may see `event`.
    pub fn may_see(&self, caller: &Caller, event: &Event) -> bool {
        crate::policy::check_rules(
            caller,
            &event.credential.name,
            &event.allow,
            crate::config::Operation::Read,
            self.registry().executables(),
        )
        .is_ok()
    }

    /// The credentials `caller` may read (optionally of one client).
    pub fn snapshot_for(&self, caller: &Caller, client_id: Option<&str>) -> Vec<pb::Credential> {
        let registry = self.registry();
        registry
            .all()
            .filter(|c| client_id.is_none_or(|id| c.client_id() == id))
            .filter(|c| {
                crate::policy::check(
                    caller,
                    c,
                    crate::config::Operation::Read,
                    registry.executables(),
                )
                .is_ok()
            })
            .map(|c| credential_to_pb(c))
            .collect()
    }

    /// A snapshot of every credential (optionally of one client).
    pub fn snapshot(&self, client_id: Option<&str>) -> Vec<pb::Credential> {
        self.registry()
            .all()
            .filter(|c| client_id.is_none_or(|id| c.client_id() == id))
            .map(|c| credential_to_pb(c))
            .collect()
    }

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
            let mut emit = |kind, public: &pb::Credential, allow: &Arc<[AllowRule]>| {
                events.push(Event {
                    kind,
                    credential: public.clone(),
                    observed_at: now,
                    allow: Arc::clone(allow),
                })
            };
            for cred in registry.all() {
                let public = credential_to_pb(cred);
                let phase = cred.phase();
                let allow: Arc<[AllowRule]> = cred.config.allow.clone().into();
                let usable = matches!(phase, Phase::Available | Phase::ExpiringSoon);
                *serving.entry(cred.client_id().to_owned()).or_default() |= usable;
                use pb::CredentialEventKind as K;
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
                    emit(
                        pb::CredentialEventKind::Removed,
                        &before.public,
                        &before.allow,
                    );
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
                    emit(pb::CredentialEventKind::Active, &s.public, &s.allow);
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
        let reporter = lock(&self.health).clone();
        if let Some(reporter) = reporter {
            for client in clients {
                let status = if serving.get(&client).copied().unwrap_or(false) {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                };
                reporter
                    .set_service_status(client_health_name(&client), status)
                    .await;
            }
        }
    }
}
