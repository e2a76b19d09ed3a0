//! `fapi-agent import` and `fapi-agent passphrase store`: the happy paths
//! (stanza works in a real daemon) and each onboarding mistake, caught
//! before anything is stored.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{Daemon, Fixtures, KeyFormat, KeyType, sign};

const ISSUER: &str = "https://as.example";

fn cli_with_stdin(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
        .args(args)
        .arg("--log=warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn import(name: &str, files: &[&str], pass_path: &Path, pass: &str) -> Output {
    let mut args = vec![
        "import",
        "--name",
        name,
        "--client-id",
        name,
        "--issuer",
        ISSUER,
        "--source",
        "file",
        "--path",
        pass_path.to_str().unwrap(),
    ];
    args.extend_from_slice(files);
    cli_with_stdin(&args, &format!("{pass}\n"))
}

#[tokio::test]
async fn import_key_and_cert_then_p12_and_the_stanzas_serve() {
    let fx = Fixtures::new();
    let a = fx.credential("imported", KeyType::P256, KeyFormat::Pkcs8Scrypt);
    let b = fx.credential("bundle", KeyType::Rsa2048, KeyFormat::Pkcs12);
    let pass_a = fx.path().join("imported.secret");
    let out = import(
        "imported",
        &[
            "--key",
            a.key.to_str().unwrap(),
            "--cert",
            a.cert.to_str().unwrap(),
        ],
        &pass_a,
        &a.passphrase,
    );
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ok: imported (ES256") && stderr.contains("matches its certificate"));
    assert!(
        !stderr.contains(&a.passphrase)
            && !String::from_utf8_lossy(&out.stdout).contains(&a.passphrase)
    );
    let stanza_a = String::from_utf8(out.stdout).unwrap();
    assert_eq!(std::fs::read_to_string(&pass_a).unwrap(), a.passphrase);

    let pass_b = fx.path().join("bundle.secret");
    let out = import(
        "bundle",
        &["--p12", b.key.to_str().unwrap()],
        &pass_b,
        &b.passphrase,
    );
    assert!(out.status.success(), "{out:?}");
    let stanza_b = String::from_utf8(out.stdout).unwrap();
    assert!(stanza_b.contains("pkcs12 = "), "{stanza_b}");

    let d = Daemon::start(&format!("{stanza_a}\n{stanza_b}")).await;
    let mut c = d.client().await;
    sign(&mut c, "imported")
        .await
        .expect("imported key+cert serves");
    sign(&mut c, "bundle")
        .await
        .expect("imported bundle serves");
}

#[test]
fn import_mistakes_are_caught_and_nothing_is_stored() {
    let fx = Fixtures::new();
    let a = fx.credential("mine", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let other = fx.credential("other", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let plain = fx.credential("plain", KeyType::P256, KeyFormat::Plaintext);
    let bundle = fx.credential("bundle", KeyType::P256, KeyFormat::Pkcs12);
    let expired_cert = fx.cert_window("old", &a.plain_key, -400, -1);
    let key = a.key.to_str().unwrap();
    let cases: [(&str, Vec<&str>, &str, &str); 6] = [
        (
            "copied passphrase with a typo",
            vec!["--key", key, "--cert", a.cert.to_str().unwrap()],
            "not-the-passphrase",
            "does not decrypt",
        ),
        (
            "certificate of another credential",
            vec!["--key", key, "--cert", other.cert.to_str().unwrap()],
            &a.passphrase,
            "certifies another key",
        ),
        (
            "expired certificate",
            vec!["--key", key, "--cert", expired_cert.to_str().unwrap()],
            &a.passphrase,
            "expired",
        ),
        (
            "unencrypted key",
            vec![
                "--key",
                plain.key.to_str().unwrap(),
                "--cert",
                plain.cert.to_str().unwrap(),
            ],
            "anything",
            "is not encrypted",
        ),
        (
            "wrong bundle passphrase",
            vec!["--p12", bundle.key.to_str().unwrap()],
            "not-the-passphrase",
            "the passphrase does not decrypt",
        ),
        (
            "bundle path with a typo",
            vec!["--p12", "/nonexistent/x.p12"],
            "x",
            "cannot read",
        ),
    ];
    for (i, (what, files, pass, expect)) in cases.iter().enumerate() {
        let stored = fx.path().join(format!("stored-{i}"));
        let out = import("mine", files, &stored, pass);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: accepted");
        assert!(err.contains(expect), "{what}: {err}");
        assert!(
            !err.contains(&a.passphrase),
            "{what}: passphrase in message"
        );
        assert!(!stored.exists(), "{what}: a passphrase was stored");
    }
    // The typo case names what to do.
    let out = import(
        "mine",
        &["--key", key, "--cert", a.cert.to_str().unwrap()],
        &fx.path().join("typo"),
        "typo",
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Copy it again from the platform"));
}

#[tokio::test]
async fn passphrase_store_keyutils_then_daemon_reads_it() {
    let fx = Fixtures::new();
    let cred = fx.credential("kstore", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let desc = format!("fapi-agent-test:kstore:{}", std::process::id());
    let out = cli_with_stdin(
        &[
            "passphrase",
            "store",
            "--name",
            "kstore",
            "--source",
            "keyutils",
            "--description",
            &desc,
        ],
        &format!("{}\n", cred.passphrase),
    );
    assert!(out.status.success(), "{out:?}");
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(
        line.starts_with("passphrase = { ") && line.contains("keyutils"),
        "{line}"
    );
    let config = format!(
        "[credentials.kstore]\nclient_id = \"kstore\"\nissuer = {ISSUER:?}\nkey = {:?}\ncertificate = {:?}\n{line}",
        cred.key, cred.cert
    );
    let d = Daemon::start(&config).await;
    let mut c = d.client().await;
    sign(&mut c, "kstore")
        .await
        .expect("keyutils-stored passphrase");
    let _ = Command::new("keyctl")
        .args(["purge", "-s", "user", &desc])
        .status();
}
