//! Token keys at a real authorization server (oidc-provider under FAPI 2.0,
//! tests/oidc): client assertions signed on a SoftHSM2 token and accepted
//! by the server, and the DPoP key on a token (`oauth.dpop_key`): tokens
//! bound to its thumbprint as computed independently from the public key
//! OpenSC reads off the token, proofs verified by PyJWT and jwcrypto
//! against that key, the PIN held and wiped like a credential's, a wrong
//! PIN never presented twice, and a module off the allow-list refused.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::memscan::{contains, memory_of};
use common::oauth::{AuthServer, Pki};
use common::softhsm::{ISSUER, MODULE, SO_PIN, Token, allow_list, start, status_of};
use common::{
    Daemon, Fixtures, by_name, config, openssl, run, sign, verify_signed, verify_with_python,
};
use fapi_agent::service::pb;
use serde_json::{Value, json};
use tonic::Code;

/// The label of the second token, which holds the DPoP keys.
const DPOP_TOKEN: &str = "fapi-dpop";

fn pem(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// Initialises a second token beside `t`'s, in the same SoftHSM directory
/// (so the daemon sees both), with a user PIN of its own.
fn second_token(t: &Token, label: &str, pin: &str) {
    run(t
        .cmd("softhsm2-util")
        .args(["--init-token", "--free", "--label", label])
        .args(["--so-pin", SO_PIN, "--pin", pin]));
}

/// Generates a key pair with no certificate on token `token` and reads
/// its public key back with OpenSC: the public key as PEM.
fn keypair_without_cert(
    t: &Token,
    token: &str,
    pin: &str,
    key_type: &str,
    label: &str,
    id: &str,
) -> PathBuf {
    let tool = || {
        let mut c = t.cmd("pkcs11-tool");
        c.args(["--module", MODULE, "--token-label", token]);
        c
    };
    run(tool()
        .args([
            "--login",
            "--pin",
            pin,
            "--keypairgen",
            "--key-type",
            key_type,
        ])
        .args(["--label", label, "--id", id]));
    let der = t.dir.path().join(format!("{label}.pub.der"));
    run(tool()
        .args(["--read-object", "--type", "pubkey", "--id", id, "-o"])
        .arg(&der));
    let pem = t.dir.path().join(format!("{label}.pub.pem"));
    // DER for RSA and EC, PEM for Ed25519 (pkcs11-tool's choice): OpenSSL
    // 3 detects which.
    openssl(
        t.dir.path(),
        &[
            "pkey",
            "-pubin",
            "-in",
            der.to_str().unwrap(),
            "-out",
            pem.to_str().unwrap(),
        ],
    );
    pem
}

/// jwcrypto's RFC 7638 thumbprint of the public key in `pem`.
fn jwcrypto_thumbprint(pem: &Path) -> String {
    let out = run(Command::new("python3")
        .arg("-c")
        .arg(
            "import sys; from jwcrypto.jwk import JWK; \
             print(JWK.from_pem(open(sys.argv[1], 'rb').read()).thumbprint())",
        )
        .arg(pem));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Verifies the compact JWS `proof` with jwcrypto under the public key in
/// `pem` (not the key its header carries) and algorithm `alg`.
fn jwcrypto_verifies(proof: &str, pem: &Path, alg: &str) {
    run(Command::new("python3")
        .arg("-c")
        .arg(
            "import sys; from jwcrypto.jwk import JWK; from jwcrypto.jws import JWS; \
             j = JWS(); j.deserialize(sys.argv[1]); \
             j.verify(JWK.from_pem(open(sys.argv[2], 'rb').read()), alg=sys.argv[3])",
        )
        .args([proof, pem.to_str().unwrap(), alg]));
}

/// A credential stanza for key `key` on `t`, at `issuer`, with its oauth
/// table holding `oauth`.
fn stanza(t: &Token, name: &str, key: &str, cert: &Path, issuer: &str, oauth: &str) -> String {
    let pin = t.pin_file("user", &t.pin);
    let ca = t.dir.path().join("as-ca.crt");
    format!(
        "{}[credentials.{name}.oauth]\nca_file = {ca:?}\nscopes = [\"accounts\"]\n{oauth}\n",
        t.stanza(name, key, Some(cert), &pin, "")
            .replace(ISSUER, issuer)
    )
}

/// `dpop_key = { pkcs11 = { … } }` for key `label` on the DPoP token.
fn dpop_key(label: &str, pin_file: &Path) -> String {
    format!(
        "dpop_key = {{ pkcs11 = {{ module = {MODULE:?}, token_label = {DPOP_TOKEN:?}, \
         key_label = {label:?}, pin = {{ source = \"file\", path = {pin_file:?} }} }} }}"
    )
}

/// A client of the authorization server for credential `name`'s key.
fn client(name: &str, cert: &Path) -> Value {
    json!({"client_id": name, "certificates_pem": [pem(cert)], "scope": "accounts",
           "dpop_bound_access_tokens": true})
}

/// The test authorization server, its CA copied where [`stanza`] names it.
fn auth_server(t: &Token, fx: &Fixtures, clients: Vec<Value>) -> AuthServer {
    let pki = Pki::new(fx.path());
    std::fs::copy(pki.ca(), t.dir.path().join("as-ca.crt")).unwrap();
    AuthServer::start(&pki, json!({"profile": "fapi2", "clients": clients}))
}

async fn token(
    client: &mut fapi_agent::client::Client,
    name: &str,
) -> Result<pb::AccessToken, tonic::Status> {
    client
        .agent
        .get_access_token(pb::GetAccessTokenRequest {
            credential: by_name(name),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

/// Log lines of the daemon that contain every one of `parts`.
fn log_lines(daemon: &Daemon, parts: &[&str]) -> usize {
    daemon
        .stderr()
        .lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .count()
}

/// private_key_jwt with the key on the token, ES256 and PS256: the server
/// verifies each assertion against the JWKS registered from the
/// certificate of the token's key, and issues a token.
#[tokio::test(flavor = "multi_thread")]
async fn token_signed_assertions_are_accepted_by_oidc_provider() {
    let t = Token::new("fapi-pkjwt");
    let ec_crt = t.keypair("EC:prime256v1", "ec", "01");
    let rsa_crt = t.keypair("rsa:2048", "rsa", "02");
    let fx = Fixtures::new();
    let server = auth_server(&t, &fx, vec![client("es", &ec_crt), client("ps", &rsa_crt)]);
    let issuer = server.issuer();
    let daemon = start(
        &t,
        &allow_list(),
        &[
            stanza(&t, "es", "ec", &ec_crt, &issuer, ""),
            stanza(&t, "ps", "rsa", &rsa_crt, &issuer, ""),
        ],
    )
    .await;
    let mut client = daemon.client().await;
    for (name, crt, alg) in [("es", &ec_crt, "ES256"), ("ps", &rsa_crt, "PS256")] {
        let st = status_of(&mut client, name).await;
        let source = st.passphrase_source.unwrap();
        assert!(source.description.contains("backend pkcs11"), "{source:?}");
        let tok = token(&mut client, name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}\n{}", daemon.stderr(), server.log()));
        let seen = server.introspect(&tok.access_token).await;
        assert_eq!(seen["active"], true, "{seen}");
        assert_eq!(seen["client_id"], name, "{seen}");
        assert_eq!(seen["cnf"]["jkt"], tok.jkt.as_str(), "{seen}");
        // The same key's assertion, verified independently too.
        let r = sign(&mut client, name).await.unwrap();
        verify_with_python(&r.assertion, crt, alg, &issuer, name, &[]);
    }
    // Both keys were used through token logins, not a key in memory.
    assert!(
        log_lines(&daemon, &["logged in to the token", "credential=es"]) >= 1,
        "{}",
        daemon.stderr()
    );
    assert!(
        log_lines(&daemon, &["logged in to the token", "credential=ps"]) >= 1,
        "{}",
        daemon.stderr()
    );
}

/// The DPoP key on a token, of each type FAPI 2.0 allows: the server binds
/// the token to the thumbprint of the public key OpenSC reads off the
/// token (computed by jwcrypto), proofs from SignDpopProof verify under
/// that key, the thumbprint survives a restart, and Lock wipes the DPoP
/// key's PIN and logs it out.
#[tokio::test(flavor = "multi_thread")]
async fn the_dpop_key_on_a_token_binds_tokens_to_its_own_thumbprint() {
    let t = Token::new("fapi-cred");
    let crt = t.keypair("EC:prime256v1", "ec", "01");
    // The DPoP keys have a token and a PIN of their own.
    let mut r = [0u8; 12];
    openssl::rand::rand_bytes(&mut r).unwrap();
    let dpop_pin = format!("dpop-{}", hex::encode(r));
    second_token(&t, DPOP_TOKEN, &dpop_pin);
    let dpop_pin_file = t.pin_file("dpop", &dpop_pin);
    let keys = [
        ("es", "EC:prime256v1", "ES256", "0a"),
        ("ps", "rsa:2048", "PS256", "0b"),
        ("ed", "EC:edwards25519", "EdDSA", "0c"),
    ];
    let publics: Vec<PathBuf> = keys
        .iter()
        .map(|(name, kt, _, id)| {
            keypair_without_cert(&t, DPOP_TOKEN, &dpop_pin, kt, &format!("dpop-{name}"), id)
        })
        .collect();
    let fx = Fixtures::new();
    let server = auth_server(
        &t,
        &fx,
        keys.iter().map(|(name, ..)| client(name, &crt)).collect(),
    );
    let issuer = server.issuer();
    let stanzas: Vec<String> = keys
        .iter()
        .map(|(name, ..)| {
            stanza(
                &t,
                name,
                "ec",
                &crt,
                &issuer,
                &dpop_key(&format!("dpop-{name}"), &dpop_pin_file),
            )
        })
        .collect();
    let mut daemon = start(&t, &allow_list(), &stanzas).await;
    // Each DPoP key is found and logged in to at start-up.
    let deadline = Instant::now() + Duration::from_secs(30);
    while log_lines(&daemon, &["DPoP key verified"]) < keys.len() {
        assert!(Instant::now() < deadline, "{}", daemon.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut client = daemon.client().await;
    let mut thumbprints = Vec::new();
    for ((name, _, alg, _), public) in keys.iter().zip(&publics) {
        let jkt = jwcrypto_thumbprint(public);
        assert_eq!(jkt.len(), 43, "{jkt}");
        let tok = token(&mut client, name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}\n{}", daemon.stderr(), server.log()));
        assert_eq!(tok.token_type, "DPoP");
        assert_eq!(tok.jkt, jkt, "{name}");
        let seen = server.introspect(&tok.access_token).await;
        assert_eq!(seen["active"], true, "{seen}");
        assert_eq!(seen["cnf"]["jkt"], jkt.as_str(), "{name}: {seen}");
        let st = status_of(&mut client, name).await.token_status.unwrap();
        assert_eq!(st.dpop_jkt, jkt);
        assert_eq!(
            st.dpop_key,
            format!(
                "PKCS#11 token {DPOP_TOKEN:?}, key {:?} (module {MODULE})",
                format!("dpop-{name}")
            )
        );

        let htu = "https://rs.example/accounts";
        let p = client
            .agent
            .sign_dpop_proof(pb::SignDpopProofRequest {
                credential: by_name(name),
                htm: "GET".into(),
                htu: htu.into(),
                access_token: tok.access_token.clone(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .into_inner();
        assert_eq!(p.jkt, jkt);
        let out = verify_signed(
            "dpop",
            &json!({"proof": p.proof, "htm": "GET", "htu": htu, "jkt": jkt,
                    "access_token": tok.access_token}),
        );
        assert_eq!(out["ok"], true, "{name}: {out}");
        assert_eq!(out["header"]["alg"], *alg, "{out}");
        jwcrypto_verifies(&p.proof, public, alg);
        thumbprints.push(jkt);
    }
    // Each DPoP key logged in to its token (the credential key to its
    // own): once for the start-up check, which then released the login
    // (no request was using it yet), and once for the first request.
    for (name, ..) in &keys {
        let who = format!("credential={name} (DPoP key)");
        assert_eq!(
            log_lines(&daemon, &["presenting the PIN to the token", &who]),
            2,
            "{}",
            daemon.stderr()
        );
    }

    // A restart: the same key, the same thumbprint (a generated key's
    // would be new).
    daemon.terminate();
    drop(client);
    let daemon = start(&t, &allow_list(), &stanzas).await;
    // After the start-up checks (each logs in, then out: no request yet).
    let deadline = Instant::now() + Duration::from_secs(30);
    while log_lines(&daemon, &["DPoP key verified"]) < keys.len() {
        assert!(Instant::now() < deadline, "{}", daemon.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut client = daemon.client().await;
    let tok = token(&mut client, "es").await.unwrap();
    assert_eq!(tok.jkt, thumbprints[0]);

    // Lock reaches the DPoP key: logged out, its PIN nowhere in memory
    // (where it was found while held).
    assert!(
        contains(&memory_of(daemon.pid()), dpop_pin.as_bytes()),
        "the DPoP key's PIN is not found while held: the scan cannot see it"
    );
    client.admin.lock(pb::LockRequest {}).await.unwrap();
    // The start-up check's release of the login, then Lock's (each a
    // logout, or a release while another DPoP key on the token holds the
    // shared login).
    let es = "credential=es (DPoP key)";
    assert_eq!(
        log_lines(&daemon, &["logged out of the token", es])
            + log_lines(&daemon, &["released the token login", es]),
        2,
        "{}",
        daemon.stderr()
    );
    let regions = memory_of(daemon.pid());
    assert!(
        !contains(&regions, dpop_pin.as_bytes()),
        "the DPoP key's PIN is in memory after Lock"
    );
    let e = token(&mut client, "es").await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e}");
    // Unlock proves the DPoP key's PIN again; the thumbprint is unchanged.
    let u = client
        .admin
        .unlock(pb::UnlockRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(u.errors.is_empty(), "{u:?}");
    assert!(u.unlocked.iter().any(|n| n == "es"), "{u:?}");
    let tok = token(&mut client, "es").await.unwrap();
    assert_eq!(tok.jkt, thumbprints[0]);
    let seen = server.introspect(&tok.access_token).await;
    assert_eq!(seen["cnf"]["jkt"], thumbprints[0].as_str(), "{seen}");
}

/// A wrong PIN for the DPoP key: GetAccessToken is FAILED_PRECONDITION
/// naming the token (the PIN never shown), the rejected PIN is never
/// presented again, the credential's own key keeps signing, and storing
/// the right PIN brings the DPoP key back.
#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_dpop_pin_fails_tokens_only_and_is_never_tried_twice() {
    let t = Token::new("fapi-cred-pin");
    let crt = t.keypair("EC:prime256v1", "ec", "01");
    let dpop_pin = "dpop-right-pin-4711";
    second_token(&t, DPOP_TOKEN, dpop_pin);
    let public = keypair_without_cert(&t, DPOP_TOKEN, dpop_pin, "EC:prime256v1", "dpop", "0a");
    let pin_file = t.pin_file("dpop", "not-the-dpop-pin");
    let fx = Fixtures::new();
    let server = auth_server(&t, &fx, vec![client("es", &crt)]);
    let issuer = server.issuer();
    let daemon = start(
        &t,
        &allow_list(),
        &[stanza(
            &t,
            "es",
            "ec",
            &crt,
            &issuer,
            &dpop_key("dpop", &pin_file),
        )],
    )
    .await;
    // The start-up check finds the wrong PIN before any request.
    let deadline = Instant::now() + Duration::from_secs(30);
    while log_lines(&daemon, &["DPoP key check failed", "CKR_PIN_INCORRECT"]) < 1 {
        assert!(Instant::now() < deadline, "{}", daemon.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut client = daemon.client().await;
    let e = token(&mut client, "es").await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e}");
    for part in [
        "PKCS#11 token \"fapi-dpop\"",
        "CKR_PIN_INCORRECT",
        "oauth.dpop_key",
        "credential \"es\"",
    ] {
        assert!(e.message().contains(part), "{part}: {}", e.message());
    }
    assert!(!e.message().contains("not-the-dpop-pin"), "{}", e.message());
    // The credential's own key, on the other token, keeps serving.
    let r = sign(&mut client, "es").await.unwrap();
    verify_with_python(&r.assertion, &crt, "ES256", &issuer, "es", &[]);

    // Each request after the backoff fetches the PIN again, but the
    // rejected one is never presented again.
    let deadline = Instant::now() + Duration::from_secs(30);
    while log_lines(
        &daemon,
        &["the token rejected this PIN before", "(DPoP key)"],
    ) < 2
    {
        assert!(Instant::now() < deadline, "{}", daemon.stderr());
        let e = token(&mut client, "es").await.unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition, "{e}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let presented = || log_lines(&daemon, &["presenting the PIN to the token", "(DPoP key)"]);
    assert_eq!(presented(), 1, "{}", daemon.stderr());
    sign(&mut client, "es").await.unwrap();

    // Lock and Unlock: the credential unlocks, the DPoP key's failure is
    // reported, and the rejected PIN is still not presented.
    client.admin.lock(pb::LockRequest {}).await.unwrap();
    let u = client
        .admin
        .unlock(pb::UnlockRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(u.unlocked.iter().any(|n| n == "es"), "{u:?}");
    assert_eq!(u.errors.len(), 1, "{u:?}");
    assert!(
        u.errors[0].starts_with("es (oauth.dpop_key): ")
            && u.errors[0].contains("CKR_PIN_INCORRECT"),
        "{u:?}"
    );
    assert_eq!(presented(), 1, "{}", daemon.stderr());
    sign(&mut client, "es").await.unwrap();

    // The operator stores the right PIN: the DPoP key recovers.
    std::fs::write(&pin_file, format!("{dpop_pin}\n")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let tok = loop {
        match token(&mut client, "es").await {
            Ok(tok) => break tok,
            Err(e) => {
                assert!(Instant::now() < deadline, "{e}\n{}", daemon.stderr());
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    };
    assert_eq!(tok.jkt, jwcrypto_thumbprint(&public));
    assert_eq!(presented(), 2, "{}", daemon.stderr());
}

/// The DPoP key's login follows the key TTLs through the daemon's sweep:
/// idle past `key_idle_ttl_seconds`, it logs out; the next token request
/// logs in again with the held PIN.
#[tokio::test(flavor = "multi_thread")]
async fn the_dpop_key_login_ends_after_the_idle_ttl() {
    let t = Token::new("fapi-cred-ttl");
    let crt = t.keypair("EC:prime256v1", "ec", "01");
    let dpop_pin = "dpop-ttl-pin-0815";
    second_token(&t, DPOP_TOKEN, dpop_pin);
    keypair_without_cert(&t, DPOP_TOKEN, dpop_pin, "EC:prime256v1", "dpop", "0a");
    let pin_file = t.pin_file("dpop", dpop_pin);
    let fx = Fixtures::new();
    let server = auth_server(&t, &fx, vec![client("es", &crt)]);
    let issuer = server.issuer();
    let agent = format!("{}\nkey_idle_ttl_seconds = 1", allow_list());
    let daemon = start(
        &t,
        &agent,
        &[stanza(
            &t,
            "es",
            "ec",
            &crt,
            &issuer,
            &dpop_key("dpop", &pin_file),
        )],
    )
    .await;
    let logged_out = || log_lines(&daemon, &["logged out of the token", "(DPoP key)"]);
    let presented = || log_lines(&daemon, &["presenting the PIN to the token", "(DPoP key)"]);
    // The start-up check logs in and, no request using the login, out.
    let deadline = Instant::now() + Duration::from_secs(30);
    while log_lines(&daemon, &["DPoP key verified"]) == 0 || logged_out() == 0 {
        assert!(Instant::now() < deadline, "{}", daemon.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!((presented(), logged_out()), (1, 1), "{}", daemon.stderr());
    let mut client = daemon.client().await;
    token(&mut client, "es").await.unwrap();
    while logged_out() == 1 {
        assert!(Instant::now() < deadline, "{}", daemon.stderr());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(presented(), 2, "{}", daemon.stderr());
    let p = client
        .agent
        .sign_dpop_proof(pb::SignDpopProofRequest {
            credential: by_name("es"),
            htm: "GET".into(),
            htu: "https://rs.example/".into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", daemon.stderr()))
        .into_inner();
    assert_eq!(presented(), 3, "{}", daemon.stderr());
    let out = verify_signed(
        "dpop",
        &json!({"proof": p.proof, "htm": "GET", "htu": "https://rs.example/", "jkt": p.jkt}),
    );
    assert_eq!(out["ok"], true, "{out}");
}

/// Config refusals: a DPoP key module off the allow-list (named by its
/// setting), a DPoP key without DPoP, and dpop_alg beside dpop_key. The
/// daemon does not start with such a config.
#[tokio::test]
async fn dpop_key_configs_that_cannot_work_are_refused() {
    let t = Token::new("fapi-refuse");
    let crt = t.keypair("EC:prime256v1", "ec", "01");
    let pin_file = t.pin_file("dpop", &t.pin);
    let other = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";
    for (oauth, expected) in [
        (
            dpop_key("dpop", &pin_file).replace(MODULE, other),
            vec!["oauth.dpop_key.pkcs11.module", other, "pkcs11_modules"],
        ),
        (
            format!(
                "sender_constraint = \"mtls\"\n{}",
                dpop_key("dpop", &pin_file)
            ),
            vec!["oauth.dpop_key", "sender_constraint = \"dpop\""],
        ),
        (
            format!("dpop_alg = \"EdDSA\"\n{}", dpop_key("dpop", &pin_file)),
            vec!["oauth.dpop_alg does not apply to oauth.dpop_key"],
        ),
    ] {
        let path = t.dir.path().join("refused.toml");
        std::fs::write(
            &path,
            config(
                &allow_list(),
                &[stanza(&t, "es", "ec", &crt, "https://as.example", &oauth)],
            ),
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
            .args(["check", "--config"])
            .arg(&path)
            .envs(t.env())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        for part in &expected {
            assert!(stderr.contains(part), "{part}: {stderr}");
        }
        let socket = t.dir.path().join("refused.sock");
        let mut child = common::run_cmd(&path, &socket)
            .envs(t.env())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon started with {path:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(!status.success());
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(stderr.contains(expected[0]), "{stderr}");
    }
}
