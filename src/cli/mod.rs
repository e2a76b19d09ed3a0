//! The `fapi-agent` command line: one file per command group, all of them
//! edges over [`crate::ops`] and the daemon's API.
//!
//! - `run`: the daemon itself (`run`, `run --dev`) and the offline
//!   `check`;
//! - `onboard`: `import`, `passphrase store`, `enroll`, `install-cert`;
//! - `audit`: `audit verify`;
//! - `agent` and `admin`: client commands that talk to a running
//!   daemon, each through the one shared call path in `call` (connect,
//!   call, map the error, print).

mod admin;
mod agent;
mod audit;
mod call;
mod onboard;
mod run;
mod shared;
mod sign;
mod token;
mod version;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::service::pb;

/// fapi-agent: signs FAPI client assertions and decrypts shared secrets for
/// local apps, from passphrase-encrypted credentials, over gRPC on a Unix socket.
#[derive(Debug, Parser)]
#[command(name = "fapi-agent", version = version::VERSION, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log filter (error, warn, info, debug, trace, or a tracing filter).
    #[arg(long, global = true, env = "FAPI_AGENT_LOG", default_value = "info")]
    log: String,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, env = "FAPI_AGENT_LOG_FORMAT", default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon.
    Run(run::RunArgs),
    /// Validate a config file and every credential in it (decrypts each key
    /// once); exits non-zero with precise errors.
    Check {
        /// The config file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Generate the next credential: key pair, passphrase (stored in the
    /// kernel keyring or a 0600 file), encrypted key, CSR and config stanza;
    /// with --pkcs11, the key pair on a PKCS#11 token (never extractable),
    /// the CSR signed there, the PIN stored, and no key file.
    Enroll(onboard::EnrollArgs),
    /// Check a certificate issued for an enrolled key and put it live: writes
    /// NAME.crt and appends the stanza to --config (a running daemon reloads).
    InstallCert {
        /// The enrolled credential's name.
        #[arg(long)]
        name: String,
        /// The certificate the platform issued (PEM, chain optional).
        #[arg(long)]
        cert: PathBuf,
        /// Where `enroll` wrote its files.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The daemon's config file, to append the credential to.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Passphrase tools.
    #[command(subcommand)]
    Passphrase(onboard::PassphraseCommand),
    /// Onboard a credential a platform issued: proves the passphrase decrypts
    /// the key, that key and certificate match and the certificate is valid,
    /// stores the passphrase, and prints the config stanza to add; with
    /// --to-pkcs11, moves the key onto a PKCS#11 token instead.
    Import(onboard::ImportArgs),
    /// Audit log tools.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    #[command(flatten)]
    Agent(agent::AgentCommand),
    /// Print an access token for a credential (from the daemon's cache while
    /// it is fresh).
    Token(token::TokenArgs),
    /// Print a DPoP proof for a request the caller makes itself.
    Dpop(token::DpopArgs),
    /// Print the UK Open Banking x-jws-signature of a request body.
    ObSign(sign::ObSignArgs),
    /// Print an Open Finance Brasil signed body (a compact JWS).
    BrasilSign(sign::BrasilSignArgs),
    /// Print the RFC 9421 signature headers (FAPI 2.0 component set) of a
    /// request: Signature-Input, Signature, Content-Digest.
    HttpSign(sign::HttpSignArgs),
    /// Print the Berlin Group signature headers of a request: X-Request-ID,
    /// Digest, Signature, TPP-Signature-Certificate.
    BerlinSign(sign::BerlinSignArgs),
    /// Check a resource server's RFC 9421 response signature against the
    /// credential's configured response keys.
    VerifyResponse(sign::VerifyResponseArgs),
    /// Check a JARM authorization response (response_mode=jwt) against the
    /// authorization server's keys and print its parameters.
    VerifyJarm(sign::VerifyJarmArgs),
    /// Print the HMAC of a message with a shared secret the daemon holds.
    Hmac(shared::HmacArgs),
    /// Print a WS-Security UsernameToken PasswordDigest (with its nonce and
    /// created) from a shared secret the daemon holds.
    PasswordDigest(shared::DigestArgs),
    #[command(flatten)]
    Admin(admin::AdminCommand),
}

#[derive(Debug, Clone, Args)]
pub(crate) struct SocketArg {
    /// The daemon's socket (default: $XDG_RUNTIME_DIR/fapi-agent/agent.sock,
    /// or /run/fapi-agent/agent.sock for root).
    #[arg(long, env = "FAPI_AGENT_SOCKET")]
    pub(crate) socket: Option<PathBuf>,
}

impl SocketArg {
    pub(crate) fn path(&self) -> PathBuf {
        self.socket
            .clone()
            .unwrap_or_else(crate::sys::listen::default_socket_path)
    }
}

#[derive(Debug, Args)]
pub(crate) struct Which {
    /// Credential name.
    #[arg(long, conflicts_with = "client_id")]
    pub(crate) credential: Option<String>,
    /// client_id (the newest valid credential of the client).
    #[arg(long)]
    pub(crate) client_id: Option<String>,
    /// Pin the key by kid.
    #[arg(long)]
    pub(crate) kid: Option<String>,
}

impl Which {
    /// The selector; with nothing given, the only credential if there is one
    /// (resolved by the caller).
    pub(crate) fn selector(&self) -> Option<pb::CredentialSelector> {
        let by = match (&self.credential, &self.client_id) {
            (Some(n), _) => pb::credential_selector::By::Name(n.clone()),
            (None, Some(c)) => pb::credential_selector::By::ClientId(c.clone()),
            (None, None) => return None,
        };
        Some(pb::CredentialSelector {
            by: Some(by),
            kid: self.kid.clone().unwrap_or_default(),
        })
    }
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log, cli.log_format);
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Check { config } => run::check(&config),
        Command::Enroll(args) => onboard::enroll(args),
        Command::Passphrase(onboard::PassphraseCommand::Store { name, target }) => {
            onboard::passphrase_store(&name, &target)
        }
        Command::Import(args) => onboard::import(args),
        Command::Audit(c) => audit::run(c),
        Command::InstallCert {
            name,
            cert,
            dir,
            config,
        } => onboard::install_cert(&name, &cert, &dir, config.as_deref()),
        Command::Agent(c) => agent::run(c),
        Command::Token(a) => token::token(a),
        Command::Dpop(a) => token::dpop(a),
        Command::ObSign(a) => sign::ob_sign(a),
        Command::BrasilSign(a) => sign::brasil_sign(a),
        Command::HttpSign(a) => sign::http_sign(a),
        Command::BerlinSign(a) => sign::berlin_sign(a),
        Command::VerifyResponse(a) => sign::verify_response(a),
        Command::VerifyJarm(a) => sign::verify_jarm(a),
        Command::Hmac(a) => shared::hmac(a),
        Command::PasswordDigest(a) => shared::password_digest(a),
        Command::Admin(c) => admin::run(c),
    }
}

fn init_logging(filter: &str, format: LogFormat) {
    // notify logs every inotify event at trace level; with the log file in
    // a watched directory each such line is itself an event, a loop that
    // fills the disk. It is heard only when the filter names it.
    let filter = if filter.contains("notify") {
        filter.to_owned()
    } else {
        format!("{filter},notify=info")
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: journald and log files get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    // Under systemd stderr goes to the journal (JOURNAL_STREAM is set),
    // which stamps every line itself: no second timestamp.
    let journal = std::env::var_os("JOURNAL_STREAM").is_some();
    match format {
        LogFormat::Text if journal => builder.without_time().init(),
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Steps every process that touches keys takes first.
pub(crate) fn prepare_process() {
    // First, before OpenSSL allocates anything.
    if !crate::sys::openssl::install_wiping_allocator() {
        tracing::warn!("OpenSSL allocator not replaced: freed OpenSSL buffers are not wiped");
    }
    if !crate::sys::mem::fix_mmap_threshold() {
        tracing::warn!("malloc's mmap threshold not fixed: freed scrypt buffers may stay resident");
    }
    if let Err(e) = crate::sys::process::harden_process() {
        tracing::warn!(error = %e, "process hardening incomplete");
    }
    if !crate::sys::openssl::init_openssl_secure_heap() {
        tracing::warn!("OpenSSL secure heap unavailable: key internals use the normal heap");
    }
    if let Err(e) = crate::sys::openssl::load_legacy_provider() {
        tracing::warn!(error = %e, "OpenSSL legacy provider unavailable: legacy PKCS#12 and DES keys will not load");
    }
}
