//! The `Agent` service: assertions, decryption, public facts, export.

use std::sync::Arc;

use openssl::symm::Cipher;
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{credential_to_pb, pb, selector};
use crate::assertion::{self, ASSERTION_TYPE};
use crate::audit::AuditEvent;
use crate::config::{Operation, PaddingName};
use crate::daemon::Daemon;
use crate::error::Error;
use crate::rsa_decrypt;
use crate::secret::{MAX_PASSPHRASE_LEN, SecretBytes};
use crate::sys::cpu;

/// Serves `fapi_agent.v1.Agent` from the daemon's current registry.
pub struct AgentService {
    daemon: Arc<Daemon>,
}

impl AgentService {
    /// A service over `daemon`'s credentials.
    pub fn new(daemon: Arc<Daemon>) -> Self {
        Self { daemon }
    }
}

#[tonic::async_trait]
impl pb::agent_server::Agent for AgentService {
    type WatchCredentialsStream = ReceiverStream<Result<pb::CredentialEvent, Status>>;

    async fn watch_credentials(
        &self,
        request: Request<pb::WatchCredentialsRequest>,
    ) -> Result<Response<Self::WatchCredentialsStream>, Status> {
        let caller = self.daemon.admit(&request, "watch")?;
        let filter = Some(request.into_inner().client_id).filter(|c| !c.is_empty());
        // Subscribe before taking the snapshot, so no change falls between.
        let mut events = self.daemon.subscribe();
        let daemon = Arc::clone(&self.daemon);
        // A small per-watcher queue: a slow reader fills it, then its
        // broadcast receiver falls behind and it is told LAGGED; nobody waits.
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tracing::info!(%caller, client_id = ?filter, "watcher connected");
        tokio::spawn(async move {
            let snapshot = |d: &Daemon| {
                Ok(pb::CredentialEvent {
                    kind: pb::CredentialEventKind::Snapshot.into(),
                    snapshot: d.snapshot_for(&caller, filter.as_deref()),
                    observed_at: crate::now_unix(),
                    credential: None,
                })
            };
            if tx.send(snapshot(&daemon)).await.is_err() {
                return;
            }
            loop {
                let next = tokio::select! {
                    () = tx.closed() => return,
                    next = events.recv() => next,
                };
                let sent = match next {
                    Ok(e)
                        if filter.as_ref().is_none_or(|c| *c == e.credential.client_id)
                            && daemon.may_see(&caller, &e) =>
                    {
                        tx.send(Ok(pb::CredentialEvent {
                            kind: e.kind.into(),
                            credential: Some(e.credential),
                            snapshot: Vec::new(),
                            observed_at: e.observed_at,
                        }))
                        .await
                    }
                    Ok(_) => Ok(()),
                    Err(RecvError::Lagged(missed)) => {
                        tracing::info!(%caller, missed, "watcher lagged: sending a fresh snapshot");
                        let lagged = pb::CredentialEvent {
                            kind: pb::CredentialEventKind::Lagged.into(),
                            observed_at: crate::now_unix(),
                            ..Default::default()
                        };
                        match tx.send(Ok(lagged)).await {
                            Ok(()) => tx.send(snapshot(&daemon)).await,
                            Err(e) => Err(e),
                        }
                    }
                    Err(RecvError::Closed) => return,
                };
                if sent.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn sign_client_assertion(
        &self,
        request: Request<pb::SignClientAssertionRequest>,
    ) -> Result<Response<pb::SignClientAssertionResponse>, Status> {
        let caller = self.daemon.admit(&request, "sign")?;
        let req = request.into_inner();
        let (sel, kid) = selector(req.credential)?;
        let cred = self.daemon.registry().select(&sel, kid.as_deref())?;
        self.daemon.authorize(&caller, &cred, Operation::Sign)?;
        // An authorized request that fails, on its own claims or in
        // signing, is audited as an error.
        let signed = async {
            let params = assertion::Request {
                audience: (!req.audience.is_empty()).then_some(req.audience),
                lifetime_seconds: (req.lifetime_seconds != 0).then_some(req.lifetime_seconds),
                extra_claims: assertion::parse_extra_claims(&req.extra_claims_json)?,
            };
            assertion::sign(&cred, params).await
        }
        .await
        .inspect_err(|e| {
            tracing::info!(%caller, credential = %cred.name, error = %e, "assertion refused");
            self.daemon.audit(AuditEvent {
                op: "sign".into(),
                outcome: "error".into(),
                caller: Some((&caller).into()),
                credential: Some(cred.name.clone()),
                detail: Some(e.to_string()),
                ..Default::default()
            });
        })?;
        self.daemon.audit(AuditEvent {
            op: "sign".into(),
            outcome: "ok".into(),
            caller: Some((&caller).into()),
            credential: Some(cred.name.clone()),
            kid: Some(signed.kid.clone()),
            jti: Some(signed.jti.clone()),
            aud: Some(signed.audience.clone()),
            exp: Some(signed.expires_at),
            detail: None,
        });
        // Per-request success is debug: at volume, a synchronous log line per
        // assertion costs more than the signature. The audit log is the record.
        tracing::debug!(
            %caller, credential = %cred.name, kid = %signed.kid, jti = %signed.jti,
            aud = %signed.audience, exp = signed.expires_at, "client assertion signed"
        );
        Ok(Response::new(pb::SignClientAssertionResponse {
            assertion: signed.token,
            assertion_type: ASSERTION_TYPE.to_owned(),
            kid: signed.kid,
            jti: signed.jti,
            expires_at: signed.expires_at,
            alg: signed.alg.as_str().to_owned(),
            credential: cred.name.clone(),
        }))
    }

    async fn decrypt_secret(
        &self,
        request: Request<pb::DecryptSecretRequest>,
    ) -> Result<Response<pb::DecryptSecretResponse>, Status> {
        let caller = self.daemon.admit(&request, "decrypt")?;
        let req = request.into_inner();
        let (sel, kid) = selector(req.credential)?;
        let padding = match pb::Padding::try_from(req.padding) {
            Ok(pb::Padding::Pkcs1V15) => PaddingName::Pkcs1V15,
            Ok(pb::Padding::OaepSha1) => PaddingName::OaepSha1,
            Ok(pb::Padding::OaepSha256) => PaddingName::OaepSha256,
            _ => {
                return Err(Error::InvalidArgument(
                    "padding is required: PADDING_OAEP_SHA256, PADDING_OAEP_SHA1 or PADDING_PKCS1_V15"
                        .into(),
                )
                .into());
            }
        };
        let ciphertext = match req.ciphertext {
            Some(pb::decrypt_secret_request::Ciphertext::CiphertextRaw(b)) if !b.is_empty() => b,
            Some(pb::decrypt_secret_request::Ciphertext::CiphertextBase64(t)) if !t.is_empty() => {
                rsa_decrypt::decode_base64(&t)?
            }
            _ => {
                return Err(Error::InvalidArgument(
                    "ciphertext is required: set ciphertext_raw or ciphertext_base64".into(),
                )
                .into());
            }
        };
        let cred = self.daemon.registry().select(&sel, kid.as_deref())?;
        self.daemon.authorize(&caller, &cred, Operation::Decrypt)?;
        let result = rsa_decrypt::decrypt(&cred, ciphertext, padding).await;
        self.daemon.audit(AuditEvent {
            op: "decrypt".into(),
            outcome: if result.is_ok() { "ok" } else { "error" }.into(),
            caller: Some((&caller).into()),
            credential: Some(cred.name.clone()),
            kid: cred.facts().ok().map(|f| f.jwk.thumbprint().to_owned()),
            detail: result.as_ref().err().map(ToString::to_string),
            ..Default::default()
        });
        let plaintext = result?;
        tracing::debug!(%caller, credential = %cred.name, ?padding, "shared secret decrypted");
        Ok(Response::new(pb::DecryptSecretResponse {
            // The message is encoded and dropped by tonic; prost offers no
            // wiping container, a limit documented in docs/security.md.
            plaintext: plaintext.into_unprotected_vec(),
        }))
    }

    async fn get_credential(
        &self,
        request: Request<pb::GetCredentialRequest>,
    ) -> Result<Response<pb::Credential>, Status> {
        let caller = self.daemon.admit(&request, "read")?;
        let (sel, kid) = selector(request.into_inner().credential)?;
        let registry = self.daemon.registry();
        let cred = registry.select(&sel, kid.as_deref())?;
        self.daemon.authorize(&caller, &cred, Operation::Read)?;
        let mut out = credential_to_pb(&cred);
        // Public keys only: they are registered at the authorization server
        // anyway, so a reader of one credential may see its client's others.
        let siblings: Vec<pb::Credential> = registry
            .all()
            .filter(|c| c.client_id() == cred.client_id())
            .map(|c| credential_to_pb(c))
            .collect();
        out.client_jwks_json = super::live_jwks(&siblings, crate::now_unix()).to_string();
        Ok(Response::new(out))
    }

    async fn list_credentials(
        &self,
        request: Request<pb::ListCredentialsRequest>,
    ) -> Result<Response<pb::ListCredentialsResponse>, Status> {
        let caller = self.daemon.admit(&request, "read")?;
        Ok(Response::new(pb::ListCredentialsResponse {
            credentials: self.daemon.snapshot_for(&caller, None),
        }))
    }

    async fn get_key_material(
        &self,
        request: Request<pb::GetKeyMaterialRequest>,
    ) -> Result<Response<pb::GetKeyMaterialResponse>, Status> {
        let caller = self.daemon.admit(&request, "export")?;
        let req = request.into_inner();
        let (sel, kid) = selector(req.credential)?;
        let cred = self.daemon.registry().select(&sel, kid.as_deref())?;
        self.daemon.authorize(&caller, &cred, Operation::Export)?;
        if !cred.config.export {
            tracing::warn!(%caller, credential = %cred.name, "key export refused: export is off");
            let e = Error::ExportDisabled(cred.name.clone());
            self.daemon.audit(AuditEvent {
                op: "export".into(),
                outcome: "denied".into(),
                caller: Some((&caller).into()),
                credential: Some(cred.name.clone()),
                detail: Some(e.to_string()),
                ..Default::default()
            });
            return Err(e.into());
        }
        let exported: Result<pb::GetKeyMaterialResponse, Error> = async {
            let format = pb::KeyFormat::try_from(req.format).unwrap_or(pb::KeyFormat::Unspecified);
            let export_pass = SecretBytes::new(req.export_passphrase);
            let encrypt = match format {
                pb::KeyFormat::Unspecified | pb::KeyFormat::Pkcs8Pem => false,
                pb::KeyFormat::EncryptedPkcs8Pem => {
                    let n = export_pass.expose().len();
                    if !(8..=MAX_PASSPHRASE_LEN).contains(&n) || export_pass.expose().contains(&0) {
                        return Err(Error::InvalidArgument(format!(
                            "export_passphrase must be 8 to {MAX_PASSPHRASE_LEN} bytes with no NUL"
                        )));
                    }
                    true
                }
            };
            let facts = cred.facts()?;
            let unlocked = cred.unlocked().await?;
            let pem = cpu::run(move || {
                let key = unlocked.open()?;
                if encrypt {
                    key.private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), export_pass.expose())
                } else {
                    key.private_key_to_pem_pkcs8()
                }
                .map(SecretBytes::new)
            })
            .await
            .map_err(|e| Error::Internal(format!("key export failed: {e}")))?;
            tracing::warn!(
                %caller, credential = %cred.name, kid = %facts.jwk.thumbprint(), encrypted = encrypt,
                "PRIVATE KEY EXPORTED"
            );
            self.daemon.audit(AuditEvent {
                op: "export".into(),
                outcome: "ok".into(),
                caller: Some((&caller).into()),
                credential: Some(cred.name.clone()),
                kid: Some(facts.jwk.thumbprint().to_owned()),
                detail: Some(
                    if encrypt {
                        "encrypted PKCS#8"
                    } else {
                        "PKCS#8"
                    }
                    .into(),
                ),
                ..Default::default()
            });
            Ok(pb::GetKeyMaterialResponse {
                private_key_pem: pem.into_unprotected_vec(),
                certificate_chain_pem: facts.chain_pem.clone(),
                kid: facts.jwk.thumbprint().to_owned(),
            })
        }
        .await;
        // An authorized export that then failed is on record too.
        if let Err(e) = &exported {
            self.daemon.audit(AuditEvent {
                op: "export".into(),
                outcome: "error".into(),
                caller: Some((&caller).into()),
                credential: Some(cred.name.clone()),
                detail: Some(e.to_string()),
                ..Default::default()
            });
        }
        Ok(Response::new(exported?))
    }
}
