//! Client commands for operators: `reload`, `lock`, `unlock`, `status`.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};

use super::SocketArg;
use super::agent::{credential_json, state_name};
use super::call::{call, status_msg};
use crate::client::Client;
use crate::service::pb;

/// Commands that talk to a running daemon's Admin service.
#[derive(Debug, Subcommand)]
pub(super) enum AdminCommand {
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

pub(super) fn run(command: AdminCommand) -> ExitCode {
    match command {
        AdminCommand::Reload { socket } => call(&socket, reload),
        AdminCommand::Lock { socket } => call(&socket, lock),
        AdminCommand::Unlock { socket } => call(&socket, unlock),
        AdminCommand::Status { socket, json } => call(&socket, |client| status(client, json)),
    }
}

async fn reload(mut client: Client) -> Result<(), String> {
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
    Ok(())
}

async fn lock(mut client: Client) -> Result<(), String> {
    let r = client
        .admin
        .lock(pb::LockRequest {})
        .await
        .map_err(status_msg)?
        .into_inner();
    println!("locked: {}", r.locked.join(", "));
    Ok(())
}

async fn unlock(mut client: Client) -> Result<(), String> {
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
    Ok(())
}

async fn status(mut client: Client, json: bool) -> Result<(), String> {
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
            let on_token = c.key_backend.as_ref().is_some_and(|b| b.kind == "pkcs11");
            println!(
                "  {:<16} {:<10} {}{}",
                c.name,
                state_name(c.state),
                match (on_token, c.key_decrypted) {
                    (true, true) => "logged in to the token",
                    (true, false) => "not logged in to the token",
                    (false, true) => "key in memory",
                    (false, false) => "key not in memory",
                },
                if c.error.is_empty() {
                    String::new()
                } else {
                    format!(": {}", c.error)
                }
            );
            if let Some(b) = &c.key_backend {
                println!("  {:<16} key: {}", "", super::agent::backend_line(b));
            }
            if let Some(t) = &c.token_status {
                println!("  {:<16} tokens: {}", "", tokens_line(t));
            }
            if let Some(p) = c.passphrase_source.as_ref().filter(|p| !p.kind.is_empty()) {
                println!(
                    "  {:<16} {}: {} ({}), last fetch {}{}{}",
                    "",
                    if on_token { "PIN" } else { "passphrase" },
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
    Ok(())
}

/// A credential's access tokens, for `status`: never a token.
fn tokens_line(t: &pb::TokenStatus) -> String {
    let mut line = format!("{}, {}", t.auth_method, t.sender_constraint);
    if !t.dpop_key.is_empty() {
        line.push_str(&format!(" (DPoP key {}", t.dpop_key));
        if !t.dpop_jkt.is_empty() {
            line.push_str(&format!(", jkt {}", t.dpop_jkt));
        }
        line.push(')');
    }
    line.push_str(&format!(", {} cached", t.cached_tokens));
    if t.earliest_expiry > 0 {
        line.push_str(&format!(
            " (first expires in {} s)",
            (t.earliest_expiry - crate::now_unix()).max(0)
        ));
    }
    if t.last_request_at > 0 {
        line.push_str(&format!(
            ", last request {}: {}",
            ago(t.last_request_at),
            t.last_outcome
        ));
    }
    line
}

/// "3 s ago", "never": for Status.
fn ago(unix: i64) -> String {
    if unix <= 0 {
        return "never".into();
    }
    let secs = crate::now_unix().saturating_sub(unix).max(0);
    format!("{secs} s ago")
}
