//! A private D-Bus session for the tests that talk to gnome-keyring
//! (tests/keyring_source.rs, tests/secret_service.rs): a script run by
//! `dbus-run-session` in its own process group, the daemon reached inside
//! it, and the whole group stopped at the end.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fapi_agent::client::Client;

/// The line that starts gnome-keyring's secrets component, unlocked, in
/// the session (the script's first line where a test needs the keyring).
pub const UNLOCK_KEYRING: &str =
    "printf '%s' keyring-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null";

/// Runs `script` (bash, `set -e`) in a fresh D-Bus session with `HOME` and
/// the XDG directories under `home`, `$FAPI_AGENT` set to the binary,
/// Python keyring held to its Secret Service backend (no silent fallback
/// to a file), and `vars`; stderr goes to `home/stderr.log`. Its own
/// process group, for [`stop`].
pub fn in_session(home: &Path, script: &str, vars: &[(&str, &Path)]) -> Child {
    std::fs::create_dir_all(home.join("run")).unwrap();
    let mut cmd = Command::new("dbus-run-session");
    cmd.args(["--", "bash", "-c", &format!("set -e\n{script}")])
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("FAPI_AGENT", env!("CARGO_BIN_EXE_fapi-agent"))
        .env(
            "PYTHON_KEYRING_BACKEND",
            "keyring.backends.SecretService.Keyring",
        )
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::null())
        .stderr(std::fs::File::create(home.join("stderr.log")).unwrap())
        .process_group(0)
        .spawn()
        .expect("dbus-run-session (Debian package dbus) must be installed")
}

/// A client of the daemon the session started on `socket`, once it
/// answers; fails with the session's stderr (`log`) if the session ends
/// first or nothing answers within 30 s.
pub async fn connect(socket: &Path, child: &mut Child, log: &Path) -> Client {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "session exited ({status}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if socket.exists()
            && let Ok(c) = Client::connect(socket).await
        {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "daemon not ready: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Stops the session: the whole process group (bus, keyring, daemon).
pub fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.wait();
}
