//! What an app does with a DPoP-bound access token: get it from fapi-agent,
//! have the daemon sign a DPoP proof for the request (htm GET, htu = the
//! resource URL, ath from the token, the resource server's nonce) and call the
//! protected resource over HTTPS with `Authorization: DPoP <token>` and
//! `DPoP: <proof>`.
//!
//! A resource server that requires nonces (RFC 9449 §9) answers a proof
//! without one with 401, `WWW-Authenticate: DPoP error="use_dpop_nonce"` and a
//! `DPoP-Nonce` header; the example then retries once, with a new proof
//! carrying that nonce. It prints the resource's JSON answer on stdout.
//!
//! ```sh
//! cargo run --example call_resource -- --url https://rs.bank.example/accounts \
//!     --credential acme [--ca-file rs-ca.pem] [--socket /run/fapi-agent/agent.sock]
//! ```
//!
//! Each option may come from the environment instead:
//!
//! | option         | environment             |                                                   |
//! |----------------|-------------------------|---------------------------------------------------|
//! | `--url`        | `FAPI_RESOURCE_URL`     | the protected resource (GET)                      |
//! | `--credential` | `FAPI_AGENT_CREDENTIAL` | the credential's name in the daemon's config      |
//! | `--ca-file`    | `FAPI_RESOURCE_CA_FILE` | PEM CA certificate(s) for the resource's TLS (required here: the example carries no trust store) |
//! | `--socket`     | `FAPI_AGENT_SOCKET`     | the daemon's socket (default: the standard path)  |
//!
//! TLS is rustls (ring) through tokio-rustls, HTTP/1.1 is hyper; one
//! connection per request. It exits 1 with the status and body on stderr if
//! the answer is not 2xx (or on a usage error).

use std::path::PathBuf;
use std::sync::Arc;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{HeaderMap, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use fapi_agent_client::{
    AccessToken, Client, ExposeSecret, Options, Selector, default_socket_path,
};

type Error = Box<dyn std::error::Error>;

struct Args {
    url: String,
    credential: String,
    ca_file: PathBuf,
    socket: PathBuf,
}

const USAGE: &str =
    "usage: call_resource --url RESOURCE_URL --credential NAME --ca-file CA.pem [--socket SOCKET]";

fn args() -> Result<Args, Error> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (mut url, mut credential) = (env("FAPI_RESOURCE_URL"), env("FAPI_AGENT_CREDENTIAL"));
    let mut ca_file = env("FAPI_RESOURCE_CA_FILE");
    let mut socket = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let slot = match flag.as_str() {
            "--url" => &mut url,
            "--credential" => &mut credential,
            "--ca-file" => &mut ca_file,
            "--socket" => &mut socket,
            _ => return Err(format!("unknown argument {flag:?}\n{USAGE}").into()),
        };
        *slot = Some(
            it.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?,
        );
    }
    match (url, credential, ca_file) {
        (Some(url), Some(credential), Some(ca_file)) => Ok(Args {
            url,
            credential,
            ca_file: ca_file.into(),
            socket: socket.map_or_else(default_socket_path, Into::into),
        }),
        _ => Err(USAGE.into()),
    }
}

/// One GET over HTTPS (HTTP/1.1, a new connection), verifying the server
/// against `tls`'s roots; any status is returned.
async fn get(
    tls: &tokio_rustls::TlsConnector,
    url: &Uri,
    headers: &[(&str, &str)],
) -> Result<(StatusCode, HeaderMap, Bytes), Error> {
    let host = url.host().ok_or("the URL has no host")?;
    let port = url.port_u16().unwrap_or(443);
    // An IPv6 literal comes bracketed in a URI; ServerName and connect want it bare.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let tcp = tokio::net::TcpStream::connect((bare, port)).await?;
    let stream = tls
        .connect(ServerName::try_from(bare.to_owned())?, tcp)
        .await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let authority = url.authority().ok_or("the URL has no authority")?.as_str();
    let mut req = hyper::Request::get(url.clone()).header("host", authority);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let answer = sender
        .send_request(req.body(Empty::<Bytes>::new())?)
        .await?;
    let (parts, body) = answer.into_parts();
    Ok((
        parts.status,
        parts.headers,
        body.collect().await?.to_bytes(),
    ))
}

/// Whether a `WWW-Authenticate` value holds a DPoP challenge with
/// `error="use_dpop_nonce"` (a simple check, enough for one challenge per value).
fn is_use_dpop_nonce(challenge: &str) -> bool {
    let names_dpop = challenge.split(',').map(str::trim_start).any(|p| {
        p.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("dpop"))
            && (p.len() == 4 || p[4..].starts_with([' ', '\t']))
    });
    names_dpop
        && (challenge.contains(r#"error="use_dpop_nonce""#)
            || challenge.contains("error=use_dpop_nonce"))
}

/// The nonce of a `use_dpop_nonce` challenge (RFC 9449 §9), else `None`.
fn nonce_challenge(status: StatusCode, headers: &HeaderMap) -> Option<String> {
    let nonce = headers.get("dpop-nonce")?.to_str().ok()?;
    let challenged = headers
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(is_use_dpop_nonce);
    (status == StatusCode::UNAUTHORIZED && challenged && !nonce.is_empty())
        .then(|| nonce.to_owned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let args = args()?;
    let url: Uri = args.url.parse()?;
    if url.scheme_str() != Some("https") {
        return Err(format!("{}: not an https URL", args.url).into());
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&args.ca_file)
        .map_err(|e| format!("{}: {e}", args.ca_file.display()))?
    {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config));

    let mut agent = Client::connect(&args.socket, Options::default()).await?;
    let token: AccessToken = agent
        .get_access_token(Selector::name(&args.credential))
        .await?;
    let authorization = token.authorization_header();
    let mut nonce: Option<String> = None;
    let mut retried = false;
    let (status, headers, body) = loop {
        let proof = agent
            .sign_dpop_proof(
                Selector::name(&args.credential),
                "GET",
                &args.url,
                Some(&token.access_token),
                nonce.as_deref(),
            )
            .await?;
        let headers = [
            ("authorization", authorization.expose_secret()),
            ("dpop", proof.proof.as_str()),
            ("accept", "application/json"),
        ];
        let (status, headers, body) = get(&tls, &url, &headers).await?;
        match nonce_challenge(status, &headers) {
            // One retry, a fresh proof with the nonce.
            Some(n) if !retried => (nonce, retried) = (Some(n), true),
            _ => break (status, headers, body),
        }
    };
    if !status.is_success() {
        let challenge = headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        return Err(format!(
            "{} answered {status} (WWW-Authenticate: {challenge}): {}",
            args.url,
            String::from_utf8_lossy(&body)
        )
        .into());
    }
    let answer: serde_json::Value = serde_json::from_slice(&body)?;
    println!("{answer}");
    Ok(())
}
