//! Client commands for access tokens: `token` and `dpop`.

use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use super::call::{call, selection, status_msg};
use super::{SocketArg, Which};
use crate::client::Client;
use crate::service::pb;

/// `fapi-agent token`.
#[derive(Debug, Args)]
pub(super) struct TokenArgs {
    #[command(flatten)]
    socket: SocketArg,
    #[command(flatten)]
    which: Which,
    /// A scope to ask for (repeatable; default: the configured ones).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// A resource indicator (repeatable).
    #[arg(long)]
    resource: Vec<String>,
    /// An audience parameter.
    #[arg(long)]
    audience: Option<String>,
    /// Ask the authorization server even if a token is cached.
    #[arg(long)]
    force_refresh: bool,
    /// Use the password grant with the configured resource owner (outside
    /// FAPI profiles only).
    #[arg(long)]
    password_grant: bool,
    /// Print every field as JSON instead of the token alone.
    #[arg(long)]
    json: bool,
}

/// `fapi-agent dpop`.
#[derive(Debug, Args)]
pub(super) struct DpopArgs {
    #[command(flatten)]
    socket: SocketArg,
    #[command(flatten)]
    which: Which,
    /// The request's HTTP method.
    #[arg(long)]
    htm: String,
    /// The request's URL.
    #[arg(long)]
    htu: String,
    /// The access token the request presents (sets `ath`).
    #[arg(long)]
    token: Option<String>,
    /// The server's DPoP-Nonce.
    #[arg(long)]
    nonce: Option<String>,
    /// Print every field as JSON.
    #[arg(long)]
    json: bool,
}

pub(super) fn token(args: TokenArgs) -> ExitCode {
    call(&args.socket.clone(), |client| get_token(client, args))
}

pub(super) fn dpop(args: DpopArgs) -> ExitCode {
    call(&args.socket.clone(), |client| sign_proof(client, args))
}

async fn get_token(mut client: Client, a: TokenArgs) -> Result<(), String> {
    let sel = selection(&mut client, &a.which).await?;
    let t = client
        .agent
        .get_access_token(pb::GetAccessTokenRequest {
            credential: Some(sel),
            scopes: a.scopes,
            resource: a.resource,
            audience: a.audience.unwrap_or_default(),
            force_refresh: a.force_refresh,
            grant: if a.password_grant {
                pb::Grant::Password.into()
            } else {
                pb::Grant::ClientCredentials.into()
            },
        })
        .await
        .map_err(status_msg)?
        .into_inner();
    if a.json {
        println!(
            "{}",
            json!({
                "access_token": t.access_token, "token_type": t.token_type,
                "expires_at": t.expires_at, "scope": t.scope, "jkt": t.jkt,
                "x5t#S256": t.x5t_s256, "cached": t.cached, "credential": t.credential,
            })
        );
    } else {
        println!("{}", t.access_token);
    }
    Ok(())
}

async fn sign_proof(mut client: Client, a: DpopArgs) -> Result<(), String> {
    let sel = selection(&mut client, &a.which).await?;
    let p = client
        .agent
        .sign_dpop_proof(pb::SignDpopProofRequest {
            credential: Some(sel),
            htm: a.htm,
            htu: a.htu,
            access_token: a.token.unwrap_or_default(),
            nonce: a.nonce.unwrap_or_default(),
        })
        .await
        .map_err(status_msg)?
        .into_inner();
    if a.json {
        println!(
            "{}",
            json!({"proof": p.proof, "jkt": p.jkt, "jti": p.jti, "htu": p.htu})
        );
    } else {
        println!("{}", p.proof);
    }
    Ok(())
}
