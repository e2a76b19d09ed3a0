//! Why the proxy answered a request itself, mapped to a status in one
//! place. The body is JSON naming the upstream and the cause, for the app
//! and its operator; it never carries a header, a token or a body.

use http::StatusCode;
use serde_json::json;

use crate::net::{self, Body};
use crate::ops::{self, Kind};

/// A request the proxy did not forward, or whose upstream did not answer.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// A tunnel was asked for.
    #[error(
        "CONNECT is refused: the proxy forwards plain HTTP requests to configured upstreams, it \
         opens no tunnels"
    )]
    Connect,
    /// An absolute URL to a host that is no upstream.
    #[error(
        "{0:?} is not a configured upstream: the proxy reaches [upstreams.NAME] only, by Host: \
         NAME or the path /NAME/…"
    )]
    OtherHost(String),
    /// The upstream named does not exist.
    #[error("no upstream is named {0:?}: configure [upstreams.{0}] or fix the request's path")]
    UnknownUpstream(String),
    /// Neither the Host nor the path names an upstream.
    #[error(
        "the request names no upstream: send it with Host: NAME (curl --unix-socket proxy.sock \
         http://NAME/path) or to /NAME/path"
    )]
    NoUpstream,
    /// A path that could leave the upstream's base path.
    #[error("the path {0}")]
    BadPath(String),
    /// A header the proxy sets itself, or the config denies.
    #[error(
        "the app may not set the header {0:?}: the proxy sets it, or the upstream's deny_headers lists it"
    )]
    HeaderNotAllowed(String),
    /// A malformed request.
    #[error("the request is malformed: {0}")]
    BadRequest(String),
    /// The TCP listener's request came without a valid app token.
    #[error(
        "the TCP listener needs the app's token in the X-Fapi-Agent-Token header (proxy.tcp.apps)"
    )]
    AppToken,
    /// Identity, policy, limits, the credential or its token.
    #[error(transparent)]
    Op(#[from] ops::Error),
    /// The upstream's own settings cannot be used (its CA file).
    #[error("upstream {upstream:?} is misconfigured: {cause}")]
    Misconfigured {
        /// The upstream.
        upstream: String,
        /// What is wrong.
        cause: String,
    },
    /// The upstream could not be reached, or TLS with it failed.
    #[error("upstream {upstream:?} cannot be reached: {cause}")]
    Unreachable {
        /// The upstream.
        upstream: String,
        /// Down to the root cause.
        cause: String,
    },
    /// The upstream's response signature did not verify: the response is
    /// withheld.
    #[error(
        "upstream {upstream:?} answered {status} but its response signature does not verify \
         ({reason}); the response was withheld"
    )]
    ResponseUnverified {
        /// The upstream.
        upstream: String,
        /// The status it answered.
        status: u16,
        /// Why the signature does not verify.
        reason: String,
    },
    /// The upstream did not answer in time.
    #[error("upstream {upstream:?} did not answer within {seconds} s (timeout_seconds)")]
    Timeout {
        /// The upstream.
        upstream: String,
        /// The limit.
        seconds: u64,
    },
}

impl ProxyError {
    /// An outbound failure of `upstream`.
    pub fn of_net(upstream: &str, e: net::NetError) -> Self {
        match e {
            net::NetError::Timeout { seconds, .. } => Self::Timeout {
                upstream: upstream.to_owned(),
                seconds,
            },
            net::NetError::Failed { cause, .. } | net::NetError::Unprocessed { cause, .. } => {
                Self::Unreachable {
                    upstream: upstream.to_owned(),
                    cause,
                }
            }
        }
    }

    /// The status the app sees.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Connect => StatusCode::METHOD_NOT_ALLOWED,
            Self::OtherHost(_) => StatusCode::FORBIDDEN,
            Self::UnknownUpstream(_) | Self::NoUpstream => StatusCode::NOT_FOUND,
            Self::BadPath(_) | Self::HeaderNotAllowed(_) | Self::BadRequest(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::AppToken => StatusCode::UNAUTHORIZED,
            Self::Op(e) => match e.kind() {
                Kind::PermissionDenied => StatusCode::FORBIDDEN,
                Kind::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
                Kind::InvalidArgument => StatusCode::BAD_REQUEST,
                Kind::NotFound => StatusCode::NOT_FOUND,
                // No token or key can be had: the credential, its lock,
                // or the authorization server.
                Kind::FailedPrecondition | Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                // The upstream's response signature is wrong.
                Kind::Unauthenticated => StatusCode::BAD_GATEWAY,
                Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            },
            Self::Unreachable { .. }
            | Self::Misconfigured { .. }
            | Self::ResponseUnverified { .. } => StatusCode::BAD_GATEWAY,
            Self::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// A short machine-readable name of the reason.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Connect => "connect_refused",
            Self::OtherHost(_) => "not_an_upstream",
            Self::UnknownUpstream(_) | Self::NoUpstream => "unknown_upstream",
            Self::BadPath(_) => "bad_path",
            Self::HeaderNotAllowed(_) => "header_not_allowed",
            Self::BadRequest(_) => "bad_request",
            Self::AppToken => "app_token_required",
            Self::Op(e) => match e.kind() {
                Kind::PermissionDenied => "permission_denied",
                Kind::ResourceExhausted => "rate_limited",
                Kind::InvalidArgument => "bad_request",
                Kind::NotFound => "not_found",
                Kind::FailedPrecondition | Kind::Unavailable => "token_unavailable",
                Kind::Unauthenticated => "upstream_signature_invalid",
                Kind::Internal => "internal",
            },
            Self::Unreachable { .. } => "upstream_unreachable",
            Self::Misconfigured { .. } => "upstream_misconfigured",
            Self::ResponseUnverified { .. } => "upstream_signature_invalid",
            Self::Timeout { .. } => "upstream_timeout",
        }
    }

    /// The response: the status, and `{"error", "message", "upstream"}`.
    pub fn response(
        &self,
        upstream: Option<&str>,
        interaction_id: Option<&str>,
    ) -> http::Response<Body> {
        let body = json!({
            "error": self.code(),
            "message": self.to_string(),
            "upstream": upstream,
            "source": "fapi-agent",
        });
        let mut response = http::Response::new(net::full(body.to_string()));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        if let Some(id) = interaction_id.and_then(|i| http::HeaderValue::from_str(i).ok()) {
            headers.insert(super::INTERACTION_ID, id);
        }
        response
    }
}
