//! Credential lifecycle: two live credentials per client, expiry while
//! running, change events, hot reload (SIGHUP, Admin.Reload, file changes),
//! rotation under load with zero failed requests, and enrollment.

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use fapi_agent::client::Client;
use fapi_agent::service::pb;
use pb::CredentialEventKind as Kind;
use tonic::{Code, Streaming};

const ISSUER: &str = "https://as.fapi-agent.test";

async fn watch(client: &mut Client, client_id: &str) -> Streaming<pb::CredentialEvent> {
    client
        .agent
        .watch_credentials(pb::WatchCredentialsRequest {
            client_id: client_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// Reads events until one matches, failing after `secs`.
async fn wait_event(
    stream: &mut Streaming<pb::CredentialEvent>,
    secs: u64,
    pred: impl Fn(&pb::CredentialEvent) -> bool,
) -> pb::CredentialEvent {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let next = tokio::time::timeout(left, stream.message()).await;
        match next {
            Ok(Ok(Some(e))) if pred(&e) => return e,
            Ok(Ok(Some(_))) => {}
            other => panic!("event not seen in {secs} s: {other:?}"),
        }
    }
}

/// Reads events until every `(kind, name)` was seen, in any order.
async fn wait_all(stream: &mut Streaming<pb::CredentialEvent>, secs: u64, wanted: &[(Kind, &str)]) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut missing: Vec<(Kind, &str)> = wanted.to_vec();
    while !missing.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.message()).await {
            Ok(Ok(Some(e))) => {
                let name = e
                    .credential
                    .as_ref()
                    .map(|c| c.name.clone())
                    .unwrap_or_default();
                missing.retain(|(k, n)| !(e.kind() == *k && *n == name));
            }
            other => panic!("events {missing:?} not seen in {secs} s: {other:?}"),
        }
    }
}

fn is(kind: Kind, name: &'static str) -> impl Fn(&pb::CredentialEvent) -> bool {
    move |e| e.kind() == kind && e.credential.as_ref().is_some_and(|c| c.name == name)
}

async fn health(socket: &std::path::Path, service: &str) -> i32 {
    let channel = fapi_agent::client::channel(socket).await.unwrap();
    tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
}
const SERVING: i32 = 1;
const NOT_SERVING: i32 = 2;

async fn sign_client(
    client: &mut Client,
    client_id: &str,
) -> Result<pb::SignClientAssertionResponse, tonic::Status> {
    client
        .agent
        .sign_client_assertion(pb::SignClientAssertionRequest {
            credential: by_client(client_id),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

async fn reload(client: &mut Client) -> pb::ReloadResponse {
    client
        .admin
        .reload(pb::ReloadRequest {})
        .await
        .unwrap()
        .into_inner()
}

/// The public facts of the credential `selector` picks.
async fn credential(
    client: &mut Client,
    selector: Option<pb::CredentialSelector>,
) -> pb::Credential {
    client
        .agent
        .get_credential(pb::GetCredentialRequest {
            credential: selector,
        })
        .await
        .expect("GetCredential")
        .into_inner()
}

/// The kids of a JWKS, in order.
fn jwks_kids(json: &[u8]) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(json).unwrap();
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Polls the health of `service` for up to 4 s until it is `want`; the
/// last status seen.
async fn wait_health(socket: &std::path::Path, service: &str, want: i32) -> i32 {
    let mut seen = health(socket, service).await;
    for _ in 0..40 {
        if seen == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        seen = health(socket, service).await;
    }
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn two_live_credentials_newest_signs_unless_pinned() {
    let fx = Fixtures::new();
    let old = fx.credential_valid("old", KeyType::P256, KeyFormat::Pkcs8Pbkdf2, -300, 65);
    let new = fx.credential("new", KeyType::Ed25519, KeyFormat::Pkcs8Scrypt);
    let daemon = Daemon::start(&config(
        "",
        &[old.toml("acme", ISSUER, ""), new.toml("acme", ISSUER, "")],
    ))
    .await;
    let mut client = daemon.client().await;

    let r = sign_client(&mut client, "acme").await.unwrap();
    assert_eq!(r.credential, "new", "the newest valid credential signs");
    verify_with_python(&r.assertion, &new.cert, "EdDSA", ISSUER, "acme", &[]);

    let jwks: serde_json::Value =
        serde_json::from_slice(&daemon.cli(&["jwks", "--client-id", "acme"]).stdout).unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 2);
    assert_ne!(kids[0], kids[1]);
    let old_kid = credential(&mut client, by_name("old")).await.kid;
    assert!(kids.contains(&old_kid.as_str()));

    let pinned = client
        .agent
        .sign_client_assertion(pb::SignClientAssertionRequest {
            credential: Some(pb::CredentialSelector {
                by: Some(pb::credential_selector::By::ClientId("acme".into())),
                kid: old_kid.clone(),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (pinned.credential.as_str(), pinned.kid.as_str()),
        ("old", old_kid.as_str())
    );
    verify_with_python(&pinned.assertion, &old.cert, "ES256", ISSUER, "acme", &[]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_credential_that_expires_while_running_stops_being_chosen() {
    let fx = Fixtures::new();
    let mk = |name: &str, secs: i64| {
        let k = fx.plain_key(name, KeyType::P256);
        let c = fx.cert_expiring_in(name, &k, secs);
        fx.credential_with_cert(name, KeyType::P256, KeyFormat::Pkcs8Pbkdf2, k, c)
    };
    // The short-lived ones last: their 10 s must cover only their own
    // encryption, the daemon's start and the first signature, even on a
    // loaded machine.
    let long = fx.credential_valid("long", KeyType::P256, KeyFormat::Pkcs8Pbkdf2, -2, 365);
    let short = mk("short", 10);
    let solo = mk("solo", 10);
    let cfg = format!(
        "{}{}{}",
        short.toml("acme", ISSUER, ""),
        long.toml("acme", ISSUER, ""),
        solo.toml("solo", ISSUER, "")
    );
    let daemon = Daemon::start(&cfg).await;
    let mut client = daemon.client().await;
    let mut events = watch(&mut client, "").await;

    assert_eq!(
        sign_client(&mut client, "acme").await.unwrap().credential,
        "short"
    );
    assert_eq!(health(&daemon.socket, "client/solo").await, SERVING);
    let info = credential(&mut client, by_name("short")).await;
    assert!(info.error.contains("expires in 0 days"), "{}", info.error);
    let long_kid = credential(&mut client, by_name("long")).await.kid;
    // The client's JWKS: both live keys, newest certificate first.
    assert_eq!(
        jwks_kids(info.client_jwks_json.as_bytes()),
        [info.kid.clone(), long_kid.clone()]
    );

    wait_all(
        &mut events,
        30,
        &[
            (Kind::Expired, "short"),
            (Kind::Active, "long"),
            (Kind::Expired, "solo"),
        ],
    )
    .await;
    assert_eq!(
        sign_client(&mut client, "acme").await.unwrap().credential,
        "long"
    );
    // An expired key leaves the client's JWKS, in the API and the CLI.
    let active = credential(&mut client, by_client("acme")).await;
    assert_eq!(
        jwks_kids(active.client_jwks_json.as_bytes()),
        std::slice::from_ref(&long_kid)
    );
    let cli = daemon.cli(&["jwks", "--client-id", "acme"]);
    assert_eq!(jwks_kids(&cli.stdout), std::slice::from_ref(&long_kid));
    assert!(
        String::from_utf8_lossy(&cli.stderr).contains("left out short: certificate expired"),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let e = sign_client(&mut client, "solo").await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(
        e.message().contains("certificate expired"),
        "{}",
        e.message()
    );
    // Health follows within the observation tick.
    assert_eq!(
        wait_health(&daemon.socket, "client/solo", NOT_SERVING).await,
        NOT_SERVING
    );
    assert_eq!(health(&daemon.socket, "client/acme").await, SERVING);
}

/// A certificate installed before its notBefore is an error until then;
/// at that moment the daemon loads it on its own: it becomes the newest of
/// its client, and a client that had no valid credential turns SERVING.
#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_installed_early_goes_live_at_its_not_before() {
    let fx = Fixtures::new();
    let current = fx.credential_valid("current", KeyType::P256, KeyFormat::Pkcs8Pbkdf2, -30, 365);
    let early = |name: &str| {
        let k = fx.plain_key(name, KeyType::P256);
        let c = fx.cert_valid_in(name, &k, 10);
        fx.credential_with_cert(name, KeyType::P256, KeyFormat::Pkcs8Pbkdf2, k, c)
    };
    let next = early("next");
    let later = early("later");
    let cfg = format!(
        "{}{}{}",
        current.toml("acme", ISSUER, ""),
        next.toml("acme", ISSUER, ""),
        later.toml("later", ISSUER, "")
    );
    let daemon = Daemon::start(&cfg).await;
    let mut client = daemon.client().await;
    let mut events = watch(&mut client, "").await;

    assert_eq!(
        sign_client(&mut client, "acme").await.unwrap().credential,
        "current"
    );
    let info = credential(&mut client, by_name("next")).await;
    assert!(info.error.contains("not yet valid"), "{}", info.error);
    assert_eq!(health(&daemon.socket, "client/later").await, NOT_SERVING);

    wait_all(
        &mut events,
        30,
        &[(Kind::Active, "next"), (Kind::Active, "later")],
    )
    .await;
    assert_eq!(
        sign_client(&mut client, "acme").await.unwrap().credential,
        "next"
    );
    sign_client(&mut client, "later")
        .await
        .expect("the early credential serves once valid");
    assert_eq!(
        wait_health(&daemon.socket, "client/later", SERVING).await,
        SERVING
    );
    assert!(
        daemon
            .stderr()
            .contains("retry of credentials that could not be loaded"),
        "{}",
        daemon.stderr()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn watchers_get_a_snapshot_then_events_and_a_slow_one_is_told_it_lagged() {
    let fx = Fixtures::new();
    let a = fx.credential("a", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let b = fx.credential("b", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    // A buffer of 16 leaves the forwarder of a watcher that keeps up eight
    // reloads of slack; the stalled one still overruns it many times.
    let head = "[agent]\nevent_buffer = 16\nwatch_files = false\n";
    let only_a = format!("{head}{}", a.toml("acme", ISSUER, ""));
    let both = format!("{only_a}{}", b.toml("acme", ISSUER, ""));
    let daemon = Daemon::start(&only_a).await;
    let mut client = daemon.client().await;

    let mut fast = watch(&mut client, "acme").await;
    let first = fast.message().await.unwrap().unwrap();
    assert_eq!(first.kind(), Kind::Snapshot);
    assert_eq!(
        first
            .snapshot
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["a"]
    );
    // Never read until the end, on its own connection with a 1 KiB HTTP/2
    // window, so that it really pushes back like a stalled app.
    let slow_channel = fapi_agent::client::channel_with(
        tonic::transport::Endpoint::from_static("http://localhost")
            .initial_stream_window_size(1024),
        &daemon.socket,
    )
    .await
    .unwrap();
    let mut slow = pb::agent_client::AgentClient::new(slow_channel)
        .watch_credentials(pb::WatchCredentialsRequest {
            client_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();

    daemon.rewrite_config(&both);
    assert_eq!(reload(&mut client).await.added, ["b"]);
    wait_event(&mut fast, 5, is(Kind::Added, "b")).await;
    wait_event(&mut fast, 5, is(Kind::Active, "b")).await;
    daemon.rewrite_config(&only_a);
    assert_eq!(reload(&mut client).await.removed, ["b"]);
    wait_event(&mut fast, 5, is(Kind::Removed, "b")).await;
    wait_event(&mut fast, 5, is(Kind::Active, "a")).await;

    // The fast watcher keeps reading while many changes happen.
    let reader = tokio::spawn(async move {
        let mut kinds = Vec::new();
        while let Ok(Ok(Some(e))) =
            tokio::time::timeout(Duration::from_secs(5), fast.message()).await
        {
            kinds.push(e.kind());
        }
        kinds
    });
    for i in 0..60 {
        daemon.rewrite_config(if i % 2 == 0 { &both } else { &only_a });
        reload(&mut client).await;
        sign(&mut client, "a")
            .await
            .expect("signing continues meanwhile");
    }
    let kinds = reader.await.unwrap();
    assert!(
        !kinds.contains(&Kind::Lagged),
        "a reader that keeps up never lags"
    );
    assert!(
        kinds.iter().filter(|k| **k == Kind::Added).count() >= 30,
        "{kinds:?}"
    );

    // Reading on, the slow watcher finds LAGGED (or the read times out and
    // the test fails), then a fresh snapshot.
    loop {
        let e = tokio::time::timeout(Duration::from_secs(5), slow.message())
            .await
            .expect("LAGGED never came")
            .unwrap()
            .unwrap();
        if e.kind() == Kind::Lagged {
            break;
        }
    }
    let next = slow.message().await.unwrap().unwrap();
    assert_eq!(
        next.kind(),
        Kind::Snapshot,
        "a fresh snapshot follows LAGGED"
    );
    assert_eq!(
        next.snapshot
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["a"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_by_sighup_and_rpc_keeps_old_versions_when_new_files_are_invalid() {
    let fx = Fixtures::new();
    let a = fx.credential("a", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let b = fx.credential("b", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let head = "[agent]\nwatch_files = false\n";
    let only_a = format!("{head}{}", a.toml("acme", ISSUER, ""));
    let both = format!("{only_a}{}", b.toml("bravo", ISSUER, ""));
    let daemon = Daemon::start(&only_a).await;
    let mut client = daemon.client().await;
    let kid_a = sign(&mut client, "a").await.unwrap().kid;
    let mut events = watch(&mut client, "acme").await;

    // SIGHUP.
    daemon.rewrite_config(&both);
    daemon.signal("HUP");
    let mut ok = false;
    for _ in 0..100 {
        if sign(&mut client, "b").await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "SIGHUP did not load b: {}", daemon.stderr());
    let status = client
        .admin
        .status(pb::StatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.last_reload_trigger, "SIGHUP");

    // A broken config: nothing changes, the error is reported.
    daemon.rewrite_config("[credentials.a\n");
    let e = client.admin.reload(pb::ReloadRequest {}).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(
        e.message().contains("running configuration stays"),
        "{}",
        e.message()
    );
    sign(&mut client, "a").await.unwrap();
    sign(&mut client, "b").await.unwrap();
    let status = client
        .admin
        .status(pb::StatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        status.last_reload_error.contains("invalid"),
        "{}",
        status.last_reload_error
    );
    daemon.rewrite_config(&both);

    // a's certificate replaced by another key's: a keeps its old version.
    let stray = fx.plain_key("stray", KeyType::P256);
    let stray_cert = fx.cert("stray", &stray);
    let original_cert = std::fs::read(&a.cert).unwrap();
    std::fs::copy(&stray_cert, &a.cert).unwrap();
    let r = reload(&mut client).await;
    assert!(
        r.errors.len() == 1
            && r.errors[0].starts_with("a: ")
            && r.errors[0].contains("does not match"),
        "{r:?}"
    );
    assert_eq!(
        sign(&mut client, "a").await.unwrap().kid,
        kid_a,
        "old version keeps serving"
    );
    let info = credential(&mut client, by_name("a")).await;
    assert_eq!(info.state(), pb::CredentialState::Available);
    assert!(
        info.error
            .contains("reload failed, previous version still serving"),
        "{}",
        info.error
    );
    let ev = wait_event(&mut events, 5, is(Kind::Error, "a"))
        .await
        .credential
        .unwrap();
    assert_eq!(
        ev.state(),
        pb::CredentialState::Available,
        "the old version still serves"
    );
    assert!(ev.error.contains("does not match"), "{}", ev.error);

    // A new key under a passphrase the source does not hold: same.
    std::fs::write(&a.cert, &original_cert).unwrap();
    let other = fx.credential("other", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    std::fs::copy(&other.key, &a.key).unwrap();
    std::fs::copy(&other.cert, &a.cert).unwrap();
    let r = reload(&mut client).await;
    assert!(
        r.errors.len() == 1 && r.errors[0].contains("does not decrypt"),
        "{r:?}"
    );
    assert_eq!(sign(&mut client, "a").await.unwrap().kid, kid_a);
    // Fixed at the source: the next reload takes the new key.
    std::fs::copy(&other.pass_file, &a.pass_file).unwrap();
    let r = reload(&mut client).await;
    assert_eq!(
        (r.updated.as_slice(), r.errors.len()),
        (["a".to_owned()].as_slice(), 0),
        "{r:?}"
    );
    let rotated = sign(&mut client, "a").await.unwrap();
    assert_ne!(rotated.kid, kid_a);
    verify_with_python(
        &rotated.assertion,
        &other.cert,
        "ES256",
        ISSUER,
        "acme",
        &[],
    );
}

/// Files replaced by atomic rename are picked up without any signal.
#[tokio::test(flavor = "multi_thread")]
async fn file_changes_reload_on_their_own() {
    let fx = Fixtures::new();
    let a = fx.credential("a", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let daemon = Daemon::start(&a.toml("acme", ISSUER, "")).await;
    let mut client = daemon.client().await;
    let mut events = watch(&mut client, "").await;
    let old_kid = sign(&mut client, "a").await.unwrap().kid;

    // The platform's renewed credential, same passphrase, dropped in by rename.
    let next_key = fx.plain_key("next", KeyType::P256);
    let next_cert = fx.cert("next", &next_key);
    let pass = format!("file:{}", a.pass_file.display());
    openssl(
        fx.path(),
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes256",
            "-in",
            next_key.to_str().unwrap(),
            "-out",
            "next.key.tmp",
            "-passout",
            &pass,
        ],
    );
    std::fs::copy(&next_cert, fx.path().join("next.crt.tmp")).unwrap();
    std::fs::rename(fx.path().join("next.key.tmp"), &a.key).unwrap();
    std::fs::rename(fx.path().join("next.crt.tmp"), &a.cert).unwrap();

    let updated = wait_event(&mut events, 10, is(Kind::Updated, "a")).await;
    assert_ne!(updated.credential.unwrap().kid, old_kid);
    let r = sign(&mut client, "a").await.unwrap();
    assert_ne!(r.kid, old_kid);
    verify_with_python(&r.assertion, &next_cert, "ES256", ISSUER, "acme", &[]);
    let status = client
        .admin
        .status(pb::StatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.last_reload_trigger, "file change");
}

/// Rotation under load: clients sign continuously while a new credential is
/// added, reloads repeat, and the old one is removed. No request fails, and
/// every assertion verifies against the key set live when it was requested.
#[tokio::test(flavor = "multi_thread")]
async fn rotation_under_load_fails_no_request() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use openssl::bn::BigNum;
    use openssl::ecdsa::EcdsaSig;
    use openssl::hash::MessageDigest;
    use openssl::sign::Verifier;
    use openssl::x509::X509;

    let fx = Fixtures::new();
    let old = fx.credential_valid("old", KeyType::P256, KeyFormat::Pkcs8Pbkdf2, -10, 355);
    let new = fx.credential("new", KeyType::P256, KeyFormat::Pkcs8Scrypt);
    let head = "[agent]\nwatch_files = false\n";
    let only_old = format!("{head}{}", old.toml("acme", ISSUER, ""));
    let both = format!("{only_old}{}", new.toml("acme", ISSUER, ""));
    let only_new = format!("{head}{}", new.toml("acme", ISSUER, ""));
    let daemon = Daemon::start(&only_old).await;
    let mut admin = daemon.client().await;

    let stop = Arc::new(AtomicBool::new(false));
    // Completed requests, so each phase lasts until the workers have made
    // progress in it rather than for a fixed time (a loaded machine may
    // serve only a few requests in any given interval).
    let done = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..4 {
        let mut c = daemon.client().await;
        let stop = Arc::clone(&stop);
        let done = Arc::clone(&done);
        workers.push(tokio::spawn(async move {
            // The client's JWKS just before and just after each signature:
            // the key set only changes at a reload, so the assertion's kid
            // must be in one of them (the JWKS of its moment).
            let mut out = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let started = t0.elapsed();
                let before = credential(&mut c, by_client("acme")).await;
                let r = sign_client(&mut c, "acme").await;
                let after = credential(&mut c, by_client("acme")).await;
                let [before, after] =
                    [before, after].map(|c| jwks_kids(c.client_jwks_json.as_bytes()));
                out.push((started, r, [before, after].concat()));
                done.fetch_add(1, Ordering::Relaxed);
            }
            out
        }));
    }
    // Waits until `n` more requests have completed. Each worker has at most
    // one request in flight, so more than 4 completions after a moment mean
    // at least one request started after it.
    let progress = |n: usize| {
        let done = Arc::clone(&done);
        async move {
            let target = done.load(Ordering::Relaxed) + n;
            while done.load(Ordering::Relaxed) < target {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    progress(20).await;
    daemon.rewrite_config(&both);
    assert_eq!(reload(&mut admin).await.added, ["new"]);
    let added_at = t0.elapsed();
    for _ in 0..3 {
        daemon.signal("HUP");
        progress(10).await;
    }
    daemon.rewrite_config(&only_new);
    assert_eq!(reload(&mut admin).await.removed, ["old"]);
    let removed_at = t0.elapsed();
    for _ in 0..3 {
        reload(&mut admin).await;
        progress(5).await;
    }
    progress(20).await;
    stop.store(true, Ordering::Relaxed);

    let certs: HashMap<String, X509> = [&old, &new]
        .iter()
        .map(|c| {
            let x = X509::from_pem(&std::fs::read(&c.cert).unwrap()).unwrap();
            let kid = fapi_agent::jose::PublicJwk::new(
                &x.public_key().unwrap(),
                fapi_agent::jose::Alg::Es256,
                &[],
            )
            .unwrap()
            .thumbprint()
            .to_owned();
            (kid, x)
        })
        .collect();
    let mut total = 0;
    let mut after_removal = 0;
    let mut by_kid: HashMap<String, usize> = HashMap::new();
    for w in workers {
        for (started, r, jwks_around) in w.await.unwrap() {
            let r = r.unwrap_or_else(|e| panic!("a request failed during rotation: {e:?}"));
            total += 1;
            *by_kid.entry(r.kid.clone()).or_default() += 1;
            let cert = certs.get(&r.kid).expect("kid of a live credential");
            assert!(
                jwks_around.contains(&r.kid),
                "kid {} is in neither JWKS around its signature: {jwks_around:?}",
                r.kid
            );
            if started > added_at {
                assert_eq!(
                    r.credential, "new",
                    "requested after the reload: the newest key signs"
                );
            }
            if started > removed_at {
                after_removal += 1;
                assert!(
                    jwks_around.iter().all(|k| *k == r.kid),
                    "after the old key's removal only the new one is published: {jwks_around:?}"
                );
            }
            let (input, sig) = r.assertion.rsplit_once('.').unwrap();
            let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
            let der = EcdsaSig::from_private_components(
                BigNum::from_slice(&sig[..32]).unwrap(),
                BigNum::from_slice(&sig[32..]).unwrap(),
            )
            .unwrap()
            .to_der()
            .unwrap();
            let pkey = cert.public_key().unwrap();
            let mut v = Verifier::new(MessageDigest::sha256(), &pkey).unwrap();
            v.update(input.as_bytes()).unwrap();
            assert!(
                v.verify(&der).unwrap(),
                "assertion does not verify with its kid's certificate"
            );
        }
    }
    assert!(after_removal > 0, "no request after the old key's removal");
    assert_eq!(
        by_kid.len(),
        2,
        "both keys signed during the run: {by_kid:?}"
    );
    eprintln!("rotation under load: {total} assertions, by kid {by_kid:?}, 0 failures");
}

#[tokio::test(flavor = "multi_thread")]
async fn enroll_and_install_cert_put_the_next_credential_live() {
    let fx = Fixtures::new();
    let old = fx.credential_valid("old", KeyType::P256, KeyFormat::Pkcs8Pbkdf2, -10, 20);
    let daemon = Daemon::start(&old.toml("acme", ISSUER, "")).await;
    let mut client = daemon.client().await;
    // A test CA, as the platform would be.
    let ca_key = fx.plain_key("ca", KeyType::P256);
    let ca_cert = fx.cert("ca", &ca_key);
    let enroll_dir = fx.path().join("enroll");
    let tag = std::process::id();

    for (alg, store) in [("ES256", "file"), ("PS256", "keyutils"), ("EdDSA", "file")] {
        let name = format!("next-{}-{tag}", alg.to_lowercase());
        let out = Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
            .args([
                "enroll",
                "--name",
                &name,
                "--client-id",
                "acme",
                "--issuer",
                ISSUER,
                "--alg",
                alg,
            ])
            .args([
                "--subject",
                "CN=acme,O=fapi-agent tests,C=GB",
                "--passphrase-store",
                store,
                "--dir",
            ])
            .arg(&enroll_dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("BEGIN CERTIFICATE REQUEST"));
        let csr = enroll_dir.join(format!("{name}.csr"));
        let key_text = std::fs::read_to_string(enroll_dir.join(format!("{name}.key"))).unwrap();
        assert!(key_text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        // openssl accepts the CSR's self-signature; the CA issues from it.
        let verify = openssl(
            fx.path(),
            &["req", "-verify", "-noout", "-in", csr.to_str().unwrap()],
        );
        assert!(
            String::from_utf8_lossy(&verify.stderr).contains("verify OK")
                || String::from_utf8_lossy(&verify.stdout).contains("verify OK")
        );
        if alg == "PS256" {
            let text = String::from_utf8(
                openssl(
                    fx.path(),
                    &["req", "-noout", "-text", "-in", csr.to_str().unwrap()],
                )
                .stdout,
            )
            .unwrap();
            assert!(text.contains("3072 bit"), "PS256 enrolls RSA 3072");
        }
        let issued = fx.path().join(format!("{name}.issued.crt"));
        openssl(
            fx.path(),
            &[
                "x509",
                "-req",
                "-in",
                csr.to_str().unwrap(),
                "-CA",
                ca_cert.to_str().unwrap(),
                "-CAkey",
                ca_key.to_str().unwrap(),
                "-CAcreateserial",
                "-days",
                "365",
                "-out",
                issued.to_str().unwrap(),
            ],
        );

        // The wrong certificate (the CA's own) is refused with the reason.
        let install = |cert: &std::path::Path| {
            Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
                .args(["install-cert", "--name", &name, "--cert"])
                .arg(cert)
                .arg("--dir")
                .arg(&enroll_dir)
                .arg("--config")
                .arg(daemon.config_path())
                .output()
                .unwrap()
        };
        let bad = install(&ca_cert);
        assert!(!bad.status.success());
        assert!(
            String::from_utf8_lossy(&bad.stderr).contains("certifies another key"),
            "{}",
            String::from_utf8_lossy(&bad.stderr)
        );

        let good = install(&issued);
        assert!(
            good.status.success(),
            "{}",
            String::from_utf8_lossy(&good.stderr)
        );
        // The daemon sees the config change and puts it live.
        let mut signed = None;
        for _ in 0..100 {
            if let Ok(r) = sign(&mut client, &name).await {
                signed = Some(r);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let r = signed.unwrap_or_else(|| panic!("{name} did not go live: {}", daemon.stderr()));
        assert_eq!(r.alg, alg);
        verify_with_python(&r.assertion, &issued, alg, ISSUER, "acme", &[]);
        let again = install(&issued);
        assert!(String::from_utf8_lossy(&again.stderr).contains("already defines"));
    }
    // The old credential still serves when pinned; the JWKS lists all four.
    sign(&mut client, "old").await.unwrap();
    let jwks: serde_json::Value =
        serde_json::from_slice(&daemon.cli(&["jwks", "--client-id", "acme"]).stdout).unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 4);
    let _ = Command::new("keyctl")
        .args([
            "purge",
            "-s",
            "user",
            &format!("fapi-agent:next-ps256-{tag}"),
        ])
        .output();
}
