//! Which upstream a request is for, and the path it asks of it. Only
//! configured upstreams are reachable: a request names one by its `Host`
//! (`curl --unix-socket proxy.sock http://bank/accounts`) or by its first
//! path segment (`http://localhost/bank/accounts`). Anything else is
//! refused here, before any credential is touched: CONNECT, an absolute
//! URL to another host, and a path that could leave the upstream's base
//! path once a server decodes it.

use std::collections::BTreeMap;

use http::{Method, Uri};

use super::error::ProxyError;
use crate::config::UpstreamConfig;

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The upstream's name.
    pub upstream: String,
    /// The path below the upstream's base path, starting with `/`, and the
    /// query if any, exactly as the app sent them.
    pub path_and_query: String,
    /// The path alone (for the audit log: the query may carry anything).
    pub path: String,
}

/// The host named by `authority` without its port, lowercased.
fn host_of(authority: &str) -> String {
    authority
        .parse::<http::uri::Authority>()
        .map(|a| a.host().to_ascii_lowercase())
        .unwrap_or_else(|_| authority.to_ascii_lowercase())
}

/// Routes a request by its method, target and `Host` header.
pub fn route(
    method: &Method,
    uri: &Uri,
    host_header: Option<&str>,
    upstreams: &BTreeMap<String, UpstreamConfig>,
) -> Result<Route, ProxyError> {
    if method == Method::CONNECT {
        return Err(ProxyError::Connect);
    }
    let path = uri.path();
    if !path.starts_with('/') {
        // `OPTIONS *` and other forms with no path to forward.
        return Err(ProxyError::BadPath(format!(
            "{path:?} is not an absolute path"
        )));
    }
    check_path(path)?;
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    // An absolute-form target (`GET http://bank/x`) names its host; it must
    // be an upstream, else this is a request to use us as an open proxy.
    if let Some(authority) = uri.authority() {
        let host = host_of(authority.as_str());
        if !upstreams.contains_key(&host) {
            return Err(ProxyError::OtherHost(host));
        }
        return Ok(Route {
            upstream: host,
            path_and_query: format!("{path}{query}"),
            path: path.to_owned(),
        });
    }
    if let Some(host) = host_header.map(host_of)
        && upstreams.contains_key(&host)
    {
        return Ok(Route {
            upstream: host,
            path_and_query: format!("{path}{query}"),
            path: path.to_owned(),
        });
    }
    // `/NAME/rest`: the first segment names the upstream.
    let rest = &path[1..];
    let (first, below) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if first.is_empty() {
        return Err(ProxyError::NoUpstream);
    }
    if !upstreams.contains_key(first) {
        return Err(ProxyError::UnknownUpstream(first.to_owned()));
    }
    Ok(Route {
        upstream: first.to_owned(),
        path_and_query: format!("{below}{query}"),
        path: below.to_owned(),
    })
}

/// Refuses a path with a segment that is, or decodes to, `.` or `..`, or
/// that hides a separator or NUL behind percent-encoding: servers differ
/// in what they decode, so none of it may reach the upstream.
fn check_path(path: &str) -> Result<(), ProxyError> {
    for segment in path.split('/') {
        let decoded: Vec<u8> = percent_decode(segment.as_bytes());
        // `..;x` is `..` to servers that strip path parameters.
        let bare = decoded.split(|b| *b == b';').next().unwrap_or_default();
        if bare == b"." || bare == b".." {
            return Err(ProxyError::BadPath(format!(
                "{path:?} has a {:?} segment: paths may not leave the upstream's base path",
                String::from_utf8_lossy(&decoded)
            )));
        }
        if decoded.iter().any(|b| matches!(b, b'/' | b'\\' | 0)) {
            return Err(ProxyError::BadPath(format!(
                "{path:?} encodes a '/', '\\\\' or NUL inside a segment"
            )));
        }
        // Double encoding (`%252e`) decodes to another escape: refused too.
        if decoded.contains(&b'%') && segment.contains('%') {
            let twice = percent_decode(&decoded);
            if twice != decoded {
                return Err(ProxyError::BadPath(format!(
                    "{path:?} is percent-encoded twice"
                )));
            }
        }
    }
    Ok(())
}

/// RFC 3986 percent-decoding; a `%` not followed by two hex digits stays.
fn percent_decode(input: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%'
            && let (Some(h), Some(l)) = (
                input.get(i + 1).copied().and_then(hex),
                input.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstreams() -> BTreeMap<String, UpstreamConfig> {
        let cfg: UpstreamConfig = toml::from_str(
            "base_url = \"https://api.bank.example/open-banking/v3\"\ncredential = \"acme\"\n",
        )
        .unwrap();
        BTreeMap::from([("bank".to_owned(), cfg)])
    }

    fn go(method: Method, target: &str, host: Option<&str>) -> Result<Route, ProxyError> {
        route(&method, &target.parse().unwrap(), host, &upstreams())
    }

    #[test]
    fn by_host_by_prefix_and_absolute_form() {
        let r = go(Method::GET, "/accounts?x=1", Some("bank")).unwrap();
        assert_eq!(
            (r.upstream.as_str(), r.path_and_query.as_str()),
            ("bank", "/accounts?x=1")
        );
        assert_eq!(r.path, "/accounts");
        let r = go(Method::GET, "/accounts", Some("BANK:80")).unwrap();
        assert_eq!(r.upstream, "bank");
        let r = go(Method::POST, "/bank/payments/1", Some("localhost")).unwrap();
        assert_eq!(
            (r.upstream.as_str(), r.path.as_str()),
            ("bank", "/payments/1")
        );
        let r = go(Method::GET, "/bank", Some("localhost")).unwrap();
        assert_eq!(r.path, "/");
        let r = go(Method::GET, "http://bank/accounts", None).unwrap();
        assert_eq!(r.path, "/accounts");
    }

    #[test]
    fn refusals() {
        assert!(matches!(
            go(Method::CONNECT, "bank:443", None),
            Err(ProxyError::Connect)
        ));
        assert!(matches!(
            go(Method::GET, "http://evil.example/x", Some("bank")),
            Err(ProxyError::OtherHost(h)) if h == "evil.example"
        ));
        assert!(matches!(
            go(Method::GET, "/other/x", Some("localhost")),
            Err(ProxyError::UnknownUpstream(u)) if u == "other"
        ));
        assert!(matches!(
            go(Method::GET, "/", Some("localhost")),
            Err(ProxyError::NoUpstream)
        ));
        for bad in [
            "/bank/../admin",
            "/bank/%2e%2e/admin",
            "/bank/%2E%2e/admin",
            "/bank/.%2e/admin",
            "/bank/./x",
            "/bank/a%2fb",
            "/bank/a%5cb",
            "/bank/a%00b",
            "/bank/%252e%252e/admin",
            "/bank/..;/admin",
            "/bank/%2e%2e;jsessionid=1/admin",
        ] {
            assert!(
                matches!(
                    go(Method::GET, bad, Some("localhost")),
                    Err(ProxyError::BadPath(_))
                ),
                "{bad}"
            );
        }
        // Dots inside a segment are fine.
        assert!(go(Method::GET, "/bank/v1.2/a..b", Some("localhost")).is_ok());
    }
}
