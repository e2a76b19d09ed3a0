//! The TOML configuration: types, defaults and validation.
//!
//! Unknown keys are errors (a typo must not silently fall back to a default
//! in a security daemon). Relative paths are resolved against the directory
//! of the config file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Hard cap on an assertion's lifetime (`exp - iat`), whatever the config
/// says: no authorization server enforces one (STANDARDS A4).
pub const MAX_ASSERTION_LIFETIME_SECS: u32 = 300;
/// Default assertion lifetime.
pub const DEFAULT_ASSERTION_LIFETIME_SECS: u32 = 60;

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
}

/// Daemon-wide settings (`[agent]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Socket path; `--socket` and `FAPI_AGENT_SOCKET` override it.
    pub socket: Option<PathBuf>,
    /// Group (name or number) given access to the socket: directory `0750`,
    /// socket `0660`. Callers must still pass the caller policy.
    pub socket_group: Option<String>,
    /// A decrypted key is dropped after this many seconds without use.
    pub key_idle_ttl_seconds: u64,
    /// A decrypted key is dropped this many seconds after decryption, used
    /// or not; the next use decrypts again from the held passphrase.
    pub key_max_ttl_seconds: u64,
    /// Warn this many days before a certificate's notAfter.
    pub expiry_warning_days: u32,
    /// Credential events buffered per watcher before it is told it lagged.
    pub event_buffer: usize,
    /// Reload when the config or a credential file changes on disk.
    pub watch_files: bool,
    /// Group (name or number) whose members may use the Admin service,
    /// besides root and the daemon's uid.
    pub admin_group: Option<String>,
    /// Append-only, hash-chained audit log (JSON lines); none if unset.
    pub audit_log: Option<PathBuf>,
    /// When audit records are flushed to disk: `"interval"` (within 1 s,
    /// the default) or `"always"` (before each request is answered).
    pub audit_fsync: crate::audit::FsyncPolicy,
    /// Connections served at once; further ones are closed at accept.
    pub max_connections: usize,
    /// Of those, connections from one uid, so a caller holding idle
    /// connections cannot lock the others out.
    pub max_connections_per_uid: usize,
    /// Concurrent requests (HTTP/2 streams) per connection.
    pub max_streams_per_connection: u32,
    /// Requests each caller uid may make per second (token bucket refill).
    pub requests_per_second_per_uid: u32,
    /// Burst above that rate.
    pub request_burst_per_uid: u32,
    /// Deadline of any one request, in seconds.
    pub request_timeout_seconds: u64,
    /// A held passphrase is wiped after this long unused (sliding), then
    /// fetched again from its source when next needed. `"forever"` (the
    /// default) keeps it until Lock or exit.
    pub passphrase_idle_ttl_seconds: Ttl,
    /// A held passphrase is wiped this long after it was fetched, used or
    /// not (gpg-agent's max-cache-ttl). Default `"forever"`.
    pub passphrase_max_ttl_seconds: Ttl,
    /// How long one fetch from a passphrase source may take before it
    /// counts as failed (UNAVAILABLE); `exec` commands are killed then.
    pub passphrase_fetch_timeout_seconds: u64,
    /// Prometheus metrics endpoint; off unless set.
    pub metrics: Option<MetricsConfig>,
    /// After SIGTERM/SIGINT, how long in-flight calls may take to finish
    /// before the daemon stops anyway.
    pub shutdown_grace_seconds: u64,
}

/// Where the Prometheus endpoint listens (`[agent] metrics = { … }`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// A loopback TCP address such as `127.0.0.1:9464`.
    pub listen: Option<std::net::SocketAddr>,
    /// Or a Unix socket path of its own.
    pub socket: Option<PathBuf>,
}

/// A lifetime in seconds, or `"forever"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Ttl {
    /// This many seconds.
    Seconds(u64),
    /// `"forever"`: no limit.
    Named(TtlName),
}

/// The one named TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TtlName {
    /// No limit.
    Forever,
}

impl Ttl {
    /// The limit, `None` for forever.
    pub fn duration(self) -> Option<std::time::Duration> {
        match self {
            Ttl::Seconds(s) => Some(std::time::Duration::from_secs(s)),
            Ttl::Named(TtlName::Forever) => None,
        }
    }
}

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
}

impl Operation {
    /// The config name.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Sign => "sign",
            Operation::Decrypt => "decrypt",
            Operation::Export => "export",
            Operation::Read => "read",
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

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            socket: None,
            socket_group: None,
            key_idle_ttl_seconds: 300,
            key_max_ttl_seconds: 3600,
            expiry_warning_days: 30,
            event_buffer: 256,
            watch_files: true,
            admin_group: None,
            audit_log: None,
            audit_fsync: crate::audit::FsyncPolicy::Interval,
            max_connections: 256,
            max_connections_per_uid: 64,
            max_streams_per_connection: 32,
            requests_per_second_per_uid: 2000,
            request_burst_per_uid: 4000,
            request_timeout_seconds: 30,
            passphrase_idle_ttl_seconds: Ttl::Named(TtlName::Forever),
            passphrase_max_ttl_seconds: Ttl::Named(TtlName::Forever),
            passphrase_fetch_timeout_seconds: 10,
            metrics: None,
            shutdown_grace_seconds: 10,
        }
    }
}

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
        let agent = &cfg.agent;
        if agent.max_connections == 0
            || agent.max_connections_per_uid == 0
            || agent.max_streams_per_connection == 0
            || agent.requests_per_second_per_uid == 0
            || agent.request_timeout_seconds == 0
        {
            return Err(ConfigError::Agent("max_connections, max_connections_per_uid, max_streams_per_connection, \
                          requests_per_second_per_uid and request_timeout_seconds must be at least 1"
                        .into()));
        }
        if cfg.agent.event_buffer < 4 {
            return Err(ConfigError::Agent("event_buffer must be at least 4".into()));
        }
        if cfg.agent.passphrase_fetch_timeout_seconds == 0
            || cfg.agent.passphrase_idle_ttl_seconds == Ttl::Seconds(0)
            || cfg.agent.passphrase_max_ttl_seconds == Ttl::Seconds(0)
        {
            return Err(ConfigError::Agent(
                "passphrase_fetch_timeout_seconds and the passphrase TTLs must be at \
                          least 1 (or \"forever\" for the TTLs)"
                    .into(),
            ));
        }
        if let Some(m) = &cfg.agent.metrics
            && m.listen.is_some() == m.socket.is_some()
        {
            return Err(ConfigError::Agent(
                "metrics needs exactly one of listen (a loopback address) or socket".into(),
            ));
        }
        if let Some(m) = &cfg.agent.metrics
            && let Some(addr) = m.listen
            && !addr.ip().is_loopback()
        {
            return Err(ConfigError::Agent(format!(
                "metrics listen address {addr} is not a loopback address: metrics name \
                     credentials and callers, serve them on 127.0.0.1 or ::1 (or a socket)"
            )));
        }
        if cfg.agent.key_idle_ttl_seconds == 0 || cfg.agent.key_max_ttl_seconds == 0 {
            return Err(ConfigError::Agent(
                "key_idle_ttl_seconds and key_max_ttl_seconds must be at least 1".into(),
            ));
        }
        Ok(cfg)
    }
}

impl CredentialConfig {
    /// The key, certificate and bundle files this credential reads.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        [&self.key, &self.certificate, &self.pkcs12]
            .into_iter()
            .flatten()
            .map(PathBuf::as_path)
    }

    fn resolve_paths(&mut self, base: &Path) {
        for p in [&mut self.key, &mut self.certificate, &mut self.pkcs12]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        if let Some(PassphraseConfig::File { path, .. }) = &mut self.passphrase
            && path.is_relative()
        {
            *path = base.join(&*path);
        }
    }

    fn validate(&self, name: &str) -> Result<(), ConfigError> {
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
        match (&self.key, &self.certificate, &self.pkcs12) {
            (Some(_), Some(_), None) | (None, None, Some(_)) => {}
            (Some(_), None, None) => {
                return Err(invalid("`key` needs `certificate` beside it".into()));
            }
            _ => {
                return Err(invalid(
                    "set either `key` and `certificate`, or `pkcs12` alone".into(),
                ));
            }
        }
        if self.pkcs12.is_some() && self.passphrase.is_none() {
            return Err(invalid(
                "a PKCS#12 bundle needs a `passphrase` source".into(),
            ));
        }
        if self.passphrase.is_none() && !self.allow_plaintext_key {
            return Err(invalid(
                "no `passphrase` source: add one (e.g. passphrase = { source = \"keyutils\", \
                 description = \"fapi-agent:NAME\" }), or set allow_plaintext_key = true for an \
                 unencrypted key"
                    .into(),
            ));
        }
        for (i, rule) in self.allow.iter().enumerate() {
            if rule.uids.is_empty()
                && rule.gids.is_empty()
                && rule.executables.is_empty()
                && rule.systemd_units.is_empty()
                && rule.systemd_user_units.is_empty()
            {
                return Err(invalid(format!(
                    "allow rule {} names no caller: give uids, gids, executables, systemd_units \
                     or systemd_user_units",
                    i + 1
                )));
            }
            if let Some(e) = rule.executables.iter().find(|e| e.is_relative()) {
                return Err(invalid(format!(
                    "allow rule {}: executable {} must be an absolute path",
                    i + 1,
                    e.display()
                )));
            }
            if rule.allow_other_namespaces && rule.executables.is_empty() {
                return Err(invalid(format!(
                    "allow rule {}: allow_other_namespaces applies to executables, and the rule \
                     names none",
                    i + 1
                )));
            }
            if rule.operations.is_empty() {
                return Err(invalid(format!(
                    "allow rule {} allows no operations",
                    i + 1
                )));
            }
        }
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
        match &self.passphrase {
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
        Ok(())
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
