//! The running daemon's state: the current credential registry, swapped
//! whole on reload (`reload`), the credential events and per-client
//! health derived from it (`events`), Lock and Unlock, and the signals and
//! file changes that drive them ([`watch`]).
//!
//! Every request takes the registry as it is when the request starts
//! ([`Daemon::registry`]) and finishes on it, even if a reload swaps in a
//! new one meanwhile. A reload validates the new state fully (it decrypts
//! every new or changed key) before the swap; an invalid new version of a
//! credential keeps the old one serving.

mod events;
mod reload;
pub mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::{broadcast, watch as state_watch};

pub use events::{Event, EventKind};
pub use reload::ReloadError;

use crate::access::audit::{AuditEvent, AuditLog, AuditOp, Outcome};
use crate::access::caller::Caller;
use crate::access::limits::RateLimiter;
use crate::config::{AgentConfig, Config};
use crate::credential::{Credential, Registry};
use crate::now_unix;
use crate::oauth;
use crate::source::{EnvVault, FetchObserver};

/// First and longest interval between automatic reloads while a
/// credential could not be loaded because its passphrase source was down.
const LOAD_RETRY_FIRST: Duration = Duration::from_secs(2);
const LOAD_RETRY_MAX: Duration = Duration::from_secs(60);

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

/// The daemon's shared state.
pub struct Daemon {
    registry: ArcSwap<Registry>,
    origin: Origin,
    agent: Mutex<AgentConfig>,
    events: broadcast::Sender<Event>,
    observed: Mutex<events::Observed>,
    /// Per client_id: whether it has a usable credential.
    health: state_watch::Sender<BTreeMap<String, bool>>,
    /// Told of passphrase fetches (metrics), handed to every credential
    /// loaded.
    observer: Option<Arc<dyn FetchObserver>>,
    /// Each credential's OAuth client, by credential name: rebuilt with the
    /// registry, kept (cache included) for credentials a reload reuses.
    oauth: ArcSwap<BTreeMap<String, Arc<oauth::Client>>>,
    /// The upstreams of the egress proxy, as the config last said.
    upstreams: ArcSwap<BTreeMap<String, crate::config::UpstreamConfig>>,
    /// The executables their allow rules name, resolved with them.
    upstream_exes: ArcSwap<crate::credential::Executables>,
    /// The proxy's listeners (read at start).
    proxy: Option<crate::config::ProxyConfig>,
    /// The systemd credential socket's rules, as the config last said (the
    /// socket itself is bound at start).
    credsock: ArcSwap<Option<crate::config::CredSockConfig>>,
    /// Told of token requests (metrics), handed to every OAuth client.
    token_observer: Option<Arc<dyn oauth::TokenObserver>>,
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

impl Daemon {
    /// State for credentials loaded from the config file at `path`.
    pub fn from_config(
        registry: Registry,
        config: &Config,
        path: PathBuf,
        env: EnvVault,
        observer: Option<Arc<dyn FetchObserver>>,
    ) -> Self {
        let mut d = Self::new(
            registry,
            config.agent.clone(),
            Origin::Config {
                path,
                env: Arc::new(env),
            },
        );
        d.observer = observer;
        d.set_upstreams(&config.upstreams);
        d.proxy = config.proxy.clone();
        d.credsock
            .store(Arc::new(config.systemd_credentials.clone()));
        d.rebuild_oauth();
        d
    }

    /// The egress proxy's listeners, if it is configured.
    pub fn proxy_config(&self) -> Option<&crate::config::ProxyConfig> {
        self.proxy.as_ref()
    }

    /// The environment passphrases taken at start (empty for a fixed set).
    pub fn env_vault(&self) -> Arc<EnvVault> {
        match &self.origin {
            Origin::Config { env, .. } => Arc::clone(env),
            Origin::Fixed => Arc::new(EnvVault::default()),
        }
    }

    fn set_upstreams(&self, upstreams: &BTreeMap<String, crate::config::UpstreamConfig>) {
        self.upstream_exes
            .store(Arc::new(crate::credential::Executables::resolve(
                upstreams.values().flat_map(|u| &u.allow),
            )));
        self.upstreams.store(Arc::new(upstreams.clone()));
    }

    /// The executables the upstreams' allow rules name, as resolved.
    pub fn upstream_executables(&self) -> Arc<crate::credential::Executables> {
        self.upstream_exes.load_full()
    }

    /// The systemd credential socket's rules now (`None`: not configured).
    pub fn credsock_config(&self) -> Arc<Option<crate::config::CredSockConfig>> {
        self.credsock.load_full()
    }

    /// The proxy's upstreams now.
    pub fn upstreams(&self) -> Arc<BTreeMap<String, crate::config::UpstreamConfig>> {
        self.upstreams.load_full()
    }

    /// State for a fixed set of credentials (nothing to reload).
    pub fn fixed(registry: Registry, agent: AgentConfig) -> Self {
        let d = Self::new(registry, agent, Origin::Fixed);
        d.rebuild_oauth();
        d
    }

    /// Tells `observer` of every token request and cache lookup.
    pub fn with_token_observer(mut self, observer: Option<Arc<dyn oauth::TokenObserver>>) -> Self {
        self.token_observer = observer;
        // Every client anew: the ones built so far lack the observer.
        self.oauth.store(Arc::new(BTreeMap::new()));
        self.rebuild_oauth();
        self
    }

    /// The OAuth client of the credential `name`, if it has one.
    pub fn oauth_client(&self, name: &str) -> Option<Arc<oauth::Client>> {
        self.oauth.load().get(name).cloned()
    }

    /// Every OAuth client now.
    pub fn oauth_clients(&self) -> Arc<BTreeMap<String, Arc<oauth::Client>>> {
        self.oauth.load_full()
    }

    /// Makes the OAuth clients match the registry: a credential the
    /// registry reuses keeps its client (and cached tokens); a new or
    /// changed one gets a new client.
    fn rebuild_oauth(&self) {
        let old = self.oauth.load_full();
        let env = match &self.origin {
            Origin::Config { env, .. } => Arc::clone(env),
            Origin::Fixed => Arc::new(EnvVault::default()),
        };
        let agent = lock(&self.agent).clone();
        let mut next = BTreeMap::new();
        for cred in self.registry().all() {
            let client = match old.get(&cred.name) {
                Some(c) if Arc::ptr_eq(c.credential(), cred) => Some(Arc::clone(c)),
                _ => oauth::Client::for_credential(cred, &agent, &env, self.token_observer.clone()),
            };
            if let Some(c) = client {
                next.insert(cred.name.clone(), c);
            }
        }
        self.oauth.store(Arc::new(next));
        // A Lock that came while these were built did not see them; Lock
        // sets the flag before it locks the clients it sees, so checking
        // after the store misses nothing.
        if self.is_locked() {
            for c in self.oauth.load().values() {
                c.lock();
            }
        }
    }

    fn new(registry: Registry, agent: AgentConfig, origin: Origin) -> Self {
        let (events, _) = broadcast::channel(agent.event_buffer.max(4));
        Self {
            registry: ArcSwap::from_pointee(registry),
            origin,
            events,
            observed: Mutex::new(events::Observed::default()),
            health: state_watch::channel(BTreeMap::new()).0,
            observer: None,
            oauth: ArcSwap::from_pointee(BTreeMap::new()),
            upstreams: ArcSwap::from_pointee(BTreeMap::new()),
            credsock: ArcSwap::from_pointee(None),
            upstream_exes: ArcSwap::from_pointee(crate::credential::Executables::default()),
            proxy: None,
            token_observer: None,
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

    /// Whether there is an audit log (callers on hot paths skip building
    /// records nobody writes).
    pub fn audits(&self) -> bool {
        self.audit.is_some()
    }

    /// The per-uid request rate limiter.
    pub fn rate_limiter(&self) -> &RateLimiter {
        &self.rate
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
            // Client secrets, passwords, DPoP keys and cached tokens.
            for client in self.oauth.load().values() {
                client.lock();
            }
            names
        };
        tracing::warn!(trigger, credentials = ?names, "locked: passphrases and keys wiped");
        self.audit(
            AuditEvent::new(AuditOp::Lock, Outcome::Ok)
                .caller(caller)
                .detail(trigger),
        );
        self.observe().await;
        names
    }

    /// Fetches every passphrase again and proves each key, all credentials
    /// at once (each fetch bounded by its timeout); returns the unlocked
    /// names and `NAME: reason` for failures.
    pub async fn unlock(&self, caller: Option<&Caller>) -> (Vec<String>, Vec<String>) {
        let (creds, clients): (Vec<Arc<Credential>>, Vec<Arc<oauth::Client>>) = {
            let _swap = lock(&self.swap);
            self.locked
                .store(false, std::sync::atomic::Ordering::SeqCst);
            let clients = self.oauth.load();
            for client in clients.values() {
                client.unlock();
            }
            (
                self.registry().all().cloned().collect(),
                clients.values().cloned().collect(),
            )
        };
        // DPoP keys on tokens prove their PINs alongside the credentials;
        // a failure is reported, but the credential itself is unlocked.
        let mut dpop_keys = tokio::task::JoinSet::new();
        for client in clients.into_iter().filter(|c| c.dpop_key_on_token()) {
            dpop_keys.spawn(async move {
                let name = client.credential().name.clone();
                (name, client.unlock_dpop_key().await)
            });
        }
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
        while let Some(done) = dpop_keys.join_next().await {
            match done {
                Ok((_, Ok(()))) => {}
                Ok((name, Err(e))) => failed.push(format!("{name} (oauth.dpop_key): {e}")),
                Err(e) => failed.push(format!("unlock task failed: {e}")),
            }
        }
        ok.sort();
        failed.sort();
        tracing::info!(unlocked = ?ok, failed = failed.len(), "unlocked");
        let mut event = AuditEvent::new(
            AuditOp::Unlock,
            if failed.is_empty() {
                Outcome::Ok
            } else {
                Outcome::Error
            },
        )
        .caller(caller);
        if !failed.is_empty() {
            event = event.detail(failed.join("; "));
        }
        self.audit(event);
        self.observe().await;
        (ok, failed)
    }

    /// The registry as it is now; hold it for the whole request.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.load_full()
    }

    /// Per-client health from now on: client_id → whether it has a usable
    /// credential (the gRPC health service's `client/ID`).
    pub fn client_health(&self) -> state_watch::Receiver<BTreeMap<String, bool>> {
        self.health.subscribe()
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

    /// Every file whose change should trigger a reload: the config, each
    /// credential's key, certificate or bundle, and the executables its
    /// allow rules name.
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
    pub async fn start(self: &Arc<Self>) {
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
        // A DPoP key on a token is checked too, so a wrong PIN shows now,
        // not at the first token request.
        for (name, client) in self.oauth_clients().iter() {
            if !client.dpop_key_on_token() {
                continue;
            }
            let (name, client) = (name.clone(), Arc::clone(client));
            tokio::spawn(async move {
                match client.check_dpop_key().await {
                    Ok(()) => tracing::info!(credential = %name, "DPoP key verified"),
                    Err(e) => {
                        tracing::error!(credential = %name, error = %e, "DPoP key check failed")
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
                for client in me.oauth_clients().values() {
                    // DPoP keys on tokens: the PIN's and the login's TTLs.
                    client.tick();
                }
                for cred in me.registry().all() {
                    // The key's TTL sweep; true when a failed key is due
                    // for its retry.
                    if cred.tick() {
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
}
