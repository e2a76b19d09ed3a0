//! Outbound HTTPS: to authorization servers (token, PAR, metadata) and,
//! through the egress proxy, to the APIs apps call. TLS is rustls with the
//! system roots plus an optional CA file; a client certificate's handshake
//! is signed through the credential's key handle ([`tls`]). Connections are
//! pooled (HTTP/1.1 keep-alive, HTTP/2 where the server offers it).

pub mod tls;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

pub use tls::TlsError;

use crate::keys::KeyHandle;

/// An error of the transport, boxed (hyper's bodies and connectors use it).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request or response body: in memory or streamed.
pub type Body = BoxBody<Bytes, BoxError>;

/// A body of bytes in memory.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// Why an outbound request failed. Messages name the server and the cause,
/// never a header or body.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// No answer in time.
    #[error("{url}: no answer within {seconds} s")]
    Timeout {
        /// The URL.
        url: String,
        /// The limit.
        seconds: u64,
    },
    /// The server turned the request away before processing it (an
    /// HTTP/2 GOAWAY that did not cover it, or REFUSED_STREAM; RFC 9113
    /// §8.7): it may be sent again, whatever its method.
    #[error("{url}: {cause}")]
    Unprocessed {
        /// The URL.
        url: String,
        /// What the server said.
        cause: String,
    },
    /// The connection, TLS handshake or exchange failed.
    #[error("{url}: {cause}")]
    Failed {
        /// The URL.
        url: String,
        /// What went wrong, down to the root cause.
        cause: String,
    },
}

/// The client certificate of a connection: the credential's chain and the
/// key handle that signs the handshake.
#[derive(Clone)]
pub struct ClientCertificate {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The credential's key.
    pub key: KeyHandle,
}

/// How an HTTPS client connects.
#[derive(Clone)]
pub struct Settings {
    /// The servers' trust anchors.
    pub roots: Arc<RootCertStore>,
    /// Present this certificate (mutual TLS).
    pub client_certificate: Option<ClientCertificate>,
    /// Offer HTTP/2 besides HTTP/1.1 (ALPN).
    pub http2: bool,
    /// TCP connect and TLS handshake, together.
    pub connect_timeout: Duration,
}

/// A pooled HTTPS client.
#[derive(Clone)]
pub struct HttpsClient {
    client: Client<Connector, Body>,
}

impl HttpsClient {
    /// A client connecting as `settings` say.
    pub fn new(settings: Settings) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(settings.connect_timeout));
        let connector = Connector {
            http,
            settings: Arc::new(settings),
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Self { client }
    }

    /// Sends `req` and waits for the response head at most `timeout`.
    pub async fn send(
        &self,
        req: hyper::Request<Body>,
        timeout: Duration,
    ) -> Result<hyper::Response<hyper::body::Incoming>, NetError> {
        let url = redact_query(req.uri());
        match tokio::time::timeout(timeout, self.client.request(req)).await {
            Err(_) => Err(NetError::Timeout {
                url,
                seconds: timeout.as_secs(),
            }),
            Ok(Err(e)) if unprocessed(&e) => Err(NetError::Unprocessed {
                url,
                cause: root_cause(&e),
            }),
            Ok(Err(e)) => Err(NetError::Failed {
                url,
                cause: root_cause(&e),
            }),
            Ok(Ok(r)) => Ok(r),
        }
    }
}

/// Whether the server provably did not process the request: h2 fails a
/// stream with the server's GOAWAY only when the stream was above its
/// last processed id or never sent, and REFUSED_STREAM means the same.
fn unprocessed(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(s) = source {
        if let Some(h2) = s.downcast_ref::<h2::Error>() {
            return (h2.is_go_away() && h2.is_remote())
                || (h2.is_reset() && h2.reason() == Some(h2::Reason::REFUSED_STREAM));
        }
        source = s.source();
    }
    false
}

/// `scheme://host[:port]/path` of `uri`, without its query (which may carry
/// a code or a token).
pub fn redact_query(uri: &Uri) -> String {
    format!(
        "{}://{}{}",
        uri.scheme_str().unwrap_or("https"),
        uri.authority().map_or("", |a| a.as_str()),
        uri.path()
    )
}

/// The chain of an error's causes, outermost first, as one line.
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// Connects TCP, then TLS, making the client key ready first when a
/// certificate is presented.
#[derive(Clone)]
struct Connector {
    http: HttpConnector,
    settings: Arc<Settings>,
}

impl tower::Service<Uri> for Connector {
    type Response = TlsConn;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<TlsConn, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let mut http = self.http.clone();
        let settings = Arc::clone(&self.settings);
        Box::pin(async move {
            if uri.scheme_str() != Some("https") {
                return Err(format!("{uri}: only https is allowed").into());
            }
            let host = uri
                .host()
                .ok_or("the URL has no host")?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            let server_name = ServerName::try_from(host)
                .map_err(|e| format!("not a host name or address: {e}"))?;
            let client = match &settings.client_certificate {
                None => None,
                Some(c) => {
                    let ready = c
                        .key
                        .ready()
                        .await
                        .map_err(|e| format!("the client certificate's key: {e}"))?;
                    Some((c.chain.clone(), ready, c.key.kind()))
                }
            };
            let alpn: &[&[u8]] = if settings.http2 {
                &[b"h2", b"http/1.1"]
            } else {
                &[b"http/1.1"]
            };
            let config = tls::client_config(Arc::clone(&settings.roots), client, alpn)?;
            let connect = async {
                let tcp = http.call(uri).await?.into_inner();
                let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
                    .connect(server_name, tcp)
                    .await?;
                Ok::<_, BoxError>(TlsConn(TokioIo::new(tls)))
            };
            tokio::time::timeout(settings.connect_timeout, connect)
                .await
                .map_err(|_| -> BoxError { "the TLS handshake did not finish in time".into() })?
        })
    }
}

/// A TLS connection hyper can pool.
struct TlsConn(TokioIo<TlsStream<TcpStream>>);

impl Connection for TlsConn {
    fn connected(&self) -> Connected {
        let h2 = self.0.inner().get_ref().1.alpn_protocol() == Some(b"h2");
        let connected = Connected::new();
        if h2 {
            connected.negotiated_h2()
        } else {
            connected
        }
    }
}

impl hyper::rt::Read for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for TlsConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }
}

/// Reads a response body to its end, at most `cap` bytes, within
/// `timeout` (`url` names the server in errors).
pub async fn read_body(
    body: hyper::body::Incoming,
    cap: usize,
    timeout: Duration,
    url: &str,
) -> Result<Bytes, NetError> {
    let limited = http_body_util::Limited::new(body, cap);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Err(_) => Err(NetError::Timeout {
            url: url.to_owned(),
            seconds: timeout.as_secs(),
        }),
        Ok(Err(e)) => Err(NetError::Failed {
            url: url.to_owned(),
            cause: if e.is::<http_body_util::LengthLimitError>() {
                format!("the response is larger than {cap} bytes")
            } else {
                root_cause(&*e)
            },
        }),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}
