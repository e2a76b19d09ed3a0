//! Passphrase sources: where a key's passphrase comes from.
//!
//! A [`PassphraseSource`] fetches a [`Passphrase`] on demand. Fetching may
//! block (files, the kernel keyring, D-Bus, a child process, a network
//! call), so callers run [`PassphraseSource::fetch`] on a blocking thread,
//! never on an async worker. Each source describes itself for logs and
//! errors without revealing the secret.

mod env;
mod file;
mod keyutils;

use std::fmt;
use std::sync::Arc;

pub use env::{EnvSource, EnvVault};
pub use file::FileSource;
pub use keyutils::KeyutilsSource;

use crate::config::PassphraseConfig;
use crate::secret::{Passphrase, PassphraseError};

/// Something that can hand out a passphrase.
pub trait PassphraseSource: Send + Sync + fmt::Debug {
    /// Short kind name (`file`, `env`, `keyutils`, …) for status and logs.
    fn kind(&self) -> &'static str;
    /// Where exactly, for operators: `keyutils user:"fapi-agent:acme"`.
    /// Never contains the secret.
    fn describe(&self) -> String;
    /// Fetches the passphrase. Blocking: call from a blocking thread.
    fn fetch(&self) -> Result<Passphrase, SourceError>;
}

/// Why a source could not deliver a passphrase. Messages name the source
/// and the cause, never the secret.
#[derive(Debug, thiserror::Error)]
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

    pub(crate) fn invalid_value(src: &dyn PassphraseSource, e: PassphraseError) -> Self {
        Self::refused(src, format_args!("it holds an unusable value: {e}"))
    }
}

/// Builds the source a credential's config names. Environment variables
/// must have been taken into `env` before any thread started.
pub fn from_config(cfg: &PassphraseConfig, env: &EnvVault) -> Arc<dyn PassphraseSource> {
    match cfg {
        PassphraseConfig::File { path } => Arc::new(FileSource::new(path.clone())),
        PassphraseConfig::Env { variable } => Arc::new(env.source(variable)),
        PassphraseConfig::Keyutils {
            description,
            keyring,
        } => Arc::new(KeyutilsSource::new(description.clone(), *keyring)),
    }
}

/// A passphrase held only in this process's memory: the throwaway
/// credential of `run --dev`. Not selectable from a config file.
#[derive(Debug)]
pub struct MemorySource {
    pass: Passphrase,
}

impl MemorySource {
    /// Holds `pass` for the life of the source.
    pub fn new(pass: Passphrase) -> Self {
        Self { pass }
    }
}

impl PassphraseSource for MemorySource {
    fn kind(&self) -> &'static str {
        "memory"
    }
    fn describe(&self) -> String {
        "memory (dev mode)".into()
    }
    fn fetch(&self) -> Result<Passphrase, SourceError> {
        Ok(self.pass.duplicate())
    }
}
