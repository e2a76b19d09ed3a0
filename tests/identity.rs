//! Caller identity against an attacker who controls their own process:
//! an executable rule is satisfied by the file itself, not by a path the
//! caller can bind-mount anything onto, and a systemd-unit rule by the
//! unit's real place in the hierarchy, not by a cgroup of that name inside
//! a subtree systemd delegated to a user. Attacks run as `nobody` with the
//! kernel's own tools (`unshare`, `mount`, cgroupfs), as a reviewer did.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

const ISSUER: &str = "https://as.fapi-agent.test";

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A copy of the fapi-agent binary that `nobody` may execute: the client
/// a test runs under rules naming its file.
fn client_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("fapi-agent-client-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("fapi-client");
    std::fs::copy(env!("CARGO_BIN_EXE_fapi-agent"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, bin)
}

/// Runs `script` with `sh -c` as nobody, optionally inside a new user and
/// mount namespace of its own (`unshare -Urm`, which any user may make).
fn as_nobody(script: &str, own_namespaces: bool) -> Output {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]);
    if own_namespaces {
        cmd.args(["unshare", "-Urm", "--"]);
    }
    // Inside its own user namespace the daemon's uid shows as the overflow
    // uid: the client must be told to trust that.
    cmd.args(["sh", "-c", script])
        .env("FAPI_AGENT_SOCKET_OWNER", "65534")
        .output()
        .expect("setpriv and unshare (util-linux) are needed; tests run as root")
}

/// An `executables` rule compares the file, not the name: a program bind-
/// mounted over the named path in the caller's own mount namespace is not
/// admitted (it was, and GetKeyMaterial handed it the key); the real file
/// run from other namespaces needs `allow_other_namespaces`; the audit
/// record says what was verified.
#[tokio::test(flavor = "multi_thread")]
async fn an_executable_rule_is_satisfied_by_the_file_not_by_its_path() {
    let fx = Fixtures::new();
    let (_bin_dir, client) = client_copy();
    let named = fx.credential("named", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let copy = fx.credential("copy", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let contained = fx.credential("contained", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let audit = fx.path().join("audit.jsonl");
    let rule = |name: &str, exe: &Path, other_ns: bool| {
        format!(
            "[[credentials.{name}.allow]]\nuids = [65534]\nexecutables = [{exe:?}]\n\
             allow_other_namespaces = {other_ns}\noperations = [\"sign\", \"read\"]\n"
        )
    };
    let openssl = Path::new("/usr/bin/openssl");
    let daemon = Daemon::start(&format!(
        "[agent]\naudit_log = {audit:?}\n{}{}{}",
        named.toml("named", ISSUER, &rule("named", openssl, true)),
        copy.toml("copy", ISSUER, &rule("copy", &client, false)),
        contained.toml("contained", ISSUER, &rule("contained", &client, true)),
    ))
    .await;
    daemon.open_socket_to_all();
    let sock = daemon.socket.display().to_string();
    let sign = |cred: &str| format!("assertion --credential {cred} --socket {sock}");

    // The attack: nobody mounts its own gRPC client over /usr/bin/openssl
    // in a mount namespace of its own and runs it by that name. Even with
    // other namespaces allowed, the file is not /usr/bin/openssl.
    let impostor = as_nobody(
        &format!(
            "mount --bind {} /usr/bin/openssl && exec /usr/bin/openssl {}",
            client.display(),
            sign("named")
        ),
        true,
    );
    assert!(
        !impostor.status.success(),
        "a bind mount over the named path was admitted: {}",
        String::from_utf8_lossy(&impostor.stdout)
    );
    assert!(
        stderr(&impostor).contains("PermissionDenied")
            && stderr(&impostor).contains("needs executable in [\"/usr/bin/openssl\"]")
            && stderr(&impostor).contains("none of those"),
        "{}",
        stderr(&impostor)
    );

    // The real file, in the daemon's namespaces: admitted.
    let genuine = as_nobody(
        &format!("exec {} {}", client.display(), sign("copy")),
        false,
    );
    assert!(genuine.status.success(), "{}", stderr(&genuine));
    let token = String::from_utf8(genuine.stdout).unwrap();
    verify_with_python(token.trim(), &copy.cert, "ES256", ISSUER, "copy", &[]);

    // The real file from a namespace of the caller's own: only where the
    // rule allows other namespaces.
    let elsewhere = as_nobody(&format!("exec {} {}", client.display(), sign("copy")), true);
    assert!(!elsewhere.status.success(), "{}", stderr(&elsewhere));
    assert!(
        stderr(&elsewhere).contains("other mount or user namespaces"),
        "{}",
        stderr(&elsewhere)
    );
    let allowed = as_nobody(
        &format!("exec {} {}", client.display(), sign("contained")),
        true,
    );
    assert!(allowed.status.success(), "{}", stderr(&allowed));

    // The audit record of the refused impostor carries what was verified:
    // the name it showed, the file it is, the foreign namespaces.
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let client_id = fapi_agent::sys::fs::FileIdentity::of(&client).unwrap();
    let refused = records
        .iter()
        .find(|r| r["credential"] == "named" && r["outcome"] == "denied")
        .expect("the refusal is audited");
    assert_eq!(refused["caller"]["exe"], "/usr/bin/openssl", "{refused}");
    assert_eq!(refused["caller"]["other_namespaces"], true, "{refused}");
    let exe_file = refused["caller"]["exe_file"].as_str().unwrap();
    assert!(
        exe_file.contains(&format!("ino {}", client_id.ino)),
        "{exe_file} is not the client's file ({client_id})"
    );
    let admitted = records
        .iter()
        .find(|r| r["credential"] == "copy" && r["outcome"] == "ok")
        .expect("the admitted sign is audited");
    assert!(
        admitted["caller"].get("other_namespaces").is_none(),
        "{admitted}"
    );
    assert!(
        admitted["caller"]["exe_file"]
            .as_str()
            .unwrap()
            .contains(&format!("ino {}", client_id.ino)),
        "{admitted}"
    );
}

/// The cgroup hierarchy systemd's units live in (unified cgroup2, else the
/// hybrid name=systemd tree).
fn cgroup_root() -> &'static Path {
    [
        "/sys/fs/cgroup/unified",
        "/sys/fs/cgroup/systemd",
        "/sys/fs/cgroup",
    ]
    .iter()
    .map(Path::new)
    .find(|r| r.join("cgroup.procs").exists())
    .expect("a writable cgroup hierarchy (tests run as root)")
}

/// Removes a cgroup path and its parents up to the root, on drop.
struct Cgroup(PathBuf);

impl Drop for Cgroup {
    fn drop(&mut self) {
        let mut p = self.0.clone();
        while p != cgroup_root() {
            let _ = std::fs::remove_dir(&p);
            if !p.pop() {
                break;
            }
        }
    }
}

fn cgroup(path: &str) -> Cgroup {
    let dir = cgroup_root().join(path);
    std::fs::create_dir_all(&dir).unwrap();
    Cgroup(dir)
}

/// A `systemd_units` rule matches the unit at its place below the slices,
/// never a cgroup of that name inside `user@UID.service`, which systemd
/// delegates to the user (the chown stands in for the delegation); the
/// user's own unit matches only a rule naming that user.
#[tokio::test(flavor = "multi_thread")]
async fn a_unit_rule_is_not_satisfied_from_a_delegated_subtree() {
    let fx = Fixtures::new();
    let c = fx.credential("acme", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let user_c = fx.credential("mine", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let unit = format!("payments-{}.service", std::process::id());
    let daemon = Daemon::start(&format!(
        "{}{}",
        c.toml(
            "acme",
            ISSUER,
            &format!(
                "[[credentials.acme.allow]]\nsystemd_units = [{unit:?}]\noperations = [\"sign\"]\n"
            ),
        ),
        user_c.toml(
            "mine",
            ISSUER,
            &format!(
                "[[credentials.mine.allow]]\nsystemd_user_units = [{{ uid = 65534, unit = {unit:?} }}]\noperations = [\"sign\"]\n"
            ),
        ),
    ))
    .await;
    daemon.open_socket_to_all();
    let (_bin_dir, client) = client_copy();
    // Root places the process, then it becomes nobody: as if nobody had
    // created the cgroup in its delegated subtree and moved in.
    let run_in = |cg: &Cgroup, cred: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "echo $$ > {procs} && exec setpriv --reuid=nobody --regid=nogroup --clear-groups \
                 {client} assertion --credential {cred} --socket {sock}",
                procs = cg.0.join("cgroup.procs").display(),
                client = client.display(),
                sock = daemon.socket.display(),
            ))
            .output()
            .unwrap()
    };
    let delegated = cgroup(&format!(
        "user.slice/user-65534.slice/user@65534.service/app.slice/{unit}"
    ));
    run(Command::new("chown")
        .args(["-R", "nobody"])
        .arg(cgroup_root().join("user.slice/user-65534.slice/user@65534.service")));
    let from_delegated = run_in(&delegated, "acme");
    let as_user_unit = run_in(&delegated, "mine");
    let real = cgroup(&format!("system.slice/{unit}"));
    let from_real_place = run_in(&real, "acme");
    let user_rule_from_system = run_in(&real, "mine");
    drop((delegated, real));

    assert!(
        !from_delegated.status.success(),
        "a cgroup named {unit} in a user's delegated subtree matched the system unit rule"
    );
    assert!(
        stderr(&from_delegated).contains(&format!("needs systemd unit in [\"{unit}\"]")),
        "{}",
        stderr(&from_delegated)
    );
    assert!(
        daemon
            .stderr()
            .contains(&format!("unit {unit} (user unit of uid 65534)")),
        "the caller is logged with its user unit"
    );
    assert!(as_user_unit.status.success(), "{}", stderr(&as_user_unit));
    assert!(
        from_real_place.status.success(),
        "{}",
        stderr(&from_real_place)
    );
    let token = String::from_utf8(from_real_place.stdout).unwrap();
    verify_with_python(token.trim(), &c.cert, "ES256", ISSUER, "acme", &[]);
    assert!(
        stderr(&user_rule_from_system).contains("needs user unit in"),
        "{}",
        stderr(&user_rule_from_system)
    );
}
