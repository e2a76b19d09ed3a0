//! Authorization server metadata (RFC 8414, then OpenID Connect
//! Discovery): fetched from the issuer, used only when its `issuer` is
//! exactly the one asked for (RFC 8414 §3.3, FAPI 2.0 §5.3.3.1).

use serde::Deserialize;

/// What the daemon uses of a metadata document.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Metadata {
    /// The issuer identifier, equal to the configured one.
    pub issuer: String,
    /// Where tokens are requested.
    pub token_endpoint: String,
    /// Where authorization requests are pushed (RFC 9126).
    #[serde(default)]
    pub pushed_authorization_request_endpoint: Option<String>,
    /// The authorization endpoint (for `request_uri`).
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// The server's signing keys (JARM).
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Endpoints for mutual TLS (RFC 8705 §5).
    #[serde(default)]
    pub mtls_endpoint_aliases: MtlsAliases,
}

/// The endpoints a client using mutual TLS calls instead.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct MtlsAliases {
    /// The token endpoint.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// The PAR endpoint.
    #[serde(default)]
    pub pushed_authorization_request_endpoint: Option<String>,
}

/// The documents to try, in order: RFC 8414 inserts the well-known path
/// between host and path; OpenID Discovery appends it.
pub fn well_known_urls(issuer: &str) -> Vec<String> {
    let trimmed = issuer.trim_end_matches('/');
    let mut urls = Vec::new();
    if let Ok(url) = url::Url::parse(issuer) {
        let path = url.path().trim_end_matches('/');
        let origin = url.origin().ascii_serialization();
        urls.push(format!(
            "{origin}/.well-known/oauth-authorization-server{path}"
        ));
    }
    urls.push(format!("{trimmed}/.well-known/openid-configuration"));
    urls
}

/// Parses a metadata document fetched for `issuer`.
pub fn parse(issuer: &str, body: &[u8]) -> Result<Metadata, String> {
    let m: Metadata =
        serde_json::from_slice(body).map_err(|e| format!("not a metadata document ({e})"))?;
    if m.issuer != issuer {
        return Err(format!(
            "it names issuer {:?}, not {issuer:?}: metadata for another issuer is never used \
             (RFC 8414 §3.3); set the credential's issuer to the server's exact identifier",
            m.issuer
        ));
    }
    for url in [
        Some(&m.token_endpoint),
        m.pushed_authorization_request_endpoint.as_ref(),
        m.mtls_endpoint_aliases.token_endpoint.as_ref(),
        m.mtls_endpoint_aliases
            .pushed_authorization_request_endpoint
            .as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        if !url.starts_with("https://") {
            return Err(format!("its endpoint {url:?} is not an https URL"));
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_paths_follow_rfc8414_then_oidc() {
        assert_eq!(
            well_known_urls("https://as.example"),
            [
                "https://as.example/.well-known/oauth-authorization-server",
                "https://as.example/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            well_known_urls("https://as.example/tenant/1"),
            [
                "https://as.example/.well-known/oauth-authorization-server/tenant/1",
                "https://as.example/tenant/1/.well-known/openid-configuration"
            ]
        );
    }

    #[test]
    fn the_issuer_must_match_exactly() {
        let doc =
            br#"{"issuer":"https://as.example/","token_endpoint":"https://as.example/token"}"#;
        assert!(
            parse("https://as.example", doc)
                .unwrap_err()
                .contains("not \"https://as.example\"")
        );
        assert!(parse("https://as.example/", doc).is_ok());
        let plain = br#"{"issuer":"https://a","token_endpoint":"http://a/token"}"#;
        assert!(
            parse("https://a", plain)
                .unwrap_err()
                .contains("not an https URL")
        );
        assert!(
            parse("https://a", b"<html>")
                .unwrap_err()
                .contains("not a metadata document")
        );
    }
}
