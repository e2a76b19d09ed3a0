//! The gRPC edge: the generated types ([`pb`]), the `Agent` and `Admin`
//! services, the server on the Unix socket, and the two translations the
//! edge owns: messages to and from domain types ([`convert`]) and errors to
//! status codes (`status`, the one place that mapping is decided).
//! Handlers only decode, call [`crate::ops`], and encode.

mod admin;
mod agent;
pub mod codec;
pub mod convert;
pub mod peer;
pub mod server;
mod status;

use std::fmt;

pub use admin::AdminService;
pub use agent::AgentService;

/// Code generated from `proto/fapi_agent/v1/agent.proto`.
#[allow(missing_docs, clippy::doc_markdown)]
pub mod pb {
    tonic::include_proto!("fapi_agent.v1");

    /// The encoded descriptor set of the API, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("fapi_agent_descriptor");
}

// Messages that carry secrets have no derived Debug (see build.rs).
impl fmt::Debug for pb::DecryptSecretResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DecryptSecretResponse { plaintext: [REDACTED] }")
    }
}

impl fmt::Debug for pb::GetKeyMaterialRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetKeyMaterialRequest")
            .field("credential", &self.credential)
            .field("format", &self.format)
            .field("export_passphrase", &"[REDACTED]")
            .finish()
    }
}

impl fmt::Debug for pb::AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("access_token", &"[REDACTED]")
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .field("refresh_token", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for pb::ExchangeAuthorizationCodeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeAuthorizationCodeRequest")
            .field("credential", &self.credential)
            .field("code", &"[REDACTED]")
            .field("code_verifier", &"[REDACTED]")
            .field("redirect_uri", &self.redirect_uri)
            .finish()
    }
}

impl fmt::Debug for pb::RefreshAccessTokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshAccessTokenRequest")
            .field("credential", &self.credential)
            .field("refresh_token", &"[REDACTED]")
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl fmt::Debug for pb::SignDpopProofRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignDpopProofRequest")
            .field("credential", &self.credential)
            .field("htm", &self.htm)
            .field("htu", &self.htu)
            .field("access_token", &"[REDACTED]")
            .field("nonce", &self.nonce)
            .finish()
    }
}

impl fmt::Debug for pb::GetKeyMaterialResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetKeyMaterialResponse")
            .field("private_key_pem", &"[REDACTED]")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}
