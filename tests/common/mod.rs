//! Shared integration-test harness: key and certificate fixtures made with
//! the `openssl` CLI at test time, and the real daemon started on a
//! temporary socket and reached over real gRPC.
//!
//! A missing peer (openssl, python3 with PyJWT/jwcrypto, node) makes a test
//! fail with a message saying what to install; nothing is skipped.

#![allow(dead_code)]

pub mod bank;
pub mod memscan;
pub mod oauth;
pub mod session;
pub mod softhsm;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use fapi_agent::client::Client;
use fapi_agent::service::pb;

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a command, panicking with its output unless it succeeds.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (is it installed? see README)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `openssl ARGS…` in `dir`.
pub fn openssl(dir: &Path, args: &[&str]) -> Output {
    run(Command::new("openssl").current_dir(dir).args(args))
}

/// Key types the fixtures can make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Rsa2048,
    Rsa1024,
    P256,
    P384,
    Ed25519,
}

impl KeyType {
    pub fn alg(self) -> &'static str {
        match self {
            KeyType::Rsa2048 | KeyType::Rsa1024 => "PS256",
            KeyType::P256 | KeyType::P384 => "ES256",
            KeyType::Ed25519 => "EdDSA",
        }
    }
}

/// How a key file is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// `genpkey -aes256`: PKCS#8 PBES2 with PBKDF2.
    Pkcs8Pbkdf2,
    /// `pkcs8 -topk8 -scrypt`.
    Pkcs8Scrypt,
    /// `pkcs8 -topk8 -v1 PBE-SHA1-3DES`.
    Pkcs8Pbe3Des,
    /// Encrypted PKCS#8, DER.
    Pkcs8Der,
    /// `rsa|ec -aes256 -traditional`: Proc-Type: 4,ENCRYPTED.
    LegacyPem,
    /// Legacy PEM with DES-EDE3-CBC.
    LegacyPemDes3,
    /// `pkcs12 -export`.
    Pkcs12,
    /// `pkcs12 -export -legacy` (RC2/3DES).
    Pkcs12Legacy,
    /// No encryption.
    Plaintext,
}

/// A credential on disk.
#[derive(Debug, Clone)]
pub struct Cred {
    pub name: String,
    pub key_type: KeyType,
    /// The plaintext key (for the test's own checks).
    pub plain_key: PathBuf,
    /// The encrypted key file, or the .p12.
    pub key: PathBuf,
    pub cert: PathBuf,
    pub pass_file: PathBuf,
    pub passphrase: String,
    pub format: KeyFormat,
}

/// A directory of fixtures.
pub struct Fixtures {
    pub dir: tempfile::TempDir,
}

impl Fixtures {
    pub fn new() -> Self {
        Self {
            dir: tempfile::Builder::new()
                .prefix("fapi-agent-test-")
                .tempdir()
                .expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Generates a plaintext key of `key_type` at NAME.plain.pem.
    pub fn plain_key(&self, name: &str, key_type: KeyType) -> PathBuf {
        let out = format!("{name}.plain.pem");
        let mut args = vec!["genpkey", "-out", &out];
        match key_type {
            KeyType::Rsa2048 => {
                args.extend(["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
            }
            KeyType::Rsa1024 => {
                args.extend(["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"])
            }
            KeyType::P256 => {
                args.extend(["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])
            }
            KeyType::P384 => {
                args.extend(["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"])
            }
            KeyType::Ed25519 => args.extend(["-algorithm", "ED25519"]),
        }
        openssl(self.path(), &args);
        self.path().join(out)
    }

    /// A self-signed certificate for `key` valid from now for a year.
    pub fn cert(&self, name: &str, key: &Path) -> PathBuf {
        let out = self.path().join(format!("{name}.crt"));
        openssl(
            self.path(),
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                key.to_str().unwrap(),
                "-subj",
                &format!("/CN={name}"),
                "-days",
                "365",
                "-out",
                out.to_str().unwrap(),
            ],
        );
        out
    }

    /// Runs tests/py/make_cert.py for `key` with validity arguments
    /// (python `cryptography`, which can backdate).
    fn make_cert(&self, name: &str, key: &Path, validity: &[&str]) -> PathBuf {
        let out = self.path().join(format!("{name}.crt"));
        run(Command::new("python3")
            .arg(root().join("tests/py/make_cert.py"))
            .arg("--key")
            .arg(key)
            .arg("--out")
            .arg(&out)
            .args(["--cn", name])
            .args(validity));
        out
    }

    /// A self-signed certificate valid from now+`from` to now+`to` days.
    pub fn cert_window(&self, name: &str, key: &Path, from: i64, to: i64) -> PathBuf {
        self.make_cert(
            name,
            key,
            &[
                "--not-before-days",
                &from.to_string(),
                "--not-after-days",
                &to.to_string(),
            ],
        )
    }

    /// A certificate valid from `seconds` from now for a year.
    pub fn cert_valid_in(&self, name: &str, key: &Path, seconds: i64) -> PathBuf {
        self.make_cert(
            name,
            key,
            &[
                "--not-before-days",
                "0",
                "--not-before-seconds",
                &seconds.to_string(),
                "--not-after-days",
                "365",
            ],
        )
    }

    /// A certificate valid from a day ago that expires `seconds` from now.
    pub fn cert_expiring_in(&self, name: &str, key: &Path, seconds: i64) -> PathBuf {
        self.make_cert(
            name,
            key,
            &[
                "--not-before-days",
                "-1",
                "--not-after-days",
                "0",
                "--not-after-seconds",
                &seconds.to_string(),
            ],
        )
    }

    /// A credential whose certificate is valid from now+`from` to now+`to` days.
    pub fn credential_valid(
        &self,
        name: &str,
        key_type: KeyType,
        format: KeyFormat,
        from: i64,
        to: i64,
    ) -> Cred {
        let key = self.plain_key(name, key_type);
        let cert = self.cert_window(name, &key, from, to);
        self.credential_with_cert(name, key_type, format, key, cert)
    }

    /// Writes a 0600 passphrase file.
    pub fn pass_file(&self, name: &str, pass: &str) -> PathBuf {
        let p = self.path().join(format!("{name}.pass"));
        std::fs::write(&p, format!("{pass}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        p
    }

    /// A full credential: key of `key_type`, encrypted as `format` under a
    /// fresh passphrase, with a one-year self-signed certificate.
    pub fn credential(&self, name: &str, key_type: KeyType, format: KeyFormat) -> Cred {
        let plain = self.plain_key(name, key_type);
        let cert = self.cert(name, &plain);
        self.credential_with_cert(name, key_type, format, plain, cert)
    }

    /// Like [`Self::credential`] with a given plaintext key and certificate.
    pub fn credential_with_cert(
        &self,
        name: &str,
        key_type: KeyType,
        format: KeyFormat,
        plain: PathBuf,
        cert: PathBuf,
    ) -> Cred {
        let passphrase = format!("pass-{name}-{}", std::process::id());
        let pass_file = self.pass_file(name, &passphrase);
        let pin = plain.to_str().unwrap();
        let pass_arg = format!("file:{}", pass_file.display());
        let (ext, extra): (&str, Vec<&str>) = match format {
            KeyFormat::Pkcs8Pbkdf2 => ("key", vec!["pkcs8", "-topk8", "-v2", "aes256"]),
            KeyFormat::Pkcs8Scrypt => ("key", vec!["pkcs8", "-topk8", "-scrypt"]),
            KeyFormat::Pkcs8Pbe3Des => ("key", vec!["pkcs8", "-topk8", "-v1", "PBE-SHA1-3DES"]),
            KeyFormat::Pkcs8Der => (
                "der",
                vec!["pkcs8", "-topk8", "-v2", "aes256", "-outform", "DER"],
            ),
            KeyFormat::LegacyPem | KeyFormat::LegacyPemDes3 => {
                let tool = if matches!(key_type, KeyType::P256 | KeyType::P384) {
                    "ec"
                } else {
                    "rsa"
                };
                let cipher = if format == KeyFormat::LegacyPem {
                    "-aes256"
                } else {
                    "-des3"
                };
                let mut v = vec![tool, cipher];
                if tool == "rsa" {
                    v.push("-traditional");
                }
                ("key", v)
            }
            KeyFormat::Pkcs12 | KeyFormat::Pkcs12Legacy => ("p12", vec!["pkcs12", "-export"]),
            KeyFormat::Plaintext => ("key", vec![]),
        };
        let out = self.path().join(format!("{name}.{ext}"));
        let out_s = out.to_str().unwrap().to_owned();
        match format {
            KeyFormat::Plaintext => {
                std::fs::copy(&plain, &out).unwrap();
            }
            KeyFormat::Pkcs12 | KeyFormat::Pkcs12Legacy => {
                let mut args = extra.clone();
                args.extend([
                    "-inkey",
                    pin,
                    "-in",
                    cert.to_str().unwrap(),
                    "-out",
                    &out_s,
                    "-passout",
                    &pass_arg,
                ]);
                if format == KeyFormat::Pkcs12Legacy {
                    args.push("-legacy");
                }
                openssl(self.path(), &args);
            }
            _ => {
                let mut args = extra.clone();
                args.extend(["-in", pin, "-out", &out_s, "-passout", &pass_arg]);
                openssl(self.path(), &args);
            }
        }
        Cred {
            name: name.into(),
            key_type,
            plain_key: plain,
            key: out,
            cert,
            pass_file,
            passphrase,
            format,
        }
    }
}

impl Cred {
    /// The config stanza for this credential (file passphrase source).
    pub fn toml(&self, client_id: &str, issuer: &str, extra: &str) -> String {
        let files = if matches!(self.format, KeyFormat::Pkcs12 | KeyFormat::Pkcs12Legacy) {
            format!("pkcs12 = {:?}", self.key)
        } else {
            format!("key = {:?}\ncertificate = {:?}", self.key, self.cert)
        };
        let pass = if self.format == KeyFormat::Plaintext {
            "allow_plaintext_key = true".to_owned()
        } else {
            format!(
                "passphrase = {{ source = \"file\", path = {:?} }}",
                self.pass_file
            )
        };
        format!(
            "[credentials.{}]\nclient_id = {client_id:?}\nissuer = {issuer:?}\n{files}\n{pass}\n{extra}\n",
            self.name
        )
    }
}

/// A config file: an `[agent]` table holding `agent` (left out when
/// empty), then the credential stanzas in order.
pub fn config(agent: &str, stanzas: &[String]) -> String {
    let head = if agent.is_empty() {
        String::new()
    } else {
        format!("[agent]\n{agent}\n")
    };
    head + &stanzas.concat()
}

/// A credential's public facts (`GetCredential` by name), which must be
/// served.
pub async fn facts(client: &mut Client, name: &str) -> pb::Credential {
    client
        .agent
        .get_credential(pb::GetCredentialRequest {
            credential: by_name(name),
        })
        .await
        .unwrap_or_else(|e| panic!("GetCredential {name}: {e}"))
        .into_inner()
}

/// A running daemon on a temporary socket.
pub struct Daemon {
    pub child: Child,
    pub socket: PathBuf,
    pub dir: tempfile::TempDir,
    pub stderr_path: PathBuf,
}

impl Daemon {
    /// Starts `fapi-agent run --config` with `config` and waits until the
    /// socket accepts gRPC.
    pub async fn start(config: &str) -> Daemon {
        Self::start_with(config, &[]).await
    }

    /// Like [`Self::start`] with extra environment variables.
    pub async fn start_with(config: &str, env: &[(&str, &str)]) -> Daemon {
        Self::spawn(config, env, "debug").await
    }

    /// Like [`Self::start`] logging at the most verbose level, so that a
    /// test can search the log for secrets.
    pub async fn start_traced(config: &str) -> Daemon {
        Self::spawn(config, &[], "trace").await
    }

    async fn spawn(config: &str, env: &[(&str, &str)], log_level: &str) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("fapi-agent-d-")
            .tempdir()
            .unwrap();
        let cfg = dir.path().join("agent.toml");
        std::fs::write(&cfg, config).unwrap();
        let socket = dir.path().join("run/agent.sock");
        let stderr_path = dir.path().join("stderr.log");
        let child = Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
            .args([
                "run",
                "--config",
                cfg.to_str().unwrap(),
                "--socket",
                socket.to_str().unwrap(),
            ])
            .arg(format!("--log={log_level}"))
            .env_remove("FAPI_AGENT_SOCKET")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .expect("spawn fapi-agent");
        let mut d = Daemon {
            child,
            socket,
            dir,
            stderr_path,
        };
        d.wait_ready().await;
        d
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("daemon exited early ({status}): {}", self.stderr());
            }
            if self.socket.exists()
                && let Ok(mut c) = Client::connect(&self.socket).await
                && c.admin.status(pb::StatusRequest {}).await.is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "daemon not ready: {}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn client(&self) -> Client {
        Client::connect(&self.socket).await.expect("connect")
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The config file the daemon runs with.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("agent.toml")
    }

    /// Replaces the config file atomically (write, then rename).
    pub fn rewrite_config(&self, text: &str) {
        let tmp = self.dir.path().join("agent.toml.new");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.config_path()).unwrap();
    }

    /// Sends a signal to the daemon.
    pub fn signal(&self, sig: &str) {
        run(Command::new("kill").args([&format!("-{sig}"), &self.child.id().to_string()]));
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        run(Command::new("kill").args(["-TERM", &self.child.id().to_string()]));
        self.child.wait().unwrap()
    }

    /// Lets other users reach the socket (the directories and the socket
    /// itself), so that the daemon's own checks are what stands in the way.
    pub fn open_socket_to_all(&self) {
        use std::os::unix::fs::PermissionsExt;
        for p in [self.dir.path(), self.socket.parent().unwrap()] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::set_permissions(&self.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    }

    /// Runs the `fapi-agent` CLI as `nobody` against this daemon.
    pub fn cli_as_nobody(&self, args: &[&str]) -> Output {
        Command::new("setpriv")
            .args([
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                env!("CARGO_BIN_EXE_fapi-agent"),
            ])
            .args(args)
            .arg("--socket")
            .arg(&self.socket)
            .output()
            .expect("setpriv (util-linux) is needed; tests run as root")
    }

    /// Runs the `fapi-agent` CLI against this daemon.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
            .args(args)
            .env("FAPI_AGENT_SOCKET", &self.socket)
            .output()
            .unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `fapi-agent run --config CONFIG --socket SOCKET`, not yet started.
pub fn run_cmd(config: &Path, socket: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fapi-agent"));
    cmd.arg("run")
        .arg("--config")
        .arg(config)
        .arg("--socket")
        .arg(socket)
        .env_remove("FAPI_AGENT_SOCKET");
    cmd
}

/// Polls until a daemon answers `Status` on `socket` (10 s at most).
pub async fn wait_for_daemon(socket: &Path) -> bool {
    for _ in 0..200 {
        if let Ok(mut c) = Client::connect(socket).await
            && c.admin.status(pb::StatusRequest {}).await.is_ok()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Encrypts `secret` to `cert` with `openssl pkeyutl` under `padding`, as a
/// platform would.
pub fn encrypt(dir: &Path, cert: &Path, secret: &[u8], padding: pb::Padding) -> Vec<u8> {
    std::fs::write(dir.join("secret.bin"), secret).unwrap();
    let mut args = vec![
        "pkeyutl",
        "-encrypt",
        "-certin",
        "-inkey",
        cert.to_str().unwrap(),
        "-in",
        "secret.bin",
        "-out",
        "ct.bin",
    ];
    match padding {
        pb::Padding::Pkcs1V15 => args.extend(["-pkeyopt", "rsa_padding_mode:pkcs1"]),
        pb::Padding::OaepSha1 => args.extend([
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha1",
            "-pkeyopt",
            "rsa_mgf1_md:sha1",
        ]),
        pb::Padding::OaepSha256 => args.extend([
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha256",
            "-pkeyopt",
            "rsa_mgf1_md:sha256",
        ]),
        pb::Padding::Unspecified => unreachable!(),
    }
    openssl(dir, &args);
    std::fs::read(dir.join("ct.bin")).unwrap()
}

/// A selector by credential name.
pub fn by_name(name: &str) -> Option<pb::CredentialSelector> {
    Some(pb::CredentialSelector {
        by: Some(pb::credential_selector::By::Name(name.into())),
        kid: String::new(),
    })
}

/// A selector by client_id.
pub fn by_client(client_id: &str) -> Option<pb::CredentialSelector> {
    Some(pb::CredentialSelector {
        by: Some(pb::credential_selector::By::ClientId(client_id.into())),
        kid: String::new(),
    })
}

/// Signs an assertion with default options.
pub async fn sign(
    client: &mut Client,
    name: &str,
) -> Result<pb::SignClientAssertionResponse, tonic::Status> {
    client
        .agent
        .sign_client_assertion(pb::SignClientAssertionRequest {
            credential: by_name(name),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

/// Verifies an assertion with PyJWT and jwcrypto (tests/py/verify_assertion.py).
/// Returns the verifier's JSON report; panics with its errors on failure.
pub fn verify_with_python(
    token: &str,
    cert: &Path,
    alg: &str,
    audience: &str,
    client_id: &str,
    extra: &[&str],
) -> serde_json::Value {
    let out = Command::new("python3")
        .arg(root().join("tests/py/verify_assertion.py"))
        .args([
            "--token",
            token,
            "--cert",
            cert.to_str().unwrap(),
            "--alg",
            alg,
            "--audience",
            audience,
            "--client-id",
            client_id,
        ])
        .args(extra)
        .output()
        .expect("python3 must be installed (see README)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "independent verification failed for {alg}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).expect("verifier prints JSON")
}

/// Runs tests/py/verify_signed.py SUBCOMMAND on `input`: the independent
/// verifiers' JSON report.
pub fn verify_signed(subcommand: &str, input: &serde_json::Value) -> serde_json::Value {
    use std::io::Write;
    let mut child = std::process::Command::new("python3")
        .arg(root().join("tests/py/verify_signed.py"))
        .arg(subcommand)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (see README)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "verifier output: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
