//! The token cache: keyed on every request parameter (a token for one
//! scope is never handed to a request for another); one request to the
//! server however many callers miss together; refreshed in the background
//! ahead of expiry, with jitter, so a fleet does not stampede; never served
//! past its expiry minus a skew.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::{OAuthError, Token};
use crate::now_unix;

/// What a cached token was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    scopes: Vec<String>,
    resource: Vec<String>,
    audience: Option<String>,
    /// The DPoP key's thumbprint the token is bound to.
    jkt: Option<String>,
}

impl CacheKey {
    /// The key of a client_credentials request (order and repeats of scopes
    /// and resources do not matter).
    pub fn new(scopes: &[String], resource: &[String], audience: Option<&str>) -> Self {
        let norm = |v: &[String]| {
            let mut v: Vec<String> = v.to_vec();
            v.sort();
            v.dedup();
            v
        };
        Self {
            scopes: norm(scopes),
            resource: norm(resource),
            audience: audience.map(str::to_owned),
            jkt: None,
        }
    }

    /// The key of a token bound to the DPoP key `jkt` (not a request
    /// parameter: the proof carries the key).
    pub fn bound_to(self, jkt: Option<String>) -> Self {
        Self { jkt, ..self }
    }

    /// The scopes as one space-separated string.
    pub fn scope(&self) -> String {
        self.scopes.join(" ")
    }

    /// The form parameters of the request.
    pub fn client_credentials_params(&self) -> Vec<(String, String)> {
        let mut p = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
        if !self.scopes.is_empty() {
            p.push(("scope".to_owned(), self.scope()));
        }
        for r in &self.resource {
            p.push(("resource".to_owned(), r.clone()));
        }
        if let Some(a) = &self.audience {
            p.push(("audience".to_owned(), a.clone()));
        }
        p
    }
}

/// One cached token and its clock.
struct Entry {
    token: Token,
    /// When a background refresh is due.
    refresh_at: i64,
    /// After this, the token is not served.
    serve_until: i64,
}

#[derive(Default)]
struct Slot {
    /// The token, read without waiting: a hit takes this lock only long
    /// enough to clone an `Arc`-backed token.
    entry: Mutex<Option<Entry>>,
    /// Held while a caller fetches: concurrent misses wait here.
    fetching: tokio::sync::Mutex<()>,
    refreshing: AtomicBool,
}

impl Slot {
    /// The cached token while it may be served, and whether a refresh is
    /// due.
    fn cached(&self) -> Option<(Token, bool)> {
        let now = now_unix();
        let entry = self.entry.lock().unwrap_or_else(|p| p.into_inner());
        let e = entry.as_ref().filter(|e| now < e.serve_until)?;
        let mut token = e.token.clone();
        token.cached = true;
        Some((token, now >= e.refresh_at))
    }

    fn store(&self, token: Token, margin: u64) {
        *self.entry.lock().unwrap_or_else(|p| p.into_inner()) = Some(entry_for(token, margin));
    }
}

/// The cache of one client.
#[derive(Default)]
pub(super) struct TokenCache {
    slots: Mutex<HashMap<CacheKey, Arc<Slot>>>,
}

fn entry_for(token: Token, margin: u64) -> Entry {
    let now = now_unix();
    let lifetime = (token.expires_at - now).max(1);
    // A quarter of the lifetime at most, so short tokens are not always
    // due; jitter over a further quarter of the margin.
    let margin = i64::try_from(margin).unwrap_or(i64::MAX).min(lifetime / 4);
    let mut r = [0u8; 1];
    let _ = openssl::rand::rand_bytes(&mut r);
    let jitter = margin * i64::from(r[0]) / 1024;
    let skew = (lifetime / 10).clamp(0, 5);
    Entry {
        refresh_at: token.expires_at - margin - jitter,
        serve_until: token.expires_at - skew,
        token,
    }
}

impl TokenCache {
    fn slot(&self, key: &CacheKey) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        // The key is cloned only the first time it is seen.
        if let Some(slot) = slots.get(key) {
            return Arc::clone(slot);
        }
        Arc::clone(slots.entry(key.clone()).or_default())
    }

    /// The token for `key`: the cached one while it may be served (a
    /// background refresh started once it is due), else one `fetch`es (the
    /// callers that miss together wait for the first one's answer).
    /// Returns the token and whether it was a hit.
    pub(super) async fn get<F, Fut>(
        &self,
        key: &CacheKey,
        force: bool,
        margin: u64,
        fetch: F,
    ) -> Result<(Token, bool), OAuthError>
    where
        F: Fn(&CacheKey) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Token, OAuthError>> + Send + 'static,
    {
        let slot = self.slot(key);
        if !force && let Some((token, due)) = slot.cached() {
            if due {
                refresh_in_background(&slot, key, margin, fetch);
            }
            return Ok((token, true));
        }
        let _turn = slot.fetching.lock().await;
        // Whoever held the turn before may have just fetched it.
        if !force && let Some((token, due)) = slot.cached() {
            if due {
                refresh_in_background(&slot, key, margin, fetch);
            }
            return Ok((token, true));
        }
        let fresh = fetch(key).await?;
        slot.store(fresh.clone(), margin);
        Ok((fresh, false))
    }

    /// Drops every token (Lock).
    pub(super) fn clear(&self) {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// How many tokens are cached and the earliest expiry (for `Status`).
    pub(super) fn summary(&self) -> (usize, Option<i64>) {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let expiries: Vec<i64> = slots
            .values()
            .filter_map(|s| {
                s.entry
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .as_ref()
                    .map(|e| e.token.expires_at)
            })
            .collect();
        (expiries.len(), expiries.iter().min().copied())
    }
}

/// Starts one background refresh of `slot` (none if one is running).
fn refresh_in_background<F, Fut>(slot: &Arc<Slot>, key: &CacheKey, margin: u64, fetch: F)
where
    F: Fn(&CacheKey) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Token, OAuthError>> + Send + 'static,
{
    if slot.refreshing.swap(true, Ordering::SeqCst) {
        return;
    }
    let slot = Arc::clone(slot);
    let key = key.clone();
    tokio::spawn(async move {
        if let Ok(fresh) = fetch(&key).await {
            slot.store(fresh, margin);
        }
        slot.refreshing.store(false, Ordering::SeqCst);
    });
}
