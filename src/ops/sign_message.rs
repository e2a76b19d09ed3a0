//! Message signatures (policy operation `sign_message`): the UK Open
//! Banking detached JWS of a request body, the Open Finance Brasil
//! signed body, RFC 9421 request signatures (FAPI 2.0) and Berlin Group
//! request signatures. The caller gives the body (and the profile, or `aud`);
//! every header field and reserved claim is the daemon's, from the
//! credential's `[ob_uk]` or `[open_finance_brasil]` table and its key.

use super::{Error, Gate, Peer, Selection};
use crate::access::audit::{AuditEvent, AuditOp, Outcome};
use crate::config::Operation;
use crate::credential::Credential;
use crate::httpsig::HttpSigError;
use crate::httpsig::cavage::{self, BgRequest, BgSigned};
use crate::httpsig::rfc9421::{self, HttpRequest};
use crate::jose::brasil::{self, BrasilError};
use crate::jose::ob_detached::{self, ObError, Version};

/// What a caller asks to have signed.
#[derive(Debug, Clone)]
pub struct ObRequest {
    /// Whose key.
    pub credential: Selection,
    /// The exact body bytes.
    pub body: Vec<u8>,
    /// Which profile's rules.
    pub version: Version,
}

/// A signature and the key that made it.
#[derive(Debug, Clone)]
pub struct ObSigned {
    /// The `x-jws-signature` value.
    pub signature: String,
    /// The key's `kid`.
    pub kid: String,
    /// The credential.
    pub credential: String,
}

/// Signs `body` for `cred` (authorized by the caller): shared by the RPC
/// and the egress proxy.
pub async fn sign_ob_body(
    cred: &Credential,
    version: Version,
    body: &[u8],
) -> Result<ObSigned, Error> {
    let ob = cred.config.ob_uk.as_ref().ok_or_else(|| {
        Error::FailedPrecondition(format!(
            "credential {:?} has no [credentials.{}.ob_uk] table (iss, tan): it signs no UK \
             Open Banking messages",
            cred.name, cred.name
        ))
    })?;
    let facts = cred.facts()?;
    let signer = ob_detached::Signer {
        credential: &cred.name,
        alg: facts.alg,
        kid: facts.jwk.thumbprint(),
        iss: &ob.iss,
        tan: &ob.tan,
        max_body_bytes: ob.max_body_bytes,
    };
    ob_detached::check(&signer, body).map_err(ob_error)?;
    let key = cred.key()?.ready().await.map_err(|e| cred.key_failure(e))?;
    let signature = ob_detached::sign(&signer, version, body, &key)
        .await
        .map_err(ob_error)?;
    Ok(ObSigned {
        signature,
        kid: signer.kid.to_owned(),
        credential: cred.name.clone(),
    })
}

fn ob_error(e: ObError) -> Error {
    match e {
        ObError::NotRsa(_) => Error::FailedPrecondition(e.to_string()),
        ObError::TooLarge { .. } => Error::InvalidArgument(e.to_string()),
        ObError::Key(k) => Error::from_signing(k),
    }
}

/// SignObDetachedJws: admission, selection, `sign_message`, audit.
pub async fn sign_ob_detached(
    gate: &Gate,
    peer: &Peer,
    req: Result<ObRequest, Error>,
) -> Result<ObSigned, Error> {
    let admitted = gate.admit(peer, AuditOp::SignMessage)?;
    let req = req?;
    let registry = gate.daemon().registry();
    let cred = registry.select(&req.credential.by, req.credential.kid.as_deref())?;
    admitted.authorize(&registry, &cred, Operation::SignMessage)?;
    let result = sign_ob_body(&cred, req.version, &req.body).await;
    let digest = openssl::sha::sha256(&req.body);
    let body_sha = digest[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    match &result {
        Ok(s) => admitted.record(
            &cred,
            Outcome::Ok,
            AuditEvent {
                kid: Some(s.kid.clone()),
                ..AuditEvent::default().detail(format!(
                    "{} over {} bytes, sha256:{body_sha}",
                    req.version.profile(),
                    req.body.len()
                ))
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

/// What a caller asks to have signed as an Open Finance Brasil body.
#[derive(Debug, Clone)]
pub struct BrasilRequest {
    /// Whose key.
    pub credential: Selection,
    /// The body's JSON object (`data`).
    pub data_json: String,
    /// The server's organisation id (`aud`).
    pub audience: String,
}

/// A signed Brasil body.
#[derive(Debug, Clone)]
pub struct BrasilSigned {
    /// The compact JWS: the request body to send.
    pub jws: String,
    /// Its `jti`.
    pub jti: String,
    /// The key's `kid`.
    pub kid: String,
}

/// SignBrasilBody: admission, selection, `sign_message`, audit.
pub async fn sign_brasil_body(
    gate: &Gate,
    peer: &Peer,
    req: Result<BrasilRequest, Error>,
) -> Result<BrasilSigned, Error> {
    let admitted = gate.admit(peer, AuditOp::SignMessage)?;
    let req = req?;
    let registry = gate.daemon().registry();
    let cred = registry.select(&req.credential.by, req.credential.kid.as_deref())?;
    admitted.authorize(&registry, &cred, Operation::SignMessage)?;
    let result: Result<BrasilSigned, Error> = async {
        let cfg = cred.config.open_finance_brasil.as_ref().ok_or_else(|| {
            Error::FailedPrecondition(format!(
                "credential {:?} has no [credentials.{}.open_finance_brasil] table (iss): it \
                 signs no Open Finance Brasil bodies",
                cred.name, cred.name
            ))
        })?;
        let facts = cred.facts()?;
        let signer = brasil::Signer {
            credential: &cred.name,
            alg: facts.alg,
            kid: facts.jwk.thumbprint(),
            iss: &cfg.iss,
            max_body_bytes: cfg.max_body_bytes,
        };
        brasil::check(&signer, &req.data_json, &req.audience).map_err(brasil_error)?;
        let key = cred.key()?.ready().await.map_err(|e| cred.key_failure(e))?;
        let (jws, jti) = brasil::sign(&signer, &req.data_json, &req.audience, &key)
            .await
            .map_err(brasil_error)?;
        Ok(BrasilSigned {
            jws,
            jti,
            kid: signer.kid.to_owned(),
        })
    }
    .await;
    match &result {
        Ok(s) => admitted.record(
            &cred,
            Outcome::Ok,
            AuditEvent {
                kid: Some(s.kid.clone()),
                jti: Some(s.jti.clone()),
                aud: Some(req.audience.clone()),
                ..AuditEvent::default().detail("open-finance-brasil body")
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

fn brasil_error(e: BrasilError) -> Error {
    match e {
        BrasilError::Invalid(m) if m.contains("non-RSA") => Error::FailedPrecondition(m),
        BrasilError::Invalid(m) => Error::InvalidArgument(m),
        BrasilError::Key(k) => Error::from_signing(k),
    }
}

fn http_sig_error(e: HttpSigError) -> Error {
    match e {
        HttpSigError::Invalid(_) | HttpSigError::TooLarge { .. } => {
            Error::InvalidArgument(e.to_string())
        }
        HttpSigError::UnsuitableKey(_) => Error::FailedPrecondition(e.to_string()),
        HttpSigError::Unverified(_) => Error::Unverified(e.to_string()),
        HttpSigError::Key(k) => Error::from_signing(k),
    }
}

/// The RFC 9421 signature of `req` by `cred` (authorized by the caller):
/// shared by the RPC and the egress proxy.
pub async fn http_request_signature(
    cred: &Credential,
    req: &HttpRequest,
) -> Result<(rfc9421::Signed, String), Error> {
    let facts = cred.facts()?;
    let kid = facts.jwk.thumbprint().to_owned();
    let max = cred.config.http_signatures.max_body_bytes;
    req.check(max).map_err(http_sig_error)?;
    let key = cred.key()?.ready().await.map_err(|e| cred.key_failure(e))?;
    let signed = rfc9421::sign(req, facts.alg, &kid, max, &key)
        .await
        .map_err(http_sig_error)?;
    Ok((signed, kid))
}

/// What a caller asks to have signed under RFC 9421.
#[derive(Debug, Clone)]
pub struct HttpSignRequest {
    /// Whose key.
    pub credential: Selection,
    /// The request.
    pub request: HttpRequest,
}

/// SignHttpRequest: admission, selection, `sign_message`, audit.
pub async fn sign_http_request(
    gate: &Gate,
    peer: &Peer,
    req: Result<HttpSignRequest, Error>,
) -> Result<(rfc9421::Signed, String), Error> {
    let admitted = gate.admit(peer, AuditOp::SignMessage)?;
    let req = req?;
    let registry = gate.daemon().registry();
    let cred = registry.select(&req.credential.by, req.credential.kid.as_deref())?;
    admitted.authorize(&registry, &cred, Operation::SignMessage)?;
    let result = http_request_signature(&cred, &req.request).await;
    match &result {
        Ok((s, kid)) => admitted.record(
            &cred,
            Outcome::Ok,
            AuditEvent {
                kid: Some(kid.clone()),
                ..AuditEvent::default().detail(format!(
                    "rfc9421 {} {} {} over {} bytes, {}",
                    s.alg.as_str(),
                    req.request.method,
                    crate::net::redact_query(
                        &s.target_uri
                            .parse()
                            .unwrap_or_else(|_| http::Uri::from_static("/"))
                    ),
                    req.request.body.len(),
                    s.covered.join(" ")
                ))
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

/// The Berlin Group signature of `req` by `cred` (authorized by the
/// caller): shared by the RPC and the egress proxy.
pub async fn berlin_group_signature(cred: &Credential, req: &BgRequest) -> Result<BgSigned, Error> {
    let facts = cred.facts()?;
    let max = cred.config.http_signatures.max_body_bytes;
    if facts.alg != crate::jose::Alg::Ps256 {
        return Err(Error::FailedPrecondition(format!(
            "credential {:?} has a non-RSA key: Berlin Group signatures are rsa-sha256 (use the \
             QSealC's RSA key)",
            cred.name
        )));
    }
    req.check(max).map_err(http_sig_error)?;
    let key = cred.key()?.ready().await.map_err(|e| cred.key_failure(e))?;
    let key_id = facts.berlin_group_key_id.as_deref().map_err(|e| {
        http_sig_error(HttpSigError::Invalid(format!(
            "the credential's certificate: {e}"
        )))
    })?;
    cavage::sign(req, facts.alg, key_id, &facts.chain_der[0], max, &key)
        .await
        .map_err(http_sig_error)
}

/// What a caller asks to have signed for a Berlin Group bank.
#[derive(Debug, Clone)]
pub struct BgSignRequest {
    /// Whose key (its certificate is the QSealC).
    pub credential: Selection,
    /// The request; an empty `x_request_id` is made here.
    pub request: BgRequest,
}

/// SignBerlinGroupRequest: admission, selection, `sign_message`, audit.
pub async fn sign_berlin_group(
    gate: &Gate,
    peer: &Peer,
    req: Result<BgSignRequest, Error>,
) -> Result<BgSigned, Error> {
    let admitted = gate.admit(peer, AuditOp::SignMessage)?;
    let mut req = req?;
    let registry = gate.daemon().registry();
    let cred = registry.select(&req.credential.by, req.credential.kid.as_deref())?;
    admitted.authorize(&registry, &cred, Operation::SignMessage)?;
    if req.request.x_request_id.is_empty() {
        req.request.x_request_id = uuid::Uuid::new_v4().to_string();
    }
    let result = berlin_group_signature(&cred, &req.request).await;
    match &result {
        Ok(s) => admitted.record(
            &cred,
            Outcome::Ok,
            AuditEvent::default().detail(format!(
                "berlin-group x-request-id {} over {} bytes, {}",
                s.x_request_id,
                req.request.body.len(),
                s.signed_headers.join(" ")
            )),
        ),
        Err(e) => admitted.record(
            &cred,
            Outcome::Error,
            AuditEvent::default().detail(e.to_string()),
        ),
    }
    result
}
