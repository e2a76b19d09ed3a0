//! What the systemd credential socket hands a unit: the rule for the
//! `LoadCredential=` ID decides the credential, the kind of value and the
//! units that may have it; every delivery and refusal is on record.
//!
//! The front end (`credsock/`) has established that the peer is the system
//! manager and which unit and ID it asks for; this layer decides.

use super::{Error, Gate};
use crate::access::audit::{AuditEvent, AuditOp, Outcome};
use crate::config::Serve;
use crate::credential::{Snapshot, live_jwks};
use crate::oauth::{Binding, TokenRequest};
use crate::secret::SecretBytes;
use crate::sys::cpu;

/// One value for one unit.
#[derive(Debug)]
pub struct Delivery {
    /// What is written to the unit's credential file.
    pub bytes: SecretBytes,
    /// What it is.
    pub what: Serve,
    /// The credential it came from.
    pub credential: String,
}

/// The value `unit` asked for under `id`, if a rule gives it to that unit.
pub async fn deliver(gate: &Gate, unit: &str, id: &str) -> Result<Delivery, Error> {
    let daemon = gate.daemon();
    let rules = daemon.credsock_config();
    let refused = |e: Error, credential: Option<&str>| {
        let mut event = AuditEvent::new(AuditOp::SystemdCredential, outcome_of(&e))
            .detail(format!("unit {unit} id {id}: {e}"));
        if let Some(c) = credential {
            event = event.credential(c);
        }
        daemon.audit(event);
        tracing::warn!(unit, id, "systemd credential refused: {e}");
        e
    };
    let Some(rule) = rules.as_ref().as_ref().and_then(|c| c.rule(id)).cloned() else {
        return Err(refused(
            Error::FailedPrecondition(format!(
                "no [[systemd_credentials.serve]] entry has id {id:?}"
            )),
            None,
        ));
    };
    if !rule.units.iter().any(|u| u == unit) {
        return Err(refused(
            Error::PermissionDenied(format!(
                "credential id {id:?} is served to {:?}, not to {unit}",
                rule.units
            )),
            Some(&rule.credential),
        ));
    }
    let registry = daemon.registry();
    let Some(cred) = registry.get(&rule.credential).cloned() else {
        return Err(refused(
            Error::FailedPrecondition(format!("credential {:?} is not loaded", rule.credential)),
            Some(&rule.credential),
        ));
    };
    let value: Result<SecretBytes, Error> = async {
        match rule.what {
            Serve::Certificate => Ok(SecretBytes::new(
                cred.facts()?.chain_pem.clone().into_bytes(),
            )),
            Serve::Jwks => {
                let siblings: Vec<Snapshot> = registry
                    .all()
                    .filter(|c| c.client_id() == cred.client_id())
                    .map(|c| c.snapshot())
                    .collect();
                Ok(SecretBytes::new(
                    live_jwks(&siblings, crate::now_unix())
                        .to_string()
                        .into_bytes(),
                ))
            }
            Serve::AccessToken => {
                let client = daemon.oauth_client(&cred.name).ok_or_else(|| {
                    Error::FailedPrecondition(format!(
                        "credential {:?} has no [credentials.{}.oauth] table",
                        cred.name, cred.name
                    ))
                })?;
                let token = client
                    .access_token(TokenRequest::default())
                    .await
                    .map_err(|e| super::token::oauth_error(&cred, e))?;
                // A certificate-bound token is useless without the key.
                if matches!(token.binding, Binding::X5tS256(_)) && !cred.config.export {
                    return Err(Error::FailedPrecondition(format!(
                        "credential {:?} gets mTLS-bound tokens, usable only with its key, \
                         whose export is off: have the unit call through the egress proxy",
                        cred.name
                    )));
                }
                Ok(SecretBytes::new(
                    token.access_token.expose().as_bytes().to_vec(),
                ))
            }
            Serve::KeyMaterial => {
                // Checked at load too; the config may have been reloaded.
                if !cred.config.export {
                    return Err(Error::ExportDisabled(cred.name.clone()));
                }
                let key = cred.key()?.ready().await.map_err(|e| cred.key_failure(e))?;
                cpu::run(move || key.export_pkcs8_pem(None))
                    .await
                    .map_err(|e| Error::from_export(&cred.name, e))
            }
        }
    }
    .await;
    match value {
        Ok(bytes) => {
            if rule.what == Serve::KeyMaterial {
                tracing::warn!(unit, id, credential = %cred.name, "PRIVATE KEY EXPORTED to a systemd unit");
            } else {
                tracing::info!(unit, id, credential = %cred.name, what = rule.what.as_str(), "systemd credential served");
            }
            daemon.audit(
                AuditEvent::new(AuditOp::SystemdCredential, Outcome::Ok)
                    .credential(&cred.name)
                    .detail(format!("unit {unit} id {id}: {}", rule.what.as_str())),
            );
            Ok(Delivery {
                bytes,
                what: rule.what,
                credential: cred.name.clone(),
            })
        }
        Err(e) => Err(refused(e, Some(&cred.name))),
    }
}

fn outcome_of(e: &Error) -> Outcome {
    match e {
        Error::PermissionDenied(_) | Error::ExportDisabled(_) => Outcome::Denied,
        _ => Outcome::Error,
    }
}
