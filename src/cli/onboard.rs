//! Onboarding: `import`, `passphrase store`, `enroll`, `install-cert`.
//! Offline: they run [`crate::ops::onboard`] and [`crate::ops::enroll`]
//! without a daemon.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};

use super::prepare_process;
use crate::config::KeyringName;
use crate::jose::Alg;
use crate::ops::{enroll as ops_enroll, onboard as ops_onboard, provision as ops_provision};
use crate::secret::Passphrase;

#[derive(Debug, Subcommand)]
pub(super) enum PassphraseCommand {
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
    Keyring,
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
pub(super) struct StoreTargetArgs {
    /// Where the passphrase (with --pkcs11/--to-pkcs11: the token's PIN)
    /// is stored. Required, except by a software `enroll`, which has
    /// --passphrase-store.
    #[arg(long = "source", value_enum)]
    source: Option<StoreSourceArg>,
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
    /// keyring: the entry's service (default `fapi-agent`), as in
    /// `keyring set SERVICE USER`.
    #[arg(long)]
    service: Option<String>,
    /// keyring: the entry's user (default NAME).
    #[arg(long)]
    user: Option<String>,
    /// file: the file to create (mode 0600; must not exist).
    #[arg(long)]
    path: Option<PathBuf>,
}

/// The PKCS#11 token of `enroll --pkcs11` and `import --to-pkcs11`.
#[derive(Debug, Args)]
pub(super) struct TokenArgs {
    /// The PKCS#11 module (shared library); the daemon's config
    /// (--config) must list it in `[agent] pkcs11_modules`.
    #[arg(long)]
    module: Option<PathBuf>,
    /// The token's label (`pkcs11-tool --module MODULE -L`) ...
    #[arg(long, conflicts_with = "token_serial")]
    token_label: Option<String>,
    /// ... or its serial number.
    #[arg(long)]
    token_serial: Option<String>,
    /// The daemon's config file: the module must be on its allow-list, so
    /// that the daemon loads the stanza written here.
    #[arg(long = "config")]
    agent_config: Option<PathBuf>,
}

impl TokenArgs {
    fn given(&self) -> bool {
        self.module.is_some()
            || self.token_label.is_some()
            || self.token_serial.is_some()
            || self.agent_config.is_some()
    }

    fn choice(&self, flag: &str) -> Result<ops_provision::TokenChoice, String> {
        let (Some(module), Some(agent_config)) = (&self.module, &self.agent_config) else {
            return Err(format!(
                "{flag} needs --module PATH and --config AGENT.toml (whose [agent] \
                 pkcs11_modules lists the module)"
            ));
        };
        if self.token_label.is_none() && self.token_serial.is_none() {
            return Err(format!(
                "{flag} needs --token-label or --token-serial (see `pkcs11-tool --module MODULE -L`)"
            ));
        }
        Ok(ops_provision::TokenChoice {
            module: module.clone(),
            token_label: self.token_label.clone(),
            token_serial: self.token_serial.clone(),
            agent_config: agent_config.clone(),
        })
    }
}

#[derive(Debug, Args)]
pub(super) struct ImportArgs {
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
    #[arg(long, conflicts_with = "keystore")]
    p12: Option<PathBuf>,
    /// Or a Java keystore (JKS or PKCS#12) ...
    #[arg(long, requires = "alias", conflicts_with_all = ["key", "cert"])]
    keystore: Option<PathBuf>,
    /// ... and the alias of its private-key entry. The passphrase read is
    /// the store password and the entry's key password.
    #[arg(long, requires = "keystore")]
    alias: Option<String>,
    /// The entry has a key password of its own (JKS `keytool -keypass`):
    /// read it after the store password (a second prompt; from stdin, the
    /// second line) and store it beside it.
    #[arg(long, requires = "keystore", conflicts_with = "to_pkcs11")]
    separate_key_password: bool,
    /// Move the key onto a PKCS#11 token (--module, --token-label or
    /// --token-serial, --config): stored sensitive and not extractable
    /// with its certificate, proven by a signature, then the token's PIN
    /// (read after the passphrase: a second prompt, or stdin's second
    /// line) is stored in --source instead of the passphrase.
    #[arg(long)]
    to_pkcs11: bool,
    /// With --to-pkcs11: delete the encrypted key file (or bundle) once
    /// the token holds the key, without asking.
    #[arg(long, requires = "to_pkcs11", conflicts_with = "keystore")]
    delete_key_file: bool,
    #[command(flatten)]
    token: TokenArgs,
    #[command(flatten)]
    target: StoreTargetArgs,
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
pub(super) struct EnrollArgs {
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
    /// Generate the key pair on a PKCS#11 token instead (--module,
    /// --token-label or --token-serial, --config): it never leaves the
    /// token, which signs the CSR. The token's PIN is read (no-echo
    /// prompt, or stdin), used to log in and stored in --source.
    #[arg(long)]
    pkcs11: bool,
    #[command(flatten)]
    token: TokenArgs,
    #[command(flatten)]
    pin_target: StoreTargetArgs,
}

/// Commands that talk to a running daemon.
fn store_target(name: &str, t: &StoreTargetArgs) -> Result<ops_onboard::StoreTarget, String> {
    let Some(source) = t.source else {
        return Err(
            "give --source keyutils|secret-service|keyring|file: where the secret is stored".into(),
        );
    };
    Ok(match source {
        StoreSourceArg::Keyutils => ops_onboard::StoreTarget::Keyutils {
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
            ops_onboard::StoreTarget::SecretService {
                attributes,
                label: t
                    .label
                    .clone()
                    .unwrap_or_else(|| format!("fapi-agent {name}")),
            }
        }
        StoreSourceArg::Keyring => ops_onboard::StoreTarget::Keyring {
            service: t.service.clone().unwrap_or_else(|| "fapi-agent".into()),
            user: t.user.clone().unwrap_or_else(|| name.to_owned()),
        },
        StoreSourceArg::File => ops_onboard::StoreTarget::File {
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

/// A keystore's store and key passwords: two no-echo prompts on a terminal,
/// else the first two lines of stdin (read into locked memory, then split).
fn read_two_passwords(name: &str) -> Result<(Passphrase, Passphrase), String> {
    read_two_secrets(
        &format!("Store password of {name}'s keystore: "),
        &format!("Key password of {name}'s entry: "),
        "--separate-key-password: give the store password and the key password on two lines",
    )
}

/// Two secrets: two no-echo prompts on a terminal, else the first two
/// lines of stdin (read into locked memory, then split); `two_lines` is
/// the error when stdin has one line only.
fn read_two_secrets(
    first_prompt: &str,
    second_prompt: &str,
    two_lines: &str,
) -> Result<(Passphrase, Passphrase), String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let first = read_passphrase(first_prompt)?;
        let second = read_passphrase(second_prompt)?;
        return Ok((first, second));
    }
    let both = read_passphrase("")?;
    let b = both.expose();
    let unusable = |e: crate::secret::PassphraseError| format!("unusable password: {e}");
    let Some(nl) = b.iter().position(|&c| c == b'\n') else {
        return Err(two_lines.into());
    };
    let first = b.get(..nl).unwrap_or_default();
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    let second = b.get(nl + 1..).unwrap_or_default();
    let second = second.strip_suffix(b"\r").unwrap_or(second);
    Ok((
        Passphrase::from_slice(first).map_err(unusable)?,
        Passphrase::from_slice(second).map_err(unusable)?,
    ))
}

pub(super) fn passphrase_store(name: &str, target: &StoreTargetArgs) -> ExitCode {
    prepare_process();
    let result = store_target(name, target).and_then(|t| {
        let pass = read_passphrase(&format!("Passphrase for {name}: "))?;
        ops_onboard::store(&t, &pass).map_err(|e| e.to_string())
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

pub(super) fn import(args: ImportArgs) -> ExitCode {
    prepare_process();
    if args.to_pkcs11 {
        return import_to_token(&args);
    }
    if args.token.given() {
        eprintln!(
            "fapi-agent: --module, --token-label, --token-serial and --config are for \
             `import --to-pkcs11`"
        );
        return ExitCode::FAILURE;
    }
    let result = store_target(&args.name, &args.target).and_then(|target| {
        let req = import_request(&args, target);
        if args.separate_key_password {
            let (store, key) = read_two_passwords(&args.name)?;
            return ops_onboard::import_with_key_password(&req, &store, Some(&key))
                .map_err(|e| e.to_string());
        }
        let pass = read_passphrase(&format!(
            "Passphrase the platform issued with {}: ",
            args.name
        ))?;
        ops_onboard::import(&req, &pass).map_err(|e| e.to_string())
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

pub(super) fn enroll(args: EnrollArgs) -> ExitCode {
    prepare_process();
    if args.pkcs11 {
        return enroll_on_token(args);
    }
    if args.token.given() || args.pin_target.source.is_some() {
        eprintln!(
            "fapi-agent: --module, --token-label, --token-serial, --config and --source are for \
             `enroll --pkcs11`; a software enroll stores its passphrase per --passphrase-store"
        );
        return ExitCode::FAILURE;
    }
    let req = ops_enroll::EnrollRequest {
        name: args.name,
        client_id: args.client_id,
        issuer: args.issuer,
        alg: args.alg.alg(),
        subject: args.subject,
        dir: args.dir,
        store: match args.passphrase_store {
            StoreArg::Keyutils => ops_enroll::PassphraseStore::Keyutils,
            StoreArg::SecretService => ops_enroll::PassphraseStore::SecretService,
            StoreArg::File => ops_enroll::PassphraseStore::File,
        },
    };
    match ops_enroll::enroll(&req) {
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

pub(super) fn install_cert(name: &str, cert: &Path, dir: &Path, config: Option<&Path>) -> ExitCode {
    prepare_process();
    match ops_enroll::install_cert(name, cert, dir, config) {
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

impl AlgArg {
    fn alg(self) -> Alg {
        match self {
            AlgArg::Es256 => Alg::Es256,
            AlgArg::Ps256 => Alg::Ps256,
            AlgArg::EdDsa => Alg::EdDsa,
        }
    }
}

/// How the token reports the key's protection, for operators.
fn flags_text(f: crate::keys::pkcs11::KeyFlags) -> String {
    format!(
        "CKA_SENSITIVE {}, CKA_EXTRACTABLE {}, CKA_NEVER_EXTRACTABLE {}",
        f.sensitive, f.extractable, f.never_extractable
    )
}

fn enroll_on_token(args: EnrollArgs) -> ExitCode {
    let result = args.token.choice("--pkcs11").and_then(|token| {
        let pin_target = store_target(&args.name, &args.pin_target)?;
        let req = ops_provision::TokenEnrollRequest {
            name: args.name.clone(),
            client_id: args.client_id.clone(),
            issuer: args.issuer.clone(),
            alg: args.alg.alg(),
            subject: args.subject.clone(),
            dir: args.dir.clone(),
            token,
            pin_target,
        };
        let pin = read_passphrase(&format!(
            "User PIN of the token (stored for {}): ",
            args.name
        ))?;
        ops_provision::enroll_on_token(&req, &pin).map_err(|e| e.to_string())
    });
    match result {
        Ok(e) => {
            println!(
                "enrolled {name} on the token: kid {kid}, CKA_ID {id} ({flags})
  CSR (signed by the token): {csr}
  public key: {public}
  config stanza: {stanza}
  no key file: the private key stays on the token.

Upload the CSR to the platform, then install the certificate it issues:
  fapi-agent install-cert --name {name} --cert ISSUED.crt --dir {dir} --config AGENT.toml

{pem}",
                name = args.name,
                kid = e.kid,
                id = e.key_id,
                flags = flags_text(e.flags),
                csr = e.csr.display(),
                public = e.public_key.display(),
                stanza = e.stanza.display(),
                dir = e
                    .csr
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
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

/// Asks on the terminal whether to delete `path`; no means keep.
fn confirm_delete(path: &Path) -> bool {
    use std::io::Write;
    eprint!(
        "The token holds the key now. Delete the encrypted key file {}? [y/N] ",
        path.display()
    );
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).is_ok() && matches!(line.trim(), "y" | "Y" | "yes")
}

/// What `import` (to a passphrase store or to a token) reads.
fn import_request(
    args: &ImportArgs,
    target: ops_onboard::StoreTarget,
) -> ops_onboard::ImportRequest {
    ops_onboard::ImportRequest {
        name: args.name.clone(),
        client_id: args.client_id.clone(),
        issuer: args.issuer.clone(),
        key: args.key.clone(),
        cert: args.cert.clone(),
        p12: args.p12.clone(),
        keystore: args.keystore.clone().zip(args.alias.clone()),
        target,
    }
}

fn import_to_token(args: &ImportArgs) -> ExitCode {
    use std::io::IsTerminal;
    let result = args.token.choice("--to-pkcs11").and_then(|token| {
        let req = import_request(args, store_target(&args.name, &args.target)?);
        let (pass, pin) = read_two_secrets(
            &format!("Passphrase the platform issued with {}: ", args.name),
            "User PIN of the token: ",
            "--to-pkcs11: give the key's passphrase on the first line and the token's PIN on \
             the second",
        )?;
        ops_provision::import_to_token(&req, &token, &pass, &pin).map_err(|e| e.to_string())
    });
    let done = match result {
        Ok(done) => done,
        Err(e) => {
            eprintln!("fapi-agent: import refused: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "ok: {name} ({alg}, kid {kid}) decrypts with this passphrase, matches its certificate, \
         valid until {until} ({days} days); now on the token with its certificate (CKA_ID {id}; \
         {flags}), proven by a signature the certificate verifies; PIN stored.\n\
         Add this to the config, then reload (fapi-agent reload, or SIGHUP):",
        name = args.name,
        alg = done.alg.as_str(),
        kid = done.kid,
        until = done.not_after,
        days = done.days_left,
        id = done.key_id,
        flags = flags_text(done.flags),
    );
    println!("{}", done.stanza);
    let file = &done.key_file;
    let delete = args.keystore.is_none()
        && (args.delete_key_file || (std::io::stdin().is_terminal() && confirm_delete(file)));
    if delete {
        if let Err(e) = ops_provision::delete_key_file(file) {
            eprintln!("fapi-agent: the key is on the token, but {e}");
            return ExitCode::FAILURE;
        }
        eprintln!("deleted {}", file.display());
    } else if args.keystore.is_some() {
        eprintln!(
            "kept {}: the token holds the key now; the keystore may hold other entries, so \
             remove this one with `keytool -delete -alias ALIAS` if it should go",
            file.display()
        );
    } else {
        eprintln!(
            "kept {}: the token holds the key now, so the file can be deleted (keep a backup \
             only where the platform's policy asks for one)",
            file.display()
        );
    }
    ExitCode::SUCCESS
}
