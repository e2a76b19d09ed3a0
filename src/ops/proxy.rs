//! A request through the egress proxy, less its HTTP: who may use an
//! upstream (its own allow rules, else its credential's, for the operation
//! `proxy`; a TCP app by the upstreams its token lists), the access token
//! and DPoP proof the request carries, and the one audit record it ends in.
//! The HTTP side is the `proxy` front end.

use std::sync::Arc;

use super::{Error, Gate, Peer};
use crate::access::audit::{AuditEvent, AuditOp, HttpExchange, Outcome};
use crate::access::caller::Caller;
use crate::access::policy;
use crate::config::{Operation, UpstreamConfig};
use crate::credential::{Credential, Selector};
use crate::oauth::{self, Token, TokenRequest};

/// Who sends a request to the proxy.
#[derive(Debug, Clone)]
pub enum App {
    /// A process on the Unix socket, identified by the kernel.
    Local(Peer),
    /// An app on the loopback TCP listener, known by the token it showed.
    Tcp {
        /// Its name in `proxy.tcp.apps`.
        name: String,
        /// The upstreams it may use.
        upstreams: Arc<Vec<String>>,
    },
}

/// An admitted request: the upstream's credential and OAuth client.
pub struct Admission {
    /// The credential whose key and token the request uses.
    pub credential: Arc<Credential>,
    /// Its OAuth client, if the upstream uses a token.
    pub client: Option<Arc<oauth::Client>>,
    caller: Option<Caller>,
    app: Option<String>,
}

impl Admission {
    /// The caller (none for a TCP app).
    pub fn caller(&self) -> Option<&Caller> {
        self.caller.as_ref()
    }
}

/// Admits `app` to the upstream `name` (configured as `upstream`): the
/// caller is identified and within its rate, and allowed by the rules.
/// Refusals are logged and audited.
pub fn admit(
    gate: &Gate,
    app: &App,
    name: &str,
    upstream: &UpstreamConfig,
) -> Result<Admission, Error> {
    let registry = gate.daemon().registry();
    let deny = |caller: Option<&Caller>, detail: String| {
        tracing::warn!(upstream = name, "proxy request denied: {detail}");
        gate.daemon().audit(
            AuditEvent::new(AuditOp::Proxy, Outcome::Denied)
                .caller(caller)
                .credential(&upstream.credential)
                .detail(detail.clone()),
        );
        Error::PermissionDenied(detail)
    };
    let (caller, app_name) = match app {
        App::Local(peer) => {
            let admitted = gate.admit(peer, AuditOp::Proxy)?;
            let caller = admitted.caller().clone();
            let allowed = if upstream.allow.is_empty() {
                match registry.select(&Selector::Name(upstream.credential.clone()), None) {
                    Ok(cred) => {
                        policy::check(&caller, &cred, Operation::Proxy, registry.executables())
                    }
                    Err(e) => return Err(Error::NotFound(e)),
                }
            } else {
                let exes = gate.daemon().upstream_executables();
                policy::check_upstream(&caller, name, &upstream.allow, &exes)
            };
            if let Err(d) = allowed {
                return Err(deny(Some(&caller), d.0));
            }
            (Some(caller), None)
        }
        App::Tcp {
            name: app,
            upstreams,
        } => {
            if !upstreams.iter().any(|u| u == name) {
                return Err(deny(
                    None,
                    format!(
                        "TCP app {app:?} may not use upstream {name:?}: add it to \
                         proxy.tcp.apps.{app}.upstreams"
                    ),
                ));
            }
            (None, Some(app.clone()))
        }
    };
    if gate.daemon().is_locked() {
        return Err(Error::FailedPrecondition(
            "the daemon is locked: nothing is proxied until Admin.Unlock".into(),
        ));
    }
    let credential = registry.select(&Selector::Name(upstream.credential.clone()), None)?;
    let client = match upstream.token {
        crate::config::UpstreamToken::None => None,
        _ => Some(
            gate.daemon()
                .oauth_client(&credential.name)
                .ok_or_else(|| {
                    Error::FailedPrecondition(format!(
                        "credential {:?} has no OAuth client: configure [credentials.{}.oauth]",
                        credential.name, credential.name
                    ))
                })?,
        ),
    };
    Ok(Admission {
        credential,
        client,
        caller,
        app: app_name,
    })
}

/// The upstream's access token (cached; `force_refresh` after the resource
/// server called the last one invalid).
pub async fn token(
    admission: &Admission,
    upstream: &UpstreamConfig,
    force_refresh: bool,
) -> Result<Option<Token>, Error> {
    let Some(client) = &admission.client else {
        return Ok(None);
    };
    client
        .access_token(TokenRequest {
            scopes: upstream.scopes.clone(),
            resource: upstream.resource.clone(),
            audience: None,
            force_refresh,
        })
        .await
        .map(Some)
        .map_err(|e| super::token::oauth_error(&admission.credential, e))
}

/// A DPoP proof for `method` `url` presenting `token`, with the resource
/// server's latest `nonce`.
pub async fn dpop_proof(
    admission: &Admission,
    method: &str,
    url: &str,
    token: &Token,
    nonce: Option<&str>,
) -> Result<String, Error> {
    let Some(client) = &admission.client else {
        return Err(Error::FailedPrecondition(
            "the upstream uses DPoP but its credential has no OAuth client".into(),
        ));
    };
    client
        .dpop_proof(method, url, Some(token.access_token.expose()), nonce)
        .await
        .map(|(proof, _)| proof.token)
        .map_err(|e| super::token::oauth_error(&admission.credential, e))
}

/// The audit record of one proxied request, once its response has ended.
pub fn record(gate: &Gate, admission: &Admission, outcome: Outcome, exchange: HttpExchange) {
    let mut event = AuditEvent::new(AuditOp::Proxy, outcome)
        .caller(admission.caller())
        .credential(&admission.credential.name);
    if let Some(app) = &admission.app {
        event = event.detail(format!("tcp app {app}"));
    }
    event.http = Some(exchange);
    gate.daemon().audit(event);
}

/// The audit record of a request refused before admission (a path, a
/// header, an unknown upstream): who sent it and why.
pub fn record_refusal(gate: &Gate, app: &App, exchange: HttpExchange, why: &str) {
    let (caller, detail) = match app {
        App::Local(peer) => (peer.0.as_deref(), why.to_owned()),
        App::Tcp { name, .. } => (None, format!("tcp app {name}: {why}")),
    };
    let mut event = AuditEvent::new(AuditOp::Proxy, Outcome::Denied)
        .caller(caller)
        .detail(detail);
    event.http = Some(exchange);
    gate.daemon().audit(event);
}

/// The audit record of a TCP request without a valid app token.
pub fn record_unauthenticated(gate: &Gate, exchange: HttpExchange, why: &str) {
    let mut event = AuditEvent::new(AuditOp::Proxy, Outcome::Denied).detail(format!("tcp: {why}"));
    event.http = Some(exchange);
    gate.daemon().audit(event);
}

/// The audit record of an admitted request that failed, and why.
pub fn record_failure(gate: &Gate, admission: &Admission, exchange: HttpExchange, why: &str) {
    let mut event = AuditEvent::new(AuditOp::Proxy, Outcome::Error)
        .caller(admission.caller())
        .credential(&admission.credential.name)
        .detail(match &admission.app {
            Some(app) => format!("tcp app {app}: {why}"),
            None => why.to_owned(),
        });
    event.http = Some(exchange);
    gate.daemon().audit(event);
}
