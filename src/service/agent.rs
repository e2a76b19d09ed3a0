//! The `Agent` service: decode, call [`crate::ops`], encode.

use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{convert, pb, peer};
use crate::jose::assertion::ASSERTION_TYPE;
use crate::ops::{self, Error, Gate};
use crate::secret::SecretBytes;

/// Serves `fapi_agent.v1.Agent`.
pub struct AgentService {
    gate: Gate,
}

impl AgentService {
    /// A service behind `gate`.
    pub fn new(gate: Gate) -> Self {
        Self { gate }
    }
}

#[tonic::async_trait]
impl pb::agent_server::Agent for AgentService {
    type WatchCredentialsStream = ReceiverStream<Result<pb::CredentialEvent, Status>>;

    async fn watch_credentials(
        &self,
        request: Request<pb::WatchCredentialsRequest>,
    ) -> Result<Response<Self::WatchCredentialsStream>, Status> {
        let peer = peer::of_request(&request);
        let client_id = Some(request.into_inner().client_id).filter(|c| !c.is_empty());
        let mut items = ops::watch::watch(&self.gate, &peer, client_id).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        tokio::spawn(async move {
            loop {
                // Ends when the watcher goes (which ends the watch below).
                let item = tokio::select! {
                    () = tx.closed() => return,
                    item = items.recv() => match item {
                        Some(i) => i,
                        None => return,
                    },
                };
                let event = match item {
                    ops::watch::WatchItem::Snapshot {
                        credentials,
                        observed_at,
                    } => pb::CredentialEvent {
                        kind: pb::CredentialEventKind::Snapshot.into(),
                        snapshot: credentials.into_iter().map(convert::credential).collect(),
                        observed_at,
                        credential: None,
                    },
                    ops::watch::WatchItem::Event(e) => {
                        let e = *e;
                        pb::CredentialEvent {
                            kind: convert::event_kind(e.kind).into(),
                            credential: Some(convert::credential(e.credential)),
                            snapshot: Vec::new(),
                            observed_at: e.observed_at,
                        }
                    }
                    ops::watch::WatchItem::Lagged { observed_at } => pb::CredentialEvent {
                        kind: pb::CredentialEventKind::Lagged.into(),
                        observed_at,
                        ..Default::default()
                    },
                };
                if tx.send(Ok(event)).await.is_err() {
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
        let peer = peer::of_request(&request);
        let req = request.into_inner();
        let decoded =
            convert::selection(req.credential).map(|credential| ops::assertion::AssertionRequest {
                credential,
                audience: (!req.audience.is_empty()).then_some(req.audience),
                lifetime_seconds: (req.lifetime_seconds != 0).then_some(req.lifetime_seconds),
                extra_claims_json: req.extra_claims_json,
            });
        let out = ops::assertion::sign(&self.gate, &peer, decoded).await?;
        Ok(Response::new(pb::SignClientAssertionResponse {
            assertion: out.signed.token,
            assertion_type: ASSERTION_TYPE.to_owned(),
            kid: out.signed.kid,
            jti: out.signed.jti,
            expires_at: out.signed.expires_at,
            alg: out.signed.alg.as_str().to_owned(),
            credential: out.credential,
        }))
    }

    async fn decrypt_secret(
        &self,
        request: Request<pb::DecryptSecretRequest>,
    ) -> Result<Response<pb::DecryptSecretResponse>, Status> {
        let peer = peer::of_request(&request);
        let req = request.into_inner();
        let decoded = (|| {
            let credential = convert::selection(req.credential)?;
            let padding = convert::padding(req.padding)?;
            let ciphertext = match req.ciphertext {
                Some(pb::decrypt_secret_request::Ciphertext::CiphertextRaw(b)) if !b.is_empty() => {
                    b
                }
                Some(pb::decrypt_secret_request::Ciphertext::CiphertextBase64(t))
                    if !t.is_empty() =>
                {
                    ops::decrypt::decode_base64(&t)?
                }
                _ => {
                    return Err(Error::InvalidArgument(
                        "ciphertext is required: set ciphertext_raw or ciphertext_base64".into(),
                    ));
                }
            };
            Ok(ops::decrypt::DecryptRequest {
                credential,
                padding,
                ciphertext,
            })
        })();
        let plaintext = ops::decrypt::decrypt_secret(&self.gate, &peer, decoded).await?;
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
        let peer = peer::of_request(&request);
        let selection = convert::selection(request.into_inner().credential);
        let out = ops::read::get_credential(&self.gate, &peer, selection).await?;
        Ok(Response::new(convert::credential(out)))
    }

    async fn list_credentials(
        &self,
        request: Request<pb::ListCredentialsRequest>,
    ) -> Result<Response<pb::ListCredentialsResponse>, Status> {
        let peer = peer::of_request(&request);
        let list = ops::read::list_credentials(&self.gate, &peer).await?;
        Ok(Response::new(pb::ListCredentialsResponse {
            credentials: list.into_iter().map(convert::credential).collect(),
        }))
    }

    async fn get_key_material(
        &self,
        request: Request<pb::GetKeyMaterialRequest>,
    ) -> Result<Response<pb::GetKeyMaterialResponse>, Status> {
        let peer = peer::of_request(&request);
        let req = request.into_inner();
        let passphrase = SecretBytes::new(req.export_passphrase);
        let format = match pb::KeyFormat::try_from(req.format) {
            Ok(pb::KeyFormat::EncryptedPkcs8Pem) => ops::export::ExportFormat::EncryptedPkcs8Pem,
            _ => ops::export::ExportFormat::Pkcs8Pem,
        };
        let decoded =
            convert::selection(req.credential).map(|credential| ops::export::ExportRequest {
                credential,
                format,
                passphrase,
            });
        let out = ops::export::get_key_material(&self.gate, &peer, decoded).await?;
        Ok(Response::new(pb::GetKeyMaterialResponse {
            private_key_pem: out.private_key_pem.into_unprotected_vec(),
            certificate_chain_pem: out.certificate_chain_pem,
            kid: out.kid,
        }))
    }
}
