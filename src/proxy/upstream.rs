//! Each upstream's connection pool and DPoP nonce. A pool is made for the
//! upstream's config and credential as they are; a reload that changes
//! either (a rotated certificate and key, say) gets a new pool at the next
//! request, so new connections present the new certificate while requests
//! in flight finish on the old one, whose pool they hold.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::error::ProxyError;
use crate::config::{UpstreamConfig, UpstreamToken};
use crate::credential::Credential;
use crate::net::{self, HttpsClient};
use crate::ops;

/// One upstream as the proxy uses it now.
pub struct Upstream {
    /// Its name.
    pub name: String,
    /// Its config.
    pub cfg: UpstreamConfig,
    /// `base_url` without a trailing `/`.
    pub base: String,
    /// The pool.
    pub client: HttpsClient,
    /// The credential the pool presents (compared, not kept alive).
    credential: Weak<Credential>,
    /// The resource server's latest DPoP nonce (RFC 9449 §9).
    nonce: Mutex<Option<String>>,
}

impl Upstream {
    /// The nonce to put in the next proof.
    pub fn nonce(&self) -> Option<String> {
        lock(&self.nonce).clone()
    }

    /// Remembers a nonce the resource server sent.
    pub fn set_nonce(&self, nonce: &str) {
        *lock(&self.nonce) = Some(nonce.to_owned());
    }

    /// The timeout for the response head.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.cfg.timeout_seconds)
    }

    fn current_for(&self, cfg: &UpstreamConfig, cred: &Arc<Credential>) -> bool {
        self.cfg == *cfg && std::ptr::eq(self.credential.as_ptr(), Arc::as_ptr(cred))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The upstreams in use, by name.
#[derive(Default)]
pub struct Upstreams {
    by_name: Mutex<HashMap<String, Arc<Upstream>>>,
}

impl Upstreams {
    /// The upstream `name` for `cfg` and `cred`: the one in use if both
    /// are unchanged, else a new pool (the nonce carries over: it belongs
    /// to the server, not the connection).
    pub fn get(
        &self,
        name: &str,
        cfg: &UpstreamConfig,
        cred: &Arc<Credential>,
    ) -> Result<Arc<Upstream>, ProxyError> {
        let previous = lock(&self.by_name).get(name).cloned();
        if let Some(u) = &previous
            && u.current_for(cfg, cred)
        {
            return Ok(Arc::clone(u));
        }
        // Built outside the lock: it may read the CA file.
        let roots =
            net::tls::roots(cfg.ca_file.as_deref()).map_err(|e| ProxyError::Misconfigured {
                upstream: name.to_owned(),
                cause: e.to_string(),
            })?;
        let client_certificate = if cfg.client_certificate || cfg.token == UpstreamToken::Mtls {
            Some(cred.tls_identity().map_err(ops::Error::Credential)?)
        } else {
            None
        };
        let upstream = Arc::new(Upstream {
            name: name.to_owned(),
            cfg: cfg.clone(),
            base: cfg.base_url.trim_end_matches('/').to_owned(),
            client: HttpsClient::new(net::Settings {
                roots,
                client_certificate,
                http2: cfg.http2,
                connect_timeout: Duration::from_secs(cfg.connect_timeout_seconds),
            }),
            credential: Arc::downgrade(cred),
            nonce: Mutex::new(previous.as_ref().and_then(|p| p.nonce())),
        });
        let mut by_name = lock(&self.by_name);
        // Another request may have built one meanwhile: keep the first.
        if let Some(u) = by_name.get(name)
            && u.current_for(cfg, cred)
        {
            return Ok(Arc::clone(u));
        }
        if previous.is_some() {
            tracing::info!(
                upstream = name,
                "upstream config or credential changed: new connections use it"
            );
        }
        by_name.insert(name.to_owned(), Arc::clone(&upstream));
        Ok(upstream)
    }
}
