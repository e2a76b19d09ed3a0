//! The daemon as a server: socket safety, caller identity from the kernel,
//! health and reflection, lazy decryption, key export, passphrase sources,
//! shutdown, dev mode.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use fapi_agent::service::pb;
use tokio_stream::StreamExt;
use tonic::Code;

const ISSUER: &str = "https://as.fapi-agent.test";

fn one_credential(fx: &Fixtures, extra: &str) -> (Cred, String) {
    let c = fx.credential("acme", KeyType::P256, KeyFormat::Pkcs8Scrypt);
    let cfg = c.toml("acme", ISSUER, extra);
    (c, cfg)
}

/// Another uid (`nobody`, through `setpriv`) reaching the socket is denied
/// by the daemon from its kernel credentials, with the rule named.
#[tokio::test(flavor = "multi_thread")]
async fn other_uid_is_denied_from_kernel_credentials() {
    let fx = Fixtures::new();
    let (_c, cfg) = one_credential(&fx, "");
    let daemon = Daemon::start(&cfg).await;
    // Open the path to others so the kernel lets nobody connect at all:
    // what stops it must be the daemon's own check.
    let run_dir = daemon.socket.parent().unwrap();
    for p in [daemon.dir.path(), run_dir] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(&daemon.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let bin = env!("CARGO_BIN_EXE_fapi-agent");
    let out = Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            bin,
            "assertion",
            "--credential",
            "acme",
            "--socket",
        ])
        .arg(&daemon.socket)
        .output()
        .expect("setpriv (util-linux) is needed; tests run as root");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("PermissionDenied"), "{stderr}");
    assert!(
        stderr.contains("uid 65534") && stderr.contains("it has no allow rules"),
        "{stderr}"
    );
    assert!(daemon.stderr().contains("denied"), "the denial is logged");
    // Root (the test) is still served.
    let mut client = daemon.client().await;
    sign(&mut client, "acme").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn socket_is_private_stale_replaced_live_refused_removed_on_sigterm() {
    let fx = Fixtures::new();
    let (_c, cfg) = one_credential(&fx, "");
    let mut daemon = Daemon::start(&cfg).await;
    let meta = std::fs::metadata(&daemon.socket).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let dir_meta = std::fs::metadata(daemon.socket.parent().unwrap()).unwrap();
    assert_eq!(dir_meta.permissions().mode() & 0o777, 0o700);

    // A second daemon on the same live socket refuses to start.
    let cfg_path = daemon.dir.path().join("agent.toml");
    let second = run_cmd(&cfg_path, &daemon.socket).output().unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("already serving"));

    // SIGTERM: clean exit, socket removed.
    let status = daemon.terminate();
    assert!(status.success(), "{status}");
    assert!(!daemon.socket.exists());

    // A stale socket (bound, nobody listening) is replaced.
    let stale = std::os::unix::net::UnixListener::bind(&daemon.socket).unwrap();
    drop(stale);
    assert!(daemon.socket.exists());
    let mut restarted = run_cmd(&cfg_path, &daemon.socket)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ok = wait_for_daemon(&daemon.socket).await;
    let _ = restarted.kill();
    let _ = restarted.wait();
    assert!(ok, "daemon did not replace the stale socket");

    // A regular file at the socket path is not touched.
    let file_path = fx.path().join("not-a-socket");
    std::fs::write(&file_path, "keep me").unwrap();
    let out = run_cmd(&cfg_path, &file_path).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a socket"));
    assert_eq!(std::fs::read_to_string(&file_path).unwrap(), "keep me");
}

#[tokio::test(flavor = "multi_thread")]
async fn socket_group_gives_group_access() {
    let fx = Fixtures::new();
    let (_c, cred) = one_credential(&fx, "");
    let daemon = Daemon::start(&format!("[agent]\nsocket_group = \"nogroup\"\n{cred}")).await;
    use std::os::unix::fs::MetadataExt;
    let sock = std::fs::metadata(&daemon.socket).unwrap();
    let dir = std::fs::metadata(daemon.socket.parent().unwrap()).unwrap();
    assert_eq!((sock.mode() & 0o777, sock.gid()), (0o660, 65534));
    assert_eq!((dir.mode() & 0o777, dir.gid()), (0o750, 65534));

    let cfg_path = fx.path().join("bad-group.toml");
    std::fs::write(
        &cfg_path,
        format!("[agent]\nsocket_group = \"no-such-group-x\"\n{cred}"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
        .args(["run", "--config", cfg_path.to_str().unwrap(), "--socket"])
        .arg(fx.path().join("g/agent.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a group"));
}

#[test]
fn unsafe_socket_directories_are_refused() {
    let fx = Fixtures::new();
    let (_c, cfg) = one_credential(&fx, "");
    let cfg_path = fx.path().join("agent.toml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let start = |socket: &std::path::Path| run_cmd(&cfg_path, socket).output().unwrap();
    // World-writable directory.
    let open_dir = fx.path().join("open");
    std::fs::create_dir(&open_dir).unwrap();
    std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = start(&open_dir.join("agent.sock"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && stderr.contains("refusing socket directory")
            && stderr.contains("0777"),
        "{stderr}"
    );
    // A symlinked directory.
    let link = fx.path().join("link");
    std::os::unix::fs::symlink(fx.path(), &link).unwrap();
    let out = start(&link.join("agent.sock"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("symlinks are refused"));
    // A directory owned by another user.
    let theirs = fx.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let out = start(&theirs.join("agent.sock"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("owned by uid 65534"));
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_reflection_v1_and_v1alpha() {
    let fx = Fixtures::new();
    let (_c, cfg) = one_credential(&fx, "");
    let daemon = Daemon::start(&cfg).await;
    let channel = fapi_agent::client::channel(&daemon.socket).await.unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    for service in ["", "fapi_agent.v1.Agent", "fapi_agent.v1.Admin"] {
        let r = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            r.status(),
            tonic_health::pb::health_check_response::ServingStatus::Serving,
            "{service}"
        );
    }

    use tonic_reflection::pb::{v1, v1alpha};
    let mut v1c = v1::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let req = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut stream = v1c
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let resp = stream.next().await.unwrap().unwrap();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        resp.message_response
    else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for want in [
        "fapi_agent.v1.Agent",
        "fapi_agent.v1.Admin",
        "grpc.health.v1.Health",
    ] {
        assert!(names.iter().any(|n| n == want), "{names:?}");
    }
    let mut alpha = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let req = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                "fapi_agent.v1.Agent".into(),
            ),
        ),
    };
    let mut stream = alpha
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let resp = stream.next().await.unwrap().unwrap();
    assert!(matches!(
        resp.message_response,
        Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(ref f)) if !f.file_descriptor_proto.is_empty()
    ));
}

/// Keys decrypt on first use, once for many concurrent first requests, and
/// are dropped after the idle TTL, then decrypted again from the held
/// passphrase.
#[tokio::test(flavor = "multi_thread")]
async fn keys_decrypt_lazily_once_and_expire() {
    let fx = Fixtures::new();
    let (_c, cred) = one_credential(&fx, "");
    let cfg = format!("[agent]\nkey_idle_ttl_seconds = 2\nkey_max_ttl_seconds = 30\n{cred}");
    let daemon = Daemon::start(&cfg).await;
    let mut client = daemon.client().await;
    let decrypted = |c: &mut fapi_agent::client::Client| {
        let mut c = c.clone();
        async move { facts(&mut c, "acme").await.key_decrypted }
    };
    let count = |d: &Daemon| d.stderr().matches("key decrypted").count();
    // Start-up check: decrypted once, then dropped because nobody used it.
    for _ in 0..100 {
        if daemon.stderr().contains("key verified") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count(&daemon), 1);
    assert!(!decrypted(&mut client).await, "not held before first use");

    // 32 concurrent first requests: one decryption.
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let mut c = client.clone();
        tasks.push(tokio::spawn(async move { sign(&mut c, "acme").await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(count(&daemon), 2, "{}", daemon.stderr());
    assert!(decrypted(&mut client).await);

    // Idle past the TTL: dropped (by the once-a-second sweep), and
    // decrypted again on the next use.
    let idle_since = std::time::Instant::now();
    while decrypted(&mut client).await {
        assert!(
            idle_since.elapsed() < Duration::from_secs(30),
            "not dropped after the idle TTL"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        idle_since.elapsed() >= Duration::from_secs(1),
        "dropped before the idle TTL"
    );
    sign(&mut client, "acme").await.unwrap();
    assert_eq!(count(&daemon), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn key_export_only_when_configured() {
    let fx = Fixtures::new();
    let off = fx.credential("off", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let on = fx.credential("on", KeyType::Rsa2048, KeyFormat::LegacyPem);
    let cfg = format!(
        "{}{}",
        off.toml("off", ISSUER, ""),
        on.toml("on", ISSUER, "export = true")
    );
    let daemon = Daemon::start(&cfg).await;
    let mut client = daemon.client().await;
    let export = |name: &str, format: pb::KeyFormat, pass: &[u8]| pb::GetKeyMaterialRequest {
        credential: by_name(name),
        format: format.into(),
        export_passphrase: pass.to_vec(),
    };
    let e = client
        .agent
        .get_key_material(export("off", pb::KeyFormat::Pkcs8Pem, b""))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("export = true"));

    let r = client
        .agent
        .get_key_material(export("on", pb::KeyFormat::Pkcs8Pem, b""))
        .await
        .unwrap()
        .into_inner();
    assert!(
        r.private_key_pem
            .starts_with(b"-----BEGIN PRIVATE KEY-----")
    );
    std::fs::write(fx.path().join("exported.pem"), &r.private_key_pem).unwrap();
    // openssl agrees the exported key is the certificate's.
    let pubkey = |args: &[&str]| String::from_utf8(openssl(fx.path(), args).stdout).unwrap();
    let from_cert = pubkey(&[
        "x509",
        "-in",
        on.cert.to_str().unwrap(),
        "-pubkey",
        "-noout",
    ]);
    assert_eq!(
        pubkey(&["pkey", "-in", "exported.pem", "-pubout"]),
        from_cert
    );
    assert!(r.certificate_chain_pem.contains("BEGIN CERTIFICATE"));

    let e = client
        .agent
        .get_key_material(export("on", pb::KeyFormat::EncryptedPkcs8Pem, b"short"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let r = client
        .agent
        .get_key_material(export(
            "on",
            pb::KeyFormat::EncryptedPkcs8Pem,
            b"export-pass-123",
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        r.private_key_pem
            .starts_with(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    );
    std::fs::write(fx.path().join("exported.enc.pem"), &r.private_key_pem).unwrap();
    std::fs::write(fx.path().join("export.pass"), "export-pass-123").unwrap();
    assert_eq!(
        pubkey(&[
            "pkey",
            "-in",
            "exported.enc.pem",
            "-passin",
            "file:export.pass",
            "-pubout"
        ]),
        from_cert
    );
    assert!(
        daemon.stderr().matches("PRIVATE KEY EXPORTED").count() == 2,
        "each export is logged"
    );
}

/// The kernel keyring and environment sources, for real.
#[tokio::test(flavor = "multi_thread")]
async fn keyutils_and_env_passphrase_sources() {
    let fx = Fixtures::new();
    let kr = fx.credential("kr", KeyType::P256, KeyFormat::Pkcs8Scrypt);
    let env = fx.credential("envsrc", KeyType::Ed25519, KeyFormat::Pkcs8Pbkdf2);
    let desc = format!("fapi-agent-test:{}:kr", std::process::id());
    // Store the passphrase in the user keyring with keyctl, from stdin.
    let mut padd = Command::new("keyctl")
        .args(["padd", "user", &desc, "@u"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("keyctl (Debian package keyutils) is needed");
    use std::io::Write;
    padd.stdin
        .take()
        .unwrap()
        .write_all(kr.passphrase.as_bytes())
        .unwrap();
    let key_id = String::from_utf8(padd.wait_with_output().unwrap().stdout).unwrap();
    let var = "FAPI_AGENT_TEST_PASSPHRASE";
    let cfg = format!(
        "{}{}",
        kr.toml("kr", ISSUER, "").replace(
            &format!(
                "passphrase = {{ source = \"file\", path = {:?} }}",
                kr.pass_file
            ),
            &format!("passphrase = {{ source = \"keyutils\", description = {desc:?} }}")
        ),
        env.toml("envsrc", ISSUER, "").replace(
            &format!(
                "passphrase = {{ source = \"file\", path = {:?} }}",
                env.pass_file
            ),
            &format!("passphrase = {{ source = \"env\", variable = {var:?} }}")
        ),
    );
    let daemon = Daemon::start_with(&cfg, &[(var, &env.passphrase)]).await;
    let mut client = daemon.client().await;
    let r = sign(&mut client, "kr").await.unwrap();
    verify_with_python(&r.assertion, &kr.cert, "ES256", ISSUER, "kr", &[]);
    let r = sign(&mut client, "envsrc").await.unwrap();
    verify_with_python(&r.assertion, &env.cert, "EdDSA", ISSUER, "envsrc", &[]);

    // The variable is gone from the daemon's environment, bytes included.
    let environ = std::fs::read(format!("/proc/{}/environ", daemon.pid())).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(!environ.contains(var), "variable still set");
    assert!(
        !environ.contains(&env.passphrase),
        "passphrase bytes still in the environment block"
    );
    assert!(daemon.stderr().contains("weakest source"));

    // A missing keyring entry is UNAVAILABLE naming the source.
    run(Command::new("keyctl").args(["unlink", key_id.trim(), "@u"]));
    let missing = fx.credential("missing", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let cfg2 = missing.toml("missing", ISSUER, "").replace(
        &format!(
            "passphrase = {{ source = \"file\", path = {:?} }}",
            missing.pass_file
        ),
        &format!("passphrase = {{ source = \"keyutils\", description = {desc:?} }}"),
    );
    let daemon2 = Daemon::start(&cfg2).await;
    let mut client2 = daemon2.client().await;
    let e = sign(&mut client2, "missing").await.unwrap_err();
    assert_eq!(e.code(), Code::Unavailable, "{}", e.message());
    assert!(
        e.message().contains("keyutils user:") && e.message().contains("no such key"),
        "{}",
        e.message()
    );
    // The first daemon still holds its passphrase and keeps serving.
    sign(&mut client, "kr").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_mode_needs_no_setup() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("dev/agent.sock");
    let child = Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
        .args(["run", "--dev", "--socket", socket.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut ready = false;
    for _ in 0..200 {
        if let Ok(mut c) = fapi_agent::client::Client::connect(&socket).await
            && let Ok(r) = sign(&mut c, "dev").await
        {
            assert_eq!(r.alg, "ES256");
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    run(Command::new("kill").args(["-INT", &child.id().to_string()]));
    let out = child.wait_with_output().unwrap();
    assert!(ready, "dev daemon did not serve");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(socket.to_str().unwrap())
            && stdout.contains("\"kty\": \"EC\"")
            && stdout.contains("fapi-agent assertion"),
        "{stdout}"
    );
    assert!(out.status.success());
    assert!(!socket.exists());
}
