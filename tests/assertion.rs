//! Client assertions follow STANDARDS A1–A13, checked by PyJWT, jwcrypto
//! and the openssl CLI.

mod common;

use std::collections::HashSet;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use fapi_agent::service::pb;
use serde_json::Value;
use tonic::Code;

const ISSUER: &str = "https://as.fapi-agent.test";
const LEGACY_AUD: &str = "https://as.fapi-agent.test/token";

fn part(token: &str, i: usize) -> Value {
    let seg = token.split('.').nth(i).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(seg).unwrap()).unwrap()
}

struct Setup {
    _fx: Fixtures,
    daemon: Daemon,
    es: Cred,
    ps: Cred,
    ed: Cred,
}

async fn setup() -> Setup {
    let fx = Fixtures::new();
    let es = fx.credential("es", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let ps = fx.credential("ps", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let ed = fx.credential("ed", KeyType::Ed25519, KeyFormat::Pkcs8Pbkdf2);
    let config = format!(
        "{}{}{}",
        es.toml("acme", ISSUER, &format!("[credentials.es.assertion]\nallowed_audiences = [{LEGACY_AUD:?}]\n")),
        ps.toml("acme-ps", ISSUER, "[credentials.ps.assertion]\ntyp = false\nx5t_s256 = true\ndefault_lifetime_seconds = 120\n"),
        ed.toml("acme-ed", ISSUER, ""),
    );
    let daemon = Daemon::start(&config).await;
    Setup {
        _fx: fx,
        daemon,
        es,
        ps,
        ed,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn all_three_algorithms_verify_independently() {
    let s = setup().await;
    let mut client = s.daemon.client().await;

    let es = sign(&mut client, "es").await.unwrap();
    let r = verify_with_python(
        &es.assertion,
        &s.es.cert,
        "ES256",
        ISSUER,
        "acme",
        &[
            "--typ",
            "client-authentication+jwt",
            "--no-x5t",
            "--ttl",
            "60",
            &format!("--kid={}", es.kid),
        ],
    );
    assert_eq!(r["signature_len"], 64, "ES256 is raw R||S");
    assert_eq!(
        es.assertion_type,
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    assert_eq!(r["claims"]["jti"], es.jti.as_str());
    assert_eq!(r["claims"]["exp"], es.expires_at);

    // PS256: no typ, x5t#S256 on, default lifetime 120 (per config).
    let ps = sign(&mut client, "ps").await.unwrap();
    verify_with_python(
        &ps.assertion,
        &s.ps.cert,
        "PS256",
        ISSUER,
        "acme-ps",
        &[
            "--no-typ",
            "--x5t",
            "--ttl",
            "120",
            &format!("--kid={}", ps.kid),
        ],
    );

    let ed = sign(&mut client, "ed").await.unwrap();
    let r = verify_with_python(
        &ed.assertion,
        &s.ed.cert,
        "EdDSA",
        ISSUER,
        "acme-ed",
        &["--typ", "client-authentication+jwt", "--ttl", "60"],
    );
    assert_eq!(r["header"]["alg"], "EdDSA");
    assert_eq!(r["signature_len"], 64);
}

/// The openssl CLI verifies the PS256 signature only with salt length 32
/// (OpenSSL checks an explicit salt length exactly).
#[tokio::test(flavor = "multi_thread")]
async fn ps256_salt_is_32_per_openssl_cli() {
    let s = setup().await;
    let mut client = s.daemon.client().await;
    let ps = sign(&mut client, "ps").await.unwrap();
    let dir = s._fx.path();
    let (input, sig) = ps.assertion.rsplit_once('.').unwrap();
    std::fs::write(dir.join("input"), input).unwrap();
    std::fs::write(dir.join("sig"), URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-in",
            s.ps.cert.to_str().unwrap(),
            "-pubkey",
            "-noout",
            "-out",
            "pub.pem",
        ],
    );
    let verify = |salt: &str| {
        Command::new("openssl")
            .current_dir(dir)
            .args([
                "dgst",
                "-sha256",
                "-verify",
                "pub.pem",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                &format!("rsa_pss_saltlen:{salt}"),
                "-sigopt",
                "rsa_mgf1_md:sha256",
                "-signature",
                "sig",
                "input",
            ])
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(verify("32"));
    assert!(!verify("222"), "a max-length salt must not verify");
}

#[tokio::test(flavor = "multi_thread")]
async fn claims_are_exact_and_jti_is_fresh() {
    let s = setup().await;
    let mut client = s.daemon.client().await;
    let mut jtis = HashSet::new();
    let mut tokens = HashSet::new();
    for _ in 0..200 {
        let r = sign(&mut client, "es").await.unwrap();
        assert!(jtis.insert(r.jti.clone()), "jti repeated");
        assert!(tokens.insert(r.assertion.clone()), "assertion repeated");
        assert_eq!(
            URL_SAFE_NO_PAD.decode(&r.jti).unwrap().len(),
            16,
            "128-bit jti"
        );
    }
    let r = sign(&mut client, "es").await.unwrap();
    let header = part(&r.assertion, 0);
    let claims = part(&r.assertion, 1);
    let keys: HashSet<&str> = header
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, HashSet::from(["alg", "kid", "typ"]));
    let names: HashSet<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        names,
        HashSet::from(["iss", "sub", "aud", "iat", "nbf", "exp", "jti"])
    );
    assert!(claims["aud"].is_string(), "aud is one string");
    for c in ["iat", "nbf", "exp"] {
        assert!(claims[c].is_i64(), "{c} is an integer");
    }
    assert_eq!(claims["iat"], claims["nbf"]);
    assert!(!r.assertion.contains('='), "unpadded base64url");
}

#[tokio::test(flavor = "multi_thread")]
async fn lifetime_audience_and_reserved_claims_are_policed() {
    let s = setup().await;
    let mut client = s.daemon.client().await;
    let req = |name: &str, audience: &str, ttl: u32, extra: &str| pb::SignClientAssertionRequest {
        credential: by_name(name),
        audience: audience.into(),
        lifetime_seconds: ttl,
        extra_claims_json: extra.into(),
    };

    // A custom lifetime within the cap.
    let r = client
        .agent
        .sign_client_assertion(req("es", "", 300, ""))
        .await
        .unwrap()
        .into_inner();
    verify_with_python(
        &r.assertion,
        &s.es.cert,
        "ES256",
        ISSUER,
        "acme",
        &["--ttl", "300"],
    );
    // Over the cap.
    let e = client
        .agent
        .sign_client_assertion(req("es", "", 301, ""))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("outside 1..=300"), "{}", e.message());

    // The issuer explicitly, and the configured legacy audience.
    client
        .agent
        .sign_client_assertion(req("es", ISSUER, 0, ""))
        .await
        .unwrap();
    let legacy = client
        .agent
        .sign_client_assertion(req("es", LEGACY_AUD, 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(part(&legacy.assertion, 1)["aud"], LEGACY_AUD);
    assert!(
        s.daemon.stderr().contains("non-issuer audience"),
        "legacy aud is logged"
    );
    // An audience the config does not allow; and the legacy one on a credential without it.
    for (name, aud) in [("es", "https://evil.example"), ("ed", LEGACY_AUD)] {
        let e = client
            .agent
            .sign_client_assertion(req(name, aud, 0, ""))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(e.message().contains("allowed_audiences"), "{}", e.message());
    }

    // Extra claims are added; reserved ones cannot be overridden.
    let r = client
        .agent
        .sign_client_assertion(req("es", "", 0, r#"{"scope":"accounts"}"#))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(part(&r.assertion, 1)["scope"], "accounts");
    for reserved in ["iss", "sub", "aud", "exp", "iat", "nbf", "jti"] {
        let e = client
            .agent
            .sign_client_assertion(req("es", "", 0, &format!(r#"{{"{reserved}":"x"}}"#)))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{reserved}");
        assert!(e.message().contains(reserved));
    }
    for bad in ["[1]", "{", "\"s\""] {
        let e = client
            .agent
            .sign_client_assertion(req("es", "", 0, bad))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{bad}");
    }
    // No selector at all.
    let e = client
        .agent
        .sign_client_assertion(pb::SignClientAssertionRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread")]
async fn selection_by_client_id_and_kid() {
    let s = setup().await;
    let mut client = s.daemon.client().await;
    let es_kid = sign(&mut client, "es").await.unwrap().kid;
    let r = client
        .agent
        .sign_client_assertion(pb::SignClientAssertionRequest {
            credential: by_client("acme"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (r.credential.as_str(), r.kid.as_str()),
        ("es", es_kid.as_str())
    );

    let pinned = |by, kid: &str| pb::SignClientAssertionRequest {
        credential: Some(pb::CredentialSelector {
            by: Some(by),
            kid: kid.into(),
        }),
        ..Default::default()
    };
    let client_id = pb::credential_selector::By::ClientId("acme".into());
    client
        .agent
        .sign_client_assertion(pinned(client_id.clone(), &es_kid))
        .await
        .unwrap();
    let e = client
        .agent
        .sign_client_assertion(pinned(client_id, "no-such-kid"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = client
        .agent
        .sign_client_assertion(pinned(
            pb::credential_selector::By::Name("ps".into()),
            &es_kid,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{}", e.message());
    let e = client
        .agent
        .sign_client_assertion(pb::SignClientAssertionRequest {
            credential: by_client("nobody"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert!(e.message().contains("client_id \"nobody\""));
}

/// The public JWKS the CLI prints matches the certificates (kid = jwcrypto
/// thumbprint, checked in verify_with_python) and carries x5c.
#[tokio::test(flavor = "multi_thread")]
async fn jwks_and_credentials_commands() {
    let s = setup().await;
    let out = s.daemon.cli(&["jwks"]);
    assert!(out.status.success());
    let jwks: Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3);
    for k in keys {
        assert!(k["x5c"].as_array().is_some_and(|c| c.len() == 1));
        assert!(
            k.get("d").is_none() && k.get("p").is_none(),
            "no private members"
        );
    }
    let out = s.daemon.cli(&["jwks", "--client-id", "acme-ed"]);
    let jwks: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "OKP");

    let out = s
        .daemon
        .cli(&["assertion", "--credential", "ed", "--ttl", "30"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    verify_with_python(
        token.trim(),
        &s.ed.cert,
        "EdDSA",
        ISSUER,
        "acme-ed",
        &["--ttl", "30"],
    );
    let out = s.daemon.cli(&["assertion"]);
    assert!(!out.status.success(), "ambiguous without --credential");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--credential"));

    let out = s.daemon.cli(&["credentials"]);
    let table = String::from_utf8_lossy(&out.stdout);
    for name in ["es", "ps", "ed"] {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(name) && l.contains("available")),
            "{table}"
        );
    }
}
