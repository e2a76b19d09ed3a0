//! Security properties of the running daemon: locking wipes secrets (seen
//! in the daemon's own memory), and unlocking restores service.

mod common;

use std::time::Duration;

use common::memscan::{contains, memory_of};
use common::*;
use fapi_agent::service::pb;
use tonic::Code;

const ISSUER: &str = "https://as.fapi-agent.test";

#[tokio::test(flavor = "multi_thread")]
async fn lock_wipes_and_unlock_restores() {
    let fx = Fixtures::new();
    let es = fx.credential("es", KeyType::P256, KeyFormat::Pkcs8Scrypt);
    let ed = fx.credential("ed", KeyType::Ed25519, KeyFormat::Pkcs12);
    let daemon = Daemon::start(&config(
        "",
        &[es.toml("acme", ISSUER, ""), ed.toml("edco", ISSUER, "")],
    ))
    .await;
    let mut client = daemon.client().await;
    let mut events = client
        .agent
        .watch_credentials(pb::WatchCredentialsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        events.message().await.unwrap().unwrap().kind(),
        pb::CredentialEventKind::Snapshot
    );
    sign(&mut client, "es").await.unwrap();

    let locked = client
        .admin
        .lock(pb::LockRequest {})
        .await
        .unwrap()
        .into_inner()
        .locked;
    assert_eq!(locked, ["ed", "es"]);
    for name in ["es", "ed"] {
        let e = sign(&mut client, name).await.unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition);
        assert!(e.message().contains("locked"), "{}", e.message());
        let info = facts(&mut client, name).await;
        assert_eq!(info.state(), pb::CredentialState::Locked);
        assert!(!info.key_decrypted);
        assert!(!info.kid.is_empty(), "public facts stay readable");
    }
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let e = events.message().await.unwrap().unwrap();
        kinds.push((e.kind(), e.credential.unwrap().name));
    }
    kinds.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        kinds,
        [
            (pb::CredentialEventKind::Locked, "ed".into()),
            (pb::CredentialEventKind::Locked, "es".into())
        ]
    );
    assert!(
        client
            .admin
            .status(pb::StatusRequest {})
            .await
            .unwrap()
            .into_inner()
            .locked
    );
    let e = client.admin.reload(pb::ReloadRequest {}).await.unwrap_err();
    assert!(e.message().contains("locked"));

    let r = client
        .admin
        .unlock(pb::UnlockRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.unlocked.len(), r.errors.len()), (2, 0), "{r:?}");
    let signed = sign(&mut client, "es").await.unwrap();
    verify_with_python(&signed.assertion, &es.cert, "ES256", ISSUER, "acme", &[]);
    sign(&mut client, "ed").await.unwrap();
    let e = events.message().await.unwrap().unwrap();
    assert_eq!(e.kind(), pb::CredentialEventKind::Unlocked);

    // SIGUSR1 locks too, as with ssh-agent.
    daemon.signal("USR1");
    let mut locked_by_signal = false;
    for _ in 0..100 {
        if sign(&mut client, "es")
            .await
            .is_err_and(|e| e.message().contains("locked"))
        {
            locked_by_signal = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(locked_by_signal);
    assert!(daemon.stderr().contains("SIGUSR1"));
}

/// After Lock, neither the passphrase nor the private key is anywhere in
/// the daemon's memory; before it, both are (which proves the scan works).
#[tokio::test(flavor = "multi_thread")]
async fn after_lock_no_passphrase_or_key_bytes_remain_in_memory() {
    let fx = Fixtures::new();
    let plain_of = |c: &common::Cred| {
        openssl::pkey::PKey::private_key_from_pem(&std::fs::read(&c.plain_key).unwrap()).unwrap()
    };
    let es = fx.credential("memtest", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let scalar = plain_of(&es)
        .ec_key()
        .unwrap()
        .private_key()
        .to_vec_padded(32)
        .unwrap();
    // OpenSSL holds a bignum as little-endian 64-bit limbs: on x86-64 and
    // aarch64 that is the big-endian encoding reversed.
    let limbs: Vec<u8> = scalar.iter().rev().copied().collect();
    // A second credential whose passphrase came from the environment: the
    // source's own copy must go at Lock too.
    let from_env = fx.credential("envmem", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let env_stanza = format!(
        "[credentials.envmem]\nclient_id = \"envmem\"\nissuer = {ISSUER:?}\nkey = {:?}\ncertificate = {:?}\npassphrase = {{ source = \"env\", variable = \"MEMTEST_PASS\" }}\n",
        from_env.key, from_env.cert
    );
    // Other key types and the PKCS#12 path: an RSA bundle (its prime p)
    // and an Ed25519 key (its 32-byte seed).
    let bundle = fx.credential("membundle", KeyType::Rsa2048, KeyFormat::Pkcs12);
    let ed = fx.credential("memed", KeyType::Ed25519, KeyFormat::Pkcs8Scrypt);
    let rsa_p = plain_of(&bundle).rsa().unwrap().p().unwrap().to_vec();
    assert_eq!(rsa_p.len(), 128);
    let rsa_p_limbs: Vec<u8> = rsa_p.iter().rev().copied().collect();
    let ed_seed = plain_of(&ed).raw_private_key().unwrap();
    let daemon = Daemon::start_with(
        &format!(
            "{}{env_stanza}{}{}",
            es.toml("acme", ISSUER, ""),
            bundle.toml("membundle", ISSUER, ""),
            ed.toml("memed", ISSUER, "")
        ),
        &[("MEMTEST_PASS", from_env.passphrase.as_str())],
    )
    .await;
    let mut client = daemon.client().await;
    for _ in 0..20 {
        sign(&mut client, "memtest").await.unwrap();
    }
    sign(&mut client, "envmem").await.unwrap();
    sign(&mut client, "membundle").await.unwrap();
    sign(&mut client, "memed").await.unwrap();
    // Locked in RAM, as the kernel itself reports it (VmLck), and the
    // secure heap is up.
    let status = client
        .admin
        .status(pb::StatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(status.secure_heap, "OpenSSL's secure heap is not active");
    assert!(status.secret_pages_locked > 0, "{status:?}");
    assert_eq!(status.secret_pages_unlockable, 0, "{status:?}");
    let proc_status = std::fs::read_to_string(format!("/proc/{}/status", daemon.pid())).unwrap();
    let vm_lck_kb: u64 = proc_status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmLck in /proc/PID/status");
    assert!(
        vm_lck_kb >= status.secret_pages_locked * 4,
        "the kernel reports {vm_lck_kb} kB locked, Status {} pages",
        status.secret_pages_locked
    );
    // Each secret, with the byte strings it may sit in memory as.
    let secrets: [(&str, Vec<&[u8]>); 7] = [
        (
            "the file source's passphrase",
            vec![es.passphrase.as_bytes()],
        ),
        (
            "the env source's passphrase",
            vec![from_env.passphrase.as_bytes()],
        ),
        ("the bundle passphrase", vec![bundle.passphrase.as_bytes()]),
        (
            "the Ed25519 key's passphrase",
            vec![ed.passphrase.as_bytes()],
        ),
        ("the P-256 private scalar", vec![&scalar, &limbs]),
        ("the RSA prime p", vec![&rsa_p, &rsa_p_limbs]),
        ("the Ed25519 seed", vec![&ed_seed]),
    ];
    let before = memory_of(daemon.pid());
    for (what, forms) in &secrets {
        assert!(
            forms.iter().any(|f| contains(&before, f)),
            "positive control: {what} is not found before Lock"
        );
    }
    drop(before);

    client.admin.lock(pb::LockRequest {}).await.unwrap();
    let after = memory_of(daemon.pid());
    for (what, forms) in &secrets {
        for f in forms {
            assert!(!contains(&after, f), "{what} survived Lock");
        }
    }
    // Unlock cannot bring an env passphrase back, and says so.
    let out = client
        .admin
        .unlock(pb::UnlockRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        out.errors
            .iter()
            .any(|e| e.starts_with("envmem:") && e.contains("restart the daemon")),
        "{:?}",
        out.errors
    );
    assert!(out.unlocked.contains(&"memtest".to_owned()));
}

/// The byte strings a credential's private key may sit in memory as: the
/// EC scalar or RSA prime p big-endian and as OpenSSL's little-endian
/// limbs, or the Ed25519 seed.
fn private_key_forms(c: &common::Cred) -> Vec<Vec<u8>> {
    let key =
        openssl::pkey::PKey::private_key_from_pem(&std::fs::read(&c.plain_key).unwrap()).unwrap();
    let be = match c.key_type {
        KeyType::P256 | KeyType::P384 => key.ec_key().unwrap().private_key().to_vec(),
        KeyType::Rsa2048 | KeyType::Rsa1024 => key.rsa().unwrap().p().unwrap().to_vec(),
        KeyType::Ed25519 => return vec![key.raw_private_key().unwrap()],
    };
    let limbs = be.iter().rev().copied().collect();
    vec![be, limbs]
}

/// Lock leaves nothing behind whatever the key format and however the
/// passphrase arrived: every encrypted PEM, PKCS#8 and PKCS#12 variant
/// platforms hand out, through the file, exec and keyutils sources. (The
/// legacy `Proc-Type: 4,ENCRYPTED` path once left the passphrase on a
/// thread stack: OpenSSL's PEM password prompt copies it to an unwiped
/// stack buffer.)
#[tokio::test(flavor = "multi_thread")]
async fn lock_wipes_every_key_format_and_passphrase_path() {
    let fx = Fixtures::new();
    let cases = [
        ("legacy-ec", KeyType::P256, KeyFormat::LegacyPem, "file"),
        ("legacy-rsa", KeyType::Rsa2048, KeyFormat::LegacyPem, "file"),
        (
            "legacy-des3",
            KeyType::P256,
            KeyFormat::LegacyPemDes3,
            "exec",
        ),
        (
            "pbe3des",
            KeyType::P256,
            KeyFormat::Pkcs8Pbe3Des,
            "keyutils",
        ),
        ("scrypt-ec", KeyType::P256, KeyFormat::Pkcs8Scrypt, "file"),
        ("der-ed", KeyType::Ed25519, KeyFormat::Pkcs8Der, "file"),
        ("p12-legacy", KeyType::P256, KeyFormat::Pkcs12Legacy, "file"),
    ];
    let mut config = String::new();
    let mut secrets: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    let mut keys = Vec::new();
    for (name, key_type, format, source) in cases {
        let c = fx.credential(name, key_type, format);
        let stanza = c.toml(name, ISSUER, "");
        let stanza = match source {
            "file" => stanza,
            "exec" => stanza.replace(
                &format!(
                    "passphrase = {{ source = \"file\", path = {:?} }}",
                    c.pass_file
                ),
                &format!(
                    "passphrase = {{ source = \"exec\", command = [\"/bin/cat\", {:?}] }}",
                    c.pass_file
                ),
            ),
            "keyutils" => {
                let desc = format!("fapi-agent-test:memscan:{}", std::process::id());
                run(std::process::Command::new("keyctl").args([
                    "add",
                    "user",
                    &desc,
                    &c.passphrase,
                    "@u",
                ]));
                keys.push(desc.clone());
                stanza.replace(
                    &format!(
                        "passphrase = {{ source = \"file\", path = {:?} }}",
                        c.pass_file
                    ),
                    &format!("passphrase = {{ source = \"keyutils\", description = {desc:?} }}"),
                )
            }
            _ => unreachable!(),
        };
        assert!(
            stanza.contains(&format!("source = \"{source}\"")),
            "{stanza}"
        );
        config.push_str(&stanza);
        secrets.push((
            format!("the {name} passphrase ({source})"),
            vec![c.passphrase.clone().into_bytes()],
        ));
        secrets.push((format!("the {name} private key"), private_key_forms(&c)));
    }
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    for (name, ..) in cases {
        sign(&mut client, name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let before = memory_of(daemon.pid());
    for (what, forms) in &secrets {
        assert!(
            forms.iter().any(|f| contains(&before, f)),
            "positive control: {what} is not found before Lock"
        );
    }
    drop(before);
    client.admin.lock(pb::LockRequest {}).await.unwrap();
    let after = memory_of(daemon.pid());
    let survived: Vec<&str> = secrets
        .iter()
        .filter(|(_, forms)| forms.iter().any(|f| contains(&after, f)))
        .map(|(what, _)| what.as_str())
        .collect();
    for desc in keys {
        let _ = std::process::Command::new("keyctl")
            .args(["purge", "-s", "user", &desc])
            .output();
    }
    assert!(survived.is_empty(), "survived Lock: {survived:?}");
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Per-credential policy, enforced on another real uid (nobody, via setpriv).
#[tokio::test(flavor = "multi_thread")]
async fn policy_allows_exactly_what_the_rules_say() {
    let fx = Fixtures::new();
    let signer = fx.credential("signer", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let by_exe = fx.credential("byexe", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let wrong_exe = fx.credential("wrongexe", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let private = fx.credential("private", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let bin = env!("CARGO_BIN_EXE_fapi-agent");
    let cfg = format!(
        "{}{}{}{}",
        signer.toml("acme", ISSUER, "[[credentials.signer.allow]]\nuids = [65534]\noperations = [\"sign\", \"read\"]\n"),
        by_exe.toml("byexe", ISSUER, &format!("[[credentials.byexe.allow]]\nuids = [65534]\nexecutables = [{bin:?}]\noperations = [\"sign\", \"read\"]\n")),
        wrong_exe.toml("wrongexe", ISSUER, "[[credentials.wrongexe.allow]]\nexecutables = [\"/usr/bin/python3\"]\noperations = [\"sign\", \"read\"]\n"),
        private.toml("private", ISSUER, ""),
    );
    let daemon = Daemon::start(&cfg).await;
    daemon.open_socket_to_all();

    // Allowed: sign with `signer` and with `byexe` (right uid and executable).
    for name in ["signer", "byexe"] {
        let out = daemon.cli_as_nobody(&["assertion", "--credential", name]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let token = String::from_utf8(out.stdout).unwrap();
        let cert = if name == "signer" {
            &signer.cert
        } else {
            &by_exe.cert
        };
        let alg = if name == "signer" { "PS256" } else { "ES256" };
        verify_with_python(
            token.trim(),
            cert,
            alg,
            ISSUER,
            if name == "signer" { "acme" } else { "byexe" },
            &[],
        );
    }
    // Allowed to sign, not to decrypt.
    std::fs::write(fx.path().join("ct.b64"), "AAAA").unwrap();
    let out = daemon.cli_as_nobody(&[
        "decrypt",
        "--credential",
        "signer",
        "--padding",
        "oaep-sha256",
        "--input",
        fx.path().join("ct.b64").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(
        e.contains("PermissionDenied")
            && e.contains("may not decrypt credential \"signer\"")
            && e.contains("rule 1: allows only [\"sign\", \"read\"]"),
        "{e}"
    );
    // The executable does not match.
    let out = daemon.cli_as_nobody(&["assertion", "--credential", "wrongexe"]);
    let e = stderr(&out);
    assert!(
        e.contains("PermissionDenied") && e.contains("needs executable in [\"/usr/bin/python3\"]"),
        "{e}"
    );
    // No rules: only the daemon's uid.
    let out = daemon.cli_as_nobody(&["assertion", "--credential", "private"]);
    assert!(
        stderr(&out).contains("it has no allow rules"),
        "{}",
        stderr(&out)
    );
    // Listing shows only what nobody may read.
    let out = daemon.cli_as_nobody(&["credentials", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["byexe", "signer"]);
    // Admin is refused to nobody.
    let out = daemon.cli_as_nobody(&["status"]);
    let e = stderr(&out);
    assert!(
        e.contains("PermissionDenied") && e.contains("may not use the Admin service"),
        "{e}"
    );
    assert!(!daemon.cli_as_nobody(&["lock"]).status.success());
    let mut client = daemon.client().await;
    sign(&mut client, "private")
        .await
        .expect("the daemon's own uid still signs");
    // The caller's identity is logged with its executable.
    assert!(
        daemon.stderr().contains("uid 65534 gid 65534 pid"),
        "{}",
        daemon.stderr()
    );
    assert!(daemon.stderr().contains(&format!("exe {bin}")));
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_group_members_may_administer() {
    let fx = Fixtures::new();
    let c = fx.credential("acme", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let daemon = Daemon::start(&format!(
        "[agent]\nadmin_group = \"nogroup\"\n{}",
        c.toml("acme", ISSUER, "")
    ))
    .await;
    daemon.open_socket_to_all();
    let out = daemon.cli_as_nobody(&["status", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["credentials"].as_array().unwrap().len(), 1);
    // Admin rights do not include using credentials.
    let out = daemon.cli_as_nobody(&["assertion", "--credential", "acme"]);
    assert!(stderr(&out).contains("PermissionDenied"));
}

/// Oversized and malformed messages get a clear status; the daemon serves on.
#[tokio::test(flavor = "multi_thread")]
async fn oversized_and_malformed_requests_are_refused() {
    let fx = Fixtures::new();
    let c = fx.credential("acme", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let daemon = Daemon::start(&c.toml("acme", ISSUER, "")).await;
    let mut client = daemon.client().await;

    let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(100 * 1024));
    let e = client
        .agent
        .sign_client_assertion(pb::SignClientAssertionRequest {
            credential: by_name("acme"),
            extra_claims_json: huge,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::OutOfRange, "{e:?}");
    assert!(e.message().contains("too large"), "{}", e.message());
    // The same cap on the health service (tonic's default is 4 MiB).
    let channel = fapi_agent::client::channel(&daemon.socket).await.unwrap();
    let e = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: "x".repeat(100 * 1024),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::OutOfRange, "{e:?}");

    // Field 1 (the selector, a message) sent as a varint: undecodable.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Garbled {
        #[prost(uint64, tag = "1")]
        credential: u64,
    }
    let channel = fapi_agent::client::channel(&daemon.socket).await.unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let e = grpc
        .unary::<Garbled, pb::SignClientAssertionResponse, _>(
            tonic::Request::new(Garbled { credential: 7 }),
            "/fapi_agent.v1.Agent/SignClientAssertion".parse().unwrap(),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap_err();
    // The caller's error, not the daemon's (it was INTERNAL, prost's
    // mapping, until the review flagged it).
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(e.message().contains("decode"), "{}", e.message());

    sign(&mut client, "acme").await.expect("still serving");
}

/// `max_streams_per_connection` caps what one connection has in flight:
/// past it, its next request waits for a slot, while other connections
/// are served at once.
#[tokio::test(flavor = "multi_thread")]
async fn streams_per_connection_are_capped() {
    let fx = Fixtures::new();
    let c = fx.credential("acme", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let daemon = Daemon::start(&config(
        "max_streams_per_connection = 2",
        &[c.toml("acme", ISSUER, "")],
    ))
    .await;
    let mut busy = daemon.client().await;
    let mut watches = Vec::new();
    for _ in 0..2 {
        let mut w = busy
            .agent
            .watch_credentials(pb::WatchCredentialsRequest::default())
            .await
            .unwrap()
            .into_inner();
        w.message().await.unwrap().expect("snapshot");
        watches.push(w);
    }
    let waited = tokio::time::timeout(Duration::from_secs(1), sign(&mut busy, "acme")).await;
    assert!(
        waited.is_err(),
        "a third stream on a full connection was served"
    );
    let mut other = daemon.client().await;
    sign(&mut other, "acme")
        .await
        .expect("another connection is served at once");
    drop(watches.pop());
    tokio::time::timeout(Duration::from_secs(10), sign(&mut busy, "acme"))
        .await
        .expect("served once a stream closed")
        .unwrap();
}

/// Idle connections and a stalled stream do not slow a healthy caller;
/// connection and rate limits answer precisely.
#[tokio::test(flavor = "multi_thread")]
async fn stalled_clients_and_limits() {
    let fx = Fixtures::new();
    let c = fx.credential("acme", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let daemon = Daemon::start(&config(
        "max_connections = 40",
        &[c.toml("acme", ISSUER, "")],
    ))
    .await;
    let mut client = daemon.client().await;
    sign(&mut client, "acme").await.unwrap();

    // 30 connections that never speak, and a watcher that never reads.
    let mut idle = Vec::new();
    for _ in 0..30 {
        idle.push(
            tokio::net::UnixStream::connect(&daemon.socket)
                .await
                .unwrap(),
        );
    }
    let stalled = fapi_agent::client::channel_with(
        tonic::transport::Endpoint::from_static("http://localhost")
            .initial_stream_window_size(1024),
        &daemon.socket,
    )
    .await
    .unwrap();
    let _stalled_watch = pb::agent_client::AgentClient::new(stalled)
        .watch_credentials(pb::WatchCredentialsRequest::default())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    for _ in 0..100 {
        sign(&mut client, "acme").await.unwrap();
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "100 signatures took {took:?} beside stalled clients"
    );

    // Beyond max_connections, a new connection is closed at once.
    for _ in 0..10 {
        idle.push(
            tokio::net::UnixStream::connect(&daemon.socket)
                .await
                .unwrap(),
        );
    }
    let refused = async {
        let mut c = fapi_agent::client::Client::connect(&daemon.socket).await?;
        c.admin
            .status(pb::StatusRequest {})
            .await
            .map_err(|e| e.into())
    };
    let r: Result<_, Box<dyn std::error::Error>> =
        tokio::time::timeout(Duration::from_secs(5), refused)
            .await
            .unwrap();
    assert!(r.is_err(), "a connection past the limit was served");
    assert!(daemon.stderr().contains("too many connections"));
    drop(idle);
    tokio::time::sleep(Duration::from_millis(200)).await;
    sign(&mut client, "acme")
        .await
        .expect("the existing connection still serves");

    // Per uid: one uid holding idle connections cannot lock others out.
    let capped = Daemon::start(&config(
        "max_connections = 5\nmax_connections_per_uid = 4",
        &[c.toml("acme", ISSUER, "")],
    ))
    .await;
    capped.open_socket_to_all();
    let mut hogs = Vec::new();
    for _ in 0..10 {
        hogs.push(
            tokio::net::UnixStream::connect(&capped.socket)
                .await
                .unwrap(),
        );
    }
    // The property, not a count a race can change (the readiness check's
    // own connection may still hold one of root's slots): each hog
    // connection is either served (the server speaks first, its HTTP/2
    // SETTINGS) or closed at accept (EOF), and at most the cap are served.
    let mut served = 0;
    for hog in &mut hogs {
        use tokio::io::AsyncReadExt;
        let mut byte = [0u8; 1];
        match tokio::time::timeout(Duration::from_secs(10), hog.read(&mut byte)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {}
            Ok(Ok(_)) => served += 1,
            Err(_) => panic!("a hog connection was neither served nor closed"),
        }
    }
    assert!(
        (1..=4).contains(&served),
        "{served} of root's 10 idle connections were served, cap 4"
    );
    assert!(
        capped.stderr().contains("from this uid"),
        "{}",
        capped.stderr()
    );
    let other = capped.cli_as_nobody(&["credentials"]);
    assert!(
        other.status.success(),
        "another uid was locked out: {}",
        String::from_utf8_lossy(&other.stderr)
    );
    drop(hogs);

    // Rate limit, in a daemon allowing 5 requests a second after a burst of 10.
    let limited = Daemon::start(&config(
        "requests_per_second_per_uid = 5\nrequest_burst_per_uid = 10",
        &[c.toml("acme", ISSUER, "")],
    ))
    .await;
    let mut lc = limited.client().await;
    let mut outcomes = Vec::new();
    // 60 requests: only a run slower than 10 s could pass unrefused.
    for _ in 0..60 {
        outcomes.push(sign(&mut lc, "acme").await.map(|_| ()));
    }
    let refused: Vec<&tonic::Status> = outcomes.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(!refused.is_empty(), "no request was rate limited");
    assert!(
        outcomes.iter().filter(|r| r.is_ok()).count() >= 9,
        "the burst was served"
    );
    for e in refused {
        assert_eq!(e.code(), Code::ResourceExhausted);
        assert!(e.message().contains("rate limit: uid"), "{}", e.message());
    }
    // Other callers are not affected: the health service needs no token.
    let channel = fapi_agent::client::channel(&limited.socket).await.unwrap();
    tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap();
}

/// At the most verbose log level, nothing secret reaches the log.
#[tokio::test(flavor = "multi_thread")]
async fn no_secret_in_logs_at_trace_level() {
    let fx = Fixtures::new();
    let rsa = fx.credential("rsa", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let daemon = Daemon::start_traced(&rsa.toml(
        "acme",
        ISSUER,
        "export = true\ndecrypt_paddings = [\"oaep-sha256\"]",
    ))
    .await;
    let mut client = daemon.client().await;
    sign(&mut client, "rsa").await.unwrap();
    let secret = b"the-shared-secret-value-42";
    let ct = encrypt(fx.path(), &rsa.cert, secret, pb::Padding::OaepSha256);
    let out = client
        .agent
        .decrypt_secret(pb::DecryptSecretRequest {
            credential: by_name("rsa"),
            padding: pb::Padding::OaepSha256.into(),
            ciphertext: Some(pb::decrypt_secret_request::Ciphertext::CiphertextRaw(ct)),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(out.plaintext, secret);
    let exported = client
        .agent
        .get_key_material(pb::GetKeyMaterialRequest {
            credential: by_name("rsa"),
            format: pb::KeyFormat::EncryptedPkcs8Pem.into(),
            export_passphrase: b"an-export-passphrase".to_vec(),
        })
        .await
        .unwrap()
        .into_inner();
    client.admin.lock(pb::LockRequest {}).await.unwrap();
    client.admin.unlock(pb::UnlockRequest {}).await.unwrap();

    let logs = daemon.stderr();
    assert!(logs.contains("TRACE"), "the daemon logged at trace level");
    let plain_pem = std::fs::read_to_string(&rsa.plain_key).unwrap();
    let key_line = plain_pem.lines().nth(5).unwrap();
    let exported_line = String::from_utf8(exported.private_key_pem)
        .unwrap()
        .lines()
        .nth(3)
        .unwrap()
        .to_owned();
    for (what, needle) in [
        ("passphrase", rsa.passphrase.as_str()),
        ("shared secret", "the-shared-secret-value-42"),
        ("export passphrase", "an-export-passphrase"),
        ("private key", key_line),
        ("exported key", exported_line.as_str()),
    ] {
        assert!(!logs.contains(needle), "the {what} reached the log");
    }
}

/// Every operation and denial lands in the hash-chained audit log, which
/// `fapi-agent audit verify` accepts, and rejects once a record is edited.
#[tokio::test(flavor = "multi_thread")]
async fn audit_log_records_everything_and_detects_tampering() {
    let fx = Fixtures::new();
    let c = fx.credential("acme", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let log = fx.path().join("audit.jsonl");
    let daemon = Daemon::start(&format!(
        "[agent]\naudit_log = {log:?}\nrequests_per_second_per_uid = 1\nrequest_burst_per_uid = 20\n{}",
        c.toml("acme", ISSUER, "")
    ))
    .await;
    let mut client = daemon.client().await;
    let signed = sign(&mut client, "acme").await.unwrap();
    let _ = client
        .agent
        .decrypt_secret(pb::DecryptSecretRequest {
            credential: by_name("acme"),
            padding: pb::Padding::OaepSha256.into(),
            ciphertext: Some(pb::decrypt_secret_request::Ciphertext::CiphertextRaw(
                vec![1; 256],
            )),
        })
        .await
        .unwrap_err();
    let _ = client
        .agent
        .get_key_material(pb::GetKeyMaterialRequest {
            credential: by_name("acme"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    daemon.open_socket_to_all();
    assert!(
        !daemon
            .cli_as_nobody(&["assertion", "--credential", "acme"])
            .status
            .success()
    );
    assert!(!daemon.cli_as_nobody(&["status"]).status.success());
    let bad_claims = client
        .agent
        .sign_client_assertion(pb::SignClientAssertionRequest {
            credential: by_name("acme"),
            extra_claims_json: "not json".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_claims.code(), Code::InvalidArgument);
    client.admin.lock(pb::LockRequest {}).await.unwrap();
    client.admin.unlock(pb::UnlockRequest {}).await.unwrap();
    // Past the burst: the first refusal is recorded, the flood after it is not.
    let mut refused = 0;
    for _ in 0..40 {
        if let Err(e) = client.admin.status(pb::StatusRequest {}).await {
            assert_eq!(e.code(), Code::ResourceExhausted);
            refused += 1;
        }
    }
    assert!(refused >= 10, "only {refused} of 40 refused");

    let records: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ops: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            (
                r["op"].as_str().unwrap().to_owned(),
                r["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("sign", "ok"),
        ("decrypt", "error"),
        ("export", "denied"),
        ("sign", "denied"),
        ("status", "denied"),
        ("sign", "error"),
        ("lock", "ok"),
        ("unlock", "ok"),
        ("status", "denied"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(ops, expected);
    assert_eq!(records[0]["jti"], signed.jti.as_str());
    assert_eq!(records[0]["kid"], signed.kid.as_str());
    assert_eq!(records[0]["aud"], ISSUER);
    assert_eq!(records[0]["exp"], signed.expires_at);
    assert_eq!(records[0]["caller"]["uid"], 0);
    assert_eq!(records[3]["caller"]["uid"], 65534);
    assert_eq!(records[4]["caller"]["uid"], 65534);
    assert!(records[4]["detail"].as_str().unwrap().contains("Admin"));
    assert!(
        records[5]["detail"]
            .as_str()
            .unwrap()
            .contains("extra_claims_json")
    );
    assert_eq!(records[8]["caller"]["uid"], 0);
    assert!(
        records[8]["detail"]
            .as_str()
            .unwrap()
            .contains("rate limit")
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains(&c.passphrase), "no secret in the audit log");

    let verify = |path: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
            .args(["audit", "verify"])
            .arg(path)
            .output()
            .unwrap()
    };
    let ok = verify(&log);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("ok: 9 records"));

    let tampered = fx.path().join("tampered.jsonl");
    std::fs::write(
        &tampered,
        text.replacen("\"outcome\":\"denied\"", "\"outcome\":\"ok\"", 1),
    )
    .unwrap();
    let bad = verify(&tampered);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("line 3: record seq 2 was edited"),
        "{}",
        stderr(&bad)
    );
}

/// A shielded key is held sealed: between operations its bytes are nowhere
/// in the daemon's memory, while a plain key's are (the control).
#[tokio::test(flavor = "multi_thread")]
async fn shielded_keys_leave_no_key_bytes_between_operations() {
    let fx = Fixtures::new();
    let shielded = fx.credential("shielded", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let plain = fx.credential("plain", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let scalar = |c: &Cred| {
        let k = openssl::pkey::PKey::private_key_from_pem(&std::fs::read(&c.plain_key).unwrap())
            .unwrap();
        let be = k.ec_key().unwrap().private_key().to_vec_padded(32).unwrap();
        let le: Vec<u8> = be.iter().rev().copied().collect();
        (be, le)
    };
    let cfg = format!(
        "{}{}",
        shielded.toml("acme", ISSUER, "shielded = true"),
        plain.toml("plain", ISSUER, "")
    );
    let daemon = Daemon::start(&cfg).await;
    let mut client = daemon.client().await;
    for _ in 0..20 {
        let r = sign(&mut client, "shielded").await.unwrap();
        verify_with_python(&r.assertion, &shielded.cert, "ES256", ISSUER, "acme", &[]);
        sign(&mut client, "plain").await.unwrap();
    }
    let info = facts(&mut client, "shielded").await;
    assert!(info.key_decrypted, "the shielded key is held (sealed)");

    let memory = memory_of(daemon.pid());
    let (plain_be, plain_le) = scalar(&plain);
    assert!(
        contains(&memory, &plain_be) || contains(&memory, &plain_le),
        "control: a plain key is found"
    );
    let (be, le) = scalar(&shielded);
    assert!(
        !contains(&memory, &be) && !contains(&memory, &le),
        "shielded key bytes found between operations"
    );
}

/// A systemd-unit rule matches a caller placed in that unit's cgroup (a
/// real cgroup, made by the test) and no other.
#[tokio::test(flavor = "multi_thread")]
async fn systemd_unit_rules_follow_the_callers_cgroup() {
    let fx = Fixtures::new();
    let c = fx.credential("acme", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let unit = format!("fapi-test-{}.service", std::process::id());
    let daemon = Daemon::start(&c.toml(
        "acme",
        ISSUER,
        &format!(
            "[[credentials.acme.allow]]\nsystemd_units = [{unit:?}]\noperations = [\"sign\"]\n"
        ),
    ))
    .await;
    // Systemd's hierarchy: unified cgroup2 where it is the only one, else
    // the hybrid name=systemd tree.
    let root = [
        "/sys/fs/cgroup/unified",
        "/sys/fs/cgroup/systemd",
        "/sys/fs/cgroup",
    ]
    .iter()
    .find(|r| std::path::Path::new(r).join("cgroup.procs").exists())
    .expect("a writable cgroup hierarchy (tests run as root)");
    let dir = std::path::Path::new(root).join(format!("fapi-test.slice/{unit}"));
    std::fs::create_dir_all(&dir).unwrap();
    let run_in_unit = |args: &str| {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "echo $$ > {}/cgroup.procs && exec {} {args} --socket {}",
                dir.display(),
                env!("CARGO_BIN_EXE_fapi-agent"),
                daemon.socket.display()
            ))
            .output()
            .unwrap()
    };
    let inside = run_in_unit("assertion --credential acme");
    let outside = daemon.cli(&["assertion", "--credential", "acme"]);
    let _ = std::fs::remove_dir(&dir);
    let _ = std::fs::remove_dir(dir.parent().unwrap());
    assert!(inside.status.success(), "in {unit}: {}", stderr(&inside));
    let token = String::from_utf8(inside.stdout).unwrap();
    verify_with_python(token.trim(), &c.cert, "ES256", ISSUER, "acme", &[]);
    assert!(
        stderr(&outside).contains(&format!("needs systemd unit in [\"{unit}\"]")),
        "{}",
        stderr(&outside)
    );
    assert!(
        daemon.stderr().contains(&format!("unit {unit}")),
        "the unit is logged with the caller"
    );
}

/// The daemon cannot be dumped or ptraced by its own uid: it runs as
/// nobody here, and nobody cannot read its memory; core dumps are off.
#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_is_not_dumpable_and_has_no_core() {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fixtures::new();
    let c = fx.credential("acme", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let dir = fx.path().join("nobody");
    std::fs::create_dir(&dir).unwrap();
    for f in [&c.key, &c.cert, &c.pass_file] {
        std::fs::copy(f, dir.join(f.file_name().unwrap())).unwrap();
    }
    let name = |f: &std::path::Path| dir.join(f.file_name().unwrap());
    let cfg = format!(
        "[credentials.acme]\nclient_id = \"acme\"\nissuer = {ISSUER:?}\nkey = {:?}\ncertificate = {:?}\npassphrase = {{ source = \"file\", path = {:?} }}\n",
        name(&c.key),
        name(&c.cert),
        name(&c.pass_file)
    );
    std::fs::write(dir.join("agent.toml"), cfg).unwrap();
    std::fs::set_permissions(fx.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    run(std::process::Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(&dir));
    let socket = dir.join("run/agent.sock");
    let mut child = std::process::Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            env!("CARGO_BIN_EXE_fapi-agent"),
            "run",
            "--config",
        ])
        .arg(dir.join("agent.toml"))
        .arg("--socket")
        .arg(&socket)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let served = wait_for_daemon_as_nobody(&socket).await;
    let pid = child.id();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    // Another process of the same uid tries to read the daemon's memory.
    let peek = std::process::Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "head",
            "-c",
            "1",
        ])
        .arg(format!("/proc/{pid}/environ"))
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(served, "the daemon did not start as nobody");
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert!(
        core.split_whitespace().filter(|w| *w == "0").count() == 2,
        "{core}"
    );
    assert!(
        !peek.status.success(),
        "same-uid process read /proc/PID/environ of a non-dumpable daemon"
    );
    assert!(
        String::from_utf8_lossy(&peek.stderr).contains("Permission denied"),
        "{}",
        stderr(&peek)
    );
}

async fn wait_for_daemon_as_nobody(socket: &std::path::Path) -> bool {
    for _ in 0..100 {
        let out = std::process::Command::new("setpriv")
            .args([
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                env!("CARGO_BIN_EXE_fapi-agent"),
                "assertion",
                "--credential",
                "acme",
                "--socket",
            ])
            .arg(socket)
            .output()
            .unwrap();
        if out.status.success() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Clients trust the daemon only if the kernel says it runs as the
/// caller's uid, root, or FAPI_AGENT_SOCKET_OWNER: a socket another user
/// serves (squatting, a swapped path) is refused before any request.
#[test]
fn clients_refuse_a_socket_served_by_another_uid() {
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let sock = dir.path().join("impostor.sock");
    let impostor = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c"])
        .arg(
            "import socket,sys,time\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen(8)\nwhile True:\n  c,_=s.accept(); time.sleep(0.5); c.close()",
        )
        .arg(&sock)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("setpriv (util-linux)");
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _impostor = KillOnDrop(impostor);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !sock.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "impostor did not bind"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let run = |owner: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fapi-agent"));
        cmd.args(["status", "--socket", sock.to_str().unwrap()]);
        cmd.env_remove("FAPI_AGENT_SOCKET_OWNER");
        if let Some(o) = owner {
            cmd.env("FAPI_AGENT_SOCKET_OWNER", o);
        }
        cmd.output().unwrap()
    };
    let out = run(None);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("served by uid 65534"), "{err}");
    // Trusting that uid explicitly gets past the check (and then fails on
    // the impostor, which speaks no gRPC).
    let out = run(Some("65534"));
    assert!(!out.status.success());
    assert!(!stderr(&out).contains("served by uid"), "{}", stderr(&out));
}
