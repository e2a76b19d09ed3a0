//! The `secret-service` source against a real gnome-keyring in a private
//! D-Bus session (`dbus-run-session`): stored with `fapi-agent passphrase
//! store`, read by the daemon; a locked collection and a missing session
//! bus are clear UNAVAILABLE errors, not hangs.

mod common;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::session::{UNLOCK_KEYRING, connect, in_session, stop};
use common::{Fixtures, KeyFormat, KeyType, sign};

const ISSUER: &str = "https://as.example";

/// Starts, inside a fresh D-Bus session with gnome-keyring unlocked, a
/// store of `cred`'s passphrase, then (optionally) a lock of the login
/// collection, then the daemon on `socket`.
fn start_in_session(fx: &Fixtures, cred: &common::Cred, lock: bool, socket: &Path) -> Child {
    let home = fx.path().join(if lock { "home-locked" } else { "home" });
    std::fs::create_dir_all(&home).unwrap();
    let config = home.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[credentials.{n}]\nclient_id = \"{n}\"\nissuer = {ISSUER:?}\nkey = {:?}\ncertificate = {:?}\npassphrase = {{ source = \"secret-service\", attributes = {{ service = \"fapi-agent\", credential = \"{n}\" }} }}\n",
            cred.key,
            cred.cert,
            n = cred.name
        ),
    )
    .unwrap();
    let lock_cmd = if lock {
        "dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets \
         org.freedesktop.Secret.Service.Lock array:objpath:/org/freedesktop/secrets/collection/login >/dev/null"
    } else {
        ""
    };
    let script = format!(
        r#"{UNLOCK_KEYRING}
"$FAPI_AGENT" passphrase store --name {name} --source secret-service < "$PASS_FILE" > "$HOME/stanza.txt"
{lock_cmd}
exec "$FAPI_AGENT" run --config "$CONFIG" --socket "$SOCKET" --log debug"#,
        name = cred.name
    );
    in_session(
        &home,
        &script,
        &[
            ("PASS_FILE", cred.pass_file.as_path()),
            ("CONFIG", &config),
            ("SOCKET", socket),
        ],
    )
}

#[tokio::test]
async fn gnome_keyring_store_then_sign_and_locked_collection_is_clear() {
    let fx = Fixtures::new();
    let cred = fx.credential("gk", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);

    // Unlocked: stored by `passphrase store`, read by the daemon.
    let socket = fx.path().join("s1/agent.sock");
    let mut child = start_in_session(&fx, &cred, false, &socket);
    let log = fx.path().join("home/stderr.log");
    let mut c = connect(&socket, &mut child, &log).await;
    let r = sign(&mut c, "gk")
        .await
        .expect("sign with a Secret Service passphrase");
    assert_eq!(r.assertion.split('.').count(), 3);
    let stanza = std::fs::read_to_string(fx.path().join("home/stanza.txt")).unwrap();
    assert!(
        stanza.contains("source = \"secret-service\"") && stanza.contains("credential = \"gk\""),
        "{stanza}"
    );
    stop(child);

    // Locked collection: an immediate, precise error (the daemon never
    // prompts), and the log says how to unlock.
    let socket = fx.path().join("s2/agent.sock");
    let mut child = start_in_session(&fx, &cred, true, &socket);
    let log = fx.path().join("home-locked/stderr.log");
    let mut c = connect(&socket, &mut child, &log).await;
    let started = Instant::now();
    let err = sign(&mut c, "gk").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    assert!(
        err.message().contains("secret-service") && err.message().contains("locked"),
        "{}",
        err.message()
    );
    stop(child);
}

#[tokio::test]
async fn no_session_bus_is_a_clear_error() {
    let fx = Fixtures::new();
    let cred = fx.credential("nobus", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let config = format!(
        "[credentials.nobus]\nclient_id = \"nobus\"\nissuer = {ISSUER:?}\nkey = {:?}\ncertificate = {:?}\npassphrase = {{ source = \"secret-service\", attributes = {{ credential = \"nobus\" }} }}\n",
        cred.key, cred.cert
    );
    let d = common::Daemon::start_with(
        &config,
        &[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")],
    )
    .await;
    let mut c = d.client().await;
    let started = Instant::now();
    let err = sign(&mut c, "nobus").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(12));
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    assert!(
        err.message().contains("secret-service"),
        "{}",
        err.message()
    );
}

/// `enroll --passphrase-store secret-service` keeps the generated
/// passphrase in gnome-keyring; after a test CA issues the certificate and
/// `install-cert` writes the stanza, the daemon reads it from there and signs.
#[tokio::test]
async fn enroll_stores_the_generated_passphrase_in_the_secret_service() {
    let fx = Fixtures::new();
    let ca_key = fx.plain_key("ca", KeyType::P256);
    let ca_cert = fx.cert("ca", &ca_key);
    let home = fx.path().join("home-enroll");
    let dir = home.join("creds");
    std::fs::create_dir_all(&home).unwrap();
    let config = home.join("agent.toml");
    std::fs::write(&config, "").unwrap();
    let socket = fx.path().join("s3/agent.sock");
    let script = format!(
        r#"{UNLOCK_KEYRING}
"$FAPI_AGENT" enroll --name ssnext --client-id acme --issuer https://as.example --alg ES256 \
  --subject "CN=acme,O=fapi-agent tests,C=GB" --dir "$DIR" --passphrase-store secret-service >/dev/null
openssl x509 -req -in "$DIR/ssnext.csr" -CA "$CA_CERT" -CAkey "$CA_KEY" -days 30 \
  -out "$DIR/issued.crt" 2>/dev/null
"$FAPI_AGENT" install-cert --name ssnext --cert "$DIR/issued.crt" --dir "$DIR" --config "$CONFIG"
exec "$FAPI_AGENT" run --config "$CONFIG" --socket "$SOCKET" --log debug"#
    );
    let log = home.join("stderr.log");
    let mut child = in_session(
        &home,
        &script,
        &[
            ("DIR", dir.as_path()),
            ("CA_CERT", &ca_cert),
            ("CA_KEY", &ca_key),
            ("CONFIG", &config),
            ("SOCKET", &socket),
        ],
    );
    let mut c = connect(&socket, &mut child, &log).await;
    let r = sign(&mut c, "ssnext").await;
    let stanza = std::fs::read_to_string(&config).unwrap();
    stop(child);
    let r = r.unwrap_or_else(|e| {
        panic!(
            "sign: {e:?}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    assert_eq!(r.assertion.split('.').count(), 3);
    assert!(
        stanza.contains("source = \"secret-service\"")
            && stanza.contains("credential = \"ssnext\""),
        "{stanza}"
    );
    // Nothing of the passphrase was left beside the key.
    assert!(!dir.join("ssnext.pass").exists());
}
