//! `run` (the daemon, or `run --dev`) and the offline `check`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use serde_json::{Value, json};

use super::{SocketArg, prepare_process};
use crate::access::audit;
use crate::config::{Config, PassphraseConfig};
use crate::credential::{Registry, State, dev};
use crate::daemon::Daemon;
use crate::source::EnvVault;

#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// The config file.
    #[arg(long, conflicts_with = "dev", required_unless_present = "dev")]
    config: Option<PathBuf>,
    /// Run with a throwaway in-memory credential; no setup needed.
    #[arg(long)]
    dev: bool,
    /// With --dev: the authorization server the throwaway credential signs
    /// for (the assertion's `aud`), e.g. your own sandbox's issuer.
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
    /// With --dev: the client_id (the assertion's `iss` and `sub`) your
    /// sandbox registered for the printed JWKS.
    #[arg(long, value_name = "C")]
    client_id: Option<String>,
    #[command(flatten)]
    socket: SocketArg,
}

/// Takes every `env` secret out of the environment (key passphrases,
/// OAuth client secrets and passwords, the proxy's TCP app tokens); must
/// run before any thread starts.
fn take_env(config: &Config) -> EnvVault {
    let sources = config.credentials.values().flat_map(|c| {
        let oauth = c.oauth.as_ref();
        [
            c.passphrase.as_ref(),
            oauth.and_then(|o| o.client_secret.as_ref()),
            oauth.and_then(|o| o.password.as_ref()),
        ]
        .into_iter()
        .chain(c.shared_secrets.values().map(|s| s.source.as_ref()))
    });
    let apps = config
        .proxy
        .iter()
        .flat_map(|p| p.tcp.iter())
        .flat_map(|t| t.apps.values())
        .map(|a| Some(&a.token));
    EnvVault::take(sources.chain(apps).filter_map(|s| match s {
        Some(PassphraseConfig::Env { variable }) => Some(variable.as_str()),
        _ => None,
    }))
}

pub(super) fn run(args: RunArgs) -> ExitCode {
    // (clap's `requires` counts the flag's default `false` as present.)
    if !args.dev && (args.issuer.is_some() || args.client_id.is_some()) {
        eprintln!(
            "fapi-agent: --issuer and --client-id go with --dev (a config's credentials name \
             their own issuer and client_id)"
        );
        return ExitCode::from(2);
    }
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
    let dev_options = dev::DevOptions {
        issuer: args.issuer.clone(),
        client_id: args.client_id.clone(),
    };
    let mut dev_files = None;
    let daemon = match &config_path {
        None => match dev::credential(&config.agent, &dev_options) {
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
            let observer = crate::metrics::fetch_observer();
            let registry = Registry::load(&config, &vault, observer.clone());
            let daemon = Daemon::from_config(registry, &config, path.clone(), vault, observer)
                .with_token_observer(crate::metrics::token_observer());
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
            print_dev_banner(&daemon.registry(), socket.path(), &dev_options);
        }
        let proxy = crate::proxy::Proxy::bind(&daemon, socket.path(), group).await?;
        let credsock = crate::credsock::CredSock::bind(&daemon, socket.path())?;
        crate::service::server::serve(
            Arc::clone(&daemon),
            socket,
            proxy,
            credsock,
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

fn print_dev_banner(registry: &Registry, socket: &Path, options: &dev::DevOptions) {
    let keys: Vec<Value> = registry
        .all()
        .filter_map(|c| c.facts().ok().map(|f| f.jwk.to_json()))
        .collect();
    let (client, issuer) = (options.client_id(), options.issuer());
    let s = shell_word(&socket.display().to_string());
    let exe = command_name();
    let jwks = serde_json::to_string_pretty(&json!({ "keys": keys })).unwrap_or_default();
    println!(
        "fapi-agent dev mode: a throwaway ES256 credential for client_id {client}, \
         issuer {issuer}\n\
         socket: {s}\n\n\
         JWKS:\n{jwks}\n\n\
         Try:\n  \
         {exe} assertion --socket {s} --credential dev\n  \
         {exe} credentials --socket {s}\n  \
         {exe} status --socket {s}\n  \
         grpcurl -plaintext -unix -authority localhost -d '{{\"credential\":{{\"name\":\"dev\"}}}}' \
         {s} fapi_agent.v1.Agent/SignClientAssertion\n\n\
         Stop with Ctrl-C.",
    );
    let _ = std::io::stdout().flush();
}

/// How to run this binary from a shell: `fapi-agent` when that name on
/// `PATH` is this very file, else this binary's own path (under
/// `cargo run` it is not on `PATH`), so the banner's commands work as shown.
fn command_name() -> String {
    let Some(exe) = std::env::current_exe()
        .ok()
        .and_then(|e| std::fs::canonicalize(e).ok())
    else {
        return "fapi-agent".to_owned();
    };
    if on_path("fapi-agent").is_some_and(|p| std::fs::canonicalize(p).ok() == Some(exe.clone())) {
        return "fapi-agent".to_owned();
    }
    shell_word(&exe.display().to_string())
}

/// The first executable file named `name` in a `PATH` directory, as a
/// shell would find it.
fn on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// `word` as one shell word: as is when it holds only characters no shell
/// treats specially, else single-quoted.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@,=%".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

pub(super) fn check(path: &Path) -> ExitCode {
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
    let registry = Registry::load(&config, &vault, None);
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

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn shell_word_quotes_only_what_a_shell_would_split_or_expand() {
        assert_eq!(shell_word("/usr/bin/fapi-agent"), "/usr/bin/fapi-agent");
        assert_eq!(
            shell_word("/run/user/1000/fapi-agent/agent.sock"),
            "/run/user/1000/fapi-agent/agent.sock"
        );
        assert_eq!(
            shell_word("/home/me/my dir/fapi-agent"),
            "'/home/me/my dir/fapi-agent'"
        );
        assert_eq!(shell_word("/tmp/it's"), r"'/tmp/it'\''s'");
        assert_eq!(shell_word("/tmp/$HOME"), "'/tmp/$HOME'");
        assert_eq!(shell_word(""), "''");
    }
}
