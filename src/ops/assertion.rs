//! SignClientAssertion: a fresh `private_key_jwt` client assertion.

use super::{Error, Gate, Peer, Selection};
use crate::access::audit::{AuditEvent, AuditOp, Outcome};
use crate::config::Operation;
use crate::jose::assertion::{self, AssertionError, Signed, Signer};

/// What a caller asks for.
#[derive(Debug, Clone)]
pub struct AssertionRequest {
    /// Which credential signs.
    pub credential: Selection,
    /// `aud`; `None` means the configured issuer.
    pub audience: Option<String>,
    /// Lifetime; `None` means the configured default.
    pub lifetime_seconds: Option<u32>,
    /// Additional claims, a JSON object (empty: none).
    pub extra_claims_json: String,
}

/// A signed assertion and the credential that signed it.
#[derive(Debug, Clone)]
pub struct SignedAssertion {
    /// The assertion and its facts.
    pub signed: Signed,
    /// The credential's name.
    pub credential: String,
}

/// Signs a fresh client assertion for `req` (as the front end decoded it:
/// a malformed request is refused after admission, like any other).
pub async fn sign(
    gate: &Gate,
    peer: &Peer,
    req: Result<AssertionRequest, Error>,
) -> Result<SignedAssertion, Error> {
    let admitted = gate.admit(peer, AuditOp::Sign)?;
    let req = req?;
    let registry = gate.daemon().registry();
    let cred = registry.select(&req.credential.by, req.credential.kid.as_deref())?;
    admitted.authorize(&registry, &cred, Operation::Sign)?;
    // An authorized request that fails, on its own claims or in signing,
    // is audited as an error.
    let signed = async {
        let params = assertion::Request {
            audience: req.audience,
            lifetime_seconds: req.lifetime_seconds,
            extra_claims: assertion::parse_extra_claims(&req.extra_claims_json)
                .map_err(invalid)?,
        };
        let facts = cred.facts()?;
        let signer = Signer {
            credential: &cred.name,
            client_id: cred.client_id(),
            issuer: &cred.config.issuer,
            config: &cred.config.assertion,
            alg: facts.alg,
            kid: facts.jwk.thumbprint(),
            x5t_s256: &facts.x5t_s256,
        };
        assertion::check(&signer, &params).map_err(invalid)?;
        let key = cred
            .key()?
            .ready()
            .await
            .map_err(|e| cred.key_failure(e))?;
        assertion::sign(&signer, params, &key)
            .await
            .map_err(|e| match e {
                AssertionError::Invalid(m) => Error::InvalidArgument(m),
                AssertionError::Key(k) => Error::from_signing(k),
            })
    }
    .await
    .inspect_err(|e| {
        tracing::info!(caller = %admitted.caller(), credential = %cred.name, error = %e, "assertion refused");
        admitted.record(&cred, Outcome::Error, AuditEvent::default().detail(e.to_string()));
    })?;
    admitted.record(
        &cred,
        Outcome::Ok,
        AuditEvent {
            kid: Some(signed.kid.clone()),
            jti: Some(signed.jti.clone()),
            aud: Some(signed.audience.clone()),
            exp: Some(signed.expires_at),
            ..Default::default()
        },
    );
    // Per-request success is debug: at volume, a synchronous log line per
    // assertion costs more than the signature. The audit log is the record.
    tracing::debug!(
        caller = %admitted.caller(), credential = %cred.name, kid = %signed.kid, jti = %signed.jti,
        aud = %signed.audience, exp = signed.expires_at, "client assertion signed"
    );
    Ok(SignedAssertion {
        signed,
        credential: cred.name.clone(),
    })
}

fn invalid(e: AssertionError) -> Error {
    match e {
        AssertionError::Invalid(m) => Error::InvalidArgument(m),
        AssertionError::Key(k) => Error::Internal(k.to_string()),
    }
}
