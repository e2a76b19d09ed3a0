//! One request through the proxy: route, refuse what may not pass, admit
//! the caller, add the token, the DPoP proof and the interaction id, send
//! over the upstream's pool (mutual TLS where configured), retry only when
//! that is safe, and stream the answer back with one audit record at its
//! end.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;

use super::body::{self, Metered};
use super::error::ProxyError;
use super::upstream::Upstream;
use super::{APP_TOKEN, Context, INTERACTION_ID, route};
use crate::access::audit::{HttpExchange, Outcome};
use crate::config::{SigningProfile, UpstreamToken};
use crate::net::Body;
use crate::ops::proxy::{self as op, Admission, App};

/// Headers of one hop only (RFC 9110 §7.6.1), never forwarded, plus the
/// TCP listener's app token.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "host",
    APP_TOKEN,
];

/// Longest interaction id taken from an app (a UUID is 36).
const MAX_INTERACTION_ID: usize = 128;

/// Everything known of a request, for its audit record.
struct Exchange {
    upstream: String,
    method: String,
    path: String,
    interaction_id: String,
    started: Instant,
    bytes_in: Arc<AtomicU64>,
}

impl Exchange {
    fn record(&self, status: u16, bytes_out: u64) -> HttpExchange {
        HttpExchange {
            upstream: self.upstream.clone(),
            method: self.method.clone(),
            path: self.path.clone(),
            status,
            interaction_id: self.interaction_id.clone(),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out,
            duration_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// Handles one request from `app` (`None`: a TCP request whose token has
/// not been checked yet).
pub async fn handle(
    ctx: Arc<Context>,
    app: Option<App>,
    req: Request<hyper::body::Incoming>,
) -> Response<Body> {
    let interaction_id = req
        .headers()
        .get(&INTERACTION_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= MAX_INTERACTION_ID)
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let mut exchange = Exchange {
        upstream: String::new(),
        method: req.method().to_string(),
        path: req.uri().path().to_owned(),
        interaction_id,
        started: Instant::now(),
        bytes_in: Arc::new(AtomicU64::new(0)),
    };
    let app = match app {
        Some(app) => app,
        None => match ctx.tcp_app(req.headers()) {
            Some(app) => app,
            None => {
                let e = ProxyError::AppToken;
                tracing::warn!(method = %exchange.method, "proxy request refused: {e}");
                op::record_unauthenticated(
                    &ctx.gate,
                    exchange.record(e.status().as_u16(), 0),
                    &e.to_string(),
                );
                return e.response(None, Some(&exchange.interaction_id));
            }
        },
    };
    let upstreams = ctx.gate.daemon().upstreams();
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    let routed = route::route(req.method(), req.uri(), host, &upstreams);
    let route = match routed {
        Ok(r) => r,
        Err(e) => return refuse(&ctx, &app, &exchange, None, e),
    };
    exchange.upstream.clone_from(&route.upstream);
    exchange.path.clone_from(&route.path);
    let Some(cfg) = upstreams.get(&route.upstream) else {
        let e = ProxyError::UnknownUpstream(route.upstream.clone());
        return refuse(&ctx, &app, &exchange, None, e);
    };
    if let Some(h) = req.headers().keys().find(|h| {
        cfg.deny_headers
            .iter()
            .any(|d| d.eq_ignore_ascii_case(h.as_str()))
            || cfg
                .signing_profile()
                .is_some_and(|p| p.reserved_headers().contains(&h.as_str()))
    }) {
        let e = ProxyError::HeaderNotAllowed(h.as_str().to_owned());
        return refuse(&ctx, &app, &exchange, Some(&route.upstream), e);
    }
    let admission = match op::admit(&ctx.gate, &app, &route.upstream, cfg) {
        Ok(a) => Arc::new(a),
        Err(e) => {
            let audited = matches!(
                e.kind(),
                crate::ops::Kind::PermissionDenied | crate::ops::Kind::ResourceExhausted
            );
            let e = ProxyError::Op(e);
            if audited {
                // By the gate, which also logged it.
                count(&exchange, e.status().as_u16(), 0);
                return e.response(Some(&route.upstream), Some(&exchange.interaction_id));
            }
            return refuse(&ctx, &app, &exchange, Some(&route.upstream), e);
        }
    };
    let upstream = match ctx
        .upstreams
        .get(&route.upstream, cfg, &admission.credential)
    {
        Ok(u) => u,
        Err(e) => return fail(&ctx, &admission, &exchange, e),
    };
    let sent = send(
        &ctx,
        &admission,
        &upstream,
        &exchange,
        &route.path_and_query,
        req,
    )
    .await;
    let checked = match sent {
        Ok((response, Some(signed)))
            if cfg.verifies_responses(&admission.credential.config.http_signatures) =>
        {
            verified(&admission, &exchange.upstream, &signed, response).await
        }
        Ok((response, _))
            if cfg.signing_profile() == Some(SigningProfile::OpenFinanceBrasil)
                && cfg.brasil_response_jwks.is_some() =>
        {
            super::brasil::verified_response(
                &admission.credential,
                &exchange.upstream,
                cfg,
                response,
            )
            .await
        }
        Ok((response, _)) => Ok(response.map(|b| b.map_err(crate::net::BoxError::from).boxed())),
        Err(e) => Err(e),
    };
    match checked {
        Ok(response) => respond(&ctx, admission, exchange, response),
        Err(e) => fail(&ctx, &admission, &exchange, e),
    }
}

/// The upstream's response, held whole (up to the credential's
/// `http_signatures.max_body_bytes`) and passed on unchanged only once its
/// RFC 9421 signature verifies against the request as it was sent
/// (`signed`).
async fn verified(
    admission: &Admission,
    upstream: &str,
    signed: &crate::httpsig::rfc9421::HttpRequest,
    response: Response<hyper::body::Incoming>,
) -> Result<Response<Body>, ProxyError> {
    let limit = admission.credential.config.http_signatures.max_body_bytes;
    let (parts, incoming) = response.into_parts();
    let status = parts.status.as_u16();
    let unverified = |reason: String| ProxyError::ResponseUnverified {
        upstream: upstream.to_owned(),
        status,
        reason,
    };
    let collected = match http_body_util::Limited::new(incoming, limit)
        .collect()
        .await
    {
        Ok(c) => c,
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(unverified(format!(
                "its body is over [credentials.{}.http_signatures] max_body_bytes = {limit}, \
                 the most held to be checked",
                admission.credential.name
            )));
        }
        Err(e) => {
            return Err(ProxyError::Unreachable {
                upstream: upstream.to_owned(),
                cause: format!("the response body could not be read: {e}"),
            });
        }
    };
    let trailers = collected.trailers().cloned();
    let body = collected.to_bytes();
    // A value that is not text cannot be a covered component: it fails
    // the check as absent.
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    match crate::ops::verify::check_response(&admission.credential, signed, status, &headers, &body)
        .await
    {
        Ok(v) => {
            tracing::debug!(upstream, status, keyid = %v.keyid, "response signature verified");
        }
        Err(crate::ops::Error::Unverified(reason)) => return Err(unverified(reason)),
        Err(e) => {
            return Err(ProxyError::Misconfigured {
                upstream: upstream.to_owned(),
                cause: format!("its response signatures cannot be checked: {e}"),
            });
        }
    }
    let full = http_body_util::Full::new(body).map_err(|never| match never {});
    let body = match trailers {
        Some(t) => full.with_trailers(std::future::ready(Some(Ok(t)))).boxed(),
        None => full.boxed(),
    };
    Ok(Response::from_parts(parts, body))
}

/// A request refused before admission: logged, audited, answered.
fn refuse(
    ctx: &Context,
    app: &App,
    exchange: &Exchange,
    upstream: Option<&str>,
    e: ProxyError,
) -> Response<Body> {
    tracing::warn!(
        upstream = upstream.unwrap_or(""), method = %exchange.method,
        "proxy request refused: {e}"
    );
    count(exchange, e.status().as_u16(), 0);
    op::record_refusal(
        &ctx.gate,
        app,
        exchange.record(e.status().as_u16(), 0),
        &e.to_string(),
    );
    e.response(upstream, Some(&exchange.interaction_id))
}

/// An admitted request that failed: logged, audited, answered.
fn fail(
    ctx: &Context,
    admission: &Admission,
    exchange: &Exchange,
    e: ProxyError,
) -> Response<Body> {
    tracing::warn!(upstream = %exchange.upstream, method = %exchange.method, "proxy request failed: {e}");
    let status = e.status().as_u16();
    count(exchange, status, 0);
    op::record_failure(
        &ctx.gate,
        admission,
        exchange.record(status, 0),
        &e.to_string(),
    );
    e.response(Some(&exchange.upstream), Some(&exchange.interaction_id))
}

/// Counts a request in the metrics (the upstream's name is empty when the
/// request named none).
fn count(exchange: &Exchange, status: u16, bytes_out: u64) {
    crate::metrics::metrics().proxied(
        &exchange.upstream,
        status,
        exchange.bytes_in.load(Ordering::Relaxed),
        bytes_out,
        exchange.started.elapsed().as_secs_f64(),
    );
}

/// What a 401's `WWW-Authenticate` asks for.
#[derive(Debug, PartialEq, Eq)]
enum Challenge {
    /// `use_dpop_nonce` (RFC 9449 §9): send again with the nonce.
    Nonce,
    /// `invalid_token`: the token was refused.
    InvalidToken,
    /// Anything else: pass the answer on.
    Other,
}

fn challenge(headers: &HeaderMap) -> Challenge {
    let mut found = Challenge::Other;
    for v in headers.get_all(header::WWW_AUTHENTICATE) {
        let v = v
            .to_str()
            .unwrap_or("")
            .to_ascii_lowercase()
            .replace(' ', "");
        if v.contains("error=\"use_dpop_nonce\"") {
            return Challenge::Nonce;
        }
        if v.contains("error=\"invalid_token\"") {
            found = Challenge::InvalidToken;
        }
    }
    found
}

/// Whether sending `method` twice has the effect of sending it once.
fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// The upstream's answer, and the request as signed for a
/// `fapi2-http-sig` upstream (what its response signature covers).
type Sent = (
    Response<hyper::body::Incoming>,
    Option<crate::httpsig::rfc9421::HttpRequest>,
);

/// Sends the request, answering a nonce challenge once, and an invalid
/// token once for an idempotent request that can be sent again.
async fn send(
    ctx: &Context,
    admission: &Admission,
    upstream: &Upstream,
    exchange: &Exchange,
    path_and_query: &str,
    req: Request<hyper::body::Incoming>,
) -> Result<Sent, ProxyError> {
    let (parts, incoming) = req.into_parts();
    let url = format!("{}{path_and_query}", upstream.base);
    let htu = url.split(['?', '#']).next().unwrap_or(&url).to_owned();
    let uri: http::Uri = url
        .parse()
        .map_err(|e| ProxyError::BadRequest(format!("the upstream URL is not valid: {e}")))?;
    let mut outgoing = body::prepare(incoming, ctx.replay_limit, &exchange.bytes_in)
        .await
        .map_err(|e| ProxyError::BadRequest(format!("the request body could not be read: {e}")))?;
    let cfg = &upstream.cfg;
    let profile = cfg.signing_profile();
    // Every profile signs over the body: it must be held whole.
    let held = match (profile, outgoing.held()) {
        (None, _) => None,
        (Some(_), Some(b)) => Some(b.clone()),
        (Some(_), None) => {
            return Err(ProxyError::BadRequest(format!(
                "the body is larger than proxy.replay_buffer_bytes = {}: a signed request's \
                 body must be held whole to be signed",
                ctx.replay_limit
            )));
        }
    };
    let mut extra: Vec<(HeaderName, String)> = Vec::new();
    // The app's JSON, sent as a Brasil JWT made again for each attempt (a
    // fresh jti and iat: a server may remember the last one).
    let brasil_data = match (profile, held.as_deref()) {
        (Some(SigningProfile::OpenFinanceBrasil), Some(b)) if !b.is_empty() => {
            extra.push((header::CONTENT_TYPE, "application/jwt".to_owned()));
            Some(bytes::Bytes::copy_from_slice(b))
        }
        _ => None,
    };
    match (profile, held.as_deref()) {
        (Some(p @ (SigningProfile::ObUk314 | SigningProfile::ObUk313)), Some(b))
            if !b.is_empty() =>
        {
            // OB signs requests with a body.
            let version = if p == SigningProfile::ObUk313 {
                crate::jose::ob_detached::Version::UpTo313
            } else {
                crate::jose::ob_detached::Version::From314
            };
            let s =
                crate::ops::sign_message::sign_ob_body(&admission.credential, version, b).await?;
            extra.push((HeaderName::from_static("x-jws-signature"), s.signature));
        }
        (Some(SigningProfile::BerlinGroup), Some(b)) => {
            // Every request carries a Digest (of an empty body too) and a
            // UUID X-Request-ID, the app's if it sent one.
            let x_request_id = parts
                .headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
            let signed_when_present = ["psu-id", "psu-corporate-id", "tpp-redirect-uri", "date"];
            let headers = signed_when_present
                .iter()
                .filter_map(|n| {
                    parts
                        .headers
                        .get(*n)
                        .and_then(|v| v.to_str().ok())
                        .map(|v| ((*n).to_owned(), v.to_owned()))
                })
                .collect();
            let req = crate::httpsig::cavage::BgRequest {
                x_request_id,
                headers,
                body: b.to_vec(),
            };
            let s = crate::ops::sign_message::berlin_group_signature(&admission.credential, &req)
                .await?;
            extra.push((HeaderName::from_static("x-request-id"), s.x_request_id));
            extra.push((HeaderName::from_static("digest"), s.digest));
            extra.push((HeaderName::from_static("signature"), s.signature));
            extra.push((
                HeaderName::from_static("tpp-signature-certificate"),
                s.certificate,
            ));
        }
        _ => {}
    }
    let (mut nonce_retried, mut token_retried, mut force_refresh) = (false, false, false);
    let mut unprocessed_retried = false;
    loop {
        let token = op::token(admission, cfg, force_refresh).await?;
        force_refresh = false;
        let mut headers = forwarded_headers(&parts.headers);
        if let Some(data) = &brasil_data {
            let audience = cfg.brasil_audience.as_deref().unwrap_or_default();
            let jwt = super::brasil::sign_body(&admission.credential, audience, data).await?;
            outgoing = body::Outgoing::Replayable(bytes::Bytes::from(jwt));
            // Set again from the body sent.
            headers.remove(header::CONTENT_LENGTH);
        }
        for (k, v) in &cfg.add_headers {
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                headers.insert(k, v);
            }
        }
        if let Ok(id) = HeaderValue::from_str(&exchange.interaction_id) {
            headers.insert(INTERACTION_ID, id);
        }
        for (k, v) in &extra {
            let v = HeaderValue::from_str(v).map_err(|_| {
                ProxyError::Op(crate::ops::Error::Internal(format!(
                    "a {k} value is not a header value"
                )))
            })?;
            headers.insert(k.clone(), v);
        }
        if let Some(t) = &token {
            let scheme = if cfg.token == UpstreamToken::Dpop {
                "DPoP"
            } else {
                "Bearer"
            };
            let mut value = HeaderValue::from_str(&format!("{scheme} {}", t.access_token.expose()))
                .map_err(|_| {
                    ProxyError::Op(crate::ops::Error::Unavailable(
                        "the authorization server issued a token that cannot be sent in a header"
                            .into(),
                    ))
                })?;
            value.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, value);
            if cfg.token == UpstreamToken::Dpop {
                let proof = op::dpop_proof(
                    admission,
                    parts.method.as_str(),
                    &htu,
                    t,
                    upstream.nonce().as_deref(),
                )
                .await?;
                let mut value = HeaderValue::from_str(&proof).map_err(|_| {
                    ProxyError::Op(crate::ops::Error::Internal(
                        "a DPoP proof is not a header value".into(),
                    ))
                })?;
                value.set_sensitive(true);
                headers.insert(HeaderName::from_static("dpop"), value);
            }
        }
        let mut signed = None;
        if profile == Some(SigningProfile::Fapi2HttpSig) {
            // Over this attempt's token and proof: signed again each time.
            let text = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let req = crate::httpsig::rfc9421::HttpRequest {
                method: parts.method.as_str().to_owned(),
                target_uri: url.clone(),
                authorization: text("authorization"),
                dpop: text("dpop"),
                headers: Vec::new(),
                body: held.as_deref().map(<[u8]>::to_vec).unwrap_or_default(),
            };
            let (s, _) =
                crate::ops::sign_message::http_request_signature(&admission.credential, &req)
                    .await?;
            signed = Some(req);
            for (name, value) in [
                ("signature-input", Some(s.signature_input)),
                ("signature", Some(s.signature)),
                ("content-digest", s.content_digest),
            ] {
                if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                    headers.insert(HeaderName::from_static(name), v);
                }
            }
        }
        let Some(body) = outgoing.body() else {
            // Only a replayable body is ever sent twice.
            return Err(ProxyError::Op(crate::ops::Error::Internal(
                "the request body was already sent".into(),
            )));
        };
        let mut request = Request::new(body);
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = uri.clone();
        *request.headers_mut() = headers;
        let response = match upstream.client.send(request, upstream.timeout()).await {
            Ok(r) => r,
            Err(crate::net::NetError::Unprocessed { cause, .. })
                if !unprocessed_retried && outgoing.replayable() =>
            {
                // Not processed: safe to send again, on another connection.
                unprocessed_retried = true;
                crate::metrics::metrics().proxy_retry(&upstream.name, "unprocessed");
                tracing::info!(upstream = %upstream.name, "the upstream turned the request away unprocessed ({cause}): sending again");
                continue;
            }
            Err(e) => return Err(ProxyError::of_net(&upstream.name, e)),
        };
        if let Some(n) = response
            .headers()
            .get("dpop-nonce")
            .and_then(|v| v.to_str().ok())
        {
            upstream.set_nonce(n);
        }
        if response.status() != StatusCode::UNAUTHORIZED || token.is_none() {
            return Ok((response, signed));
        }
        match challenge(response.headers()) {
            Challenge::Nonce
                if cfg.token == UpstreamToken::Dpop && !nonce_retried && outgoing.replayable() =>
            {
                // The server did not act on the request (RFC 9449 §9).
                nonce_retried = true;
                crate::metrics::metrics().proxy_retry(&upstream.name, "dpop_nonce");
                tracing::debug!(upstream = %upstream.name, "DPoP nonce challenge: sending again with the nonce");
            }
            Challenge::InvalidToken => {
                force_refresh = true;
                if token_retried || !outgoing.replayable() || !idempotent(&parts.method) {
                    // Not sent again: it may have had an effect. A new
                    // token is fetched now, for the app's next request.
                    if let Err(e) = op::token(admission, cfg, true).await {
                        tracing::warn!(upstream = %upstream.name, "refreshing a token the resource server refused failed: {e}");
                    }
                    return Ok((response, signed));
                }
                token_retried = true;
                crate::metrics::metrics().proxy_retry(&upstream.name, "invalid_token");
                tracing::info!(upstream = %upstream.name, "the resource server refused the token: refreshing it and sending again");
            }
            _ => return Ok((response, signed)),
        }
    }
}

/// The app's headers less those of one hop.
fn forwarded_headers(from: &HeaderMap) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(from.len() + 4);
    // Headers the app's `Connection` names are of this hop too.
    let named: Vec<String> = from
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()))
        .collect();
    for (k, v) in from {
        let name = k.as_str();
        if HOP_BY_HOP.contains(&name) || named.iter().any(|n| n == name) {
            continue;
        }
        headers.append(k.clone(), v.clone());
    }
    headers
}

/// The upstream's answer, streamed to the app; its end writes the audit
/// record and the metrics.
fn respond(
    ctx: &Context,
    admission: Arc<Admission>,
    exchange: Exchange,
    response: Response<Body>,
) -> Response<Body> {
    let (mut parts, incoming) = response.into_parts();
    let headers = forwarded_headers(&parts.headers);
    parts.headers = headers;
    if !parts.headers.contains_key(&INTERACTION_ID)
        && let Ok(id) = HeaderValue::from_str(&exchange.interaction_id)
    {
        parts.headers.insert(INTERACTION_ID, id);
    }
    let status = parts.status.as_u16();
    let gate = ctx.gate.clone();
    let on_end: body::OnEnd = Box::new(move |bytes_out, complete| {
        let record = exchange.record(status, bytes_out);
        count(&exchange, status, bytes_out);
        if !complete {
            tracing::warn!(upstream = %record.upstream, status, bytes_out, "the response ended early (the app or the upstream closed)");
        }
        op::record(
            &gate,
            &admission,
            if complete {
                Outcome::Ok
            } else {
                Outcome::Error
            },
            record,
        );
    });
    let body = Metered::new(incoming, on_end);
    Response::from_parts(parts, body.boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_and_idempotence() {
        let mut h = HeaderMap::new();
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("DPoP error=\"use_dpop_nonce\", error_description=\"x\""),
        );
        assert_eq!(challenge(&h), Challenge::Nonce);
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error = \"invalid_token\""),
        );
        assert_eq!(challenge(&h), Challenge::InvalidToken);
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=x"),
        );
        assert_eq!(challenge(&h), Challenge::Other);
        assert!(
            idempotent(&Method::PUT) && !idempotent(&Method::POST) && !idempotent(&Method::PATCH)
        );
    }

    #[test]
    fn hop_by_hop_headers_stay_behind() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("close, x-private"),
        );
        h.insert("x-private", HeaderValue::from_static("1"));
        h.insert(APP_TOKEN, HeaderValue::from_static("t"));
        h.insert(header::HOST, HeaderValue::from_static("bank"));
        h.insert("accept", HeaderValue::from_static("application/json"));
        let f = forwarded_headers(&h);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f.contains_key("accept"));
    }
}
