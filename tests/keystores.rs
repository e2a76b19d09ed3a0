//! Java keystores made at test time by `keytool` (JKS, PKCS#12, JCEKS), with
//! several entries: each private-key entry is used by alias, from the
//! config and through `import`, and the assertions it signs are verified by
//! PyJWT and jwcrypto against the certificate `keytool` exports. Wrong
//! store and key passwords, a missing alias, a trusted-certificate alias and
//! JCEKS each give a precise error that names the alias or file and never a
//! password.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{Daemon, Fixtures, KeyType, sign, verify_with_python};

const ISSUER: &str = "https://as.example";
// ASCII: the JDK's PBKDF2 (PKCS#12) refuses others; the JKS key password is
// not, to exercise its UTF-16BE encoding.
const STORE_PW: &str = "store-pw-4417";
const EC_KEY_PW: &str = "ec-key-pw-Ωmega";

fn keytool(dir: &Path, args: &[&str]) {
    let out = Command::new("keytool")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("keytool must be installed (Debian openjdk-17-jre-headless)");
    assert!(
        out.status.success(),
        "keytool {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Adds a key pair entry `alias` to the keystore `file` of `storetype`.
fn genkeypair(dir: &Path, file: &str, storetype: &str, alias: &str, rsa: bool, keypass: &str) {
    let mut args = vec!["-genkeypair", "-noprompt", "-alias", alias, "-dname"];
    let dname = format!("CN={alias}");
    args.push(&dname);
    if rsa {
        args.extend(["-keyalg", "RSA", "-keysize", "2048"]);
    } else {
        args.extend(["-keyalg", "EC", "-groupname", "secp256r1"]);
    }
    args.extend([
        "-validity",
        "30",
        "-keystore",
        file,
        "-storetype",
        storetype,
        "-storepass",
        STORE_PW,
        "-keypass",
        keypass,
    ]);
    keytool(dir, &args);
}

/// Exports the certificate of `alias` (PEM), as an independent party sees it.
fn export_cert(dir: &Path, file: &str, storetype: &str, alias: &str) -> PathBuf {
    let out = format!("{file}.{alias}.pem");
    keytool(
        dir,
        &[
            "-exportcert",
            "-rfc",
            "-alias",
            alias,
            "-keystore",
            file,
            "-storetype",
            storetype,
            "-storepass",
            STORE_PW,
            "-file",
            &out,
        ],
    );
    dir.join(out)
}

/// A keystore of `storetype` holding an EC P-256 key entry, an RSA key
/// entry and a trusted certificate (made by openssl).
struct Store {
    path: PathBuf,
    storetype: &'static str,
    ec: &'static str,
    rsa: &'static str,
}

fn make_store(fx: &Fixtures, file: &str, storetype: &'static str, ec_keypass: &str) -> Store {
    let (ec, rsa) = if storetype == "PKCS12" {
        ("first", "second")
    } else {
        ("ec", "rsa")
    };
    genkeypair(fx.path(), file, storetype, ec, false, ec_keypass);
    genkeypair(fx.path(), file, storetype, rsa, true, STORE_PW);
    let ca_key = fx.plain_key(&format!("{file}-ca"), KeyType::P256);
    let ca = fx.cert(&format!("{file}-ca"), &ca_key);
    keytool(
        fx.path(),
        &[
            "-importcert",
            "-noprompt",
            "-alias",
            "trusted",
            "-file",
            ca.to_str().unwrap(),
            "-keystore",
            file,
            "-storetype",
            storetype,
            "-storepass",
            STORE_PW,
        ],
    );
    Store {
        path: fx.path().join(file),
        storetype,
        ec,
        rsa,
    }
}

fn stanza(name: &str, store: &Path, alias: &str, store_pw: &Path, key_pw: Option<&Path>) -> String {
    let key_pw = key_pw
        .map(|p| format!(", key_password = {{ source = \"file\", path = {p:?} }}"))
        .unwrap_or_default();
    format!(
        "[credentials.{name}]\nclient_id = {name:?}\nissuer = {ISSUER:?}\n\
         keystore = {{ path = {store:?}, alias = {alias:?}{key_pw} }}\n\
         passphrase = {{ source = \"file\", path = {store_pw:?} }}\n"
    )
}

async fn sign_and_verify(d: &Daemon, name: &str, cert: &Path, alg: &str) -> String {
    let mut c = d.client().await;
    let r = sign(&mut c, name)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}\n{}", d.stderr()));
    verify_with_python(
        &r.assertion,
        cert,
        alg,
        ISSUER,
        name,
        &[
            "--typ",
            "client-authentication+jwt",
            "--no-x5t",
            "--ttl",
            "60",
        ],
    );
    r.kid
}

#[tokio::test(flavor = "multi_thread")]
async fn every_key_entry_of_jks_and_pkcs12_keystores_signs_by_alias() {
    let fx = Fixtures::new();
    // JKS: the EC entry has a key password of its own.
    let jks = make_store(&fx, "several.jks", "JKS", EC_KEY_PW);
    // PKCS#12: keytool protects each key with the store password.
    let p12 = make_store(&fx, "several.p12", "PKCS12", STORE_PW);
    let store_pw = fx.pass_file("store", STORE_PW);
    let ec_pw = fx.pass_file("ec-key", EC_KEY_PW);
    let config = [
        stanza("jks-ec", &jks.path, jks.ec, &store_pw, Some(&ec_pw)),
        // Aliases compare case-insensitively, as in Java.
        stanza("jks-rsa", &jks.path, "RSA", &store_pw, None),
        stanza("p12-first", &p12.path, p12.ec, &store_pw, None),
        stanza("p12-second", &p12.path, p12.rsa, &store_pw, None),
    ]
    .concat();
    let d = Daemon::start(&config).await;
    let mut kids = Vec::new();
    for (name, store, alias, alg) in [
        ("jks-ec", &jks, jks.ec, "ES256"),
        ("jks-rsa", &jks, jks.rsa, "PS256"),
        ("p12-first", &p12, p12.ec, "ES256"),
        ("p12-second", &p12, p12.rsa, "PS256"),
    ] {
        // Verified against the certificate keytool exports for the alias:
        // the daemon chose that entry's key.
        let cert = export_cert(
            fx.path(),
            store.path.to_str().unwrap(),
            store.storetype,
            alias,
        );
        kids.push(sign_and_verify(&d, name, &cert, alg).await);
    }
    kids.sort();
    kids.dedup();
    assert_eq!(kids.len(), 4, "four entries, four keys");
    let log = d.stderr();
    for pw in [STORE_PW, EC_KEY_PW] {
        assert!(!log.contains(pw), "a password in the daemon's log");
    }
}

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

fn import(name: &str, store: &Path, alias: &str, pass_path: &Path, pass: &str) -> Output {
    import_with(name, store, alias, pass_path, &[], &format!("{pass}\n"))
}

fn import_with(
    name: &str,
    store: &Path,
    alias: &str,
    pass_path: &Path,
    extra: &[&str],
    stdin: &str,
) -> Output {
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
        "--keystore",
        store.to_str().unwrap(),
        "--alias",
        alias,
    ];
    args.extend_from_slice(extra);
    cli_with_stdin(&args, stdin)
}

#[tokio::test(flavor = "multi_thread")]
async fn import_a_keystore_entry_by_alias_and_the_stanza_serves() {
    let fx = Fixtures::new();
    let jks = make_store(&fx, "imp.jks", "JKS", EC_KEY_PW);
    let p12 = make_store(&fx, "imp.p12", "PKCS12", STORE_PW);
    let mut stanzas = String::new();
    for (name, store, alias) in [("from-jks", &jks, jks.rsa), ("from-p12", &p12, p12.rsa)] {
        let stored = fx.path().join(format!("{name}.secret"));
        let out = import(name, &store.path, alias, &stored, STORE_PW);
        assert!(out.status.success(), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stderr.contains(&format!("ok: {name} (PS256")), "{stderr}");
        assert!(
            stdout.contains("keystore = { path = ") && stdout.contains(alias),
            "{stdout}"
        );
        assert!(!stderr.contains(STORE_PW) && !stdout.contains(STORE_PW));
        assert_eq!(std::fs::read_to_string(&stored).unwrap(), STORE_PW);
        stanzas.push_str(&stdout);
    }
    // The JKS EC entry has a key password of its own: the second line.
    let stored = fx.path().join("jks-ec.secret");
    let out = import_with(
        "jks-ec",
        &jks.path,
        jks.ec,
        &stored,
        &["--separate-key-password"],
        &format!("{STORE_PW}\n{EC_KEY_PW}\n"),
    );
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ok: jks-ec (ES256"), "{stderr}");
    assert!(stdout.contains("key_password = { "), "{stdout}");
    for pw in [STORE_PW, EC_KEY_PW] {
        assert!(!stdout.contains(pw) && !stderr.contains(pw));
    }
    assert_eq!(std::fs::read_to_string(&stored).unwrap(), STORE_PW);
    let key_stored = fx.path().join("jks-ec.secret.key");
    assert_eq!(std::fs::read_to_string(&key_stored).unwrap(), EC_KEY_PW);
    stanzas.push_str(&stdout);

    let d = Daemon::start(&stanzas).await;
    for (name, store, alias, alg) in [
        ("from-jks", &jks, jks.rsa, "PS256"),
        ("from-p12", &p12, p12.rsa, "PS256"),
        ("jks-ec", &jks, jks.ec, "ES256"),
    ] {
        let cert = export_cert(
            fx.path(),
            store.path.to_str().unwrap(),
            store.storetype,
            alias,
        );
        sign_and_verify(&d, name, &cert, alg).await;
    }
}

#[test]
fn keystore_mistakes_are_told_precisely_and_nothing_is_stored() {
    let fx = Fixtures::new();
    let jks = make_store(&fx, "bad.jks", "JKS", EC_KEY_PW);
    let p12 = make_store(&fx, "bad.p12", "PKCS12", STORE_PW);
    genkeypair(fx.path(), "old.jceks", "JCEKS", "legacy", false, STORE_PW);
    let jceks = fx.path().join("old.jceks");
    let wrong_pw = "not-the-store-pw";
    let cases: [(&str, &Path, &str, &str, &[&str]); 8] = [
        (
            "JKS, wrong store password",
            &jks.path,
            jks.rsa,
            wrong_pw,
            &["wrong store password"],
        ),
        (
            "JKS, key password differs (import tries the store password)",
            &jks.path,
            jks.ec,
            STORE_PW,
            &["wrong key password for alias \"ec\""],
        ),
        (
            "JKS, missing alias",
            &jks.path,
            "nosuch",
            STORE_PW,
            &[
                "no entry with alias \"nosuch\"",
                "\"ec\" (private key)",
                "\"trusted\" (trusted certificate)",
                "bad.jks",
            ],
        ),
        (
            "JKS, trusted certificate alias",
            &jks.path,
            "trusted",
            STORE_PW,
            &["\"trusted\" is a trusted certificate, not a private key entry"],
        ),
        (
            "PKCS#12, wrong store password",
            &p12.path,
            p12.rsa,
            wrong_pw,
            &["wrong store password", "bad.p12"],
        ),
        (
            "PKCS#12, missing alias",
            &p12.path,
            "nosuch",
            STORE_PW,
            &[
                "no private key entry with alias \"nosuch\"",
                "\"first\" (private key)",
                "\"second\" (private key)",
                "bad.p12",
            ],
        ),
        (
            "PKCS#12, trusted certificate alias",
            &p12.path,
            "trusted",
            STORE_PW,
            &[
                "no private key entry with alias \"trusted\"",
                "\"trusted\" (certificate)",
            ],
        ),
        (
            "JCEKS",
            &jceks,
            "legacy",
            STORE_PW,
            &[
                "old.jceks",
                "keytool -importkeystore -srcstoretype JCEKS",
                "-deststoretype PKCS12",
            ],
        ),
    ];
    for (what, store, alias, pass, expected) in cases {
        let stored = fx.path().join("never.secret");
        let out = import("ks", store, alias, &stored, pass);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: accepted");
        for e in expected {
            assert!(stderr.contains(e), "{what}: {e:?} not in: {stderr}");
        }
        for pw in [STORE_PW, EC_KEY_PW, wrong_pw] {
            assert!(!stderr.contains(pw), "{what}: a password in: {stderr}");
        }
        assert!(!stored.exists(), "{what}: the passphrase was stored");
    }
    // A separate key password that is wrong: nothing stored either.
    let stored = fx.path().join("never.secret");
    let out = import_with(
        "ks",
        &jks.path,
        jks.ec,
        &stored,
        &["--separate-key-password"],
        &format!("{STORE_PW}\nnot-the-key-pw\n"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("wrong key password for alias \"ec\""),
        "{stderr}"
    );
    assert!(!stderr.contains(STORE_PW) && !stderr.contains("not-the-key-pw"));
    assert!(!stored.exists() && !fx.path().join("never.secret.key").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_key_password_in_the_config_names_the_alias() {
    let fx = Fixtures::new();
    let jks = make_store(&fx, "cfg.jks", "JKS", EC_KEY_PW);
    let store_pw = fx.pass_file("store", STORE_PW);
    let wrong_key = fx.pass_file("wrong-key", "wrong-key-pw-9");
    let wrong_store = fx.pass_file("wrong-store", "wrong-store-pw-9");
    let ec_pw = fx.pass_file("ec-key", EC_KEY_PW);
    let config = [
        stanza("wrong-key", &jks.path, jks.ec, &store_pw, Some(&wrong_key)),
        stanza("wrong-store", &jks.path, jks.ec, &wrong_store, Some(&ec_pw)),
        stanza("no-alias", &jks.path, "missing", &store_pw, None),
        stanza("good", &jks.path, jks.ec, &store_pw, Some(&ec_pw)),
    ]
    .concat();
    let d = Daemon::start(&config).await;
    let mut c = d.client().await;
    for (name, expected) in [
        ("wrong-key", "wrong key password for alias \"ec\""),
        ("wrong-store", "wrong store password"),
        ("no-alias", "no entry with alias \"missing\""),
    ] {
        let e = sign(&mut c, name).await.expect_err(name);
        assert!(e.message().contains(expected), "{name}: {}", e.message());
        assert!(e.message().contains("cfg.jks"), "{name}: {}", e.message());
        for pw in [STORE_PW, EC_KEY_PW, "wrong-key-pw-9", "wrong-store-pw-9"] {
            assert!(!e.message().contains(pw), "{name}: a password in the error");
        }
    }
    // The others do not stop the good one.
    let cert = export_cert(fx.path(), jks.path.to_str().unwrap(), "JKS", jks.ec);
    sign_and_verify(&d, "good", &cert, "ES256").await;
}
