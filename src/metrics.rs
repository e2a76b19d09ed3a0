//! Prometheus metrics: per-method request counters and latency histograms,
//! per-credential days to expiry and state, passphrase fetches and fetch
//! errors per source. Recording is a few atomics and always on; the HTTP
//! endpoint is off unless `[agent] metrics` names a loopback address or a
//! Unix socket. Nothing secret is ever a label or a value.

use std::convert::Infallible;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tonic::codegen::http;

use crate::config::MetricsConfig;
use crate::credential::State;
use crate::daemon::Daemon;

/// gRPC methods are labels only when known: a caller cannot grow the label
/// set with made-up paths.
const KNOWN_PREFIXES: [&str; 4] = [
    "/fapi_agent.v1.Agent/",
    "/fapi_agent.v1.Admin/",
    "/grpc.health.v1.Health/",
    "/grpc.reflection.",
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    credential: String,
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CredentialLabels {
    credential: String,
    client_id: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    credential: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    credential: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    credential: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    upstream: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RetryLabels {
    upstream: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OneUpstream {
    upstream: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OneCredential {
    credential: String,
}

/// Every metric the daemon keeps.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<MethodLabels, Histogram>,
    fetches: Family<SourceLabels, Counter>,
    fetch_errors: Family<SourceLabels, Counter>,
    days_left: Family<CredentialLabels, Gauge>,
    state: Family<StateLabels, Gauge>,
    token_requests: Family<TokenLabels, Counter>,
    token_cache: Family<CacheLabels, Counter>,
    token_latency: Family<OneCredential, Histogram>,
    proxy_requests: Family<UpstreamLabels, Counter>,
    proxy_bytes_in: Family<OneUpstream, Counter>,
    proxy_bytes_out: Family<OneUpstream, Counter>,
    proxy_latency: Family<OneUpstream, Histogram>,
    proxy_retries: Family<RetryLabels, Counter>,
    render_lock: std::sync::Mutex<()>,
}

fn new_histogram() -> Histogram {
    // 50 µs to about 1.6 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("fapi_agent");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency =
            Family::<MethodLabels, Histogram>::new_with_constructor(new_histogram as fn() -> _);
        let fetches = Family::<SourceLabels, Counter>::default();
        let fetch_errors = Family::<SourceLabels, Counter>::default();
        let days_left = Family::<CredentialLabels, Gauge>::default();
        let state = Family::<StateLabels, Gauge>::default();
        registry.register(
            "requests",
            "gRPC requests by method and status code",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "gRPC request latency (until the response headers) by method",
            latency.clone(),
        );
        registry.register(
            "passphrase_fetches",
            "Successful passphrase fetches by credential and source kind",
            fetches.clone(),
        );
        registry.register(
            "passphrase_fetch_errors",
            "Failed passphrase fetches by credential and source kind",
            fetch_errors.clone(),
        );
        registry.register(
            "credential_days_to_expiry",
            "Whole days until the credential's certificate expires",
            days_left.clone(),
        );
        registry.register(
            "credential_state",
            "1 for the credential's current state (available, locked, error)",
            state.clone(),
        );
        let token_requests = Family::<TokenLabels, Counter>::default();
        let token_cache = Family::<CacheLabels, Counter>::default();
        let token_latency =
            Family::<OneCredential, Histogram>::new_with_constructor(new_histogram as fn() -> _);
        registry.register(
            "token_requests",
            "Requests to authorization servers by credential and outcome (ok, refused, unavailable)",
            token_requests.clone(),
        );
        registry.register(
            "token_cache_lookups",
            "Access-token cache lookups by credential and result (hit, miss)",
            token_cache.clone(),
        );
        registry.register(
            "token_request_duration_seconds",
            "Latency of requests to authorization servers by credential",
            token_latency.clone(),
        );
        let proxy_requests = Family::<UpstreamLabels, Counter>::default();
        let proxy_bytes_in = Family::<OneUpstream, Counter>::default();
        let proxy_bytes_out = Family::<OneUpstream, Counter>::default();
        // 1 ms to about 2 minutes: a proxied request includes the
        // upstream's own time and streamed bodies.
        let proxy_latency = Family::<OneUpstream, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.001, 2.0, 18))) as fn() -> _,
        );
        let proxy_retries = Family::<RetryLabels, Counter>::default();
        registry.register(
            "proxy_requests",
            "Requests through the egress proxy by upstream and status answered (the upstream's, \
             or the proxy's own)",
            proxy_requests.clone(),
        );
        registry.register(
            "proxy_request_bytes",
            "Request body bytes sent upstream",
            proxy_bytes_in.clone(),
        );
        registry.register(
            "proxy_response_bytes",
            "Response body bytes returned to apps",
            proxy_bytes_out.clone(),
        );
        registry.register(
            "proxy_request_duration_seconds",
            "From a request to the end of its response body, by upstream",
            proxy_latency.clone(),
        );
        registry.register(
            "proxy_retries",
            "Requests the proxy sent again, by upstream and reason (dpop_nonce, invalid_token, \
             unprocessed)",
            proxy_retries.clone(),
        );
        Self {
            proxy_requests,
            proxy_bytes_in,
            proxy_bytes_out,
            proxy_latency,
            proxy_retries,
            registry,
            requests,
            latency,
            fetches,
            fetch_errors,
            days_left,
            state,
            token_requests,
            token_cache,
            token_latency,
            render_lock: std::sync::Mutex::new(()),
        }
    }

    /// Records a request through the proxy, once its response has ended.
    pub fn proxied(
        &self,
        upstream: &str,
        status: u16,
        bytes_in: u64,
        bytes_out: u64,
        seconds: f64,
    ) {
        let one = OneUpstream {
            upstream: upstream.to_owned(),
        };
        self.proxy_requests
            .get_or_create(&UpstreamLabels {
                upstream: upstream.to_owned(),
                status: status.to_string(),
            })
            .inc();
        self.proxy_bytes_in.get_or_create(&one).inc_by(bytes_in);
        self.proxy_bytes_out.get_or_create(&one).inc_by(bytes_out);
        self.proxy_latency.get_or_create(&one).observe(seconds);
    }

    /// Records a request the proxy sent again, and why.
    pub fn proxy_retry(&self, upstream: &str, reason: &str) {
        self.proxy_retries
            .get_or_create(&RetryLabels {
                upstream: upstream.to_owned(),
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Records a passphrase fetch.
    pub fn fetch(&self, credential: &str, source: &str, ok: bool) {
        let labels = SourceLabels {
            credential: credential.to_owned(),
            source: source.to_owned(),
        };
        if ok {
            self.fetches.get_or_create(&labels).inc();
        } else {
            self.fetch_errors.get_or_create(&labels).inc();
        }
    }

    fn request(&self, path: &str, code: &str, seconds: f64) {
        let method = if KNOWN_PREFIXES.iter().any(|p| path.starts_with(p)) && path.len() <= 128 {
            path.trim_start_matches('/').to_owned()
        } else {
            "other".to_owned()
        };
        self.requests
            .get_or_create(&RequestLabels {
                method: method.clone(),
                code: code.to_owned(),
            })
            .inc();
        self.latency
            .get_or_create(&MethodLabels { method })
            .observe(seconds);
    }

    /// The OpenMetrics text, with credential gauges taken from `daemon` now.
    pub fn render(&self, daemon: &Daemon) -> String {
        // One scrape at a time: each rebuilds the credential gauges.
        let _one = self.render_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.days_left.clear();
        self.state.clear();
        let now = crate::now_unix();
        for c in daemon.registry().all() {
            if let Ok(f) = c.facts() {
                self.days_left
                    .get_or_create(&CredentialLabels {
                        credential: c.name.clone(),
                        client_id: c.client_id().to_owned(),
                    })
                    .set(f.days_left(now));
            }
            let state = match c.state() {
                State::Available { .. } => "available",
                State::Locked => "locked",
                State::Error(_) => "error",
            };
            self.state
                .get_or_create(&StateLabels {
                    credential: c.name.clone(),
                    state: state.into(),
                })
                .set(1);
        }
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }
}

/// Counts passphrase fetches in the process's metrics; handed to the
/// credentials the daemon loads.
#[derive(Debug, Clone, Copy, Default)]
pub struct FetchCounter;

impl crate::source::FetchObserver for FetchCounter {
    fn fetched(&self, credential: &str, kind: &str, ok: bool) {
        metrics().fetch(credential, kind, ok);
    }
}

impl crate::oauth::TokenObserver for FetchCounter {
    fn token_request(&self, credential: &str, outcome: &'static str, seconds: f64) {
        let m = metrics();
        m.token_requests
            .get_or_create(&TokenLabels {
                credential: credential.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        m.token_latency
            .get_or_create(&OneCredential {
                credential: credential.to_owned(),
            })
            .observe(seconds);
    }

    fn cache_lookup(&self, credential: &str, hit: bool) {
        metrics()
            .token_cache
            .get_or_create(&CacheLabels {
                credential: credential.to_owned(),
                result: if hit { "hit" } else { "miss" }.to_owned(),
            })
            .inc();
    }
}

/// The token observer for a daemon's OAuth clients.
pub fn token_observer() -> Option<std::sync::Arc<dyn crate::oauth::TokenObserver>> {
    Some(std::sync::Arc::new(FetchCounter))
}

/// The fetch observer for a daemon's credentials.
pub fn fetch_observer() -> Option<std::sync::Arc<dyn crate::source::FetchObserver>> {
    Some(std::sync::Arc::new(FetchCounter))
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// A tower layer that counts every gRPC request and times it.
#[derive(Clone, Copy, Debug, Default)]
pub struct MetricsLayer;

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MetricsService { inner }
    }
}

/// See [`MetricsLayer`].
#[derive(Clone, Debug)]
pub struct MetricsService<S> {
    inner: S,
}

impl<S, B, RB> tower::Service<http::Request<B>> for MetricsService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let path = req.uri().path().to_owned();
        let start = Instant::now();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await;
            // A failed call answers "trailers-only": grpc-status is in the
            // headers. Otherwise the status follows in trailers, and for
            // these unary methods it is OK.
            let code = match &res {
                Ok(r) => r
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map_or("OK", |c| code_name(c)),
                Err(_) => "transport_error",
            };
            metrics().request(&path, code, start.elapsed().as_secs_f64());
            res
        })
    }
}

fn code_name(code: i32) -> &'static str {
    match tonic::Code::from_i32(code) {
        tonic::Code::Ok => "OK",
        tonic::Code::Cancelled => "CANCELLED",
        tonic::Code::Unknown => "UNKNOWN",
        tonic::Code::InvalidArgument => "INVALID_ARGUMENT",
        tonic::Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        tonic::Code::NotFound => "NOT_FOUND",
        tonic::Code::AlreadyExists => "ALREADY_EXISTS",
        tonic::Code::PermissionDenied => "PERMISSION_DENIED",
        tonic::Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        tonic::Code::FailedPrecondition => "FAILED_PRECONDITION",
        tonic::Code::Aborted => "ABORTED",
        tonic::Code::OutOfRange => "OUT_OF_RANGE",
        tonic::Code::Unimplemented => "UNIMPLEMENTED",
        tonic::Code::Internal => "INTERNAL",
        tonic::Code::Unavailable => "UNAVAILABLE",
        tonic::Code::DataLoss => "DATA_LOSS",
        tonic::Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

type HttpResponse = http::Response<Full<Bytes>>;

fn respond(daemon: &Daemon, req: &http::Request<hyper::body::Incoming>) -> HttpResponse {
    let (status, content_type, body) = if req.method() != http::Method::GET {
        (
            http::StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".to_owned(),
        )
    } else if req.uri().path() != "/metrics" {
        (
            http::StatusCode::NOT_FOUND,
            "text/plain",
            "see /metrics\n".to_owned(),
        )
    } else {
        (
            http::StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics().render(daemon),
        )
    };
    let mut res = http::Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        res.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    res
}

fn serve_connection<IO>(daemon: Arc<Daemon>, io: IO)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let service = hyper::service::service_fn(move |req| {
            let res = respond(&daemon, &req);
            async move { Ok::<_, Infallible>(res) }
        });
        let conn =
            hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(io), service);
        if let Err(e) = tokio::time::timeout(std::time::Duration::from_secs(30), conn).await {
            tracing::debug!(error = %e, "metrics connection timed out");
        }
    });
}

/// Binds the metrics endpoint and serves it in the background.
pub async fn spawn_endpoint(daemon: Arc<Daemon>, cfg: MetricsConfig) -> std::io::Result<()> {
    if let Some(addr) = cfg.listen {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        tracing::info!(listen = %listener.local_addr()?, "metrics endpoint (Prometheus) at /metrics");
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => serve_connection(Arc::clone(&daemon), stream),
                    Err(e) => tracing::warn!(error = %e, "metrics accept failed"),
                }
            }
        });
    } else if let Some(path) = cfg.socket {
        let listener = bind_unix(&path)?;
        tracing::info!(socket = %path.display(), "metrics endpoint (Prometheus) at /metrics");
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => serve_connection(Arc::clone(&daemon), stream),
                    Err(e) => tracing::warn!(error = %e, "metrics accept failed"),
                }
            }
        });
    }
    Ok(())
}

fn bind_unix(path: &Path) -> std::io::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::FileTypeExt;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(std::io::Error::other(format!(
                "{} exists and is not a socket",
                path.display()
            )));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::other(format!(
                "{} is in use by another process",
                path.display()
            )));
        }
        std::fs::remove_file(path)?;
    }
    // Created under the daemon's umask 077: mode 0600.
    tokio::net::UnixListener::bind(path)
}
