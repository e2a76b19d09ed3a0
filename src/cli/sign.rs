//! Client commands for message signatures: `ob-sign`, `brasil-sign`,
//! `http-sign` (RFC 9421), `berlin-sign` (Berlin Group draft-cavage), and
//! the checks of what others signed: `verify-response` (an RFC 9421
//! response signature) and `verify-jarm` (a JARM authorization response).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde_json::json;

use super::call::{call, read_file_or_stdin, selection, status_msg};
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
    call(&args.socket.clone(), |client| sign_body(client, args))
}

/// The body bytes of `path`, or of stdin for `-`.
fn read_body(path: &Path) -> Result<Vec<u8>, String> {
    read_file_or_stdin(path, "body")
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
    call(&args.socket.clone(), |client| sign_brasil(client, args))
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

/// One `--header 'name: value'` argument.
#[derive(Debug, Clone)]
pub(super) struct HeaderArg {
    name: String,
    value: String,
}

/// Parses `name: value` (the value trimmed of surrounding whitespace, as
/// HTTP does with a field line).
fn parse_header(s: &str) -> Result<HeaderArg, String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?} is not 'name: value'"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("{s:?} has no header name before the ':'"));
    }
    if name.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(format!("the header name {name:?} holds whitespace"));
    }
    Ok(HeaderArg {
        name: name.to_owned(),
        value: value.trim().to_owned(),
    })
}

fn headers(args: Vec<HeaderArg>) -> Vec<pb::HttpHeader> {
    args.into_iter()
        .map(|h| pb::HttpHeader {
            name: h.name,
            value: h.value,
        })
        .collect()
}

/// The body named by an optional `--body` (none: empty).
fn optional_body(path: Option<&Path>) -> Result<Vec<u8>, String> {
    path.map_or_else(|| Ok(Vec::new()), read_body)
}

/// `fapi-agent http-sign`.
#[derive(Debug, Args)]
pub(super) struct HttpSignArgs {
    #[command(flatten)]
    socket: SocketArg,
    #[command(flatten)]
    which: Which,
    /// The request's method.
    #[arg(long)]
    method: String,
    /// The absolute target URI the request goes to.
    #[arg(long)]
    url: String,
    /// The Authorization value the request carries (covered).
    #[arg(long)]
    authorization: Option<String>,
    /// The DPoP proof the request carries (covered).
    #[arg(long)]
    dpop: Option<String>,
    /// A further header to cover, 'name: value' (repeatable, in order).
    #[arg(long = "header", value_parser = parse_header)]
    headers: Vec<HeaderArg>,
    /// The file holding the exact body bytes (`-` for stdin; none: no body).
    #[arg(long)]
    body: Option<PathBuf>,
    /// Print every field as JSON instead of the header lines to add.
    #[arg(long)]
    json: bool,
}

pub(super) fn http_sign(args: HttpSignArgs) -> ExitCode {
    call(&args.socket.clone(), |client| sign_http(client, args))
}

async fn sign_http(mut client: Client, a: HttpSignArgs) -> Result<(), String> {
    let body = optional_body(a.body.as_deref())?;
    let sel = selection(&mut client, &a.which).await?;
    let s = client
        .agent
        .sign_http_request(pb::SignHttpRequestRequest {
            credential: Some(sel),
            method: a.method,
            target_uri: a.url,
            authorization: a.authorization.unwrap_or_default(),
            dpop: a.dpop.unwrap_or_default(),
            covered_headers: headers(a.headers),
            body,
        })
        .await
        .map_err(status_msg)?
        .into_inner();
    if a.json {
        println!(
            "{}",
            json!({
                "signature-input": s.signature_input, "signature": s.signature,
                "content-digest": s.content_digest, "covered_components": s.covered_components,
                "created": s.created, "keyid": s.keyid, "alg": s.alg, "target_uri": s.target_uri,
            })
        );
    } else {
        println!("Signature-Input: {}", s.signature_input);
        println!("Signature: {}", s.signature);
        if !s.content_digest.is_empty() {
            println!("Content-Digest: {}", s.content_digest);
        }
    }
    Ok(())
}

/// `fapi-agent berlin-sign`.
#[derive(Debug, Args)]
pub(super) struct BerlinSignArgs {
    #[command(flatten)]
    socket: SocketArg,
    #[command(flatten)]
    which: Which,
    /// The request's X-Request-ID, a UUID (default: a new one).
    #[arg(long)]
    x_request_id: Option<String>,
    /// psu-id, psu-corporate-id, tpp-redirect-uri or date as sent,
    /// 'name: value' (repeatable).
    #[arg(long = "header", value_parser = parse_header)]
    headers: Vec<HeaderArg>,
    /// The file holding the exact body bytes (`-` for stdin; none: empty).
    #[arg(long)]
    body: Option<PathBuf>,
    /// Print every field as JSON instead of the header lines to add.
    #[arg(long)]
    json: bool,
}

pub(super) fn berlin_sign(args: BerlinSignArgs) -> ExitCode {
    call(&args.socket.clone(), |client| sign_berlin(client, args))
}

async fn sign_berlin(mut client: Client, a: BerlinSignArgs) -> Result<(), String> {
    let body = optional_body(a.body.as_deref())?;
    let sel = selection(&mut client, &a.which).await?;
    let s = client
        .agent
        .sign_berlin_group_request(pb::SignBerlinGroupRequestRequest {
            credential: Some(sel),
            x_request_id: a.x_request_id.unwrap_or_default(),
            headers: headers(a.headers),
            body,
        })
        .await
        .map_err(status_msg)?
        .into_inner();
    if a.json {
        println!(
            "{}",
            json!({
                "digest": s.digest, "signature": s.signature,
                "tpp-signature-certificate": s.tpp_signature_certificate,
                "x-request-id": s.x_request_id, "signed_headers": s.signed_headers,
                "key_id": s.key_id,
            })
        );
    } else {
        println!("X-Request-ID: {}", s.x_request_id);
        println!("Digest: {}", s.digest);
        println!("Signature: {}", s.signature);
        println!("TPP-Signature-Certificate: {}", s.tpp_signature_certificate);
    }
    Ok(())
}

/// `fapi-agent verify-response`.
#[derive(Debug, Args)]
pub(super) struct VerifyResponseArgs {
    #[command(flatten)]
    socket: SocketArg,
    #[command(flatten)]
    which: Which,
    /// The request's method, as sent.
    #[arg(long)]
    method: String,
    /// The request's target URI, as sent.
    #[arg(long)]
    url: String,
    /// The request's Authorization value, if it had one.
    #[arg(long)]
    authorization: Option<String>,
    /// The request's DPoP proof, if it had one.
    #[arg(long)]
    dpop: Option<String>,
    /// The file holding the request's body (`-` for stdin; none: no body).
    #[arg(long)]
    request_body: Option<PathBuf>,
    /// The response's status code.
    #[arg(long)]
    status: u32,
    /// A response header, 'name: value' (repeatable): at least
    /// Signature-Input, Signature and, with a body, Content-Digest.
    #[arg(long = "header", value_parser = parse_header)]
    headers: Vec<HeaderArg>,
    /// The file holding the response's body (`-` for stdin; none: no body).
    #[arg(long)]
    body: Option<PathBuf>,
    /// Print every field as JSON.
    #[arg(long)]
    json: bool,
}

pub(super) fn verify_response(args: VerifyResponseArgs) -> ExitCode {
    call(&args.socket.clone(), |client| check_response(client, args))
}

async fn check_response(mut client: Client, a: VerifyResponseArgs) -> Result<(), String> {
    let stdin = |p: &Option<PathBuf>| p.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if stdin(&a.request_body) && stdin(&a.body) {
        return Err("only one of --request-body and --body can be read from stdin".into());
    }
    let request_body = optional_body(a.request_body.as_deref())?;
    let body = optional_body(a.body.as_deref())?;
    let sel = selection(&mut client, &a.which).await?;
    let v = client
        .agent
        .verify_http_response(pb::VerifyHttpResponseRequest {
            credential: Some(sel),
            method: a.method,
            target_uri: a.url,
            authorization: a.authorization.unwrap_or_default(),
            dpop: a.dpop.unwrap_or_default(),
            request_body,
            status: a.status,
            headers: headers(a.headers),
            body,
        })
        .await
        .map_err(status_msg)?
        .into_inner();
    if a.json {
        println!(
            "{}",
            json!({
                "label": v.label, "keyid": v.keyid, "created": v.created,
                "covered_components": v.covered_components,
            })
        );
    } else {
        println!(
            "verified: signature {} by keyid {}, created {}, covering {}",
            v.label,
            v.keyid,
            v.created,
            v.covered_components.join(" ")
        );
    }
    Ok(())
}

/// `fapi-agent verify-jarm`.
#[derive(Debug, Args)]
pub(super) struct VerifyJarmArgs {
    #[command(flatten)]
    socket: SocketArg,
    #[command(flatten)]
    which: Which,
    /// The authorization response's `response` parameter (`-`: read it from
    /// stdin).
    #[arg(long)]
    response: String,
    /// Print every field as JSON instead of the parameters as name=value
    /// lines.
    #[arg(long)]
    json: bool,
}

pub(super) fn verify_jarm(args: VerifyJarmArgs) -> ExitCode {
    call(&args.socket.clone(), |client| check_jarm(client, args))
}

async fn check_jarm(mut client: Client, a: VerifyJarmArgs) -> Result<(), String> {
    let response = if a.response == "-" {
        String::from_utf8(read_body(Path::new("-"))?)
            .map_err(|_| "the response on stdin is not UTF-8".to_owned())?
            .trim()
            .to_owned()
    } else {
        a.response
    };
    let sel = selection(&mut client, &a.which).await?;
    let v = client
        .agent
        .verify_jarm_response(pb::VerifyJarmResponseRequest {
            credential: Some(sel),
            response,
        })
        .await
        .map_err(status_msg)?
        .into_inner();
    // Sorted, so that the output is stable.
    let parameters: std::collections::BTreeMap<_, _> = v.parameters.into_iter().collect();
    if a.json {
        println!(
            "{}",
            json!({"parameters": parameters, "kid": v.kid, "alg": v.alg})
        );
    } else {
        for (name, value) in &parameters {
            println!("{name}={value}");
        }
    }
    Ok(())
}
