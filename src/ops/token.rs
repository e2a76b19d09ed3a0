//! Access tokens: GetAccessToken, ExchangeAuthorizationCode,
//! RefreshAccessToken and PushAuthorizationRequest (policy operation
//! `token`), through the credential's OAuth client.

use std::sync::Arc;

use super::{Admitted, Error, Gate, Peer, Selection};
use crate::access::audit::{AuditEvent, AuditOp, Outcome};
use crate::config::Operation;
use crate::credential::Credential;
use crate::oauth::{self, Binding, OAuthError, Pushed, Token, TokenRequest};

/// Which grant a token request uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// client_credentials.
    ClientCredentials,
    /// The password grant with the configured resource owner.
    Password,
}

/// What a caller asks GetAccessToken for.
#[derive(Debug, Clone)]
pub struct AccessTokenRequest {
    /// Whose token.
    pub credential: Selection,
    /// Scopes, resource indicators, audience, and whether to skip the cache.
    pub token: TokenRequest,
    /// The grant.
    pub grant: Grant,
}

/// A token and the credential it was got for.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The token.
    pub token: Token,
    /// The credential.
    pub credential: String,
}

/// Maps a client's error to the operation's, naming the credential.
pub(super) fn oauth_error(cred: &Credential, e: OAuthError) -> Error {
    let named = |m: String| format!("credential {:?}: {m}", cred.name);
    match e {
        OAuthError::Credential(f) => Error::Credential(f),
        OAuthError::Invalid(m) => Error::InvalidArgument(m),
        OAuthError::Unavailable(_) => Error::Unavailable(named(e.to_string())),
        OAuthError::Refused { .. } | OAuthError::Config(_) | OAuthError::Locked => {
            Error::FailedPrecondition(named(e.to_string()))
        }
    }
}

/// Admission, selection, authorization and the credential's OAuth client.
async fn client_for<'g>(
    gate: &'g Gate,
    peer: &Peer,
    selection: Result<Selection, Error>,
    op: Operation,
) -> Result<(Admitted<'g>, Arc<Credential>, Arc<oauth::Client>), Error> {
    let admitted = gate.admit(peer, op.into())?;
    let selection = selection?;
    let registry = gate.daemon().registry();
    let cred = registry.select(&selection.by, selection.kid.as_deref())?;
    admitted.authorize(&registry, &cred, op)?;
    let client = gate.daemon().oauth_client(&cred.name).ok_or_else(|| {
        Error::FailedPrecondition(format!(
            "credential {:?} has no [credentials.{}.oauth] table: configure its authorization \
             server to get tokens",
            cred.name, cred.name
        ))
    })?;
    Ok((admitted, cred, client))
}

/// Audits a token outcome (the token's hash prefix, never the token).
fn record(admitted: &Admitted<'_>, cred: &Credential, result: &Result<Token, Error>, what: &str) {
    if !admitted.gate().daemon().audits() {
        return;
    }
    match result {
        Ok(t) => admitted.record(
            cred,
            Outcome::Ok,
            AuditEvent {
                exp: Some(t.expires_at),
                ..AuditEvent::default().detail(format!(
                    "{what}: token sha256:{}{}",
                    t.access_token.hash_prefix(),
                    if t.cached { " (cached)" } else { "" }
                ))
            },
        ),
        Err(e) => admitted.record(
            cred,
            Outcome::Error,
            AuditEvent::default().detail(format!("{what}: {e}")),
        ),
    }
}

/// An mTLS-bound token is useless without the key that binds it: it goes
/// only to a caller that may export that key.
fn check_binding(
    admitted: &Admitted<'_>,
    gate: &Gate,
    cred: &Credential,
    token: &Token,
) -> Result<(), Error> {
    if !matches!(token.binding, Binding::X5tS256(_)) {
        return Ok(());
    }
    let registry = gate.daemon().registry();
    let may_export = cred.config.export
        && crate::access::policy::check(
            admitted.caller(),
            cred,
            Operation::Export,
            registry.executables(),
        )
        .is_ok();
    if may_export {
        Ok(())
    } else {
        Err(Error::FailedPrecondition(format!(
            "credential {:?} gets mTLS-bound tokens, usable only over a TLS connection made with \
             its key: call the API through fapi-agent's egress proxy (or allow this caller to \
             export the key)",
            cred.name
        )))
    }
}

/// GetAccessToken.
pub async fn get_access_token(
    gate: &Gate,
    peer: &Peer,
    req: Result<AccessTokenRequest, Error>,
) -> Result<IssuedToken, Error> {
    let (selection, rest) = match req {
        Ok(r) => (Ok(r.credential.clone()), Some(r)),
        Err(e) => (Err(e), None),
    };
    let (admitted, cred, client) = client_for(gate, peer, selection, Operation::Token).await?;
    // A failed decode was returned by client_for, after admission.
    let Some(req) = rest else {
        return Err(Error::Internal("the request was not decoded".into()));
    };
    let result = match req.grant {
        Grant::ClientCredentials => client.access_token(req.token).await,
        Grant::Password => client.password_grant(&req.token.scopes).await,
    }
    .map_err(|e| oauth_error(&cred, e))
    .and_then(|t| check_binding(&admitted, gate, &cred, &t).map(|()| t));
    record(&admitted, &cred, &result, "access token");
    Ok(IssuedToken {
        token: result?,
        credential: cred.name.clone(),
    })
}

/// ExchangeAuthorizationCode.
pub async fn exchange_code(
    gate: &Gate,
    peer: &Peer,
    selection: Result<Selection, Error>,
    code: &str,
    code_verifier: &str,
    redirect_uri: &str,
) -> Result<IssuedToken, Error> {
    let (admitted, cred, client) = client_for(gate, peer, selection, Operation::Token).await?;
    if code.is_empty() || redirect_uri.is_empty() {
        return Err(Error::InvalidArgument(
            "code and redirect_uri are required".into(),
        ));
    }
    let result = client
        .exchange_code(code, code_verifier, redirect_uri)
        .await
        .map_err(|e| oauth_error(&cred, e))
        .and_then(|t| check_binding(&admitted, gate, &cred, &t).map(|()| t));
    record(&admitted, &cred, &result, "authorization code exchanged");
    Ok(IssuedToken {
        token: result?,
        credential: cred.name.clone(),
    })
}

/// RefreshAccessToken.
pub async fn refresh(
    gate: &Gate,
    peer: &Peer,
    selection: Result<Selection, Error>,
    refresh_token: &str,
    scopes: &[String],
) -> Result<IssuedToken, Error> {
    let (admitted, cred, client) = client_for(gate, peer, selection, Operation::Token).await?;
    if refresh_token.is_empty() {
        return Err(Error::InvalidArgument("refresh_token is required".into()));
    }
    let result = client
        .refresh(refresh_token, scopes)
        .await
        .map_err(|e| oauth_error(&cred, e))
        .and_then(|t| check_binding(&admitted, gate, &cred, &t).map(|()| t));
    record(&admitted, &cred, &result, "token refreshed");
    Ok(IssuedToken {
        token: result?,
        credential: cred.name.clone(),
    })
}

/// PushAuthorizationRequest.
pub async fn push_authorization_request(
    gate: &Gate,
    peer: &Peer,
    selection: Result<Selection, Error>,
    parameters: Vec<(String, String)>,
    signed: bool,
) -> Result<(Pushed, String), Error> {
    let (admitted, cred, client) = client_for(gate, peer, selection, Operation::Token).await?;
    let result = client
        .push_authorization_request(parameters, signed)
        .await
        .map_err(|e| oauth_error(&cred, e));
    let event = match &result {
        Ok(p) => AuditEvent::default().detail(format!(
            "authorization request pushed{}, expires in {} s",
            if signed {
                " as a signed request object"
            } else {
                ""
            },
            p.expires_in
        )),
        Err(e) => AuditEvent::default().detail(format!("authorization request: {e}")),
    };
    admitted.record(
        &cred,
        if result.is_ok() {
            Outcome::Ok
        } else {
            Outcome::Error
        },
        AuditEvent {
            op: AuditOp::Token,
            ..event
        },
    );
    Ok((result?, cred.client_id().to_owned()))
}
