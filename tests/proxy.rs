//! The egress proxy against real servers on loopback: curl as the app on
//! the proxy's Unix socket (and its TCP listener), the daemon sending on
//! over mutual TLS with a DPoP-bound token from oidc-provider, and the
//! test bank (tests/rs/bank.mjs) checking the certificate, the proof
//! (RFC 9449 §4.3, `ath`), its nonce and the token's binding by
//! introspection at the authorization server.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::bank::{Answer, Bank, curl};
use common::oauth::{AuthServer, Pki, free_port};
use common::*;
use fapi_agent::service::pb;
use serde_json::{Value, json};

fn pem(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// The app token of the TCP listener's one app.
const TCP_TOKEN: &str = "tcp-app-token-5b2c0e1f9a7d";

/// A daemon with a proxy in front of a bank, and the servers behind it.
struct Setup {
    fx: Fixtures,
    pki: Pki,
    auth: AuthServer,
    auth_config: Value,
    bank: Bank,
    daemon: Daemon,
    proxy: PathBuf,
    audit: PathBuf,
    tcp: u16,
    /// The credential's second key and certificate (for a rotation).
    next: Cred,
}

impl Setup {
    async fn new() -> Self {
        let fx = Fixtures::new();
        let pki = Pki::new(fx.path());
        let issue = |name: &str| {
            let plain = fx.plain_key(name, KeyType::P256);
            let cert = pki.issue_for(name, &plain, &format!("/O=fapi-agent test/CN={name}"));
            fx.credential_with_cert(name, KeyType::P256, KeyFormat::Pkcs8Pbkdf2, plain, cert)
        };
        let (acme, next) = (issue("acme"), issue("acme-next"));
        let auth_config = json!({
            "profile": "fapi2",
            // Fixed ports: the server can be restarted on the same issuer.
            "port": free_port(), "mtls_port": free_port(), "control_port": free_port(),
            "clients": [
                {"client_id": "acme", "certificates_pem": [pem(&acme.cert), pem(&next.cert)],
                 "scope": "accounts payments", "dpop_bound_access_tokens": true},
            ],
        });
        let auth = AuthServer::start(&pki, auth_config.clone());
        let bank = Bank::start(
            &pki,
            &auth,
            json!({"token_binding": "dpop", "require_dpop_nonce": true, "http2": true}),
        );
        let audit = fx.path().join("audit.jsonl");
        let tcp = free_port();
        let token_file = fx.pass_file("tcp-app", TCP_TOKEN);
        let mut s = Self {
            daemon: Daemon::start(&Self::config(
                &acme,
                &auth,
                &bank,
                &pki,
                &audit,
                tcp,
                &token_file,
            ))
            .await,
            proxy: PathBuf::new(),
            fx,
            pki,
            auth,
            auth_config,
            bank,
            audit,
            tcp,
            next,
        };
        s.proxy = s.daemon.socket.with_file_name("proxy.sock");
        assert!(s.proxy.exists(), "the proxy socket beside the gRPC one");
        s
    }

    fn config(
        cred: &Cred,
        auth: &AuthServer,
        bank: &Bank,
        pki: &Pki,
        audit: &Path,
        tcp: u16,
        token_file: &Path,
    ) -> String {
        let metrics = audit.with_file_name("metrics.sock");
        let upstream = |name: &str| {
            format!(
                "[upstreams.{name}]\nbase_url = {:?}\ncredential = \"acme\"\ntoken = \"dpop\"\n\
                 client_certificate = true\nca_file = {:?}\nscopes = [\"accounts\"]\n\
                 add_headers = {{ x-bank-tenant = \"acme\" }}\n",
                bank.url(),
                pki.ca()
            )
        };
        format!(
            "[agent]\naudit_log = {audit:?}\nmetrics = {{ socket = {metrics:?} }}\n{}[credentials.acme.oauth]\nca_file = {:?}\n\
             scopes = [\"accounts\"]\n\
             [proxy.tcp]\nlisten = \"127.0.0.1:{tcp}\"\n\
             [proxy.tcp.apps.batch]\ntoken = {{ source = \"file\", path = {token_file:?} }}\n\
             upstreams = [\"bank\"]\n\
             {}{}[[upstreams.guarded.allow]]\nuids = [4242]\noperations = [\"proxy\"]\n",
            cred.toml("acme", &auth.issuer(), ""),
            pki.ca(),
            upstream("bank"),
            upstream("guarded"),
        )
    }

    /// curl through the proxy's Unix socket.
    async fn get(&self, url: &str, extra: &[&str]) -> Answer {
        let mut args = extra.to_vec();
        args.push(url);
        curl(Some(&self.proxy), &args, None).await
    }

    /// The proxy's audit records (waits until at least `n` are written:
    /// a record is written when its response ends, flushed each second).
    async fn proxy_audit(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let records: Vec<Value> = std::fs::read_to_string(&self.audit)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|r| r["op"] == "proxy")
                .collect();
            if records.len() >= n {
                return records;
            }
            assert!(
                Instant::now() < deadline,
                "{} proxy audit records, wanted {n}",
                records.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn credential(&self) -> pb::Credential {
        facts(&mut self.daemon.client().await, "acme").await
    }

    async fn dpop_jkt(&self) -> String {
        let status = self
            .daemon
            .client()
            .await
            .admin
            .status(pb::StatusRequest {})
            .await
            .unwrap()
            .into_inner();
        let acme = status
            .credentials
            .iter()
            .find(|c| c.name == "acme")
            .unwrap();
        acme.token_status.as_ref().unwrap().dpop_jkt.clone()
    }

    /// Points the credential at its next key and certificate and reloads.
    async fn rotate(&self) {
        let text = std::fs::read_to_string(self.daemon.config_path()).unwrap();
        let current = self.fx.path().join("acme.key").display().to_string();
        assert!(text.contains(&current), "{text}");
        let rotated = text
            .replace(&current, &self.next.key.display().to_string())
            .replace(
                &self.fx.path().join("acme.crt").display().to_string(),
                &self.next.cert.display().to_string(),
            )
            .replace(
                &self.fx.path().join("acme.pass").display().to_string(),
                &self.next.pass_file.display().to_string(),
            );
        assert_ne!(rotated, text);
        self.daemon.rewrite_config(&rotated);
        let report = self
            .daemon
            .client()
            .await
            .admin
            .reload(pb::ReloadRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(report.updated, vec!["acme".to_owned()], "{report:?}");
    }
}

/// Peak and current resident memory of a process, in bytes.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap()
            * 1024
    };
    (kb("VmHWM:"), kb("VmRSS:"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    openssl::sha::sha256(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// GET and POST through the Unix socket: the bank sees the credential's
/// certificate, a token bound to the daemon's DPoP key, a proof it
/// accepts after one nonce challenge, the app's interaction id or a
/// fresh one; the bank's own 4xx passes through untouched; 100 MB go up
/// and come down streamed, without the daemon holding them; each request
/// is one audit record without headers or query.
#[tokio::test(flavor = "multi_thread")]
async fn requests_go_out_with_mtls_a_dpop_bound_token_and_the_interaction_id() {
    let s = Setup::new().await;
    let facts = s.credential().await;

    let a = s
        .get(
            "http://bank/accounts?from=2026-01-01",
            &[
                "-H",
                "x-fapi-interaction-id: 6c1e2b7e-0f5d-4a36-9f1c-3b8f7e2a9d10",
            ],
        )
        .await;
    assert_eq!(
        a.status,
        200,
        "{}\n{}",
        String::from_utf8_lossy(&a.body),
        s.bank.log()
    );
    let seen = &a.json()["seen"];
    assert_eq!(seen["x5t#S256"], facts.x5t_s256.as_str(), "{seen}");
    assert_eq!(seen["client_id"], "acme", "{seen}");
    assert_eq!(seen["token_binding"], "dpop", "{seen}");
    assert_eq!(seen["jkt"], s.dpop_jkt().await.as_str(), "{seen}");
    assert_eq!(
        seen["interaction_id"],
        "6c1e2b7e-0f5d-4a36-9f1c-3b8f7e2a9d10"
    );
    assert_eq!(
        a.header("x-fapi-interaction-id"),
        Some("6c1e2b7e-0f5d-4a36-9f1c-3b8f7e2a9d10")
    );
    let counters = s.bank.counters().await;
    assert_eq!(
        counters["nonce_challenges"], 1,
        "one challenge, answered: {counters}"
    );
    assert_eq!(counters["requests"], 2, "{counters}");

    // By path prefix; a fresh interaction id when the app sends none; the
    // nonce now known, no challenge.
    let a = s.get("http://localhost/bank/accounts", &[]).await;
    assert_eq!(a.status, 200);
    let id = a
        .header("x-fapi-interaction-id")
        .expect("an interaction id")
        .to_owned();
    assert_eq!(a.json()["seen"]["interaction_id"], id.as_str());
    assert_eq!(a.json()["seen"]["interaction_id_generated"], false);
    assert_eq!(s.bank.counters().await["nonce_challenges"], 1);

    // POST with a body.
    let payment = json!({"amount": "10.00", "currency": "EUR"}).to_string();
    let a = s
        .get(
            "http://bank/payments",
            &[
                "-X",
                "POST",
                "-H",
                "content-type: application/json",
                "--data-binary",
                &payment,
            ],
        )
        .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(
        a.json()["received_sha256"],
        sha256_hex(payment.as_bytes()).as_str()
    );

    // The bank's own errors pass through as they are.
    let a = s.get("http://bank/status/409", &[]).await;
    assert_eq!(a.status, 409);
    assert_eq!(a.json()["status"], 409);
    assert!(a.header("x-bank-refusal").is_none());

    // 100 MB up (streamed: larger than the replay buffer) and down.
    let (_, rss_before) = memory(s.daemon.pid());
    let big = s.fx.path().join("big.bin");
    let mut data = vec![0u8; 100 << 20];
    openssl::rand::rand_bytes(&mut data[..1 << 20]).unwrap();
    for i in 1..100 {
        data.copy_within(..1 << 20, i << 20);
        data[i << 20] = i as u8;
    }
    std::fs::write(&big, &data).unwrap();
    let want = sha256_hex(&data);
    drop(data);
    let a = s
        .get("http://bank/upload", &["-T", big.to_str().unwrap()])
        .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.json()["sha256"], want.as_str());
    assert_eq!(a.json()["bytes"], 100 << 20);
    let down = s.fx.path().join("down.bin");
    let a = curl(
        Some(&s.proxy),
        &["http://bank/download?bytes=104857600&seed=proxy"],
        Some(&down),
    )
    .await;
    assert_eq!(a.status, 200);
    let got = std::fs::read(&down).unwrap();
    assert_eq!(got.len(), 100 << 20);
    assert_eq!(
        Some(sha256_hex(&got).as_str()),
        a.header("x-content-sha256")
    );
    drop(got);
    let (peak, _) = memory(s.daemon.pid());
    assert!(
        peak < rss_before + (40 << 20),
        "200 MB through the proxy raised its peak memory from {rss_before} to {peak} bytes"
    );

    // One audit record each, never a header, the query or a token.
    let records = s.proxy_audit(6).await;
    let first = &records[0];
    assert_eq!(first["outcome"], "ok", "{first}");
    assert_eq!(first["credential"], "acme");
    assert_eq!(first["http"]["upstream"], "bank");
    assert_eq!(first["http"]["method"], "GET");
    assert_eq!(first["http"]["path"], "/accounts");
    assert_eq!(first["http"]["status"], 200);
    assert_eq!(
        first["http"]["interaction_id"],
        "6c1e2b7e-0f5d-4a36-9f1c-3b8f7e2a9d10"
    );
    assert!(first["caller"]["uid"].is_number(), "{first}");
    let upload = records
        .iter()
        .find(|r| r["http"]["path"] == "/upload")
        .unwrap();
    assert_eq!(upload["http"]["bytes_in"], 100 << 20, "{upload}");
    let download = records
        .iter()
        .find(|r| r["http"]["path"] == "/download")
        .unwrap();
    assert_eq!(download["http"]["bytes_out"], 100 << 20, "{download}");
    let audit = std::fs::read_to_string(&s.audit).unwrap();
    assert!(!audit.contains("from=2026") && !audit.to_lowercase().contains("authorization"));

    // Metrics per upstream.
    let m = curl(
        None,
        &[
            "--unix-socket",
            s.fx.path().join("metrics.sock").to_str().unwrap(),
            "http://localhost/metrics",
        ],
        None,
    )
    .await;
    let text = String::from_utf8_lossy(&m.body);
    assert!(
        text.contains("fapi_agent_proxy_requests_total{upstream=\"bank\",status=\"200\"} 4"),
        "{text}"
    );
    assert!(
        text.contains("fapi_agent_proxy_retries_total{upstream=\"bank\",reason=\"dpop_nonce\"} 1"),
        "{text}"
    );
    // The token the proxy used (the cached one) is in no log, audit record
    // or answer.
    let token = s
        .daemon
        .client()
        .await
        .agent
        .get_access_token(pb::GetAccessTokenRequest {
            credential: by_name("acme"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(token.cached, "the proxy's token");
    assert!(!s.daemon.stderr().contains(&token.access_token));
    assert!(!audit.contains(&token.access_token));
}

/// Only configured upstreams, through allowed callers: every refusal is a
/// clear 4xx naming the reason, is audited, and the bank never sees it.
#[tokio::test(flavor = "multi_thread")]
async fn only_configured_upstreams_and_allowed_callers_pass() {
    let s = Setup::new().await;
    let refused = |a: &Answer, status: u16, error: &str| {
        assert_eq!(a.status, status, "{}", String::from_utf8_lossy(&a.body));
        let body = a.json();
        assert_eq!(body["error"], error, "{body}");
        assert!(!body["message"].as_str().unwrap().is_empty());
    };
    refused(&s.get("http://other/x", &[]).await, 404, "unknown_upstream");
    refused(
        &s.get("http://localhost/", &[]).await,
        404,
        "unknown_upstream",
    );
    refused(
        &s.get(
            "http://bank/",
            &["--request-target", "http://evil.example/steal"],
        )
        .await,
        403,
        "not_an_upstream",
    );
    refused(
        &s.get(
            "http://bank/",
            &["-X", "CONNECT", "--request-target", "evil.example:443"],
        )
        .await,
        405,
        "connect_refused",
    );
    refused(
        &s.get("http://bank/accounts/../../admin", &["--path-as-is"])
            .await,
        400,
        "bad_path",
    );
    refused(
        &s.get("http://bank/accounts/%2e%2e/admin", &[]).await,
        400,
        "bad_path",
    );
    refused(&s.get("http://bank/a%2Fb", &[]).await, 400, "bad_path");
    for header in ["Authorization: Bearer mine", "DPoP: x.y.z"] {
        let a = s.get("http://bank/accounts", &["-H", header]).await;
        refused(&a, 400, "header_not_allowed");
    }
    // The guarded upstream's rules name uid 4242 only.
    let a = s.get("http://guarded/accounts", &[]).await;
    refused(&a, 403, "permission_denied");
    assert!(
        a.json()["message"]
            .as_str()
            .unwrap()
            .contains("upstream \"guarded\"")
    );
    assert_eq!(
        s.bank.counters().await["requests"],
        0,
        "nothing reached the bank"
    );

    // The TCP listener: nothing without the app token; the token's app
    // reaches its upstreams only.
    let tcp = format!("http://127.0.0.1:{}/bank/accounts", s.tcp);
    refused(&curl(None, &[&tcp], None).await, 401, "app_token_required");
    refused(
        &curl(None, &["-H", "x-fapi-agent-token: wrong", &tcp], None).await,
        401,
        "app_token_required",
    );
    let with_token = format!("x-fapi-agent-token: {TCP_TOKEN}");
    let guarded = format!("http://127.0.0.1:{}/guarded/accounts", s.tcp);
    refused(
        &curl(None, &["-H", &with_token, &guarded], None).await,
        403,
        "permission_denied",
    );
    let a = curl(None, &["-H", &with_token, &tcp], None).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(
        s.bank.counters().await["by_path"]["/accounts"],
        2,
        "one nonce challenge, one request"
    );

    // Ten refusals on the socket, three on the TCP listener, one success.
    let records = s.proxy_audit(14).await;
    let denied = records.iter().filter(|r| r["outcome"] == "denied").count();
    assert_eq!(denied, 13, "{records:#?}");
    let tcp_ok = records.iter().find(|r| r["outcome"] == "ok").unwrap();
    assert_eq!(tcp_ok["detail"], "tcp app batch", "{tcp_ok}");
    // The token is never logged.
    assert!(!s.daemon.stderr().contains(TCP_TOKEN));
    assert!(
        !std::fs::read_to_string(&s.audit)
            .unwrap()
            .contains(TCP_TOKEN)
    );

    // Locked, nothing is proxied; unlocked, it is again.
    let mut admin = s.daemon.client().await;
    admin.admin.lock(pb::LockRequest {}).await.unwrap();
    let a = s.get("http://bank/accounts", &[]).await;
    refused(&a, 503, "token_unavailable");
    assert!(
        a.json()["message"].as_str().unwrap().contains("locked"),
        "{}",
        a.json()
    );
    admin.admin.unlock(pb::UnlockRequest {}).await.unwrap();
    assert_eq!(s.get("http://bank/accounts", &[]).await.status, 200);
}

/// A token the resource server no longer accepts (the authorization server
/// restarted and forgot it) is refreshed once and an idempotent request
/// sent again; a POST is not sent again. A rotated credential's
/// certificate is presented on new connections from the reload on.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_token_is_refreshed_and_a_rotated_credential_takes_over() {
    let mut s = Setup::new().await;
    assert_eq!(s.get("http://bank/accounts", &[]).await.status, 200);
    let before = s.auth.counters().await;
    assert_eq!(before["total_token_requests"], 1, "{before}");
    s.auth.stop();
    s.auth = AuthServer::start(&s.pki, s.auth_config.clone());

    // A POST is not repeated: the bank's 401 comes back, the next request
    // has a new token.
    let a = s
        .get(
            "http://bank/payments",
            &[
                "-X",
                "POST",
                "-H",
                "content-type: application/json",
                "--data-binary",
                "{}",
            ],
        )
        .await;
    assert_eq!(a.status, 401, "{}", String::from_utf8_lossy(&a.body));
    assert!(
        a.header("www-authenticate")
            .unwrap()
            .contains("invalid_token")
    );
    let a = s.get("http://bank/accounts", &[]).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(s.auth.counters().await["total_token_requests"], 1);

    // A GET is sent again with a new token.
    s.auth.stop();
    s.auth = AuthServer::start(&s.pki, s.auth_config.clone());
    let a = s.get("http://bank/accounts", &[]).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(s.auth.counters().await["total_token_requests"], 1);
    let refused = s.bank.counters().await["refused"].clone();
    assert_eq!(refused["token_inactive"], 2, "{refused}");

    // Rotation: the next request presents the new certificate.
    let old = s.credential().await.x5t_s256;
    s.rotate().await;
    let new = s.credential().await.x5t_s256;
    assert_ne!(old, new);
    let a = s.get("http://bank/accounts", &[]).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.json()["seen"]["x5t#S256"], new.as_str());
    let certs = s.bank.counters().await["client_certs"].clone();
    assert_eq!(certs, json!([old, new]));
}

/// Four apps send requests for ten seconds on their own connections while
/// the credential rotates: every request succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn four_apps_under_load_through_a_rotation_lose_no_request() {
    let s = Setup::new().await;
    let stop_at = Instant::now() + Duration::from_secs(10);
    let apps: Vec<_> = (0..4)
        .map(|app| {
            let proxy = s.proxy.clone();
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0u32, Vec::new());
                let mut sender = connect(&proxy).await;
                while Instant::now() < stop_at {
                    let path = if ok % 3 == 2 {
                        "/payments"
                    } else {
                        "/accounts"
                    };
                    match request(&mut sender, path, app).await {
                        Ok(200 | 201) => ok += 1,
                        Ok(status) => failed.push(format!("{path}: {status}")),
                        Err(e) => failed.push(format!("{path}: {e}")),
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    // Rotate once every app has been served a few times.
    let deadline = Instant::now() + Duration::from_secs(8);
    while s.bank.counters().await["requests"].as_u64().unwrap() < 20 {
        assert!(Instant::now() < deadline, "the apps are not being served");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.rotate().await;
    eprintln!("rotated at {:?}", std::time::SystemTime::now());
    let mut total = 0;
    for app in apps {
        let (ok, failed) = app.await.unwrap();
        assert!(
            failed.is_empty(),
            "failed requests: {failed:?}\n{}\nbank:\n{}",
            s.daemon
                .stderr()
                .lines()
                .filter(|l| l.contains("proxy request"))
                .collect::<Vec<_>>()
                .join("\n"),
            s.bank
                .log()
                .lines()
                .filter(|l| !l.starts_with("bank: GET") && !l.starts_with("bank: POST"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(ok > 0);
        total += ok;
    }
    let certs = s.bank.counters().await["client_certs"].clone();
    assert_eq!(
        certs.as_array().unwrap().len(),
        2,
        "both certificates were presented: {certs}"
    );
    eprintln!("{total} requests, none failed");
}

type Sender = hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>;

/// A keep-alive HTTP/1.1 connection to the proxy socket.
async fn connect(socket: &Path) -> Sender {
    let stream = tokio::net::UnixStream::connect(socket).await.unwrap();
    let (sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    sender
}

async fn request(sender: &mut Sender, path: &str, app: usize) -> Result<u16, String> {
    let post = path == "/payments";
    let req = hyper::Request::builder()
        .method(if post { "POST" } else { "GET" })
        .uri(path)
        .header("host", "bank")
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(if post {
            format!("{{\"app\": {app}}}")
        } else {
            String::new()
        })))
        .unwrap();
    sender.ready().await.map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(Duration::from_secs(30), sender.send_request(req))
        .await
        .map_err(|_| "no answer in 30 s".to_owned())?
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    http_body_util::BodyExt::collect(resp.into_body())
        .await
        .map_err(|e| e.to_string())?;
    Ok(status)
}

/// A certificate-bound token (RFC 8705 §3), the CA API Gateway style: the
/// client authenticates to the authorization server with mutual TLS, and
/// the token is usable only over a TLS connection made with the same key,
/// which only the daemon holds. The app still sends plain HTTP.
#[tokio::test(flavor = "multi_thread")]
async fn certificate_bound_tokens_go_over_the_credentials_own_tls() {
    let fx = Fixtures::new();
    let pki = Pki::new(fx.path());
    let plain = fx.plain_key("gw", KeyType::P256);
    let cert = pki.issue_for("gw", &plain, "/O=fapi-agent test/CN=gw-client");
    let gw = fx.credential_with_cert("gw", KeyType::P256, KeyFormat::Pkcs8Pbkdf2, plain, cert);
    let auth = AuthServer::start(
        &pki,
        json!({
            "profile": "fapi2",
            "clients": [{"client_id": "gw-client", "token_endpoint_auth_method": "tls_client_auth",
                         "tls_client_auth_subject_dn": "CN=gw-client,O=fapi-agent test",
                         "tls_client_certificate_bound_access_tokens": true, "scope": "accounts"}],
        }),
    );
    let bank = Bank::start(
        &pki,
        &auth,
        json!({"token_binding": "mtls", "http2": false}),
    );
    let config = format!(
        "{}[credentials.gw.oauth]\nca_file = {ca:?}\nauth_method = \"tls_client_auth\"\n\
         sender_constraint = \"mtls\"\nscopes = [\"accounts\"]\n\
         [proxy]\n[upstreams.gateway]\nbase_url = \"{}/\"\ncredential = \"gw\"\ntoken = \"mtls\"\n\
         ca_file = {ca:?}\n",
        gw.toml("gw-client", &auth.issuer(), ""),
        bank.url(),
        ca = pki.ca(),
    );
    let daemon = Daemon::start(&config).await;
    let proxy = daemon.socket.with_file_name("proxy.sock");
    let a = curl(Some(&proxy), &["http://gateway/accounts"], None).await;
    assert_eq!(
        a.status,
        200,
        "{}\n{}",
        String::from_utf8_lossy(&a.body),
        bank.log()
    );
    let seen = &a.json()["seen"];
    assert_eq!(seen["token_binding"], "mtls", "{seen}");
    assert_eq!(seen["client_id"], "gw-client", "{seen}");
    assert_eq!(seen["http_version"], "1.1", "{seen}");
    let facts = facts(&mut daemon.client().await, "gw").await;
    assert_eq!(seen["x5t#S256"], facts.x5t_s256.as_str());
    // The app never gets the token: the gRPC API refuses it to a caller
    // that may not export the key (this one may not).
    let e = daemon
        .client()
        .await
        .agent
        .get_access_token(pb::GetAccessTokenRequest {
            credential: by_name("gw"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(e.message().contains("egress proxy"), "{}", e.message());
    // A config whose token kind does not fit the credential is refused at
    // load, naming both.
    let bad = config.replace("token = \"mtls\"", "token = \"dpop\"");
    let path = fx.path().join("bad.toml");
    std::fs::write(&path, bad).unwrap();
    let out = daemon.cli(&["check", "--config", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("token = Dpop") && err.contains("sender_constraint"),
        "{err}"
    );
}

/// Upstream configs the daemon refuses at load, each with the reason.
#[test]
fn bad_upstream_configs_are_refused_at_load() {
    let fx = Fixtures::new();
    let cred = fx.credential("acme", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let base = cred.toml("acme", "https://as.example", "");
    let upstream = "[upstreams.bank]\nbase_url = \"https://bank.example/v1\"\ncredential = \"acme\"\ntoken = \"none\"\n";
    for (extra, want) in [
        ("", None),
        ("signing = \"fapi2-http-sig\"\n", None),
        ("signing = \"berlin-group\"\n", None),
        (
            "signing = \"open-finance-brasil\"\n",
            Some("open_finance_brasil"),
        ),
        ("signing = \"ob-uk-3.1.4\"\n", Some("ob_uk")),
        ("signing = \"ob-uk-9\"\n", Some("no profile")),
        (
            "[[upstreams.bank.allow]]\noperations = [\"proxy\"]\n",
            Some("names no caller"),
        ),
        (
            "[[upstreams.bank.allow]]\nuids = [1]\noperations = [\"sign\"]\n",
            Some("\"proxy\""),
        ),
        (
            "[[upstreams.bank.allow]]\nexecutables = [\"bin/app\"]\noperations = [\"proxy\"]\n",
            Some("absolute path"),
        ),
    ] {
        let path = fx.path().join("check.toml");
        std::fs::write(&path, format!("{base}{upstream}{extra}")).unwrap();
        let out = run_check(&path);
        match want {
            None => assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            ),
            Some(w) => {
                assert!(!out.status.success(), "{extra}");
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(
                    err.contains("upstream") && err.contains(w),
                    "{extra}: {err}"
                );
            }
        }
    }
    let path = fx.path().join("check.toml");
    std::fs::write(
        &path,
        format!(
            "{base}{}",
            upstream.replace("upstreams.bank", "upstreams.Bank")
        ),
    )
    .unwrap();
    let out = run_check(&path);
    assert!(String::from_utf8_lossy(&out.stderr).contains("lowercase"));
}

fn run_check(config: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
        .args(["check", "--config"])
        .arg(config)
        .output()
        .unwrap()
}
