//! `DecryptSecret` round-trips secrets encrypted by `openssl pkeyutl` with
//! each padding; every failure answers identically.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use fapi_agent::service::pb;
use tonic::Code;

const ISSUER: &str = "https://as.fapi-agent.test";

fn req(
    name: &str,
    ct: pb::decrypt_secret_request::Ciphertext,
    padding: pb::Padding,
) -> pb::DecryptSecretRequest {
    pb::DecryptSecretRequest {
        credential: by_name(name),
        ciphertext: Some(ct),
        padding: padding.into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn round_trips_and_uniform_failures() {
    use pb::decrypt_secret_request::Ciphertext::{CiphertextBase64, CiphertextRaw};
    let fx = Fixtures::new();
    let strict = fx.credential("strict", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let v15 = fx.credential("v15", KeyType::Rsa2048, KeyFormat::LegacyPem);
    let ec = fx.credential("ec", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let config = format!(
        "{}{}{}",
        strict.toml("strict", ISSUER, ""),
        v15.toml(
            "v15",
            ISSUER,
            "decrypt_paddings = [\"pkcs1-v1_5\", \"oaep-sha1\", \"oaep-sha256\"]"
        ),
        ec.toml("ec", ISSUER, ""),
    );
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    let secret = b"s3cr3t-shared-value-\x00\xff";

    // Every padding round-trips, as raw bytes and as base64 text (with a line break).
    for padding in [
        pb::Padding::Pkcs1V15,
        pb::Padding::OaepSha1,
        pb::Padding::OaepSha256,
    ] {
        let ct = encrypt(fx.path(), &v15.cert, secret, padding);
        let raw = client
            .agent
            .decrypt_secret(req("v15", CiphertextRaw(ct.clone()), padding))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(raw.plaintext, secret, "{padding:?}");
        let mut b64 = STANDARD.encode(&ct);
        b64.insert(40, '\n');
        let text = client
            .agent
            .decrypt_secret(req("v15", CiphertextBase64(b64), padding))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(text.plaintext, secret, "{padding:?} base64");
    }

    // Failures: a refused padding (v1.5 is off by default), a tampered
    // ciphertext, the wrong OAEP digest, a truncated ciphertext, an EC key.
    let oaep = encrypt(fx.path(), &strict.cert, secret, pb::Padding::OaepSha256);
    let v15_ct = encrypt(fx.path(), &strict.cert, secret, pb::Padding::Pkcs1V15);
    let mut tampered = oaep.clone();
    tampered[100] ^= 1;
    let failures = [
        ("strict", v15_ct.clone(), pb::Padding::Pkcs1V15),
        ("strict", tampered, pb::Padding::OaepSha256),
        ("strict", oaep.clone(), pb::Padding::OaepSha1),
        ("strict", oaep[..100].to_vec(), pb::Padding::OaepSha256),
        ("ec", oaep.clone(), pb::Padding::OaepSha256),
    ];
    let mut answers = Vec::new();
    for (name, ct, padding) in failures {
        let e = client
            .agent
            .decrypt_secret(req(name, CiphertextRaw(ct), padding))
            .await
            .unwrap_err();
        answers.push((
            e.code(),
            e.message().replace(&format!("\"{name}\""), "\"NAME\""),
        ));
    }
    assert!(
        answers.iter().all(|a| a == &answers[0]),
        "failures differ: {answers:?}"
    );
    assert_eq!(
        answers[0],
        (
            Code::InvalidArgument,
            "decryption failed for credential \"NAME\"".into()
        )
    );

    // Malformed requests are told exactly what is wrong.
    let e = client
        .agent
        .decrypt_secret(req(
            "strict",
            CiphertextBase64("***".into()),
            pb::Padding::OaepSha256,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("not valid base64"));
    let e = client
        .agent
        .decrypt_secret(req(
            "strict",
            CiphertextRaw(oaep.clone()),
            pb::Padding::Unspecified,
        ))
        .await
        .unwrap_err();
    assert!(e.message().contains("padding is required"));

    // And the good path still works afterwards; the CLI decrypts too.
    let ok = client
        .agent
        .decrypt_secret(req(
            "strict",
            CiphertextRaw(oaep.clone()),
            pb::Padding::OaepSha256,
        ))
        .await
        .unwrap();
    assert_eq!(ok.into_inner().plaintext, secret);
    std::fs::write(fx.path().join("ct.b64"), STANDARD.encode(&oaep)).unwrap();
    let out = daemon.cli(&[
        "decrypt",
        "--credential",
        "strict",
        "--padding",
        "oaep-sha256",
        "--input",
        fx.path().join("ct.b64").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, secret);
    assert!(!daemon.stderr().contains("s3cr3t"), "plaintext in the log");
}
