//! What an app does: get a client assertion from fapi-agent and exchange it
//! for an access token at the token endpoint (client_credentials with
//! private_key_jwt).
//!
//! ```sh
//! cargo run --example token -- http://127.0.0.1:8080/token acme [SOCKET]
//! ```

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;

use fapi_agent_client::{Client, Options, Selector, default_socket_path};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(token_endpoint), Some(client_id)) = (args.next(), args.next()) else {
        return Err("usage: token TOKEN_ENDPOINT CLIENT_ID [SOCKET]".into());
    };
    let socket = args.next().map_or_else(default_socket_path, Into::into);
    let mut agent = Client::connect(&socket, Options::default()).await?;
    let a = agent
        .sign_client_assertion(Selector::client_id(&client_id))
        .await?;
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", &client_id)
        .append_pair("client_assertion_type", &a.assertion_type)
        .append_pair("client_assertion", &a.assertion)
        .finish();
    let request = hyper::Request::post(&token_endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body)))?;
    let http = HttpClient::builder(TokioExecutor::new()).build_http();
    let response = http.request(request).await?;
    let status = response.status();
    let text = String::from_utf8(response.into_body().collect().await?.to_bytes().to_vec())?;
    if !status.is_success() {
        return Err(format!("token endpoint answered {status}: {text}").into());
    }
    println!("{text}");
    Ok(())
}
