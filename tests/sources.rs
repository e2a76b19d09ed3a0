//! Passphrase sources against the real thing: systemd credentials (plain
//! and made with `systemd-creds encrypt`), exec commands (success, failure,
//! timeout), a source down at start-up that comes back, passphrase TTLs,
//! and `Status` reporting each source.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Daemon, Fixtures, KeyFormat, KeyType, sign};
use fapi_agent::service::pb;

const ISSUER: &str = "https://as.example";

/// The credential named `name` as `Status` reports it.
async fn status_of(d: &Daemon, name: &str) -> pb::Credential {
    let mut c = d.client().await;
    c.admin
        .status(pb::StatusRequest {})
        .await
        .expect("status")
        .into_inner()
        .credentials
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("{name} not in Status"))
}

/// A config stanza for `cred` with the passphrase from `pass_toml`.
fn stanza(cred: &common::Cred, client_id: &str, pass_toml: &str) -> String {
    format!(
        "[credentials.{}]\nclient_id = {client_id:?}\nissuer = {ISSUER:?}\nkey = {:?}\ncertificate = {:?}\npassphrase = {pass_toml}\n",
        cred.name, cred.key, cred.cert
    )
}

fn write_script(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
    p
}

#[tokio::test]
async fn systemd_credentials_directory_plain_and_encrypted() {
    let fx = Fixtures::new();
    let plain = fx.credential("plain", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let enc = fx.credential("enc", KeyType::P256, KeyFormat::Pkcs8Scrypt);
    let creds_dir = fx.path().join("credentials");
    std::fs::create_dir(&creds_dir).unwrap();
    std::fs::copy(&plain.pass_file, creds_dir.join("plain-pass")).unwrap();

    // A credential encrypted with the host key by systemd-creds, decrypted
    // again by systemd-creds into the directory, as systemd does for
    // LoadCredentialEncrypted= before the service starts.
    let setup = Command::new("systemd-creds").arg("setup").output().unwrap();
    assert!(setup.status.success(), "systemd-creds setup: {setup:?}");
    let encrypted = fx.path().join("enc-pass.cred");
    let out = Command::new("systemd-creds")
        .args(["encrypt", "--with-key=host", "--name=enc-pass"])
        .arg(&enc.pass_file)
        .arg(&encrypted)
        .output()
        .unwrap();
    assert!(out.status.success(), "systemd-creds encrypt: {out:?}");
    let blob = std::fs::read(&encrypted).unwrap();
    assert!(
        !String::from_utf8_lossy(&blob).contains(&enc.passphrase),
        "the encrypted credential must not contain the passphrase"
    );
    let out = Command::new("systemd-creds")
        .args(["decrypt", "--name=enc-pass"])
        .arg(&encrypted)
        .arg(creds_dir.join("enc-pass"))
        .output()
        .unwrap();
    assert!(out.status.success(), "systemd-creds decrypt: {out:?}");

    let config = format!(
        "{}{}{}",
        stanza(
            &plain,
            "plain",
            r#"{ source = "systemd", name = "plain-pass" }"#
        ),
        stanza(&enc, "enc", r#"{ source = "systemd", name = "enc-pass" }"#),
        // Named but not loaded by the unit: a precise error, others serve.
        stanza(
            &fx.credential("missing", KeyType::P256, KeyFormat::Pkcs8Pbkdf2),
            "missing",
            r#"{ source = "systemd", name = "not-loaded" }"#
        ),
    );
    let d = Daemon::start_with(
        &config,
        &[("CREDENTIALS_DIRECTORY", creds_dir.to_str().unwrap())],
    )
    .await;
    let mut c = d.client().await;
    for name in ["plain", "enc"] {
        let r = sign(&mut c, name).await.expect(name);
        assert!(r.assertion.split('.').count() == 3);
    }
    let err = sign(&mut c, "missing").await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    assert!(
        err.message().contains("systemd credential \"not-loaded\"")
            && err.message().contains("LoadCredential"),
        "{}",
        err.message()
    );
    let st = status_of(&d, "enc").await;
    let src = st.passphrase_source.expect("source status");
    assert_eq!(src.kind, "systemd");
    assert!(src.last_fetch_at > 0 && src.held, "{src:?}");
}

#[tokio::test]
async fn exec_source_success_failure_and_timeout() {
    let fx = Fixtures::new();
    let ok = fx.credential("ok", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let failing = fx.credential("failing", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let slow = fx.credential("slow", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    // The command sees only a minimal environment: PATH, HOME, LANG and
    // what pass_env / env give it.
    let ok_script = write_script(
        fx.path(),
        "ok.sh",
        &format!(
            "[ -z \"$SECRET_LEAK\" ] || exit 9\n[ \"$MODE\" = prod ] || exit 8\n[ \"$VAULT_ADDR\" = http://vault ] || exit 7\ncat {:?}",
            ok.pass_file
        ),
    );
    let failing_script = write_script(
        fx.path(),
        "fail.sh",
        "echo 'PARTIAL-SECRET-ON-STDOUT'\necho 'vault: permission denied for path secret/acme' >&2\nexit 3",
    );
    // The slow command records its pid and its child's, so the test can
    // check those exact processes are gone (the daemon's background retry
    // starts fresh copies of the script).
    let pids = fx.path().join("slow.pids");
    let slow_script = write_script(
        fx.path(),
        "slow.sh",
        &format!("echo $$ >> {pids:?}\nsleep 30 &\necho $! >> {pids:?}\nwait\necho late"),
    );
    let config = format!(
        "[agent]\npassphrase_fetch_timeout_seconds = 2\n{}{}{}",
        stanza(
            &ok,
            "ok",
            &format!(
                "{{ source = \"exec\", command = [{:?}], pass_env = [\"VAULT_ADDR\"], env = {{ MODE = \"prod\" }} }}",
                ok_script
            )
        ),
        stanza(
            &failing,
            "failing",
            &format!("{{ source = \"exec\", command = [{failing_script:?}] }}")
        ),
        stanza(
            &slow,
            "slow",
            &format!("{{ source = \"exec\", command = [{slow_script:?}, \"ignored-arg\"] }}")
        ),
    );
    let d = Daemon::start_with(
        &config,
        &[("SECRET_LEAK", "x"), ("VAULT_ADDR", "http://vault")],
    )
    .await;
    let mut c = d.client().await;
    sign(&mut c, "ok")
        .await
        .expect("exec source with a good command");

    let err = sign(&mut c, "failing").await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    assert!(
        err.message().contains("exited with status 3")
            && err.message().contains("vault: permission denied"),
        "stderr quoted: {}",
        err.message()
    );
    assert!(
        !err.message().contains("PARTIAL-SECRET"),
        "stdout must never be quoted: {}",
        err.message()
    );

    let started = Instant::now();
    let err = sign(&mut c, "slow").await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    assert!(
        err.message().contains("no answer within 2 s"),
        "{}",
        err.message()
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // The timed-out command was killed, with everything it started.
    let first_run: Vec<String> = std::fs::read_to_string(&pids)
        .unwrap()
        .lines()
        .take(2)
        .map(str::to_owned)
        .collect();
    assert_eq!(first_run.len(), 2, "the script and its child");
    let alive = |pid: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit_once(") ")
                .is_some_and(|(_, rest)| !rest.starts_with('Z'))
        })
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while first_run.iter().any(|p| alive(p)) {
        assert!(
            Instant::now() < deadline,
            "the timed-out command or its child still runs: {first_run:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A slow source never blocked the good credential meanwhile.
    sign(&mut c, "ok").await.expect("ok still serves");
    assert!(!d.stderr().contains("PARTIAL-SECRET"), "stdout in the log");
}

#[tokio::test]
async fn source_down_at_start_recovers_without_restart_and_others_keep_serving() {
    let fx = Fixtures::new();
    let flaky = fx.credential("flaky", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let steady = fx.credential("steady", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let up = fx.path().join("source-is-up");
    let script = write_script(
        fx.path(),
        "flaky.sh",
        &format!(
            "[ -e {up:?} ] || {{ echo 'secret manager: connection refused' >&2; exit 1; }}\ncat {:?}",
            flaky.pass_file
        ),
    );
    let config = format!(
        "{}{}",
        stanza(
            &flaky,
            "flaky",
            &format!("{{ source = \"exec\", command = [{script:?}] }}")
        ),
        steady.toml("steady", ISSUER, ""),
    );
    let d = Daemon::start(&config).await;
    let mut c = d.client().await;

    let err = sign(&mut c, "flaky").await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    assert!(
        err.message().contains("exec")
            && err.message().contains("connection refused")
            && err.message().contains("flaky"),
        "{}",
        err.message()
    );
    let st = status_of(&d, "flaky").await;
    assert_eq!(st.state(), pb::CredentialState::Error);
    let src = st.passphrase_source.expect("source status");
    assert_eq!(src.kind, "exec");
    assert!(src.last_error.contains("connection refused"), "{src:?}");
    assert!(
        src.next_retry_at > 0 && src.last_fetch_at == 0 && !src.held,
        "{src:?}"
    );
    let out = d.cli(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("passphrase: exec")
            && text.contains("last fetch never")
            && text.contains("connection refused")
            && text.contains("next retry in"),
        "{text}"
    );

    // The source comes back; nobody calls; the daemon retries by itself.
    std::fs::write(&up, "").unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut steady_ok = 0;
    loop {
        sign(&mut c, "steady")
            .await
            .expect("steady never stops serving");
        steady_ok += 1;
        let st = status_of(&d, "flaky").await;
        if st.state() == pb::CredentialState::Available {
            let src = st.passphrase_source.unwrap();
            assert!(src.last_fetch_at > 0 && src.next_retry_at == 0, "{src:?}");
            // The old error stays on record for the operator.
            assert!(src.last_error.contains("connection refused"));
            break;
        }
        assert!(Instant::now() < deadline, "flaky never recovered");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(steady_ok > 0);
    sign(&mut c, "flaky")
        .await
        .expect("recovered without restart");
    assert!(d.stderr().contains("recovered"), "{}", d.stderr());
}

#[tokio::test]
async fn passphrase_ttl_refetches_from_the_source() {
    let fx = Fixtures::new();
    let cred = fx.credential("ttl", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let count = fx.path().join("fetches");
    let script = write_script(
        fx.path(),
        "count.sh",
        &format!("echo x >> {count:?}\ncat {:?}", cred.pass_file),
    );
    let config = format!(
        "[agent]\npassphrase_max_ttl_seconds = 1\nkey_idle_ttl_seconds = 1\nkey_max_ttl_seconds = 1\n{}",
        stanza(
            &cred,
            "ttl",
            &format!("{{ source = \"exec\", command = [{script:?}] }}")
        )
    );
    let d = Daemon::start(&config).await;
    let mut c = d.client().await;
    sign(&mut c, "ttl").await.expect("first");
    let fetches = || {
        std::fs::read_to_string(&count)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let first = fetches();
    assert!(first >= 1);
    // After the TTLs the passphrase is wiped and fetched again on use.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let held = status_of(&d, "ttl").await.passphrase_source.unwrap().held;
        if !held {
            break;
        }
        assert!(Instant::now() < deadline, "passphrase never wiped");
    }
    sign(&mut c, "ttl").await.expect("after TTL");
    assert!(fetches() > first, "fetched again after the TTL");
}

#[tokio::test]
async fn config_rejects_bad_source_settings() {
    let fx = Fixtures::new();
    let cred = fx.credential("bad", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    for (pass, expect) in [
        (r#"{ source = "exec", command = [] }"#, "needs a command"),
        (
            r#"{ source = "systemd", name = "../x" }"#,
            "not a credential name",
        ),
        (
            r#"{ source = "secret-service", attributes = {} }"#,
            "at least one lookup attribute",
        ),
        (
            r#"{ source = "aws-secrets-manager", secret_id = "a", version_stage = "AWSCURRENT", version_id = "v1" }"#,
            "not both",
        ),
        (
            r#"{ source = "exec", command = ["/bin/echo"], shell = true }"#,
            "unknown field",
        ),
    ] {
        let cfg = fx.path().join("bad.toml");
        std::fs::write(&cfg, stanza(&cred, "bad", pass)).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
            .args(["check", "--config", cfg.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(expect),
            "{pass}: {err}"
        );
    }
}

#[tokio::test]
async fn source_down_later_keeps_the_decrypted_key_until_its_hard_ttl() {
    let fx = Fixtures::new();
    let cred = fx.credential("stale", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let down = fx.path().join("source-is-down");
    let script = write_script(
        fx.path(),
        "maybe.sh",
        &format!(
            "[ ! -e {down:?} ] || {{ echo 'vault: 503 service unavailable' >&2; exit 2; }}\ncat {:?}",
            cred.pass_file
        ),
    );
    // The passphrase is wiped after 1 s, the key would be idle after 1 s,
    // its hard TTL is 6 s.
    let config = format!(
        "[agent]\npassphrase_max_ttl_seconds = 1\nkey_idle_ttl_seconds = 1\nkey_max_ttl_seconds = 6\n{}",
        stanza(
            &cred,
            "stale",
            &format!("{{ source = \"exec\", command = [{script:?}] }}")
        )
    );
    let d = Daemon::start(&config).await;
    let mut c = d.client().await;
    sign(&mut c, "stale").await.expect("first use decrypts");
    let decrypted = Instant::now();
    std::fs::write(&down, "").unwrap();
    // Past the idle TTL, with the passphrase wiped and the source down, the
    // key keeps serving, and Status says why.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    sign(&mut c, "stale")
        .await
        .expect("served from the decrypted key");
    let st = status_of(&d, "stale").await;
    assert_eq!(st.state(), pb::CredentialState::Available, "{st:?}");
    assert!(
        st.error.contains("503") && st.error.contains("hard TTL"),
        "{}",
        st.error
    );
    assert!(!st.passphrase_source.unwrap().held);
    // After the hard TTL: UNAVAILABLE naming the source and its error.
    let until = decrypted + Duration::from_secs(7);
    tokio::time::sleep(until.saturating_duration_since(Instant::now())).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let err = loop {
        match sign(&mut c, "stale").await {
            Err(e) => break e,
            Ok(_) => {
                assert!(Instant::now() < deadline, "still served after the hard TTL");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    assert!(
        err.message().contains("exec") && err.message().contains("503"),
        "{}",
        err.message()
    );
    // The source comes back: recovered without restart.
    std::fs::remove_file(&down).unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    while sign(&mut c, "stale").await.is_err() {
        assert!(Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `request_timeout_seconds` bounds every request, even one stuck behind
/// a slow passphrase source; the daemon keeps serving.
#[tokio::test]
async fn request_deadline_cuts_a_request_stuck_on_a_slow_source() {
    let fx = Fixtures::new();
    let slow = fx.credential("slowsrc", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let fast = fx.credential("fast", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let script = write_script(
        fx.path(),
        "slow.sh",
        &format!("sleep 4\ncat {:?}", slow.pass_file),
    );
    let config = format!(
        "[agent]\nrequest_timeout_seconds = 1\npassphrase_fetch_timeout_seconds = 8\n{}{}",
        stanza(
            &slow,
            "slowsrc",
            &format!("{{ source = \"exec\", command = [{script:?}] }}")
        ),
        fast.toml("fast", ISSUER, ""),
    );
    let d = Daemon::start(&config).await;
    let mut c = d.client().await;
    let started = Instant::now();
    let err = sign(&mut c, "slowsrc").await.unwrap_err();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(3900),
        "took {took:?}"
    );
    assert!(
        matches!(
            err.code(),
            tonic::Code::Cancelled | tonic::Code::DeadlineExceeded
        ),
        "{err:?}"
    );
    sign(&mut c, "fast").await.expect("others keep serving");
}

/// A command that leaves a background process holding its stdout: the
/// fetch still completes at once, and the leftover process is killed with
/// the command's process group.
#[tokio::test]
async fn exec_leftover_children_are_killed_and_do_not_block() {
    let fx = Fixtures::new();
    let cred = fx.credential("bg", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    // A distinctive duration names the leftover for pgrep. It keeps the
    // command's stdout open: only killing the group lets the read finish.
    let marker = format!("sleep 61.{}", std::process::id());
    let script = write_script(
        fx.path(),
        "bg.sh",
        &format!("cat {:?}\n{marker} &\nexit 0", cred.pass_file),
    );
    let config = stanza(
        &cred,
        "bg",
        &format!("{{ source = \"exec\", command = [{script:?}] }}"),
    );
    let d = Daemon::start(&config).await;
    let mut c = d.client().await;
    let started = Instant::now();
    sign(&mut c, "bg").await.expect("the passphrase arrives");
    assert!(started.elapsed() < Duration::from_secs(5));
    let left = Command::new("pgrep")
        .args(["-f", &marker])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&left.stdout).trim().is_empty(),
        "a background child of the command survived"
    );
}

/// A PKCS#12 bundle is opened while loading, passphrase included; a source
/// that never answers (here a command that hangs) costs start-up at most
/// the fetch timeout, and the other credentials serve.
#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_source_for_a_bundle_does_not_hang_start_up() {
    let fx = Fixtures::new();
    let stuck = fx.credential("stuck", KeyType::P256, KeyFormat::Pkcs12);
    let fine = fx.credential("fine", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let hang = write_script(fx.path(), "stuck-source", "exec sleep 600");
    let stuck_toml = stuck.toml("stuck", ISSUER, "").replace(
        &format!("{{ source = \"file\", path = {:?} }}", stuck.pass_file),
        &format!("{{ source = \"exec\", command = [{hang:?}] }}"),
    );
    assert!(stuck_toml.contains("stuck-source"), "{stuck_toml}");
    let started = Instant::now();
    let d = Daemon::start(&format!(
        "[agent]\npassphrase_fetch_timeout_seconds = 2\n{stuck_toml}{}",
        fine.toml("fine", ISSUER, "")
    ))
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "start-up took {:?}",
        started.elapsed()
    );
    let mut c = d.client().await;
    sign(&mut c, "fine")
        .await
        .expect("the other credential serves");
    let err = sign(&mut c, "stuck").await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    assert!(
        err.message().contains("no answer within 2 s") && err.message().contains("stuck-source"),
        "{}",
        err.message()
    );
}
