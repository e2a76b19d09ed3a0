//! The TOML configuration: types, defaults and validation.
//!
//! Unknown keys are errors (a typo must not silently fall back to a default
//! in a security daemon). Relative paths are resolved against the directory
//! of the config file.

mod agent;
mod credential;
mod credsock;
mod oauth;
mod passphrase;
mod pkcs11;
mod policy;
mod proxy;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use agent::{AgentConfig, FsyncPolicy, MetricsConfig, Ttl, TtlName};
pub use credential::{
    AssertionConfig, BrasilConfig, CredentialConfig, DEFAULT_ASSERTION_LIFETIME_SECS,
    HttpSigConfig, KeystoreConfig, MAX_ASSERTION_LIFETIME_SECS, ObUkConfig, PaddingName,
    SharedSecretConfig,
};
pub use credsock::{CredSockConfig, Serve, ServeRule};
pub use oauth::{AuthMethod, DpopAlg, DpopKeyConfig, OAuthConfig, Profile, SenderConstraint};
pub use passphrase::{ExecEnv, KeyringName, PassphraseConfig};
pub use pkcs11::{Pkcs11Config, Pkcs11Target, module_allowed, parse_uri as parse_pkcs11_uri};
pub use policy::{AllowRule, Operation, UserUnit};
pub use proxy::{
    ProxyConfig, SigningProfile, TcpApp, TcpListenerConfig, UpstreamConfig, UpstreamToken,
};

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Daemon-wide settings.
    #[serde(default)]
    pub agent: AgentConfig,
    /// Credentials by name.
    #[serde(default)]
    pub credentials: BTreeMap<String, CredentialConfig>,
    /// The egress proxy's listeners; no proxy without it.
    pub proxy: Option<ProxyConfig>,
    /// The APIs apps reach through the proxy, by name.
    #[serde(default)]
    pub upstreams: BTreeMap<String, UpstreamConfig>,
    /// The systemd credential socket; none without it.
    pub systemd_credentials: Option<CredSockConfig>,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config file: {0}")]
    Read(#[from] crate::sys::fs::FileError),
    /// TOML syntax or an unknown/mistyped key.
    #[error("config file {path} is invalid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A daemon-wide (`[agent]`) value that parses but is not allowed.
    #[error("[agent]: {0}")]
    Agent(String),
    /// A `[systemd_credentials]` value that is not allowed.
    #[error("[systemd_credentials]: {0}")]
    CredSock(String),
    /// An upstream that cannot work as configured.
    #[error("upstream {upstream:?}: {message}")]
    Upstream {
        /// The upstream.
        upstream: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A value that parses but is not allowed.
    #[error("credential {credential:?}: {message}")]
    Invalid {
        /// The credential.
        credential: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// Nothing to serve.
    #[error("config file {0} defines no credentials: add a [credentials.NAME] table")]
    Empty(PathBuf),
}

/// The parser's message at "line L, column C", without the source line
/// toml would quote and with quoted string values cut out: a mistyped value
/// of an exec source's `env` may be a token, and this message reaches the
/// log and `Status.last_reload_error`.
fn parse_error_message(text: &str, e: &toml::de::Error) -> String {
    let message = redact_quoted_strings(e.message().trim_end());
    let Some(before) = e.span().and_then(|s| text.get(..s.start)) else {
        return message;
    };
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("line {line}, column {column}: {message}")
}

/// Replaces the value in serde's `string "…"` (a `{:?}`-quoted string, so
/// an inner quote is escaped) with `"…"`.
fn redact_quoted_strings(message: &str) -> String {
    const MARK: &str = "string \"";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at + MARK.len()]);
        out.push_str("…\"");
        let value = &rest[at + MARK.len()..];
        let mut escaped = false;
        let end = value.char_indices().find(|&(_, c)| {
            let closes = c == '"' && !escaped;
            escaped = c == '\\' && !escaped;
            closes
        });
        rest = end.map_or("", |(i, _)| &value[i + 1..]);
    }
    out.push_str(rest);
    out
}

impl Config {
    /// Reads, parses, resolves relative paths and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let bytes =
            crate::sys::fs::read_capped(path, crate::sys::fs::MAX_CONFIG_BYTES, "a config file")?;
        let text = String::from_utf8(bytes).map_err(|_| ConfigError::Parse {
            path: path.to_owned(),
            message: "the file is not UTF-8 text".into(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let cfg = Self::parse(&text, base).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_owned(),
                message,
            },
            other => other,
        })?;
        if cfg.credentials.is_empty() {
            return Err(ConfigError::Empty(path.to_owned()));
        }
        Ok(cfg)
    }

    /// Parses and validates config text; relative paths are resolved
    /// against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Self, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::new(),
            message: parse_error_message(text, &e),
        })?;
        for (name, cred) in &mut cfg.credentials {
            cred.resolve_paths(base);
            cred.validate(name)?;
        }
        cfg.agent.validate()?;
        for (name, cred) in &cfg.credentials {
            // A DPoP key has no error state of its own to park it in, as a
            // credential's token key has: its module is checked here.
            if let Some(d) = cred.oauth.as_ref().and_then(|o| o.dpop_key.as_ref())
                && !module_allowed(&d.pkcs11.module, &cfg.agent.pkcs11_modules)
            {
                return Err(ConfigError::Invalid {
                    credential: name.clone(),
                    message: format!(
                        "oauth.dpop_key.pkcs11.module {} is not in [agent] pkcs11_modules: add \
                         it there if this library is trusted to run inside the daemon",
                        d.pkcs11.module.display()
                    ),
                });
            }
        }
        for (name, u) in &mut cfg.upstreams {
            if let Some(p) = &mut u.ca_file
                && p.is_relative()
            {
                *p = base.join(&*p);
            }
            u.validate(name, &cfg.credentials)?;
        }
        if let Some(p) = &mut cfg.proxy {
            if let Some(s) = &mut p.socket
                && s.is_relative()
            {
                *s = base.join(&*s);
            }
            p.validate(&cfg.upstreams)?;
        }
        if let Some(c) = &mut cfg.systemd_credentials {
            if let Some(s) = &mut c.socket
                && s.is_relative()
            {
                *s = base.join(&*s);
            }
            c.validate(&cfg.credentials)?;
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [credentials.acme]
        client_id = "acme"
        issuer = "https://as.example"
        key = "acme.key"
        certificate = "acme.crt"
        passphrase = { source = "keyutils", description = "fapi-agent:acme" }
    "#;

    #[test]
    fn minimal_config_gets_safe_defaults() {
        let cfg = Config::parse(MINIMAL, Path::new("/etc/fapi-agent")).unwrap();
        let c = &cfg.credentials["acme"];
        assert_eq!(
            c.key.as_deref(),
            Some(Path::new("/etc/fapi-agent/acme.key"))
        );
        assert!(!c.export && !c.allow_plaintext_key);
        assert!(!c.decrypt_paddings.contains(&PaddingName::Pkcs1V15));
        assert_eq!(c.assertion.default_lifetime_seconds, 60);
        assert!(c.assertion.typ && !c.assertion.x5t_s256);
        assert!(matches!(
            c.passphrase,
            Some(PassphraseConfig::Keyutils {
                keyring: KeyringName::User,
                ..
            })
        ));
    }

    #[test]
    fn parse_errors_point_at_the_line_and_quote_no_value() {
        let token = "hvs.CAESIsecret\\\"quoted";
        let bad = MINIMAL.replace(
            r#"passphrase = { source = "keyutils", description = "fapi-agent:acme" }"#,
            &format!(
                r#"passphrase = {{ source = "exec", command = ["/bin/true"], env = "VAULT_TOKEN={token}" }}"#
            ),
        );
        let e = Config::parse(&bad, Path::new("/")).unwrap_err().to_string();
        assert!(e.contains("line 7, column"), "{e}");
        assert!(e.contains("invalid type: string \"…\""), "{e}");
        assert!(!e.contains("hvs.") && !e.contains("quoted"), "{e}");

        let env = ExecEnv(BTreeMap::from([("VAULT_TOKEN".into(), "hvs.X".into())]));
        assert_eq!(format!("{env:?}"), r#"{"VAULT_TOKEN"}"#);
        assert_eq!(
            redact_quoted_strings(r#"a string "x\"y" and string "z", end"#),
            r#"a string "…" and string "…", end"#
        );
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        let typo = MINIMAL.replace("issuer =", "isuer =");
        assert!(matches!(
            Config::parse(&typo, Path::new("/")),
            Err(ConfigError::Parse { .. })
        ));
        let cap = format!("{MINIMAL}\n[credentials.acme.assertion]\nmax_lifetime_seconds = 301\n");
        let err = Config::parse(&cap, Path::new("/")).unwrap_err().to_string();
        assert!(err.contains("max_lifetime_seconds"), "{err}");
        let no_pass = MINIMAL.replace(
            r#"passphrase = { source = "keyutils", description = "fapi-agent:acme" }"#,
            "",
        );
        let err = Config::parse(&no_pass, Path::new("/"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("allow_plaintext_key"), "{err}");
    }
}
