//! Passphrase sources: where a key's passphrase comes from.
//!
//! A [`PassphraseSource`] fetches a [`Passphrase`] on demand. Fetching may
//! block (files, the kernel keyring, D-Bus, a child process, a network
//! call), so callers run [`PassphraseSource::fetch`] on a blocking thread,
//! never on an async worker. Each source describes itself for logs and
//! errors without revealing the secret.

#[cfg(feature = "aws-secrets-manager")]
mod aws;
mod env;
mod exec;
mod file;
pub mod keyring;
pub mod keyutils;
pub mod secret_service;
mod systemd;

use std::fmt;
use std::sync::Arc;

#[cfg(feature = "aws-secrets-manager")]
pub use aws::{AwsSecret, AwsSource};
pub use env::{EnvSource, EnvVault};
pub use exec::ExecSource;
pub use file::{FileSource, read_full};
pub use keyring::KeyringSource;
pub use keyutils::KeyutilsSource;
pub use secret_service::SecretServiceSource;
pub use systemd::SystemdSource;

use crate::config::PassphraseConfig;
use crate::secret::{Passphrase, PassphraseError};

/// Something that can hand out a passphrase.
pub trait PassphraseSource: Send + Sync + fmt::Debug {
    /// Short kind name (`file`, `env`, `keyutils`, …) for status and logs.
    fn kind(&self) -> &'static str;
    /// Where exactly, for operators: `keyutils user:"fapi-agent:acme"`.
    /// Never contains the secret.
    fn describe(&self) -> String;
    /// What identifies the secret fetched: two sources with equal
    /// identities return the same secret, so their fetches in flight are
    /// shared. It must include every setting that can change the answer
    /// (override where [`describe`](Self::describe) leaves one out); it is
    /// never logged.
    fn identity(&self) -> String {
        self.describe()
    }
    /// Fetches the passphrase. Blocking: call from a blocking thread.
    fn fetch(&self) -> Result<Passphrase, SourceError>;
    /// Wipes any copy the source itself holds (Lock). Sources that read
    /// from outside the process at every fetch hold none.
    fn wipe(&self) {}
}

/// Told of every passphrase fetch a credential makes (metrics): handed
/// down at construction, so this layer imports nothing above it.
pub trait FetchObserver: Send + Sync {
    /// A fetch for `credential` from a source of `kind` ended, `ok` or not.
    fn fetched(&self, credential: &str, kind: &str, ok: bool);
}

/// Why a source could not deliver a passphrase. Messages name the source
/// and the cause, never the secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    /// The source cannot be reached or does not hold the secret now; a
    /// retry may succeed.
    #[error("passphrase source {source_desc} is unavailable: {reason}")]
    Unavailable {
        /// The source's description.
        source_desc: String,
        /// What went wrong.
        reason: String,
    },
    /// The source is configured unsafely or holds an unusable value; an
    /// operator must fix it.
    #[error("passphrase source {source_desc} is refused: {reason}")]
    Refused {
        /// The source's description.
        source_desc: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
}

impl SourceError {
    pub(crate) fn unavailable(src: &dyn PassphraseSource, reason: impl fmt::Display) -> Self {
        Self::Unavailable {
            source_desc: src.describe(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn refused(src: &dyn PassphraseSource, reason: impl fmt::Display) -> Self {
        Self::Refused {
            source_desc: src.describe(),
            reason: reason.to_string(),
        }
    }

    /// No answer within the fetch timeout (the daemon waits no longer).
    pub(crate) fn timed_out(source_desc: String, timeout: std::time::Duration) -> Self {
        Self::Unavailable {
            source_desc,
            reason: format!(
                "no answer within {} s (passphrase_fetch_timeout_seconds)",
                timeout.as_secs()
            ),
        }
    }

    pub(crate) fn invalid_value(src: &dyn PassphraseSource, e: PassphraseError) -> Self {
        Self::refused(src, format_args!("it holds an unusable value: {e}"))
    }
}

/// Hands a fetch's result to one waiting caller.
type Deliver = Box<dyn FnOnce(Result<Passphrase, SourceError>) + Send>;

/// Callers beyond this many waiting on one hung fetch are refused at once.
const MAX_WAITERS: usize = 64;

/// The fetches in flight, process-wide, by source identity, with the
/// callers waiting for each.
fn in_flight() -> &'static std::sync::Mutex<std::collections::HashMap<String, Vec<Deliver>>> {
    static MAP: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<String, Vec<Deliver>>>,
    > = std::sync::OnceLock::new();
    MAP.get_or_init(Default::default)
}

/// Starts `src.fetch()` on a thread of its own and hands the result to
/// `deliver` (a late answer nobody waits for any more is dropped, and
/// wiped, there). One fetch per source (by identity) runs at a time in
/// the whole process; callers that arrive meanwhile (two credentials
/// sharing a passphrase, a retry) wait for the same answer, each getting
/// its own copy. So a source that hangs past every timeout holds one
/// thread, not one per attempt, and never a thread of a shared pool.
fn spawn_fetch(
    src: &Arc<dyn PassphraseSource>,
    deliver: impl FnOnce(Result<Passphrase, SourceError>) + Send + 'static,
) -> Result<(), SourceError> {
    let desc = src.identity();
    {
        let mut flights = in_flight().lock().unwrap_or_else(|p| p.into_inner());
        if let Some(waiting) = flights.get_mut(&desc) {
            if waiting.len() >= MAX_WAITERS {
                return Err(SourceError::unavailable(
                    &**src,
                    "an earlier fetch from this source has not returned and many callers \
                     wait for it; not waiting too",
                ));
            }
            waiting.push(Box::new(deliver));
            return Ok(());
        }
        flights.insert(desc.clone(), vec![Box::new(deliver)]);
    }
    let fetching = Arc::clone(src);
    let key = desc.clone();
    let spawned = std::thread::Builder::new()
        .name("fapi-fetch".into())
        .spawn(move || {
            let result = fetching.fetch();
            // The source's own frames (D-Bus, an SDK, a pipe read) may have
            // held the secret; this thread's stack is reused after it ends.
            crate::sys::mem::scrub_stack();
            let waiting = in_flight()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key)
                .unwrap_or_default();
            deliver_all(waiting, result);
        });
    if let Err(e) = spawned {
        let waiting = in_flight()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&desc)
            .unwrap_or_default();
        deliver_all(
            waiting,
            Err(SourceError::unavailable(
                &**src,
                format_args!("cannot start the fetch: {e}"),
            )),
        );
    }
    Ok(())
}

/// Gives every waiter its own copy of `result` (each in a locked page).
fn deliver_all(mut waiting: Vec<Deliver>, result: Result<Passphrase, SourceError>) {
    let last = waiting.pop();
    for deliver in waiting {
        deliver(match &result {
            Ok(p) => Ok(p.duplicate()),
            Err(e) => Err(e.clone()),
        });
    }
    if let Some(deliver) = last {
        deliver(result);
    }
}

/// Fetches from `src`, waiting at most `timeout` (blocking; see
/// `spawn_fetch` for the thread it runs on).
pub fn fetch_blocking(
    src: &Arc<dyn PassphraseSource>,
    timeout: std::time::Duration,
) -> Result<Passphrase, SourceError> {
    // Capacity 1: a late answer is sent without blocking, then dropped.
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    spawn_fetch(src, move |r| {
        let _ = tx.send(r);
    })?;
    match rx.recv_timeout(timeout) {
        Ok(fetched) => fetched,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            Err(SourceError::timed_out(src.describe(), timeout))
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            Err(SourceError::unavailable(&**src, "the fetch failed"))
        }
    }
}

/// [`fetch_blocking`] for async callers: no runtime thread waits.
pub async fn fetch(
    src: &Arc<dyn PassphraseSource>,
    timeout: std::time::Duration,
) -> Result<Passphrase, SourceError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    spawn_fetch(src, move |r| {
        let _ = tx.send(r);
    })?;
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(fetched)) => fetched,
        Ok(Err(_)) => Err(SourceError::unavailable(&**src, "the fetch failed")),
        Err(_) => Err(SourceError::timed_out(src.describe(), timeout)),
    }
}

/// Builds the source a credential's config names. Environment variables
/// must have been taken into `env` before any thread started; `timeout`
/// bounds commands run by the `exec` source.
pub fn from_config(
    cfg: &PassphraseConfig,
    env: &EnvVault,
    timeout: std::time::Duration,
) -> Arc<dyn PassphraseSource> {
    match cfg {
        PassphraseConfig::File {
            path,
            allow_group_read,
        } => Arc::new(FileSource::new(path.clone()).allow_group_read(*allow_group_read)),
        PassphraseConfig::Env { variable } => Arc::new(env.source(variable)),
        PassphraseConfig::Keyutils {
            description,
            keyring,
        } => Arc::new(KeyutilsSource::new(description.clone(), *keyring)),
        PassphraseConfig::SecretService { attributes } => {
            Arc::new(SecretServiceSource::new(attributes.clone()))
        }
        PassphraseConfig::Systemd { name } => Arc::new(SystemdSource::new(name.clone())),
        PassphraseConfig::Keyring { service, user } => {
            Arc::new(KeyringSource::new(service.clone(), user.clone()))
        }
        PassphraseConfig::Exec {
            command,
            pass_env,
            env,
        } => Arc::new(ExecSource::new(
            command.clone(),
            pass_env.clone(),
            env.0.clone(),
            timeout,
        )),
        #[cfg(feature = "aws-secrets-manager")]
        PassphraseConfig::AwsSecretsManager {
            secret_id,
            version_stage,
            version_id,
            json_key,
            region,
            endpoint_url,
        } => Arc::new(AwsSource::new(AwsSecret {
            secret_id: secret_id.clone(),
            version_stage: version_stage.clone(),
            version_id: version_id.clone(),
            json_key: json_key.clone(),
            region: region.clone(),
            endpoint_url: endpoint_url.clone(),
        })),
        #[cfg(not(feature = "aws-secrets-manager"))]
        PassphraseConfig::AwsSecretsManager { secret_id, .. } => Arc::new(Unsupported {
            desc: format!("aws-secrets-manager {secret_id:?}"),
            reason: "this build has no AWS support: build fapi-agent with \
                     `--features aws-secrets-manager`, or use the exec source with \
                     `aws secretsmanager get-secret-value`",
        }),
    }
}

/// A source this build cannot serve; every fetch says why.
#[cfg(not(feature = "aws-secrets-manager"))]
#[derive(Debug)]
struct Unsupported {
    desc: String,
    reason: &'static str,
}

#[cfg(not(feature = "aws-secrets-manager"))]
impl PassphraseSource for Unsupported {
    fn kind(&self) -> &'static str {
        "unsupported"
    }
    fn describe(&self) -> String {
        self.desc.clone()
    }
    fn fetch(&self) -> Result<Passphrase, SourceError> {
        Err(SourceError::refused(self, self.reason))
    }
}

/// A passphrase held only in this process's memory: the throwaway
/// credential of `run --dev`. Not selectable from a config file.
#[derive(Debug)]
pub struct MemorySource {
    pass: std::sync::Mutex<Option<Passphrase>>,
}

impl MemorySource {
    /// Holds `pass` until [`PassphraseSource::wipe`].
    pub fn new(pass: Passphrase) -> Self {
        Self {
            pass: std::sync::Mutex::new(Some(pass)),
        }
    }
}

impl PassphraseSource for MemorySource {
    fn kind(&self) -> &'static str {
        "memory"
    }
    fn describe(&self) -> String {
        "memory (dev mode)".into()
    }
    fn identity(&self) -> String {
        // Each holds its own passphrase.
        format!("memory {:p}", self)
    }
    fn fetch(&self) -> Result<Passphrase, SourceError> {
        match &*self.pass.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(p) => Ok(p.duplicate()),
            None => Err(SourceError::unavailable(
                self,
                "Lock wiped the dev-mode passphrase: restart `fapi-agent run --dev`",
            )),
        }
    }

    fn wipe(&self) {
        *self.pass.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A source whose fetch waits until the test releases it.
    #[derive(Debug)]
    struct Gated {
        calls: AtomicUsize,
        release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
    }

    impl PassphraseSource for Gated {
        fn kind(&self) -> &'static str {
            "gated"
        }
        fn describe(&self) -> String {
            "gated test source".into()
        }
        fn fetch(&self) -> Result<Passphrase, SourceError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let _ = self.release.lock().unwrap().recv();
            Ok(Passphrase::from_slice(b"shared answer").unwrap())
        }
    }

    #[test]
    fn callers_of_one_source_share_one_fetch() {
        let (release, gate) = std::sync::mpsc::channel();
        let src: Arc<dyn PassphraseSource> = Arc::new(Gated {
            calls: AtomicUsize::new(0),
            release: std::sync::Mutex::new(gate),
        });
        let callers: Vec<_> = (0..3)
            .map(|_| {
                let src = Arc::clone(&src);
                std::thread::spawn(move || {
                    fetch_blocking(&src, std::time::Duration::from_secs(60))
                        .map(|p| p.expose().to_vec())
                })
            })
            .collect();
        // Released once all three wait on the one flight.
        while in_flight()
            .lock()
            .unwrap()
            .get("gated test source")
            .is_none_or(|w| w.len() < 3)
        {
            std::thread::yield_now();
        }
        release.send(()).unwrap();
        for c in callers {
            assert_eq!(c.join().unwrap().unwrap(), b"shared answer");
        }
        let gated = format!("{src:?}");
        assert!(gated.contains("calls: 1"), "{gated}");
    }

    /// Two exec sources differing only in their arguments fetch different
    /// secrets: a fetch of one in flight is not handed to the other (it
    /// once was, keyed on the description, which names the program only).
    #[test]
    fn sources_differing_in_arguments_do_not_share_a_fetch() {
        let dir = tempfile::tempdir().unwrap();
        let go = dir.path().join("go");
        let wait_then = |answer: &str| -> Arc<dyn PassphraseSource> {
            Arc::new(exec::ExecSource::new(
                vec![
                    "/bin/sh".into(),
                    "-c".into(),
                    format!(
                        "while [ ! -e '{}' ]; do sleep 0.01; done; echo {answer}",
                        go.display()
                    ),
                ],
                Vec::new(),
                std::collections::BTreeMap::new(),
                std::time::Duration::from_secs(60),
            ))
        };
        let (a, b) = (wait_then("first"), wait_then("second"));
        assert_eq!(a.describe(), b.describe());
        assert_ne!(a.identity(), b.identity());
        let fetch = |src: Arc<dyn PassphraseSource>| {
            std::thread::spawn(move || {
                fetch_blocking(&src, std::time::Duration::from_secs(60))
                    .map(|p| p.expose().to_vec())
            })
        };
        let (ta, tb) = (fetch(Arc::clone(&a)), fetch(Arc::clone(&b)));
        // Both in flight before either can answer.
        while [&a, &b]
            .iter()
            .any(|s| !in_flight().lock().unwrap().contains_key(&s.identity()))
        {
            std::thread::yield_now();
        }
        std::fs::write(&go, b"").unwrap();
        assert_eq!(ta.join().unwrap().unwrap(), b"first");
        assert_eq!(tb.join().unwrap().unwrap(), b"second");
    }
}
