//! The gRPC services: generated types ([`pb`]), the `Agent` and `Admin`
//! implementations, and conversions between domain types and messages.

mod admin;
mod agent;
pub mod codec;
pub mod server;

use std::fmt;

use serde_json::Value;

pub use admin::AdminService;
pub use agent::AgentService;

use crate::config::PaddingName;
use crate::credential::{Credential, Selector, State};
use crate::error::Error;
use crate::now_unix;

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

impl fmt::Debug for pb::GetKeyMaterialResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetKeyMaterialResponse")
            .field("private_key_pem", &"[REDACTED]")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The selector and optional kid of a request.
fn selector(sel: Option<pb::CredentialSelector>) -> Result<(Selector, Option<String>), Error> {
    let sel = sel.ok_or_else(|| {
        Error::InvalidArgument(
            "`credential` is required: set credential.name or credential.client_id".into(),
        )
    })?;
    let by = match sel.by {
        Some(pb::credential_selector::By::Name(n)) if !n.is_empty() => Selector::Name(n),
        Some(pb::credential_selector::By::ClientId(c)) if !c.is_empty() => Selector::ClientId(c),
        _ => {
            return Err(Error::InvalidArgument(
                "set credential.name or credential.client_id".into(),
            ));
        }
    };
    Ok((by, (!sel.kid.is_empty()).then_some(sel.kid)))
}

fn padding_to_pb(p: PaddingName) -> pb::Padding {
    match p {
        PaddingName::Pkcs1V15 => pb::Padding::Pkcs1V15,
        PaddingName::OaepSha1 => pb::Padding::OaepSha1,
        PaddingName::OaepSha256 => pb::Padding::OaepSha256,
    }
}

/// The public JWKS of the live keys among `creds`: loaded (a public JWK is
/// known), certificate not expired at `now`, one entry per kid, newest
/// (latest notBefore) first. Shared by `GetCredential` and `fapi-agent jwks`.
pub fn live_jwks<'a>(creds: impl IntoIterator<Item = &'a pb::Credential>, now: i64) -> Value {
    let mut live: Vec<&pb::Credential> = creds
        .into_iter()
        .filter(|c| not_live(c, now).is_none())
        .collect();
    live.sort_by(|a, b| b.not_before.cmp(&a.not_before).then(a.name.cmp(&b.name)));
    let mut seen = std::collections::HashSet::new();
    let keys: Vec<Value> = live
        .into_iter()
        .filter(|c| seen.insert(c.kid.as_str()))
        .filter_map(|c| serde_json::from_str(&c.public_jwk_json).ok())
        .collect();
    serde_json::json!({ "keys": keys })
}

/// Why `c`'s key is left out of [`live_jwks`] at `now`, if it is.
pub fn not_live(c: &pb::Credential, now: i64) -> Option<&'static str> {
    if c.public_jwk_json.is_empty() {
        Some("not loaded")
    } else if c.not_after <= now {
        Some("certificate expired")
    } else {
        None
    }
}

/// The public facts of a credential as a message.
pub fn credential_to_pb(c: &Credential) -> pb::Credential {
    let (state, error) = match c.state() {
        State::Available { warning } => {
            (pb::CredentialState::Available, warning.unwrap_or_default())
        }
        State::Locked => (
            pb::CredentialState::Locked,
            "locked: unlock with `fapi-agent unlock` (Admin.Unlock)".to_owned(),
        ),
        State::Error(reason) => (pb::CredentialState::Error, reason),
    };
    let mut out = pb::Credential {
        name: c.name.clone(),
        client_id: c.client_id().to_owned(),
        issuer: c.config.issuer.clone(),
        state: state.into(),
        error,
        export_allowed: c.config.export,
        key_decrypted: c.key_decrypted(),
        ..Default::default()
    };
    if let Ok(f) = c.facts() {
        let now = now_unix();
        out.kid = f.jwk.thumbprint().to_owned();
        out.alg = f.alg.as_str().to_owned();
        out.certificate_chain_pem = f.chain_pem.clone();
        out.public_jwk_json = f.jwk.to_json().to_string();
        out.x5t_s256 = f.x5t_s256.clone();
        out.not_before = f.not_before;
        out.not_after = f.not_after;
        out.days_left = f.days_left(now);
        if f.alg == crate::jose::Alg::Ps256 {
            out.decrypt_paddings = c
                .config
                .decrypt_paddings
                .iter()
                .map(|p| padding_to_pb(*p).into())
                .collect();
        }
    }
    out
}
