//! Every key format platforms hand out loads and signs; every bad credential
//! gets a precise error, and the daemon keeps serving the good ones.

mod common;

use common::*;
use fapi_agent::service::pb;
use tonic::Code;

const ISSUER: &str = "https://as.fapi-agent.test";

/// Each format × algorithm that real credentials come in, in one daemon.
#[tokio::test(flavor = "multi_thread")]
async fn every_key_format_loads_and_signs() {
    let fx = Fixtures::new();
    let cases = [
        ("p8-pbkdf2-es", KeyType::P256, KeyFormat::Pkcs8Pbkdf2),
        ("p8-pbkdf2-rsa", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2),
        ("p8-pbkdf2-ed", KeyType::Ed25519, KeyFormat::Pkcs8Pbkdf2),
        ("p8-scrypt-es", KeyType::P256, KeyFormat::Pkcs8Scrypt),
        ("p8-scrypt-ed", KeyType::Ed25519, KeyFormat::Pkcs8Scrypt),
        ("p8-3des-rsa", KeyType::Rsa2048, KeyFormat::Pkcs8Pbe3Des),
        ("p8-der-es", KeyType::P256, KeyFormat::Pkcs8Der),
        ("legacy-rsa", KeyType::Rsa2048, KeyFormat::LegacyPem),
        ("legacy-ec", KeyType::P256, KeyFormat::LegacyPem),
        (
            "legacy-des3-rsa",
            KeyType::Rsa2048,
            KeyFormat::LegacyPemDes3,
        ),
        ("p12-es", KeyType::P256, KeyFormat::Pkcs12),
        ("p12-rsa", KeyType::Rsa2048, KeyFormat::Pkcs12),
        ("p12-legacy-rsa", KeyType::Rsa2048, KeyFormat::Pkcs12Legacy),
        ("plain-opt-in-es", KeyType::P256, KeyFormat::Plaintext),
    ];
    let creds: Vec<Cred> = cases
        .iter()
        .map(|(name, kt, f)| fx.credential(name, *kt, *f))
        .collect();
    let config: String = creds
        .iter()
        .map(|c| c.toml(&format!("client-{}", c.name), ISSUER, ""))
        .collect();
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;

    for c in &creds {
        let r = sign(&mut client, &c.name)
            .await
            .unwrap_or_else(|e| panic!("{} ({:?}) did not sign: {e}", c.name, c.format));
        assert_eq!(r.alg, c.key_type.alg(), "{}", c.name);
        let report = verify_with_python(
            &r.assertion,
            &c.cert,
            &r.alg,
            ISSUER,
            &format!("client-{}", c.name),
            &[
                "--typ",
                "client-authentication+jwt",
                "--no-x5t",
                "--ttl",
                "60",
                &format!("--kid={}", r.kid),
            ],
        );
        assert_eq!(report["ok"], true);
        let info = facts(&mut client, &c.name).await;
        assert_eq!(
            info.state(),
            pb::CredentialState::Available,
            "{}: {}",
            c.name,
            info.error
        );
        assert_eq!(info.kid, r.kid);
        assert!(
            info.days_left >= 363 && info.days_left <= 365,
            "{}",
            info.days_left
        );
    }
    // The plaintext key is accepted only because it opted in, with a warning.
    assert!(daemon.stderr().contains("UNENCRYPTED private key"));
}

/// One daemon holding a good credential and every kind of broken one.
#[tokio::test(flavor = "multi_thread")]
async fn bad_credentials_get_precise_errors_and_good_ones_keep_serving() {
    let fx = Fixtures::new();
    let good = fx.credential("good", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);

    // Wrong passphrase: the file holds another passphrase.
    let wrong_pass = fx.credential("wrongpass", KeyType::P256, KeyFormat::Pkcs8Scrypt);
    std::fs::write(&wrong_pass.pass_file, "not-the-passphrase\n").unwrap();
    // Wrong passphrase on a PKCS#12 bundle (surfaces as a MAC failure).
    let wrong_p12 = fx.credential("wrongp12", KeyType::P256, KeyFormat::Pkcs12);
    std::fs::write(&wrong_p12.pass_file, "not-the-passphrase\n").unwrap();
    // Key and certificate of different credentials.
    let other = fx.plain_key("other", KeyType::P256);
    let other_cert = fx.cert("other", &other);
    let key_for_mismatch = fx.plain_key("mismatch", KeyType::P256);
    let mismatch = fx.credential_with_cert(
        "mismatch",
        KeyType::P256,
        KeyFormat::Pkcs8Pbkdf2,
        key_for_mismatch,
        other_cert,
    );
    let rsa1024 = fx.credential("rsa1024", KeyType::Rsa1024, KeyFormat::Pkcs8Pbkdf2);
    let p384 = fx.credential("p384", KeyType::P384, KeyFormat::Pkcs8Pbkdf2);
    let expired = fx.credential_valid("expired", KeyType::P256, KeyFormat::Pkcs8Pbkdf2, -400, -1);
    let future = fx.credential_valid("future", KeyType::P256, KeyFormat::Pkcs8Pbkdf2, 5, 400);
    let soon = fx.credential_valid("soon", KeyType::P256, KeyFormat::Pkcs8Pbkdf2, -300, 7);
    let corrupt_key = fx.credential("corruptkey", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    std::fs::write(&corrupt_key.key, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nnot base64 at all!\n-----END ENCRYPTED PRIVATE KEY-----\n").unwrap();
    let corrupt_cert = fx.credential("corruptcert", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    std::fs::write(&corrupt_cert.cert, "garbage").unwrap();
    let plain = fx.credential("plain", KeyType::P256, KeyFormat::Plaintext);
    let loose = fx.credential("loosepass", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&loose.pass_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    let mut config = good.toml("good", ISSUER, "");
    for c in [
        &wrong_pass,
        &wrong_p12,
        &mismatch,
        &rsa1024,
        &p384,
        &expired,
        &future,
        &soon,
        &corrupt_key,
        &corrupt_cert,
        &loose,
    ] {
        config.push_str(&c.toml(&c.name, ISSUER, ""));
    }
    // The plaintext key without the opt-in.
    config.push_str(&plain.toml("plain", ISSUER, "").replace(
        "allow_plaintext_key = true",
        &format!(
            "passphrase = {{ source = \"file\", path = {:?} }}",
            plain.pass_file
        ),
    ));
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;

    // (credential, code, fragments the message must contain)
    let expectations: &[(&str, Code, &[&str])] = &[
        (
            "wrongpass",
            Code::FailedPrecondition,
            &["\"wrongpass\"", "does not decrypt", "passphrase"],
        ),
        (
            "wrongp12",
            Code::FailedPrecondition,
            &["\"wrongp12\"", "does not decrypt", "mac verify failure"],
        ),
        (
            "mismatch",
            Code::FailedPrecondition,
            &["\"mismatch\"", "does not match the certificate"],
        ),
        (
            "rsa1024",
            Code::FailedPrecondition,
            &["1024 bits", "at least 2048"],
        ),
        ("p384", Code::FailedPrecondition, &["secp384r1", "P-256"]),
        (
            "expired",
            Code::FailedPrecondition,
            &["\"expired\"", "certificate expired at", "renewed"],
        ),
        (
            "future",
            Code::FailedPrecondition,
            &[
                "not yet valid",
                "notBefore",
                "the clock here says",
                "clock sync",
            ],
        ),
        (
            "corruptkey",
            Code::FailedPrecondition,
            &["corruptkey.key", "not a readable private key"],
        ),
        (
            "corruptcert",
            Code::FailedPrecondition,
            &["corruptcert.crt", "not a valid PEM or DER certificate"],
        ),
        (
            "plain",
            Code::FailedPrecondition,
            &["plain.key", "not encrypted", "allow_plaintext_key"],
        ),
        (
            "loosepass",
            Code::FailedPrecondition,
            &["loosepass.pass", "0644", "chmod 600"],
        ),
        (
            "nosuch",
            Code::NotFound,
            &["no credential named \"nosuch\""],
        ),
    ];
    for (name, code, fragments) in expectations {
        let err = sign(&mut client, name).await.expect_err(name);
        assert_eq!(err.code(), *code, "{name}: {}", err.message());
        for f in *fragments {
            assert!(
                err.message().contains(f),
                "{name}: {:?} lacks {f:?}",
                err.message()
            );
        }
        // No secret in the message: neither the real nor the wrong passphrase.
        for secret in [
            &wrong_pass.passphrase,
            &good.passphrase,
            &"not-the-passphrase".to_owned(),
        ] {
            assert!(
                !err.message().contains(secret.as_str()),
                "{name} leaks a passphrase"
            );
        }
        // The good credential still serves after every bad request.
        let ok = sign(&mut client, "good")
            .await
            .expect("good credential keeps serving");
        verify_with_python(&ok.assertion, &good.cert, "ES256", ISSUER, "good", &[]);
    }

    // The expiring-soon credential works and warns.
    sign(&mut client, "soon")
        .await
        .expect("a credential expiring in 7 days still signs");
    let soon_info = facts(&mut client, "soon").await;
    assert_eq!(soon_info.state(), pb::CredentialState::Available);
    assert!(soon_info.days_left <= 7, "{}", soon_info.days_left);
    assert!(
        soon_info.error.contains("expires in"),
        "{}",
        soon_info.error
    );

    // Status reports each broken credential's state and reason.
    let status = client
        .admin
        .status(pb::StatusRequest {})
        .await
        .unwrap()
        .into_inner();
    for c in &status.credentials {
        let broken = !["good", "soon"].contains(&c.name.as_str());
        assert_eq!(
            c.state() == pb::CredentialState::Error,
            broken,
            "{}: {:?} {}",
            c.name,
            c.state(),
            c.error
        );
    }
    let logs = daemon.stderr();
    for secret in [&good.passphrase, &wrong_pass.passphrase, &soon.passphrase] {
        assert!(
            !logs.contains(secret.as_str()),
            "a passphrase reached the log"
        );
    }
}

/// `fapi-agent check` validates every credential offline and exits non-zero
/// with the precise error of each broken one.
#[test]
fn check_command_reports_each_credential() {
    let fx = Fixtures::new();
    let good = fx.credential("good", KeyType::Ed25519, KeyFormat::Pkcs8Scrypt);
    let bad = fx.credential("bad", KeyType::Rsa2048, KeyFormat::LegacyPem);
    std::fs::write(&bad.pass_file, "wrong\n").unwrap();
    let cfg = fx.path().join("agent.toml");
    std::fs::write(&cfg, good.toml("good", ISSUER, "")).unwrap();
    let check = |cfg: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
            .args(["check", "--config", cfg.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let out = check(&cfg);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("ok   good: client_id good EdDSA kid "),
        "{stdout}"
    );

    std::fs::write(
        &cfg,
        format!(
            "{}{}",
            good.toml("good", ISSUER, ""),
            bad.toml("bad", ISSUER, "")
        ),
    )
    .unwrap();
    let out = check(&cfg);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL bad: credential \"bad\": the passphrase from file"),
        "{stdout}"
    );
    assert!(stdout.contains("bad decrypt"), "{stdout}");

    // A config error is exit code 2 with the line of the problem.
    std::fs::write(&cfg, "[credentials.x]\nclient_id = 1\n").unwrap();
    let out = check(&cfg);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 2"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
