//! The `keyring` source against a real gnome-keyring in a private D-Bus
//! session (`dbus-run-session`): an entry written by Python's `keyring set
//! SERVICE USER` is found as is and the daemon signs with the key it
//! unlocks (checked by PyJWT); a missing entry and a wrong one are precise
//! FAILED_PRECONDITION errors naming service and user, never the secret;
//! `fapi-agent passphrase store --source keyring` writes an entry that
//! Python's `keyring get` reads back.

mod common;

use std::time::{Duration, Instant};

use common::session::{UNLOCK_KEYRING, connect, in_session, stop};
use common::{Fixtures, KeyFormat, KeyType, sign, verify_with_python};

const ISSUER: &str = "https://as.example";
const SERVICE: &str = "fapi-test";

fn stanza(name: &str, cred: &common::Cred, user: &str) -> String {
    format!(
        "[credentials.{name}]\nclient_id = \"{name}\"\nissuer = {ISSUER:?}\nkey = {:?}\n\
         certificate = {:?}\npassphrase = {{ source = \"keyring\", service = \"{SERVICE}\", \
         user = \"{user}\" }}\n",
        cred.key, cred.cert
    )
}

#[tokio::test]
async fn python_keyring_entry_unlocks_the_key_and_bad_entries_are_precise() {
    let fx = Fixtures::new();
    let good = fx.credential("kr", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let wrong = fx.credential("krwrong", KeyType::Rsa2048, KeyFormat::Pkcs8Scrypt);
    let missing = fx.credential("krmissing", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let home = fx.path().join("home");
    let config = fx.path().join("agent.toml");
    std::fs::write(
        &config,
        [
            stanza("kr", &good, "kr-user"),
            stanza("krwrong", &wrong, "wrong-user"),
            stanza("krmissing", &missing, "nobody"),
        ]
        .concat(),
    )
    .unwrap();
    let not_it = fx.pass_file("not-it", "not-the-passphrase");
    let socket = fx.path().join("s/agent.sock");
    let script = format!(
        r#"{UNLOCK_KEYRING}
python3 -m keyring set {SERVICE} kr-user < "$GOOD_PASS"
python3 -m keyring set {SERVICE} wrong-user < "$NOT_IT"
exec "$FAPI_AGENT" run --config "$CONFIG" --socket "$SOCKET" --log debug"#
    );
    let mut child = in_session(
        &home,
        &script,
        &[
            ("GOOD_PASS", good.pass_file.as_path()),
            ("NOT_IT", &not_it),
            ("CONFIG", &config),
            ("SOCKET", &socket),
        ],
    );
    let log = home.join("stderr.log");
    let mut c = connect(&socket, &mut child, &log).await;

    let signed = sign(&mut c, "kr").await;
    let wrong_err = sign(&mut c, "krwrong").await.unwrap_err();
    let started = Instant::now();
    let missing_err = sign(&mut c, "krmissing").await.unwrap_err();
    let missing_took = started.elapsed();
    stop(child);
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();

    // Found as Python wrote it: the key decrypts, the assertion verifies.
    let signed = signed.unwrap_or_else(|e| panic!("sign: {e:?}\n{log_text}"));
    let report = verify_with_python(&signed.assertion, &good.cert, "ES256", ISSUER, "kr", &[]);
    assert_eq!(report["claims"]["iss"], "kr");

    // An entry that exists but does not open the key.
    assert_eq!(
        wrong_err.code(),
        tonic::Code::FailedPrecondition,
        "{wrong_err:?}"
    );
    let m = wrong_err.message();
    assert!(
        m.contains(r#"keyring service "fapi-test" user "wrong-user""#),
        "{m}"
    );
    assert!(m.to_lowercase().contains("passphrase"), "{m}");

    // No entry at all: at once, with the command that stores it.
    assert_eq!(
        missing_err.code(),
        tonic::Code::FailedPrecondition,
        "{missing_err:?}"
    );
    assert!(missing_took < Duration::from_secs(8), "{missing_took:?}");
    let m = missing_err.message();
    assert!(
        m.contains(r#"keyring service "fapi-test" user "nobody""#)
            && m.contains("no such entry")
            && m.contains("keyring set fapi-test nobody"),
        "{m}"
    );

    // No secret in any answer or log line.
    for secret in [good.passphrase.as_str(), "not-the-passphrase"] {
        assert!(!wrong_err.message().contains(secret));
        assert!(!missing_err.message().contains(secret));
        assert!(!log_text.contains(secret), "the log holds a secret");
    }
}

#[tokio::test]
async fn passphrase_store_keyring_is_read_back_by_python_keyring_and_the_daemon() {
    let fx = Fixtures::new();
    let cred = fx.credential("krstore", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let home = fx.path().join("home");
    let socket = fx.path().join("s/agent.sock");
    let config = fx.path().join("agent.toml");
    let got = fx.path().join("got.txt");
    let script = format!(
        r#"{UNLOCK_KEYRING}
"$FAPI_AGENT" passphrase store --name krstore --source keyring --service {SERVICE} \
  --user krstore < "$PASS_FILE" > "$STANZA"
python3 -m keyring get {SERVICE} krstore > "$GOT"
{{ printf '[credentials.krstore]\nclient_id = "krstore"\nissuer = "{ISSUER}"\n'
  printf 'key = "%s"\ncertificate = "%s"\n' "$KEY" "$CERT"
  cat "$STANZA"; }} > "$CONFIG"
exec "$FAPI_AGENT" run --config "$CONFIG" --socket "$SOCKET""#
    );
    let stanza_file = fx.path().join("stanza.txt");
    let mut child = in_session(
        &home,
        &script,
        &[
            ("PASS_FILE", cred.pass_file.as_path()),
            ("STANZA", &stanza_file),
            ("GOT", &got),
            ("KEY", &cred.key),
            ("CERT", &cred.cert),
            ("CONFIG", &config),
            ("SOCKET", &socket),
        ],
    );
    let log = home.join("stderr.log");
    let mut c = connect(&socket, &mut child, &log).await;
    let signed = sign(&mut c, "krstore").await;
    stop(child);

    let stanza = std::fs::read_to_string(&stanza_file).unwrap();
    assert_eq!(
        stanza.trim(),
        r#"passphrase = { service = "fapi-test", source = "keyring", user = "krstore" }"#
    );
    // Python keyring reads the entry the Rust crate wrote (it prints one
    // trailing newline).
    let read_back = std::fs::read_to_string(&got).unwrap();
    assert_eq!(read_back.strip_suffix('\n'), Some(cred.passphrase.as_str()));
    // And the daemon, configured with the printed line, unlocks the key.
    let signed = signed.unwrap_or_else(|e| {
        panic!(
            "sign: {e:?}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    verify_with_python(
        &signed.assertion,
        &cred.cert,
        "ES256",
        ISSUER,
        "krstore",
        &[],
    );
}
