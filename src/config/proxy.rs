//! The egress proxy (`[proxy]`) and the upstream APIs apps reach through it
//! (`[upstreams.NAME]`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::{AllowRule, ConfigError, PassphraseConfig};

/// Where the proxy listens (`[proxy]`). Without this table there is no
/// proxy.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// The Unix socket; default `proxy.sock` beside the gRPC socket. The
    /// same directory rules apply; callers are identified by the kernel.
    pub socket: Option<PathBuf>,
    /// Also listen on this loopback TCP address: weaker (no caller
    /// identity), so every request must carry an app's header token.
    pub tcp: Option<TcpListenerConfig>,
    /// Request bodies up to this size are kept until the answer comes, so a
    /// DPoP nonce challenge or an expired token can be retried; larger ones
    /// stream through and are never sent twice.
    #[serde(default = "default_replay_bytes")]
    pub replay_buffer_bytes: usize,
}

fn default_replay_bytes() -> usize {
    64 * 1024
}

/// The loopback TCP listener and the apps allowed on it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpListenerConfig {
    /// A loopback address such as `127.0.0.1:8181`.
    pub listen: SocketAddr,
    /// Each app's token (sent as `X-Fapi-Agent-Token`), by app name.
    pub apps: BTreeMap<String, TcpApp>,
}

/// An app allowed on the TCP listener.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpApp {
    /// Where its token comes from (any passphrase source).
    pub token: PassphraseConfig,
    /// The upstreams it may call.
    pub upstreams: Vec<String>,
}

/// How an upstream's requests are authorized.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamToken {
    /// A DPoP-bound token and a fresh proof per request.
    #[default]
    Dpop,
    /// An mTLS-bound token over a connection with the credential's
    /// certificate.
    Mtls,
    /// A bearer token.
    Bearer,
    /// No token (the certificate alone, or nothing).
    None,
}

/// One upstream API (`[upstreams.NAME]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Where requests go: `https://host[:port][/base/path]`. Requests
    /// address paths under it.
    pub base_url: String,
    /// The credential whose key, certificate and tokens are used.
    pub credential: String,
    /// Scopes of the token (default: the credential's oauth scopes).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Resource indicators of the token.
    #[serde(default)]
    pub resource: Vec<String>,
    /// How requests are authorized.
    #[serde(default)]
    pub token: UpstreamToken,
    /// Present the credential's certificate (mutual TLS); on whenever
    /// `token = "mtls"`.
    #[serde(default)]
    pub client_certificate: bool,
    /// CA certificates (PEM) trusted for this upstream besides the
    /// system's roots.
    pub ca_file: Option<PathBuf>,
    /// Seconds to connect and handshake.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_seconds: u64,
    /// Seconds to the response's head.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Headers added to every request (the app's own of that name are
    /// replaced).
    #[serde(default)]
    pub add_headers: BTreeMap<String, String>,
    /// Headers the app may not send (refused with 400). Default:
    /// `authorization`, `dpop`.
    #[serde(default = "default_deny")]
    pub deny_headers: Vec<String>,
    /// Offer HTTP/2 to the upstream (ALPN).
    #[serde(default = "default_true")]
    pub http2: bool,
    /// A message-signing profile applied to requests: `ob-uk-3.1.4` or
    /// `ob-uk-3.1.3` (`x-jws-signature` of every body, by the credential's
    /// key and `[ob_uk]` table), `fapi2-http-sig` (an RFC 9421 signature of
    /// every request, covering its token and DPoP proof) or `berlin-group`
    /// (Digest, draft-cavage Signature and TPP-Signature-Certificate), or
    /// `open-finance-brasil` (the app's JSON body sent as a PS256 JWT,
    /// `application/jwt`, with `brasil_audience` as `aud`).
    pub signing: Option<String>,
    /// With `signing = "open-finance-brasil"`: the server's organisation id
    /// (`aud` of each request JWT, `iss` expected of each response).
    pub brasil_audience: Option<String>,
    /// With `signing = "open-finance-brasil"`: the server's public keys (a
    /// JWKS file) that sign its `application/jwt` responses. When set, such
    /// a response reaches the app as its verified JSON payload, and a 2xx
    /// answer that is not `application/jwt` is withheld (502).
    pub brasil_response_jwks: Option<PathBuf>,
    /// Check the RFC 9421 signature of every response (`tag =
    /// "fapi-2-response"`) against the credential's
    /// `http_signatures.response_jwks` before the app sees it; a response
    /// that fails is withheld (502 `upstream_signature_invalid`). Only with
    /// `signing = "fapi2-http-sig"`. Default: on when that credential has
    /// `response_jwks`; `true` makes a missing `response_jwks` a load
    /// error, `false` turns the check off.
    pub verify_responses: Option<bool>,
    /// Who may call this upstream (operation `proxy`). Without rules, the
    /// credential's own rules decide (they must list `proxy`).
    #[serde(default)]
    pub allow: Vec<AllowRule>,
}

fn default_connect_timeout() -> u64 {
    10
}
fn default_timeout() -> u64 {
    60
}
fn default_true() -> bool {
    true
}
fn default_deny() -> Vec<String> {
    vec!["authorization".into(), "dpop".into()]
}

/// A signing profile the proxy applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningProfile {
    /// UK Open Banking `x-jws-signature`, Read/Write API 3.1.4 and later.
    ObUk314,
    /// UK Open Banking `x-jws-signature`, 3.1.3 and earlier (`b64: false`).
    ObUk313,
    /// RFC 9421 with the FAPI 2.0 component set.
    Fapi2HttpSig,
    /// Berlin Group NextGenPSD2 (draft-cavage-10).
    BerlinGroup,
    /// Open Finance Brasil: bodies as PS256 JWTs.
    OpenFinanceBrasil,
}

impl SigningProfile {
    /// By config name.
    pub fn of_name(name: &str) -> Option<Self> {
        match name {
            "fapi2-http-sig" => Some(Self::Fapi2HttpSig),
            "berlin-group" => Some(Self::BerlinGroup),
            "ob-uk-3.1.4" => Some(Self::ObUk314),
            "ob-uk-3.1.3" => Some(Self::ObUk313),
            "open-finance-brasil" => Some(Self::OpenFinanceBrasil),
            _ => None,
        }
    }

    /// The headers the profile sets, which an app may not send.
    pub fn reserved_headers(self) -> &'static [&'static str] {
        match self {
            Self::ObUk314 | Self::ObUk313 => &["x-jws-signature"],
            Self::Fapi2HttpSig => &["signature", "signature-input", "content-digest"],
            Self::BerlinGroup => &["signature", "digest", "tpp-signature-certificate"],
            // The proxy sets the type of the body it sends.
            Self::OpenFinanceBrasil => &[],
        }
    }
}

impl UpstreamConfig {
    /// The signing profile, if any (validated at load).
    pub fn signing_profile(&self) -> Option<SigningProfile> {
        self.signing.as_deref().and_then(SigningProfile::of_name)
    }

    /// Whether the proxy checks this upstream's response signatures, given
    /// its credential's `http_signatures` (validated at load).
    pub fn verifies_responses(&self, http_signatures: &super::HttpSigConfig) -> bool {
        self.signing_profile() == Some(SigningProfile::Fapi2HttpSig)
            && self
                .verify_responses
                .unwrap_or(http_signatures.response_jwks.is_some())
            && http_signatures.response_jwks.is_some()
    }

    /// Checks upstream `name` against the credentials configured.
    pub(super) fn validate(
        &self,
        name: &str,
        credentials: &BTreeMap<String, super::CredentialConfig>,
    ) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Upstream {
            upstream: name.to_owned(),
            message,
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
        {
            return Err(invalid(
                "upstream names may use only lowercase letters, digits, '-', '_' and '.' (a \
                 Host header is matched lowercased)"
                    .into(),
            ));
        }
        if let Some(name) = self.signing.as_deref()
            && SigningProfile::of_name(name).is_none()
        {
            return Err(invalid(format!(
                "signing = {name:?} is no profile: use ob-uk-3.1.4, ob-uk-3.1.3, \
                 fapi2-http-sig, berlin-group or open-finance-brasil"
            )));
        }
        let url = url::Url::parse(&self.base_url)
            .map_err(|e| invalid(format!("base_url {:?} is not a URL: {e}", self.base_url)))?;
        if url.scheme() != "https" || url.host().is_none() {
            return Err(invalid(format!(
                "base_url {:?} must be an https URL with a host",
                self.base_url
            )));
        }
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
            return Err(invalid(format!(
                "base_url {:?} may not carry a query, fragment or user",
                self.base_url
            )));
        }
        let cred = credentials.get(&self.credential).ok_or_else(|| {
            invalid(format!(
                "credential {:?} is not configured",
                self.credential
            ))
        })?;
        if matches!(
            self.signing_profile(),
            Some(SigningProfile::ObUk314 | SigningProfile::ObUk313)
        ) && cred.ob_uk.is_none()
        {
            return Err(invalid(format!(
                "signing = {:?} needs a [credentials.{}.ob_uk] table (iss, tan)",
                self.signing.as_deref().unwrap_or_default(),
                self.credential
            )));
        }
        let brasil = self.signing_profile() == Some(SigningProfile::OpenFinanceBrasil);
        if brasil {
            if cred.open_finance_brasil.is_none() {
                return Err(invalid(format!(
                    "signing = \"open-finance-brasil\" needs a \
                     [credentials.{}.open_finance_brasil] table (iss)",
                    self.credential
                )));
            }
            if self.brasil_audience.as_deref().is_none_or(str::is_empty) {
                return Err(invalid(
                    "signing = \"open-finance-brasil\" needs brasil_audience: the server's \
                     organisation id (aud of each signed body)"
                        .into(),
                ));
            }
            if let Some(p) = &self.brasil_response_jwks
                && !p.is_absolute()
            {
                return Err(invalid(format!(
                    "brasil_response_jwks {} must be an absolute path",
                    p.display()
                )));
            }
        } else if self.brasil_audience.is_some() || self.brasil_response_jwks.is_some() {
            return Err(invalid(
                "brasil_audience and brasil_response_jwks apply only with signing = \
                 \"open-finance-brasil\""
                    .into(),
            ));
        }
        if self.signing.is_some() && !cred.has_key() {
            return Err(invalid(format!(
                "signing = {:?} needs credential {:?} to have a key and certificate",
                self.signing.as_deref().unwrap_or_default(),
                self.credential
            )));
        }
        if self.verify_responses == Some(true) {
            if self.signing_profile() != Some(SigningProfile::Fapi2HttpSig) {
                return Err(invalid(
                    "verify_responses = true needs signing = \"fapi2-http-sig\": only FAPI 2.0 \
                     HTTP message signatures sign responses"
                        .into(),
                ));
            }
            if cred.http_signatures.response_jwks.is_none() {
                return Err(invalid(format!(
                    "verify_responses = true needs [credentials.{}.http_signatures] \
                     response_jwks: the JWKS file of the resource server's response-signing keys",
                    self.credential
                )));
            }
        }
        let needs_oauth = self.token != UpstreamToken::None;
        if needs_oauth && cred.oauth.is_none() {
            return Err(invalid(format!(
                "token = {:?} needs an [credentials.{}.oauth] table",
                self.token, self.credential
            )));
        }
        if let Some(oauth) = &cred.oauth {
            use super::SenderConstraint as S;
            let fits = match self.token {
                UpstreamToken::Dpop => oauth.sender_constraint == S::Dpop,
                UpstreamToken::Mtls => oauth.sender_constraint == S::Mtls,
                UpstreamToken::Bearer => oauth.sender_constraint == S::None,
                UpstreamToken::None => true,
            };
            if !fits {
                return Err(invalid(format!(
                    "token = {:?} does not fit credential {:?}, whose tokens are bound by \
                     oauth.sender_constraint = {:?}",
                    self.token, self.credential, oauth.sender_constraint
                )));
            }
        }
        if (self.client_certificate || self.token == UpstreamToken::Mtls) && !cred.has_key() {
            return Err(invalid(format!(
                "mutual TLS needs credential {:?} to have a key and certificate",
                self.credential
            )));
        }
        super::policy::check_rules(&self.allow).map_err(invalid)?;
        for (i, rule) in self.allow.iter().enumerate() {
            if !rule.operations.contains(&super::Operation::Proxy) {
                return Err(invalid(format!(
                    "allow rule {} does not list the operation \"proxy\"",
                    i + 1
                )));
            }
        }
        for h in self.add_headers.keys().chain(&self.deny_headers) {
            if http::HeaderName::from_bytes(h.as_bytes()).is_err() {
                return Err(invalid(format!("{h:?} is not a header name")));
            }
        }
        if self.timeout_seconds == 0 || self.connect_timeout_seconds == 0 {
            return Err(invalid("timeouts must be at least 1 second".into()));
        }
        Ok(())
    }
}

impl ProxyConfig {
    pub(super) fn validate(
        &self,
        upstreams: &BTreeMap<String, UpstreamConfig>,
    ) -> Result<(), ConfigError> {
        if let Some(tcp) = &self.tcp {
            if !tcp.listen.ip().is_loopback() {
                return Err(ConfigError::Agent(format!(
                    "proxy.tcp.listen {} is not a loopback address: the TCP listener has no \
                     caller identity, serve it on 127.0.0.1 or ::1 only",
                    tcp.listen
                )));
            }
            if tcp.apps.is_empty() {
                return Err(ConfigError::Agent(
                    "proxy.tcp needs at least one app with a token".into(),
                ));
            }
            for (app, a) in &tcp.apps {
                if let Some(u) = a.upstreams.iter().find(|u| !upstreams.contains_key(*u)) {
                    return Err(ConfigError::Agent(format!(
                        "proxy.tcp.apps.{app} names upstream {u:?}, which is not configured"
                    )));
                }
            }
        }
        Ok(())
    }
}
