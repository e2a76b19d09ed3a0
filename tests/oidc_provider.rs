//! A real FAPI 2.0 authorization server (oidc-provider from npm, on
//! loopback) accepts the daemon's assertions for a client_credentials grant
//! with `private_key_jwt`, for PS256, ES256 and EdDSA, and rejects a replay.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;
use serde_json::{Value, json};

const ISSUER: &str = "https://as.fapi-agent.test";

fn exchange(input: &Value) -> Value {
    let script = root().join("tests/oidc/exchange.mjs");
    let mut child = Command::new("node")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node is needed (see README)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "exchange.mjs failed (did `npm ci` run in tests/oidc?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "exchange.mjs printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn oidc_provider_accepts_assertions_and_rejects_replay() {
    let fx = Fixtures::new();
    let creds = [
        fx.credential("ps", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2),
        fx.credential("es", KeyType::P256, KeyFormat::Pkcs8Scrypt),
        fx.credential("ed", KeyType::Ed25519, KeyFormat::Pkcs12),
    ];
    // ES256 may also sign for the token endpoint (a legacy audience), which
    // a FAPI 2.0 server must refuse: proof the server checks aud at all.
    let legacy = format!("{ISSUER}/token");
    let config: String = creds
        .iter()
        .map(|c| {
            let extra = if c.name == "es" {
                format!("[credentials.es.assertion]\nallowed_audiences = [{legacy:?}]\n")
            } else {
                String::new()
            };
            c.toml(&format!("client-{}", c.name), ISSUER, &extra)
        })
        .collect();
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;

    let mut clients = Vec::new();
    let mut requests = Vec::new();
    for c in &creds {
        let client_id = format!("client-{}", c.name);
        // PS256 and EdDSA clients are registered from their certificates
        // (JWKs built by Node, independent of the daemon); the ES256 one
        // with the JWKS `fapi-agent jwks` prints, to prove that output.
        let registration = if c.name == "es" {
            let out = daemon.cli(&["jwks", "--client-id", &client_id]);
            let jwks: Value = serde_json::from_slice(&out.stdout).unwrap();
            json!({ "client_id": client_id, "jwks": jwks })
        } else {
            json!({
                "client_id": client_id,
                "certificates_pem": [std::fs::read_to_string(&c.cert).unwrap()],
            })
        };
        clients.push(registration);
        let a = sign(&mut client, &c.name).await.unwrap();
        requests.push(json!({
            "client_id": client_id,
            "client_assertion": a.assertion,
            "client_assertion_type": a.assertion_type,
        }));
    }
    // The first assertion again: a replayed jti must be rejected.
    let replay = requests[0].clone();
    requests.push(replay);
    let wrong_aud = client
        .agent
        .sign_client_assertion(fapi_agent::service::pb::SignClientAssertionRequest {
            credential: by_name("es"),
            audience: legacy.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    requests.push(json!({
        "client_id": "client-es",
        "client_assertion": wrong_aud.assertion,
        "client_assertion_type": wrong_aud.assertion_type,
    }));

    let result = exchange(&json!({ "issuer": ISSUER, "clients": clients, "requests": requests }));
    let results = result["results"].as_array().unwrap();
    for (i, c) in creds.iter().enumerate() {
        let r = &results[i];
        assert_eq!(r["status"], 200, "{} rejected: {r}", c.name);
        assert!(r["body"]["access_token"].is_string(), "{r}");
        assert_eq!(r["body"]["token_type"], "Bearer", "{r}");
    }
    let replayed = &results[3];
    assert_ne!(
        replayed["status"], 200,
        "a replayed assertion was accepted: {replayed}"
    );
    assert_eq!(replayed["body"]["error"], "invalid_client", "{replayed}");
    let reason = replayed["server_error"].as_str().unwrap_or_default();
    assert!(reason.contains("must only be used once"), "{reason}");
    let aud = &results[4];
    assert_eq!(
        aud["status"], 401,
        "token-endpoint aud accepted under FAPI 2.0: {aud}"
    );
    let reason = aud["server_error"].as_str().unwrap_or_default();
    assert!(reason.contains("aud"), "{reason}");
}
