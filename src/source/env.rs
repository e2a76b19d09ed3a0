//! The `env` source: a passphrase in an environment variable.
//!
//! The weakest source: the environment is inherited by children and, until
//! wiped, visible in `/proc/PID/environ` to the same user. fapi-agent takes
//! each configured variable once at start-up, before any thread exists,
//! overwrites it in the process's environment block and unsets it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{PassphraseSource, SourceError};
use crate::secret::{Passphrase, PassphraseError};

/// Passphrases taken from the environment at start-up, by variable name.
#[derive(Debug, Default)]
pub struct EnvVault {
    taken: HashMap<String, Arc<Mutex<Result<Passphrase, EnvProblem>>>>,
}

#[derive(Debug)]
enum EnvProblem {
    Unset,
    Invalid(PassphraseError),
    BadName,
    /// Lock wiped the only copy; the environment cannot be read again.
    Wiped,
}

impl EnvVault {
    /// Takes and wipes each named variable. Must be called before the
    /// process starts any thread (see [`crate::sys::env::take_env_secret`]).
    pub fn take<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut taken = HashMap::new();
        for name in names {
            if taken.contains_key(name) {
                continue;
            }
            let value = match crate::sys::env::take_env_secret(name, Passphrase::from_slice) {
                Ok(Some(Ok(p))) => Ok(p),
                Ok(Some(Err(e))) => Err(EnvProblem::Invalid(e)),
                Ok(None) => Err(EnvProblem::Unset),
                Err(_) => Err(EnvProblem::BadName),
            };
            tracing::warn!(
                variable = name,
                "passphrase taken from an environment variable: the weakest source \
                 (inherited by children, visible to the same user until wiped); \
                 prefer keyutils or systemd credentials"
            );
            taken.insert(name.to_owned(), Arc::new(Mutex::new(value)));
        }
        Self { taken }
    }

    /// The source for one variable (which must have been named to [`Self::take`]).
    pub fn source(&self, variable: &str) -> EnvSource {
        EnvSource {
            variable: variable.to_owned(),
            value: self.taken.get(variable).cloned(),
        }
    }
}

/// Hands out the passphrase taken from one environment variable.
#[derive(Debug)]
pub struct EnvSource {
    variable: String,
    value: Option<Arc<Mutex<Result<Passphrase, EnvProblem>>>>,
}

impl PassphraseSource for EnvSource {
    fn kind(&self) -> &'static str {
        "env"
    }

    fn describe(&self) -> String {
        format!("env ${}", self.variable)
    }

    fn fetch(&self) -> Result<Passphrase, SourceError> {
        let Some(value) = &self.value else {
            return Err(SourceError::unavailable(
                self,
                "the variable was not set when the daemon started (it is read only then)",
            ));
        };
        match &*value.lock().unwrap_or_else(|p| p.into_inner()) {
            Ok(p) => Ok(p.duplicate()),
            Err(EnvProblem::Invalid(e)) => Err(SourceError::invalid_value(self, *e)),
            Err(EnvProblem::BadName) => Err(SourceError::refused(
                self,
                "the variable name contains a NUL byte",
            )),
            Err(EnvProblem::Unset) => Err(SourceError::unavailable(
                self,
                "the variable was not set when the daemon started (it is read only then)",
            )),
            Err(EnvProblem::Wiped) => Err(SourceError::unavailable(
                self,
                "Lock wiped the passphrase taken from the environment at start, and the \
                 environment cannot be read again: restart the daemon with the variable set",
            )),
        }
    }

    fn wipe(&self) {
        if let Some(value) = &self.value {
            let mut v = value.lock().unwrap_or_else(|p| p.into_inner());
            if v.is_ok() {
                *v = Err(EnvProblem::Wiped);
            }
        }
    }
}
