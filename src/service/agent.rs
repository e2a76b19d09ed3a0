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

    async fn get_access_token(
        &self,
        request: Request<pb::GetAccessTokenRequest>,
    ) -> Result<Response<pb::AccessToken>, Status> {
        let peer = peer::of_request(&request);
        let req = request.into_inner();
        let grant = match pb::Grant::try_from(req.grant) {
            Ok(pb::Grant::Password) => ops::token::Grant::Password,
            _ => ops::token::Grant::ClientCredentials,
        };
        let decoded =
            convert::selection(req.credential).map(|credential| ops::token::AccessTokenRequest {
                credential,
                token: crate::oauth::TokenRequest {
                    scopes: req.scopes,
                    resource: req.resource,
                    audience: (!req.audience.is_empty()).then_some(req.audience),
                    force_refresh: req.force_refresh,
                },
                grant,
            });
        let out = ops::token::get_access_token(&self.gate, &peer, decoded).await?;
        Ok(Response::new(convert::access_token(out)))
    }

    async fn exchange_authorization_code(
        &self,
        request: Request<pb::ExchangeAuthorizationCodeRequest>,
    ) -> Result<Response<pb::AccessToken>, Status> {
        let peer = peer::of_request(&request);
        let req = request.into_inner();
        let out = ops::token::exchange_code(
            &self.gate,
            &peer,
            convert::selection(req.credential),
            &req.code,
            &req.code_verifier,
            &req.redirect_uri,
        )
        .await?;
        Ok(Response::new(convert::access_token(out)))
    }

    async fn refresh_access_token(
        &self,
        request: Request<pb::RefreshAccessTokenRequest>,
    ) -> Result<Response<pb::AccessToken>, Status> {
        let peer = peer::of_request(&request);
        let req = request.into_inner();
        let out = ops::token::refresh(
            &self.gate,
            &peer,
            convert::selection(req.credential),
            &req.refresh_token,
            &req.scopes,
        )
        .await?;
        Ok(Response::new(convert::access_token(out)))
    }

    async fn push_authorization_request(
        &self,
        request: Request<pb::PushAuthorizationRequestRequest>,
    ) -> Result<Response<pb::PushAuthorizationRequestResponse>, Status> {
        let peer = peer::of_request(&request);
        let req = request.into_inner();
        let (pushed, client_id) = ops::token::push_authorization_request(
            &self.gate,
            &peer,
            convert::selection(req.credential),
            req.parameters.into_iter().collect(),
            req.signed_request_object,
        )
        .await?;
        Ok(Response::new(pb::PushAuthorizationRequestResponse {
            request_uri: pushed.request_uri,
            expires_in: pushed.expires_in,
            authorization_endpoint: pushed.authorization_endpoint.unwrap_or_default(),
            client_id,
        }))
    }

    async fn sign_dpop_proof(
        &self,
        request: Request<pb::SignDpopProofRequest>,
    ) -> Result<Response<pb::SignDpopProofResponse>, Status> {
        let peer = peer::of_request(&request);
        let req = request.into_inner();
        let decoded =
            convert::selection(req.credential).map(|credential| ops::dpop::ProofRequest {
                credential,
                htm: req.htm,
                htu: req.htu,
                access_token: (!req.access_token.is_empty()).then_some(req.access_token),
                nonce: (!req.nonce.is_empty()).then_some(req.nonce),
            });
        let (proof, jkt) = ops::dpop::sign_dpop_proof(&self.gate, &peer, decoded).await?;
        Ok(Response::new(pb::SignDpopProofResponse {
            proof: proof.token,
            jkt,
            jti: proof.jti,
            htu: proof.htu,
        }))
    }

    async fn sign_brasil_body(
        &self,
        request: Request<pb::SignBrasilBodyRequest>,
    ) -> Result<Response<pb::SignBrasilBodyResponse>, Status> {
        let peer = peer::of_request(&request);
        let req = request.into_inner();
        let decoded =
            convert::selection(req.credential).map(|credential| ops::sign_message::BrasilRequest {
                credential,
                data_json: req.data_json,
                audience: req.audience,
            });
        let s = ops::sign_message::sign_brasil_body(&self.gate, &peer, decoded).await?;
        Ok(Response::new(pb::SignBrasilBodyResponse {
            jws: s.jws,
            jti: s.jti,
            kid: s.kid,
        }))
    }

    async fn sign_ob_detached_jws(
        &self,
        request: Request<pb::SignObDetachedJwsRequest>,
    ) -> Result<Response<pb::SignObDetachedJwsResponse>, Status> {
        let peer = peer::of_request(&request);
        let req = request.into_inner();
        let profile = req.profile;
        let decoded = convert::selection(req.credential).and_then(|credential| {
            Ok(ops::sign_message::ObRequest {
                credential,
                body: req.body,
                version: convert::ob_profile(profile)?,
            })
        });
        let signed = ops::sign_message::sign_ob_detached(&self.gate, &peer, decoded).await?;
        Ok(Response::new(pb::SignObDetachedJwsResponse {
            x_jws_signature: signed.signature,
            kid: signed.kid,
            credential: signed.credential,
        }))
    }

    async fn sign_http_request(
        &self,
        request: Request<pb::SignHttpRequestRequest>,
    ) -> Result<Response<pb::SignHttpRequestResponse>, Status> {
        let peer = peer::of_request(&request);
        let req = request.into_inner();
        let decoded = convert::selection(req.credential).map(|credential| {
            ops::sign_message::HttpSignRequest {
                credential,
                request: crate::httpsig::rfc9421::HttpRequest {
                    method: req.method,
                    target_uri: req.target_uri,
                    authorization: convert::non_empty(req.authorization),
                    dpop: convert::non_empty(req.dpop),
                    headers: convert::headers(req.covered_headers),
                    body: req.body,
                },
            }
        });
        let (s, keyid) = ops::sign_message::sign_http_request(&self.gate, &peer, decoded).await?;
        Ok(Response::new(pb::SignHttpRequestResponse {
            signature_input: s.signature_input,
            signature: s.signature,
            content_digest: s.content_digest.unwrap_or_default(),
            covered_components: s.covered,
            created: s.created,
            keyid,
            alg: s.alg.as_str().to_owned(),
            target_uri: s.target_uri,
        }))
    }

    async fn verify_http_response(
        &self,
        request: Request<pb::VerifyHttpResponseRequest>,
    ) -> Result<Response<pb::VerifyHttpResponseResponse>, Status> {
        let peer = peer::of_request(&request);
        let req = request.into_inner();
        let decoded = convert::selection(req.credential).and_then(|credential| {
            Ok(ops::verify::ResponseCheck {
                credential,
                request: crate::httpsig::rfc9421::HttpRequest {
                    method: req.method,
                    target_uri: req.target_uri,
                    authorization: convert::non_empty(req.authorization),
                    dpop: convert::non_empty(req.dpop),
                    headers: Vec::new(),
                    body: req.request_body,
                },
                status: u16::try_from(req.status)
                    .ok()
                    .filter(|s| (100..=599).contains(s))
                    .ok_or_else(|| {
                        ops::Error::InvalidArgument(format!(
                            "status {} is not an HTTP status code",
                            req.status
                        ))
                    })?,
                headers: convert::headers(req.headers),
                body: req.body,
            })
        });
        let v = ops::verify::verify_http_response(&self.gate, &peer, decoded).await?;
        Ok(Response::new(pb::VerifyHttpResponseResponse {
            label: v.label,
            keyid: v.keyid,
            created: v.created,
            covered_components: v.covered,
        }))
    }

    async fn sign_berlin_group_request(
        &self,
        request: Request<pb::SignBerlinGroupRequestRequest>,
    ) -> Result<Response<pb::SignBerlinGroupRequestResponse>, Status> {
        let peer = peer::of_request(&request);
        let req = request.into_inner();
        let decoded =
            convert::selection(req.credential).map(|credential| ops::sign_message::BgSignRequest {
                credential,
                request: crate::httpsig::cavage::BgRequest {
                    x_request_id: req.x_request_id,
                    headers: convert::headers(req.headers),
                    body: req.body,
                },
            });
        let s = ops::sign_message::sign_berlin_group(&self.gate, &peer, decoded).await?;
        Ok(Response::new(pb::SignBerlinGroupRequestResponse {
            digest: s.digest,
            signature: s.signature,
            tpp_signature_certificate: s.certificate,
            x_request_id: s.x_request_id,
            signed_headers: s.signed_headers,
            key_id: s.key_id,
        }))
    }

    async fn verify_jarm_response(
        &self,
        request: Request<pb::VerifyJarmResponseRequest>,
    ) -> Result<Response<pb::VerifyJarmResponseResponse>, Status> {
        let peer = peer::of_request(&request);
        let req = request.into_inner();
        let v = ops::verify::verify_jarm(
            &self.gate,
            &peer,
            convert::selection(req.credential),
            &req.response,
        )
        .await?;
        Ok(Response::new(pb::VerifyJarmResponseResponse {
            parameters: v.parameters.into_iter().collect(),
            kid: v.kid,
            alg: v.alg.to_owned(),
        }))
    }
    async fn hmac(
        &self,
        request: Request<pb::HmacRequest>,
    ) -> Result<Response<pb::HmacResponse>, Status> {
        let peer = peer::of_request(&request);
        let req = request.into_inner();
        let decoded = (|| {
            Ok(ops::shared_secret::HmacRequest {
                credential: convert::selection(req.credential)?,
                name: convert::shared_secret_name(req.name)?,
                alg: convert::hmac_alg(req.alg)?,
                message: req.message,
                encoding: convert::mac_encoding(req.encoding)?,
            })
        })();
        let out = ops::shared_secret::hmac(&self.gate, &peer, decoded).await?;
        Ok(Response::new(pb::HmacResponse {
            mac: out.mac,
            credential: out.credential,
        }))
    }

    async fn password_digest(
        &self,
        request: Request<pb::PasswordDigestRequest>,
    ) -> Result<Response<pb::PasswordDigestResponse>, Status> {
        let peer = peer::of_request(&request);
        let req = request.into_inner();
        let decoded = (|| {
            Ok(ops::shared_secret::DigestRequest {
                credential: convert::selection(req.credential)?,
                name: convert::shared_secret_name(req.name)?,
                nonce: (!req.nonce.is_empty()).then_some(req.nonce),
                created: (!req.created.is_empty()).then_some(req.created),
            })
        })();
        let out = ops::shared_secret::password_digest(&self.gate, &peer, decoded).await?;
        Ok(Response::new(pb::PasswordDigestResponse {
            password_digest: out.password_digest,
            nonce: out.nonce,
            created: out.created,
            credential: out.credential,
        }))
    }
}
