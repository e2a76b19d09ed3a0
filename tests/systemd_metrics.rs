//! Running under systemd: socket activation through
//! `systemd-socket-activate`, the notify protocol (READY=1, watchdog pings,
//! RELOADING=1 on SIGHUP, STOPPING=1) seen on a real NOTIFY_SOCKET; and
//! the Prometheus endpoint scraped and parsed by the official Python
//! client's parser.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Daemon, Fixtures, KeyFormat, KeyType, sign};
use fapi_agent::client::Client;
use fapi_agent::service::pb;

const ISSUER: &str = "https://as.example";

/// Collects notify datagrams until one contains `want` (or panics).
fn wait_for(notify: &UnixDatagram, seen: &mut Vec<String>, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 4096];
    while !seen.iter().any(|m| m.lines().any(|l| l == want)) {
        assert!(Instant::now() < deadline, "no {want}; saw {seen:?}");
        if let Ok(n) = notify.recv(&mut buf) {
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
}

#[tokio::test]
async fn socket_activation_and_notify_protocol() {
    let fx = Fixtures::new();
    let cred = fx.credential("sd", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let config = fx.path().join("agent.toml");
    std::fs::write(&config, cred.toml("sd", ISSUER, "")).unwrap();
    let socket = fx.path().join("agent.sock");
    let notify_path = fx.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();

    let mut child = Command::new("systemd-socket-activate")
        .arg("-l")
        .arg(&socket)
        .arg(format!("--setenv=NOTIFY_SOCKET={}", notify_path.display()))
        .arg("--setenv=WATCHDOG_USEC=400000")
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_fapi-agent"))
        .args(["run", "--config", config.to_str().unwrap(), "--log=debug"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(fx.path().join("stderr.log")).unwrap())
        .spawn()
        .expect("systemd-socket-activate (Debian package systemd)");
    // The socket exists before the daemon runs; the first connection
    // starts it (as systemd does with a .socket unit).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        assert!(
            Instant::now() < deadline,
            "systemd-socket-activate did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut c = Client::connect(&socket).await.expect("connect");
    let r = sign(&mut c, "sd")
        .await
        .expect("sign over the activated socket");
    assert_eq!(r.assertion.split('.').count(), 3);
    let status = c
        .admin
        .status(pb::StatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.socket_path, socket.display().to_string());

    let mut seen = Vec::new();
    wait_for(&notify, &mut seen, "READY=1");
    assert!(
        seen.iter()
            .any(|m| m.contains("STATUS=serving 1 credential(s)")),
        "{seen:?}"
    );
    // Pings at half of WATCHDOG_USEC: several within a second.
    let before = seen.len();
    let mut buf = [0u8; 4096];
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        if let Ok(n) = notify.recv(&mut buf) {
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    let pings = seen[before..]
        .iter()
        .filter(|m| m.contains("WATCHDOG=1"))
        .count();
    assert!(pings >= 2, "watchdog pings: {pings} in {seen:?}");

    // SIGHUP: RELOADING=1 (with MONOTONIC_USEC), then READY=1 again.
    let pid = status.pid.to_string();
    Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    seen.clear();
    wait_for(&notify, &mut seen, "RELOADING=1");
    assert!(
        seen.iter().any(|m| m.contains("MONOTONIC_USEC=")),
        "{seen:?}"
    );
    wait_for(&notify, &mut seen, "READY=1");

    // SIGTERM: STOPPING=1, a clean exit, and the socket left to systemd.
    // (Our connection closes first: shutdown waits for open connections.)
    drop(c);
    tokio::time::sleep(Duration::from_millis(200)).await;
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    wait_for(&notify, &mut seen, "STOPPING=1");
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "daemon did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit:?}");
    assert!(
        socket.exists(),
        "the daemon must not remove systemd's socket"
    );
}

fn http_get(mut stream: impl Read + Write, path: &str) -> (String, String) {
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.to_owned(), body.to_owned())
}

/// Parses metrics text with prometheus_client's own parser and returns
/// `name{labels} value` lines, sorted.
fn parse_with_python(text: &str, dir: &Path) -> Vec<String> {
    let file = dir.join("metrics.txt");
    std::fs::write(&file, text).unwrap();
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as p\nfor f in p(open(sys.argv[1]).read()):\n  for s in f.samples:\n    print(s.name + '{' + ','.join(k+'='+v for k,v in sorted(s.labels.items())) + '} ' + repr(s.value))",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "prometheus_client rejected the output: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

#[tokio::test]
async fn prometheus_endpoint_on_loopback_and_on_a_socket() {
    let fx = Fixtures::new();
    let cred = fx.credential("m", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    // Its passphrase file is gone: every fetch fails.
    let down = fx.credential("down", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    std::fs::remove_file(&down.pass_file).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = Daemon::start(&format!(
        "[agent]\nmetrics = {{ listen = \"127.0.0.1:{port}\" }}\n{}{}",
        cred.toml("m-client", ISSUER, ""),
        down.toml("down-client", ISSUER, "")
    ))
    .await;
    let mut c = d.client().await;
    for _ in 0..3 {
        sign(&mut c, "m").await.expect("sign");
    }
    assert_eq!(
        sign(&mut c, "nope").await.unwrap_err().code(),
        tonic::Code::NotFound
    );
    let scrape = || {
        let (head, body) = http_get(
            std::net::TcpStream::connect(("127.0.0.1", port)).unwrap(),
            "/metrics",
        );
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("application/openmetrics-text"), "{head}");
        let samples = parse_with_python(&body, fx.path());
        (body, samples)
    };
    // The failing source's first fetch runs in the background at start.
    let mut waited = 0;
    let (body, samples) = loop {
        let (body, samples) = scrape();
        if waited == 100
            || samples
                .iter()
                .any(|s| s.contains("fetch_errors_total{credential=down"))
        {
            break (body, samples);
        }
        waited += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The sample named exactly `key` (`name{labels}`), as a number.
    let value = |key: &str| -> f64 {
        samples
            .iter()
            .find_map(|s| s.strip_prefix(key)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no sample {key} in {samples:#?}"))
    };
    assert_eq!(
        value("fapi_agent_requests_total{code=OK,method=fapi_agent.v1.Agent/SignClientAssertion}"),
        3.0
    );
    assert_eq!(
        value(
            "fapi_agent_requests_total{code=NOT_FOUND,method=fapi_agent.v1.Agent/SignClientAssertion}"
        ),
        1.0
    );
    assert_eq!(
        value(
            "fapi_agent_request_duration_seconds_count{method=fapi_agent.v1.Agent/SignClientAssertion}"
        ),
        4.0
    );
    // The fixture certificate runs 365 days from its making.
    let days = value("fapi_agent_credential_days_to_expiry{client_id=m-client,credential=m}");
    assert!(days == 364.0 || days == 365.0, "{days}");
    assert_eq!(
        value("fapi_agent_credential_state{credential=m,state=available}"),
        1.0
    );
    assert_eq!(
        value("fapi_agent_passphrase_fetches_total{credential=m,source=file}"),
        1.0
    );
    assert!(
        !samples
            .iter()
            .any(|s| s.starts_with("fapi_agent_passphrase_fetch_errors_total{credential=m,")),
        "a working source counts no errors"
    );
    assert!(value("fapi_agent_passphrase_fetch_errors_total{credential=down,source=file}") >= 1.0);
    assert_eq!(
        value("fapi_agent_credential_state{credential=down,state=error}"),
        1.0
    );
    assert!(!body.contains(&cred.passphrase));
    let (head, _) = http_get(
        std::net::TcpStream::connect(("127.0.0.1", port)).unwrap(),
        "/other",
    );
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");

    // Its own Unix socket instead of TCP.
    let msock = fx.path().join("metrics.sock");
    let d2 = Daemon::start(&format!(
        "[agent]\nmetrics = {{ socket = {:?} }}\n{}",
        msock,
        cred.toml("m-client", ISSUER, "")
    ))
    .await;
    let (head, body) = http_get(
        std::os::unix::net::UnixStream::connect(&msock).unwrap(),
        "/metrics",
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(body.contains("fapi_agent_credential_state"));
    drop(d2);

    // Not on a routable address: metrics name credentials and callers.
    let cfg = fx.path().join("bad.toml");
    std::fs::write(
        &cfg,
        format!(
            "[agent]\nmetrics = {{ listen = \"0.0.0.0:9464\" }}\n{}",
            cred.toml("m-client", ISSUER, "")
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
        .args(["check", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a loopback address"));
}

#[tokio::test]
async fn logs_as_json_lines_and_journal_friendly_text() {
    let fx = Fixtures::new();
    let cred = fx.credential("logs", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let config = cred.toml("logs", ISSUER, "");
    let d = Daemon::start_with(&config, &[("FAPI_AGENT_LOG_FORMAT", "json")]).await;
    let mut c = d.client().await;
    sign(&mut c, "logs").await.unwrap();
    drop(c);
    let log = d.stderr();
    let mut serving = false;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            v["timestamp"].is_string() && v["level"].is_string(),
            "{line}"
        );
        serving |= v["fields"]["message"] == "serving";
    }
    assert!(serving, "{log}");
    assert!(!log.contains(&cred.passphrase));

    // Under systemd (JOURNAL_STREAM set) text lines carry no timestamp:
    // the journal stamps them.
    let d = Daemon::start_with(&config, &[("JOURNAL_STREAM", "8:12345")]).await;
    let line = d
        .stderr()
        .lines()
        .find(|l| l.contains("serving"))
        .unwrap_or_default()
        .to_owned();
    assert!(line.trim_start().starts_with("INFO"), "{line}");
}
