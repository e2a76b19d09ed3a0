//! Message signatures (docs/standards.md §9): the UK Open Banking
//! detached JWS of a body, for both profile versions, checked by verifiers
//! nobody here wrote (PyJWT and jwcrypto through tests/py/verify_signed.py,
//! RFC 7797 for 3.1.3), refused where the rules say, and applied by the
//! egress proxy to every request with a body, verified by the test bank
//! (npm `jose`).

mod common;

use base64::Engine;
use common::bank::{Bank, curl};
use common::oauth::{AuthServer, Pki};
use common::*;
use fapi_agent::service::pb;
use serde_json::json;
use tonic::Code;

const ISS: &str = "0015800001041REAAY/2kiXQyo0tedjW2somjSgH7";

async fn ob_sign(
    client: &mut fapi_agent::client::Client,
    name: &str,
    body: &[u8],
    profile: pb::ObProfile,
) -> Result<pb::SignObDetachedJwsResponse, tonic::Status> {
    client
        .agent
        .sign_ob_detached_jws(pb::SignObDetachedJwsRequest {
            credential: by_name(name),
            body: body.to_vec(),
            profile: profile.into(),
        })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test(flavor = "multi_thread")]
async fn ob_detached_jws_for_both_profiles_verified_independently() {
    let fx = Fixtures::new();
    let rsa = fx.credential("rsa", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let ec = fx.credential("ec", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let bare = fx.credential("bare", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let ob = format!("[credentials.rsa.ob_uk]\niss = {ISS:?}\nmax_body_bytes = 4096\n");
    let config = format!(
        "{}{ob}{}[credentials.ec.ob_uk]\niss = {ISS:?}\n{}\
         [[credentials.bare.allow]]\nuids = [0]\noperations = [\"read\"]\n",
        rsa.toml("rsa", "https://as.example", ""),
        ec.toml("ec", "https://as.example", ""),
        bare.toml("bare", "https://as.example", ""),
    );
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    let kid = facts(&mut client, "rsa").await.kid;
    let body = br#"{"Data":{"Initiation":{"InstructedAmount":{"Amount":"10.00","Currency":"GBP"}}},"Risk":{}}"#;
    let cert = std::fs::read_to_string(&rsa.cert).unwrap();
    for (profile, version) in [
        (pb::ObProfile::ObUk314, "3.1.4"),
        (pb::ObProfile::ObUk313, "3.1.3"),
    ] {
        let signed = ob_sign(&mut client, "rsa", body, profile).await.unwrap();
        assert_eq!(signed.kid, kid);
        assert!(signed.x_jws_signature.contains(".."), "detached");
        let check = |body: &[u8]| {
            verify_signed(
                "ob-detached",
                &json!({
                    "jws": signed.x_jws_signature,
                    "body_b64": base64::engine::general_purpose::STANDARD.encode(body),
                    "cert_pem": cert,
                    "version": version,
                    "expect": {"iss": ISS, "tan": "openbanking.org.uk", "kid": kid},
                    "max_age": 300,
                }),
            )
        };
        let report = check(body);
        assert_eq!(report["ok"], true, "{version}: {report}");
        // One byte changed: every verifier refuses.
        let mut changed = body.to_vec();
        changed[20] ^= 1;
        let report = check(&changed);
        assert_eq!(report["ok"], false, "{version}: {report}");
    }
    // Refusals, each with its status.
    let e = ob_sign(&mut client, "rsa", &[b'x'; 4097], pb::ObProfile::ObUk314)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(
        e.message().contains("max_body_bytes = 4096"),
        "{}",
        e.message()
    );
    let e = ob_sign(&mut client, "ec", body, pb::ObProfile::ObUk314)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("PS256"), "{}", e.message());
    let e = ob_sign(&mut client, "rsa", body, pb::ObProfile::Unspecified)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = ob_sign(&mut client, "bare", body, pb::ObProfile::ObUk314)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    assert!(e.message().contains("sign_message"), "{}", e.message());
    // The CLI.
    let file = fx.path().join("body.json");
    std::fs::write(&file, body).unwrap();
    let out = daemon.cli(&[
        "ob-sign",
        "--credential",
        "rsa",
        "--body",
        file.to_str().unwrap(),
        "--profile",
        "3.1.3",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(printed.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["b64"], false, "{header}");
}

/// The proxy signs every request with a body to an upstream with
/// `signing = "ob-uk-3.1.4"`; the bank verifies the signature over the
/// body it received, and refuses one the app tries to set.
#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_signs_bodies_for_an_ob_upstream() {
    let fx = Fixtures::new();
    let pki = Pki::new(fx.path());
    let cred = fx.credential("tpp", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let auth = AuthServer::start(&pki, json!({"profile": "fapi2", "clients": []}));
    let daemon_config = format!(
        "{}[credentials.tpp.ob_uk]\niss = {ISS:?}\n[proxy]\n",
        cred.toml("tpp", &auth.issuer(), "")
    );
    // The bank needs the public JWK: from the daemon, which reports it.
    let probe = Daemon::start(&daemon_config).await;
    let facts = facts(&mut probe.client().await, "tpp").await;
    drop(probe);
    let jwk: serde_json::Value = serde_json::from_str(&facts.public_jwk_json).unwrap();
    let bank = Bank::start(
        &pki,
        &auth,
        json!({
            "token_binding": "none", "require_client_cert": false,
            "signatures": {"ob_uk": {"jwks": {"keys": [jwk]}, "version": "3.1.4", "required": true,
                                      "iss": ISS, "tan": "openbanking.org.uk"}},
        }),
    );
    let config = format!(
        "{}[upstreams.aspsp]\nbase_url = {:?}\ncredential = \"tpp\"\ntoken = \"none\"\n\
         ca_file = {:?}\nsigning = \"ob-uk-3.1.4\"\n",
        daemon_config,
        bank.url(),
        pki.ca()
    );
    let daemon = Daemon::start(&config).await;
    let proxy = daemon.socket.with_file_name("proxy.sock");
    let payment =
        json!({"Data": {"Initiation": {"InstructedAmount": {"Amount": "5.00"}}}}).to_string();
    let a = curl(
        Some(&proxy),
        &[
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "--data-binary",
            &payment,
            "http://aspsp/payments",
        ],
        None,
    )
    .await;
    assert_eq!(
        a.status,
        201,
        "{}\n{}",
        String::from_utf8_lossy(&a.body),
        bank.log()
    );
    let seen = &a.json()["seen"];
    assert!(seen["signatures"].to_string().contains("ob_uk"), "{seen}");
    // A GET has no body and is not signed; the bank requires signatures
    // only on bodies.
    let a = curl(Some(&proxy), &["http://aspsp/accounts"], None).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    // The app may not bring its own signature.
    let a = curl(
        Some(&proxy),
        &[
            "-X",
            "POST",
            "-H",
            "x-jws-signature: a..b",
            "--data-binary",
            "{}",
            "http://aspsp/payments",
        ],
        None,
    )
    .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["error"], "header_not_allowed");
}

/// Open Finance Brasil bodies: PyJWT checks the signature, aud, iss, jti
/// and iat; the caller sets only data and aud.
#[tokio::test(flavor = "multi_thread")]
async fn brasil_bodies_verified_by_pyjwt() {
    let fx = Fixtures::new();
    let rsa = fx.credential("br", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let org = "74e929d9-33b6-4d85-8ba7-c146c867a817";
    let config = format!(
        "{}[credentials.br.open_finance_brasil]\niss = {org:?}\nmax_body_bytes = 1024\n",
        rsa.toml("br", "https://as.example", "")
    );
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    let sign = |data: &str, aud: &str| pb::SignBrasilBodyRequest {
        credential: by_name("br"),
        data_json: data.into(),
        audience: aud.into(),
    };
    let data = r#"{"creditor":{"name":"Joana"},"payment":{"amount":"100.00","currency":"BRL"}}"#;
    let s = client
        .agent
        .sign_brasil_body(sign(data, "aspsp-org"))
        .await
        .unwrap()
        .into_inner();
    let cert = std::fs::read_to_string(&rsa.cert).unwrap();
    let report = verify_signed(
        "brasil",
        &json!({"jws": s.jws, "cert_pem": cert, "aud": "aspsp-org", "iss": org, "kid": s.kid}),
    );
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["claims"]["data"]["payment"]["amount"], "100.00");
    assert_eq!(report["claims"]["jti"], s.jti.as_str());
    // Another audience is refused by the verifier.
    let report = verify_signed(
        "brasil",
        &json!({"jws": s.jws, "cert_pem": cert, "aud": "other-org", "iss": org}),
    );
    assert_eq!(report["ok"], false, "{report}");
    // The CLI.
    let file = fx.path().join("data.json");
    std::fs::write(&file, data).unwrap();
    let out = daemon.cli(&[
        "brasil-sign",
        "--credential",
        "br",
        "--aud",
        "aspsp-org",
        "--data",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jws = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let report = verify_signed(
        "brasil",
        &json!({"jws": jws, "cert_pem": cert, "aud": "aspsp-org", "iss": org}),
    );
    assert_eq!(report["ok"], true, "{report}");
    for (data, aud, code) in [
        ("[1]", "aspsp-org", Code::InvalidArgument),
        (data, "", Code::InvalidArgument),
        (
            &format!(r#"{{"x":"{}"}}"#, "y".repeat(1100)),
            "aspsp-org",
            Code::InvalidArgument,
        ),
    ] {
        let e = client
            .agent
            .sign_brasil_body(sign(data, aud))
            .await
            .unwrap_err();
        assert_eq!(e.code(), code, "{data:.20} {aud}: {e:?}");
    }
}

/// RFC 9421 request signatures with the FAPI 2.0 component set, for an RSA
/// key (rsa-pss-sha512) and a P-256 key (ecdsa-p256-sha256), verified by
/// PyPI http-message-signatures (and http-sf for Content-Digest); a body
/// changed by one byte fails; reserved headers, an oversized body and an
/// unauthorized caller are refused with their statuses.
#[tokio::test(flavor = "multi_thread")]
async fn rfc9421_request_signatures_verified_by_http_message_signatures() {
    let fx = Fixtures::new();
    let rsa = fx.credential("rsa", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let ec = fx.credential("ec", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let bare = fx.credential("bare", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let config = format!(
        "{}[credentials.rsa.http_signatures]\nmax_body_bytes = 4096\n{}{}\
         [[credentials.bare.allow]]\nuids = [0]\noperations = [\"read\"]\n",
        rsa.toml("rsa", "https://as.example", ""),
        ec.toml("ec", "https://as.example", ""),
        bare.toml("bare", "https://as.example", ""),
    );
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    let body = br#"{"Data":{"Amount":"10.00"}}"#;
    let request = |name: &str, body: &[u8]| pb::SignHttpRequestRequest {
        credential: by_name(name),
        method: "POST".into(),
        target_uri: "https://bank.example/payments?x=1".into(),
        authorization: "DPoP tok-123".into(),
        dpop: "eyJhbGciOiJFUzI1NiJ9.e30.sig".into(),
        covered_headers: vec![pb::HttpHeader {
            name: "x-fapi-interaction-id".into(),
            value: "c770aef3-6784-41f7-8e0e-ff5f97bddb3a".into(),
        }],
        body: body.to_vec(),
    };
    for (name, cert, alg) in [
        ("rsa", &rsa.cert, "rsa-pss-sha512"),
        ("ec", &ec.cert, "ecdsa-p256-sha256"),
    ] {
        let s = client
            .agent
            .sign_http_request(request(name, body))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"))
            .into_inner();
        assert_eq!(s.alg, alg);
        assert!(
            s.signature_input.contains("tag=\"fapi-2-request\""),
            "{}",
            s.signature_input
        );
        let cert = std::fs::read_to_string(cert).unwrap();
        let check = |body: &[u8]| {
            verify_signed(
                "rfc9421",
                &json!({
                    "method": "POST",
                    "url": s.target_uri,
                    "headers": [
                        ["Authorization", "DPoP tok-123"],
                        ["DPoP", "eyJhbGciOiJFUzI1NiJ9.e30.sig"],
                        ["X-FAPI-Interaction-ID", "c770aef3-6784-41f7-8e0e-ff5f97bddb3a"],
                        ["Content-Digest", s.content_digest],
                        ["Signature-Input", s.signature_input],
                        ["Signature", s.signature],
                    ],
                    "body_b64": base64::engine::general_purpose::STANDARD.encode(body),
                    "cert_pem": cert,
                    "alg": alg,
                    "keyid": s.keyid,
                    "expect_components": ["@method", "@target-uri", "authorization", "dpop",
                                          "content-digest", "x-fapi-interaction-id"],
                    "expect_tag": "fapi-2-request",
                }),
            )
        };
        let report = check(body);
        assert_eq!(report["ok"], true, "{name}: {report}");
        let mut changed = body.to_vec();
        changed[5] ^= 1;
        let report = check(&changed);
        assert_eq!(report["ok"], false, "{name}: {report}");
    }
    // No body: no content-digest, and the verifier agrees.
    let s = client
        .agent
        .sign_http_request(pb::SignHttpRequestRequest {
            method: "GET".into(),
            covered_headers: vec![],
            ..request("ec", b"")
        })
        .await
        .unwrap()
        .into_inner();
    assert!(s.content_digest.is_empty());
    assert_eq!(
        s.covered_components,
        [
            "\"@method\"",
            "\"@target-uri\"",
            "\"authorization\"",
            "\"dpop\""
        ]
    );
    // Refusals.
    for reserved in ["signature-input", "content-digest", "authorization"] {
        let mut r = request("ec", body);
        r.covered_headers = vec![pb::HttpHeader {
            name: reserved.into(),
            value: "x".into(),
        }];
        let e = client.agent.sign_http_request(r).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{reserved}: {e:?}");
    }
    let e = client
        .agent
        .sign_http_request(request("rsa", &[b'x'; 4097]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().contains("max_body_bytes = 4096"),
        "{}",
        e.message()
    );
    let mut r = request("ec", body);
    r.target_uri = "/relative".into();
    let e = client.agent.sign_http_request(r).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = client
        .agent
        .sign_http_request(request("bare", body))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
}

/// Berlin Group (draft-cavage-10) signatures: Digest, keyId from the
/// certificate, TPP-Signature-Certificate, verified by the openssl CLI and
/// PyPI httpsig; a changed body fails; an EC key and a header outside the
/// profile are refused.
#[tokio::test(flavor = "multi_thread")]
async fn berlin_group_signatures_verified_by_openssl_and_httpsig() {
    let fx = Fixtures::new();
    let rsa = fx.credential("qseal", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let ec = fx.credential("ec", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let config = format!(
        "{}{}",
        rsa.toml("qseal", "https://as.example", ""),
        ec.toml("ec", "https://as.example", ""),
    );
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    let body = br#"{"instructedAmount":{"currency":"EUR","amount":"123.50"}}"#;
    let request = |name: &str| pb::SignBerlinGroupRequestRequest {
        credential: by_name(name),
        x_request_id: String::new(),
        headers: vec![pb::HttpHeader {
            name: "PSU-ID".into(),
            value: "PSU-1234".into(),
        }],
        body: body.to_vec(),
    };
    let s = client
        .agent
        .sign_berlin_group_request(request("qseal"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.signed_headers, ["digest", "x-request-id", "psu-id"]);
    let cert = std::fs::read_to_string(&rsa.cert).unwrap();
    let check = |body: &[u8]| {
        verify_signed(
            "cavage",
            &json!({
                "method": "POST",
                "path": "/v1/payments/sepa-credit-transfers",
                "headers": [
                    ["X-Request-ID", s.x_request_id],
                    ["PSU-ID", "PSU-1234"],
                    ["Digest", s.digest],
                    ["Signature", s.signature],
                    ["TPP-Signature-Certificate", s.tpp_signature_certificate],
                ],
                "body_b64": base64::engine::general_purpose::STANDARD.encode(body),
                "cert_pem": cert,
            }),
        )
    };
    let report = check(body);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(
        report["checked_by"]["httpsig"], "passed",
        "httpsig must have run: {report}"
    );
    let mut changed = body.to_vec();
    changed[3] ^= 1;
    let report = check(&changed);
    assert_eq!(report["ok"], false, "{report}");
    let e = client
        .agent
        .sign_berlin_group_request(request("ec"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    let mut r = request("qseal");
    r.headers = vec![pb::HttpHeader {
        name: "digest".into(),
        value: "SHA-256=x".into(),
    }];
    let e = client.agent.sign_berlin_group_request(r).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    let mut r = request("qseal");
    r.x_request_id = "not-a-uuid".into();
    let e = client.agent.sign_berlin_group_request(r).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
}

/// The proxy signs every request to a `fapi2-http-sig` upstream (RFC 9421)
/// and a `berlin-group` upstream (draft-cavage with Digest and the
/// certificate); the bank verifies each with http-message-signatures and
/// node:crypto, including a body the app streams in chunks.
#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_signs_for_fapi2_and_berlin_group_upstreams() {
    let fx = Fixtures::new();
    let pki = Pki::new(fx.path());
    let cred = fx.credential("tpp", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let auth = AuthServer::start(&pki, json!({"profile": "fapi2", "clients": []}));
    let daemon_config = format!("{}[proxy]\n", cred.toml("tpp", &auth.issuer(), ""));
    let probe = Daemon::start(&daemon_config).await;
    let facts = facts(&mut probe.client().await, "tpp").await;
    drop(probe);
    let jwk: serde_json::Value = serde_json::from_str(&facts.public_jwk_json).unwrap();
    let cert = std::fs::read_to_string(&cred.cert).unwrap();
    let fapi = Bank::start(
        &pki,
        &auth,
        json!({
            "token_binding": "none", "require_client_cert": false,
            "signatures": {"rfc9421": {"jwks": {"keys": [jwk]}, "required": true}},
        }),
    );
    let bg = Bank::start(
        &pki,
        &auth,
        json!({
            "token_binding": "none", "require_client_cert": false,
            "signatures": {"cavage": {"cert_pem": cert, "required": true}},
        }),
    );
    let config = format!(
        "{daemon_config}[upstreams.fapi]\nbase_url = {:?}\ncredential = \"tpp\"\n\
         token = \"none\"\nca_file = {:?}\nsigning = \"fapi2-http-sig\"\n\
         [upstreams.bg]\nbase_url = {:?}\ncredential = \"tpp\"\ntoken = \"none\"\n\
         ca_file = {:?}\nsigning = \"berlin-group\"\n",
        fapi.url(),
        pki.ca(),
        bg.url(),
        pki.ca()
    );
    let daemon = Daemon::start(&config).await;
    let proxy = daemon.socket.with_file_name("proxy.sock");
    let payment = json!({"instructedAmount": {"currency": "EUR", "amount": "5.00"}}).to_string();
    let file = fx.path().join("payment.json");
    std::fs::write(&file, &payment).unwrap();
    let data = format!("@{}", file.display());
    for (upstream, bank, kind) in [("fapi", &fapi, "rfc9421"), ("bg", &bg, "cavage")] {
        let url = format!("http://{upstream}/payments");
        // A body as one piece, then streamed in chunks, then a GET.
        for extra in [&[][..], &["-H", "transfer-encoding: chunked"][..]] {
            let mut args = vec![
                "-X",
                "POST",
                "-H",
                "content-type: application/json",
                "--data-binary",
                &data,
            ];
            args.extend_from_slice(extra);
            args.push(&url);
            let a = curl(Some(&proxy), &args, None).await;
            assert_eq!(
                a.status,
                201,
                "{upstream} {extra:?}: {}\n{}",
                String::from_utf8_lossy(&a.body),
                bank.log()
            );
            let seen = &a.json()["seen"];
            assert!(seen["signatures"].to_string().contains(kind), "{seen}");
        }
        let accounts = format!("http://{upstream}/accounts");
        let a = curl(Some(&proxy), &[accounts.as_str()], None).await;
        assert_eq!(
            a.status,
            200,
            "{upstream} GET: {}\n{}",
            String::from_utf8_lossy(&a.body),
            bank.log()
        );
        // The app may not bring its own signature.
        let a = curl(
            Some(&proxy),
            &["-H", "signature: x", "--data-binary", "{}", url.as_str()],
            None,
        )
        .await;
        assert_eq!(a.status, 400, "{upstream}");
        assert_eq!(a.json()["error"], "header_not_allowed");
    }
}
