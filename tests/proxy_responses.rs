//! The egress proxy checking upstream response signatures (RFC 9421,
//! FAPI 2.0 Message Signing, docs/standards.md §9): the test bank
//! (tests/rs/bank.mjs) signs its responses with npm
//! http-message-signatures and a key this test makes with the openssl
//! CLI; a `signing = "fapi2-http-sig"` upstream whose credential names
//! that key in `http_signatures.response_jwks` passes a response on only
//! when its signature verifies against the request the proxy sent, and
//! answers 502 `upstream_signature_invalid` otherwise (audited). Upstreams
//! that do not check (no profile, `verify_responses = false`) see the same
//! bank's answers unchanged.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::bank::{Answer, Bank, curl};
use common::oauth::{AuthServer, Pki};
use common::*;
use serde_json::{Value, json};

/// A P-256 private key in PEM, made by the openssl CLI.
fn ec_key(path: &std::path::Path) -> String {
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(path)
        .output()
        .expect("the openssl CLI");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(path).unwrap()
}

/// The proxy's audit records once at least `n` are written.
async fn proxy_audit(path: &std::path::Path, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let records: Vec<Value> = std::fs::read_to_string(path)
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

fn refused(a: &Answer, what: &str) -> String {
    assert_eq!(
        a.status,
        502,
        "{what}: {} {}",
        a.status,
        String::from_utf8_lossy(&a.body)
    );
    let j = a.json();
    assert_eq!(j["error"], "upstream_signature_invalid", "{what}: {j}");
    assert_eq!(j["upstream"], "fapi", "{what}: {j}");
    j["message"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_checks_fapi2_response_signatures() {
    let fx = Fixtures::new();
    let pki = Pki::new(fx.path());
    let cred = fx.credential("tpp", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let auth = AuthServer::start(&pki, json!({"profile": "fapi2", "clients": []}));
    let base = format!("{}[proxy]\n", cred.toml("tpp", &auth.issuer(), ""));
    let probe = Daemon::start(&base).await;
    let facts = facts(&mut probe.client().await, "tpp").await;
    drop(probe);
    let tpp_jwk: Value = serde_json::from_str(&facts.public_jwk_json).unwrap();

    let bank_key = ec_key(&fx.path().join("bank-rs.pem"));
    let wrong_key = ec_key(&fx.path().join("wrong-rs.pem"));
    let signing = |key: &str, tamper: Option<&str>| json!({"key_pem": key, "keyid": "bank-rs-1", "tamper": tamper});
    let bank = Bank::start(
        &pki,
        &auth,
        json!({
            "token_binding": "none", "require_client_cert": false,
            "signatures": {"rfc9421": {"jwks": {"keys": [tpp_jwk]}, "required": false}},
            "response_signing": signing(&bank_key, None),
        }),
    );
    // The bank's public key (exported by node:crypto) is the JWKS the
    // credential trusts for responses.
    let mut public =
        bank.control("GET", "/config", Value::Null).await["response_signing"]["public_jwk"].clone();
    assert_eq!(public["crv"], "P-256", "{public}");
    public["kid"] = json!("bank-rs-1");
    let jwks = fx.path().join("bank-response-keys.json");
    std::fs::write(&jwks, json!({"keys": [public]}).to_string()).unwrap();

    let audit = fx.path().join("audit.jsonl");
    let upstream = |name: &str, extra: &str| {
        format!(
            "[upstreams.{name}]\nbase_url = {:?}\ncredential = \"tpp\"\ntoken = \"none\"\n\
             ca_file = {:?}\n{extra}",
            bank.url(),
            pki.ca()
        )
    };
    let config = format!(
        "[agent]\naudit_log = {audit:?}\n{}[proxy]\n[credentials.tpp.http_signatures]\n\
         response_jwks = {jwks:?}\n{}{}{}",
        cred.toml("tpp", &auth.issuer(), ""),
        upstream("fapi", "signing = \"fapi2-http-sig\"\n"),
        upstream(
            "off",
            "signing = \"fapi2-http-sig\"\nverify_responses = false\n"
        ),
        upstream("plain", ""),
    );
    let daemon = Daemon::start(&config).await;
    let proxy = daemon.socket.with_file_name("proxy.sock");
    let payment = json!({"instructedAmount": {"currency": "EUR", "amount": "5.00"}}).to_string();
    let file = fx.path().join("payment.json");
    std::fs::write(&file, &payment).unwrap();
    let data = format!("@{}", file.display());
    let post = |up: &str| {
        let url = format!("http://{up}/payments");
        let data = data.clone();
        let proxy = proxy.clone();
        async move {
            curl(
                Some(&proxy),
                &[
                    "-X",
                    "POST",
                    "-H",
                    "content-type: application/json",
                    "--data-binary",
                    &data,
                    &url,
                ],
                None,
            )
            .await
        }
    };
    let get = |target: &str| {
        let url = format!("http://{target}");
        let proxy = proxy.clone();
        async move { curl(Some(&proxy), &[url.as_str()], None).await }
    };

    // Signed and intact: passed on unchanged, signature headers and all.
    let a = post("fapi").await;
    assert_eq!(
        a.status,
        201,
        "{}\n{}",
        String::from_utf8_lossy(&a.body),
        bank.log()
    );
    let j = a.json();
    assert_eq!(j["body"]["instructedAmount"]["amount"], "5.00", "{j}");
    assert!(
        j["seen"]["signatures"].to_string().contains("rfc9421"),
        "{j}"
    );
    let input = a.header("signature-input").unwrap_or_default();
    assert!(
        input.contains("tag=\"fapi-2-response\"") && input.contains("\"content-digest\";req"),
        "{input}"
    );
    let digest = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        openssl::sha::sha256(&a.body),
    );
    assert_eq!(
        a.header("content-digest"),
        Some(format!("sha-256=:{digest}:").as_str())
    );
    for target in ["fapi/accounts", "fapi/status/404"] {
        let a = get(target).await;
        assert!(
            matches!(a.status, 200 | 404) && a.header("signature").is_some(),
            "{target}: {} {}",
            a.status,
            String::from_utf8_lossy(&a.body)
        );
        assert_ne!(a.json()["source"], "fapi-agent", "{target}");
    }

    // One byte changed after signing.
    bank.control(
        "POST",
        "/config",
        json!({"response_signing": signing(&bank_key, Some("body"))}),
    )
    .await;
    let m = refused(&post("fapi").await, "tampered POST");
    assert!(m.contains("Content-Digest") && m.contains("201"), "{m}");
    refused(&get("fapi/accounts").await, "tampered GET");
    for up in ["off", "plain"] {
        let a = post(up).await;
        assert_eq!(a.status, 201, "{up}");
        assert!(a.body.starts_with(b"z"), "{up}: the bank's tampered body");
    }

    // Signed by a key the credential does not trust, under the right keyid.
    bank.control(
        "POST",
        "/config",
        json!({"response_signing": signing(&wrong_key, None)}),
    )
    .await;
    let m = refused(&post("fapi").await, "wrong key");
    assert!(
        m.contains("does not verify") && m.contains("bank-rs-1"),
        "{m}"
    );

    // Not signed at all.
    let cfg = bank
        .control("POST", "/config", json!({"response_signing": null}))
        .await;
    assert!(cfg["response_signing"].is_null(), "{cfg}");
    let m = refused(&get("fapi/accounts").await, "unsigned");
    assert!(m.contains("no Signature-Input"), "{m}");
    for up in ["off", "plain"] {
        let a = get(&format!("{up}/accounts")).await;
        assert_eq!(a.status, 200, "{up}");
        assert!(a.header("signature").is_none());
    }
    // A body over http_signatures.max_body_bytes (1 MiB) cannot be held
    // to be checked: withheld, never streamed unchecked.
    let m = refused(&get("fapi/download?bytes=2000000").await, "large");
    assert!(m.contains("max_body_bytes"), "{m}");
    let a = get("plain/download?bytes=2000000").await;
    assert_eq!((a.status, a.body.len()), (200, 2_000_000));

    // Each refusal is audited with its reason.
    let records = proxy_audit(&audit, 13).await;
    let failed: Vec<&Value> = records
        .iter()
        .filter(|r| r["outcome"] == "error" && r["http"]["upstream"] == "fapi")
        .collect();
    assert_eq!(failed.len(), 5, "{records:#?}");
    for r in &failed {
        assert_eq!(r["http"]["status"], 502, "{r}");
        assert!(
            r["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("response signature does not verify"),
            "{r}"
        );
    }
}

/// `verify_responses = true` without `response_jwks`, or on an upstream
/// that is not `fapi2-http-sig`, is refused at load (`fapi-agent check`).
#[test]
fn verify_responses_needs_fapi2_and_response_jwks() {
    let fx = Fixtures::new();
    let cred = fx.credential("tpp", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let stanza = cred.toml("tpp", "https://as.example", "");
    for (extra, want) in [
        (
            "signing = \"fapi2-http-sig\"\nverify_responses = true\n",
            Some("response_jwks"),
        ),
        ("verify_responses = true\n", Some("fapi2-http-sig")),
        (
            "signing = \"fapi2-http-sig\"\nverify_responses = false\n",
            None,
        ),
    ] {
        let path = fx.path().join("check.toml");
        std::fs::write(
            &path,
            format!(
                "{stanza}[upstreams.fapi]\nbase_url = \"https://bank.example\"\n\
                 credential = \"tpp\"\ntoken = \"none\"\n{extra}"
            ),
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
            .args(["check", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        match want {
            None => assert!(out.status.success(), "{extra}: {err}"),
            Some(w) => {
                assert!(!out.status.success(), "{extra}");
                assert!(
                    err.contains(w) && err.contains("verify_responses"),
                    "{extra}: {err}"
                );
            }
        }
    }
}

/// An RSA private key in PEM, made by the openssl CLI.
fn rsa_key(path: &std::path::Path) -> String {
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(path)
        .output()
        .expect("the openssl CLI");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(path).unwrap()
}

/// `signing = "open-finance-brasil"`: the app's JSON goes out as a PS256
/// JWT the bank checks with npm jose (`jwtVerify`: kid, typ, iss, aud,
/// iat, jti), and the bank's signed `application/jwt` answer (npm jose
/// `SignJWT`) reaches the app as its verified JSON payload; a changed,
/// unsigned or wrongly keyed answer is withheld. Without
/// `brasil_response_jwks` the JWT is passed on as it came.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_signs_and_checks_open_finance_brasil_bodies() {
    let fx = Fixtures::new();
    let pki = Pki::new(fx.path());
    let cred = fx.credential("tpp", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let auth = AuthServer::start(&pki, json!({"profile": "fapi2", "clients": []}));
    let stanza = cred.toml(
        "tpp",
        &auth.issuer(),
        "[credentials.tpp.open_finance_brasil]\niss = \"client-org\"\n",
    );
    let probe = Daemon::start(&format!("{stanza}[proxy]\n")).await;
    let facts = facts(&mut probe.client().await, "tpp").await;
    drop(probe);
    let tpp_jwk: Value = serde_json::from_str(&facts.public_jwk_json).unwrap();
    let bank_key = rsa_key(&fx.path().join("bank-jws.pem"));
    let wrong_key = rsa_key(&fx.path().join("wrong-jws.pem"));
    let signing = |key: &str, tamper: Option<&str>| {
        json!({"key_pem": key, "kid": "bank-jws-1", "iss": "bank-org", "aud": "client-org",
               "tamper": tamper})
    };
    let bank = Bank::start(
        &pki,
        &auth,
        json!({
            "token_binding": "none", "require_client_cert": false,
            "signatures": {"brasil": {"jwks": {"keys": [tpp_jwk]}, "aud": "bank-org",
                                      "iss": "client-org", "required": true}},
            "brasil_response_signing": signing(&bank_key, None),
        }),
    );
    let mut public =
        bank.control("GET", "/config", Value::Null).await["brasil_response_signing"]["public_jwk"]
            .clone();
    assert_eq!(public["kty"], "RSA", "{public}");
    public["kid"] = json!("bank-jws-1");
    let jwks = fx.path().join("bank-jws-keys.json");
    std::fs::write(&jwks, json!({"keys": [public]}).to_string()).unwrap();
    let upstream = |name: &str, extra: &str| {
        format!(
            "[upstreams.{name}]\nbase_url = {:?}\ncredential = \"tpp\"\ntoken = \"none\"\n\
             ca_file = {:?}\nsigning = \"open-finance-brasil\"\nbrasil_audience = \"bank-org\"\n\
             {extra}",
            bank.url(),
            pki.ca()
        )
    };
    let config = format!(
        "{stanza}[proxy]\n{}{}",
        upstream("br", &format!("brasil_response_jwks = {jwks:?}\n")),
        upstream("raw", ""),
    );
    let daemon = Daemon::start(&config).await;
    let proxy = daemon.socket.with_file_name("proxy.sock");
    let payment = json!({"instructedAmount": {"currency": "BRL", "amount": "5.00"}});
    let post = |up: &str, body: String| {
        let url = format!("http://{up}/payments");
        let proxy = proxy.clone();
        async move {
            curl(
                Some(&proxy),
                &[
                    "-X",
                    "POST",
                    "-H",
                    "content-type: application/json",
                    "--data-binary",
                    &body,
                    &url,
                ],
                None,
            )
            .await
        }
    };

    // Signed both ways: the bank verified the request JWT, the app gets
    // the verified answer as JSON.
    let a = post("br", payment.to_string()).await;
    assert_eq!(
        a.status,
        201,
        "{}\n{}",
        String::from_utf8_lossy(&a.body),
        bank.log()
    );
    assert_eq!(a.header("content-type"), Some("application/json"));
    let j = a.json();
    assert_eq!(
        (j["iss"].as_str(), j["aud"].as_str()),
        (Some("bank-org"), Some("client-org")),
        "{j}"
    );
    let seen_request = &j["body"];
    assert_eq!(seen_request["data"], payment, "{j}");
    assert_eq!(seen_request["aud"], "bank-org");
    assert_eq!(seen_request["iss"], "client-org");
    assert!(
        j["seen"]["signatures"].to_string().contains("brasil"),
        "{j}"
    );
    let a = curl(Some(&proxy), &["http://br/accounts"], None).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["accounts"][0]["AccountId"], "22289");
    // Without brasil_response_jwks the JWT is the app's to check.
    let a = post("raw", payment.to_string()).await;
    assert_eq!(a.status, 201);
    assert_eq!(a.header("content-type"), Some("application/jwt"));
    assert_eq!(String::from_utf8_lossy(&a.body).split('.').count(), 3);
    // A body that is no JSON object is refused before it is signed.
    let a = post("br", "[1]".into()).await;
    assert_eq!(a.status, 400, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.json()["error"], "bad_request");

    let withheld = |a: &Answer, what: &str| -> String {
        assert_eq!(
            a.status,
            502,
            "{what}: {}",
            String::from_utf8_lossy(&a.body)
        );
        let j = a.json();
        assert_eq!(j["error"], "upstream_signature_invalid", "{what}: {j}");
        j["message"].as_str().unwrap().to_owned()
    };
    for (patch, want) in [
        (signing(&bank_key, Some("payload")), "does not verify"),
        (signing(&wrong_key, None), "does not verify"),
        (Value::Null, "not application/jwt"),
    ] {
        bank.control("POST", "/config", json!({"brasil_response_signing": patch}))
            .await;
        let m = withheld(&post("br", payment.to_string()).await, want);
        assert!(m.contains(want), "{m}");
    }
    // An unsigned error answer (a gateway's refusal) passes unchanged.
    let a = curl(Some(&proxy), &["http://br/status/404"], None).await;
    assert_eq!(a.status, 404);
    assert_eq!(a.json()["status"], 404);
}

/// An Open Finance Brasil body through a DPoP nonce retry: the bank turns
/// the first attempt away with `use_dpop_nonce` (RFC 9449 §9, the request
/// not acted on), the proxy sends it again with the nonce, and the body that
/// reaches the bank is a PS256 JWT npm jose verifies. The bank accepts each
/// body's `jti` once, so two app requests carrying the same payment are two
/// distinct signed bodies, each accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_finance_brasil_bodies_survive_a_dpop_nonce_retry() {
    let fx = Fixtures::new();
    let pki = Pki::new(fx.path());
    let cred = fx.credential("tpp", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let auth = AuthServer::start(
        &pki,
        json!({"profile": "fapi2", "clients": [
            {"client_id": "tpp", "certificates_pem": [std::fs::read_to_string(&cred.cert).unwrap()],
             "scope": "payments", "dpop_bound_access_tokens": true}]}),
    );
    let stanza = cred.toml(
        "tpp",
        &auth.issuer(),
        &format!(
            "[credentials.tpp.open_finance_brasil]\niss = \"client-org\"\n\
             [credentials.tpp.oauth]\nca_file = {:?}\nscopes = [\"payments\"]\n",
            pki.ca()
        ),
    );
    let probe = Daemon::start(&format!("{stanza}[proxy]\n")).await;
    let facts = facts(&mut probe.client().await, "tpp").await;
    drop(probe);
    let tpp_jwk: Value = serde_json::from_str(&facts.public_jwk_json).unwrap();
    let bank = Bank::start(
        &pki,
        &auth,
        json!({
            "token_binding": "dpop", "require_dpop_nonce": true, "require_client_cert": false,
            "signatures": {"brasil": {"jwks": {"keys": [tpp_jwk]}, "aud": "bank-org",
                                      "iss": "client-org", "required": true}},
        }),
    );
    let config = format!(
        "{stanza}[proxy]\n[upstreams.br]\nbase_url = {:?}\ncredential = \"tpp\"\ntoken = \"dpop\"\n\
         ca_file = {:?}\nscopes = [\"payments\"]\nsigning = \"open-finance-brasil\"\n\
         brasil_audience = \"bank-org\"\n",
        bank.url(),
        pki.ca()
    );
    let daemon = Daemon::start(&config).await;
    let proxy = daemon.socket.with_file_name("proxy.sock");
    let payment = json!({"instructedAmount": {"currency": "BRL", "amount": "7.00"}}).to_string();
    let post = || async {
        curl(
            Some(&proxy),
            &[
                "-X",
                "POST",
                "-H",
                "content-type: application/json",
                "--data-binary",
                &payment,
                "http://br/payments",
            ],
            None,
        )
        .await
    };

    let first = post().await;
    assert_eq!(
        first.status,
        201,
        "{}\n{}",
        String::from_utf8_lossy(&first.body),
        bank.log()
    );
    let counters = bank.control("GET", "/counters", Value::Null).await;
    assert_eq!(
        counters["nonce_challenges"], 1,
        "the first attempt met a nonce challenge: {counters}"
    );
    let seen = first.json();
    assert_eq!(seen["body"]["aud"], "bank-org", "{seen}");
    assert_eq!(seen["body"]["data"]["instructedAmount"]["amount"], "7.00");
    assert!(seen["seen"]["signatures"].to_string().contains("brasil"));
    // The same payment again: a new body (the bank refuses a jti it saw).
    let second = post().await;
    assert_eq!(
        second.status,
        201,
        "{}\n{}",
        String::from_utf8_lossy(&second.body),
        bank.log()
    );
    let jti = |a: &Answer| a.json()["body"]["jti"].as_str().unwrap().to_owned();
    assert_ne!(jti(&first), jti(&second));
    let counters = bank.control("GET", "/counters", Value::Null).await;
    assert!(
        counters["refused"].get("brasil_jti_replay").is_none(),
        "{counters}"
    );
}
