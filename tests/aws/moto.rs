//! The moto-backed tests, built only with the feature (see `tests/aws.rs`).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Daemon, Fixtures, KeyFormat, KeyType, sign};

const ISSUER: &str = "https://as.example";

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_moto() -> (Moto, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 -m moto.server (pip install 'moto[server]')");
    let moto = Moto(child);
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    (moto, url)
}

/// Runs boto3 against moto: `script` sees `sm`, a secretsmanager client.
fn boto3(url: &str, script: &str) {
    let out = Command::new("python3")
        .args([
            "-c",
            &format!(
                "import boto3, json, sys\nsm = boto3.client('secretsmanager', endpoint_url={url:?}, region_name='eu-west-1', aws_access_key_id='testing', aws_secret_access_key='testing')\n{script}"
            ),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "boto3: {out:?}");
}

fn stanza(cred: &crate::common::Cred, source: &str) -> String {
    format!(
        "[credentials.{n}]\nclient_id = \"{n}\"\nissuer = {ISSUER:?}\nkey = {:?}\ncertificate = {:?}\npassphrase = {source}\n",
        cred.key,
        cred.cert,
        n = cred.name
    )
}

#[tokio::test]
async fn aws_secrets_manager_stages_json_keys_and_errors() {
    let fx = Fixtures::new();
    let old = fx.credential("old", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let new = fx.credential("new", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let json = fx.credential("json", KeyType::Rsa2048, KeyFormat::Pkcs8Scrypt);
    let (_moto, url) = start_moto();
    // The old passphrase first, then rotated: it becomes AWSPREVIOUS.
    boto3(
        &url,
        &format!(
            "sm.create_secret(Name='acme/pass', SecretString={:?})\nsm.put_secret_value(SecretId='acme/pass', SecretString={:?})\nsm.create_secret(Name='acme/json', SecretString=json.dumps({{'passphrase': {:?}, 'note': 'x'}}))",
            old.passphrase, new.passphrase, json.passphrase
        ),
    );
    let src = |extra: &str| {
        format!(
            "{{ source = \"aws-secrets-manager\", endpoint_url = {url:?}, region = \"eu-west-1\"{extra} }}"
        )
    };
    let missing_key = fx.credential("missingkey", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let unknown = fx.credential("unknown", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let config = [
        stanza(&new, &src(", secret_id = \"acme/pass\"")),
        stanza(
            &old,
            &src(", secret_id = \"acme/pass\", version_stage = \"AWSPREVIOUS\""),
        ),
        stanza(
            &json,
            &src(", secret_id = \"acme/json\", json_key = \"passphrase\""),
        ),
        stanza(
            &missing_key,
            &src(", secret_id = \"acme/json\", json_key = \"nope\""),
        ),
        stanza(&unknown, &src(", secret_id = \"no/such/secret\"")),
    ]
    .join("\n");
    let d = Daemon::start_with(
        &config,
        &[
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    )
    .await;
    let mut c = d.client().await;
    for name in ["new", "old", "json"] {
        sign(&mut c, name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}\n{}", d.stderr()));
    }
    let err = sign(&mut c, "missingkey").await.unwrap_err();
    assert!(
        err.message().contains("no key \"nope\""),
        "{}",
        err.message()
    );
    assert!(!err.message().contains(&json.passphrase));
    let err = sign(&mut c, "unknown").await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    assert!(
        err.message().contains("no/such/secret") && err.message().contains("ResourceNotFound"),
        "{}",
        err.message()
    );
    for p in [&old.passphrase, &new.passphrase, &json.passphrase] {
        assert!(!d.stderr().contains(p.as_str()), "a passphrase in the log");
    }
}
