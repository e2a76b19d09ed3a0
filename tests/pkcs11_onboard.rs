//! Onboarding onto a PKCS#11 token, against SoftHSM2: `enroll --pkcs11`
//! (key pair generated on the token, CSR signed there) and `import
//! --to-pkcs11` (a platform-issued key copied in). Every claim is checked
//! by a peer that is not the daemon: OpenSC's pkcs11-tool for what is on
//! the token and how it is protected, the openssl CLI for the CSR and the
//! certificate, PyJWT/jwcrypto for the daemon's signatures.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::softhsm::{ISSUER, MODULE, Token, agent_config};
use common::{Daemon, Fixtures, KeyFormat, KeyType, openssl, run, sign, verify_with_python};

/// The access words pkcs11-tool prints for a key generated on the token.
const GENERATED: &str = "sensitive, always sensitive, never extractable, local";
/// ... and for a key copied onto it: sensitive, not extractable, but
/// neither always sensitive nor never extractable (it existed outside).
const IMPORTED: &str = "sensitive";

/// Runs the CLI with the token's SOFTHSM2_CONF and `stdin`.
fn cli(t: &Token, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
        .args(args)
        .arg("--log=warn")
        .env("SOFTHSM2_CONF", t.conf())
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

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn enroll(t: &Token, name: &str, alg: &str, dir: &Path, agent: &Path, pin: &str) -> Output {
    enroll_on(t, ["--token-label", &t.label], name, alg, dir, agent, pin)
}

fn enroll_on(
    t: &Token,
    token: [&str; 2],
    name: &str,
    alg: &str,
    dir: &Path,
    agent: &Path,
    pin: &str,
) -> Output {
    let pin_file = dir.join(format!("{name}.pin"));
    cli(
        t,
        &[
            "enroll",
            "--pkcs11",
            "--module",
            MODULE,
            token[0],
            token[1],
            "--config",
            agent.to_str().unwrap(),
            "--name",
            name,
            "--client-id",
            name,
            "--issuer",
            ISSUER,
            "--alg",
            alg,
            "--subject",
            &format!("CN={name},O=Acme Ltd,C=GB"),
            "--dir",
            dir.to_str().unwrap(),
            "--source",
            "file",
            "--path",
            pin_file.to_str().unwrap(),
        ],
        &format!("{pin}\n"),
    )
}

/// A CA of the test's own (the platform), in `dir`.
fn ca(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-subj",
            "/CN=Platform CA",
            "-days",
            "30",
            "-out",
            "ca.crt",
        ],
    );
}

/// The platform issues a certificate for `csr`.
fn issue(dir: &Path, csr: &Path, out: &str) -> PathBuf {
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            csr.to_str().unwrap(),
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-days",
            "30",
            "-out",
            out,
        ],
    );
    dir.join(out)
}

/// The public key object labelled `label`, exported by pkcs11-tool, as
/// PEM through openssl.
fn token_public_pem(t: &Token, dir: &Path, label: &str) -> String {
    let der = dir.join(format!("{label}.token-pub"));
    run(t
        .tool()
        .args(["--read-object", "--type", "pubkey", "--label", label, "-o"])
        .arg(&der));
    let out = openssl(dir, &["pkey", "-pubin", "-in", der.to_str().unwrap()]);
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn enroll_on_the_token_for_each_alg_then_install_cert_and_the_daemon_signs() {
    let t = Token::new("fapi-enroll");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let agent = agent_config(d, true);
    ca(d);
    let mut stanzas_ok = Vec::new();
    for (name, alg) in [("es", "ES256"), ("ps", "PS256"), ("ed", "EdDSA")] {
        let out = enroll(&t, name, alg, d, &agent, &t.pin);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("CKA_EXTRACTABLE false, CKA_NEVER_EXTRACTABLE true"),
            "{stdout}"
        );
        assert!(!stdout.contains(&t.pin) && !stderr(&out).contains(&t.pin));
        // The key never left: pkcs11-tool's own reading of the attributes.
        assert_eq!(t.private_key_access(name), GENERATED, "{name}");
        // No key file; the PIN is in its source.
        assert!(!d.join(format!("{name}.key")).exists());
        assert_eq!(
            std::fs::read_to_string(d.join(format!("{name}.pin"))).unwrap(),
            t.pin
        );
        // The CSR verifies (openssl) and is for the token's key
        // (pkcs11-tool's export of the public key object).
        let csr = d.join(format!("{name}.csr"));
        let v = openssl(
            d,
            &["req", "-verify", "-noout", "-in", csr.to_str().unwrap()],
        );
        let said =
            String::from_utf8_lossy(&v.stderr).to_string() + &String::from_utf8_lossy(&v.stdout);
        assert!(said.contains("verify OK"), "{name}: {said}");
        let csr_pub = openssl(
            d,
            &["req", "-pubkey", "-noout", "-in", csr.to_str().unwrap()],
        );
        assert_eq!(
            String::from_utf8(csr_pub.stdout).unwrap(),
            token_public_pem(&t, d, name),
            "{name}: the CSR is not for the token's key"
        );
        let subject = openssl(
            d,
            &[
                "req",
                "-subject",
                "-noout",
                "-nameopt",
                "RFC2253",
                "-in",
                csr.to_str().unwrap(),
            ],
        );
        assert_eq!(
            String::from_utf8_lossy(&subject.stdout).trim(),
            format!("subject=C=GB,O=Acme Ltd,CN={name}")
        );
        let issued = issue(d, &csr, &format!("{name}-issued.crt"));
        if name == "es" {
            // A certificate for another key is refused, nothing written.
            let other = t.keypair("EC:prime256v1", "stranger", "7f");
            let out = cli(
                &t,
                &[
                    "install-cert",
                    "--name",
                    name,
                    "--cert",
                    other.to_str().unwrap(),
                    "--dir",
                    d.to_str().unwrap(),
                    "--config",
                    agent.to_str().unwrap(),
                ],
                "",
            );
            assert!(!out.status.success());
            assert!(
                stderr(&out).contains("not the one enrolled on the token"),
                "{}",
                stderr(&out)
            );
            assert!(!d.join("es.crt").exists());
        }
        let out = cli(
            &t,
            &[
                "install-cert",
                "--name",
                name,
                "--cert",
                issued.to_str().unwrap(),
                "--dir",
                d.to_str().unwrap(),
                "--config",
                agent.to_str().unwrap(),
            ],
            "",
        );
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        stanzas_ok.push((name, alg, d.join(format!("{name}.crt"))));
    }
    // The daemon runs on the config install-cert appended to.
    let config = std::fs::read_to_string(&agent).unwrap();
    assert!(!config.contains(&t.pin), "{config}");
    let env = t.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let daemon = Daemon::start_with(&config, &env).await;
    let mut client = daemon.client().await;
    for (name, alg, crt) in &stanzas_ok {
        let r = sign(&mut client, name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", daemon.stderr()));
        let report = verify_with_python(&r.assertion, crt, alg, ISSUER, name, &[]);
        assert_eq!(report["header"]["alg"], *alg, "{report}");
    }
}

#[test]
fn enroll_refusals_leave_nothing_on_the_token() {
    let t = Token::new("fapi-enroll-no");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let agent = agent_config(d, true);
    let out = enroll(&t, "first", "ES256", d, &agent, &t.pin);
    assert!(out.status.success(), "{}", stderr(&out));
    // The token named by its serial number instead.
    let serial = t.serial();
    let out = enroll_on(
        &t,
        ["--token-serial", &serial],
        "second",
        "ES256",
        d,
        &agent,
        &t.pin,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t.private_key_access("second"), GENERATED);
    let stanza = std::fs::read_to_string(d.join("second.toml")).unwrap();
    assert!(
        stanza.contains(&format!("token_serial = {serial:?}")) && !stanza.contains("token_label"),
        "{stanza}"
    );
    let before = t.list_objects();
    let try_in = |sub: &str, name: &str, agent: &Path, pin: &str| {
        let sd = d.join(sub);
        std::fs::create_dir(&sd).unwrap();
        let out = enroll(&t, name, "ES256", &sd, agent, pin);
        assert!(!out.status.success(), "{sub}");
        assert_eq!(
            t.list_objects(),
            before,
            "{sub}: something was left on the token"
        );
        for f in ["csr", "toml", "pub.pem", "pin"] {
            assert!(
                !sd.join(format!("{name}.{f}")).exists(),
                "{sub}: {name}.{f} written"
            );
        }
        stderr(&out)
    };
    let e = try_in("dup", "first", &agent, &t.pin);
    assert!(
        e.contains("PKCS#11 token \"fapi-enroll-no\" already holds an object labelled \"first\": choose another --name"),
        "{e}"
    );
    let e = try_in("pin", "third", &agent, "not-the-pin");
    assert!(
        e.contains("PKCS#11 token \"fapi-enroll-no\" rejected the PIN (CKR_PIN_INCORRECT)"),
        "{e}"
    );
    assert!(!e.contains("not-the-pin"), "{e}");
    let other = agent_config(d, false);
    let e = try_in("module", "fifth", &other, &t.pin);
    assert!(
        e.contains(&format!(
            "PKCS#11 module {MODULE} is not allowed: add it to `pkcs11_modules` in [agent]"
        )),
        "{e}"
    );
    // The PIN cannot be stored (the file exists): the key pair generated
    // just before is destroyed again.
    let sd = d.join("store");
    std::fs::create_dir(&sd).unwrap();
    std::fs::write(sd.join("fourth.pin"), "taken").unwrap();
    let out = enroll(&t, "fourth", "ES256", &sd, &agent, &t.pin);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot store the passphrase in file"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        t.list_objects(),
        before,
        "the generated key pair was left on the token"
    );
    assert!(!sd.join("fourth.csr").exists() && !sd.join("fourth.toml").exists());
}

/// The arguments of `import --to-pkcs11` of `c` onto `t`, the PIN stored
/// in `pin_file`.
fn import_args<'a>(
    t: &'a Token,
    name: &'a str,
    c: &'a common::Cred,
    agent: &'a Path,
    pin_file: &'a Path,
) -> Vec<&'a str> {
    let mut args = vec![
        "import",
        "--to-pkcs11",
        "--module",
        MODULE,
        "--token-label",
        &t.label,
        "--config",
        agent.to_str().unwrap(),
        "--name",
        name,
        "--client-id",
        name,
        "--issuer",
        ISSUER,
        "--source",
        "file",
        "--path",
        pin_file.to_str().unwrap(),
    ];
    if c.format == KeyFormat::Pkcs12 {
        args.extend(["--p12", c.key.to_str().unwrap()]);
    } else {
        args.extend([
            "--key",
            c.key.to_str().unwrap(),
            "--cert",
            c.cert.to_str().unwrap(),
        ]);
    }
    args
}

fn import(
    t: &Token,
    name: &str,
    c: &common::Cred,
    agent: &Path,
    pin_file: &Path,
    stdin: &str,
    extra: &[&str],
) -> Output {
    let mut args = import_args(t, name, c, agent, pin_file);
    args.extend_from_slice(extra);
    cli(t, &args, stdin)
}

#[tokio::test]
async fn import_to_the_token_then_the_daemon_signs_and_the_file_can_go() {
    let t = Token::new("fapi-import");
    let fx = Fixtures::new();
    let agent = agent_config(fx.path(), true);
    let mut stanzas = Vec::new();
    let creds = [
        ("iec", KeyType::P256, KeyFormat::Pkcs8Pbkdf2, true),
        ("irsa", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2, false),
        ("ied", KeyType::Ed25519, KeyFormat::Pkcs8Pbkdf2, false),
        // A PKCS#12 bundle: the bundle is what --delete-key-file deletes.
        ("ip12", KeyType::Rsa2048, KeyFormat::Pkcs12, true),
    ];
    for (name, kt, format, delete) in creds {
        let c = fx.credential(name, kt, format);
        let pin_file = fx.path().join(format!("{name}.token-pin"));
        let extra: &[&str] = if delete { &["--delete-key-file"] } else { &[] };
        let out = import(
            &t,
            name,
            &c,
            &agent,
            &pin_file,
            &format!("{}\n{}\n", c.passphrase, t.pin),
            extra,
        );
        let err = stderr(&out);
        assert!(out.status.success(), "{name}: {err}");
        assert!(
            !err.contains(&t.pin) && !err.contains(&c.passphrase),
            "{err}"
        );
        assert!(
            err.contains("CKA_EXTRACTABLE false, CKA_NEVER_EXTRACTABLE false"),
            "{err}"
        );
        // Sensitive and not extractable, and honestly not "never
        // extractable": pkcs11-tool's reading.
        assert_eq!(t.private_key_access(name), IMPORTED, "{name}");
        let list = t.list_objects();
        assert!(
            Token::object(&list, "Certificate Object", name).is_some(),
            "{name}: no certificate object\n{list}"
        );
        assert!(
            Token::object(&list, "Public Key Object", name).is_some(),
            "{list}"
        );
        assert_eq!(std::fs::read_to_string(&pin_file).unwrap(), t.pin);
        if delete {
            assert!(
                !c.key.exists(),
                "--delete-key-file kept {}",
                c.key.display()
            );
            assert!(
                err.contains(&format!("deleted {}", c.key.display())),
                "{err}"
            );
        } else {
            assert!(c.key.exists());
            assert!(err.contains("so the file can be deleted"), "{err}");
        }
        let stanza = String::from_utf8(out.stdout).unwrap();
        assert!(
            !stanza.contains("certificate =") && !stanza.contains("key ="),
            "{stanza}"
        );
        stanzas.push((name, kt.alg(), c.cert.clone(), stanza));
    }
    let config = common::config(
        &common::softhsm::allow_list(),
        &stanzas.iter().map(|s| s.3.clone()).collect::<Vec<_>>(),
    );
    let env = t.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let daemon = Daemon::start_with(&config, &env).await;
    let mut client = daemon.client().await;
    for (name, alg, cert, _) in &stanzas {
        let r = sign(&mut client, name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", daemon.stderr()));
        // Verified under the platform's certificate file, not the token's copy.
        let report = verify_with_python(&r.assertion, cert, alg, ISSUER, name, &[]);
        assert_eq!(report["header"]["alg"], *alg, "{report}");
    }
}

#[test]
fn import_refusals_leave_nothing_on_the_token() {
    let t = Token::new("fapi-import-no");
    let fx = Fixtures::new();
    let agent = agent_config(fx.path(), true);
    let c = fx.credential("taken", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let pin_file = fx.path().join("taken.token-pin");
    let ok = import(
        &t,
        "taken",
        &c,
        &agent,
        &pin_file,
        &format!("{}\n{}\n", c.passphrase, t.pin),
        &[],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    let before = t.list_objects();
    let d = fx.credential("next", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let refused = |name: &str, agent: &Path, stdin: String| {
        let pin_file = fx.path().join(format!("{name}-{}.token-pin", before.len()));
        let out = import(
            &t,
            name,
            &d,
            agent,
            &pin_file,
            &stdin,
            &["--delete-key-file"],
        );
        assert!(!out.status.success());
        assert_eq!(
            t.list_objects(),
            before,
            "{name}: something was left on the token"
        );
        assert!(
            d.key.exists(),
            "the key file went although the import failed"
        );
        assert!(!pin_file.exists());
        stderr(&out)
    };
    let e = refused("next", &agent, format!("wrong-pass\n{}\n", t.pin));
    assert!(
        e.contains(&format!(
            "the passphrase does not decrypt {}: it is not the one issued with this key",
            d.key.display()
        )),
        "{e}"
    );
    let e = refused("next", &agent, format!("{}\nwrong-pin\n", d.passphrase));
    assert!(
        e.contains("PKCS#11 token \"fapi-import-no\" rejected the PIN (CKR_PIN_INCORRECT)"),
        "{e}"
    );
    let e = refused("taken", &agent, format!("{}\n{}\n", d.passphrase, t.pin));
    assert!(
        e.contains("PKCS#11 token \"fapi-import-no\" already holds an object labelled \"taken\""),
        "{e}"
    );
    let e = refused(
        "next",
        &agent_config(fx.path(), false),
        format!("{}\n{}\n", d.passphrase, t.pin),
    );
    assert!(
        e.contains(&format!(
            "PKCS#11 module {MODULE} is not allowed: add it to `pkcs11_modules` in [agent]"
        )),
        "{e}"
    );
    let e = refused("next", &agent, format!("{}\n", d.passphrase));
    assert!(
        e.contains("--to-pkcs11: give the key's passphrase on the first line and the token's PIN on the second"),
        "{e}"
    );
    // The PIN cannot be stored (the file exists) after the three objects
    // were created and proven: they are destroyed again.
    let taken_pin = fx.path().join("exists.token-pin");
    std::fs::write(&taken_pin, "x").unwrap();
    let out = import(
        &t,
        "next",
        &d,
        &agent,
        &taken_pin,
        &format!("{}\n{}\n", d.passphrase, t.pin),
        &["--delete-key-file"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot store the passphrase in file"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        t.list_objects(),
        before,
        "objects created before the PIN store failed stayed"
    );
    assert!(d.key.exists());
}

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

#[tokio::test]
async fn import_a_jks_entry_to_the_token_and_the_keystore_stays() {
    const STORE_PW: &str = "store-pw-9931";
    let t = Token::new("fapi-import-jks");
    let fx = Fixtures::new();
    let d = fx.path();
    let agent = agent_config(d, true);
    let jks = "platform.jks";
    let store = [
        "-keystore",
        jks,
        "-storetype",
        "JKS",
        "-storepass",
        STORE_PW,
    ];
    let mut genkey = vec![
        "-genkeypair",
        "-noprompt",
        "-alias",
        "signing",
        "-dname",
        "CN=signing",
        "-keyalg",
        "EC",
        "-groupname",
        "secp256r1",
        "-validity",
        "30",
        "-keypass",
        STORE_PW,
    ];
    genkey.extend(store);
    keytool(d, &genkey);
    let mut export = vec![
        "-exportcert",
        "-rfc",
        "-alias",
        "signing",
        "-file",
        "signing.pem",
    ];
    export.extend(store);
    keytool(d, &export);
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "import".to_owned(),
            "--to-pkcs11".into(),
            "--module".into(),
            MODULE.into(),
            "--token-label".into(),
            t.label.clone(),
            "--config".into(),
            agent.to_str().unwrap().into(),
            "--name".into(),
            "jks".into(),
            "--client-id".into(),
            "jks".into(),
            "--issuer".into(),
            ISSUER.into(),
            "--keystore".into(),
            d.join(jks).to_str().unwrap().into(),
            "--alias".into(),
            "signing".into(),
            "--source".into(),
            "file".into(),
            "--path".into(),
            d.join("jks.token-pin").to_str().unwrap().into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let stdin = format!("{STORE_PW}\n{}\n", t.pin);
    let before = t.list_objects();
    // A keystore may hold other entries: never deleted.
    let a = args(&["--delete-key-file"]);
    let out = cli(
        &t,
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        &stdin,
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "the argument '--keystore <KEYSTORE>' cannot be used with '--delete-key-file'"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(t.list_objects(), before);
    let a = args(&[]);
    let out = cli(
        &t,
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        &stdin,
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("the keystore may hold other entries"), "{err}");
    assert!(d.join(jks).exists());
    assert_eq!(t.private_key_access("jks"), IMPORTED);
    let stanza = String::from_utf8(out.stdout).unwrap();
    assert!(!stanza.contains("keystore"), "{stanza}");
    let config = common::config(&common::softhsm::allow_list(), &[stanza]);
    let env = t.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let daemon = Daemon::start_with(&config, &env).await;
    let mut client = daemon.client().await;
    let r = sign(&mut client, "jks")
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", daemon.stderr()));
    verify_with_python(
        &r.assertion,
        &d.join("signing.pem"),
        "ES256",
        ISSUER,
        "jks",
        &[],
    );
}

/// At a terminal, `import --to-pkcs11` reads the passphrase and the PIN
/// from no-echo prompts and then asks whether to delete the key file:
/// `y` deletes it, anything else (here the default, an empty answer)
/// keeps it. Driven on a pseudo-terminal by pexpect.
#[test]
fn at_a_terminal_import_asks_before_deleting_the_key_file() {
    let t = Token::new("fapi-tty");
    let fx = Fixtures::new();
    let agent = agent_config(fx.path(), true);
    for (name, answer, deleted) in [("yes", "y", true), ("keep", "", false)] {
        let c = fx.credential(name, KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
        let pin_file = fx.path().join(format!("{name}.token-pin"));
        let mut argv = vec![env!("CARGO_BIN_EXE_fapi-agent")];
        argv.extend(import_args(&t, name, &c, &agent, &pin_file));
        argv.push("--log=warn");
        let request = serde_json::json!({
            "argv": argv,
            "dialog": [
                [format!("Passphrase the platform issued with {name}: "), c.passphrase],
                ["User PIN of the token: ", t.pin],
                [format!("Delete the encrypted key file {}? [y/N] ", c.key.display()), answer],
            ],
        });
        let mut child = Command::new("python3")
            .arg(common::root().join("tests/py/tty_dialog.py"))
            .env("SOFTHSM2_CONF", t.conf())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(request.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
        assert_eq!(report["exit"], 0, "{name}: {report}");
        let transcript = report["transcript"].as_str().unwrap();
        // Echo is off: neither secret appears on the terminal.
        assert!(
            !transcript.contains(&c.passphrase) && !transcript.contains(&t.pin),
            "{transcript}"
        );
        assert_eq!(!c.key.exists(), deleted, "{name}: {transcript}");
        assert_eq!(t.private_key_access(name), IMPORTED, "{name}");
    }
}
