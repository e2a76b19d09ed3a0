//! Access tokens through the Rust client: the real daemon
//! (`target/debug/fapi-agent`, with a `[credentials.web.oauth]` table)
//! against a real FAPI 2.0 authorization server (`tests/oidc/fapi_as.mjs`,
//! oidc-provider on loopback HTTPS), whose own introspection checks what the
//! daemon got; and `examples/call_resource.rs` against a real resource server
//! (`tests/rs/bank.mjs`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fapi_agent_client::{
    AccessToken, Client, ClientError, ExposeSecret, Options, SecretString, Selector, pb,
};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const REDIRECT: &str = "https://client.example/cb";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

fn daemon_bin() -> PathBuf {
    std::env::var_os("FAPI_AGENT_BIN")
        .map_or_else(|| target_dir().join("debug/fapi-agent"), PathBuf::from)
}

fn b64url_sha256(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(s.as_bytes()))
}

/// Runs `openssl` with whitespace-separated `args` in `dir`.
fn openssl(dir: &Path, args: &str) {
    let out = Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The authorization server, the daemon, and a connected client.
struct Fixture {
    /// Also holds the CA (`ca.crt`) and the certificate for 127.0.0.1 (`server.crt`, `server.key`).
    dir: tempfile::TempDir,
    _as: Proc,
    _daemon: Proc,
    control_url: String,
    sock: PathBuf,
    agent: Client,
}

impl Fixture {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // A CA, the AS's certificate for 127.0.0.1, the clients' keys.
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
        openssl(
            d,
            &format!("req -x509 {ec} -keyout ca.key -out ca.crt -subj /CN=test-CA -days 2"),
        );
        openssl(
            d,
            &format!("req {ec} -keyout server.key -out server.csr -subj /CN=127.0.0.1"),
        );
        std::fs::write(d.join("server.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
        openssl(
            d,
            "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
             -out server.crt -extfile server.ext",
        );
        for name in ["web", "bare"] {
            openssl(
                d,
                &format!("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out {name}.key"),
            );
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::Permissions::from_mode(0o600);
            std::fs::set_permissions(d.join(format!("{name}.key")), mode).unwrap();
            openssl(
                d,
                &format!(
                    "req -x509 -new -key {name}.key -subj /CN={name} -days 365 -out {name}.crt"
                ),
            );
        }
        let config = json!({
            "profile": "fapi2",
            "tls": {"cert": d.join("server.crt"), "key": d.join("server.key"), "client_ca": d.join("ca.crt")},
            "clients": [{
                "client_id": "web-app",
                "certificates_pem": [std::fs::read_to_string(d.join("web.crt")).unwrap()],
                "redirect_uris": [REDIRECT], "scope": "openid accounts offline_access",
                "grant_types": ["client_credentials", "authorization_code", "refresh_token"],
                "dpop_bound_access_tokens": true,
            }],
        });
        std::fs::write(d.join("as.json"), config.to_string()).unwrap();
        let log = d.join("as.log");
        let mut child = Command::new("node")
            .arg(root().join("tests/oidc/fapi_as.mjs"))
            .arg(d.join("as.json"))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("node");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let as_proc = Proc(child);
        assert!(
            !line.is_empty(),
            "the authorization server did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let ready: Value = serde_json::from_str(&line).unwrap();
        let issuer = ready["issuer"].as_str().unwrap();
        let f = |n: &str| d.join(n);
        let toml = format!(
            "[credentials.web]\nclient_id = \"web-app\"\nissuer = {issuer:?}\nkey = {:?}\n\
             certificate = {:?}\nallow_plaintext_key = true\n\
             [credentials.web.oauth]\nca_file = {:?}\nscopes = [\"accounts\"]\n\
             [credentials.bare]\nclient_id = \"bare-app\"\nissuer = {issuer:?}\nkey = {:?}\n\
             certificate = {:?}\nallow_plaintext_key = true\n",
            f("web.key"),
            f("web.crt"),
            f("ca.crt"),
            f("bare.key"),
            f("bare.crt"),
        );
        std::fs::write(d.join("agent.toml"), toml).unwrap();
        let sock = d.join("run/agent.sock");
        let daemon_log = d.join("daemon.log");
        let mut daemon = Command::new(daemon_bin())
            .arg("run")
            .arg("--config")
            .arg(d.join("agent.toml"))
            .arg("--socket")
            .arg(&sock)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&daemon_log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e} (build the daemon first)", daemon_bin().display()));
        let deadline = Instant::now() + Duration::from_secs(20);
        let quick = Options {
            retries: 0,
            ..Options::default()
        };
        // Until the daemon answers (bounded).
        let agent = loop {
            if let Some(status) = daemon.try_wait().unwrap() {
                panic!(
                    "daemon exited {status}: {}",
                    std::fs::read_to_string(&daemon_log).unwrap_or_default()
                );
            }
            if sock.exists() {
                if let Ok(mut c) = Client::connect(&sock, quick.clone()).await {
                    if c.credentials().await.is_ok() {
                        break Client::connect(&sock, Options::default()).await.unwrap();
                    }
                }
            }
            assert!(Instant::now() < deadline, "daemon did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        Fixture {
            dir,
            _as: as_proc,
            _daemon: Proc(daemon),
            control_url: ready["control_url"].as_str().unwrap().to_owned(),
            sock,
            agent,
        }
    }

    /// A call to the AS's control API.
    async fn control(&self, method: &str, path: &str, body: Value) -> Value {
        control_call(method, &format!("{}{path}", self.control_url), body).await
    }

    async fn introspect(&self, token: &AccessToken) -> Value {
        self.control(
            "POST",
            "/introspect",
            json!({ "token": token.access_token.expose_secret() }),
        )
        .await
    }

    async fn token_requests(&self) -> u64 {
        self.control("GET", "/counters", Value::Null).await["total_token_requests"]
            .as_u64()
            .unwrap()
    }
}

/// A JSON call to a plain-HTTP control API (the AS's or the bank's).
async fn control_call(method: &str, url: &str, body: Value) -> Value {
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let req = hyper::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(20), http.request(req))
        .await
        .expect("the control API answers")
        .expect("the control API is reachable");
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

fn failed_precondition(r: Result<impl std::fmt::Debug, ClientError>) -> String {
    match r {
        Err(ClientError::Status(s)) if s.code() == tonic::Code::FailedPrecondition => {
            s.message().to_owned()
        }
        other => panic!("expected FAILED_PRECONDITION, got {other:?}"),
    }
}

/// Verifies a DPoP proof with PyJWT against the JWK in its header and
/// returns (the header's RFC 7638 thumbprint, the claims).
fn verify_proof(proof: &str) -> (String, Value) {
    let script = "import base64,hashlib,json,sys,jwt\n\
        h=jwt.get_unverified_header(sys.argv[1])\n\
        assert h['typ']=='dpop+jwt' and h['alg']=='ES256', h\n\
        k=h['jwk']\n\
        t=base64.urlsafe_b64encode(hashlib.sha256(json.dumps({n:k[n] for n in ('crv','kty','x','y')},separators=(',',':')).encode()).digest()).rstrip(b'=').decode()\n\
        c=jwt.decode(sys.argv[1],jwt.PyJWK(k).key,algorithms=['ES256'])\n\
        print(json.dumps({'jkt':t,'claims':c}))";
    let out = Command::new("python3")
        .args(["-c", script, proof])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (v["jkt"].as_str().unwrap().to_owned(), v["claims"].clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_dpop_proofs_and_the_code_flow_against_a_fapi_as() {
    let mut fx = Fixture::start().await;
    let web = || Selector::name("web");

    // GetAccessToken: DPoP-bound, as the AS itself confirms.
    let t = fx.agent.get_access_token(web()).await.unwrap();
    assert_eq!(t.token_type, "DPoP");
    assert_eq!(t.jkt.len(), 43, "a thumbprint: {t:?}");
    assert!(t.x5t_s256.is_empty());
    assert_eq!(
        (t.scope.as_str(), t.credential.as_str()),
        ("accounts", "web")
    );
    assert!(!t.cached);
    assert!(t.refresh_token.is_none());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(t.expires_at > now);
    let seen = fx.introspect(&t).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["client_id"], "web-app", "{seen}");
    assert_eq!(seen["cnf"]["jkt"], t.jkt.as_str(), "{seen}");
    // Debug never shows the token.
    let debug = format!("{t:?} {t:#?}");
    assert!(!debug.contains(t.access_token.expose_secret()), "{debug}");
    assert!(
        debug.contains("REDACTED") && debug.contains("DPoP"),
        "{debug}"
    );
    assert_eq!(
        t.authorization_header().expose_secret(),
        format!("DPoP {}", t.access_token.expose_secret())
    );

    // The cache, then force_refresh.
    let before = fx.token_requests().await;
    let again = fx
        .agent
        .get_access_token(Selector::client_id("web-app"))
        .await
        .unwrap();
    assert!(again.cached);
    assert_eq!(
        again.access_token.expose_secret(),
        t.access_token.expose_secret()
    );
    assert_eq!(fx.token_requests().await, before);
    let fresh = fx
        .agent
        .get_access_token_with(pb::GetAccessTokenRequest {
            credential: Some(web().into()),
            scopes: vec!["accounts".into()],
            force_refresh: true,
            grant: pb::Grant::ClientCredentials.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!fresh.cached);
    assert_ne!(
        fresh.access_token.expose_secret(),
        t.access_token.expose_secret()
    );
    assert_eq!(fx.token_requests().await, before + 1);

    // SignDpopProof: ath, htu without query, nonce, the token's key.
    let p = fx
        .agent
        .sign_dpop_proof(
            web(),
            "GET",
            "https://rs.example/accounts?page=2#top",
            Some(&t.access_token),
            Some("server-nonce-1"),
        )
        .await
        .unwrap();
    assert_eq!(p.jkt, t.jkt);
    assert_eq!(p.htu, "https://rs.example/accounts");
    let (jkt, claims) = verify_proof(&p.proof);
    assert_eq!(jkt, t.jkt, "the proof key is the one the token is bound to");
    assert_eq!(claims["htm"], "GET");
    assert_eq!(claims["htu"], "https://rs.example/accounts");
    assert_eq!(
        claims["ath"],
        b64url_sha256(t.access_token.expose_secret()).as_str()
    );
    assert_eq!(claims["nonce"], "server-nonce-1");
    assert_eq!(claims["jti"], p.jti.as_str());
    let q = fx
        .agent
        .sign_dpop_proof(web(), "POST", "https://rs.example/payments", None, None)
        .await
        .unwrap();
    let (_, qc) = verify_proof(&q.proof);
    assert!(qc.get("ath").is_none() && qc.get("nonce").is_none(), "{qc}");
    assert_ne!(q.jti, p.jti);

    // PAR, the user's authorization, the code, a refresh.
    let verifier = URL_SAFE_NO_PAD.encode(Sha256::digest(format!("{now}-{}", std::process::id())));
    let challenge = b64url_sha256(&verifier);
    let pushed = fx
        .agent
        .push_authorization_request(
            web(),
            [
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("scope", "openid accounts offline_access"),
                ("state", "st-1"),
                ("nonce", "n-1"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
                ("prompt", "consent"),
            ],
            true,
        )
        .await
        .unwrap();
    assert!(
        pushed
            .request_uri
            .starts_with("urn:ietf:params:oauth:request_uri:"),
        "{pushed:?}"
    );
    assert!(pushed.expires_in > 0 && pushed.expires_in <= 600);
    assert_eq!(pushed.client_id, "web-app");
    let url = pushed
        .authorization_url()
        .expect("the AS publishes its endpoint");
    let query: Vec<(String, String)> =
        form_urlencoded::parse(url.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(
        query,
        [
            ("client_id".to_owned(), "web-app".to_owned()),
            ("request_uri".to_owned(), pushed.request_uri.clone())
        ]
    );
    let authorized = fx
        .control("POST", "/authorize", json!({ "url": url }))
        .await;
    assert_eq!(authorized["state"], "st-1", "{authorized}");
    let code = authorized["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{authorized}"));
    let user = fx
        .agent
        .exchange_authorization_code(web(), code, &verifier, REDIRECT)
        .await
        .unwrap();
    assert_eq!(user.token_type, "DPoP");
    assert!(!user.cached);
    let refresh = user
        .refresh_token
        .clone()
        .expect("offline_access gives a refresh token");
    let seen = fx.introspect(&user).await;
    assert_eq!(seen["sub"], "alice", "{seen}");
    assert_eq!(seen["cnf"]["jkt"], user.jkt.as_str(), "{seen}");
    let debug = format!("{user:?}");
    assert!(
        !debug.contains(refresh.expose_secret())
            && !debug.contains(user.access_token.expose_secret()),
        "{debug}"
    );
    let refreshed = fx
        .agent
        .refresh_access_token(web(), &refresh, Vec::<String>::new())
        .await
        .unwrap();
    assert_ne!(
        refreshed.access_token.expose_secret(),
        user.access_token.expose_secret()
    );
    let seen = fx.introspect(&refreshed).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["cnf"]["jkt"], user.jkt.as_str(), "{seen}");
    // A replayed code is the AS's invalid_grant, quoted.
    let m = failed_precondition(
        fx.agent
            .exchange_authorization_code(web(), code, &verifier, REDIRECT)
            .await,
    );
    assert!(
        m.contains("credential \"web\"") && m.contains("invalid_grant"),
        "{m}"
    );

    // A credential without an oauth table.
    let bare = || Selector::name("bare");
    let want = "credential \"bare\" has no [credentials.bare.oauth] table";
    let m = failed_precondition(fx.agent.get_access_token(bare()).await);
    assert!(m.contains(want), "{m}");
    let m = failed_precondition(
        fx.agent
            .sign_dpop_proof(bare(), "GET", "https://rs.example/", None, None)
            .await,
    );
    assert!(m.contains(want), "{m}");
    let m = failed_precondition(
        fx.agent
            .refresh_access_token(bare(), &SecretString::from("rt"), ["accounts"])
            .await,
    );
    assert!(m.contains(want), "{m}");
}

/// `examples/call_resource.rs` (built by `cargo build --examples`) against the
/// bank: DPoP-bound tokens introspected at the AS, nonces required, no client
/// certificate; TLS with the AS's certificate for 127.0.0.1 (the test CA).
#[tokio::test(flavor = "multi_thread")]
async fn example_calls_the_bank_with_a_dpop_bound_token_after_one_nonce_challenge() {
    let mut fx = Fixture::start().await;
    let d = fx.dir.path().to_owned();
    let config = json!({
        "port": 0, "control_port": 0,
        "tls": {"cert": d.join("server.crt"), "key": d.join("server.key")},
        "require_client_cert": false, "token_binding": "dpop", "require_dpop_nonce": true,
        "introspection": {"control_url": fx.control_url},
    });
    std::fs::write(d.join("bank.json"), config.to_string()).unwrap();
    let log = d.join("bank.log");
    let mut child = Command::new("node")
        .arg(root().join("tests/rs/bank.mjs"))
        .arg(d.join("bank.json"))
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("node");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _bank = Proc(child);
    let bank_log = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!line.is_empty(), "the bank did not start: {}", bank_log());
    let bank: Value = serde_json::from_str(&line).unwrap();

    let example = target_dir().join("debug/examples/call_resource");
    let url = format!("{}/accounts", bank["url"].as_str().unwrap());
    let out = tokio::process::Command::new(&example)
        .args(["--credential", "web", "--url", &url])
        .env("FAPI_AGENT_SOCKET", &fx.sock)
        .env("FAPI_RESOURCE_CA_FILE", d.join("ca.crt"))
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), out)
        .await
        .expect("the example finishes")
        .unwrap_or_else(|e| panic!("{}: {e} (cargo build --examples)", example.display()));
    assert!(
        out.status.success(),
        "{}\nbank: {}",
        String::from_utf8_lossy(&out.stderr),
        bank_log()
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        answer["accounts"].as_array().is_some_and(|a| !a.is_empty()),
        "{answer}"
    );
    let t = fx
        .agent
        .get_access_token(Selector::name("web"))
        .await
        .unwrap();
    assert_eq!(
        answer["seen"]["jkt"],
        t.jkt.as_str(),
        "the bank saw the key the token is bound to: {answer}"
    );
    assert_eq!(answer["seen"]["client_id"], "web-app", "{answer}");
    assert_eq!(answer["seen"]["token_binding"], "dpop", "{answer}");
    let counters = control_call(
        "GET",
        &format!("{}/counters", bank["control_url"].as_str().unwrap()),
        Value::Null,
    )
    .await;
    assert_eq!(counters["nonce_challenges"], 1, "{counters}");
    assert_eq!(counters["requests"], 2, "{counters}");
    assert_eq!(
        counters["refused"],
        json!({"dpop_nonce_missing": 1}),
        "{counters}"
    );
}

/// The generated messages that carry tokens, codes and verifiers print
/// them redacted, as does the client's own [`AccessToken`].
#[test]
fn secrets_in_messages_print_redacted() {
    let raw = pb::AccessToken {
        access_token: "at-SECRET-1".into(),
        token_type: "DPoP".into(),
        expires_at: 1_900_000_000,
        refresh_token: "rt-SECRET-2".into(),
        jkt: "thumb".into(),
        ..Default::default()
    };
    let shown = format!("{raw:?}");
    assert!(
        !shown.contains("SECRET") && shown.contains("1900000000"),
        "{shown}"
    );
    let token = AccessToken::from(raw);
    assert_eq!(token.access_token.expose_secret(), "at-SECRET-1");
    assert_eq!(
        token.refresh_token.as_ref().unwrap().expose_secret(),
        "rt-SECRET-2"
    );
    let shown = format!("{token:?} {token:#?}");
    assert!(
        !shown.contains("SECRET") && shown.contains("thumb"),
        "{shown}"
    );
    let requests = [
        format!(
            "{:?}",
            pb::ExchangeAuthorizationCodeRequest {
                code: "code-SECRET".into(),
                code_verifier: "verifier-SECRET".into(),
                ..Default::default()
            }
        ),
        format!(
            "{:?}",
            pb::RefreshAccessTokenRequest {
                refresh_token: "rt-SECRET".into(),
                ..Default::default()
            }
        ),
        format!(
            "{:?}",
            pb::SignDpopProofRequest {
                access_token: "at-SECRET".into(),
                htu: "https://rs.example/".into(),
                ..Default::default()
            }
        ),
    ];
    for shown in requests {
        assert!(
            !shown.contains("SECRET") && shown.contains("REDACTED"),
            "{shown}"
        );
    }
    // The authorization URL is form-encoded.
    let pushed = pb::PushAuthorizationRequestResponse {
        request_uri: "urn:ietf:params:oauth:request_uri:a b".into(),
        expires_in: 60,
        authorization_endpoint: "https://as.example/auth".into(),
        client_id: "web app".into(),
    };
    assert_eq!(
        pushed.authorization_url().unwrap(),
        "https://as.example/auth?client_id=web%20app&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aa%20b"
    );
    assert_eq!(
        pb::PushAuthorizationRequestResponse::default().authorization_url(),
        None
    );
}
