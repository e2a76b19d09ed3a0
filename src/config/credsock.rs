//! The systemd credential socket (`[systemd_credentials]`): what a unit's
//! `LoadCredential=ID:/run/fapi-agent/creds.sock` receives.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::{ConfigError, CredentialConfig};

/// The credential socket and what it serves. Without this table there is
/// no such socket.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredSockConfig {
    /// The socket; default `creds.sock` beside the gRPC socket. Mode 0600:
    /// only the daemon's uid and root (the system manager) connect.
    pub socket: Option<PathBuf>,
    /// One entry per credential ID a unit may load.
    #[serde(default)]
    pub serve: Vec<ServeRule>,
}

/// One `LoadCredential=` ID: what it is, from which credential, for which
/// units.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeRule {
    /// The ID the unit names (`LoadCredential=ID:…`).
    pub id: String,
    /// The fapi-agent credential it comes from.
    pub credential: String,
    /// What is written.
    pub what: Serve,
    /// The system units that may receive it (`payments.service`).
    pub units: Vec<String>,
}

/// What a credential ID delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Serve {
    /// The certificate chain, PEM, leaf first.
    Certificate,
    /// The public JWKS of the credential's key.
    Jwks,
    /// A fresh (or cached) access token from the credential's `[oauth]`.
    AccessToken,
    /// The private key, unencrypted PKCS#8 PEM: only with `export = true`.
    KeyMaterial,
}

impl Serve {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Serve::Certificate => "certificate",
            Serve::Jwks => "jwks",
            Serve::AccessToken => "access_token",
            Serve::KeyMaterial => "key_material",
        }
    }
}

impl CredSockConfig {
    /// The rule for `id`, if any.
    pub fn rule(&self, id: &str) -> Option<&ServeRule> {
        self.serve.iter().find(|r| r.id == id)
    }

    pub(super) fn validate(
        &self,
        credentials: &BTreeMap<String, CredentialConfig>,
    ) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::CredSock(m));
        let mut seen = std::collections::BTreeSet::new();
        for r in &self.serve {
            // systemd's credential names: no '/', not empty, at most
            // NAME_MAX; the ID arrives inside the peer's socket address.
            if r.id.is_empty() || r.id.len() > 255 || r.id.contains('/') || r.id == "." {
                return bad(format!(
                    "serve id {:?} is not a systemd credential name (1 to 255 bytes, no '/')",
                    r.id
                ));
            }
            if !seen.insert(&r.id) {
                return bad(format!("serve id {:?} appears twice", r.id));
            }
            let Some(cred) = credentials.get(&r.credential) else {
                return bad(format!(
                    "serve id {:?} names credential {:?}, which is not configured",
                    r.id, r.credential
                ));
            };
            if r.units.is_empty() {
                return bad(format!(
                    "serve id {:?} names no units: say which units may load it",
                    r.id
                ));
            }
            for u in &r.units {
                if u.is_empty() || u.contains('/') || !u.contains('.') {
                    return bad(format!(
                        "serve id {:?}: {u:?} is not a unit name such as payments.service",
                        r.id
                    ));
                }
            }
            match r.what {
                Serve::KeyMaterial if !cred.export => {
                    return bad(format!(
                        "serve id {:?} hands out the key of credential {:?}, whose export is \
                         off: set export = true on it, or serve the certificate, the JWKS or a \
                         token instead",
                        r.id, r.credential
                    ));
                }
                Serve::AccessToken if cred.oauth.is_none() => {
                    return bad(format!(
                        "serve id {:?} serves an access token, but credential {:?} has no \
                         [credentials.{}.oauth] table",
                        r.id, r.credential, r.credential
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Config;

    const CRED: &str = r#"
        [credentials.acme]
        client_id = "acme"
        issuer = "https://as.example"
        key = "acme.key"
        certificate = "acme.crt"
        passphrase = { source = "keyutils", description = "fapi-agent:acme" }
    "#;

    fn parse(serve: &str) -> Result<Config, String> {
        Config::parse(
            &format!("{CRED}\n[systemd_credentials]\n{serve}"),
            Path::new("/etc/fapi-agent"),
        )
        .map_err(|e| e.to_string())
    }

    fn rule(id: &str, credential: &str, what: &str, units: &str) -> String {
        format!(
            "[[systemd_credentials.serve]]\nid = {id:?}\ncredential = {credential:?}\n\
             what = {what:?}\nunits = {units}\n"
        )
    }

    #[test]
    fn rules_are_checked_at_load() {
        let ok = parse(&rule(
            "bank-cert",
            "acme",
            "certificate",
            r#"["payments.service"]"#,
        ))
        .unwrap();
        let c = ok.systemd_credentials.unwrap();
        assert_eq!(c.rule("bank-cert").unwrap().units, ["payments.service"]);
        assert!(c.rule("other").is_none());
        for (serve, why) in [
            (
                rule("a/b", "acme", "certificate", r#"["p.service"]"#),
                "not a systemd credential name",
            ),
            (
                rule("k", "nope", "certificate", r#"["p.service"]"#),
                "which is not configured",
            ),
            (rule("k", "acme", "certificate", "[]"), "names no units"),
            (
                rule("k", "acme", "certificate", r#"["payments"]"#),
                "is not a unit name",
            ),
            (
                rule("k", "acme", "key_material", r#"["p.service"]"#),
                "whose export is off",
            ),
            (
                rule("k", "acme", "access_token", r#"["p.service"]"#),
                "has no [credentials.acme.oauth]",
            ),
            (
                rule("k", "acme", "password", r#"["p.service"]"#),
                "unknown variant",
            ),
            (
                rule("k", "acme", "jwks", r#"["p.service"]"#)
                    + &rule("k", "acme", "jwks", r#"["p.service"]"#),
                "appears twice",
            ),
        ] {
            let e = parse(&serve).unwrap_err();
            assert!(e.contains(why), "{serve}: {e}");
        }
    }
}
