//! Messages to and from domain types.

use crate::config::PaddingName;
use crate::credential::{JwksEntry, Selector, Serving, Snapshot};
use crate::daemon::EventKind;
use crate::keys::SourceStatus;
use crate::ops::{Error, Selection};

use super::pb;

/// The selection of a request.
pub fn selection(sel: Option<pb::CredentialSelector>) -> Result<Selection, Error> {
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
    Ok(Selection {
        by,
        kid: (!sel.kid.is_empty()).then_some(sel.kid),
    })
}

/// A padding by its message value.
pub fn padding(p: i32) -> Result<PaddingName, Error> {
    match pb::Padding::try_from(p) {
        Ok(pb::Padding::Pkcs1V15) => Ok(PaddingName::Pkcs1V15),
        Ok(pb::Padding::OaepSha1) => Ok(PaddingName::OaepSha1),
        Ok(pb::Padding::OaepSha256) => Ok(PaddingName::OaepSha256),
        _ => Err(Error::InvalidArgument(
            "padding is required: PADDING_OAEP_SHA256, PADDING_OAEP_SHA1 or PADDING_PKCS1_V15"
                .into(),
        )),
    }
}

/// The shared secret's name: required.
pub fn shared_secret_name(name: String) -> Result<String, Error> {
    if name.is_empty() {
        return Err(Error::InvalidArgument(
            "name is required: the shared secret's name ([credentials.NAME.shared_secrets.SECRET])"
                .into(),
        ));
    }
    Ok(name)
}

/// An HMAC's hash function: required.
pub fn hmac_alg(a: i32) -> Result<crate::keys::shared::MacAlg, Error> {
    use crate::keys::shared::MacAlg;
    match pb::HmacAlg::try_from(a) {
        Ok(pb::HmacAlg::HmacSha1) => Ok(MacAlg::Sha1),
        Ok(pb::HmacAlg::HmacSha256) => Ok(MacAlg::Sha256),
        Ok(pb::HmacAlg::HmacSha512) => Ok(MacAlg::Sha512),
        _ => Err(Error::InvalidArgument(
            "alg is required: HMAC_SHA256, HMAC_SHA1 or HMAC_SHA512".into(),
        )),
    }
}

/// How a MAC is written out (hex when unset).
pub fn mac_encoding(e: i32) -> Result<crate::ops::shared_secret::MacEncoding, Error> {
    use crate::ops::shared_secret::MacEncoding;
    match pb::MacEncoding::try_from(e) {
        Ok(pb::MacEncoding::Hex) => Ok(MacEncoding::Hex),
        Ok(pb::MacEncoding::Base64) => Ok(MacEncoding::Base64),
        Ok(pb::MacEncoding::Base64url) => Ok(MacEncoding::Base64Url),
        Err(_) => Err(Error::InvalidArgument(
            "encoding must be MAC_ENCODING_HEX, MAC_ENCODING_BASE64 or MAC_ENCODING_BASE64URL"
                .into(),
        )),
    }
}

fn padding_to_pb(p: PaddingName) -> pb::Padding {
    match p {
        PaddingName::Pkcs1V15 => pb::Padding::Pkcs1V15,
        PaddingName::OaepSha1 => pb::Padding::OaepSha1,
        PaddingName::OaepSha256 => pb::Padding::OaepSha256,
    }
}

/// A credential's public facts as a message.
pub fn credential(s: Snapshot) -> pb::Credential {
    let state = match s.state {
        Serving::Available => pb::CredentialState::Available,
        Serving::Locked => pb::CredentialState::Locked,
        Serving::Error => pb::CredentialState::Error,
    };
    pb::Credential {
        name: s.name,
        client_id: s.client_id,
        kid: s.kid,
        alg: s.alg,
        certificate_chain_pem: s.certificate_chain_pem,
        public_jwk_json: s.public_jwk_json,
        x5t_s256: s.x5t_s256,
        not_before: s.not_before,
        not_after: s.not_after,
        days_left: s.days_left,
        state: state.into(),
        error: s.error,
        issuer: s.issuer,
        export_allowed: s.export_allowed,
        decrypt_paddings: s
            .decrypt_paddings
            .into_iter()
            .map(|p| padding_to_pb(p).into())
            .collect(),
        key_decrypted: s.key_decrypted,
        passphrase_source: s.passphrase_source.map(source_status),
        client_jwks_json: s.client_jwks_json,
        token_status: None,
        key_backend: s.backend.map(key_backend),
    }
}

fn key_backend(b: crate::keys::BackendInfo) -> pb::KeyBackend {
    pb::KeyBackend {
        kind: b.kind.to_owned(),
        location: b.location,
        module: b.module,
        token: b.token,
        extractable: b.extractable,
        token_flags: b.token_flags.map(|f| pb::Pkcs11KeyFlags {
            extractable: f.extractable,
            never_extractable: f.never_extractable,
            sensitive: f.sensitive,
        }),
    }
}

/// A credential with its tokens' state (Admin.Status).
pub fn credential_with_tokens(
    s: Snapshot,
    tokens: Option<crate::oauth::TokenStatus>,
    gate: &crate::ops::Gate,
) -> pb::Credential {
    let client = gate.daemon().oauth_client(&s.name);
    let mut out = credential(s);
    out.token_status = tokens.map(|t| pb::TokenStatus {
        auth_method: client
            .as_ref()
            .map(|c| c.config().auth_method.as_str().to_owned())
            .unwrap_or_default(),
        sender_constraint: client
            .as_ref()
            .map(|c| format!("{:?}", c.config().sender_constraint).to_lowercase())
            .unwrap_or_default(),
        last_request_at: t.last_request_at.unwrap_or_default(),
        last_outcome: t.last_outcome,
        cached_tokens: u32::try_from(t.cached_tokens).unwrap_or(u32::MAX),
        earliest_expiry: t.earliest_expiry.unwrap_or_default(),
        dpop_jkt: t.dpop_jkt.unwrap_or_default(),
        dpop_key: t.dpop_key,
    });
    out
}

/// A token as a message.
pub fn access_token(t: crate::ops::token::IssuedToken) -> pb::AccessToken {
    let (jkt, x5t_s256) = match &t.token.binding {
        crate::oauth::Binding::Jkt(j) => (j.clone(), String::new()),
        crate::oauth::Binding::X5tS256(x) => (String::new(), x.clone()),
        crate::oauth::Binding::None => (String::new(), String::new()),
    };
    pb::AccessToken {
        access_token: t.token.access_token.expose().to_owned(),
        token_type: t.token.token_type,
        expires_at: t.token.expires_at,
        scope: t.token.scope,
        jkt,
        x5t_s256,
        refresh_token: t
            .token
            .refresh_token
            .map(|r| r.expose().to_owned())
            .unwrap_or_default(),
        cached: t.token.cached,
        credential: t.credential,
    }
}

fn source_status(s: SourceStatus) -> pb::PassphraseSourceStatus {
    let (last_error_at, last_error) = s.last_error.unwrap_or_default();
    pb::PassphraseSourceStatus {
        kind: s.kind,
        description: s.description,
        last_fetch_at: s.last_fetch_at.unwrap_or_default(),
        last_error,
        last_error_at,
        held: s.held,
        next_retry_at: s.next_retry_at.unwrap_or_default(),
    }
}

/// An event kind as a message enum.
pub fn event_kind(k: EventKind) -> pb::CredentialEventKind {
    use pb::CredentialEventKind as P;
    match k {
        EventKind::Added => P::Added,
        EventKind::Removed => P::Removed,
        EventKind::Active => P::Active,
        EventKind::ExpiringSoon => P::ExpiringSoon,
        EventKind::Expired => P::Expired,
        EventKind::Error => P::Error,
        EventKind::Recovered => P::Recovered,
        EventKind::Updated => P::Updated,
        EventKind::Locked => P::Locked,
        EventKind::Unlocked => P::Unlocked,
    }
}

/// The message is what the CLI's `jwks` command has of each credential: it
/// applies the daemon's rule ([`crate::credential::live_jwks`]) to it.
impl JwksEntry for pb::Credential {
    fn name(&self) -> &str {
        &self.name
    }
    fn kid(&self) -> &str {
        &self.kid
    }
    fn public_jwk_json(&self) -> &str {
        &self.public_jwk_json
    }
    fn not_before(&self) -> i64 {
        self.not_before
    }
    fn not_after(&self) -> i64 {
        self.not_after
    }
}

/// The OB profile a request names.
pub fn ob_profile(p: i32) -> Result<crate::jose::ob_detached::Version, Error> {
    use crate::jose::ob_detached::Version;
    match pb::ObProfile::try_from(p) {
        Ok(pb::ObProfile::ObUk314) => Ok(Version::From314),
        Ok(pb::ObProfile::ObUk313) => Ok(Version::UpTo313),
        _ => Err(Error::InvalidArgument(
            "profile is required: OB_UK_3_1_4 (Read/Write API 3.1.4 and later) or OB_UK_3_1_3"
                .into(),
        )),
    }
}

/// An optional string field: empty means absent.
pub fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// Header fields as name/value pairs.
pub fn headers(h: Vec<pb::HttpHeader>) -> Vec<(String, String)> {
    h.into_iter().map(|h| (h.name, h.value)).collect()
}
