//! `systemd_units` rules against the real system manager: where a system
//! bus is present the daemon asks systemd which unit a caller runs in
//! (D2 of the security review), so a cgroup made to look like a unit does
//! not pass for it, and a bus without systemd admits nobody by unit.
//!
//! Peers nobody here wrote: systemd itself (PID 1 of a fresh pid, mount,
//! cgroup, UTS and IPC namespace, with only the units this test writes:
//! `SYSTEMD_UNIT_PATH` keeps it from booting the machine's own, which
//! would run tmpfiles and wipe `/tmp`), its `dbus-daemon`, `systemd-run`,
//! `busctl`, and a plain `dbus-daemon` with its own configuration. Tests
//! run as root (cgroups, namespaces); a missing peer fails the test.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

const ISSUER: &str = "https://as.fapi-agent.test";

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Where the unified (cgroup2) hierarchy is mounted: `/sys/fs/cgroup` on
/// unified hosts, `/sys/fs/cgroup/unified` on hybrid ones.
fn cgroup2_root() -> PathBuf {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(2) == Some(&"cgroup2")).then(|| PathBuf::from(f[1]))
        })
        .min_by_key(|p| p.as_os_str().len())
        .expect("a cgroup2 hierarchy (the unified one) must be mounted")
}

/// Removes a cgroup tree, children first (the kernel frees a cgroup a
/// moment after its last process died, so this retries briefly).
fn remove_cgroup_tree(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while dir.exists() && Instant::now() < deadline {
        let _ = Command::new("find")
            .arg(dir)
            .args(["-depth", "-type", "d", "-exec", "rmdir", "{}", ";"])
            .stderr(Stdio::null())
            .status();
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A real systemd (the distribution's `/lib/systemd/systemd --system`) as
/// PID 1 of its own namespaces, with a system bus of its own.
struct Systemd {
    unshare: Child,
    /// systemd's pid as this process sees it.
    pid: u32,
    /// The cgroup it (and everything it starts) lives in, seen from here.
    cgroup: PathBuf,
    dir: tempfile::TempDir,
}

impl Systemd {
    fn start() -> Systemd {
        let dir = tempfile::Builder::new()
            .prefix("fapi-systemd-")
            .tempdir()
            .unwrap();
        let units = dir.path().join("units");
        let empty = dir.path().join("empty");
        std::fs::create_dir_all(&units).unwrap();
        std::fs::create_dir_all(&empty).unwrap();
        let write = |name: &str, text: &str| std::fs::write(units.join(name), text).unwrap();
        write(
            "fapi-test.target",
            "[Unit]\nDescription=fapi-agent test peer\nWants=dbus.socket dbus.service\n",
        );
        // The targets every service's default dependencies name.
        for t in ["sysinit", "basic", "shutdown"] {
            write(&format!("{t}.target"), "[Unit]\nDefaultDependencies=no\n");
        }
        write(
            "dbus.socket",
            "[Unit]\nDefaultDependencies=no\n[Socket]\nListenStream=/run/dbus/system_bus_socket\n",
        );
        write(
            "dbus.service",
            "[Unit]\nDefaultDependencies=no\nRequires=dbus.socket\n[Service]\nType=notify\n\
             ExecStart=/usr/bin/dbus-daemon --system --address=systemd: --nofork --nopidfile \
             --systemd-activation --syslog-only\n",
        );
        // One cgroup per instance: tests of this file run in parallel, and
        // a systemd manages (and cleans up) everything below its root.
        static INSTANCE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = INSTANCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let cgroup = cgroup2_root().join(format!("fapi-systemd-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&cgroup).unwrap();
        // PID 1 of the new namespaces: a private /run (its bus), a fresh
        // proc, read-only sysctls, and cgroup2 showing its own cgroup as
        // the root (a cgroup namespace made after moving into it).
        let inner = format!(
            "set -e\n\
             mount -t tmpfs tmpfs /run\n\
             mount -t tmpfs tmpfs /var/tmp\n\
             mount -t proc proc /proc\n\
             mount --bind -o ro /proc/sys /proc/sys\n\
             umount -R /sys/fs/cgroup\n\
             mount -t cgroup2 none /sys/fs/cgroup\n\
             export container=fapi-test SYSTEMD_UNIT_PATH={units} SYSTEMD_GENERATOR_PATH={empty} \
             SYSTEMD_ENVIRONMENT_GENERATOR_PATH={empty}\n\
             exec /lib/systemd/systemd --system --unit=fapi-test.target --log-level=warning\n",
            units = units.display(),
            empty = empty.display(),
        );
        std::fs::write(dir.path().join("inner.sh"), inner).unwrap();
        let unshare = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "echo $$ > {}/cgroup.procs && exec unshare --pid --fork --mount --cgroup --uts \
                 --ipc --propagation private sh {}",
                cgroup.display(),
                dir.path().join("inner.sh").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("systemd.log")).unwrap())
            .spawn()
            .expect("sh and unshare (util-linux) are needed");
        let mut sd = Systemd {
            unshare,
            pid: 0,
            cgroup,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            sd.pid = sd.find_pid1();
            if sd.pid != 0
                && sd
                    .inside(&[
                        "busctl",
                        "call",
                        "org.freedesktop.systemd1",
                        "/org/freedesktop/systemd1",
                        "org.freedesktop.DBus.Peer",
                        "Ping",
                    ])
                    .status
                    .success()
            {
                return sd;
            }
            if let Ok(Some(status)) = sd.unshare.try_wait() {
                panic!(
                    "systemd exited ({status}): {}",
                    std::fs::read_to_string(sd.dir.path().join("systemd.log")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "systemd did not take org.freedesktop.systemd1 on its bus within 20 s (is the \
                 systemd package installed? /lib/systemd/systemd): {}",
                std::fs::read_to_string(sd.dir.path().join("systemd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The pid (seen from here) of the `systemd` process in our cgroup.
    fn find_pid1(&self) -> u32 {
        let procs = std::fs::read_to_string(self.cgroup.join("init.scope/cgroup.procs"))
            .or_else(|_| std::fs::read_to_string(self.cgroup.join("cgroup.procs")))
            .unwrap_or_default();
        procs
            .lines()
            .filter_map(|p| p.trim().parse::<u32>().ok())
            .find(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "systemd")
            })
            .unwrap_or(0)
    }

    /// A command run inside systemd's namespaces.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.args([
            "-t",
            &self.pid.to_string(),
            "-p",
            "-m",
            "-C",
            "-u",
            "-i",
            "--",
        ])
        .args(args);
        cmd
    }

    fn inside(&self, args: &[&str]) -> Output {
        self.command(args)
            .output()
            .expect("nsenter (util-linux) is needed")
    }
}

impl Drop for Systemd {
    fn drop(&mut self) {
        // Killing PID 1 of a pid namespace ends every process in it.
        if self.pid != 0 {
            let _ = Command::new("kill")
                .args(["-KILL", &self.pid.to_string()])
                .status();
        }
        // unshare reaps it and exits; kill it only if it does not.
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.unshare.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
        remove_cgroup_tree(&self.cgroup);
    }
}

/// A daemon started with `cmd` (already pointed at its config, socket and
/// bus), waited for until it answers.
struct Agent {
    child: Child,
    socket: PathBuf,
    log: PathBuf,
}

impl Agent {
    async fn start(mut cmd: Command, socket: PathBuf, log: PathBuf) -> Agent {
        let child = cmd
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut agent = Agent { child, socket, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !wait_for_daemon(&agent.socket).await {
            if let Ok(Some(status)) = agent.child.try_wait() {
                panic!("daemon exited ({status}): {}", agent.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "daemon not ready: {}",
                agent.stderr()
            );
        }
        agent
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent_args(cmd: &mut Command, config: &Path, socket: &Path) {
    cmd.args([
        env!("CARGO_BIN_EXE_fapi-agent"),
        "run",
        "--config",
        config.to_str().unwrap(),
        "--socket",
        socket.to_str().unwrap(),
        "--log=debug",
    ])
    .env_remove("FAPI_AGENT_SOCKET");
}

fn payments_config(c: &Cred) -> String {
    c.toml(
        "acme",
        ISSUER,
        "[[credentials.acme.allow]]\nsystemd_units = [\"payments.service\"]\noperations = [\"sign\"]\n",
    )
}

/// The daemon, under systemd, admits a process systemd runs in
/// `payments.service` (a transient unit from `systemd-run`) and refuses a
/// process in a cgroup named like it but not systemd's, one in another
/// unit, and says why.
#[tokio::test(flavor = "multi_thread")]
async fn systemd_names_the_unit_and_a_look_alike_cgroup_is_refused() {
    let sd = Systemd::start();
    let methods = sd.inside(&[
        "busctl",
        "introspect",
        "org.freedesktop.systemd1",
        "/org/freedesktop/systemd1",
        "org.freedesktop.systemd1.Manager",
    ]);
    assert!(methods.status.success(), "{}", stderr(&methods));
    let has_pidfd_method = String::from_utf8_lossy(&methods.stdout).contains(".GetUnitByPIDFD ");
    eprintln!(
        "systemd {} GetUnitByPIDFD",
        if has_pidfd_method {
            "has"
        } else {
            "lacks (before 253)"
        }
    );

    let fx = Fixtures::new();
    let c = fx.credential("acme", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let config = fx.path().join("agent.toml");
    std::fs::write(&config, payments_config(&c)).unwrap();
    let socket = fx.path().join("run/agent.sock");
    let mut cmd = sd.command(&[]);
    agent_args(&mut cmd, &config, &socket);
    cmd.env(
        "DBUS_SYSTEM_BUS_ADDRESS",
        "unix:path=/run/dbus/system_bus_socket",
    );
    let agent = Agent::start(cmd, socket.clone(), fx.path().join("agent.log")).await;
    let cli = [
        env!("CARGO_BIN_EXE_fapi-agent"),
        "assertion",
        "--credential",
        "acme",
        "--socket",
        socket.to_str().unwrap(),
    ];

    // In the unit systemd runs it in.
    let mut args = vec![
        "systemd-run",
        "--unit=payments",
        "--wait",
        "--pipe",
        "--quiet",
        "--",
    ];
    args.extend(cli);
    let inside = sd.inside(&args);
    assert!(
        inside.status.success(),
        "in payments.service: {}\n{}",
        stderr(&inside),
        agent.stderr()
    );
    let token = String::from_utf8(inside.stdout).unwrap();
    verify_with_python(token.trim(), &c.cert, "ES256", ISSUER, "acme", &[]);
    assert!(agent.stderr().contains("unit payments.service"));

    // In another unit.
    let mut args = vec![
        "systemd-run",
        "--unit=other",
        "--wait",
        "--pipe",
        "--quiet",
        "--",
    ];
    args.extend(cli);
    let other = sd.inside(&args);
    assert!(!other.status.success());
    assert!(
        stderr(&other).contains("needs systemd unit in [\"payments.service\"]")
            && stderr(&other).contains("systemd says it runs in other.service"),
        "{}",
        stderr(&other)
    );

    // In a cgroup made to look like payments.service, which systemd does
    // not know: the cgroup path alone would have admitted it.
    let fake = "/sys/fs/cgroup/fapi-fake.slice/payments.service";
    let faker = sd.inside(&[
        "sh",
        "-c",
        &format!(
            "mkdir -p {fake} && echo $$ > {fake}/cgroup.procs && grep '^0::' /proc/self/cgroup >&2 \
             && exec {}",
            cli.join(" ")
        ),
    ]);
    assert!(
        stderr(&faker).contains("0::/fapi-fake.slice/payments.service"),
        "the faker sits in the look-alike cgroup: {}",
        stderr(&faker)
    );
    assert!(!faker.status.success(), "a look-alike cgroup was admitted");
    let why = stderr(&faker);
    assert!(
        why.contains("needs systemd unit in [\"payments.service\"]")
            && why.contains("systemd says it is in no unit"),
        "{why}"
    );
    assert!(
        agent
            .stderr()
            .contains("its cgroup places it in payments.service"),
        "the disagreement is logged: {}",
        agent.stderr()
    );
}

/// A system bus without systemd on it: a rule naming a unit admits nobody,
/// even a process in a cgroup placed where the unit would be, and the
/// refusal says systemd was not on the bus.
#[tokio::test(flavor = "multi_thread")]
async fn a_system_bus_without_systemd_fails_closed() {
    let fx = Fixtures::new();
    let bus_socket = fx.path().join("system_bus_socket");
    let bus_config = fx.path().join("bus.conf");
    std::fs::write(
        &bus_config,
        format!(
            "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\" \
             \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
             <busconfig>\n  <type>system</type>\n  <listen>unix:path={}</listen>\n  \
             <auth>EXTERNAL</auth>\n  <policy context=\"default\">\n    \
             <allow send_destination=\"*\" eavesdrop=\"true\"/>\n    <allow eavesdrop=\"true\"/>\n    \
             <allow own=\"*\"/>\n  </policy>\n</busconfig>\n",
            bus_socket.display()
        ),
    )
    .unwrap();
    let mut bus = Command::new("dbus-daemon")
        .arg(format!("--config-file={}", bus_config.display()))
        .args(["--nofork", "--nopidfile"])
        .stdout(Stdio::null())
        .spawn()
        .expect("dbus-daemon (Debian package dbus-daemon) is needed");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !bus_socket.exists() {
        assert!(Instant::now() < deadline, "dbus-daemon did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }

    let c = fx.credential("acme", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let config = fx.path().join("agent.toml");
    std::fs::write(&config, payments_config(&c)).unwrap();
    let socket = fx.path().join("run/agent.sock");
    let mut cmd = Command::new("env");
    agent_args(&mut cmd, &config, &socket);
    cmd.env(
        "DBUS_SYSTEM_BUS_ADDRESS",
        format!("unix:path={}", bus_socket.display()),
    );
    let agent = Agent::start(cmd, socket.clone(), fx.path().join("agent.log")).await;

    // A real cgroup where payments.service would be: the cgroup rule
    // alone would admit this process.
    let dir = cgroup2_root().join(format!(
        "fapi-nobus-{}.slice/payments.service",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let placed = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > {}/cgroup.procs && exec {} assertion --credential acme --socket {}",
            dir.display(),
            env!("CARGO_BIN_EXE_fapi-agent"),
            socket.display()
        ))
        .output()
        .unwrap();
    remove_cgroup_tree(dir.parent().unwrap());
    let _ = bus.kill();
    let _ = bus.wait();
    assert!(!placed.status.success(), "admitted without systemd's word");
    let why = stderr(&placed);
    assert!(
        why.contains("needs systemd unit in [\"payments.service\"]")
            && why.contains("a system bus is present but systemd did not say")
            && why.contains("org.freedesktop.DBus.Error.ServiceUnknown"),
        "{why}\n{}",
        agent.stderr()
    );
}

/// Starts a transient `UNIT.service` that loads credential `id` from
/// `socket` (`LoadCredential=`): systemd itself connects to the socket
/// from `\0<random>/unit/UNIT.service/ID` and reads to EOF.
fn load_credential(sd: &Systemd, unit: &str, id: &str, socket: &Path) -> Output {
    sd.inside(&[
        "systemd-run",
        &format!("--unit={unit}"),
        "--wait",
        "--quiet",
        "-p",
        &format!("LoadCredential={id}:{}", socket.display()),
        "--",
        "true",
    ])
}

/// What systemd's side of the protocol receives, done as systemd does it
/// (`src/basic/fileio.c` with `READ_FULL_FILE_CONNECT_SOCKET`): bind to the
/// abstract address `\0<random>/unit/UNIT/ID`, connect, shut down the
/// write side, read to EOF. Run as `uid`.
fn as_systemd_would(socket: &Path, unit: &str, id: &str, uid: u32) -> Vec<u8> {
    let out = Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={uid}"),
            "--clear-groups",
            // Debian's: pyenv's shims live under /root, closed to uid 65534.
            "/usr/bin/python3",
            "-c",
        ])
        .arg(
            "import os,socket,sys\n\
             s=socket.socket(socket.AF_UNIX,socket.SOCK_STREAM)\n\
             s.bind('\\0%016x/unit/%s/%s' % (int.from_bytes(os.urandom(8),'big'), sys.argv[2], sys.argv[3]))\n\
             s.connect(sys.argv[1]); s.shutdown(socket.SHUT_WR)\n\
             got=b''\n\
             while True:\n    b=s.recv(65536)\n    if not b: break\n    got+=b\n\
             sys.stdout.buffer.write(got)\n",
        )
        .arg(socket)
        .args([unit, id])
        .output()
        .expect("setpriv and /usr/bin/python3 (Debian python3) are needed");
    assert!(out.status.success(), "{}", stderr(&out));
    out.stdout
}

fn openssl_out(dir: &Path, args: &[&str], input: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl is needed");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl {args:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// fapi-agent as a systemd credential provider. The real systemd 252
/// connects for a transient unit's `LoadCredential=` and is served or
/// refused by the unit it names (this harness's systemd cannot set up the
/// unit's credentials directory, so what it received is not readable in
/// the unit: the audit log says what was served to whom). What is served
/// is then checked with a client that speaks systemd's side exactly: the
/// certificate, the JWKS and (export on) the key; another unit, an unknown
/// ID and a peer that is not the system manager get nothing, each with a
/// logged and audited reason.
#[tokio::test(flavor = "multi_thread")]
async fn units_load_credentials_from_the_credential_socket() {
    let sd = Systemd::start();
    let fx = Fixtures::new();
    let c = fx.credential("acme", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let audit = fx.path().join("audit.jsonl");
    let serve = |id: &str, what: &str| {
        format!(
            "[[systemd_credentials.serve]]\nid = {id:?}\ncredential = \"acme\"\nwhat = {what:?}\n\
             units = [\"payments.service\"]\n"
        )
    };
    let daemon = Daemon::start(&config(
        &format!("audit_log = {audit:?}"),
        &[
            c.toml("acme", ISSUER, "export = true"),
            "[systemd_credentials]\n".into(),
            serve("bank-cert", "certificate"),
            serve("bank-jwks", "jwks"),
            serve("bank-key", "key_material"),
        ],
    ))
    .await;
    let creds = daemon.socket.with_file_name("creds.sock");
    assert!(creds.exists(), "creds.sock beside the gRPC socket");
    let mode = std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "only the daemon's uid and root connect");
    let records = || -> Vec<(String, String)> {
        std::fs::read_to_string(&audit)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|r| r["op"] == "systemd_credential")
            .map(|r| {
                (
                    r["outcome"].as_str().unwrap_or_default().to_owned(),
                    r["detail"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };

    // systemd itself: payments.service is served, other.service refused.
    let ran = load_credential(&sd, "payments", "bank-cert", &creds);
    assert!(ran.status.success(), "{}", stderr(&ran));
    let _ = load_credential(&sd, "other", "bank-cert", &creds);
    let seen = records();
    assert!(
        seen.contains(&(
            "ok".into(),
            "unit payments.service id bank-cert: certificate".into()
        )),
        "{seen:?}\n{}",
        daemon.stderr()
    );
    assert!(
        seen.iter().any(|(o, d)| o == "denied"
            && d.starts_with("unit other.service id bank-cert: permission denied")),
        "{seen:?}"
    );

    // What is served, as systemd reads it.
    let cert = as_systemd_would(&creds, "payments.service", "bank-cert", 0);
    let sha = ["x509", "-noout", "-fingerprint", "-sha256"];
    assert_eq!(
        openssl_out(fx.path(), &sha, &cert),
        openssl_out(fx.path(), &sha, &std::fs::read(&c.cert).unwrap())
    );
    let jwks = as_systemd_would(&creds, "payments.service", "bank-jwks", 0);
    let jwks: serde_json::Value = serde_json::from_slice(&jwks).unwrap();
    let kid = facts(&mut daemon.client().await, "acme").await.kid;
    assert_eq!(jwks["keys"][0]["kid"], kid.as_str(), "{jwks}");
    assert!(jwks["keys"][0].get("d").is_none(), "public only: {jwks}");
    let key = as_systemd_would(&creds, "payments.service", "bank-key", 0);
    assert!(String::from_utf8_lossy(&key).starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(
        openssl_out(fx.path(), &["pkey", "-pubout"], &key),
        openssl_out(
            fx.path(),
            &["x509", "-noout", "-pubkey"],
            &std::fs::read(&c.cert).unwrap()
        )
    );

    // Nothing for another unit, an unknown ID, or a peer that is not the
    // system manager with systemd's kind of address (the socket opened to
    // it on purpose).
    assert!(as_systemd_would(&creds, "other.service", "bank-key", 0).is_empty());
    assert!(as_systemd_would(&creds, "payments.service", "no-such-id", 0).is_empty());
    daemon.open_socket_to_all();
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert!(as_systemd_would(&creds, "payments.service", "bank-key", 65534).is_empty());

    let seen = records();
    for (outcome, detail) in [
        ("ok", "unit payments.service id bank-key: key_material"),
        ("ok", "unit payments.service id bank-jwks: jwks"),
        (
            "denied",
            "unit other.service id bank-key: permission denied: credential id \"bank-key\" is served to [\"payments.service\"], not to other.service",
        ),
        (
            "error",
            "unit payments.service id no-such-id: no [[systemd_credentials.serve]] entry has id \"no-such-id\"",
        ),
        (
            "denied",
            "the peer runs as uid 65534, not as the system manager (uid 0)",
        ),
    ] {
        assert!(
            seen.iter()
                .any(|(o, d)| o == outcome && d.starts_with(detail)),
            "no {outcome} record {detail:?} in {seen:?}"
        );
    }
    let log = daemon.stderr();
    assert!(
        log.contains("PRIVATE KEY EXPORTED to a systemd unit"),
        "{log}"
    );
}

/// The system-call lines of the shipped `systemd/fapi-agent.service`
/// (`SystemCallFilter=`, `SystemCallErrorNumber=`,
/// `SystemCallArchitectures=`), as `systemd-run -p` properties.
fn shipped_syscall_filter() -> Vec<String> {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/fapi-agent.service"
    ))
    .unwrap();
    let lines: Vec<String> = unit
        .lines()
        .filter(|l| l.starts_with("SystemCall"))
        .map(str::to_owned)
        .collect();
    assert!(
        lines.iter().any(|l| l.starts_with("SystemCallFilter=~")),
        "the unit denies system-call groups: {lines:?}"
    );
    lines
}

/// Under the shipped unit's seccomp filter the daemon serves a PS256
/// assertion and its crypto threads really drop to nice +5, as
/// `/proc/PID/task/*/stat` shows: the filter denies `@resources`, which
/// holds `setpriority`, so without the unit's `SystemCallFilter=setpriority`
/// RSA work would compete with health checks at nice 0. The daemon logs
/// neither that warning nor incomplete hardening (`setrlimit`).
#[tokio::test(flavor = "multi_thread")]
async fn the_shipped_syscall_filter_lets_crypto_threads_lower_their_priority() {
    let sd = Systemd::start();
    let fx = Fixtures::new();
    let c = fx.credential("acme", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let config = fx.path().join("agent.toml");
    std::fs::write(&config, c.toml("acme", ISSUER, "")).unwrap();
    let socket = fx.path().join("run/agent.sock");
    let log = fx.path().join("agent.log");
    let unit = "fapi-agent-filtered";

    let mut args: Vec<String> = vec![
        "systemd-run".into(),
        format!("--unit={unit}"),
        "--quiet".into(),
        "-p".into(),
        format!("StandardError=file:{}", log.display()),
    ];
    for line in shipped_syscall_filter() {
        args.extend(["-p".into(), line]);
    }
    args.extend([
        "--".into(),
        env!("CARGO_BIN_EXE_fapi-agent").into(),
        "run".into(),
        "--config".into(),
        config.display().to_string(),
        "--socket".into(),
        socket.display().to_string(),
        "--log=debug".into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = sd.inside(&args);
    assert!(started.status.success(), "{}", stderr(&started));
    let agent_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let status = || {
        String::from_utf8_lossy(
            &sd.inside(&[
                "systemctl",
                "status",
                "--no-pager",
                &format!("{unit}.service"),
            ])
            .stdout,
        )
        .into_owned()
    };
    assert!(
        wait_for_daemon(&socket).await,
        "the daemon did not serve under the shipped syscall filter:\n{}\n{}",
        status(),
        agent_log()
    );
    // The unit's processes, as pids of this namespace (cgroup.procs
    // translates them for the reader).
    let procs = sd
        .cgroup
        .join(format!("system.slice/{unit}.service/cgroup.procs"));
    let pid: u32 = std::fs::read_to_string(&procs)
        .unwrap_or_else(|e| panic!("{}: {e}", procs.display()))
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .expect("the unit runs one process");

    // The nice value of each of the daemon's threads (field 19 of stat,
    // counted after the parenthesised name).
    let nices = || -> Vec<i32> {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|dir| {
                dir.filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("stat")).ok())
                    .filter_map(|s| {
                        let after = &s[s.rfind(')')? + 1..];
                        after.split_whitespace().nth(16)?.parse().ok()
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let sign = || {
        Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
            .args(["assertion", "--credential", "acme", "--socket"])
            .arg(&socket)
            .env_remove("FAPI_AGENT_SOCKET")
            .output()
            .unwrap()
    };
    // Each signature runs on a crypto thread, which lowers itself before
    // its first job; idle blocking threads exit after a while, so sign
    // until one is seen at nice 5.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = sign();
        assert!(
            out.status.success(),
            "PS256 under the filter: {}\n{}",
            stderr(&out),
            agent_log()
        );
        let token = String::from_utf8(out.stdout).unwrap();
        verify_with_python(token.trim(), &c.cert, "PS256", ISSUER, "acme", &[]);
        let log = agent_log();
        assert!(
            !log.contains("cannot lower the crypto threads' priority"),
            "setpriority was refused under the shipped filter: {log}"
        );
        if nices().contains(&5) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no thread of the daemon at nice 5 within 60 s: {:?}\n{log}",
            nices()
        );
    }
    let log = agent_log();
    assert!(log.contains("crypto thread lowered to nice +5"), "{log}");
    assert!(
        !log.contains("process hardening incomplete"),
        "hardening (setrlimit) refused under the shipped filter: {log}"
    );
}
