//! One credential (`[credentials.NAME]`) and its validation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{AllowRule, ConfigError, OAuthConfig, PassphraseConfig, Pkcs11Config};

/// Hard cap on an assertion's lifetime (`exp - iat`), whatever the config
/// says: no authorization server enforces one (STANDARDS A4).
pub const MAX_ASSERTION_LIFETIME_SECS: u32 = 300;
/// Default assertion lifetime.
pub const DEFAULT_ASSERTION_LIFETIME_SECS: u32 = 60;

/// One credential (`[credentials.NAME]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialConfig {
    /// The OAuth client_id: the assertion's `iss` and `sub`, byte-exact.
    pub client_id: String,
    /// The authorization server's issuer identifier: the default `aud`.
    pub issuer: String,
    /// Private key file (PEM or DER). Exclusive with `pkcs12`.
    pub key: Option<PathBuf>,
    /// Certificate file (PEM, leaf first, optional chain). Required with `key`.
    pub certificate: Option<PathBuf>,
    /// PKCS#12 bundle holding key and certificate (and chain).
    pub pkcs12: Option<PathBuf>,
    /// One private-key entry of a Java keystore (JKS or PKCS#12), by alias;
    /// `passphrase` is its store password. Exclusive with `key`/`pkcs12`.
    pub keystore: Option<KeystoreConfig>,
    /// Where the key's passphrase comes from. Required unless the key is
    /// plaintext and `allow_plaintext_key` is set.
    pub passphrase: Option<PassphraseConfig>,
    /// Accept an unencrypted key file (a warning is logged at every start).
    #[serde(default)]
    pub allow_plaintext_key: bool,
    /// Allow `GetKeyMaterial` to hand out the decrypted key.
    #[serde(default)]
    pub export: bool,
    /// Paddings `DecryptSecret` accepts for this (RSA) credential.
    #[serde(default = "default_paddings")]
    pub decrypt_paddings: Vec<PaddingName>,
    /// How assertions for this credential are built.
    #[serde(default)]
    pub assertion: AssertionConfig,
    /// Keep the decrypted key sealed in memory, unsealed per operation
    /// (costs a key parse per operation; see docs/benchmarks.md).
    #[serde(default)]
    pub shielded: bool,
    /// Who may use this credential. Without rules, only the daemon's uid.
    #[serde(default)]
    pub allow: Vec<AllowRule>,
    /// How the credential gets access tokens, if it does.
    pub oauth: Option<OAuthConfig>,
    /// UK Open Banking message signing (`x-jws-signature`), if it signs.
    pub ob_uk: Option<ObUkConfig>,
    /// Open Finance Brasil signed bodies, if it signs them.
    pub open_finance_brasil: Option<BrasilConfig>,
    /// HTTP message signatures (RFC 9421 for FAPI 2.0, draft-cavage for the
    /// Berlin Group): limits, and the bank's keys for signed responses.
    #[serde(default)]
    pub http_signatures: HttpSigConfig,
    /// Shared secrets a platform encrypted to this credential's certificate,
    /// by name (`[credentials.NAME.shared_secrets.SECRET]`): decrypted once
    /// by the daemon and used for HMACs and WS-Security digests, never
    /// handed out.
    #[serde(default)]
    pub shared_secrets: BTreeMap<String, SharedSecretConfig>,
    /// The private key is an object on a PKCS#11 token (exclusive with
    /// `key` and `pkcs12`); `certificate` is optional then (default: the
    /// certificate object on the token with the key's label or id).
    pub pkcs11: Option<Pkcs11Config>,
}

/// `[credentials.NAME.http_signatures]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSigConfig {
    /// Largest body signed (its digest computed), in bytes.
    #[serde(default = "default_max_http_signed_body")]
    pub max_body_bytes: usize,
    /// The resource server's public keys (a JWKS file, public keys only)
    /// that sign its responses (RFC 9421, `tag="fapi-2-response"`).
    pub response_jwks: Option<PathBuf>,
}

impl Default for HttpSigConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: default_max_http_signed_body(),
            response_jwks: None,
        }
    }
}

fn default_max_http_signed_body() -> usize {
    1024 * 1024
}

/// `[credentials.NAME.open_finance_brasil]`: the client's organisation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrasilConfig {
    /// `iss`: the client's organisation id in the directory.
    pub iss: String,
    /// Largest `data`, serialised, in bytes.
    #[serde(default = "default_max_signed_body")]
    pub max_body_bytes: usize,
}

/// `[credentials.NAME.ob_uk]`: the TPP's identity in UK OB message
/// signatures (docs/standards.md §9).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObUkConfig {
    /// `http://openbanking.org.uk/iss`: `<org-id>/<software-statement-id>`
    /// for a TPP lodged with the Open Banking Directory.
    pub iss: String,
    /// `http://openbanking.org.uk/tan`: the trust anchor's domain.
    #[serde(default = "default_tan")]
    pub tan: String,
    /// Largest body signed, in bytes.
    #[serde(default = "default_max_signed_body")]
    pub max_body_bytes: usize,
}

fn default_tan() -> String {
    "openbanking.org.uk".into()
}

fn default_max_signed_body() -> usize {
    48 * 1024
}

/// RSA decryption paddings by config name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum PaddingName {
    /// RSAES-PKCS1-v1_5: padding-oracle risk, never on by default.
    #[serde(rename = "pkcs1-v1_5")]
    Pkcs1V15,
    /// RSAES-OAEP with SHA-1 / MGF1-SHA-1.
    #[serde(rename = "oaep-sha1")]
    OaepSha1,
    /// RSAES-OAEP with SHA-256 / MGF1-SHA-256.
    #[serde(rename = "oaep-sha256")]
    OaepSha256,
}

fn default_paddings() -> Vec<PaddingName> {
    vec![PaddingName::OaepSha1, PaddingName::OaepSha256]
}

/// Client-assertion settings per credential (`[credentials.NAME.assertion]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssertionConfig {
    /// Emit `typ: client-authentication+jwt` (rfc7523bis; some servers reject it).
    pub typ: bool,
    /// Emit the `x5t#S256` header (Entra ID wants it).
    pub x5t_s256: bool,
    /// Default lifetime in seconds.
    pub default_lifetime_seconds: u32,
    /// Largest lifetime a caller may ask for (never above 300 s).
    pub max_lifetime_seconds: u32,
    /// Audiences a caller may ask for besides the issuer, such as a legacy
    /// server's token endpoint. Each use is logged.
    pub allowed_audiences: Vec<String>,
    /// Seconds added to `iat`/`nbf` for a server whose clock is known to be
    /// off (within ±60).
    pub clock_offset_seconds: i64,
}

impl Default for AssertionConfig {
    fn default() -> Self {
        Self {
            typ: true,
            x5t_s256: false,
            default_lifetime_seconds: DEFAULT_ASSERTION_LIFETIME_SECS,
            max_lifetime_seconds: MAX_ASSERTION_LIFETIME_SECS,
            allowed_audiences: Vec::new(),
            clock_offset_seconds: 0,
        }
    }
}

impl CredentialConfig {
    /// The key, certificate, bundle and CA files this credential reads.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        [
            &self.key,
            &self.certificate,
            &self.pkcs12,
            self.oauth.as_ref().map_or(&None, |o| &o.ca_file),
        ]
        .into_iter()
        .flatten()
        .map(PathBuf::as_path)
        .chain(self.keystore.as_ref().map(|k| k.path.as_path()))
        .chain(self.shared_secret_files())
    }

    /// Whether the credential has a key (and certificate), rather than only
    /// a client secret.
    pub fn has_key(&self) -> bool {
        self.key.is_some()
            || self.pkcs12.is_some()
            || self.keystore.is_some()
            || self.pkcs11.is_some()
    }

    pub(super) fn resolve_paths(&mut self, base: &Path) {
        self.resolve_shared_secret_paths(base);
        self.resolve_keystore_paths(base);
        for p in [&mut self.key, &mut self.certificate, &mut self.pkcs12]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        let oauth = self.oauth.as_mut();
        let (ca, secrets) = match oauth {
            Some(o) => (
                o.ca_file.as_mut(),
                vec![
                    o.client_secret.as_mut(),
                    o.password.as_mut(),
                    o.dpop_key.as_mut().map(|d| &mut d.pkcs11.pin),
                ],
            ),
            None => (None, Vec::new()),
        };
        if let Some(p) = ca
            && p.is_relative()
        {
            *p = base.join(&*p);
        }
        for source in secrets
            .into_iter()
            .flatten()
            .chain(self.passphrase.as_mut())
            .chain(self.pkcs11.as_mut().map(|p| &mut p.pin))
        {
            if let PassphraseConfig::File { path, .. } = source
                && path.is_relative()
            {
                *path = base.join(&*path);
            }
        }
    }

    pub(super) fn validate(&self, name: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            credential: name.to_owned(),
            message,
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(invalid(
                "credential names may use only letters, digits, '-', '_' and '.'".into(),
            ));
        }
        if self.client_id.is_empty() {
            return Err(invalid("client_id is empty".into()));
        }
        if self.issuer.is_empty() {
            return Err(invalid(
                "issuer is empty: set it to the authorization server's issuer identifier".into(),
            ));
        }
        let secret_only = self
            .oauth
            .as_ref()
            .is_some_and(|o| o.auth_method.uses_secret());
        if let Some(p) = &self.pkcs11 {
            if self.key.is_some()
                || self.pkcs12.is_some()
                || self.keystore.is_some()
                || self.passphrase.is_some()
            {
                return Err(invalid(
                    "`pkcs11` replaces `key`, `pkcs12`, `keystore` and `passphrase` (the PIN \
                     is `pkcs11.pin`): remove them"
                        .into(),
                ));
            }
            p.target().map_err(|m| invalid(format!("pkcs11: {m}")))?;
        }
        match (&self.key, &self.certificate, &self.pkcs12) {
            _ if self.pkcs11.is_some() => {}
            (None, None, None) if self.keystore.is_some() => {}
            _ if self.keystore.is_some() => {
                return Err(invalid(
                    "`keystore` is exclusive with `key`, `certificate` and `pkcs12`".into(),
                ));
            }
            (Some(_), Some(_), None) | (None, None, Some(_)) => {}
            // A client that authenticates with a secret may have no key.
            (None, None, None) if secret_only => {}
            (Some(_), None, None) => {
                return Err(invalid("`key` needs `certificate` beside it".into()));
            }
            _ => {
                return Err(invalid(
                    "set either `key` and `certificate`, or `pkcs12` alone".into(),
                ));
            }
        }
        if let Some(o) = &self.oauth {
            o.validate(name, self.has_key())?;
        }
        self.validate_keystore(name)?;
        if self.pkcs12.is_some() && self.passphrase.is_none() {
            return Err(invalid(
                "a PKCS#12 bundle needs a `passphrase` source".into(),
            ));
        }
        if self.has_key()
            && self.pkcs11.is_none()
            && self.passphrase.is_none()
            && !self.allow_plaintext_key
        {
            return Err(invalid(
                "no `passphrase` source: add one (e.g. passphrase = { source = \"keyutils\", \
                 description = \"fapi-agent:NAME\" }), or set allow_plaintext_key = true for an \
                 unencrypted key"
                    .into(),
            ));
        }
        super::policy::check_rules(&self.allow).map_err(invalid)?;
        let a = &self.assertion;
        if a.max_lifetime_seconds == 0 || a.max_lifetime_seconds > MAX_ASSERTION_LIFETIME_SECS {
            return Err(invalid(format!(
                "assertion.max_lifetime_seconds must be between 1 and {MAX_ASSERTION_LIFETIME_SECS}"
            )));
        }
        if a.default_lifetime_seconds == 0 || a.default_lifetime_seconds > a.max_lifetime_seconds {
            return Err(invalid(format!(
                "assertion.default_lifetime_seconds must be between 1 and max_lifetime_seconds ({})",
                a.max_lifetime_seconds
            )));
        }
        if a.clock_offset_seconds.abs() > 60 {
            return Err(invalid(
                "assertion.clock_offset_seconds must be within ±60 (a FAPI 2.0 server rejects more)"
                    .into(),
            ));
        }
        if a.allowed_audiences.iter().any(String::is_empty) {
            return Err(invalid(
                "assertion.allowed_audiences has an empty entry".into(),
            ));
        }
        match self
            .passphrase
            .as_ref()
            .or(self.pkcs11.as_ref().map(|p| &p.pin))
        {
            Some(PassphraseConfig::Exec { command, .. })
                if command.is_empty() || command[0].is_empty() =>
            {
                return Err(invalid(
                    "passphrase source exec needs a command: [\"/path/to/program\", \"arg\", …]"
                        .into(),
                ));
            }
            Some(PassphraseConfig::SecretService { attributes }) if attributes.is_empty() => {
                return Err(invalid(
                    "passphrase source secret-service needs at least one lookup attribute".into(),
                ));
            }
            Some(PassphraseConfig::Keyring { service, user })
                if service.is_empty() || user.is_empty() =>
            {
                return Err(invalid(
                    "passphrase source keyring needs a service and a user (as in `keyring set \
                     SERVICE USER`)"
                        .into(),
                ));
            }
            Some(PassphraseConfig::Systemd { name })
                if name.is_empty() || name.contains('/') || name == "." || name == ".." =>
            {
                return Err(invalid(format!(
                    "passphrase source systemd: {name:?} is not a credential name (no '/')"
                )));
            }
            Some(PassphraseConfig::AwsSecretsManager {
                secret_id,
                version_stage,
                version_id,
                ..
            }) => {
                if secret_id.is_empty() {
                    return Err(invalid(
                        "passphrase source aws-secrets-manager needs secret_id".into(),
                    ));
                }
                if version_stage.is_some() && version_id.is_some() {
                    return Err(invalid(
                        "passphrase source aws-secrets-manager: give version_stage or \
                         version_id, not both"
                            .into(),
                    ));
                }
            }
            _ => {}
        }
        let hs = &self.http_signatures;
        if hs.max_body_bytes == 0 || hs.max_body_bytes > 64 << 20 {
            return Err(invalid(
                "http_signatures.max_body_bytes must be between 1 and 67108864".into(),
            ));
        }
        if let Some(b) = &self.open_finance_brasil {
            if !self.has_key() || b.iss.is_empty() {
                return Err(invalid(
                    "open_finance_brasil needs a key and certificate and a non-empty iss".into(),
                ));
            }
            if b.max_body_bytes == 0 || b.max_body_bytes > 16 << 20 {
                return Err(invalid(
                    "open_finance_brasil.max_body_bytes must be between 1 and 16777216".into(),
                ));
            }
        }
        self.validate_shared_secrets(name)?;
        if let Some(ob) = &self.ob_uk {
            if !self.has_key() {
                return Err(invalid("ob_uk signing needs a key and certificate".into()));
            }
            if ob.iss.is_empty() || ob.tan.is_empty() {
                return Err(invalid(
                    "ob_uk.iss (<org-id>/<software-statement-id>) and ob_uk.tan may not be empty"
                        .into(),
                ));
            }
            if ob.max_body_bytes == 0 || ob.max_body_bytes > 16 << 20 {
                return Err(invalid(
                    "ob_uk.max_body_bytes must be between 1 and 16777216".into(),
                ));
            }
        }
        Ok(())
    }
}

// ---- Shared secrets (`[credentials.NAME.shared_secrets.SECRET]`) ----

/// Largest HMAC message a caller may send when the config does not say.
pub const DEFAULT_MAX_HMAC_MESSAGE_BYTES: usize = 64 * 1024;
/// Largest `max_message_bytes` a shared secret may set.
pub const MAX_HMAC_MESSAGE_BYTES: usize = 16 << 20;

/// One shared secret (`[credentials.NAME.shared_secrets.SECRET]`): the
/// value a platform encrypted to the credential's certificate, as it shows
/// it (base64) or as raw bytes, from a file or from a secret source.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedSecretConfig {
    /// A file holding the encrypted value (base64 text, or the raw
    /// ciphertext). Exclusive with `source`. The file is watched and
    /// fingerprinted like the key: a re-encrypted value is picked up by
    /// reload.
    pub file: Option<PathBuf>,
    /// Any passphrase source holding the encrypted value (base64 text).
    /// Exclusive with `file`; read again at every reload.
    pub source: Option<PassphraseConfig>,
    /// The padding the platform encrypted with. Must be one of the
    /// credential's `decrypt_paddings`.
    pub padding: PaddingName,
    /// Largest message an `Hmac` call may send, in bytes.
    #[serde(default = "default_max_hmac_message")]
    pub max_message_bytes: usize,
}

fn default_max_hmac_message() -> usize {
    DEFAULT_MAX_HMAC_MESSAGE_BYTES
}

impl CredentialConfig {
    fn shared_secret_files(&self) -> impl Iterator<Item = &Path> {
        self.shared_secrets
            .values()
            .filter_map(|s| s.file.as_deref())
    }

    fn resolve_shared_secret_paths(&mut self, base: &Path) {
        for s in self.shared_secrets.values_mut() {
            if let Some(p) = s.file.as_mut()
                && p.is_relative()
            {
                *p = base.join(&*p);
            }
            if let Some(PassphraseConfig::File { path, .. }) = s.source.as_mut()
                && path.is_relative()
            {
                *path = base.join(&*path);
            }
        }
    }

    fn validate_shared_secrets(&self, name: &str) -> Result<(), ConfigError> {
        let invalid = |secret: &str, message: String| ConfigError::Invalid {
            credential: name.to_owned(),
            message: format!("shared_secrets.{secret}: {message}"),
        };
        for (secret, s) in &self.shared_secrets {
            if secret.is_empty()
                || !secret
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(invalid(
                    secret,
                    "shared secret names may use only letters, digits, '-', '_' and '.'".into(),
                ));
            }
            if !self.has_key() {
                return Err(invalid(
                    secret,
                    "a shared secret is decrypted with the credential's key: configure `key` \
                     and `certificate` (or `pkcs12`)"
                        .into(),
                ));
            }
            match (&s.file, &s.source) {
                (Some(_), None) | (None, Some(_)) => {}
                _ => {
                    return Err(invalid(
                        secret,
                        "give the encrypted value as either `file = PATH` or `source = { … }`"
                            .into(),
                    ));
                }
            }
            if !self.decrypt_paddings.contains(&s.padding) {
                return Err(invalid(
                    secret,
                    "its padding is not among the credential's decrypt_paddings: add it there \
                     (pkcs1-v1_5 only if the platform uses nothing else)"
                        .into(),
                ));
            }
            if s.max_message_bytes == 0 || s.max_message_bytes > MAX_HMAC_MESSAGE_BYTES {
                return Err(invalid(
                    secret,
                    format!("max_message_bytes must be between 1 and {MAX_HMAC_MESSAGE_BYTES}"),
                ));
            }
        }
        Ok(())
    }
}

// ---- Java keystores (`keystore = { path, alias, key_password }`) ----

/// One private-key entry of a Java keystore: `keystore = { path = "…",
/// alias = "…", key_password = { source = … } }`. The credential's
/// `passphrase` source gives the store password.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeystoreConfig {
    /// The keystore file: JKS or PKCS#12 (JCEKS is refused with the
    /// `keytool` command that converts it).
    pub path: PathBuf,
    /// The entry's alias (case-insensitive, as Java compares them).
    pub alias: String,
    /// Where the entry's key password comes from, when it is not the store
    /// password (JKS `keytool -keypass`).
    pub key_password: Option<PassphraseConfig>,
}

impl CredentialConfig {
    fn resolve_keystore_paths(&mut self, base: &Path) {
        let Some(k) = self.keystore.as_mut() else {
            return;
        };
        if k.path.is_relative() {
            k.path = base.join(&k.path);
        }
        if let Some(PassphraseConfig::File { path, .. }) = k.key_password.as_mut()
            && path.is_relative()
        {
            *path = base.join(&*path);
        }
    }

    fn validate_keystore(&self, name: &str) -> Result<(), ConfigError> {
        let Some(k) = &self.keystore else {
            return Ok(());
        };
        let invalid = |message: &str| ConfigError::Invalid {
            credential: name.to_owned(),
            message: message.to_owned(),
        };
        if k.alias.is_empty() {
            return Err(invalid(
                "keystore.alias is empty: give the alias `keytool -list` shows",
            ));
        }
        if self.passphrase.is_none() {
            return Err(invalid(
                "a keystore needs a `passphrase` source: its store password",
            ));
        }
        Ok(())
    }
}
