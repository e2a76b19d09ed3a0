//! Daemon-wide settings (`[agent]`).

use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;

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
    pub audit_fsync: FsyncPolicy,
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
    /// PKCS#11 modules credentials may load (ssh-agent's `-P`): a
    /// credential naming any other module is refused before it is loaded.
    pub pkcs11_modules: Vec<PathBuf>,
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
            audit_fsync: FsyncPolicy::Interval,
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
            pkcs11_modules: Vec::new(),
        }
    }
}

impl AgentConfig {
    /// Checks the daemon-wide settings.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_connections == 0
            || self.max_connections_per_uid == 0
            || self.max_streams_per_connection == 0
            || self.requests_per_second_per_uid == 0
            || self.request_timeout_seconds == 0
        {
            return Err(ConfigError::Agent("max_connections, max_connections_per_uid, max_streams_per_connection, \
                          requests_per_second_per_uid and request_timeout_seconds must be at least 1"
                        .into()));
        }
        if self.event_buffer < 4 {
            return Err(ConfigError::Agent("event_buffer must be at least 4".into()));
        }
        if self.passphrase_fetch_timeout_seconds == 0
            || self.passphrase_idle_ttl_seconds == Ttl::Seconds(0)
            || self.passphrase_max_ttl_seconds == Ttl::Seconds(0)
        {
            return Err(ConfigError::Agent(
                "passphrase_fetch_timeout_seconds and the passphrase TTLs must be at \
                          least 1 (or \"forever\" for the TTLs)"
                    .into(),
            ));
        }
        if let Some(m) = &self.metrics
            && m.listen.is_some() == m.socket.is_some()
        {
            return Err(ConfigError::Agent(
                "metrics needs exactly one of listen (a loopback address) or socket".into(),
            ));
        }
        if let Some(m) = &self.metrics
            && let Some(addr) = m.listen
            && !addr.ip().is_loopback()
        {
            return Err(ConfigError::Agent(format!(
                "metrics listen address {addr} is not a loopback address: metrics name \
                     credentials and callers, serve them on 127.0.0.1 or ::1 (or a socket)"
            )));
        }
        if self.key_idle_ttl_seconds == 0 || self.key_max_ttl_seconds == 0 {
            return Err(ConfigError::Agent(
                "key_idle_ttl_seconds and key_max_ttl_seconds must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// When audit records are flushed to disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsyncPolicy {
    /// At most one second after a record is appended.
    #[default]
    Interval,
    /// After every record, before the request is answered.
    Always,
}
