//! What a credential looks like from outside, now: its public facts and
//! state, as every front end reports it and as watchers receive it.

use serde_json::Value;

use super::{Credential, State};
use crate::config::PaddingName;
use crate::keys::SourceStatus;
use crate::now_unix;

/// Whether a credential can serve now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serving {
    /// Ready.
    Available,
    /// Locked by the operator.
    Locked,
    /// Cannot serve; the snapshot's `error` says why.
    Error,
}

/// A credential's public facts and state at one moment. Nothing in it is
/// secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The config name.
    pub name: String,
    /// The client_id.
    pub client_id: String,
    /// The issuer (the default `aud`).
    pub issuer: String,
    /// RFC 7638 thumbprint (empty when not loaded).
    pub kid: String,
    /// JWS algorithm (empty when not loaded).
    pub alg: String,
    /// The certificate chain, PEM, leaf first.
    pub certificate_chain_pem: String,
    /// The public JWK as JSON (empty when not loaded).
    pub public_jwk_json: String,
    /// `x5t#S256` of the leaf.
    pub x5t_s256: String,
    /// notBefore, Unix seconds.
    pub not_before: i64,
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// Whole days left.
    pub days_left: i64,
    /// Whether it can serve.
    pub state: Serving,
    /// Why not, or a warning; operator-facing.
    pub error: String,
    /// Whether export is allowed.
    pub export_allowed: bool,
    /// Paddings `DecryptSecret` accepts (RSA keys only).
    pub decrypt_paddings: Vec<PaddingName>,
    /// Whether the decrypted key is in memory.
    pub key_decrypted: bool,
    /// The passphrase source's state (`Status` only).
    pub passphrase_source: Option<SourceStatus>,
    /// The JWKS of the client's live keys (`GetCredential` only).
    pub client_jwks_json: String,
    /// Where the key lives (`None`: no key, such as a failed load).
    pub backend: Option<crate::keys::BackendInfo>,
}

impl Credential {
    /// The credential's public facts and state now.
    pub fn snapshot(&self) -> Snapshot {
        let (state, error) = match self.state() {
            State::Available { warning } => (Serving::Available, warning.unwrap_or_default()),
            State::Locked => (
                Serving::Locked,
                "locked: unlock with `fapi-agent unlock` (Admin.Unlock)".to_owned(),
            ),
            State::Error(reason) => (Serving::Error, reason),
        };
        let mut out = Snapshot {
            name: self.name.clone(),
            client_id: self.client_id().to_owned(),
            issuer: self.config.issuer.clone(),
            kid: String::new(),
            alg: String::new(),
            certificate_chain_pem: String::new(),
            public_jwk_json: String::new(),
            x5t_s256: String::new(),
            not_before: 0,
            not_after: 0,
            days_left: 0,
            state,
            error,
            export_allowed: self.config.export,
            decrypt_paddings: Vec::new(),
            key_decrypted: self.key_decrypted(),
            passphrase_source: None,
            client_jwks_json: String::new(),
            backend: self.key().ok().map(|k| k.info()),
        };
        if let Ok(f) = self.facts() {
            out.kid = f.jwk.thumbprint().to_owned();
            out.alg = f.alg.as_str().to_owned();
            out.certificate_chain_pem = f.chain_pem.clone();
            out.public_jwk_json = f.jwk.to_json().to_string();
            out.x5t_s256 = f.x5t_s256.clone();
            out.not_before = f.not_before;
            out.not_after = f.not_after;
            out.days_left = f.days_left(now_unix());
            if f.alg == crate::jose::Alg::Ps256 {
                out.decrypt_paddings = self.config.decrypt_paddings.clone();
            }
        }
        out
    }
}

/// What [`live_jwks`] needs to know of a credential; implemented for
/// [`Snapshot`] here and for the API's message at the edge, so the daemon
/// and the CLI apply one rule.
pub trait JwksEntry {
    /// The config name.
    fn name(&self) -> &str;
    /// The kid.
    fn kid(&self) -> &str;
    /// The public JWK as JSON, empty when not loaded.
    fn public_jwk_json(&self) -> &str;
    /// notBefore, Unix seconds.
    fn not_before(&self) -> i64;
    /// notAfter, Unix seconds.
    fn not_after(&self) -> i64;
}

impl JwksEntry for Snapshot {
    fn name(&self) -> &str {
        &self.name
    }
    fn kid(&self) -> &str {
        &self.kid
    }
    fn public_jwk_json(&self) -> &str {
        &self.public_jwk_json
    }
    fn not_before(&self) -> i64 {
        self.not_before
    }
    fn not_after(&self) -> i64 {
        self.not_after
    }
}

/// The public JWKS of the live keys among `creds`: loaded (a public JWK is
/// known), certificate not expired at `now`, one entry per kid, newest
/// (latest notBefore) first. Shared by `GetCredential` and `fapi-agent jwks`.
pub fn live_jwks<'a, T: JwksEntry + 'a>(creds: impl IntoIterator<Item = &'a T>, now: i64) -> Value {
    let mut live: Vec<&T> = creds
        .into_iter()
        .filter(|c| not_live(*c, now).is_none())
        .collect();
    live.sort_by(|a, b| {
        b.not_before()
            .cmp(&a.not_before())
            .then(a.name().cmp(b.name()))
    });
    let mut seen = std::collections::HashSet::new();
    let keys: Vec<Value> = live
        .into_iter()
        .filter(|c| seen.insert(c.kid().to_owned()))
        .filter_map(|c| serde_json::from_str(c.public_jwk_json()).ok())
        .collect();
    serde_json::json!({ "keys": keys })
}

/// Why `c`'s key is left out of [`live_jwks`] at `now`, if it is.
pub fn not_live(c: &impl JwksEntry, now: i64) -> Option<&'static str> {
    if c.public_jwk_json().is_empty() {
        Some("not loaded")
    } else if c.not_after() <= now {
        Some("certificate expired")
    } else {
        None
    }
}
