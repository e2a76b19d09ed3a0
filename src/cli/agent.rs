//! Client commands for applications: `assertion`, `credentials`, `jwks`,
//! `decrypt`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use super::call::{call, selection, status_msg};
use super::{SocketArg, Which};
use crate::client::Client;
use crate::service::pb;

/// Commands that talk to a running daemon's Agent service.
#[derive(Debug, Subcommand)]
pub(super) enum AgentCommand {
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
}

#[derive(Debug, Args)]
pub(super) struct AssertionArgs {
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
pub(super) struct DecryptArgs {
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
pub(super) fn run(command: AgentCommand) -> ExitCode {
    match command {
        AgentCommand::Assertion(a) => call(&a.socket.clone(), |client| assertion(client, a)),
        AgentCommand::Credentials { socket, json } => {
            call(&socket, |client| credentials(client, json))
        }
        AgentCommand::Jwks { socket, client_id } => call(&socket, |client| jwks(client, client_id)),
        AgentCommand::Decrypt(d) => {
            // The input first: nothing to connect for if it cannot be read.
            let text = match read_input(&d) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("fapi-agent: {e}");
                    return ExitCode::FAILURE;
                }
            };
            call(&d.socket.clone(), |client| decrypt(client, d, text))
        }
    }
}

async fn assertion(mut client: Client, a: AssertionArgs) -> Result<(), String> {
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
    Ok(())
}

async fn credentials(mut client: Client, json: bool) -> Result<(), String> {
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
            "{:<16} {:<20} {:<6} {:<44} {:<10} {:<9} KEY",
            "NAME", "CLIENT_ID", "ALG", "KID", "STATE", "DAYS_LEFT"
        );
        for c in &list.credentials {
            println!(
                "{:<16} {:<20} {:<6} {:<44} {:<10} {:<9} {}{}",
                c.name,
                c.client_id,
                c.alg,
                c.kid,
                state_name(c.state),
                c.days_left,
                backend_short(c.key_backend.as_ref()),
                if c.error.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", c.error)
                }
            );
        }
    }
    Ok(())
}

async fn jwks(mut client: Client, client_id: Option<String>) -> Result<(), String> {
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
        if let Some(why) = crate::credential::not_live(*c, now) {
            let detail = if c.error.is_empty() {
                String::new()
            } else {
                format!(" ({})", c.error)
            };
            eprintln!("left out {}: {why}{detail}", c.name);
        }
    }
    let jwks = crate::credential::live_jwks(mine, now);
    println!(
        "{}",
        serde_json::to_string_pretty(&jwks).unwrap_or_default()
    );
    Ok(())
}

fn read_input(d: &DecryptArgs) -> Result<String, String> {
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
    Ok(text)
}

async fn decrypt(mut client: Client, d: DecryptArgs, text: String) -> Result<(), String> {
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
    Ok(())
}

pub(super) fn state_name(state: i32) -> &'static str {
    match pb::CredentialState::try_from(state) {
        Ok(pb::CredentialState::Available) => "available",
        Ok(pb::CredentialState::Locked) => "locked",
        Ok(pb::CredentialState::Error) => "error",
        _ => "unknown",
    }
}

pub(super) fn credential_json(c: &pb::Credential) -> Value {
    json!({
        "name": c.name, "client_id": c.client_id, "issuer": c.issuer, "kid": c.kid,
        "alg": c.alg, "state": state_name(c.state), "error": c.error,
        "not_before": c.not_before, "not_after": c.not_after, "days_left": c.days_left,
        "x5t#S256": c.x5t_s256, "key_decrypted": c.key_decrypted,
        "export_allowed": c.export_allowed,
        "jwk": serde_json::from_str::<Value>(&c.public_jwk_json).unwrap_or(Value::Null),
        "key_backend": c.key_backend.as_ref().map(|b| json!({
            "kind": b.kind, "location": b.location, "module": b.module, "token": b.token,
            "extractable": b.extractable,
            "token_flags": b.token_flags.as_ref().map(|f| json!({
                "extractable": f.extractable, "never_extractable": f.never_extractable,
                "sensitive": f.sensitive,
            })),
        })),
        "token_status": c.token_status.as_ref().map(|t| json!({
            "auth_method": t.auth_method, "sender_constraint": t.sender_constraint,
            "dpop_key": t.dpop_key, "dpop_jkt": t.dpop_jkt, "cached_tokens": t.cached_tokens,
            "earliest_expiry": t.earliest_expiry, "last_request_at": t.last_request_at,
            "last_outcome": t.last_outcome,
        })),
        "passphrase_source": c.passphrase_source.as_ref().map(|p| json!({
            "kind": p.kind, "description": p.description, "held": p.held,
            "last_fetch_at": p.last_fetch_at, "last_error": p.last_error,
            "last_error_at": p.last_error_at, "next_retry_at": p.next_retry_at,
        })),
    })
}

/// Where a key lives, in words: `software`, `pkcs11, never extractable`.
pub(super) fn backend_short(b: Option<&pb::KeyBackend>) -> String {
    let Some(b) = b else {
        return "-".into();
    };
    match &b.token_flags {
        Some(f) if f.never_extractable => format!("{}, never extractable", b.kind),
        Some(f) if !f.extractable => format!("{}, not extractable", b.kind),
        Some(_) => format!("{}, EXTRACTABLE on the token", b.kind),
        None => b.kind.clone(),
    }
}

/// Where a key lives and whether it can leave, for `status`.
pub(super) fn backend_line(b: &pb::KeyBackend) -> String {
    let mut line = b.location.clone();
    if !b.module.is_empty() {
        line.push_str(&format!(" (module {})", b.module));
    }
    line.push_str(&match (&b.token_flags, b.extractable) {
        (Some(f), _) => format!(
            "; stays on the token (CKA_EXTRACTABLE {}, CKA_NEVER_EXTRACTABLE {}, CKA_SENSITIVE {})",
            f.extractable, f.never_extractable, f.sensitive
        ),
        (None, false) => "; stays on the token (attributes read at the first login)".into(),
        (None, true) => "; in the daemon's memory when decrypted".into(),
    });
    line
}
