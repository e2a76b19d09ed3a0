//! Checking what others signed (docs/standards.md §9), against signers
//! nobody here wrote:
//! - VerifyHttpResponse: responses signed by PyPI http-message-signatures
//!   (tests/py/sign_response.py) with `@status` and the request's `;req`
//!   components, checked against the credential's
//!   `http_signatures.response_jwks`;
//! - VerifyJarmResponse: JARM responses (`response_mode=jwt`) from the
//!   real authorization server (tests/oidc/fapi_as.mjs, oidc-provider),
//!   and ones PyJWT signs with that server's own key but wrong claims.
//!
//! Each refusal is asserted with its status and reason, and the two CLI
//! commands (`verify-response`, `verify-jarm`) run through the binary.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::oauth::{AuthServer, Pki};
use common::*;
use fapi_agent::service::pb;
use serde_json::{Value, json};
use tonic::Code;

/// Runs tests/py/sign_response.py SUBCOMMAND on `input`.
fn sign_response(subcommand: &str, input: &Value) -> Value {
    let mut child = Command::new("python3")
        .arg(root().join("tests/py/sign_response.py"))
        .arg(subcommand)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 with tests/requirements.txt");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "sign_response.py {subcommand}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn pem(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// The JWK of the key at `path` (public unless `private`), with `kid`
/// (None: its RFC 7638 thumbprint).
fn jwk(path: &Path, kid: Option<&str>, private: bool) -> Value {
    sign_response(
        "jwk",
        &json!({"key_pem": pem(path), "kid": kid, "private": private}),
    )["jwk"]
        .clone()
}

// ---------------------------------------------------------------- RFC 9421

const METHOD: &str = "POST";
const URL: &str = "https://bank.example/payments?x=1";
const AUTHORIZATION: &str = "DPoP tok-123";
const DPOP: &str = "eyJhbGciOiJFUzI1NiJ9.e30.sig";
const REQUEST_BODY: &[u8] = br#"{"Data":{"Amount":"10.00"}}"#;
const BODY: &[u8] = br#"{"Data":{"PaymentId":"p-1","Status":"Pending"}}"#;

/// What FAPI 2.0 has a resource server cover in a response to a request
/// with a body, Authorization and DPoP, plus content-type.
const COMPONENTS: &[&str] = &[
    "\"@status\"",
    "\"@method\";req",
    "\"@target-uri\";req",
    "\"authorization\";req",
    "\"dpop\";req",
    "\"content-digest\";req",
    "\"content-digest\"",
    "\"content-type\"",
];

/// A response (status 201, `BODY`) signed by http-message-signatures with
/// the key at `key`; `extra` overrides fields of the signer's input.
fn bank_sign(key: &Path, alg: &str, keyid: &str, extra: Value) -> Vec<(String, String)> {
    let mut input = json!({
        "key_pem": pem(key),
        "alg": alg,
        "keyid": keyid,
        "status": 201,
        "headers": [["Content-Type", "application/json"]],
        "body_b64": STANDARD.encode(BODY),
        "components": COMPONENTS,
        "tag": "fapi-2-response",
        "request": {
            "method": METHOD, "url": URL,
            "headers": [["Authorization", AUTHORIZATION], ["DPoP", DPOP]],
            "body_b64": STANDARD.encode(REQUEST_BODY),
        },
    });
    for (k, v) in extra.as_object().unwrap() {
        input[k] = v.clone();
    }
    sign_response("rfc9421", &input)["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_owned(),
                p[1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The RPC request for the response `headers` and `body` to the standard
/// request, from credential `name`.
fn check(name: &str, headers: &[(String, String)], body: &[u8]) -> pb::VerifyHttpResponseRequest {
    pb::VerifyHttpResponseRequest {
        credential: by_name(name),
        method: METHOD.into(),
        target_uri: URL.into(),
        authorization: AUTHORIZATION.into(),
        dpop: DPOP.into(),
        request_body: REQUEST_BODY.to_vec(),
        status: 201,
        headers: headers
            .iter()
            .map(|(n, v)| pb::HttpHeader {
                name: n.clone(),
                value: v.clone(),
            })
            .collect(),
        body: body.to_vec(),
    }
}

fn replace(headers: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            if n.eq_ignore_ascii_case(name) {
                (n.clone(), value.to_owned())
            } else {
                (n.clone(), v.clone())
            }
        })
        .collect()
}

fn without(headers: &[(String, String)], name: &str) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case(name))
        .cloned()
        .collect()
}

/// Responses signed by http-message-signatures with a P-256 key (named by
/// kid) and an RSA key (named by its JWK thumbprint) verify; a body changed
/// by one byte, a changed status or request, another key, a missing or
/// incomplete signature, the wrong tag, an old one fail UNAUTHENTICATED
/// with the reason; bad input, a credential without response keys and a
/// caller without `read` get their own statuses.
#[tokio::test(flavor = "multi_thread")]
async fn http_response_signatures_by_http_message_signatures() {
    let fx = Fixtures::new();
    let tpp = fx.credential("tpp", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let plain = fx.credential("plain", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let bare = fx.credential("bare", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let broken = fx.credential("broken", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let bank_ec = fx.plain_key("bank-ec", KeyType::P256);
    let bank_rsa = fx.plain_key("bank-rsa", KeyType::Rsa2048);
    let stranger = fx.plain_key("stranger", KeyType::P256);
    let rsa_jwk = jwk(&bank_rsa, None, false);
    let rsa_thumbprint = rsa_jwk["kid"].as_str().unwrap().to_owned();
    let mut rsa_listed = rsa_jwk.clone();
    rsa_listed["kid"] = json!("bank-rsa-1");
    let jwks = json!({"keys": [jwk(&bank_ec, Some("bank-ec-1"), false), rsa_listed]});
    let jwks_file = fx.path().join("bank-response-keys.json");
    std::fs::write(&jwks_file, jwks.to_string()).unwrap();
    let not_jwks = fx.path().join("not-jwks.json");
    std::fs::write(&not_jwks, "{\"keys\": 3}").unwrap();
    let config = format!(
        "{}[credentials.tpp.http_signatures]\nresponse_jwks = {jwks_file:?}\n{}{}\
         [credentials.bare.http_signatures]\nresponse_jwks = {jwks_file:?}\n\
         [[credentials.bare.allow]]\nuids = [0]\noperations = [\"sign_message\"]\n\
         {}[credentials.broken.http_signatures]\nresponse_jwks = {not_jwks:?}\n",
        tpp.toml("tpp", "https://as.example", ""),
        plain.toml("plain", "https://as.example", ""),
        bare.toml("bare", "https://as.example", ""),
        broken.toml("broken", "https://as.example", ""),
    );
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    let ec_signed = bank_sign(&bank_ec, "ecdsa-p256-sha256", "bank-ec-1", json!({}));
    let now = fapi_agent::now_unix();

    // Valid: P-256 by kid, RSA-PSS by thumbprint.
    let v = client
        .agent
        .verify_http_response(check("tpp", &ec_signed, BODY))
        .await
        .unwrap_or_else(|e| panic!("{e:?}\n{ec_signed:?}"))
        .into_inner();
    assert_eq!(v.keyid, "bank-ec-1");
    assert_eq!(v.label, "pyhms", "http-message-signatures' default label");
    assert!((v.created - now).abs() <= 30, "{}", v.created);
    assert_eq!(v.covered_components, COMPONENTS);
    let rsa_signed = bank_sign(&bank_rsa, "rsa-pss-sha512", &rsa_thumbprint, json!({}));
    let v = client
        .agent
        .verify_http_response(check("tpp", &rsa_signed, BODY))
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .into_inner();
    assert_eq!(v.keyid, rsa_thumbprint);

    // Each of these fails UNAUTHENTICATED, with its reason.
    let mut changed = BODY.to_vec();
    changed[12] ^= 1;
    let redigested = replace(
        &ec_signed,
        "content-digest",
        &format!(
            "sha-256=:{}:",
            STANDARD.encode(openssl::sha::sha256(&changed))
        ),
    );
    let mut other_status = check("tpp", &ec_signed, BODY);
    other_status.status = 200;
    let mut other_token = check("tpp", &ec_signed, BODY);
    other_token.authorization = "DPoP tok-456".into();
    let mut other_request_body = check("tpp", &ec_signed, BODY);
    other_request_body.request_body[3] ^= 1;
    let mut no_dpop_sent = check("tpp", &ec_signed, BODY);
    no_dpop_sent.dpop = String::new();
    let no_dpop = bank_sign(
        &bank_ec,
        "ecdsa-p256-sha256",
        "bank-ec-1",
        json!({"components": COMPONENTS.iter().filter(|c| !c.contains("dpop")).collect::<Vec<_>>()}),
    );
    let cases: Vec<(&str, pb::VerifyHttpResponseRequest, &str)> = vec![
        (
            "body changed by one byte",
            check("tpp", &ec_signed, &changed),
            "content-digest sha-256 does not match",
        ),
        (
            "body changed and its digest recomputed",
            check("tpp", &redigested, &changed),
            "does not verify",
        ),
        ("another status", other_status, "does not verify"),
        ("another access token", other_token, "does not verify"),
        (
            "another request body",
            other_request_body,
            "does not verify",
        ),
        (
            "signed with another key under the bank's keyid",
            check(
                "tpp",
                &bank_sign(&stranger, "ecdsa-p256-sha256", "bank-ec-1", json!({})),
                BODY,
            ),
            "does not verify",
        ),
        (
            "a keyid the JWKS does not hold",
            check(
                "tpp",
                &bank_sign(&stranger, "ecdsa-p256-sha256", "stranger", json!({})),
                BODY,
            ),
            "keyid \"stranger\" is none of the configured keys",
        ),
        (
            "the RSA key named with an EC algorithm",
            check(
                "tpp",
                &bank_sign(&bank_ec, "ecdsa-p256-sha256", "bank-rsa-1", json!({})),
                BODY,
            ),
            "is not the key's rsa-pss-sha512",
        ),
        (
            "no signature",
            check(
                "tpp",
                &without(&without(&ec_signed, "signature"), "signature-input"),
                BODY,
            ),
            "no signature-input header",
        ),
        (
            "Signature-Input without Signature",
            check("tpp", &without(&ec_signed, "signature"), BODY),
            "no signature header",
        ),
        (
            "Signature-Input not a dictionary",
            check("tpp", &replace(&ec_signed, "signature-input", "(((x"), BODY),
            "signature-input is not a dictionary",
        ),
        (
            "dpop;req not covered",
            check("tpp", &no_dpop, BODY),
            "\"dpop\";req: not covered",
        ),
        (
            "a request signature's tag",
            check(
                "tpp",
                &bank_sign(
                    &bank_ec,
                    "ecdsa-p256-sha256",
                    "bank-ec-1",
                    json!({"tag": "fapi-2-request"}),
                ),
                BODY,
            ),
            "0 signatures are tagged \"fapi-2-response\"",
        ),
        (
            "created 400 s ago",
            check(
                "tpp",
                &bank_sign(
                    &bank_ec,
                    "ecdsa-p256-sha256",
                    "bank-ec-1",
                    json!({"created": now - 400}),
                ),
                BODY,
            ),
            "s old, over 300 s",
        ),
        (
            "created 10 minutes ahead",
            check(
                "tpp",
                &bank_sign(
                    &bank_ec,
                    "ecdsa-p256-sha256",
                    "bank-ec-1",
                    json!({"created": now + 600}),
                ),
                BODY,
            ),
            "s in the future",
        ),
    ];
    for (what, request, reason) in cases {
        let e = client
            .agent
            .verify_http_response(request)
            .await
            .expect_err(what);
        assert_eq!(e.code(), Code::Unauthenticated, "{what}: {e:?}");
        assert!(
            e.message().to_lowercase().contains(&reason.to_lowercase()),
            "{what}: {}",
            e.message()
        );
    }
    // The request had no DPoP, but the response covers dpop;req: no value
    // to check it with.
    let e = client
        .agent
        .verify_http_response(no_dpop_sent)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");

    // Bad input and configuration: their own statuses.
    for status in [0, 99, 600, 70000] {
        let mut r = check("tpp", &ec_signed, BODY);
        r.status = status;
        let e = client.agent.verify_http_response(r).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{status}: {e:?}");
        assert!(e.message().contains("HTTP status"), "{}", e.message());
    }
    // A request URI that does not parse is the caller's error, whatever
    // the signature says.
    let mut r = check("tpp", &ec_signed, BODY);
    r.target_uri = "not a uri".into();
    let e = client.agent.verify_http_response(r).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(e.message().contains("target_uri"), "{}", e.message());
    let mut r = check("tpp", &ec_signed, BODY);
    r.credential = None;
    let e = client.agent.verify_http_response(r).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    let e = client
        .agent
        .verify_http_response(check("nobody", &ec_signed, BODY))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    let e = client
        .agent
        .verify_http_response(check("plain", &ec_signed, BODY))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    assert!(
        e.message().contains("http_signatures.response_jwks"),
        "{}",
        e.message()
    );
    let e = client
        .agent
        .verify_http_response(check("broken", &ec_signed, BODY))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    assert!(e.message().contains("not-jwks.json"), "{}", e.message());
    let e = client
        .agent
        .verify_http_response(check("bare", &ec_signed, BODY))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    assert!(e.message().contains("read"), "{}", e.message());

    // The CLI: the response's headers as --header, the bodies from files.
    let request_body = fx.path().join("request.json");
    std::fs::write(&request_body, REQUEST_BODY).unwrap();
    let body = fx.path().join("response.json");
    std::fs::write(&body, BODY).unwrap();
    let changed_file = fx.path().join("changed.json");
    std::fs::write(&changed_file, &changed).unwrap();
    let cli = |headers: &[(String, String)], body: &Path, json: bool| {
        let mut args: Vec<String> = [
            "verify-response",
            "--credential",
            "tpp",
            "--method",
            METHOD,
            "--url",
            URL,
            "--authorization",
            AUTHORIZATION,
            "--dpop",
            DPOP,
            "--request-body",
            request_body.to_str().unwrap(),
            "--status",
            "201",
            "--body",
            body.to_str().unwrap(),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for (n, v) in headers {
            args.push("--header".into());
            args.push(format!("{n}: {v}"));
        }
        if json {
            args.push("--json".into());
        }
        daemon.cli(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let out = cli(&ec_signed, &body, false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("verified: signature pyhms by keyid bank-ec-1, created ")
            && stdout.contains("\"@status\" \"@method\";req"),
        "{stdout}"
    );
    let out = cli(&rsa_signed, &body, true);
    assert!(out.status.success());
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["keyid"], rsa_thumbprint.as_str(), "{j}");
    assert_eq!(j["covered_components"], json!(COMPONENTS), "{j}");
    let out = cli(&ec_signed, &changed_file, false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty());
    assert!(
        err.contains("Unauthenticated") && err.contains("does not match"),
        "{err}"
    );
}

// ---------------------------------------------------------------- JARM

const REDIRECT: &str = "https://client.example/cb";

/// JARM from oidc-provider (PAR, then the authorization step with
/// response_mode=jwt) verifies and gives the code and state, and the code
/// exchanges for tokens; a tampered response, another key, a response for
/// another client, from another issuer or expired (signed by PyJWT with
/// the server's own key) fail UNAUTHENTICATED; a response that is no JWS
/// is INVALID_ARGUMENT; a credential without an OAuth table
/// FAILED_PRECONDITION. And `verify-jarm` through the binary.
#[tokio::test(flavor = "multi_thread")]
async fn jarm_responses_from_oidc_provider() {
    let fx = Fixtures::new();
    let pki = Pki::new(fx.path());
    let c = fx.credential("web", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let other = fx.credential("other", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let offline = fx.credential("offline", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    // The server's signing keys are the test's, so that PyJWT can sign
    // with them below; the server uses them as it would its own.
    let as_rsa = fx.plain_key("as-rsa", KeyType::Rsa2048);
    let as_ec = fx.plain_key("as-ec", KeyType::P256);
    let as_ed = fx.plain_key("as-ed", KeyType::Ed25519);
    let stranger = fx.plain_key("stranger", KeyType::Rsa2048);
    let as_jwks = json!({"keys": [
        jwk(&as_rsa, Some("as-rsa-1"), true),
        jwk(&as_ec, Some("as-ec-1"), true),
        jwk(&as_ed, Some("as-ed-1"), true),
    ]});
    let server = AuthServer::start(
        &pki,
        json!({
            "profile": "fapi2",
            "as_jwks": as_jwks,
            "clients": [{"client_id": "web-app", "certificates_pem": [pem(&c.cert)],
                         "redirect_uris": [REDIRECT], "scope": "openid accounts",
                         "grant_types": ["authorization_code"],
                         "dpop_bound_access_tokens": true}],
        }),
    );
    let issuer = server.issuer();
    let oauth = |name: &str| format!("[credentials.{name}.oauth]\nca_file = {:?}\n", pki.ca());
    let daemon = Daemon::start(&format!(
        "{}{}{}{}{}",
        c.toml("web-app", &issuer, ""),
        oauth("web"),
        other.toml("other-app", &issuer, ""),
        oauth("other"),
        offline.toml("offline-app", &issuer, ""),
    ))
    .await;
    let mut client = daemon.client().await;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = fapi_agent::jose::b64url(&openssl::sha::sha256(verifier.as_bytes()));
    let params: HashMap<String, String> = [
        ("response_type", "code"),
        ("response_mode", "jwt"),
        ("redirect_uri", REDIRECT),
        ("scope", "accounts"),
        ("state", "st-jarm-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let pushed = client
        .agent
        .push_authorization_request(pb::PushAuthorizationRequestRequest {
            credential: by_name("web"),
            parameters: params,
            signed_request_object: false,
        })
        .await
        .unwrap_or_else(|e| panic!("PAR: {e:?}\n{}", server.log()))
        .into_inner();
    let url = format!(
        "{}?client_id=web-app&request_uri={}",
        pushed.authorization_endpoint,
        url::form_urlencoded::byte_serialize(pushed.request_uri.as_bytes()).collect::<String>()
    );
    let authorized = server
        .control("POST", "/authorize", json!({ "url": url }))
        .await;
    let response = authorized["response"]
        .as_str()
        .unwrap_or_else(|| panic!("no JARM response: {authorized}\n{}", server.log()))
        .to_owned();
    assert!(authorized.get("code").is_none(), "{authorized}");

    let verify = |name: &str, response: &str| pb::VerifyJarmResponseRequest {
        credential: by_name(name),
        response: response.to_owned(),
    };
    let v = client
        .agent
        .verify_jarm_response(verify("web", &response))
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .into_inner();
    assert_eq!(v.alg, "PS256");
    assert_eq!(v.kid, "as-rsa-1");
    assert_eq!(v.parameters["state"], "st-jarm-1", "{:?}", v.parameters);
    assert_eq!(v.parameters["iss"], issuer, "{:?}", v.parameters);
    assert_eq!(v.parameters["aud"], "web-app", "{:?}", v.parameters);
    let code = v.parameters["code"].clone();
    // The code is the real one: it exchanges for tokens.
    let t = client
        .agent
        .exchange_authorization_code(pb::ExchangeAuthorizationCodeRequest {
            credential: by_name("web"),
            code: code.clone(),
            code_verifier: verifier.to_owned(),
            redirect_uri: REDIRECT.to_owned(),
        })
        .await
        .unwrap_or_else(|e| panic!("code exchange: {e:?}"))
        .into_inner();
    assert_eq!(t.token_type, "DPoP");

    // The real response's claims, signed again by PyJWT with the server's
    // key: first unchanged (it verifies, so the forging path is sound),
    // then with one claim wrong each.
    let [head, payload, sig] = response.split('.').collect::<Vec<_>>()[..] else {
        panic!("{response}");
    };
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let resign = |key: &Path, kid: &str, alg: &str, change: Value| -> String {
        let mut claims = claims.clone();
        // A null removes the claim.
        for (k, v) in change.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        sign_response(
            "jarm",
            &json!({"key_pem": pem(key), "kid": kid, "alg": alg, "claims": claims}),
        )["response"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let now = fapi_agent::now_unix();
    let fresh = resign(&as_rsa, "as-rsa-1", "PS256", json!({"exp": now + 60}));
    let v = client
        .agent
        .verify_jarm_response(verify("web", &fresh))
        .await
        .unwrap_or_else(|e| panic!("re-signed, unchanged: {e:?}"))
        .into_inner();
    assert_eq!(v.parameters["code"], code);
    let by_ec = resign(&as_ec, "as-ec-1", "ES256", json!({}));
    let v = client
        .agent
        .verify_jarm_response(verify("web", &by_ec))
        .await
        .unwrap_or_else(|e| panic!("ES256: {e:?}"))
        .into_inner();
    assert_eq!((v.alg.as_str(), v.kid.as_str()), ("ES256", "as-ec-1"));

    // The state changed in the payload, the signature kept.
    let mut tampered_claims = claims.clone();
    tampered_claims["state"] = json!("st-evil");
    let tampered = format!(
        "{head}.{}.{sig}",
        URL_SAFE_NO_PAD.encode(tampered_claims.to_string())
    );
    let mut flipped_sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    flipped_sig[7] ^= 1;
    let flipped = format!("{head}.{payload}.{}", URL_SAFE_NO_PAD.encode(flipped_sig));
    let cases = [
        (
            "state changed",
            "web",
            tampered,
            "signature does not verify",
        ),
        (
            "signature changed",
            "web",
            flipped,
            "signature does not verify",
        ),
        (
            "another key under the server's kid",
            "web",
            resign(&stranger, "as-rsa-1", "PS256", json!({})),
            "signature does not verify",
        ),
        (
            "a kid the server does not publish",
            "web",
            resign(&stranger, "stranger-1", "PS256", json!({})),
            "no key of the authorization server matches kid some(\"stranger-1\")",
        ),
        (
            "another issuer",
            "web",
            resign(
                &as_rsa,
                "as-rsa-1",
                "PS256",
                json!({"iss": "https://evil.example"}),
            ),
            "iss is Some(\"https://evil.example\")",
        ),
        (
            "no issuer",
            "web",
            resign(&as_rsa, "as-rsa-1", "PS256", json!({"iss": null})),
            "iss is none",
        ),
        (
            "another audience",
            "web",
            resign(&as_rsa, "as-rsa-1", "PS256", json!({"aud": "someone-else"})),
            "not the client \"web-app\"",
        ),
        (
            "the real response, checked as another client",
            "other",
            response.clone(),
            "not the client \"other-app\"",
        ),
        (
            "expired 5 minutes ago",
            "web",
            resign(&as_rsa, "as-rsa-1", "PS256", json!({"exp": now - 300})),
            "it expired",
        ),
        (
            "no exp",
            "web",
            resign(&as_rsa, "as-rsa-1", "PS256", json!({"exp": null})),
            "no numeric exp",
        ),
        (
            "RS256, which FAPI does not allow",
            "web",
            resign(&as_rsa, "as-rsa-1", "RS256", json!({})),
            "alg some(\"rs256\") is not one fapi allows",
        ),
        (
            "alg none",
            "web",
            format!(
                "{}.{payload}.",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"as-rsa-1"}"#)
            ),
            "alg some(\"none\")",
        ),
    ];
    for (what, name, response, reason) in cases {
        let e = client
            .agent
            .verify_jarm_response(verify(name, &response))
            .await
            .expect_err(what);
        assert_eq!(e.code(), Code::Unauthenticated, "{what}: {e:?}");
        assert!(
            e.message().to_lowercase().contains(&reason.to_lowercase()),
            "{what}: {}",
            e.message()
        );
    }
    // Not a JWS at all: the caller's input.
    for (what, response, reason) in [
        ("two parts", "abc.def".to_owned(), "has 2"),
        ("a JWE", "a.b.c.d.e".to_owned(), "encrypted (JWE)"),
        (
            "a header that is not base64url",
            format!("%%%.{payload}.{sig}"),
            "not base64url",
        ),
    ] {
        let e = client
            .agent
            .verify_jarm_response(verify("web", &response))
            .await
            .expect_err(what);
        assert_eq!(e.code(), Code::InvalidArgument, "{what}: {e:?}");
        assert!(e.message().contains(reason), "{what}: {}", e.message());
    }
    let e = client
        .agent
        .verify_jarm_response(verify("offline", &response))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    assert!(e.message().contains("oauth"), "{}", e.message());

    // The CLI: name=value lines, --json, the response from stdin; a
    // tampered one exits 1 with the status.
    let out = daemon.cli(&["verify-jarm", "--credential", "web", "--response", &fresh]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(lines.contains(&format!("code={code}")), "{lines:?}");
    assert!(lines.contains(&"state=st-jarm-1".to_owned()), "{lines:?}");
    assert!(lines.contains(&format!("iss={issuer}")), "{lines:?}");
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted, "sorted by name");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
        .args([
            "verify-jarm",
            "--credential",
            "web",
            "--response",
            "-",
            "--json",
        ])
        .env("FAPI_AGENT_SOCKET", &daemon.socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{by_ec}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["alg"], "ES256", "{j}");
    assert_eq!(j["kid"], "as-ec-1", "{j}");
    assert_eq!(j["parameters"]["state"], "st-jarm-1", "{j}");
    let expired = resign(&as_rsa, "as-rsa-1", "PS256", json!({"exp": now - 300}));
    let out = daemon.cli(&["verify-jarm", "--credential", "web", "--response", &expired]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty());
    assert!(
        err.contains("Unauthenticated") && err.contains("expired"),
        "{err}"
    );
}
