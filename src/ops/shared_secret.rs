//! Hmac and PasswordDigest: computations with a shared secret the daemon
//! holds (`[credentials.NAME.shared_secrets.SECRET]`, docs/standards.md
//! §10), so an app authenticates to the platform without ever holding the
//! secret. The plaintext is handed out only by DecryptSecret, where policy
//! allows that.
//!
//! Order as for every operation: admit, decode, select, authorize (policy
//! operation `hmac` or `password_digest`), then the secret's name (an
//! unauthorized caller cannot probe names), then the computation; the
//! outcome is audited with the secret's name.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Error, Gate, Peer, Selection};
use crate::access::audit::{AuditEvent, AuditOp, Outcome};
use crate::config::Operation;
use crate::credential::Credential;
use crate::keys::shared::{MacAlg, SharedKey, SharedSecretError};

/// Length of the nonce the daemon makes when the caller gives none.
pub const NONCE_LEN: usize = 16;
/// Longest nonce a caller may give.
pub const MAX_NONCE_LEN: usize = 64;
/// Longest `created` a caller may give.
const MAX_CREATED_LEN: usize = 64;

/// How a MAC is written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacEncoding {
    /// Lower-case hex.
    Hex,
    /// Standard base64 with padding.
    Base64,
    /// URL-safe base64 without padding.
    Base64Url,
}

impl MacEncoding {
    fn encode(self, bytes: &[u8]) -> String {
        match self {
            MacEncoding::Hex => hex::encode(bytes),
            MacEncoding::Base64 => STANDARD.encode(bytes),
            MacEncoding::Base64Url => URL_SAFE_NO_PAD.encode(bytes),
        }
    }
}

/// An HMAC request, as the front end decoded it.
#[derive(Debug)]
pub struct HmacRequest {
    /// The credential holding the secret.
    pub credential: Selection,
    /// The secret's name.
    pub name: String,
    /// The hash function.
    pub alg: MacAlg,
    /// The bytes to authenticate.
    pub message: Vec<u8>,
    /// How to write the MAC.
    pub encoding: MacEncoding,
}

/// An HMAC.
#[derive(Debug)]
pub struct HmacResponse {
    /// The MAC, encoded.
    pub mac: String,
    /// The credential whose secret was used.
    pub credential: String,
}

/// A PasswordDigest request, as the front end decoded it.
#[derive(Debug)]
pub struct DigestRequest {
    /// The credential holding the secret.
    pub credential: Selection,
    /// The secret's name.
    pub name: String,
    /// The raw nonce, or `None` for a fresh random one.
    pub nonce: Option<Vec<u8>>,
    /// The `wsu:Created` text, or `None` for now (UTC).
    pub created: Option<String>,
}

/// A WS-Security PasswordDigest and what it was computed over.
#[derive(Debug)]
pub struct DigestResponse {
    /// Base64(SHA-1(nonce ‖ created ‖ password)).
    pub password_digest: String,
    /// The nonce, base64.
    pub nonce: String,
    /// The `wsu:Created` text.
    pub created: String,
    /// The credential whose secret was used.
    pub credential: String,
}

/// HMAC of a message with a held shared secret.
pub async fn hmac(
    gate: &Gate,
    peer: &Peer,
    req: Result<HmacRequest, Error>,
) -> Result<HmacResponse, Error> {
    let admitted = gate.admit(peer, AuditOp::Hmac)?;
    let req = req?;
    let registry = gate.daemon().registry();
    let cred = registry.select(&req.credential.by, req.credential.kid.as_deref())?;
    admitted.authorize(&registry, &cred, Operation::Hmac)?;
    let detail = format!("shared secret {:?}, {}", req.name, req.alg.as_str());
    let result = async {
        let limit = cred
            .shared_secrets()
            .max_message_bytes(&req.name)
            .map_err(|e| error_of(&cred, e))?;
        if req.message.len() > limit {
            return Err(Error::InvalidArgument(format!(
                "the message is {} bytes, over shared secret {:?}'s max_message_bytes ({limit})",
                req.message.len(),
                req.name
            )));
        }
        let secret = secret(&cred, &req.name).await?;
        let (alg, message) = (req.alg, req.message);
        let mac = crate::sys::cpu::run(move || secret.hmac(alg, &message))
            .await
            .map_err(|e| Error::Internal(format!("HMAC: {e}")))?;
        Ok(req.encoding.encode(&mac))
    }
    .await;
    record(&admitted, &cred, &result, detail);
    Ok(HmacResponse {
        mac: result?,
        credential: cred.name.clone(),
    })
}

/// A WS-Security UsernameToken PasswordDigest with a held shared secret.
pub async fn password_digest(
    gate: &Gate,
    peer: &Peer,
    req: Result<DigestRequest, Error>,
) -> Result<DigestResponse, Error> {
    let admitted = gate.admit(peer, AuditOp::PasswordDigest)?;
    let req = req?;
    let nonce = match req.nonce {
        Some(n) if n.is_empty() || n.len() > MAX_NONCE_LEN => {
            return Err(Error::InvalidArgument(format!(
                "nonce must be 1 to {MAX_NONCE_LEN} raw bytes (or empty for a fresh one)"
            )));
        }
        Some(n) => n,
        None => {
            let mut n = vec![0u8; NONCE_LEN];
            openssl::rand::rand_bytes(&mut n)
                .map_err(|e| Error::Internal(format!("random nonce: {e}")))?;
            n
        }
    };
    let created = match req.created {
        Some(c) => {
            if c.len() > MAX_CREATED_LEN || OffsetDateTime::parse(&c, &Rfc3339).is_err() {
                return Err(Error::InvalidArgument(
                    "created must be an RFC 3339 timestamp such as 2026-01-01T12:00:00Z (or \
                     empty for now)"
                        .into(),
                ));
            }
            c
        }
        None => now_rfc3339()?,
    };
    let registry = gate.daemon().registry();
    let cred = registry.select(&req.credential.by, req.credential.kid.as_deref())?;
    admitted.authorize(&registry, &cred, Operation::PasswordDigest)?;
    let detail = format!("shared secret {:?}, created {created}", req.name);
    let result = async {
        let secret = secret(&cred, &req.name).await?;
        let digest = secret
            .password_digest(&nonce, &created)
            .map_err(|e| Error::Internal(format!("SHA-1: {e}")))?;
        Ok(STANDARD.encode(digest))
    }
    .await;
    record(&admitted, &cred, &result, detail);
    Ok(DigestResponse {
        password_digest: result?,
        nonce: STANDARD.encode(&nonce),
        created,
        credential: cred.name.clone(),
    })
}

/// The current UTC time as WS-Security writes it: RFC 3339, whole seconds,
/// `Z`.
fn now_rfc3339() -> Result<String, Error> {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&Rfc3339)
        .map_err(|e| Error::Internal(format!("formatting the time: {e}")))
}

/// The held secret, decrypted now if needed; the credential must be usable
/// (not locked, not expired).
async fn secret(cred: &Credential, name: &str) -> Result<std::sync::Arc<SharedKey>, Error> {
    let key = cred.key()?;
    cred.shared_secrets()
        .get(name, key)
        .await
        .map_err(|e| error_of(cred, e))
}

fn error_of(cred: &Credential, e: SharedSecretError) -> Error {
    match e {
        SharedSecretError::Unknown { .. } => Error::UnknownSharedSecret {
            credential: cred.name.clone(),
            source: e,
        },
        SharedSecretError::Key(k) => Error::Credential(cred.key_failure(k)),
        SharedSecretError::Source {
            source: crate::source::SourceError::Unavailable { .. },
            ..
        } => Error::Unavailable(format!("credential {:?}: {e}", cred.name)),
        other => Error::FailedPrecondition(format!("credential {:?}: {other}", cred.name)),
    }
}

fn record<T>(
    admitted: &super::Admitted<'_>,
    cred: &Credential,
    result: &Result<T, Error>,
    detail: String,
) {
    let mut event =
        AuditEvent::default().kid(cred.facts().ok().map(|f| f.jwk.thumbprint().to_owned()));
    event = match result {
        Ok(_) => event.detail(detail),
        Err(e) => event.detail(format!("{detail}: {e}")),
    };
    let outcome = if result.is_ok() {
        Outcome::Ok
    } else {
        Outcome::Error
    };
    admitted.record(cred, outcome, event);
}
