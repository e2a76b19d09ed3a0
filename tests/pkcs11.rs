//! The PKCS#11 key backend against SoftHSM2, with a token initialised at
//! test time in a temporary directory (SOFTHSM2_CONF, passed to the
//! daemon too): keys generated on the token with OpenSC's pkcs11-tool,
//! certificates made with openssl from the exported public keys, and every
//! signature verified by PyJWT and jwcrypto.

mod common;

use std::time::{Duration, Instant};

use common::memscan::{contains, memory_of};
use common::softhsm::{ISSUER, MODULE, SO_PIN, Token, allow_list, start, status_of};
use common::{
    Daemon, Fixtures, KeyFormat, KeyType, by_name, config, encrypt, openssl, run, sign,
    verify_with_python,
};
use fapi_agent::service::pb;

#[tokio::test]
async fn token_keys_sign_es256_ps256_and_eddsa_verified_independently() {
    let t = Token::new("fapi-sign");
    let ec_crt = t.keypair("EC:prime256v1", "ec", "01");
    let rsa_crt = t.keypair("rsa:2048", "rsa", "02");
    let ed_crt = t.keypair("EC:edwards25519", "ed", "03");
    // The EC key's certificate comes from the token, the others from files.
    t.store_cert(&ec_crt, "ec", "01");
    let pin = t.pin_file("user", &t.pin);
    // Named by an RFC 7512 URI (token label and CKA_ID).
    let ed = t.stanza("ed", "ed", Some(&ed_crt), &pin, "").replace(
        "token_label = \"fapi-sign\", key_label = \"ed\"",
        "uri = \"pkcs11:token=fapi%2Dsign;id=%03;type=private\"",
    );
    assert!(ed.contains("uri = ") && !ed.contains("key_label"), "{ed}");
    let daemon = start(
        &t,
        &allow_list(),
        &[
            t.stanza("es", "ec", None, &pin, ""),
            t.stanza("ps", "rsa", Some(&rsa_crt), &pin, ""),
            ed,
        ],
    )
    .await;
    let mut client = daemon.client().await;
    for (name, crt, alg) in [
        ("es", &ec_crt, "ES256"),
        ("ps", &rsa_crt, "PS256"),
        ("ed", &ed_crt, "EdDSA"),
    ] {
        let r = sign(&mut client, name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", daemon.stderr()));
        let report = verify_with_python(&r.assertion, crt, alg, ISSUER, name, &[]);
        assert_eq!(report["header"]["alg"], alg, "{report}");
    }
    // ES256's signature is the token's raw R‖S: 64 bytes.
    let es = sign(&mut client, "es").await.unwrap();
    let sig = es.assertion.rsplit('.').next().unwrap();
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap();
    assert_eq!(raw.len(), 64);

    // Status names the backend, the token and the key's flags.
    let st = status_of(&mut client, "es").await;
    let desc = st.passphrase_source.unwrap().description;
    assert!(desc.contains("backend pkcs11"), "{desc}");
    assert!(desc.contains("PKCS#11 token \"fapi-sign\""), "{desc}");
    assert!(desc.contains("CKA_EXTRACTABLE false"), "{desc}");
    assert!(desc.contains("CKA_NEVER_EXTRACTABLE true"), "{desc}");
    assert_eq!(
        st.state,
        pb::CredentialState::Available as i32,
        "{}",
        st.error
    );
    let cli = daemon.cli(&["status"]);
    let text = String::from_utf8_lossy(&cli.stdout);
    assert!(text.contains("backend pkcs11"), "{text}");
}

#[tokio::test]
async fn token_rsa_key_decrypts_oaep_and_v1_5() {
    let t = Token::new("fapi-decrypt");
    let crt = t.keypair("rsa:2048", "rsa", "02");
    let pin = t.pin_file("user", &t.pin);
    let daemon = start(
        &t,
        &allow_list(),
        &[t.stanza(
            "rsa",
            "rsa",
            Some(&crt),
            &pin,
            "decrypt_paddings = [\"pkcs1-v1_5\", \"oaep-sha1\", \"oaep-sha256\"]",
        )],
    )
    .await;
    let mut client = daemon.client().await;
    let decrypt = |ct: Vec<u8>, padding: pb::Padding| pb::DecryptSecretRequest {
        credential: by_name("rsa"),
        ciphertext: Some(pb::decrypt_secret_request::Ciphertext::CiphertextRaw(ct)),
        padding: padding.into(),
    };
    for padding in [pb::Padding::Pkcs1V15, pb::Padding::OaepSha1] {
        let secret = format!("shared secret under {padding:?}");
        let ct = encrypt(t.dir.path(), &crt, secret.as_bytes(), padding);
        let r = client
            .agent
            .decrypt_secret(decrypt(ct, padding))
            .await
            .unwrap_or_else(|e| panic!("{padding:?}: {e}\n{}", daemon.stderr()))
            .into_inner();
        assert_eq!(r.plaintext, secret.as_bytes(), "{padding:?}");
    }
    // SoftHSM 2.6 implements OAEP with SHA-1 only: OpenSC's own
    // pkcs11-tool gets CKR_ARGUMENTS_BAD for SHA-256, and the daemon
    // answers its one decryption-failed error.
    let ct = encrypt(t.dir.path(), &crt, b"oaep-256", pb::Padding::OaepSha256);
    std::fs::write(t.dir.path().join("ct256.bin"), &ct).unwrap();
    let out = t
        .tool()
        .args([
            "--login",
            "--pin",
            &t.pin,
            "--decrypt",
            "--id",
            "02",
            "-m",
            "RSA-PKCS-OAEP",
        ])
        .args(["--hash-algorithm", "SHA256", "--mgf", "MGF1-SHA256", "-i"])
        .arg(t.dir.path().join("ct256.bin"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("CKR_ARGUMENTS_BAD"),
        "SoftHSM now has OAEP-SHA256? {said}"
    );
    let e = client
        .agent
        .decrypt_secret(decrypt(ct, pb::Padding::OaepSha256))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e}");
}

/// How often the daemon presented a PIN to the token (its debug log).
fn logins(daemon: &Daemon) -> usize {
    daemon
        .stderr()
        .matches("presenting the PIN to the token")
        .count()
}

#[tokio::test]
async fn a_wrong_pin_is_failed_precondition_naming_the_token_and_never_tried_twice() {
    let t = Token::new("fapi-pin");
    let crt = t.keypair("EC:prime256v1", "ec", "01");
    let pin = t.pin_file("user", "not-the-pin");
    let fx = Fixtures::new();
    let soft = fx.credential("soft", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let daemon = start(
        &t,
        &allow_list(),
        &[
            t.stanza("hsm", "ec", Some(&crt), &pin, ""),
            soft.toml("soft", ISSUER, ""),
        ],
    )
    .await;
    let mut client = daemon.client().await;
    let e = sign(&mut client, "hsm").await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{e}");
    assert!(
        e.message().contains("PKCS#11 token \"fapi-pin\""),
        "{}",
        e.message()
    );
    assert!(e.message().contains("CKR_PIN_INCORRECT"), "{}", e.message());
    assert!(!e.message().contains("not-the-pin"), "{}", e.message());

    // The software credential keeps serving, and says where its key is.
    let r = sign(&mut client, "soft").await.unwrap();
    verify_with_python(&r.assertion, &soft.cert, "ES256", ISSUER, "soft", &[]);
    let b = status_of(&mut client, "soft").await.key_backend.unwrap();
    assert_eq!(
        (b.kind.as_str(), b.location, b.extractable, b.token_flags),
        (
            "software",
            format!("key file {}", soft.key.display()),
            true,
            None
        )
    );
    // The token key's flags are unknown until a login reads them.
    let b = status_of(&mut client, "hsm").await.key_backend.unwrap();
    assert_eq!((b.kind.as_str(), b.token_flags), ("pkcs11", None));

    // Requests and background retries fetch the PIN again after each
    // backoff, but the rejected PIN is never presented again: wait until
    // the daemon has refused it unpresented at least twice.
    let deadline = Instant::now() + Duration::from_secs(30);
    while daemon
        .stderr()
        .matches("the token rejected this PIN before")
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "{}", daemon.stderr());
        let e = sign(&mut client, "hsm").await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{e}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(logins(&daemon), 1, "{}", daemon.stderr());

    // The operator stores the right PIN: the credential recovers.
    std::fs::write(&pin, format!("{}\n", t.pin)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let r = loop {
        match sign(&mut client, "hsm").await {
            Ok(r) => break r,
            Err(e) => {
                assert!(Instant::now() < deadline, "{e}\n{}", daemon.stderr());
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    };
    verify_with_python(&r.assertion, &crt, "ES256", ISSUER, "hsm", &[]);
    assert_eq!(logins(&daemon), 2, "{}", daemon.stderr());
}

#[tokio::test]
async fn a_module_outside_the_allow_list_is_refused_and_never_loaded() {
    let t = Token::new("fapi-allow");
    let crt = t.keypair("EC:prime256v1", "ec", "01");
    let pin = t.pin_file("user", &t.pin);
    let fx = Fixtures::new();
    let soft = fx.credential("soft", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let daemon = start(
        &t,
        "pkcs11_modules = [\"/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so\"]",
        &[
            t.stanza("hsm", "ec", Some(&crt), &pin, ""),
            soft.toml("soft", ISSUER, ""),
        ],
    )
    .await;
    let mut client = daemon.client().await;
    let e = sign(&mut client, "hsm").await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{e}");
    assert!(e.message().contains(MODULE), "{}", e.message());
    assert!(e.message().contains("pkcs11_modules"), "{}", e.message());
    let st = status_of(&mut client, "hsm").await;
    assert_eq!(st.state, pb::CredentialState::Error as i32);
    assert!(st.error.contains("pkcs11_modules"), "{}", st.error);
    sign(&mut client, "soft").await.unwrap();
    // The library was never mapped into the daemon.
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", daemon.pid())).unwrap();
    assert!(
        !maps.contains("libsofthsm2"),
        "the refused module is loaded"
    );
}

#[tokio::test]
async fn a_token_key_is_never_exported_and_never_left_the_token() {
    let t = Token::new("fapi-export");
    let crt = t.keypair("rsa:2048", "rsa", "02");
    let pin = t.pin_file("user", &t.pin);
    let daemon = start(
        &t,
        &allow_list(),
        &[t.stanza("hsm", "rsa", Some(&crt), &pin, "export = true")],
    )
    .await;
    let mut client = daemon.client().await;
    sign(&mut client, "hsm").await.unwrap();
    let e = client
        .agent
        .get_key_material(pb::GetKeyMaterialRequest {
            credential: by_name("hsm"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{e}");
    assert!(
        e.message().contains("CKA_EXTRACTABLE false"),
        "{}",
        e.message()
    );
    assert!(e.message().contains("fapi-export"), "{}", e.message());

    // Independently, OpenSC reads the key object's attributes: generated
    // on the token, never extractable (pkcs11-tool prints "extractable"
    // only for CKA_EXTRACTABLE true).
    let out = run(t.tool().args([
        "--login",
        "--pin",
        &t.pin,
        "--list-objects",
        "--type",
        "privkey",
        "--id",
        "02",
    ]));
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let access = listing
        .lines()
        .find_map(|l| l.trim().strip_prefix("Access:"))
        .unwrap_or_else(|| panic!("{listing}"));
    let flags: Vec<&str> = access.split(',').map(str::trim).collect();
    assert!(flags.contains(&"never extractable"), "{listing}");
    assert!(!flags.contains(&"extractable"), "{listing}");
    assert!(flags.contains(&"local"), "{listing}");

    // ListCredentials and Status say the same: where the key is, and that
    // it cannot leave (the flags read by the daemon's login, which the
    // signature above made).
    let listed = client
        .agent
        .list_credentials(pb::ListCredentialsRequest {})
        .await
        .unwrap()
        .into_inner()
        .credentials;
    let b = listed[0].key_backend.clone().unwrap();
    assert_eq!(b.kind, "pkcs11");
    assert_eq!(b.token, "PKCS#11 token \"fapi-export\"");
    assert_eq!(b.location, "PKCS#11 token \"fapi-export\", key \"rsa\"");
    assert_eq!(b.module, MODULE);
    assert!(!b.extractable);
    assert_eq!(
        b.token_flags,
        Some(pb::Pkcs11KeyFlags {
            extractable: flags.contains(&"extractable"),
            never_extractable: flags.contains(&"never extractable"),
            sensitive: flags.contains(&"sensitive"),
        })
    );
    assert_eq!(status_of(&mut client, "hsm").await.key_backend, Some(b));
    // The CLI prints them.
    let out = run(std::process::Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
        .args(["status", "--socket"])
        .arg(&daemon.socket));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains(&format!(
            "key: PKCS#11 token \"fapi-export\", key \"rsa\" (module {MODULE}); stays on the \
             token (CKA_EXTRACTABLE false, CKA_NEVER_EXTRACTABLE true, CKA_SENSITIVE true)"
        )),
        "{text}"
    );
    assert!(text.contains("PIN: "), "{text}");
}

#[tokio::test]
async fn lock_logs_out_and_wipes_the_pin() {
    let t = Token::new("fapi-lock");
    let crt = t.keypair("EC:prime256v1", "ec", "01");
    let pin = t.pin_file("user", &t.pin);
    let daemon = start(
        &t,
        &allow_list(),
        &[t.stanza("hsm", "ec", Some(&crt), &pin, "")],
    )
    .await;
    let mut client = daemon.client().await;
    sign(&mut client, "hsm").await.unwrap();
    assert!(
        status_of(&mut client, "hsm").await.key_decrypted,
        "logged in"
    );
    client.admin.lock(pb::LockRequest {}).await.unwrap();
    let st = status_of(&mut client, "hsm").await;
    assert!(!st.key_decrypted, "still logged in after Lock");
    assert!(!st.passphrase_source.unwrap().held, "PIN held after Lock");
    assert!(
        daemon.stderr().contains("logged out of the token"),
        "{}",
        daemon.stderr()
    );
    let e = sign(&mut client, "hsm").await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{e}");
    // The PIN is nowhere in the daemon's memory.
    let regions = memory_of(daemon.pid());
    assert!(
        !contains(&regions, t.pin.as_bytes()),
        "the PIN is in memory after Lock"
    );
    // Unlock logs in again.
    client.admin.unlock(pb::UnlockRequest {}).await.unwrap();
    let r = sign(&mut client, "hsm").await.unwrap();
    verify_with_python(&r.assertion, &crt, "ES256", ISSUER, "hsm", &[]);
}

/// mTLS to the authorization server's token endpoint (oidc-provider,
/// tls_client_auth) and through the egress proxy to a bank API: each
/// handshake's CertificateVerify is signed by the token key through the
/// key handle, and the server binds the token to the certificate.
#[tokio::test(flavor = "multi_thread")]
async fn mtls_token_fetch_and_proxy_are_signed_by_the_token_key() {
    use common::oauth::{AuthServer, Pki};
    let t = Token::new("fapi-mtls");
    t.keypair("EC:prime256v1", "ec", "01");
    let fx = Fixtures::new();
    let pki = Pki::new(fx.path());
    // A CA-issued certificate for the token's public key: a CSR from a
    // throwaway key, its public key replaced by the token's.
    let throwaway = fx.plain_key("throwaway", KeyType::P256);
    openssl(
        fx.path(),
        &[
            "req",
            "-new",
            "-key",
            throwaway.to_str().unwrap(),
            "-subj",
            "/O=fapi-agent test/CN=hsm-mtls",
            "-out",
            "hsm.csr",
        ],
    );
    let public = t.dir.path().join("ec.pub.pem");
    openssl(
        fx.path(),
        &[
            "x509",
            "-req",
            "-in",
            "hsm.csr",
            "-force_pubkey",
            public.to_str().unwrap(),
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "hsm.crt",
        ],
    );
    let crt = fx.path().join("hsm.crt");
    let server = AuthServer::start(
        &pki,
        serde_json::json!({
            "profile": "fapi2",
            "clients": [
                {"client_id": "hsm", "token_endpoint_auth_method": "tls_client_auth",
                 "tls_client_auth_subject_dn": "CN=hsm-mtls,O=fapi-agent test",
                 "tls_client_certificate_bound_access_tokens": true, "scope": "accounts"},
            ],
        }),
    );
    let issuer = server.issuer();
    let pin = t.pin_file("user", &t.pin);
    let stanza = t
        .stanza("hsm", "ec", Some(&crt), &pin, "export = true")
        .replace(ISSUER, &issuer);
    // And through the egress proxy to a bank API that wants the token
    // over a TLS connection made with the same key.
    let bank = common::bank::Bank::start(
        &pki,
        &server,
        serde_json::json!({"token_binding": "mtls", "http2": false}),
    );
    let oauth = format!(
        "[credentials.hsm.oauth]\nca_file = {ca:?}\nauth_method = \"tls_client_auth\"\n\
         sender_constraint = \"mtls\"\nscopes = [\"accounts\"]\n\
         [proxy]\n[upstreams.gateway]\nbase_url = \"{}/\"\ncredential = \"hsm\"\ntoken = \"mtls\"\n\
         ca_file = {ca:?}\n",
        bank.url(),
        ca = pki.ca()
    );
    let daemon = start(&t, &allow_list(), &[stanza + &oauth]).await;
    let mut client = daemon.client().await;
    let tok = client
        .agent
        .get_access_token(pb::GetAccessTokenRequest {
            credential: by_name("hsm"),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}\n{}", daemon.stderr(), server.log()))
        .into_inner();
    let facts = common::facts(&mut client, "hsm").await;
    let seen = server.introspect(&tok.access_token).await;
    assert_eq!(seen["cnf"]["x5t#S256"], facts.x5t_s256.as_str(), "{seen}");
    assert_eq!(seen["client_id"], "hsm");

    let proxy = daemon.socket.with_file_name("proxy.sock");
    let a = common::bank::curl(Some(&proxy), &["http://gateway/accounts"], None).await;
    assert_eq!(
        a.status,
        200,
        "{}\n{}",
        String::from_utf8_lossy(&a.body),
        bank.log()
    );
    let seen = &a.json()["seen"];
    assert_eq!(seen["token_binding"], "mtls", "{seen}");
    assert_eq!(seen["x5t#S256"], facts.x5t_s256.as_str(), "{seen}");
}

/// The login follows the key TTLs like a decrypted key: idle past
/// `key_idle_ttl_seconds`, the daemon logs out; the next request logs in
/// again with the held PIN.
#[tokio::test]
async fn the_login_ends_after_the_idle_ttl_and_comes_back_on_use() {
    let t = Token::new("fapi-ttl");
    let crt = t.keypair("EC:prime256v1", "ec", "01");
    let pin = t.pin_file("user", &t.pin);
    let agent = format!("{}\nkey_idle_ttl_seconds = 1", allow_list());
    let daemon = start(&t, &agent, &[t.stanza("hsm", "ec", Some(&crt), &pin, "")]).await;
    let mut client = daemon.client().await;
    sign(&mut client, "hsm").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while status_of(&mut client, "hsm").await.key_decrypted {
        assert!(Instant::now() < deadline, "{}", daemon.stderr());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        daemon.stderr().contains("logged out of the token"),
        "{}",
        daemon.stderr()
    );
    let before = logins(&daemon);
    let r = sign(&mut client, "hsm").await.unwrap();
    verify_with_python(&r.assertion, &crt, "ES256", ISSUER, "hsm", &[]);
    assert_eq!(logins(&daemon), before + 1, "{}", daemon.stderr());
}

/// The token goes away under the daemon's open sessions (calls fail with
/// FAILED_PRECONDITION naming it) and comes back (initialised again with
/// the same label, PIN and imported key, as a reinserted card would): the
/// next request finds no session, initialises the module again (SoftHSM
/// lists only the tokens present at C_Initialize), logs in with the held
/// PIN and succeeds.
#[tokio::test]
async fn a_reinserted_token_is_logged_in_again() {
    let t = Token::new("fapi-reinsert");
    let key = Imported::new();
    key.write_to(&t);
    let pin = t.pin_file("user", &t.pin);
    let daemon = start(
        &t,
        &allow_list(),
        &[t.stanza("hsm", "ec", Some(&key.crt), &pin, "")],
    )
    .await;
    let mut client = daemon.client().await;
    sign(&mut client, "hsm").await.unwrap();
    run(t
        .cmd("softhsm2-util")
        .args(["--delete-token", "--token", &t.label]));
    // Gone: UNAVAILABLE (it passes) naming the token and what to do, not
    // an internal error.
    let e = sign(&mut client, "hsm").await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unavailable, "{e}");
    assert!(
        e.message()
            .contains("PKCS#11 token \"fapi-reinsert\": no slot holds it: insert the token"),
        "{}",
        e.message()
    );
    init_token(&t);
    key.write_to(&t);
    let r = sign(&mut client, "hsm")
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", daemon.stderr()));
    verify_with_python(&r.assertion, &key.crt, "ES256", ISSUER, "hsm", &[]);
    assert!(
        daemon.stderr().contains("token session lost"),
        "{}",
        daemon.stderr()
    );
}

/// A reload that changes the credential replaces its key: the old one
/// gives up its share of the token login, so a Lock afterwards logs out
/// of the token (not "other credentials still use it").
#[tokio::test]
async fn a_reloaded_credential_hands_over_the_login() {
    let t = Token::new("fapi-reload");
    let crt = t.keypair("EC:prime256v1", "ec", "01");
    let pin = t.pin_file("user", &t.pin);
    // Reloaded by the RPC only, not by the file watcher as well.
    let agent = format!("{}\nwatch_files = false", allow_list());
    let daemon = start(&t, &agent, &[t.stanza("hsm", "ec", Some(&crt), &pin, "")]).await;
    let mut client = daemon.client().await;
    sign(&mut client, "hsm").await.unwrap();
    daemon.rewrite_config(&config(
        &agent,
        &[t.stanza("hsm", "ec", Some(&crt), &pin, "export = true")],
    ));
    let r = client
        .admin
        .reload(pb::ReloadRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(format!("{r:?}").contains("hsm"), "{r:?}");
    let r = sign(&mut client, "hsm").await.unwrap();
    verify_with_python(&r.assertion, &crt, "ES256", ISSUER, "hsm", &[]);
    // While the reload ran, old and new key shared the login; the old
    // one is gone now, so Lock is the last holder's logout.
    let before = daemon.stderr().len();
    client.admin.lock(pb::LockRequest {}).await.unwrap();
    let log = daemon.stderr();
    let after_lock = &log[before..];
    assert!(after_lock.contains("logged out of the token"), "{log}");
    assert!(!after_lock.contains("released the token login"), "{log}");
}

/// A PKCS#8 key written onto the token with pkcs11-tool (as an operator
/// imports one), so the same key can come back after the token is
/// deleted and initialised again, and its private components are known
/// to the memory scan.
struct Imported {
    fx: Fixtures,
    name: String,
    plain: std::path::PathBuf,
    crt: std::path::PathBuf,
}

impl Imported {
    fn new() -> Imported {
        Imported::of(KeyType::P256, "imported")
    }

    fn of(kind: KeyType, name: &str) -> Imported {
        let fx = Fixtures::new();
        let plain = fx.plain_key(name, kind);
        let crt = fx.cert(name, &plain);
        openssl(
            fx.path(),
            &[
                "pkcs8",
                "-topk8",
                "-nocrypt",
                "-in",
                plain.to_str().unwrap(),
                "-outform",
                "DER",
                "-out",
                &format!("{name}.pk8"),
            ],
        );
        Imported {
            fx,
            name: name.into(),
            plain,
            crt,
        }
    }

    fn write_to(&self, t: &Token) {
        self.write_as(t, "ec", "01");
    }

    fn write_as(&self, t: &Token, label: &str, id: &str) {
        run(t
            .tool()
            .args(["--login", "--pin", &t.pin, "--write-object"])
            .arg(self.fx.path().join(format!("{}.pk8", self.name)))
            .args(["--type", "privkey", "--label", label, "--id", id]));
    }

    /// The key's secret components as they may sit in memory: big-endian
    /// bytes (DER, PKCS#11 attributes) and reversed (OpenSSL's bignum
    /// limbs on this little-endian machine).
    fn secret_forms(&self) -> Vec<(String, Vec<u8>)> {
        let k = openssl::pkey::PKey::private_key_from_pem(&std::fs::read(&self.plain).unwrap())
            .unwrap();
        let parts: Vec<(&str, Vec<u8>)> = if let Ok(ec) = k.ec_key() {
            vec![("scalar", ec.private_key().to_vec_padded(32).unwrap())]
        } else {
            let rsa = k.rsa().unwrap();
            vec![
                ("d", rsa.d().to_vec()),
                ("p", rsa.p().unwrap().to_vec()),
                ("q", rsa.q().unwrap().to_vec()),
            ]
        };
        let mut forms = Vec::new();
        for (what, be) in parts {
            let le = be.iter().rev().copied().collect();
            forms.push((format!("{} {what}", self.name), be));
            forms.push((format!("{} {what} (limbs)", self.name), le));
        }
        forms
    }
}

fn init_token(t: &Token) {
    run(t
        .cmd("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            &t.label,
            "--so-pin",
            SO_PIN,
        ])
        .args(["--pin", &t.pin]));
}

#[tokio::test]
async fn a_token_inserted_after_start_is_loaded_in_the_background() {
    let t = Token::new("fapi-late");
    let key = Imported::new();
    run(t
        .cmd("softhsm2-util")
        .args(["--delete-token", "--token", &t.label]));
    let pin = t.pin_file("user", &t.pin);
    let daemon = start(
        &t,
        &allow_list(),
        &[t.stanza("hsm", "ec", Some(&key.crt), &pin, "")],
    )
    .await;
    let mut client = daemon.client().await;
    // Not there: the daemon serves, the credential says why and that it
    // retries, and a request is UNAVAILABLE (it passes), not an error of
    // the caller's.
    let c = status_of(&mut client, "hsm").await;
    assert_eq!(c.state(), pb::CredentialState::Error);
    assert!(
        c.error
            .contains("PKCS#11 token \"fapi-late\": no slot holds it: insert the token")
            && c.error.contains("retried in the background"),
        "{}",
        c.error
    );
    let e = sign(&mut client, "hsm").await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unavailable, "{e}");

    // Inserted: loaded with no reload, request or restart.
    init_token(&t);
    key.write_to(&t);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let c = status_of(&mut client, "hsm").await;
        if c.state() == pb::CredentialState::Available {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{}\n{}",
            c.error,
            daemon.stderr()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = sign(&mut client, "hsm").await.unwrap();
    verify_with_python(&r.assertion, &key.crt, "ES256", ISSUER, "hsm", &[]);
}

/// Every message signature with keys on the token, verified by the same
/// independent verifiers as the software keys' (tests/signing.rs): UK OB
/// detached JWS and Open Finance Brasil (PyJWT, jwcrypto), RFC 9421 with
/// rsa-pss-sha512 and ecdsa-p256-sha256 (http-message-signatures), Berlin
/// Group rsa-sha256 (openssl CLI, httpsig).
#[tokio::test(flavor = "multi_thread")]
async fn message_signatures_by_token_keys_verified_independently() {
    use base64::Engine;
    use serde_json::json;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let t = Token::new("fapi-msg");
    let rsa_crt = t.keypair("rsa:2048", "rsa", "01");
    let ec_crt = t.keypair("EC:prime256v1", "ec", "02");
    let pin = t.pin_file("user", &t.pin);
    let iss = "0015800001041REAAY/2kiXQyo0tedjW2somjSgH7";
    let org = "74e929d9-33b6-4d85-8ba7-c146c867a817";
    let daemon = start(
        &t,
        &allow_list(),
        &[
            t.stanza(
                "rsa",
                "rsa",
                Some(&rsa_crt),
                &pin,
                &format!(
                    "[credentials.rsa.ob_uk]\niss = {iss:?}\n\
                     [credentials.rsa.open_finance_brasil]\niss = {org:?}\n"
                ),
            ),
            t.stanza("ec", "ec", Some(&ec_crt), &pin, ""),
        ],
    )
    .await;
    let mut client = daemon.client().await;
    let rsa_pem = std::fs::read_to_string(&rsa_crt).unwrap();
    let ec_pem = std::fs::read_to_string(&ec_crt).unwrap();
    let body = br#"{"Data":{"Initiation":{"InstructedAmount":{"Amount":"10.00"}}},"Risk":{}}"#;

    // UK Open Banking 3.1.4 detached JWS.
    let ob = client
        .agent
        .sign_ob_detached_jws(pb::SignObDetachedJwsRequest {
            credential: by_name("rsa"),
            body: body.to_vec(),
            profile: pb::ObProfile::ObUk314.into(),
        })
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", daemon.stderr()))
        .into_inner();
    let report = common::verify_signed(
        "ob-detached",
        &json!({
            "jws": ob.x_jws_signature, "body_b64": b64(body), "cert_pem": rsa_pem,
            "version": "3.1.4", "max_age": 300,
            "expect": {"iss": iss, "tan": "openbanking.org.uk", "kid": ob.kid},
        }),
    );
    assert_eq!(report["ok"], true, "{report}");

    // Open Finance Brasil body.
    let br = client
        .agent
        .sign_brasil_body(pb::SignBrasilBodyRequest {
            credential: by_name("rsa"),
            data_json: r#"{"payment":{"amount":"100.00"}}"#.into(),
            audience: "aspsp-org".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let report = common::verify_signed(
        "brasil",
        &json!({"jws": br.jws, "cert_pem": rsa_pem, "aud": "aspsp-org", "iss": org,
                "kid": br.kid}),
    );
    assert_eq!(report["ok"], true, "{report}");

    // RFC 9421 with both keys.
    for (name, cert, alg) in [
        ("rsa", &rsa_pem, "rsa-pss-sha512"),
        ("ec", &ec_pem, "ecdsa-p256-sha256"),
    ] {
        let s = client
            .agent
            .sign_http_request(pb::SignHttpRequestRequest {
                credential: by_name(name),
                method: "POST".into(),
                target_uri: "https://bank.example/payments".into(),
                authorization: "DPoP tok-123".into(),
                dpop: "eyJhbGciOiJFUzI1NiJ9.e30.sig".into(),
                covered_headers: vec![],
                body: body.to_vec(),
            })
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .into_inner();
        assert_eq!(s.alg, alg);
        let report = common::verify_signed(
            "rfc9421",
            &json!({
                "method": "POST", "url": s.target_uri,
                "headers": [
                    ["Authorization", "DPoP tok-123"],
                    ["DPoP", "eyJhbGciOiJFUzI1NiJ9.e30.sig"],
                    ["Content-Digest", s.content_digest],
                    ["Signature-Input", s.signature_input],
                    ["Signature", s.signature],
                ],
                "body_b64": b64(body), "cert_pem": cert, "alg": alg, "keyid": s.keyid,
                "expect_components": ["@method", "@target-uri", "authorization", "dpop",
                                      "content-digest"],
                "expect_tag": "fapi-2-request",
            }),
        );
        assert_eq!(report["ok"], true, "{name}: {report}");
    }

    // Berlin Group (rsa-sha256: CKM_RSA_PKCS over the DigestInfo).
    let bg = client
        .agent
        .sign_berlin_group_request(pb::SignBerlinGroupRequestRequest {
            credential: by_name("rsa"),
            x_request_id: String::new(),
            headers: vec![],
            body: body.to_vec(),
        })
        .await
        .unwrap()
        .into_inner();
    let report = common::verify_signed(
        "cavage",
        &json!({
            "method": "POST", "path": "/v1/payments/sepa-credit-transfers",
            "headers": [
                ["X-Request-ID", bg.x_request_id],
                ["Digest", bg.digest],
                ["Signature", bg.signature],
                ["TPP-Signature-Certificate", bg.tpp_signature_certificate],
            ],
            "body_b64": b64(body), "cert_pem": rsa_pem,
        }),
    );
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["checked_by"]["httpsig"], "passed", "{report}");
}

/// SoftHSM runs inside the daemon's process, yet the token keys' private
/// components are nowhere in its memory after signatures and a
/// decryption (a scan of /proc/PID/mem), while a software key in the same
/// daemon, the control, is found: the scan would see them.
#[tokio::test]
async fn the_token_keys_are_not_in_the_daemons_memory() {
    let t = Token::new("fapi-memscan");
    let ec = Imported::of(KeyType::P256, "tok-ec");
    let rsa = Imported::of(KeyType::Rsa2048, "tok-rsa");
    ec.write_as(&t, "ec", "01");
    rsa.write_as(&t, "rsa", "02");
    let fx = Fixtures::new();
    let soft = fx.credential("soft", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let control = Imported {
        name: "software".into(),
        plain: soft.plain_key.clone(),
        crt: soft.cert.clone(),
        fx,
    };
    let pin = t.pin_file("user", &t.pin);
    let daemon = start(
        &t,
        &allow_list(),
        &[
            t.stanza("ec", "ec", Some(&ec.crt), &pin, ""),
            t.stanza(
                "rsa",
                "rsa",
                Some(&rsa.crt),
                &pin,
                "decrypt_paddings = [\"oaep-sha1\"]",
            ),
            soft.toml("soft", ISSUER, ""),
        ],
    )
    .await;
    let mut client = daemon.client().await;
    for _ in 0..10 {
        for (name, crt, alg) in [
            ("ec", &ec.crt, "ES256"),
            ("rsa", &rsa.crt, "PS256"),
            ("soft", &control.crt, "ES256"),
        ] {
            let r = sign(&mut client, name).await.unwrap();
            verify_with_python(&r.assertion, crt, alg, ISSUER, name, &[]);
        }
    }
    let ct = encrypt(
        t.dir.path(),
        &rsa.crt,
        b"a shared secret",
        pb::Padding::OaepSha1,
    );
    let r = client
        .agent
        .decrypt_secret(pb::DecryptSecretRequest {
            credential: by_name("rsa"),
            ciphertext: Some(pb::decrypt_secret_request::Ciphertext::CiphertextRaw(ct)),
            padding: pb::Padding::OaepSha1.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.plaintext, b"a shared secret");

    let memory = memory_of(daemon.pid());
    assert!(
        control
            .secret_forms()
            .iter()
            .any(|(_, f)| contains(&memory, f)),
        "control: the software key is not found"
    );
    for key in [&ec, &rsa] {
        for (what, form) in key.secret_forms() {
            assert!(
                !contains(&memory, &form),
                "{what} is in the daemon's memory"
            );
        }
    }
}
