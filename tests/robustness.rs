//! What operators' mistakes and the machine's failures do to the daemon:
//! a FIFO, a device or a huge file where a credential file should be, a
//! passphrase source that hangs, a power cut that tears the audit log, a
//! crash in the middle of `enroll`. Each gets a precise error, nothing
//! hangs or grows without bound, and the daemon keeps serving the rest.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use fapi_agent::service::pb;

const ISSUER: &str = "https://as.fapi-agent.test";

/// Runs `cmd` and waits for it to end, at most `limit`; `None` (and the
/// process killed) if it has not ended by then.
fn run_within(cmd: &mut Command, limit: Duration) -> Option<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn cli(daemon: &Daemon, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fapi-agent"));
    cmd.args(args).arg("--socket").arg(&daemon.socket);
    cmd
}

fn check(config: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fapi-agent"));
    cmd.arg("check").arg("--config").arg(config);
    cmd
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn mkfifo(path: &Path) {
    run(Command::new("mkfifo").args(["-m", "600"]).arg(path));
}

fn threads_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .count()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// A key file replaced by a FIFO (`mkfifo x; mv x acme.key`) once wedged
/// reload in a blocking `open`, and Lock, Unlock and SIGUSR1 waited behind
/// it; SIGTERM removed the socket but the process never exited.
#[tokio::test(flavor = "multi_thread")]
async fn a_key_file_replaced_by_a_fifo_blocks_neither_reload_nor_lock() {
    let fx = Fixtures::new();
    let acme = fx.credential("acme", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let other = fx.credential("other", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let mut daemon = Daemon::start(&config(
        "",
        &[
            acme.toml("acme", ISSUER, ""),
            other.toml("other", ISSUER, ""),
        ],
    ))
    .await;
    let mut client = daemon.client().await;
    sign(&mut client, "acme").await.unwrap();
    let fifo = fx.path().join("x");
    mkfifo(&fifo);
    std::fs::rename(&fifo, &acme.key).unwrap();

    let reload = run_within(&mut cli(&daemon, &["reload"]), Duration::from_secs(20))
        .expect("reload hung on a FIFO key file");
    assert!(!reload.status.success(), "{}", text(&reload));
    assert!(
        text(&reload).contains("acme:") && text(&reload).contains("is a FIFO, not a regular file"),
        "{}",
        text(&reload)
    );
    let lock = run_within(&mut cli(&daemon, &["lock"]), Duration::from_secs(5))
        .expect("lock waited behind the reload");
    assert!(lock.status.success(), "{}", text(&lock));
    let unlock =
        run_within(&mut cli(&daemon, &["unlock"]), Duration::from_secs(20)).expect("unlock hung");
    assert!(text(&unlock).contains("other"), "{}", text(&unlock));
    sign(&mut client, "other")
        .await
        .expect("the other credential serves");
    // The old acme version kept serving through the failed reload.
    sign(&mut client, "acme")
        .await
        .expect("the previous acme version serves");
    drop(client);

    daemon.signal("TERM");
    let deadline = Instant::now() + Duration::from_secs(15);
    while daemon.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "SIGTERM did not stop the daemon");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// After SIGTERM in-flight calls get `shutdown_grace_seconds`; one stuck
/// on a passphrase source that hangs does not keep the daemon alive.
#[tokio::test(flavor = "multi_thread")]
async fn shutdown_drains_in_flight_calls_for_a_bounded_time() {
    let fx = Fixtures::new();
    let stuck = fx.credential("stuck", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let started = fx.path().join("fetch-started");
    let script = fx.path().join("hanging-source");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ntouch {}\nexec sleep 600\n", started.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let stanza = stuck.toml("stuck", ISSUER, "").replace(
        &format!("{{ source = \"file\", path = {:?} }}", stuck.pass_file),
        &format!("{{ source = \"exec\", command = [{script:?}] }}"),
    );
    let mut daemon = Daemon::start(&format!(
        "[agent]\npassphrase_fetch_timeout_seconds = 120\nshutdown_grace_seconds = 2\n{stanza}"
    ))
    .await;
    let mut client = daemon.client().await;
    let call = tokio::spawn(async move { sign(&mut client, "stuck").await });
    // The call is in flight once its passphrase fetch has started.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !started.exists() {
        assert!(Instant::now() < deadline, "the fetch never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stopping = Instant::now();
    daemon.signal("TERM");
    while daemon.child.try_wait().unwrap().is_none() {
        assert!(
            stopping.elapsed() < Duration::from_secs(20),
            "the daemon waited for a hung call after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        daemon
            .stderr()
            .contains("in-flight calls did not finish in time"),
        "{}",
        daemon.stderr()
    );
    assert!(call.await.unwrap().is_err());
}

/// A FIFO as passphrase file once leaked a blocked thread per fetch until
/// the blocking pool was exhausted (Reload then answered
/// DEADLINE_EXCEEDED and Lock hung), and `check` never ended.
#[tokio::test(flavor = "multi_thread")]
async fn a_fifo_passphrase_file_leaks_no_thread_and_check_ends() {
    let fx = Fixtures::new();
    let bundle = fx.credential("bundle", KeyType::P256, KeyFormat::Pkcs12);
    let pem = fx.credential("pem", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let fine = fx.credential("fine", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let fifo = fx.path().join("pass.fifo");
    mkfifo(&fifo);
    let via_fifo = |c: &Cred, name: &str| {
        c.toml(name, ISSUER, "")
            .replace(&format!("{:?}", c.pass_file), &format!("{fifo:?}"))
    };
    let config = format!(
        "[agent]\npassphrase_fetch_timeout_seconds = 1\n{}{}{}",
        via_fifo(&bundle, "bundle"),
        via_fifo(&pem, "pem"),
        fine.toml("fine", ISSUER, "")
    );
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    sign(&mut client, "fine").await.unwrap();
    let e = sign(&mut client, "pem").await.unwrap_err();
    assert!(
        e.message().contains("is a FIFO, not a regular file"),
        "{}",
        e.message()
    );
    let before = threads_of(daemon.pid());
    for _ in 0..30 {
        let _ = client.admin.reload(pb::ReloadRequest {}).await;
        let _ = sign(&mut client, "pem").await;
    }
    let after = threads_of(daemon.pid());
    assert!(
        after <= before + 4,
        "{before} threads before 30 reloads and fetches, {after} after"
    );
    let lock = run_within(&mut cli(&daemon, &["lock"]), Duration::from_secs(5)).expect("lock hung");
    assert!(lock.status.success(), "{}", text(&lock));

    let checked = run_within(&mut check(&daemon.config_path()), Duration::from_secs(20))
        .expect("check did not end on a FIFO passphrase file");
    assert!(!checked.status.success());
    assert!(
        text(&checked).contains("FAIL bundle") && text(&checked).contains("is a FIFO"),
        "{}",
        text(&checked)
    );
}

/// `key = "/dev/urandom"` once grew `check` by 200 MB/s; every file the
/// daemon reads is a regular file under a documented cap.
#[tokio::test(flavor = "multi_thread")]
async fn special_and_oversized_files_are_refused_with_a_precise_error() {
    let fx = Fixtures::new();
    let c = fx.credential("acme", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let good = c.toml("acme", ISSUER, "");
    let huge = fx.path().join("huge.pem");
    std::fs::write(&huge, vec![b'A'; 2 << 20]).unwrap();
    let cases = [
        (
            good.replace(&format!("key = {:?}", c.key), "key = \"/dev/urandom\""),
            "/dev/urandom is a character device, not a regular file",
        ),
        (
            good.replace(
                &format!("certificate = {:?}", c.cert),
                "certificate = \"/dev/zero\"",
            ),
            "/dev/zero is a character device, not a regular file",
        ),
        (
            good.replace(&format!("key = {:?}", c.key), &format!("key = {huge:?}")),
            "is 2097152 bytes, over the 1048576-byte limit for a key, certificate or PKCS#12 file",
        ),
        (
            good.replace(&format!("{:?}", c.pass_file), "\"/dev/zero\""),
            "/dev/zero is a character device, not a regular file",
        ),
    ];
    for (i, (config, expected)) in cases.iter().enumerate() {
        let path = fx.path().join(format!("case{i}.toml"));
        std::fs::write(&path, config).unwrap();
        let out = run_within(&mut check(&path), Duration::from_secs(20))
            .unwrap_or_else(|| panic!("check of case {i} did not end ({expected})"));
        assert!(!out.status.success(), "case {i}");
        assert!(text(&out).contains(expected), "case {i}: {}", text(&out));
    }
    let big_config = fx.path().join("big.toml");
    std::fs::write(&big_config, format!("{good}#{}\n", "x".repeat(2 << 20))).unwrap();
    let out = run_within(&mut check(&big_config), Duration::from_secs(20)).unwrap();
    assert!(
        text(&out).contains("over the 1048576-byte limit for a config file"),
        "{}",
        text(&out)
    );

    // A reload onto /dev/urandom answers at once, and memory stays flat.
    let daemon = Daemon::start(&good).await;
    daemon.rewrite_config(&cases[0].0);
    let reload = run_within(&mut cli(&daemon, &["reload"]), Duration::from_secs(20))
        .expect("reload hung on /dev/urandom");
    assert!(text(&reload).contains(cases[0].1), "{}", text(&reload));
    assert!(
        rss_kib(daemon.pid()) < 200 * 1024,
        "the daemon grew to {} KiB",
        rss_kib(daemon.pid())
    );
    let mut client = daemon.client().await;
    sign(&mut client, "acme")
        .await
        .expect("the previous version serves");
}

/// A torn last audit record (what a power cut leaves) once kept the daemon
/// from starting ("not a JSON record", exit 2).
#[tokio::test(flavor = "multi_thread")]
async fn a_torn_audit_tail_is_set_aside_and_the_chain_continues() {
    let fx = Fixtures::new();
    let c = fx.credential("acme", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let log = fx.path().join("audit.jsonl");
    let config = format!(
        "[agent]\naudit_log = {log:?}\n{}",
        c.toml("acme", ISSUER, "")
    );
    let mut daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    for _ in 0..3 {
        sign(&mut client, "acme").await.unwrap();
    }
    drop(client);
    daemon.terminate();
    let intact = std::fs::read(&log).unwrap();
    let last = intact[..intact.len() - 1]
        .rsplit(|b| *b == b'\n')
        .next()
        .unwrap()
        .to_vec();
    // Half a record, then the zeros a file system can leave where the file
    // grew but the data never reached the disk.
    let mut torn = last[..last.len() / 2].to_vec();
    torn.extend([0u8; 64]);
    let mut with_tail = intact.clone();
    with_tail.extend(&torn);
    std::fs::write(&log, &with_tail).unwrap();

    let verify = |log: &Path| {
        run(Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
            .args(["audit", "verify"])
            .arg(log));
    };
    let out = Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
        .args(["audit", "verify"])
        .arg(&log)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("the last record (line 4,")
            && text(&out).contains("is torn")
            && text(&out).contains("The 3 records before it verify")
            && text(&out).contains("moves such a tail aside"),
        "{}",
        text(&out)
    );

    let mut daemon = Daemon::start(&config).await;
    assert!(
        daemon.stderr().contains("AUDIT LOG TAIL WAS TORN"),
        "{}",
        daemon.stderr()
    );
    let aside: Vec<_> = std::fs::read_dir(fx.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("audit.jsonl.torn-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(
        std::fs::read(&aside[0]).unwrap(),
        torn,
        "the torn bytes are kept"
    );
    let mut client = daemon.client().await;
    sign(&mut client, "acme").await.unwrap();
    drop(client);
    daemon.terminate();
    verify(&log);
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 5, "3 signs, the recovery, 1 sign");
    assert_eq!(records[3]["op"], "audit");
    assert_eq!(records[3]["outcome"], "recovered");
    assert_eq!(records[3]["seq"], 3, "the chain continues without a gap");
    assert!(
        records[3]["detail"]
            .as_str()
            .unwrap()
            .contains(&aside[0].display().to_string()),
        "{}",
        records[3]
    );
}

/// `enroll` killed in the middle of writing the key once left a 0-byte key
/// and a stored passphrase, and every retry was refused.
#[test]
fn enroll_killed_mid_write_leaves_nothing_and_a_retry_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("crash{}", std::process::id());
    let desc = format!("fapi-agent:{name}");
    let enroll = format!(
        "exec {} enroll --name {name} --client-id c --issuer https://as.example --subject CN=c \
         --dir {} --passphrase-store keyutils",
        env!("CARGO_BIN_EXE_fapi-agent"),
        dir.path().display()
    );
    // A file-size limit of 0: the first byte written kills the process
    // (SIGXFSZ), as a crash at that write would.
    let killed = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -f 0; {enroll}"))
        .output()
        .unwrap();
    assert!(!killed.status.success(), "{}", text(&killed));
    let final_names: Vec<_> = ["key", "csr", "toml", "crt"]
        .iter()
        .map(|ext| dir.path().join(format!("{name}.{ext}")))
        .filter(|p| p.exists())
        .collect();
    assert!(final_names.is_empty(), "left behind: {final_names:?}");
    let stored = Command::new("keyctl")
        .args(["search", "@u", "user", &desc])
        .output()
        .expect("keyctl (keyutils) is needed");
    assert!(
        !stored.status.success(),
        "the passphrase was stored although enroll never finished"
    );

    let retry = Command::new("sh").arg("-c").arg(&enroll).output().unwrap();
    let key_id = Command::new("keyctl")
        .args(["search", "@u", "user", &desc])
        .output()
        .unwrap();
    let pass = Command::new("keyctl")
        .arg("pipe")
        .arg(String::from_utf8_lossy(&key_id.stdout).trim())
        .output()
        .unwrap();
    let _ = Command::new("keyctl")
        .args(["purge", "-s", "user", &desc])
        .output();
    assert!(
        retry.status.success(),
        "the retry was refused: {}",
        text(&retry)
    );
    let key = dir.path().join(format!("{name}.key"));
    std::fs::write(dir.path().join("pass"), &pass.stdout).unwrap();
    openssl(
        dir.path(),
        &[
            "pkey",
            "-in",
            key.to_str().unwrap(),
            "-passin",
            "file:pass",
            "-noout",
        ],
    );
    assert!(!dir.path().join(format!("{name}.key.tmp")).exists());
}

/// `check` says when a group `[agent]` names does not exist (`run` then
/// refuses to start), and `[agent]` errors are labelled as such.
#[test]
fn check_reports_missing_groups_and_agent_errors_by_their_name() {
    let fx = Fixtures::new();
    let c = fx.credential("acme", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let path = fx.path().join("agent.toml");
    std::fs::write(
        &path,
        format!(
            "[agent]\nsocket_group = \"no-such-group-fapi\"\nadmin_group = \"nor-this-one\"\n{}",
            c.toml("acme", ISSUER, "")
        ),
    )
    .unwrap();
    let out = check(&path).output().unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("FAIL [agent]: socket_group \"no-such-group-fapi\" is not a group")
            && text(&out).contains("FAIL [agent]: admin_group \"nor-this-one\" is not a group")
            && text(&out).contains("ok   acme"),
        "{}",
        text(&out)
    );
    std::fs::write(
        &path,
        format!("[agent]\nevent_buffer = 1\n{}", c.toml("acme", ISSUER, "")),
    )
    .unwrap();
    let out = check(&path).output().unwrap();
    assert!(
        text(&out).contains("[agent]: event_buffer must be at least 4")
            && !text(&out).contains("credential \"[agent]\""),
        "{}",
        text(&out)
    );
}

/// A daemon started with a relative config path once saw every credential
/// as "updated" at its first reload and decrypted each key again.
#[tokio::test(flavor = "multi_thread")]
async fn a_reload_keeps_unchanged_credentials() {
    let fx = Fixtures::new();
    let c = fx.credential("acme", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let rel = |p: &Path| p.file_name().unwrap().to_owned();
    std::fs::write(
        fx.path().join("agent.toml"),
        format!(
            "[credentials.acme]\nclient_id = \"acme\"\nissuer = {ISSUER:?}\nkey = {:?}\n\
             certificate = {:?}\npassphrase = {{ source = \"file\", path = {:?} }}\n",
            rel(&c.key),
            rel(&c.cert),
            rel(&c.pass_file)
        ),
    )
    .unwrap();
    let socket = fx.path().join("run/agent.sock");
    let mut child = run_cmd(Path::new("agent.toml"), &socket)
        .current_dir(fx.path())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_for_daemon(&socket).await, "daemon not ready");
    let mut client = fapi_agent::client::Client::connect(&socket).await.unwrap();
    sign(&mut client, "acme").await.unwrap();
    let report = client
        .admin
        .reload(pb::ReloadRequest {})
        .await
        .unwrap()
        .into_inner();
    let status = client
        .admin
        .status(pb::StatusRequest {})
        .await
        .unwrap()
        .into_inner();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        report.updated.is_empty() && report.added.is_empty(),
        "{report:?}"
    );
    assert!(
        status.credentials[0].key_decrypted,
        "the reload replaced the credential and dropped its key"
    );
}

/// A request whose string field is not UTF-8 is the caller's error,
/// INVALID_ARGUMENT, not INTERNAL.
#[tokio::test(flavor = "multi_thread")]
async fn a_non_utf8_request_string_is_an_invalid_argument() {
    #[derive(Clone, PartialEq, prost::Message)]
    struct RawSelector {
        #[prost(bytes = "vec", tag = "1")]
        name: Vec<u8>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct RawGetCredential {
        #[prost(message, optional, tag = "1")]
        credential: Option<RawSelector>,
    }
    let fx = Fixtures::new();
    let c = fx.credential("acme", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let daemon = Daemon::start(&c.toml("acme", ISSUER, "")).await;
    let channel = fapi_agent::client::channel(&daemon.socket).await.unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let request = RawGetCredential {
        credential: Some(RawSelector {
            name: vec![b'a', 0xff, 0xfe],
        }),
    };
    let e = grpc
        .unary::<_, pb::Credential, _>(
            tonic::Request::new(request),
            "/fapi_agent.v1.Agent/GetCredential".parse().unwrap(),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    assert!(
        e.message().contains("not a valid protobuf message"),
        "{}",
        e.message()
    );
    let mut client = daemon.client().await;
    sign(&mut client, "acme")
        .await
        .expect("the daemon serves on");
}

/// At trace level notify logged every inotify event; with the log file in
/// a watched directory each line was itself an event: a loop that filled
/// the disk.
#[tokio::test(flavor = "multi_thread")]
async fn a_log_file_in_a_watched_directory_does_not_feed_back() {
    let fx = Fixtures::new();
    let c = fx.credential("acme", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let daemon = Daemon::start_traced(&c.toml("acme", ISSUER, "")).await;
    assert!(
        daemon.stderr_path.parent() == Some(daemon.config_path().parent().unwrap()),
        "the log is in the watched config directory"
    );
    let mut client = daemon.client().await;
    sign(&mut client, "acme").await.unwrap();
    client.admin.reload(pb::ReloadRequest {}).await.unwrap();
    let log = daemon.stderr();
    let feedback = log
        .lines()
        .filter(|l| l.contains("inotify event") && l.contains("stderr.log"))
        .count();
    assert_eq!(feedback, 0, "the log file's own changes are logged");
}
