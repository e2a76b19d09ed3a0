//! Access tokens from the daemon against a real authorization server
//! (oidc-provider under FAPI 2.0, and with FAPI off) on loopback HTTPS:
//! every client-authentication method, DPoP and mTLS binding checked by the
//! server's own introspection, nonces, PAR with a request object and the
//! code flow, refresh, the password grant, the cache, and the ways a server
//! misbehaves.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::oauth::{AuthServer, Pki, free_port};
use common::*;
use fapi_agent::service::pb;
use serde_json::{Value, json};
use tonic::Code;

fn pem(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// The `[credentials.NAME.oauth]` table for `issuer`'s CA.
fn oauth_table(name: &str, pki: &Pki, body: &str) -> String {
    format!(
        "[credentials.{name}.oauth]\nca_file = {:?}\n{body}\n",
        pki.ca()
    )
}

async fn token(
    client: &mut fapi_agent::client::Client,
    name: &str,
    scopes: &[&str],
) -> Result<pb::AccessToken, tonic::Status> {
    client
        .agent
        .get_access_token(pb::GetAccessTokenRequest {
            credential: by_name(name),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

fn total_requests(counters: &Value) -> u64 {
    counters["total_token_requests"].as_u64().unwrap()
}

/// FAPI 2.0: private_key_jwt + DPoP, with and without DPoP nonces. The
/// server's introspection shows the token bound to the key the daemon
/// reports, and the nonce challenge is answered with one retry (a new
/// proof and a new assertion).
#[tokio::test(flavor = "multi_thread")]
async fn fapi2_private_key_jwt_with_dpop_and_nonces() {
    let fx = Fixtures::new();
    let pki = Pki::new(fx.path());
    let es = fx.credential("es", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let ps = fx.credential("ps", KeyType::Rsa2048, KeyFormat::Pkcs12);
    for require_nonce in [false, true] {
        let server = AuthServer::start(
            &pki,
            json!({
                "profile": "fapi2",
                "require_dpop_nonce": require_nonce,
                "clients": [
                    {"client_id": "es-client", "certificates_pem": [pem(&es.cert)],
                     "scope": "accounts payments", "dpop_bound_access_tokens": true},
                    {"client_id": "ps-client", "certificates_pem": [pem(&ps.cert)],
                     "scope": "accounts", "dpop_bound_access_tokens": true},
                ],
            }),
        );
        let issuer = server.issuer();
        let config = format!(
            "{}{}{}{}",
            es.toml("es-client", &issuer, ""),
            oauth_table("es", &pki, "scopes = [\"accounts\"]"),
            ps.toml("ps-client", &issuer, ""),
            oauth_table("ps", &pki, "dpop_alg = \"EdDSA\"\nscopes = [\"accounts\"]"),
        );
        let daemon = Daemon::start(&config).await;
        let mut client = daemon.client().await;
        for name in ["es", "ps"] {
            let t = token(&mut client, name, &[])
                .await
                .unwrap_or_else(|e| panic!("{name} (nonce {require_nonce}): {e:?}"));
            assert_eq!(t.token_type, "DPoP");
            assert_eq!(t.jkt.len(), 43, "a thumbprint: {t:?}");
            assert!(t.x5t_s256.is_empty());
            let seen = server.introspect(&t.access_token).await;
            assert_eq!(seen["active"], true, "{seen}");
            assert_eq!(seen["cnf"]["jkt"], t.jkt.as_str(), "{seen}");
            assert_eq!(seen["scope"], "accounts", "{seen}");
            assert!(t.expires_at > fapi_agent::now_unix());
        }
        let counters = server.counters().await;
        // Without nonces one request each; with them, one challenge each.
        assert_eq!(
            total_requests(&counters),
            if require_nonce { 4 } else { 2 },
            "{counters}"
        );
        // The DPoP key is reported in Status, never the token.
        let status = client
            .admin
            .status(pb::StatusRequest {})
            .await
            .unwrap()
            .into_inner();
        let es_status = status.credentials.iter().find(|c| c.name == "es").unwrap();
        let tokens = es_status.token_status.as_ref().expect("token status");
        assert_eq!(tokens.auth_method, "private_key_jwt");
        assert_eq!(tokens.sender_constraint, "dpop");
        assert_eq!(tokens.cached_tokens, 1);
        assert_eq!(tokens.last_outcome, "ok");
        assert_eq!(tokens.dpop_jkt.len(), 43);
        assert!(
            tokens.dpop_key.starts_with("generated in memory (ES256;"),
            "{}",
            tokens.dpop_key
        );
        let text = daemon.cli(&["status"]);
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(
            text.contains(&format!(
                "tokens: private_key_jwt, dpop (DPoP key generated in memory (ES256; a new key at \
                 each start and after each Lock), jkt {}), 1 cached",
                tokens.dpop_jkt
            )),
            "{text}"
        );
        // The CLI: the cached token, and a proof.
        let out = daemon.cli(&["token", "--credential", "es", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(printed["cached"], true, "{printed}");
        assert_eq!(printed["jkt"], tokens.dpop_jkt.as_str());
        let out = daemon.cli(&[
            "dpop",
            "--credential",
            "es",
            "--htm",
            "GET",
            "--htu",
            "https://rs.example/x",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .split('.')
                .count(),
            3
        );
    }
}

/// tls_client_auth and self_signed_tls_client_auth over the server's mTLS
/// listener (the metadata's mtls_endpoint_aliases): the token is bound to
/// the credential's certificate (cnf.x5t#S256), the handshake signed
/// through the key handle. Such a token is handed only to a caller that
/// may export the key.
#[tokio::test(flavor = "multi_thread")]
async fn mtls_client_auth_and_certificate_bound_tokens() {
    let fx = Fixtures::new();
    let pki = Pki::new(fx.path());
    let plain = fx.plain_key("ca-issued", KeyType::P256);
    let issued = pki.issue_for("ca-issued", &plain, "/O=fapi-agent test/CN=acme-mtls");
    let tls = fx.credential_with_cert(
        "tlsauth",
        KeyType::P256,
        KeyFormat::Pkcs8Pbkdf2,
        plain,
        issued,
    );
    let self_signed = fx.credential("selfsigned", KeyType::Rsa2048, KeyFormat::LegacyPem);
    let server = AuthServer::start(
        &pki,
        json!({
            "profile": "fapi2",
            "clients": [
                {"client_id": "tls-client", "token_endpoint_auth_method": "tls_client_auth",
                 "tls_client_auth_subject_dn": "CN=acme-mtls,O=fapi-agent test",
                 "tls_client_certificate_bound_access_tokens": true, "scope": "accounts"},
                {"client_id": "self-client", "token_endpoint_auth_method": "self_signed_tls_client_auth",
                 "certificates_pem": [pem(&self_signed.cert)],
                 "tls_client_certificate_bound_access_tokens": true, "scope": "accounts"},
            ],
        }),
    );
    let issuer = server.issuer();
    let mtls =
        "auth_method = \"tls_client_auth\"\nsender_constraint = \"mtls\"\nscopes = [\"accounts\"]";
    let config = format!(
        "{}{}{}{}",
        tls.toml("tls-client", &issuer, "export = true"),
        oauth_table("tlsauth", &pki, mtls),
        self_signed.toml("self-client", &issuer, "export = true\n[[credentials.selfsigned.allow]]\nuids = [0]\noperations = [\"token\", \"read\"]\n"),
        oauth_table(
            "selfsigned",
            &pki,
            &mtls.replace("tls_client_auth", "self_signed_tls_client_auth")
        ),
    );
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    let t = token(&mut client, "tlsauth", &[]).await.unwrap();
    assert_eq!(t.token_type, "Bearer");
    let facts = facts(&mut client, "tlsauth").await;
    assert_eq!(t.x5t_s256, facts.x5t_s256);
    let seen = server.introspect(&t.access_token).await;
    assert_eq!(seen["cnf"]["x5t#S256"], facts.x5t_s256.as_str(), "{seen}");
    assert_eq!(seen["client_id"], "tls-client");
    // Both requests went to the mTLS listener's token endpoint.
    let counters = server.counters().await;
    assert_eq!(
        counters["token_requests"]["tls-client"]["client_credentials"],
        1
    );

    // The self-signed credential's rules give root `token`, not `export`:
    // the server issues the token, the daemon keeps it.
    let e = token(&mut client, "selfsigned", &[]).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    assert!(
        e.message().contains("mTLS-bound tokens") && e.message().contains("egress proxy"),
        "{}",
        e.message()
    );
    assert_eq!(
        server.counters().await["token_requests"]["self-client"]["client_credentials"],
        1,
        "the server did issue it"
    );
}

/// The code flow: PAR with a signed request object (and dpop_jkt), the
/// user's authorization (driven through the server's interactions), the
/// code exchanged with its PKCE verifier, and a refresh.
#[tokio::test(flavor = "multi_thread")]
async fn par_with_a_request_object_then_code_exchange_and_refresh() {
    let fx = Fixtures::new();
    let pki = Pki::new(fx.path());
    let c = fx.credential("web", KeyType::P256, KeyFormat::Pkcs8Scrypt);
    let redirect = "https://client.example/cb";
    let server = AuthServer::start(
        &pki,
        json!({
            "profile": "fapi2",
            "require_typ": true,
            "clients": [{"client_id": "web-app", "certificates_pem": [pem(&c.cert)],
                         "redirect_uris": [redirect], "scope": "openid accounts offline_access",
                         "grant_types": ["authorization_code", "refresh_token"],
                         "dpop_bound_access_tokens": true,
                         "require_signed_request_object": true}],
        }),
    );
    let issuer = server.issuer();
    let daemon = Daemon::start(&format!(
        "{}{}",
        c.toml("web-app", &issuer, ""),
        oauth_table("web", &pki, "")
    ))
    .await;
    let mut client = daemon.client().await;
    // PKCE (RFC 7636 S256).
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = fapi_agent::jose::b64url(&openssl::sha::sha256(verifier.as_bytes()));
    let params: std::collections::HashMap<String, String> = [
        ("response_type", "code"),
        ("redirect_uri", redirect),
        ("scope", "openid accounts offline_access"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("prompt", "consent"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let pushed = client
        .agent
        .push_authorization_request(pb::PushAuthorizationRequestRequest {
            credential: by_name("web"),
            parameters: params.clone(),
            signed_request_object: true,
        })
        .await
        .unwrap_or_else(|e| panic!("PAR: {e:?}"))
        .into_inner();
    assert!(
        pushed
            .request_uri
            .starts_with("urn:ietf:params:oauth:request_uri:")
    );
    assert!(pushed.expires_in > 0 && pushed.expires_in <= 60);
    let url = format!(
        "{}?client_id=web-app&request_uri={}",
        pushed.authorization_endpoint,
        url::form_urlencoded::byte_serialize(pushed.request_uri.as_bytes()).collect::<String>()
    );
    let authorized = server
        .control("POST", "/authorize", json!({ "url": url }))
        .await;
    let code = authorized["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{authorized}"));
    assert_eq!(authorized["state"], "st-1");
    let t = client
        .agent
        .exchange_authorization_code(pb::ExchangeAuthorizationCodeRequest {
            credential: by_name("web"),
            code: code.to_owned(),
            code_verifier: verifier.to_owned(),
            redirect_uri: redirect.to_owned(),
        })
        .await
        .unwrap_or_else(|e| panic!("code exchange: {e:?}"))
        .into_inner();
    assert_eq!(t.token_type, "DPoP");
    assert!(
        !t.refresh_token.is_empty(),
        "offline_access gives a refresh token"
    );
    let seen = server.introspect(&t.access_token).await;
    assert_eq!(seen["cnf"]["jkt"], t.jkt.as_str(), "{seen}");
    assert_eq!(seen["sub"], "alice", "{seen}");
    let refreshed = client
        .agent
        .refresh_access_token(pb::RefreshAccessTokenRequest {
            credential: by_name("web"),
            refresh_token: t.refresh_token.clone(),
            scopes: vec![],
        })
        .await
        .unwrap_or_else(|e| panic!("refresh: {e:?}"))
        .into_inner();
    assert_ne!(refreshed.access_token, t.access_token);
    assert_eq!(
        server.introspect(&refreshed.access_token).await["cnf"]["jkt"],
        t.jkt.as_str()
    );
    // A reused code is the AS's invalid_grant, quoted.
    let e = client
        .agent
        .exchange_authorization_code(pb::ExchangeAuthorizationCodeRequest {
            credential: by_name("web"),
            code: code.to_owned(),
            code_verifier: verifier.to_owned(),
            redirect_uri: redirect.to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(
        e.message().contains("credential \"web\"") && e.message().contains("invalid_grant"),
        "{}",
        e.message()
    );
    // The caller cannot set what the daemon sets.
    let mut bad = params.clone();
    bad.insert("dpop_jkt".into(), "x".into());
    let e = client
        .agent
        .push_authorization_request(pb::PushAuthorizationRequestRequest {
            credential: by_name("web"),
            parameters: bad,
            signed_request_object: false,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
}

/// FAPI off: client_secret_basic with a client_id and secret that need
/// form-urlencoding (RFC 6749 §2.3.1), client_secret_post, the password
/// grant; and a secret-only credential (no key, no certificate).
#[tokio::test(flavor = "multi_thread")]
async fn client_secrets_and_the_password_grant_outside_fapi() {
    let fx = Fixtures::new();
    let pki = Pki::new(fx.path());
    let tricky_id = "app:one%two+three";
    let tricky_secret = "s3cr:et%2B+plus~ ";
    let server = AuthServer::start(
        &pki,
        json!({
            "profile": "none",
            "clients": [
                {"client_id": tricky_id, "token_endpoint_auth_method": "client_secret_basic",
                 "client_secret": tricky_secret, "scope": "accounts",
                 "grant_types": ["client_credentials", "password"]},
                {"client_id": "poster", "token_endpoint_auth_method": "client_secret_post",
                 "client_secret": "post-secret-1", "scope": "accounts"},
            ],
        }),
    );
    let issuer = server.issuer();
    let basic_secret = fx.pass_file("basic-secret", tricky_secret);
    let post_secret = fx.pass_file("post-secret", "post-secret-1");
    let password = fx.pass_file("alice", "alice-password");
    let config = format!(
        "[credentials.basic]\nclient_id = {tricky_id:?}\nissuer = {issuer:?}\n\
         [credentials.basic.oauth]\nprofile = \"none\"\nca_file = {ca:?}\n\
         auth_method = \"client_secret_basic\"\nsender_constraint = \"none\"\n\
         client_secret = {{ source = \"file\", path = {basic_secret:?} }}\nscopes = [\"accounts\"]\n\
         username = \"alice\"\npassword = {{ source = \"file\", path = {password:?} }}\n\
         [credentials.post]\nclient_id = \"poster\"\nissuer = {issuer:?}\n\
         [credentials.post.oauth]\nprofile = \"none\"\nca_file = {ca:?}\n\
         auth_method = \"client_secret_post\"\nsender_constraint = \"none\"\n\
         client_secret = {{ source = \"file\", path = {post_secret:?} }}\n",
        ca = pki.ca()
    );
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    let basic = token(&mut client, "basic", &[]).await.unwrap();
    assert_eq!(basic.token_type, "Bearer");
    let seen = server.introspect(&basic.access_token).await;
    assert_eq!(seen["client_id"], tricky_id, "{seen}");
    let post = token(&mut client, "post", &["accounts"]).await.unwrap();
    assert_eq!(
        server.introspect(&post.access_token).await["client_id"],
        "poster"
    );
    let pw = client
        .agent
        .get_access_token(pb::GetAccessTokenRequest {
            credential: by_name("basic"),
            grant: pb::Grant::Password.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let seen = server.introspect(&pw.access_token).await;
    assert_eq!(seen["sub"], "alice", "{seen}");
    assert_eq!(seen["gty"], "password", "{seen}");
    // A secret-only credential signs nothing.
    let e = sign(&mut client, "basic").await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(
        e.message().contains("no key or certificate"),
        "{}",
        e.message()
    );
    // Lock wipes the client secret and the cached tokens: while locked no
    // token is handed out, and after Unlock the secret is fetched anew (a
    // changed one is what the server sees) and no cached token survives.
    client.admin.lock(pb::LockRequest {}).await.unwrap();
    let e = token(&mut client, "basic", &[]).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{}", e.message());
    assert!(e.message().contains("locked"), "{}", e.message());
    std::fs::write(&basic_secret, "not-the-secret").unwrap();
    client.admin.unlock(pb::UnlockRequest {}).await.unwrap();
    let e = token(&mut client, "basic", &[]).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{}", e.message());
    assert!(e.message().contains("invalid_client"), "{}", e.message());
    // No secret in the log.
    let log = daemon.stderr();
    assert!(!log.contains(tricky_secret.trim()) && !log.contains("post-secret-1"));
    assert!(!log.contains(&basic.access_token));
}

/// The cache: concurrent misses make one request; a token is refreshed
/// ahead of expiry and never served past it; another scope is another
/// token; force_refresh asks again.
#[tokio::test(flavor = "multi_thread")]
async fn the_cache_is_single_flight_keyed_on_parameters_and_refreshes_ahead() {
    let fx = Fixtures::new();
    let pki = Pki::new(fx.path());
    let c = fx.credential("cached", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let server = AuthServer::start(
        &pki,
        json!({
            "profile": "fapi2",
            "access_token_ttl": 4,
            "clients": [{"client_id": "cache-client", "certificates_pem": [pem(&c.cert)],
                         "scope": "accounts payments", "dpop_bound_access_tokens": true}],
        }),
    );
    let daemon = Daemon::start(&format!(
        "{}{}",
        c.toml("cache-client", &server.issuer(), ""),
        oauth_table(
            "cached",
            &pki,
            "scopes = [\"accounts\"]\nrefresh_margin_seconds = 30"
        )
    ))
    .await;
    let client = daemon.client().await;
    server.control("POST", "/counters/reset", Value::Null).await;
    let mut calls = Vec::new();
    for _ in 0..16 {
        let mut c = client.clone();
        calls.push(tokio::spawn(
            async move { token(&mut c, "cached", &[]).await },
        ));
    }
    let mut tokens = std::collections::BTreeSet::new();
    for call in calls {
        tokens.insert(call.await.unwrap().unwrap().access_token);
    }
    assert_eq!(tokens.len(), 1, "16 concurrent callers got one token");
    assert_eq!(total_requests(&server.counters().await), 1);

    let mut c2 = client.clone();
    let first = token(&mut c2, "cached", &[]).await.unwrap();
    assert!(first.cached);
    // Another scope is another token.
    let other = token(&mut c2, "cached", &["payments"]).await.unwrap();
    assert_ne!(other.access_token, first.access_token);
    assert_eq!(
        server.introspect(&other.access_token).await["scope"],
        "payments"
    );
    // Scope order and repeats make no difference.
    let again = token(&mut c2, "cached", &["payments", "payments"])
        .await
        .unwrap();
    assert_eq!(again.access_token, other.access_token);

    // Refreshed ahead of expiry: a new token before the old one's expiry,
    // and never the old one after it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let refreshed = loop {
        let t = token(&mut c2, "cached", &[]).await.unwrap();
        assert!(
            t.access_token == first.access_token || t.expires_at > first.expires_at,
            "a token other than the current or a newer one"
        );
        if fapi_agent::now_unix() >= first.expires_at {
            assert_ne!(t.access_token, first.access_token, "served past its expiry");
        }
        if t.access_token != first.access_token {
            break t;
        }
        assert!(Instant::now() < deadline, "never refreshed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(server.introspect(&refreshed.access_token).await["active"] == true);

    let before = total_requests(&server.counters().await);
    let forced = client
        .agent
        .clone()
        .get_access_token(pb::GetAccessTokenRequest {
            credential: by_name("cached"),
            force_refresh: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!forced.cached);
    assert!(total_requests(&server.counters().await) > before);
}

/// A token without expires_in is kept only for the configured default.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_without_expires_in_is_kept_briefly() {
    let fx = Fixtures::new();
    let pki = Pki::new(fx.path());
    let c = fx.credential("noexp", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let server = AuthServer::start(
        &pki,
        json!({
            "profile": "fapi2",
            "omit_expires_in": true,
            "clients": [{"client_id": "noexp", "certificates_pem": [pem(&c.cert)],
                         "dpop_bound_access_tokens": true}],
        }),
    );
    let daemon = Daemon::start(&format!(
        "{}{}",
        c.toml("noexp", &server.issuer(), ""),
        oauth_table("noexp", &pki, "default_token_ttl_seconds = 7")
    ))
    .await;
    let mut client = daemon.client().await;
    let before = fapi_agent::now_unix();
    let t = token(&mut client, "noexp", &[]).await.unwrap();
    assert!(
        t.expires_at >= before + 7 && t.expires_at <= fapi_agent::now_unix() + 7,
        "{} for a request at {before}",
        t.expires_at
    );
}

/// A server down at start, then up; slow; failing with 500s; answering
/// garbage; refusing the client: each a precise status, the daemon
/// recovers by itself, and other credentials keep signing throughout.
#[tokio::test(flavor = "multi_thread")]
async fn a_misbehaving_authorization_server_gets_precise_errors() {
    let fx = Fixtures::new();
    let pki = Pki::new(fx.path());
    let c = fx.credential("flaky", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let bystander = fx.credential("bystander", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let (port, mtls_port, control_port) = (free_port(), free_port(), free_port());
    let issuer = format!("https://127.0.0.1:{port}");
    let as_config = json!({
        "profile": "fapi2",
        "port": port, "mtls_port": mtls_port, "control_port": control_port,
        "clients": [{"client_id": "flaky", "certificates_pem": [pem(&c.cert)],
                     "dpop_bound_access_tokens": true}],
    });
    let daemon = Daemon::start(&format!(
        "{}{}{}",
        c.toml("flaky", &issuer, ""),
        oauth_table("flaky", &pki, "timeout_seconds = 3"),
        bystander.toml("bystander", ISSUER, ""),
    ))
    .await;
    let mut client = daemon.client().await;

    // Down: nothing listens on the issuer's port.
    let e = token(&mut client, "flaky", &[]).await.unwrap_err();
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");
    assert!(
        e.message().contains("credential \"flaky\""),
        "{}",
        e.message()
    );
    sign(&mut client, "bystander").await.unwrap();

    // Up: the next call works, no restart.
    let server = AuthServer::start(&pki, as_config);
    token(&mut client, "flaky", &[]).await.expect("recovered");

    let fresh = |client: &mut fapi_agent::client::Client| {
        let mut c = client.clone();
        async move {
            c.agent
                .get_access_token(pb::GetAccessTokenRequest {
                    credential: by_name("flaky"),
                    force_refresh: true,
                    ..Default::default()
                })
                .await
        }
    };
    // Slow past the timeout.
    server
        .fault(json!({"mode": "slow", "delay_ms": 6000}))
        .await;
    let started = Instant::now();
    let e = fresh(&mut client).await.unwrap_err();
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");
    assert!(e.message().contains("no answer within"), "{}", e.message());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // 500s: retried, then UNAVAILABLE naming the status.
    server.fault(json!({"mode": "http500"})).await;
    let e = fresh(&mut client).await.unwrap_err();
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");
    assert!(e.message().contains("HTTP 500"), "{}", e.message());
    // Garbage: not a token response.
    server.fault(json!({"mode": "garbage"})).await;
    let e = fresh(&mut client).await.unwrap_err();
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");
    assert!(
        e.message().contains("not a token response"),
        "{}",
        e.message()
    );
    // Refused: FAILED_PRECONDITION quoting the server's error.
    server.fault(json!({"mode": "invalid_client"})).await;
    let e = fresh(&mut client).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    assert!(
        e.message().contains("invalid_client")
            && e.message()
                .contains("client authentication failed (injected fault)"),
        "{}",
        e.message()
    );
    // One 500, then fine: the retry gets the token.
    server.fault(json!({"mode": "http500", "times": 1})).await;
    fresh(&mut client).await.expect("a retry after one 500");
    sign(&mut client, "bystander").await.unwrap();
    // The daemon is still whole.
    assert_eq!(
        client
            .admin
            .status(pb::StatusRequest {})
            .await
            .unwrap()
            .into_inner()
            .credentials
            .len(),
        2
    );
}

/// Metadata for another issuer is never used.
#[tokio::test(flavor = "multi_thread")]
async fn metadata_of_another_issuer_is_refused() {
    let fx = Fixtures::new();
    let pki = Pki::new(fx.path());
    let c = fx.credential("wrongiss", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let server = AuthServer::start(
        &pki,
        json!({"profile": "fapi2", "clients": [{"client_id": "x", "certificates_pem": [pem(&c.cert)]}]}),
    );
    // A trailing slash: a different issuer identifier.
    let daemon = Daemon::start(&format!(
        "{}{}",
        c.toml("x", &format!("{}/", server.issuer()), ""),
        oauth_table("wrongiss", &pki, "")
    ))
    .await;
    let mut client = daemon.client().await;
    let e = token(&mut client, "wrongiss", &[]).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    assert!(
        e.message()
            .contains("metadata for another issuer is never used"),
        "{}",
        e.message()
    );
}

/// SignDpopProof, checked by an independent verifier (PyJWT, RFC 9449
/// §4.3), and the settings FAPI forbids refused at load.
#[tokio::test(flavor = "multi_thread")]
async fn dpop_proofs_verify_independently_and_fapi_refuses_weak_settings() {
    let fx = Fixtures::new();
    let pki = Pki::new(fx.path());
    let c = fx.credential("prover", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let daemon = Daemon::start(&format!(
        "{}{}",
        c.toml("prover", ISSUER, ""),
        oauth_table(
            "prover",
            &pki,
            "token_endpoint = \"https://as.example/token\""
        )
    ))
    .await;
    let mut client = daemon.client().await;
    let mut jtis = std::collections::HashSet::new();
    for (token, nonce) in [(None, None), (Some("at-123.xyz"), Some("n-42"))] {
        let p = client
            .agent
            .sign_dpop_proof(pb::SignDpopProofRequest {
                credential: by_name("prover"),
                htm: "POST".into(),
                htu: "https://rs.example/payments?x=1#f".into(),
                access_token: token.unwrap_or_default().into(),
                nonce: nonce.unwrap_or_default().into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(p.htu, "https://rs.example/payments");
        assert!(jtis.insert(p.jti.clone()));
        let mut input = json!({
            "proof": p.proof, "htm": "POST", "htu": "https://rs.example/payments", "jkt": p.jkt,
        });
        if let Some(t) = token {
            input["access_token"] = json!(t);
        }
        if let Some(n) = nonce {
            input["nonce"] = json!(n);
        }
        let out = verify_signed("dpop", &input);
        assert_eq!(out["ok"], true, "{out}");
    }
    let e = client
        .agent
        .sign_dpop_proof(pb::SignDpopProofRequest {
            credential: by_name("prover"),
            htm: "post".into(),
            htu: "https://rs.example/".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");

    // FAPI 2.0 refuses client secrets, bearer tokens and the password grant.
    for (body, expected) in [
        (
            "auth_method = \"client_secret_basic\"\nclient_secret = { source = \"env\", variable = \"X\" }",
            "not allowed under the FAPI 2.0 profile",
        ),
        (
            "sender_constraint = \"none\"",
            "sender_constraint = \"none\" is not allowed",
        ),
        (
            "username = \"u\"\npassword = { source = \"env\", variable = \"X\" }",
            "password grant is not allowed",
        ),
    ] {
        let path = fx.path().join("weak.toml");
        std::fs::write(
            &path,
            format!(
                "{}{}",
                c.toml("prover", ISSUER, ""),
                oauth_table("prover", &pki, body)
            ),
        )
        .unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
            .args(["check", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(expected),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

const ISSUER: &str = "https://as.fapi-agent.test";
