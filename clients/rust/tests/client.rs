//! The Rust client against the real daemon (`target/debug/fapi-agent`) and
//! a real authorization server (`tests/oidc/server.mjs`, oidc-provider).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fapi_agent_client::{Client, ClientError, Options, Selector, pb};
use tokio_stream::StreamExt;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn dev_daemon() -> (Proc, tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("run/agent.sock");
    let bin = target_dir().join("debug/fapi-agent");
    let child = Command::new(&bin)
        .args(["run", "--dev", "--socket", sock.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e} (build the daemon first)", bin.display()));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if sock.exists() && Client::connect(&sock, Options::default()).await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "daemon did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (Proc(child), dir, sock)
}

#[tokio::test]
async fn sign_verify_list_jwks_and_not_found() {
    let (_d, _dir, sock) = dev_daemon().await;
    let mut c = Client::connect(&sock, Options::default()).await.unwrap();
    let a = c
        .sign_client_assertion(Selector::client_id("dev-client"))
        .await
        .unwrap();
    let cred = c.credential(Selector::name("dev")).await.unwrap();
    assert_eq!(a.kid, cred.kid);
    // Verified by PyJWT against the credential's public JWK.
    let out = Command::new("python3")
        .args([
            "-c",
            "import jwt,json,sys\nk=jwt.PyJWK(json.loads(sys.argv[2]))\nc=jwt.decode(sys.argv[1],k.key,algorithms=['ES256'],audience='https://as.dev.fapi-agent.invalid')\nassert c['iss']==c['sub']=='dev-client'\nprint('ok')",
            &a.assertion,
            &cred.public_jwk_json,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jwks = c.jwks(Some("dev-client")).await.unwrap();
    assert_eq!(jwks["keys"][0]["kid"], cred.kid.as_str());
    assert_eq!(c.credentials().await.unwrap().len(), 1);
    match c.sign_client_assertion(Selector::name("nope")).await {
        Err(ClientError::Status(s)) => assert_eq!(s.code(), tonic::Code::NotFound),
        other => panic!("expected NOT_FOUND, got {other:?}"),
    }
    let mut events = c.watch(None).await.unwrap();
    let first = events.next().await.unwrap().unwrap();
    assert_eq!(first.kind(), pb::CredentialEventKind::Snapshot);
    assert!(c.status().await.unwrap().pid > 0);
}

#[tokio::test]
async fn refuses_a_socket_served_by_another_uid() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("impostor.sock");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let _impostor = Proc(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c"])
            .arg("import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen(8)\nwhile True:\n  c,_=s.accept(); c.close()")
            .arg(&sock)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("setpriv"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        assert!(Instant::now() < deadline, "impostor did not bind");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let options = Options {
        expected_uid: None,
        ..Options::default()
    };
    match Client::connect(&sock, options).await {
        Err(ClientError::Untrusted(m)) => assert!(m.contains("served by uid 65534"), "{m}"),
        Err(e) => panic!("expected Untrusted, got {e}"),
        Ok(_) => panic!("connected to an impostor"),
    }
}

#[tokio::test]
async fn example_gets_an_access_token_from_oidc_provider() {
    let (_d, _dir, sock) = dev_daemon().await;
    let mut c = Client::connect(&sock, Options::default()).await.unwrap();
    let jwks = c.jwks(Some("dev-client")).await.unwrap();
    let mut server = Command::new("node")
        .arg(root().join("tests/oidc/server.mjs"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node");
    let input = serde_json::json!({
        "issuer": "https://as.dev.fapi-agent.invalid",
        "clients": [{"client_id": "dev-client", "jwks": jwks}],
    });
    server
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _server = Proc(server);
    let endpoint: serde_json::Value = serde_json::from_str(&line).unwrap();
    let example = target_dir().join("debug/examples/token");
    let out = Command::new(&example)
        .args([
            endpoint["token_endpoint"].as_str().unwrap(),
            "dev-client",
            sock.to_str().unwrap(),
        ])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (cargo build --examples)", example.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert!(
        token["access_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
}

/// Starts the daemon on the fixture of `clients/testdata/secrets-fixture.sh`
/// (an RSA credential `secrets` with export allowed and a shared secret).
async fn secrets_daemon() -> (Proc, tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let made = Command::new("bash")
        .arg(root().join("clients/testdata/secrets-fixture.sh"))
        .arg(dir.path())
        .status()
        .expect("bash");
    assert!(made.success(), "secrets-fixture.sh failed");
    let sock = dir.path().join("agent.sock");
    let bin = target_dir().join("debug/fapi-agent");
    let child = Command::new(&bin)
        .arg("run")
        .arg("--config")
        .arg(dir.path().join("agent.toml"))
        .arg("--socket")
        .arg(&sock)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e} (build the daemon first)", bin.display()));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if sock.exists() && Client::connect(&sock, Options::default()).await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "daemon did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (Proc(child), dir, sock)
}

fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Secrets come back as `secrecy` types: redacted in `Debug`, readable only
/// through `expose_secret`, and equal to what the platform encrypted. The
/// shared secret itself never comes back: the daemon computes with it, and
/// Python's `hmac`/`hashlib` agree with the results.
#[tokio::test]
async fn secrets_are_typed_and_shared_secrets_stay_inside() {
    use fapi_agent_client::{ExposeSecret, SecretString};
    let (_d, dir, sock) = secrets_daemon().await;
    let mut c = Client::connect(&sock, Options::default()).await.unwrap();
    let secrets = || Selector::name("secrets");

    let want = std::fs::read(dir.path().join("plain.bin")).unwrap();
    let ct = std::fs::read(dir.path().join("plain.ct")).unwrap();
    let plain = c
        .decrypt_secret(secrets(), pb::Padding::OaepSha256, ct)
        .await
        .unwrap();
    assert_eq!(plain.expose_secret(), &want[..]);
    let shown = format!("{plain:?}");
    assert!(shown.contains("REDACTED"), "{shown}");
    let bytes = format!("{want:?}");
    assert!(!shown.contains(&bytes[1..bytes.len() - 1]), "{shown}");

    let km = c
        .key_material(secrets(), pb::KeyFormat::Pkcs8Pem, None)
        .await
        .unwrap();
    let pem = km.private_key_pem.expose_secret();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "not PKCS#8");
    let shown = format!("{km:?}");
    assert!(
        shown.contains("REDACTED") && !shown.contains("PRIVATE KEY"),
        "{shown}"
    );
    // The exported key is the certificate's (openssl compares the moduli).
    let key_file = dir.path().join("exported.pem");
    std::fs::write(&key_file, pem).unwrap();
    let pubkey = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let cert = dir.path().join("cert.pem");
    assert_eq!(
        pubkey(&["pkey", "-pubout", "-in", key_file.to_str().unwrap()]),
        pubkey(&["x509", "-pubkey", "-noout", "-in", cert.to_str().unwrap()]),
    );
    // Encrypted export: the passphrase opens it, as openssl reads it.
    let pass: SecretString = "an export passphrase".into();
    let enc = c
        .key_material(secrets(), pb::KeyFormat::EncryptedPkcs8Pem, Some(&pass))
        .await
        .unwrap();
    std::fs::write(&key_file, enc.private_key_pem.expose_secret()).unwrap();
    assert_eq!(
        pubkey(&[
            "pkey",
            "-pubout",
            "-passin",
            "pass:an export passphrase",
            "-in",
            key_file.to_str().unwrap()
        ]),
        pubkey(&["x509", "-pubkey", "-noout", "-in", cert.to_str().unwrap()]),
    );

    let shared = dir.path().join("shared.txt");
    let shared = shared.to_str().unwrap();
    let mac = c
        .hmac(
            secrets(),
            "api",
            pb::HmacAlg::HmacSha256,
            b"GET /accounts",
            pb::MacEncoding::Hex,
        )
        .await
        .unwrap();
    assert_eq!(
        mac.mac,
        python(
            "import hmac,sys\nprint(hmac.new(open(sys.argv[1],'rb').read(),b'GET /accounts','sha256').hexdigest())",
            &[shared]
        )
    );
    let digest = c
        .password_digest(
            secrets(),
            "api",
            b"0123456789abcdef",
            "2026-12-02T10:00:00Z",
        )
        .await
        .unwrap();
    assert_eq!(
        digest.password_digest,
        python(
            "import hashlib,base64,sys\nd=hashlib.sha1(b'0123456789abcdef'+b'2026-12-02T10:00:00Z'+open(sys.argv[1],'rb').read()).digest()\nprint(base64.b64encode(d).decode())",
            &[shared]
        )
    );
    match c
        .hmac(
            secrets(),
            "nope",
            pb::HmacAlg::HmacSha256,
            b"x",
            pb::MacEncoding::Hex,
        )
        .await
    {
        Err(ClientError::Status(s)) => assert_eq!(s.code(), tonic::Code::NotFound, "{s:?}"),
        other => panic!("expected NOT_FOUND for an unknown shared secret, got {other:?}"),
    }
}
