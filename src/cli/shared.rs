//! Client commands for shared secrets the daemon holds: `hmac`,
//! `password-digest`. The secret never reaches this process.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde_json::json;

use super::call::{call, read_file_or_stdin, selection, status_msg};
use super::{SocketArg, Which};
use crate::client::Client;
use crate::service::pb;

/// An HMAC's hash function.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum AlgArg {
    /// HMAC-SHA-1.
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

/// How the MAC is printed.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum EncodingArg {
    /// Lower-case hex.
    Hex,
    /// Standard base64, padded.
    Base64,
    /// URL-safe base64, unpadded.
    Base64url,
}

/// `fapi-agent hmac`.
#[derive(Debug, Args)]
pub(super) struct HmacArgs {
    #[command(flatten)]
    socket: SocketArg,
    #[command(flatten)]
    which: Which,
    /// The shared secret's name (`[credentials.NAME.shared_secrets.SECRET]`).
    #[arg(long)]
    name: String,
    /// The hash function.
    #[arg(long, value_enum, default_value = "sha256")]
    alg: AlgArg,
    /// The file holding the exact message bytes (`-` for stdin).
    #[arg(long)]
    message: PathBuf,
    /// How the MAC is printed.
    #[arg(long, value_enum, default_value = "hex")]
    encoding: EncodingArg,
}

/// `fapi-agent password-digest`.
#[derive(Debug, Args)]
pub(super) struct DigestArgs {
    #[command(flatten)]
    socket: SocketArg,
    #[command(flatten)]
    which: Which,
    /// The shared secret's name (`[credentials.NAME.shared_secrets.SECRET]`).
    #[arg(long)]
    name: String,
    /// The nonce, base64 (default: 16 random bytes from the daemon).
    #[arg(long)]
    nonce: Option<String>,
    /// The `wsu:Created` timestamp, RFC 3339 (default: now, UTC).
    #[arg(long)]
    created: Option<String>,
}

pub(super) fn hmac(args: HmacArgs) -> ExitCode {
    call(&args.socket.clone(), |client| run_hmac(client, args))
}

pub(super) fn password_digest(args: DigestArgs) -> ExitCode {
    call(&args.socket.clone(), |client| run_digest(client, args))
}

async fn run_hmac(mut client: Client, a: HmacArgs) -> Result<(), String> {
    let message = read_file_or_stdin(&a.message, "message")?;
    let sel = selection(&mut client, &a.which).await?;
    let out = client
        .agent
        .hmac(pb::HmacRequest {
            credential: Some(sel),
            name: a.name,
            alg: match a.alg {
                AlgArg::Sha1 => pb::HmacAlg::HmacSha1,
                AlgArg::Sha256 => pb::HmacAlg::HmacSha256,
                AlgArg::Sha512 => pb::HmacAlg::HmacSha512,
            }
            .into(),
            message,
            encoding: match a.encoding {
                EncodingArg::Hex => pb::MacEncoding::Hex,
                EncodingArg::Base64 => pb::MacEncoding::Base64,
                EncodingArg::Base64url => pb::MacEncoding::Base64url,
            }
            .into(),
        })
        .await
        .map_err(status_msg)?
        .into_inner();
    println!("{}", out.mac);
    Ok(())
}

async fn run_digest(mut client: Client, a: DigestArgs) -> Result<(), String> {
    use base64::Engine;
    let nonce = match &a.nonce {
        Some(n) => base64::engine::general_purpose::STANDARD
            .decode(n.trim())
            .map_err(|e| format!("--nonce is not base64: {e}"))?,
        None => Vec::new(),
    };
    let sel = selection(&mut client, &a.which).await?;
    let out = client
        .agent
        .password_digest(pb::PasswordDigestRequest {
            credential: Some(sel),
            name: a.name,
            nonce,
            created: a.created.unwrap_or_default(),
        })
        .await
        .map_err(status_msg)?
        .into_inner();
    println!(
        "{}",
        json!({
            "password_digest": out.password_digest,
            "nonce": out.nonce,
            "created": out.created,
            "credential": out.credential,
        })
    );
    Ok(())
}
