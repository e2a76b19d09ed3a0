//! A SoftHSM2 token of a test's own, initialised in a temporary directory
//! (SOFTHSM2_CONF, passed to the daemon too), with OpenSC's pkcs11-tool to
//! make and inspect objects independently of the daemon.

use std::path::{Path, PathBuf};
use std::process::Command;

use fapi_agent::service::pb;

use super::{Daemon, config, openssl, run};

/// Debian's SoftHSM2 module.
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// The issuer of the stanzas' credentials.
pub const ISSUER: &str = "https://as.example";
/// Every test token's security officer PIN.
pub const SO_PIN: &str = "so-pin-12345678";

/// A SoftHSM token of its own, in a temporary directory.
pub struct Token {
    /// The token directory and its softhsm2.conf.
    pub dir: tempfile::TempDir,
    /// The token label.
    pub label: String,
    /// The user PIN.
    pub pin: String,
}

impl Token {
    pub fn new(label: &str) -> Token {
        let dir = tempfile::Builder::new()
            .prefix("fapi-agent-p11-")
            .tempdir()
            .unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        std::fs::write(
            dir.path().join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        // Long and unique: the memory scan must not find it by chance.
        let mut r = [0u8; 12];
        openssl::rand::rand_bytes(&mut r).unwrap();
        let pin = format!("pin-{}", hex::encode(r));
        let t = Token {
            dir,
            label: label.into(),
            pin,
        };
        run(t
            .cmd("softhsm2-util")
            .args([
                "--init-token",
                "--free",
                "--label",
                label,
                "--so-pin",
                SO_PIN,
            ])
            .args(["--pin", &t.pin]));
        t
    }

    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    pub fn env(&self) -> [(&'static str, String); 1] {
        [("SOFTHSM2_CONF", self.conf().to_str().unwrap().to_owned())]
    }

    pub fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SOFTHSM2_CONF", self.conf());
        c
    }

    pub fn tool(&self) -> Command {
        let mut c = self.cmd("pkcs11-tool");
        c.args(["--module", MODULE, "--token-label", &self.label]);
        c
    }

    /// Generates a key pair on the token and issues a certificate for its
    /// public key (signed by a throwaway CA key): the certificate's path.
    pub fn keypair(&self, key_type: &str, label: &str, id: &str) -> PathBuf {
        run(self
            .tool()
            .args([
                "--login",
                "--pin",
                &self.pin,
                "--keypairgen",
                "--key-type",
                key_type,
            ])
            .args(["--label", label, "--id", id]));
        let der = self.dir.path().join(format!("{label}.pub.der"));
        run(self
            .tool()
            .args(["--read-object", "--type", "pubkey", "--id", id, "-o"])
            .arg(&der));
        let d = self.dir.path();
        let pem = format!("{label}.pub.pem");
        openssl(
            d,
            // DER for RSA and EC, PEM for Ed25519 (pkcs11-tool's choice):
            // OpenSSL 3 detects which.
            &["pkey", "-pubin", "-in", der.to_str().unwrap(), "-out", &pem],
        );
        if !d.join("ca.key").exists() {
            openssl(
                d,
                &[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-out",
                    "ca.key",
                ],
            );
        }
        let crt = format!("{label}.crt");
        openssl(
            d,
            &[
                "x509",
                "-new",
                "-subj",
                &format!("/CN={label}"),
                "-force_pubkey",
                &pem,
                "-key",
                "ca.key",
                "-days",
                "30",
                "-out",
                &crt,
            ],
        );
        d.join(crt)
    }

    /// Stores `cert` on the token as the certificate of key `id`.
    pub fn store_cert(&self, cert: &Path, label: &str, id: &str) {
        let der = cert.with_extension("der");
        openssl(
            self.dir.path(),
            &[
                "x509",
                "-in",
                cert.to_str().unwrap(),
                "-outform",
                "DER",
                "-out",
                der.to_str().unwrap(),
            ],
        );
        run(self
            .tool()
            .args(["--login", "--pin", &self.pin, "--write-object"])
            .arg(&der)
            .args(["--type", "cert", "--label", label, "--id", id]));
    }

    /// A 0600 file holding `pin`.
    pub fn pin_file(&self, name: &str, pin: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.dir.path().join(format!("{name}.pin"));
        std::fs::write(&p, format!("{pin}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        p
    }

    /// A credential stanza for the key `label` on this token.
    pub fn stanza(
        &self,
        name: &str,
        key: &str,
        cert: Option<&Path>,
        pin: &Path,
        extra: &str,
    ) -> String {
        let cert = cert.map_or(String::new(), |c| format!("certificate = {c:?}\n"));
        format!(
            "[credentials.{name}]\nclient_id = {name:?}\nissuer = {ISSUER:?}\n{cert}\
             pkcs11 = {{ module = {MODULE:?}, token_label = {:?}, key_label = {key:?}, \
             pin = {{ source = \"file\", path = {pin:?} }} }}\n{extra}\n",
            self.label
        )
    }
}

pub fn allow_list() -> String {
    format!("pkcs11_modules = [{MODULE:?}]")
}

pub async fn start(token: &Token, agent: &str, stanzas: &[String]) -> Daemon {
    let env = token.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Daemon::start_with(&config(agent, stanzas), &env).await
}

impl Token {
    /// `pkcs11-tool --login --list-objects`: every object on the token,
    /// private ones included, as OpenSC prints them.
    pub fn list_objects(&self) -> String {
        let out = run(self
            .tool()
            .args(["--login", "--pin", &self.pin, "--list-objects"]));
        String::from_utf8(out.stdout).unwrap()
    }

    /// The block of `list` describing the object whose header starts with
    /// `kind` ("Private Key Object", "Public Key Object", "Certificate
    /// Object") and whose label is `label`.
    pub fn object<'a>(list: &'a str, kind: &str, label: &str) -> Option<&'a str> {
        let mut starts: Vec<usize> = list
            .match_indices('\n')
            .map(|(i, _)| i + 1)
            .filter(|&i| !list[i..].starts_with(' '))
            .collect();
        starts.insert(0, 0);
        starts.push(list.len());
        starts.windows(2).map(|w| &list[w[0]..w[1]]).find(|b| {
            b.starts_with(kind)
                && b.lines()
                    .any(|l| l.trim_start().strip_prefix("label:").map(str::trim) == Some(label))
        })
    }

    /// The token's serial number, as `pkcs11-tool -L` shows it.
    pub fn serial(&self) -> String {
        let out = run(self.cmd("pkcs11-tool").args(["--module", MODULE, "-L"]));
        let text = String::from_utf8(out.stdout).unwrap();
        let slot = text
            .split("\nSlot ")
            .find(|s| {
                s.lines()
                    .any(|l| l.trim() == format!("token label        : {}", self.label))
            })
            .unwrap_or_else(|| panic!("token {} not listed:\n{text}", self.label));
        slot.lines()
            .find_map(|l| l.trim().strip_prefix("serial num         :"))
            .unwrap_or_else(|| panic!("no serial:\n{slot}"))
            .trim()
            .to_owned()
    }

    /// The `Access:` line of the private key labelled `label`, as
    /// pkcs11-tool words it (e.g. "sensitive, always sensitive, never
    /// extractable, local").
    pub fn private_key_access(&self, label: &str) -> String {
        let list = self.list_objects();
        let block = Self::object(&list, "Private Key Object", label)
            .unwrap_or_else(|| panic!("no private key labelled {label:?} on the token:\n{list}"));
        block
            .lines()
            .find_map(|l| l.trim_start().strip_prefix("Access:"))
            .unwrap_or_else(|| panic!("no Access line:\n{block}"))
            .trim()
            .to_owned()
    }
}

/// A daemon config holding only `[agent]`, allowing SoftHSM's module (or
/// not): what `enroll --pkcs11` and `import --to-pkcs11` read their
/// allow-list from, and `install-cert` appends to.
pub fn agent_config(dir: &Path, allow: bool) -> PathBuf {
    let p = dir.join(if allow {
        "agent.toml"
    } else {
        "other-agent.toml"
    });
    let agent = if allow {
        allow_list()
    } else {
        "pkcs11_modules = [\"/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so\"]".to_owned()
    };
    std::fs::write(&p, config(&agent, &[])).unwrap();
    p
}

/// Credential `name` as Admin.Status reports it.
pub async fn status_of(client: &mut fapi_agent::client::Client, name: &str) -> pb::Credential {
    client
        .admin
        .status(pb::StatusRequest {})
        .await
        .unwrap()
        .into_inner()
        .credentials
        .into_iter()
        .find(|c| c.name == name)
        .unwrap()
}
