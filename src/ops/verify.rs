//! Checking what others signed, with public keys only: a resource
//! server's RFC 9421 response signature (policy operation `read`: the
//! credential's public configuration) and a JARM authorization response
//! (operation `token`: it is part of the credential's OAuth flow).

use std::collections::BTreeMap;

use super::{Error, Gate, Peer, Selection};
use crate::access::audit::{AuditEvent, AuditOp, Outcome};
use crate::config::Operation;
use crate::credential::Credential;
use crate::httpsig::HttpSigError;
use crate::httpsig::rfc9421::{self, HttpRequest, ResponseKey, VerifiedResponse};
use crate::jose::jarm::{self, JarmError};

/// A response to check against the request it answers.
#[derive(Debug, Clone)]
pub struct ResponseCheck {
    /// Whose configuration names the server's keys.
    pub credential: Selection,
    /// The request as sent.
    pub request: HttpRequest,
    /// The response status.
    pub status: u16,
    /// The response headers.
    pub headers: Vec<(String, String)>,
    /// The response body.
    pub body: Vec<u8>,
}

/// The server's response-signing keys configured for `cred`.
pub async fn response_keys(cred: &Credential) -> Result<Vec<ResponseKey>, Error> {
    let path = cred
        .config
        .http_signatures
        .response_jwks
        .as_ref()
        .ok_or_else(|| {
            Error::FailedPrecondition(format!(
                "credential {:?} has no http_signatures.response_jwks: name the JWKS file of \
                 the resource server's response-signing keys",
                cred.name
            ))
        })?;
    let doc = tokio::fs::read(path).await.map_err(|e| {
        Error::FailedPrecondition(format!(
            "http_signatures.response_jwks {}: {e}",
            path.display()
        ))
    })?;
    let keys = crate::jose::jwks::parse(&doc).map_err(|e| {
        Error::FailedPrecondition(format!(
            "http_signatures.response_jwks {}: {e}",
            path.display()
        ))
    })?;
    Ok(keys
        .into_iter()
        .map(|k| ResponseKey {
            keyids: k.kid.into_iter().chain([k.thumbprint]).collect(),
            key: k.key,
        })
        .collect())
}

/// Checks `check` for `cred` (authorized by the caller): shared by the RPC
/// and the egress proxy.
pub async fn check_response(
    cred: &Credential,
    request: &HttpRequest,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<VerifiedResponse, Error> {
    let keys = response_keys(cred).await?;
    let resp = rfc9421::HttpResponse {
        status,
        headers,
        body,
        request,
    };
    rfc9421::verify_response(&resp, &keys, crate::now_unix()).map_err(|e| match e {
        HttpSigError::Invalid(_) | HttpSigError::TooLarge { .. } => {
            Error::InvalidArgument(e.to_string())
        }
        _ => Error::Unverified(e.to_string()),
    })
}

/// VerifyHttpResponse: admission, selection, `read`, audit.
pub async fn verify_http_response(
    gate: &Gate,
    peer: &Peer,
    req: Result<ResponseCheck, Error>,
) -> Result<VerifiedResponse, Error> {
    let admitted = gate.admit(peer, AuditOp::Verify)?;
    let req = req?;
    let registry = gate.daemon().registry();
    let cred = registry.select(&req.credential.by, req.credential.kid.as_deref())?;
    admitted.authorize(&registry, &cred, Operation::Read)?;
    let result = check_response(&cred, &req.request, req.status, &req.headers, &req.body).await;
    match &result {
        Ok(v) => admitted.record(
            &cred,
            Outcome::Ok,
            AuditEvent::default()
                .detail(format!("rfc9421 response {} by {:?}", req.status, v.keyid)),
        ),
        Err(e) => admitted.record(
            &cred,
            Outcome::Error,
            AuditEvent::default().detail(e.to_string()),
        ),
    }
    result
}

/// A verified JARM response.
#[derive(Debug, Clone)]
pub struct JarmVerified {
    /// The authorization response parameters.
    pub parameters: BTreeMap<String, String>,
    /// The AS key.
    pub kid: String,
    /// Its algorithm.
    pub alg: &'static str,
}

/// VerifyJarmResponse: admission, selection, `token`, audit.
pub async fn verify_jarm(
    gate: &Gate,
    peer: &Peer,
    credential: Result<Selection, Error>,
    response: &str,
) -> Result<JarmVerified, Error> {
    let admitted = gate.admit(peer, AuditOp::Verify)?;
    let selection = credential?;
    let registry = gate.daemon().registry();
    let cred = registry.select(&selection.by, selection.kid.as_deref())?;
    admitted.authorize(&registry, &cred, Operation::Token)?;
    let result = async {
        let client = gate.daemon().oauth_client(&cred.name).ok_or_else(|| {
            Error::FailedPrecondition(format!(
                "credential {:?} has no [credentials.{}.oauth] table: its authorization \
                 server's keys are unknown",
                cred.name, cred.name
            ))
        })?;
        let oauth_error = |e| super::token::oauth_error(&cred, e);
        let issuer = &cred.config.issuer;
        let client_id = &cred.config.client_id;
        let now = crate::now_unix();
        let keys = client.server_keys(false).await.map_err(oauth_error)?;
        let verified = match jarm::verify(response, &keys, issuer, client_id, now) {
            // A key the held set lacks: the AS may have rotated.
            Err(JarmError::UnknownKey(_)) => {
                let keys = client.server_keys(true).await.map_err(oauth_error)?;
                jarm::verify(response, &keys, issuer, client_id, now)
            }
            other => other,
        };
        verified
            .map(|v| JarmVerified {
                parameters: v.parameters,
                kid: v.kid,
                alg: v.alg.as_str(),
            })
            .map_err(|e| match e {
                JarmError::Malformed(_) => Error::InvalidArgument(e.to_string()),
                JarmError::UnknownKey(_) | JarmError::Unverified(_) => {
                    Error::Unverified(e.to_string())
                }
            })
    }
    .await;
    match &result {
        Ok(v) => admitted.record(
            &cred,
            Outcome::Ok,
            AuditEvent {
                kid: Some(v.kid.clone()),
                ..AuditEvent::default().detail("jarm response")
            },
        ),
        Err(e) => admitted.record(
            &cred,
            Outcome::Error,
            AuditEvent::default().detail(e.to_string()),
        ),
    }
    result
}
