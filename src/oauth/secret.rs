//! A client secret (or a resource owner's password), held like a key
//! passphrase: fetched from its source when first needed, kept in a locked,
//! wiped page, dropped by Lock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::OAuthError;
use crate::secret::Passphrase;
use crate::source::{self, PassphraseSource};

/// A secret from a source, held once fetched.
pub(super) struct SecretHolder {
    source: Option<Arc<dyn PassphraseSource>>,
    held: Mutex<Option<Arc<Passphrase>>>,
    timeout: Duration,
}

impl SecretHolder {
    pub(super) fn new(source: Option<Arc<dyn PassphraseSource>>, timeout: Duration) -> Self {
        Self {
            source,
            held: Mutex::new(None),
            timeout,
        }
    }

    /// The secret, fetched now if not held.
    pub(super) async fn get(&self) -> Result<Arc<Passphrase>, OAuthError> {
        if let Some(p) = &*self.held.lock().unwrap_or_else(|p| p.into_inner()) {
            return Ok(Arc::clone(p));
        }
        let src = self
            .source
            .as_ref()
            .ok_or_else(|| OAuthError::Config("no source is configured for this secret".into()))?;
        let fetched = source::fetch(src, self.timeout)
            .await
            .map_err(|e| match e {
                source::SourceError::Unavailable { .. } => OAuthError::Unavailable(e.to_string()),
                source::SourceError::Refused { .. } => OAuthError::Config(e.to_string()),
            })?;
        let fetched = Arc::new(fetched);
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&fetched));
        Ok(fetched)
    }

    /// Wipes the held secret and the source's own copy (Lock).
    pub(super) fn wipe(&self) {
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = None;
        if let Some(src) = &self.source {
            src.wipe();
        }
    }
}
