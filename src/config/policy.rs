//! Who may do what with a credential: `[[credentials.NAME.allow]]` rules.

use std::path::PathBuf;

use serde::Deserialize;

/// What a caller may do with a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// SignClientAssertion.
    Sign,
    /// DecryptSecret.
    Decrypt,
    /// GetKeyMaterial (also needs `export = true`).
    Export,
    /// GetCredential, ListCredentials, WatchCredentials.
    Read,
    /// GetAccessToken, ExchangeAuthorizationCode, RefreshAccessToken,
    /// PushAuthorizationRequest.
    Token,
    /// SignDpopProof.
    Dpop,
    /// Requests through the egress proxy (in an upstream's rules).
    Proxy,
    /// Message signatures: SignObDetachedJws, SignBrasilBody (and the
    /// proxy's signing).
    #[serde(rename = "sign_message")]
    SignMessage,
    /// Hmac: an HMAC with a shared secret the daemon holds.
    Hmac,
    /// PasswordDigest: a WS-Security digest with a shared secret.
    #[serde(rename = "password_digest")]
    PasswordDigest,
}

impl Operation {
    /// The config name.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Sign => "sign",
            Operation::Decrypt => "decrypt",
            Operation::Export => "export",
            Operation::Read => "read",
            Operation::Token => "token",
            Operation::Dpop => "dpop",
            Operation::Proxy => "proxy",
            Operation::SignMessage => "sign_message",
            Operation::Hmac => "hmac",
            Operation::PasswordDigest => "password_digest",
        }
    }
}

/// One `[[credentials.NAME.allow]]` rule: callers matching every selector
/// given may perform `operations`.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AllowRule {
    /// Caller uid is one of these.
    pub uids: Vec<u32>,
    /// Caller's primary or a supplementary gid is one of these.
    pub gids: Vec<u32>,
    /// Caller's executable is one of these files: compared by device and
    /// inode (resolved at load and reload), never by the path the caller's
    /// mount namespace shows.
    pub executables: Vec<PathBuf>,
    /// Let `executables` match a caller in other mount or user namespaces
    /// than the daemon's (containers), where the same file may be mounted
    /// elsewhere. Off: such a caller could mount anything at any path.
    pub allow_other_namespaces: bool,
    /// Caller runs in one of these system units (`app.service`), at its
    /// place in systemd's hierarchy (`/…slice/app.service`): never a unit
    /// of that name inside another unit's delegated subtree.
    pub systemd_units: Vec<String>,
    /// Caller runs in one of these units of a user's own systemd manager
    /// (`{ uid = 1000, unit = "app.service" }`), as that user.
    pub systemd_user_units: Vec<UserUnit>,
    /// What the rule allows.
    pub operations: Vec<Operation>,
}

/// A unit of one user's systemd manager, in an allow rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserUnit {
    /// The user whose manager runs the unit.
    pub uid: u32,
    /// The unit, e.g. `app.service`.
    pub unit: String,
}

/// The rules an allow list may hold: each names a caller and an operation;
/// executables are absolute paths. The error names the rule.
pub(super) fn check_rules(rules: &[AllowRule]) -> Result<(), String> {
    for (i, rule) in rules.iter().enumerate() {
        if rule.uids.is_empty()
            && rule.gids.is_empty()
            && rule.executables.is_empty()
            && rule.systemd_units.is_empty()
            && rule.systemd_user_units.is_empty()
        {
            return Err(format!(
                "allow rule {} names no caller: give uids, gids, executables, systemd_units \
                 or systemd_user_units",
                i + 1
            ));
        }
        if let Some(e) = rule.executables.iter().find(|e| e.is_relative()) {
            return Err(format!(
                "allow rule {}: executable {} must be an absolute path",
                i + 1,
                e.display()
            ));
        }
        if rule.allow_other_namespaces && rule.executables.is_empty() {
            return Err(format!(
                "allow rule {}: allow_other_namespaces applies to executables, and the rule \
                 names none",
                i + 1
            ));
        }
        if rule.operations.is_empty() {
            return Err(format!("allow rule {} allows no operations", i + 1));
        }
    }
    Ok(())
}
