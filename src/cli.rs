//! The `fapi-agent` command line: the daemon (`run`), the offline config
//! check (`check`) and client commands that talk to a running daemon.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::client::Client;
use crate::config::{Config, KeyringName, PassphraseConfig};
use crate::credential::{Registry, State};
use crate::daemon::Daemon;
use crate::jose::Alg;
use crate::secret::Passphrase;
use crate::service::pb;
use crate::source::EnvVault;
use crate::{audit, dev, enroll, onboard};

/// fapi-agent: signs FAPI client assertions and decrypts shared secrets for
/// local apps, from passphrase-encrypted credentials, over gRPC on a Unix socket.
#[derive(Debug, Parser)]
#[command(name = "fapi-agent", version, about, long_about = None)]
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
    Run(RunArgs),
    /// Validate a config file and every credential in it (decrypts each key
    /// once); exits non-zero with precise errors.
    Check {
        /// The config file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Generate the next credential: key pair, passphrase (stored in the
    /// kernel keyring or a 0600 file), encrypted key, CSR and config stanza.
    Enroll(EnrollArgs),
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
    Passphrase(PassphraseCommand),
    /// Onboard a credential a platform issued: proves the passphrase decrypts
    /// the key, that key and certificate match and the certificate is valid,
    /// stores the passphrase, and prints the config stanza to add.
    Import(ImportArgs),
    /// Audit log tools.
    #[command(subcommand)]
    Audit(AuditCommand),
    #[command(flatten)]
    Client(ClientCommand),
}

#[derive(Debug, Subcommand)]
enum PassphraseCommand {
    /// Store a passphrase (read from a no-echo prompt, or from stdin when it
    /// is not a terminal) in a secret manager; prints the config line.
    Store {
        /// The credential it belongs to (default description/attributes).
        #[arg(long)]
        name: String,
        #[command(flatten)]
        target: StoreTargetArgs,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StoreSourceArg {
    Keyutils,
    SecretService,
    File,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KeyringArg {
    User,
    Session,
    Persistent,
    Process,
}

#[derive(Debug, Args)]
struct StoreTargetArgs {
    /// Where the passphrase is stored.
    #[arg(long = "source", value_enum)]
    source: StoreSourceArg,
    /// keyutils: the key's description (default `fapi-agent:NAME`).
    #[arg(long)]
    description: Option<String>,
    /// keyutils: the keyring.
    #[arg(long, value_enum, default_value = "user")]
    keyring: KeyringArg,
    /// secret-service: a lookup attribute KEY=VALUE, repeatable (default
    /// `service=fapi-agent credential=NAME`).
    #[arg(long = "attribute")]
    attributes: Vec<String>,
    /// secret-service: the item's label (default `fapi-agent NAME`).
    #[arg(long)]
    label: Option<String>,
    /// file: the file to create (mode 0600; must not exist).
    #[arg(long)]
    path: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// Credential name in the config (letters, digits, - _ .).
    #[arg(long)]
    name: String,
    /// The OAuth client_id the platform issued it for.
    #[arg(long)]
    client_id: String,
    /// The authorization server's issuer identifier.
    #[arg(long)]
    issuer: String,
    /// The encrypted private key file ...
    #[arg(long, requires = "cert", conflicts_with = "p12")]
    key: Option<PathBuf>,
    /// ... and its certificate.
    #[arg(long, requires = "key", conflicts_with = "p12")]
    cert: Option<PathBuf>,
    /// Or a PKCS#12 bundle.
    #[arg(long)]
    p12: Option<PathBuf>,
    #[command(flatten)]
    target: StoreTargetArgs,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Verify the hash chain of an audit log: exits 1 naming the first
    /// edited, dropped or reordered record.
    Verify {
        /// The audit log (JSON lines).
        file: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AlgArg {
    #[value(name = "ES256")]
    Es256,
    #[value(name = "PS256")]
    Ps256,
    #[value(name = "EdDSA")]
    EdDsa,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StoreArg {
    Keyutils,
    SecretService,
    File,
}

#[derive(Debug, Args)]
struct EnrollArgs {
    /// Credential name (letters, digits, - _ .).
    #[arg(long)]
    name: String,
    /// OAuth client_id.
    #[arg(long)]
    client_id: String,
    /// The authorization server's issuer identifier.
    #[arg(long)]
    issuer: String,
    /// Key algorithm (PS256 generates RSA 3072).
    #[arg(long, value_enum, default_value = "ES256")]
    alg: AlgArg,
    /// Certificate subject, e.g. "CN=acme,O=Acme Ltd,C=GB".
    #[arg(long)]
    subject: String,
    /// Output directory.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Where to store the generated passphrase.
    #[arg(long, value_enum, default_value = "keyutils")]
    passphrase_store: StoreArg,
}

/// Commands that talk to a running daemon.
#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Print a fresh client assertion (JWT) from the running daemon.
    Assertion(AssertionArgs),
    /// List the daemon's credentials.
    Credentials {
        #[command(flatten)]
        socket: SocketArg,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the public JWKS to register at the authorization server.
    Jwks {
        #[command(flatten)]
        socket: SocketArg,
        /// Only keys of this client_id.
        #[arg(long)]
        client_id: Option<String>,
    },
    /// Decrypt a base64 shared secret (stdin or --input) to stdout.
    Decrypt(DecryptArgs),
    /// Make the daemon re-read its config and credential files (like SIGHUP).
    Reload {
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Wipe every passphrase and decrypted key in the daemon (like SIGUSR1).
    Lock {
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Fetch every passphrase again from its source and prove each key.
    Unlock {
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Show the daemon's status.
    Status {
        #[command(flatten)]
        socket: SocketArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The config file.
    #[arg(long, conflicts_with = "dev", required_unless_present = "dev")]
    config: Option<PathBuf>,
    /// Run with a throwaway in-memory credential; no setup needed.
    #[arg(long)]
    dev: bool,
    #[command(flatten)]
    socket: SocketArg,
}

#[derive(Debug, Args)]
struct SocketArg {
    /// The daemon's socket (default: $XDG_RUNTIME_DIR/fapi-agent/agent.sock,
    /// or /run/fapi-agent/agent.sock for root).
    #[arg(long, env = "FAPI_AGENT_SOCKET")]
    socket: Option<PathBuf>,
}

impl SocketArg {
    fn path(&self) -> PathBuf {
        self.socket
            .clone()
            .unwrap_or_else(crate::sys::listen::default_socket_path)
    }
}

#[derive(Debug, Args)]
struct Which {
    /// Credential name.
    #[arg(long, conflicts_with = "client_id")]
    credential: Option<String>,
    /// client_id (the newest valid credential of the client).
    #[arg(long)]
    client_id: Option<String>,
    /// Pin the key by kid.
    #[arg(long)]
    kid: Option<String>,
}

impl Which {
    /// The selector; with nothing given, the only credential if there is one
    /// (resolved by the caller).
    fn selector(&self) -> Option<pb::CredentialSelector> {
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

#[derive(Debug, Args)]
struct AssertionArgs {
    #[command(flatten)]
    socket: SocketArg,
    #[command(flatten)]
    which: Which,
    /// Audience (default: the configured issuer).
    #[arg(long)]
    audience: Option<String>,
    /// Lifetime in seconds (default 60, at most 300).
    #[arg(long)]
    ttl: Option<u32>,
    /// Print the full response as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PaddingArg {
    #[value(name = "oaep-sha256")]
    OaepSha256,
    #[value(name = "oaep-sha1")]
    OaepSha1,
    #[value(name = "pkcs1-v1_5")]
    Pkcs1V15,
}

#[derive(Debug, Args)]
struct DecryptArgs {
    #[command(flatten)]
    socket: SocketArg,
    #[command(flatten)]
    which: Which,
    /// The padding the platform used.
    #[arg(long, value_enum)]
    padding: PaddingArg,
    /// File with the base64 ciphertext (default: stdin).
    #[arg(long)]
    input: Option<PathBuf>,
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log, cli.log_format);
    match cli.command {
        Command::Run(args) => run(args),
        Command::Check { config } => check(&config),
        Command::Enroll(args) => enroll(args),
        Command::Passphrase(PassphraseCommand::Store { name, target }) => {
            passphrase_store(&name, &target)
        }
        Command::Import(args) => import(args),
        Command::Audit(AuditCommand::Verify { file }) => match audit::verify(&file) {
            Ok(Some(last)) => {
                println!(
                    "ok: {} records, seq {}..{}, last hash {} (keep it to detect truncation)",
                    last.seq + 1,
                    0,
                    last.seq,
                    last.hash
                );
                ExitCode::SUCCESS
            }
            Ok(None) => {
                println!("ok: empty audit log");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("fapi-agent: {e}");
                ExitCode::FAILURE
            }
        },
        Command::InstallCert {
            name,
            cert,
            dir,
            config,
        } => install_cert(&name, &cert, &dir, config.as_deref()),
        Command::Client(c) => client_command(c),
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
fn prepare_process() {
    // First, before OpenSSL allocates anything.
    if !crate::sys::openssl::install_wiping_allocator() {
        tracing::warn!("OpenSSL allocator not replaced: freed OpenSSL buffers are not wiped");
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

/// Takes every `env` passphrase out of the environment; must run before
/// any thread starts.
fn take_env(config: &Config) -> EnvVault {
    EnvVault::take(
        config
            .credentials
            .values()
            .filter_map(|c| match &c.passphrase {
                Some(PassphraseConfig::Env { variable }) => Some(variable.as_str()),
                _ => None,
            }),
    )
}

fn run(args: RunArgs) -> ExitCode {
    prepare_process();
    // Before any thread starts: systemd's LISTEN_* variables are read once.
    let inherited = match crate::sys::systemd::inherited_listener() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("fapi-agent: cannot use the socket systemd passed: {e}");
            return ExitCode::from(2);
        }
    };
    // Absolute from the start: a reload reads the same path, so relative
    // credential paths resolve the same way and unchanged credentials are
    // recognised as such (not "updated" and decrypted again).
    let config_path = args
        .config
        .as_ref()
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()));
    let (config, vault) = match &config_path {
        Some(path) => match Config::load(path) {
            Ok(c) => {
                let vault = take_env(&c);
                (c, vault)
            }
            Err(e) => {
                eprintln!("fapi-agent: {e}");
                return ExitCode::from(2);
            }
        },
        None => (Config::default(), EnvVault::default()),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fapi-agent: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut dev_files = None;
    let daemon = match &config_path {
        None => match dev::credential(&config.agent) {
            Ok(d) => {
                dev_files = Some(d.dir);
                Daemon::fixed(Registry::new([d.credential]), config.agent.clone())
            }
            Err(e) => {
                eprintln!("fapi-agent: cannot create the dev credential: {e}");
                return ExitCode::FAILURE;
            }
        },
        Some(path) => {
            let registry = Registry::load(&config, &vault);
            let daemon = Daemon::from_config(registry, &config, path.clone(), vault);
            match &config.agent.audit_log {
                None => daemon,
                Some(log) => match audit::AuditLog::open(log, config.agent.audit_fsync) {
                    Ok(log) => daemon.with_audit(log),
                    Err(e) => {
                        eprintln!(
                            "fapi-agent: {e}: fix or move it aside (fapi-agent audit verify)"
                        );
                        return ExitCode::from(2);
                    }
                },
            }
        }
    };
    let daemon = Arc::new(daemon);
    let socket_path = args
        .socket
        .socket
        .clone()
        .or_else(|| config.agent.socket.clone())
        .unwrap_or_else(crate::sys::listen::default_socket_path);

    let group = match &config.agent.socket_group {
        None => None,
        Some(name) => match crate::sys::process::group_id(name) {
            Some(gid) => Some(gid),
            None => {
                eprintln!(
                    "fapi-agent: {}",
                    crate::sys::listen::SocketError::UnknownGroup(name.clone())
                );
                return ExitCode::from(2);
            }
        },
    };
    let result = runtime.block_on(async {
        let socket = match inherited {
            Some(listener) => crate::sys::listen::BoundSocket::inherited(listener)?,
            None => crate::sys::listen::BoundSocket::bind(&socket_path, group)?,
        };
        if args.dev {
            print_dev_banner(&daemon.registry(), socket.path());
        }
        crate::service::server::serve(
            Arc::clone(&daemon),
            socket,
            crate::service::server::shutdown_signal(),
        )
        .await
    });
    // Work still running on the runtime's threads (a passphrase fetch that
    // hangs, say) does not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    drop(dev_files);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fapi-agent: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print_dev_banner(registry: &Registry, socket: &Path) {
    let keys: Vec<Value> = registry
        .all()
        .filter_map(|c| c.facts().ok().map(|f| f.jwk.to_json()))
        .collect();
    let s = socket.display();
    let jwks = serde_json::to_string_pretty(&json!({ "keys": keys })).unwrap_or_default();
    println!(
        "fapi-agent dev mode: a throwaway ES256 credential for client_id {client}, \
         issuer {issuer}\n\
         socket: {s}\n\n\
         JWKS:\n{jwks}\n\n\
         Try:\n  \
         fapi-agent assertion --socket {s} --credential dev\n  \
         fapi-agent credentials --socket {s}\n  \
         fapi-agent status --socket {s}\n  \
         grpcurl -plaintext -unix -authority localhost -d '{{\"credential\":{{\"name\":\"dev\"}}}}' \
         {s} fapi_agent.v1.Agent/SignClientAssertion\n\n\
         Stop with Ctrl-C.",
        client = dev::CLIENT_ID,
        issuer = dev::ISSUER,
    );
    let _ = std::io::stdout().flush();
}

fn check(path: &Path) -> ExitCode {
    prepare_process();
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fapi-agent: {e}");
            return ExitCode::from(2);
        }
    };
    let vault = take_env(&config);
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        eprintln!("fapi-agent: cannot start the runtime");
        return ExitCode::FAILURE;
    };
    let mut failed = 0;
    // `run` refuses to start without the socket group; Admin rules name
    // nobody without the admin group.
    for (key, group) in [
        ("socket_group", &config.agent.socket_group),
        ("admin_group", &config.agent.admin_group),
    ] {
        if let Some(name) = group
            && crate::sys::process::group_id(name).is_none()
        {
            failed += 1;
            println!("FAIL [agent]: {key} {name:?} is not a group on this system");
        }
    }
    let registry = Registry::load(&config, &vault);
    for cred in registry.all() {
        let cred = Arc::clone(cred);
        let outcome = runtime.block_on(cred.verify());
        match (outcome, cred.facts()) {
            (Ok(()), Ok(f)) => {
                let warning = match cred.state() {
                    State::Available { warning: Some(w) } => format!("\n     warning: {w}"),
                    _ => String::new(),
                };
                println!(
                    "ok   {}: client_id {} {} kid {} expires {} ({} days){warning}",
                    cred.name,
                    cred.client_id(),
                    f.alg,
                    f.jwk.thumbprint(),
                    f.not_after_text,
                    f.days_left(crate::now_unix())
                );
            }
            (Err(e), _) | (Ok(()), Err(e)) => {
                failed += 1;
                println!("FAIL {}: {e}", cred.name);
            }
        }
    }
    if failed > 0 {
        eprintln!("fapi-agent: {failed} credential(s) failed the check");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn store_target(name: &str, t: &StoreTargetArgs) -> Result<onboard::StoreTarget, String> {
    Ok(match t.source {
        StoreSourceArg::Keyutils => onboard::StoreTarget::Keyutils {
            description: t
                .description
                .clone()
                .unwrap_or_else(|| format!("fapi-agent:{name}")),
            keyring: match t.keyring {
                KeyringArg::User => KeyringName::User,
                KeyringArg::Session => KeyringName::Session,
                KeyringArg::Persistent => KeyringName::Persistent,
                KeyringArg::Process => KeyringName::Process,
            },
        },
        StoreSourceArg::SecretService => {
            let mut attributes = std::collections::BTreeMap::new();
            for a in &t.attributes {
                let (k, v) = a
                    .split_once('=')
                    .ok_or_else(|| format!("--attribute {a:?}: expected KEY=VALUE"))?;
                attributes.insert(k.to_owned(), v.to_owned());
            }
            if attributes.is_empty() {
                attributes.insert("service".into(), "fapi-agent".into());
                attributes.insert("credential".into(), name.to_owned());
            }
            onboard::StoreTarget::SecretService {
                attributes,
                label: t
                    .label
                    .clone()
                    .unwrap_or_else(|| format!("fapi-agent {name}")),
            }
        }
        StoreSourceArg::File => onboard::StoreTarget::File {
            path: t.path.clone().ok_or("--source file needs --path FILE")?,
        },
    })
}

/// Reads a passphrase from a no-echo prompt on the terminal, or from stdin
/// when stdin is not a terminal (one trailing newline removed). Never from
/// the command line.
fn read_passphrase(prompt: &str) -> Result<Passphrase, String> {
    use std::io::IsTerminal;
    let filled = if std::io::stdin().is_terminal() {
        Passphrase::fill_with(|buf| crate::sys::tty::read_tty_no_echo(prompt, buf))
    } else {
        let mut stdin = std::io::stdin().lock();
        Passphrase::fill_with(|buf| crate::source::read_full(&mut stdin, buf))
    };
    filled
        .map_err(|e| format!("cannot read the passphrase: {e}"))?
        .map_err(|e| format!("unusable passphrase: {e}"))
}

fn passphrase_store(name: &str, target: &StoreTargetArgs) -> ExitCode {
    prepare_process();
    let result = store_target(name, target).and_then(|t| {
        let pass = read_passphrase(&format!("Passphrase for {name}: "))?;
        onboard::store(&t, &pass).map_err(|e| e.to_string())
    });
    match result {
        Ok(cfg) => {
            println!("passphrase = {}", cfg.to_inline_toml());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fapi-agent: {e}");
            ExitCode::FAILURE
        }
    }
}

fn import(args: ImportArgs) -> ExitCode {
    prepare_process();
    let result = store_target(&args.name, &args.target).and_then(|target| {
        let req = onboard::ImportRequest {
            name: args.name.clone(),
            client_id: args.client_id.clone(),
            issuer: args.issuer.clone(),
            key: args.key.clone(),
            cert: args.cert.clone(),
            p12: args.p12.clone(),
            target,
        };
        let pass = read_passphrase(&format!(
            "Passphrase the platform issued with {}: ",
            args.name
        ))?;
        onboard::import(&req, &pass).map_err(|e| e.to_string())
    });
    match result {
        Ok(done) => {
            eprintln!(
                "ok: {name} ({alg}, kid {kid}) decrypts with this passphrase, matches its \
                 certificate, valid until {until} ({days} days); passphrase stored.\n\
                 Add this to the config, then reload (fapi-agent reload, or SIGHUP):",
                name = args.name,
                alg = done.alg.as_str(),
                kid = done.kid,
                until = done.not_after,
                days = done.days_left,
            );
            println!("{}", done.stanza);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fapi-agent: import refused: {e}");
            ExitCode::FAILURE
        }
    }
}

fn enroll(args: EnrollArgs) -> ExitCode {
    prepare_process();
    let req = enroll::EnrollRequest {
        name: args.name,
        client_id: args.client_id,
        issuer: args.issuer,
        alg: match args.alg {
            AlgArg::Es256 => Alg::Es256,
            AlgArg::Ps256 => Alg::Ps256,
            AlgArg::EdDsa => Alg::EdDsa,
        },
        subject: args.subject,
        dir: args.dir,
        store: match args.passphrase_store {
            StoreArg::Keyutils => enroll::PassphraseStore::Keyutils,
            StoreArg::SecretService => enroll::PassphraseStore::SecretService,
            StoreArg::File => enroll::PassphraseStore::File,
        },
    };
    match enroll::enroll(&req) {
        Ok(e) => {
            println!(
                "enrolled {name}: kid {kid}
  key (encrypted): {key}
  CSR: {csr}
  config stanza: {stanza}

                 Upload the CSR to the platform, then install the certificate it issues:
                   fapi-agent install-cert --name {name} --cert ISSUED.crt --dir {dir} --config AGENT.toml

{pem}",
                name = req.name,
                kid = e.kid,
                key = e.key.display(),
                csr = e.csr.display(),
                stanza = e.stanza.display(),
                dir = e.key.parent().map(|p| p.display().to_string()).unwrap_or_default(),
                pem = e.csr_pem,
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fapi-agent: {e}");
            ExitCode::FAILURE
        }
    }
}

fn install_cert(name: &str, cert: &Path, dir: &Path, config: Option<&Path>) -> ExitCode {
    prepare_process();
    match enroll::install_cert(name, cert, dir, config) {
        Ok(kid) => {
            println!(
                "installed {name} (kid {kid}){}",
                if config.is_some() {
                    ": a running daemon picks it up from the config change (or run `fapi-agent reload`)"
                } else {
                    ": add the stanza from NAME.toml to the daemon's config"
                }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fapi-agent: {e}");
            ExitCode::FAILURE
        }
    }
}

fn client_command(command: ClientCommand) -> ExitCode {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        eprintln!("fapi-agent: cannot start the runtime");
        return ExitCode::FAILURE;
    };
    match runtime.block_on(client_command_async(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("fapi-agent: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn status_msg(s: tonic::Status) -> String {
    format!("{:?}: {}", s.code(), s.message())
}

async fn connect(socket: &SocketArg) -> Result<Client, String> {
    let path = socket.path();
    Client::connect(&path).await.map_err(|e| {
        // The transport error's own text is generic; the cause is below it.
        let mut cause = String::new();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            cause = s.to_string();
            source = s.source();
        }
        if cause.contains("refusing to talk to it") {
            return cause;
        }
        format!(
            "cannot connect to the daemon at {}: {e}: {cause} (is it running? set --socket or \
             FAPI_AGENT_SOCKET)",
            path.display()
        )
    })
}

/// Resolves an empty selection to the only credential, as a convenience.
async fn selection(client: &mut Client, which: &Which) -> Result<pb::CredentialSelector, String> {
    if let Some(sel) = which.selector() {
        return Ok(sel);
    }
    let list = client
        .agent
        .list_credentials(pb::ListCredentialsRequest {})
        .await
        .map_err(status_msg)?
        .into_inner();
    match list.credentials.as_slice() {
        [only] => Ok(pb::CredentialSelector {
            by: Some(pb::credential_selector::By::Name(only.name.clone())),
            kid: which.kid.clone().unwrap_or_default(),
        }),
        _ => Err(
            "several credentials are configured: choose one with --credential or --client-id"
                .into(),
        ),
    }
}

async fn client_command_async(command: ClientCommand) -> Result<(), String> {
    match command {
        ClientCommand::Assertion(a) => {
            let mut client = connect(&a.socket).await?;
            let sel = selection(&mut client, &a.which).await?;
            let r = client
                .agent
                .sign_client_assertion(pb::SignClientAssertionRequest {
                    credential: Some(sel),
                    audience: a.audience.unwrap_or_default(),
                    lifetime_seconds: a.ttl.unwrap_or(0),
                    extra_claims_json: String::new(),
                })
                .await
                .map_err(status_msg)?
                .into_inner();
            if a.json {
                println!(
                    "{}",
                    json!({
                        "client_assertion": r.assertion,
                        "client_assertion_type": r.assertion_type,
                        "kid": r.kid, "jti": r.jti, "exp": r.expires_at,
                        "alg": r.alg, "credential": r.credential,
                    })
                );
            } else {
                println!("{}", r.assertion);
            }
        }
        ClientCommand::Credentials { socket, json } => {
            let mut client = connect(&socket).await?;
            let list = client
                .agent
                .list_credentials(pb::ListCredentialsRequest {})
                .await
                .map_err(status_msg)?
                .into_inner();
            if json {
                let out: Vec<Value> = list.credentials.iter().map(credential_json).collect();
                println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            } else {
                println!(
                    "{:<16} {:<20} {:<6} {:<44} {:<10} DAYS_LEFT",
                    "NAME", "CLIENT_ID", "ALG", "KID", "STATE"
                );
                for c in &list.credentials {
                    println!(
                        "{:<16} {:<20} {:<6} {:<44} {:<10} {}{}",
                        c.name,
                        c.client_id,
                        c.alg,
                        c.kid,
                        state_name(c.state),
                        c.days_left,
                        if c.error.is_empty() {
                            String::new()
                        } else {
                            format!("  ({})", c.error)
                        }
                    );
                }
            }
        }
        ClientCommand::Jwks { socket, client_id } => {
            let mut client = connect(&socket).await?;
            let list = client
                .agent
                .list_credentials(pb::ListCredentialsRequest {})
                .await
                .map_err(status_msg)?
                .into_inner();
            let now = crate::now_unix();
            let mine: Vec<&pb::Credential> = list
                .credentials
                .iter()
                .filter(|c| client_id.as_ref().is_none_or(|id| &c.client_id == id))
                .collect();
            for c in &mine {
                if let Some(why) = crate::service::not_live(c, now) {
                    let detail = if c.error.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", c.error)
                    };
                    eprintln!("left out {}: {why}{detail}", c.name);
                }
            }
            let jwks = crate::service::live_jwks(mine, now);
            println!(
                "{}",
                serde_json::to_string_pretty(&jwks).unwrap_or_default()
            );
        }
        ClientCommand::Decrypt(d) => {
            let mut text = String::new();
            match &d.input {
                Some(p) => {
                    let bytes = crate::sys::fs::read_capped(p, 64 * 1024, "a base64 ciphertext")
                        .map_err(|e| e.to_string())?;
                    text = String::from_utf8(bytes)
                        .map_err(|_| format!("{} is not base64 text", p.display()))?;
                }
                None => {
                    std::io::stdin()
                        .read_to_string(&mut text)
                        .map_err(|e| format!("cannot read stdin: {e}"))?;
                }
            }
            let mut client = connect(&d.socket).await?;
            let sel = selection(&mut client, &d.which).await?;
            let padding = match d.padding {
                PaddingArg::OaepSha256 => pb::Padding::OaepSha256,
                PaddingArg::OaepSha1 => pb::Padding::OaepSha1,
                PaddingArg::Pkcs1V15 => pb::Padding::Pkcs1V15,
            };
            let r = client
                .agent
                .decrypt_secret(pb::DecryptSecretRequest {
                    credential: Some(sel),
                    padding: padding.into(),
                    ciphertext: Some(pb::decrypt_secret_request::Ciphertext::CiphertextBase64(
                        text,
                    )),
                })
                .await
                .map_err(status_msg)?
                .into_inner();
            let plaintext = crate::secret::SecretBytes::new(r.plaintext);
            std::io::stdout()
                .write_all(plaintext.expose())
                .and_then(|()| std::io::stdout().flush())
                .map_err(|e| format!("cannot write stdout: {e}"))?;
        }
        ClientCommand::Reload { socket } => {
            let mut client = connect(&socket).await?;
            let r = client
                .admin
                .reload(pb::ReloadRequest {})
                .await
                .map_err(status_msg)?
                .into_inner();
            println!(
                "reloaded: added {:?}, removed {:?}, updated {:?}",
                r.added, r.removed, r.updated
            );
            for e in &r.errors {
                println!("error: {e}");
            }
            if !r.errors.is_empty() {
                return Err(format!("{} credential(s) failed to reload", r.errors.len()));
            }
        }
        ClientCommand::Lock { socket } => {
            let mut client = connect(&socket).await?;
            let r = client
                .admin
                .lock(pb::LockRequest {})
                .await
                .map_err(status_msg)?
                .into_inner();
            println!("locked: {}", r.locked.join(", "));
        }
        ClientCommand::Unlock { socket } => {
            let mut client = connect(&socket).await?;
            let r = client
                .admin
                .unlock(pb::UnlockRequest {})
                .await
                .map_err(status_msg)?
                .into_inner();
            println!("unlocked: {}", r.unlocked.join(", "));
            for e in &r.errors {
                println!("error: {e}");
            }
            if !r.errors.is_empty() {
                return Err(format!(
                    "{} credential(s) could not be unlocked",
                    r.errors.len()
                ));
            }
        }
        ClientCommand::Status { socket, json } => {
            let mut client = connect(&socket).await?;
            let s = client
                .admin
                .status(pb::StatusRequest {})
                .await
                .map_err(status_msg)?
                .into_inner();
            if json {
                let creds: Vec<Value> = s.credentials.iter().map(credential_json).collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "version": s.version, "uptime_seconds": s.uptime_seconds,
                        "socket": s.socket_path, "pid": s.pid, "locked": s.locked,
                        "last_reload_at": s.last_reload_at, "last_reload_trigger": s.last_reload_trigger,
                        "last_reload_error": s.last_reload_error,
                        "secret_pages_locked": s.secret_pages_locked,
                        "secret_pages_unlockable": s.secret_pages_unlockable,
                        "secure_heap": s.secure_heap, "credentials": creds,
                    }))
                    .unwrap_or_default()
                );
            } else {
                println!(
                    "fapi-agent {} (pid {}), up {} s, socket {}{}",
                    s.version,
                    s.pid,
                    s.uptime_seconds,
                    s.socket_path,
                    if s.locked { ", LOCKED" } else { "" }
                );
                println!(
                    "  memory: {} secret page(s) locked, {} could not be locked, OpenSSL secure heap {}",
                    s.secret_pages_locked,
                    s.secret_pages_unlockable,
                    if s.secure_heap { "on" } else { "OFF" }
                );
                if !s.last_reload_error.is_empty() {
                    println!(
                        "  last reload ({}) failed: {}",
                        s.last_reload_trigger, s.last_reload_error
                    );
                }
                for c in &s.credentials {
                    println!(
                        "  {:<16} {:<10} {}{}",
                        c.name,
                        state_name(c.state),
                        if c.key_decrypted {
                            "key in memory"
                        } else {
                            "key not in memory"
                        },
                        if c.error.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", c.error)
                        }
                    );
                    if let Some(p) = c.passphrase_source.as_ref().filter(|p| !p.kind.is_empty()) {
                        println!(
                            "  {:<16} passphrase: {} ({}), last fetch {}{}{}",
                            "",
                            p.description,
                            if p.held { "held" } else { "not held" },
                            ago(p.last_fetch_at),
                            if p.last_error.is_empty() {
                                String::new()
                            } else {
                                format!(", last error {}: {}", ago(p.last_error_at), p.last_error)
                            },
                            if p.next_retry_at > 0 {
                                format!(
                                    ", next retry in {} s",
                                    (p.next_retry_at - crate::now_unix()).max(0)
                                )
                            } else {
                                String::new()
                            }
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

fn state_name(state: i32) -> &'static str {
    match pb::CredentialState::try_from(state) {
        Ok(pb::CredentialState::Available) => "available",
        Ok(pb::CredentialState::Locked) => "locked",
        Ok(pb::CredentialState::Error) => "error",
        _ => "unknown",
    }
}

fn credential_json(c: &pb::Credential) -> Value {
    json!({
        "name": c.name, "client_id": c.client_id, "issuer": c.issuer, "kid": c.kid,
        "alg": c.alg, "state": state_name(c.state), "error": c.error,
        "not_before": c.not_before, "not_after": c.not_after, "days_left": c.days_left,
        "x5t#S256": c.x5t_s256, "key_decrypted": c.key_decrypted,
        "export_allowed": c.export_allowed,
        "jwk": serde_json::from_str::<Value>(&c.public_jwk_json).unwrap_or(Value::Null),
        "passphrase_source": c.passphrase_source.as_ref().map(|p| json!({
            "kind": p.kind, "description": p.description, "held": p.held,
            "last_fetch_at": p.last_fetch_at, "last_error": p.last_error,
            "last_error_at": p.last_error_at, "next_retry_at": p.next_retry_at,
        })),
    })
}

/// "3 s ago", "never": for Status.
fn ago(unix: i64) -> String {
    if unix <= 0 {
        return "never".into();
    }
    let secs = crate::now_unix().saturating_sub(unix).max(0);
    format!("{secs} s ago")
}
