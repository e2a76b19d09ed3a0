//! Client commands for message signatures: `ob-sign`, `brasil-sign`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde_json::json;

use super::call::{call, selection, status_msg};
use super::{SocketArg, Which};
use crate::client::Client;
use crate::service::pb;

/// The UK OB profile.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum ObProfileArg {
    /// Read/Write API 3.1.4 and later.
    #[value(name = "3.1.4")]
    V314,
    /// 3.1.3 and earlier (b64: false).
    #[value(name = "3.1.3")]
    V313,
}

/// `fapi-agent ob-sign`.
#[derive(Debug, Args)]
pub(super) struct ObSignArgs {
    #[command(flatten)]
    socket: SocketArg,
    #[command(flatten)]
    which: Which,
    /// The file holding the exact body bytes (`-` for stdin).
    #[arg(long)]
    body: PathBuf,
    /// The ASPSP's Read/Write API version.
    #[arg(long, value_enum, default_value = "3.1.4")]
    profile: ObProfileArg,
    /// Print every field as JSON instead of the header value alone.
    #[arg(long)]
    json: bool,
}

pub(super) fn ob_sign(args: ObSignArgs) -> ExitCode {
    let socket = SocketArg {
        socket: args.socket.socket.clone(),
    };
    call(&socket, |client| sign_body(client, args))
}

/// The bytes of `path`, or of stdin for `-`.
fn read_body(path: &std::path::Path) -> Result<Vec<u8>, String> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .map_err(|e| format!("cannot read the body from stdin: {e}"))?;
        Ok(buf)
    } else {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    }
}

/// `fapi-agent brasil-sign`.
#[derive(Debug, Args)]
pub(super) struct BrasilSignArgs {
    #[command(flatten)]
    socket: SocketArg,
    #[command(flatten)]
    which: Which,
    /// The file holding the body's JSON object (`-` for stdin): the `data`
    /// claim.
    #[arg(long)]
    data: PathBuf,
    /// The server's organisation id (`aud`).
    #[arg(long)]
    aud: String,
}

pub(super) fn brasil_sign(args: BrasilSignArgs) -> ExitCode {
    let socket = SocketArg {
        socket: args.socket.socket.clone(),
    };
    call(&socket, |client| sign_brasil(client, args))
}

async fn sign_brasil(mut client: Client, a: BrasilSignArgs) -> Result<(), String> {
    let data = String::from_utf8(read_body(&a.data)?)
        .map_err(|_| "the data is not UTF-8 JSON".to_owned())?;
    let sel = selection(&mut client, &a.which).await?;
    let s = client
        .agent
        .sign_brasil_body(pb::SignBrasilBodyRequest {
            credential: Some(sel),
            data_json: data,
            audience: a.aud,
        })
        .await
        .map_err(status_msg)?
        .into_inner();
    println!("{}", s.jws);
    Ok(())
}

async fn sign_body(mut client: Client, a: ObSignArgs) -> Result<(), String> {
    let body = read_body(&a.body)?;
    let sel = selection(&mut client, &a.which).await?;
    let s = client
        .agent
        .sign_ob_detached_jws(pb::SignObDetachedJwsRequest {
            credential: Some(sel),
            body,
            profile: match a.profile {
                ObProfileArg::V314 => pb::ObProfile::ObUk314,
                ObProfileArg::V313 => pb::ObProfile::ObUk313,
            }
            .into(),
        })
        .await
        .map_err(status_msg)?
        .into_inner();
    if a.json {
        println!(
            "{}",
            json!({"x-jws-signature": s.x_jws_signature, "kid": s.kid, "credential": s.credential})
        );
    } else {
        println!("{}", s.x_jws_signature);
    }
    Ok(())
}
