//! Where a passphrase comes from (`passphrase = { source = "…", … }`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// Where a passphrase comes from (`passphrase = { source = "…", … }`).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(tag = "source", rename_all = "kebab-case", deny_unknown_fields)]
pub enum PassphraseConfig {
    /// A file readable only by the daemon's user; one trailing newline is trimmed.
    File {
        /// The file.
        path: PathBuf,
        /// Also accept a file the daemon's group may read (mode 0440,
        /// group = the daemon's gid): Kubernetes Secret volumes with
        /// `fsGroup`. Others must still have no access.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        allow_group_read: bool,
    },
    /// An environment variable, read once at start and wiped from the process.
    Env {
        /// The variable's name.
        variable: String,
    },
    /// The Linux kernel keyring (`keyctl add user DESCRIPTION … @u`).
    Keyutils {
        /// The key's description.
        description: String,
        /// Which keyring to search.
        #[serde(default)]
        keyring: KeyringName,
    },
    /// The freedesktop Secret Service (gnome-keyring, KeePassXC) on the
    /// session bus: the one item whose attributes include all of these.
    SecretService {
        /// Lookup attributes, e.g. `{ service = "fapi-agent", credential = "acme" }`.
        attributes: BTreeMap<String, String>,
    },
    /// An entry as Python's `keyring set SERVICE USER` and the Rust
    /// `keyring` crate store it (the Secret Service on Linux).
    Keyring {
        /// The entry's service name.
        service: String,
        /// The entry's user name (`username` in Python keyring).
        user: String,
    },
    /// A systemd credential: `$CREDENTIALS_DIRECTORY/NAME` (`LoadCredential=`,
    /// `LoadCredentialEncrypted=`, `SetCredentialEncrypted=`).
    Systemd {
        /// The credential's name.
        name: String,
    },
    /// A command (argv, no shell) that prints the passphrase on stdout.
    Exec {
        /// Program and arguments; the program is an absolute path or found
        /// on the minimal `PATH` (`/usr/local/bin:/usr/bin:/bin`).
        command: Vec<String>,
        /// Variables copied from the daemon's environment (e.g. `VAULT_ADDR`,
        /// `AWS_PROFILE`); nothing else is passed but `PATH`, `HOME`, `LANG`.
        #[serde(default)]
        pass_env: Vec<String>,
        /// Variables set for the command.
        #[serde(default)]
        env: ExecEnv,
    },
    /// AWS Secrets Manager through the AWS SDK (standard credential chain
    /// and region).
    AwsSecretsManager {
        /// Secret name or ARN.
        secret_id: String,
        /// `AWSCURRENT` (default), `AWSPREVIOUS` or a custom stage.
        version_stage: Option<String>,
        /// A specific version id instead of a stage.
        version_id: Option<String>,
        /// The secret string is a JSON object: use this key's value.
        json_key: Option<String>,
        /// Region; default from the standard AWS configuration.
        region: Option<String>,
        /// Endpoint override (a VPC endpoint, or a local test server).
        endpoint_url: Option<String>,
    },
}

impl PassphraseConfig {
    /// The inline TOML table a config names this source with:
    /// `{ source = "keyutils", description = "fapi-agent:acme", … }`.
    pub fn to_inline_toml(&self) -> String {
        match toml::Value::try_from(self) {
            Ok(toml::Value::Table(t)) => {
                let fields: Vec<String> = t
                    .iter()
                    .filter(|(_, v)| !matches!(v, toml::Value::Array(a) if a.is_empty()))
                    .filter(|(_, v)| !matches!(v, toml::Value::Table(t) if t.is_empty()))
                    .map(|(k, v)| format!("{k} = {v}"))
                    .collect();
                format!("{{ {} }}", fields.join(", "))
            }
            // Every variant serializes to a table (it is internally tagged).
            _ => format!("{{ source = {:?} }}", self.kind()),
        }
    }

    /// The source's kind name, as in the config.
    pub fn kind(&self) -> &'static str {
        match self {
            PassphraseConfig::File { .. } => "file",
            PassphraseConfig::Env { .. } => "env",
            PassphraseConfig::Keyutils { .. } => "keyutils",
            PassphraseConfig::SecretService { .. } => "secret-service",
            PassphraseConfig::Keyring { .. } => "keyring",
            PassphraseConfig::Systemd { .. } => "systemd",
            PassphraseConfig::Exec { .. } => "exec",
            PassphraseConfig::AwsSecretsManager { .. } => "aws-secrets-manager",
        }
    }
}

/// The variables an `exec` source sets for its command. They may carry a
/// token (`VAULT_TOKEN`), so `Debug` shows the names only.
#[derive(Clone, Default, PartialEq, Deserialize, serde::Serialize)]
#[serde(transparent)]
pub struct ExecEnv(pub BTreeMap<String, String>);

impl std::fmt::Debug for ExecEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// Kernel keyrings a passphrase can be looked up in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyringName {
    /// The user keyring (`@u`), shared by the user's processes.
    #[default]
    User,
    /// The session keyring (`@s`).
    Session,
    /// The user's persistent keyring (survives logout, expires after idle).
    Persistent,
    /// The process keyring (`@p`).
    Process,
}
