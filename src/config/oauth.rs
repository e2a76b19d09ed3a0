//! How a credential gets access tokens (`[credentials.NAME.oauth]`).

use std::path::PathBuf;

use serde::Deserialize;

use super::{ConfigError, PassphraseConfig, Pkcs11Config};

/// The security profile the authorization server is used under.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// FAPI 2.0: sender-constrained tokens, `private_key_jwt` or mTLS
    /// client authentication, no password grant.
    #[default]
    Fapi2,
    /// Plain OAuth 2.0 (platforms without FAPI, such as finAPI).
    None,
}

/// How the client authenticates at the token and PAR endpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A signed client assertion (RFC 7523).
    #[default]
    PrivateKeyJwt,
    /// Mutual TLS with a CA-issued certificate (RFC 8705 §2.1).
    TlsClientAuth,
    /// Mutual TLS with the self-signed certificate registered (RFC 8705 §2.2).
    SelfSignedTlsClientAuth,
    /// HTTP Basic with the client secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// The client secret in the request body.
    ClientSecretPost,
}

impl AuthMethod {
    /// The name as RFC 7591 / the config spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::TlsClientAuth => "tls_client_auth",
            AuthMethod::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
        }
    }

    /// Whether the method is mutual TLS.
    pub fn is_mtls(self) -> bool {
        matches!(
            self,
            AuthMethod::TlsClientAuth | AuthMethod::SelfSignedTlsClientAuth
        )
    }

    /// Whether the method uses a client secret.
    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
        )
    }
}

/// How access tokens are bound to the client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SenderConstraint {
    /// DPoP proofs (RFC 9449) with a key the daemon generates, or the
    /// `dpop_key` on a token.
    #[default]
    Dpop,
    /// The credential's certificate in mutual TLS (RFC 8705 §3).
    Mtls,
    /// Bearer tokens (outside FAPI profiles only).
    None,
}

/// The DPoP key's algorithm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum DpopAlg {
    /// ECDSA P-256.
    #[default]
    #[serde(rename = "ES256")]
    Es256,
    /// Ed25519.
    #[serde(rename = "EdDSA")]
    EdDsa,
}

/// `oauth.dpop_key = { pkcs11 = { … } }`: a DPoP key of the operator's
/// own, on a PKCS#11 token, instead of one generated at each start. It
/// has no certificate: its public key is the token's public-key object,
/// its algorithm follows from its type.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpopKeyConfig {
    /// The key on a token, named as a credential's `pkcs11` key is (the
    /// module on the allow-list, the PIN from any source).
    pub pkcs11: Pkcs11Config,
}

/// How a credential gets access tokens.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthConfig {
    /// `fapi2` (default) or `none`.
    #[serde(default)]
    pub profile: Profile,
    /// The token endpoint, for an authorization server without metadata;
    /// otherwise discovered from the credential's `issuer` (RFC 8414, then
    /// OpenID discovery).
    pub token_endpoint: Option<String>,
    /// The token endpoint for mutual TLS, without metadata.
    pub mtls_token_endpoint: Option<String>,
    /// The PAR endpoint, without metadata.
    pub pushed_authorization_request_endpoint: Option<String>,
    /// CA certificates (PEM) trusted for this authorization server, besides
    /// the system's roots. TLS verification cannot be switched off.
    pub ca_file: Option<PathBuf>,
    /// Client authentication.
    #[serde(default)]
    pub auth_method: AuthMethod,
    /// Where the client secret comes from (the client_secret methods): any
    /// passphrase source, held like a passphrase.
    pub client_secret: Option<PassphraseConfig>,
    /// How tokens are bound to the client.
    #[serde(default)]
    pub sender_constraint: SenderConstraint,
    /// The generated DPoP key's algorithm (default ES256).
    pub dpop_alg: Option<DpopAlg>,
    /// The DPoP key on a token instead of a generated one.
    pub dpop_key: Option<DpopKeyConfig>,
    /// Scopes asked for when the caller names none.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Resource indicators (RFC 8707) asked for when the caller names none.
    #[serde(default)]
    pub resource: Vec<String>,
    /// An `audience` parameter some platforms want.
    pub audience: Option<String>,
    /// A token is refreshed this long before it expires (a quarter of its
    /// lifetime at most), with jitter.
    #[serde(default = "default_refresh_margin")]
    pub refresh_margin_seconds: u64,
    /// How long a token without `expires_in` is kept.
    #[serde(default = "default_token_ttl")]
    pub default_token_ttl_seconds: u64,
    /// How long one request to the authorization server may take.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// The resource owner of the password grant (profile `none` only).
    pub username: Option<String>,
    /// Their password, from any passphrase source.
    pub password: Option<PassphraseConfig>,
}

fn default_refresh_margin() -> u64 {
    30
}
fn default_token_ttl() -> u64 {
    60
}
fn default_timeout() -> u64 {
    10
}

impl OAuthConfig {
    /// Checks the settings of credential `name`; `has_key` says whether the
    /// credential has a key and certificate.
    pub(super) fn validate(&self, name: &str, has_key: bool) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            credential: name.to_owned(),
            message,
        };
        if self.profile == Profile::Fapi2 {
            if self.auth_method.uses_secret() {
                return Err(invalid(format!(
                    "oauth.auth_method {} is not allowed under the FAPI 2.0 profile: use \
                     private_key_jwt, tls_client_auth or self_signed_tls_client_auth, or set \
                     oauth.profile = \"none\" for a platform without FAPI",
                    self.auth_method.as_str()
                )));
            }
            if self.sender_constraint == SenderConstraint::None {
                return Err(invalid(
                    "oauth.sender_constraint = \"none\" is not allowed under the FAPI 2.0 \
                     profile: use dpop or mtls"
                        .into(),
                ));
            }
            if self.username.is_some() || self.password.is_some() {
                return Err(invalid(
                    "the password grant is not allowed under the FAPI 2.0 profile (RFC 9700 \
                     §2.4)"
                        .into(),
                ));
            }
        }
        if self.auth_method.uses_secret() != self.client_secret.is_some() {
            return Err(invalid(if self.auth_method.uses_secret() {
                format!(
                    "oauth.auth_method {} needs oauth.client_secret = {{ source = … }}",
                    self.auth_method.as_str()
                )
            } else {
                "oauth.client_secret is set but oauth.auth_method does not use it".into()
            }));
        }
        if self.username.is_some() != self.password.is_some() {
            return Err(invalid(
                "the password grant needs both oauth.username and oauth.password".into(),
            ));
        }
        let needs_key = self.auth_method == AuthMethod::PrivateKeyJwt
            || self.auth_method.is_mtls()
            || self.sender_constraint == SenderConstraint::Mtls;
        if needs_key && !has_key {
            return Err(invalid(format!(
                "oauth with auth_method {} and sender_constraint {:?} needs the credential's \
                 key and certificate",
                self.auth_method.as_str(),
                self.sender_constraint
            )));
        }
        for url in [
            &self.token_endpoint,
            &self.mtls_token_endpoint,
            &self.pushed_authorization_request_endpoint,
        ]
        .into_iter()
        .flatten()
        {
            if !url.starts_with("https://") {
                return Err(invalid(format!("{url} is not an https URL")));
            }
        }
        if self.timeout_seconds == 0 {
            return Err(invalid("oauth.timeout_seconds must be at least 1".into()));
        }
        if let Some(d) = &self.dpop_key {
            if self.sender_constraint != SenderConstraint::Dpop {
                return Err(invalid(format!(
                    "oauth.dpop_key is set but oauth.sender_constraint is {:?}: a DPoP key is \
                     used only with sender_constraint = \"dpop\"",
                    self.sender_constraint
                )));
            }
            if self.dpop_alg.is_some() {
                return Err(invalid(
                    "oauth.dpop_alg does not apply to oauth.dpop_key: the token key's type sets \
                     the algorithm (P-256: ES256, Ed25519: EdDSA, RSA ≥ 2048: PS256); remove \
                     dpop_alg"
                        .into(),
                ));
            }
            d.pkcs11
                .target()
                .map_err(|m| invalid(format!("oauth.dpop_key.pkcs11: {m}")))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{Config, ConfigError, PassphraseConfig};

    fn parse(agent: &str, oauth: &str) -> Result<Config, ConfigError> {
        Config::parse(
            &format!(
                "[agent]\n{agent}\n[credentials.c]\nclient_id = \"c\"\nissuer = \"https://as\"\n\
                 key = \"k.pem\"\ncertificate = \"c.pem\"\n\
                 passphrase = {{ source = \"file\", path = \"p\" }}\n\
                 [credentials.c.oauth]\n{oauth}\n"
            ),
            Path::new("/etc/fapi-agent"),
        )
    }

    const KEY: &str = "dpop_key = { pkcs11 = { module = \"/m.so\", token_label = \"t\", \
                       key_label = \"d\", pin = { source = \"file\", path = \"dpop.pin\" } } }";

    #[test]
    fn a_dpop_key_on_a_token_resolves_its_pin_and_needs_the_allow_list() {
        let c = parse("pkcs11_modules = [\"/m.so\"]", KEY).unwrap();
        let oauth = c.credentials["c"].oauth.as_ref().unwrap();
        let d = oauth.dpop_key.as_ref().unwrap();
        assert!(matches!(
            &d.pkcs11.pin,
            PassphraseConfig::File { path, .. } if path.as_os_str() == "/etc/fapi-agent/dpop.pin"
        ));
        let e = parse("", KEY).unwrap_err().to_string();
        assert!(
            e.contains("oauth.dpop_key.pkcs11.module /m.so is not in [agent] pkcs11_modules"),
            "{e}"
        );
        let e = parse(
            "pkcs11_modules = [\"/m.so\"]",
            &KEY.replace("key_label = \"d\", ", ""),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("oauth.dpop_key.pkcs11: name the key"), "{e}");
    }
}
