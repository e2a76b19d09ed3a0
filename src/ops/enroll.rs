//! Enrollment: generating the next credential (key pair, passphrase stored
//! in a secret source, encrypted key file, CSR) and installing the
//! certificate the platform issues for it.
//!
//! `enroll` writes, in the chosen directory, `NAME.key` (PKCS#8, PBES2
//! AES-256-CBC under a random 32-character passphrase), `NAME.csr` (PKCS#10
//! PEM to upload) and `NAME.toml` (the config stanza, pointing at
//! `NAME.crt`). `install-cert` checks the issued certificate against the key
//! (decrypting it with the stored passphrase), writes `NAME.crt`, and
//! appends the stanza to the daemon's config, which a running daemon picks
//! up on its own (file watch), beside the credential it replaces.
//!
//! A key generated on a PKCS#11 token (`enroll --pkcs11`,
//! [`crate::ops::provision`]) has no key file: `install-cert` checks the
//! certificate against the public key read from the token at enroll
//! (`NAME.pub.pem`).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::symm::Cipher;
use openssl::x509::{X509Name, X509NameBuilder, X509ReqBuilder};

use crate::config::{Config, KeyringName, PassphraseConfig};
use crate::credential::{PublicFacts, read_certificates};
use crate::jose::Alg;
use crate::keys::KeyKind;
use crate::keys::software::KeyFile;
use crate::secret::Passphrase;
use crate::source::{self, EnvVault};

/// Why enrollment or installation failed.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file exists that enrollment would overwrite.
    #[error("{0} already exists: choose another --name or remove it")]
    Exists(PathBuf),
    /// The subject is malformed.
    #[error("--subject must look like \"CN=acme,O=Acme Ltd,C=GB\": {0}")]
    Subject(String),
    /// OpenSSL failed.
    #[error("OpenSSL failure: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
    /// Storing the passphrase failed (the message names the store).
    #[error("{0}")]
    Store(#[from] crate::ops::onboard::OnboardError),
    /// The enrollment stanza is missing or invalid.
    #[error("enrollment of {name:?} not found or invalid in {path}: {reason}")]
    Stanza {
        /// The credential.
        name: String,
        /// The stanza file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The certificate does not fit the enrolled key, or is not valid.
    #[error("certificate {cert} cannot be installed for {name:?}: {reason}")]
    Certificate {
        /// The credential.
        name: String,
        /// The certificate file.
        cert: PathBuf,
        /// Why.
        reason: String,
    },
    /// The config already has this credential.
    #[error("{config} already defines [credentials.{name}]")]
    AlreadyConfigured {
        /// The credential.
        name: String,
        /// The config file.
        config: PathBuf,
    },
}

/// Where `enroll` stores the passphrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassphraseStore {
    /// The kernel user keyring, description `fapi-agent:NAME`.
    Keyutils,
    /// The Secret Service's default collection, attributes
    /// `service=fapi-agent credential=NAME`, label `fapi-agent NAME`.
    SecretService,
    /// `NAME.pass` beside the key, mode 0600.
    File,
}

/// What to enroll.
#[derive(Debug, Clone)]
pub struct EnrollRequest {
    /// Credential name.
    pub name: String,
    /// OAuth client_id.
    pub client_id: String,
    /// Authorization server issuer.
    pub issuer: String,
    /// Key algorithm: ES256 (P-256), PS256 (RSA 3072) or EdDSA (Ed25519).
    pub alg: Alg,
    /// Certificate subject, `CN=…,O=…`.
    pub subject: String,
    /// Output directory.
    pub dir: PathBuf,
    /// Where the passphrase goes.
    pub store: PassphraseStore,
}

/// What `enroll` wrote.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// The encrypted key.
    pub key: PathBuf,
    /// The CSR to upload.
    pub csr: PathBuf,
    /// The config stanza.
    pub stanza: PathBuf,
    /// The CSR, PEM.
    pub csr_pem: String,
    /// The key's kid (RFC 7638 thumbprint).
    pub kid: String,
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EnrollError + '_ {
    move |source| EnrollError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A file written under a temporary name beside its final one, flushed to
/// disk, and renamed into place only by [`Staged::commit`]; removed if
/// dropped before that.
pub(crate) struct Staged {
    tmp: PathBuf,
    path: PathBuf,
    committed: bool,
}

impl Staged {
    /// Writes `bytes` with `mode` to `PATH.tmp` (replacing what an
    /// interrupted earlier attempt left there) and flushes it.
    pub(crate) fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<Self, EnrollError> {
        let mut name = path.as_os_str().to_owned();
        name.push(".tmp");
        let tmp = PathBuf::from(name);
        let staged = Self {
            tmp,
            path: path.to_owned(),
            committed: false,
        };
        let _ = std::fs::remove_file(&staged.tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&staged.tmp)
            .map_err(io(&staged.tmp))?;
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(io(&staged.tmp))?;
        Ok(staged)
    }

    /// Renames the file into place, refusing to replace an existing one.
    pub(crate) fn commit(mut self) -> Result<(), EnrollError> {
        // link + unlink: unlike rename, link fails if the final name exists.
        std::fs::hard_link(&self.tmp, &self.path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                EnrollError::Exists(self.path.clone())
            } else {
                EnrollError::Io {
                    path: self.path.clone(),
                    source: e,
                }
            }
        })?;
        self.committed = true;
        std::fs::remove_file(&self.tmp).map_err(io(&self.tmp))
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Flushes a directory, so renames and new names in it survive a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), EnrollError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

/// The key pair `enroll` makes for `alg`, in a file or on a token.
pub(crate) fn key_kind(alg: Alg) -> KeyKind {
    match alg {
        // RSA 3072: beyond FAPI's 2048 minimum, for a credential that lives a year.
        Alg::Ps256 => KeyKind::Rsa { bits: 3072 },
        Alg::Es256 => KeyKind::EcP256,
        Alg::EdDsa => KeyKind::Ed25519,
    }
}

/// `--subject` "CN=acme,O=Acme Ltd,C=GB" as an X.509 name, each part
/// checked by OpenSSL.
pub(crate) fn subject_name(subject: &str) -> Result<X509Name, EnrollError> {
    let mut name = X509NameBuilder::new()?;
    let mut any = false;
    for part in subject.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| EnrollError::Subject(format!("{part:?} has no '='")))?;
        name.append_entry_by_text(k.trim(), v.trim())
            .map_err(|e| EnrollError::Subject(format!("{k:?}: {e}")))?;
        any = true;
    }
    if !any {
        return Err(EnrollError::Subject("empty".into()));
    }
    Ok(name.build())
}

fn csr(key: &PKey<Private>, alg: Alg, subject: &str) -> Result<String, EnrollError> {
    let name = subject_name(subject)?;
    let mut req = X509ReqBuilder::new()?;
    req.set_version(0)?;
    req.set_subject_name(&name)?;
    req.set_pubkey(key)?;
    // Ed25519 signs the CSR without a separate digest.
    let md = if alg == Alg::EdDsa {
        MessageDigest::null()
    } else {
        MessageDigest::sha256()
    };
    req.sign(key, md)?;
    Ok(String::from_utf8_lossy(&req.build().to_pem()?).into_owned())
}

/// Stores the passphrase where `req.store` says, through the same code as
/// `fapi-agent passphrase store`; a passphrase file is staged like the
/// other files instead (returned, committed with them).
fn store_passphrase(
    req: &EnrollRequest,
    pass: &Passphrase,
) -> Result<(PassphraseConfig, Option<Staged>), EnrollError> {
    use crate::ops::onboard::StoreTarget;
    let target = match req.store {
        PassphraseStore::Keyutils => StoreTarget::Keyutils {
            description: format!("fapi-agent:{}", req.name),
            keyring: KeyringName::User,
        },
        PassphraseStore::SecretService => StoreTarget::SecretService {
            attributes: [
                ("service".to_owned(), "fapi-agent".to_owned()),
                ("credential".to_owned(), req.name.clone()),
            ]
            .into(),
            label: format!("fapi-agent {}", req.name),
        },
        PassphraseStore::File => {
            let path = req.dir.join(format!("{}.pass", req.name));
            let staged = Staged::write(&path, pass.expose(), 0o600)?;
            let cfg = PassphraseConfig::File {
                path,
                allow_group_read: false,
            };
            return Ok((cfg, Some(staged)));
        }
    };
    Ok((crate::ops::onboard::store(&target, pass)?, None))
}

fn stanza(req: &EnrollRequest, key: &Path, cert: &Path, pass: &PassphraseConfig) -> String {
    let pass = pass.to_inline_toml();
    format!(
        "\n[credentials.{name}]\nclient_id = {client:?}\nissuer = {issuer:?}\nkey = {key:?}\n\
         certificate = {cert:?}\npassphrase = {pass}\n",
        name = req.name,
        client = req.client_id,
        issuer = req.issuer,
    )
}

/// Generates the key pair, stores a fresh passphrase, writes the encrypted
/// key, the CSR and the config stanza.
pub fn enroll(req: &EnrollRequest) -> Result<Enrolled, EnrollError> {
    let dir = std::path::absolute(&req.dir).map_err(io(&req.dir))?;
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let req = EnrollRequest {
        dir: dir.clone(),
        ..req.clone()
    };
    let key_path = dir.join(format!("{}.key", req.name));
    let csr_path = dir.join(format!("{}.csr", req.name));
    let stanza_path = dir.join(format!("{}.toml", req.name));
    let cert_path = dir.join(format!("{}.crt", req.name));
    let pass_path = dir.join(format!("{}.pass", req.name));
    let pass_file = (req.store == PassphraseStore::File).then_some(&pass_path);
    for p in [&key_path, &csr_path, &stanza_path, &cert_path]
        .into_iter()
        .chain(pass_file)
    {
        if p.exists() {
            return Err(EnrollError::Exists(p.clone()));
        }
    }
    let key = key_kind(req.alg).generate()?;
    let kid = crate::jose::PublicJwk::new(&key, req.alg, &[])?
        .thumbprint()
        .to_owned();
    let csr_pem = csr(&key, req.alg, &req.subject)?;
    let pass = Passphrase::random(32)?;
    let encrypted =
        key.private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), pass.expose())?;
    drop(key);
    // Crash-safe order: every file is written under a temporary name and
    // flushed first; the passphrase is stored only then (a crash before it
    // leaves no final file and nothing stored, so a retry starts clean);
    // the files take their final names last. The stanza names the
    // passphrase's place, which only storing it tells.
    let staged_key = Staged::write(&key_path, &encrypted, 0o600)?;
    let staged_csr = Staged::write(&csr_path, csr_pem.as_bytes(), 0o644)?;
    let (pass_cfg, staged_pass) = store_passphrase(&req, &pass)?;
    drop(pass);
    let staged_stanza = Staged::write(
        &stanza_path,
        stanza(&req, &key_path, &cert_path, &pass_cfg).as_bytes(),
        0o644,
    )?;
    // The stanza last: it is what `install-cert` looks for.
    if let Some(p) = staged_pass {
        p.commit()?;
    }
    staged_key.commit()?;
    staged_csr.commit()?;
    staged_stanza.commit()?;
    sync_dir(&dir)?;
    Ok(Enrolled {
        key: key_path,
        csr: csr_path,
        stanza: stanza_path,
        csr_pem,
        kid,
    })
}

/// Checks `cert` against the enrolled key `name` in `dir`, installs it as
/// `NAME.crt` and, with `config`, appends the stanza there. Returns the kid.
pub fn install_cert(
    name: &str,
    cert: &Path,
    dir: &Path,
    config: Option<&Path>,
) -> Result<String, EnrollError> {
    let stanza_path = dir.join(format!("{name}.toml"));
    let stanza_err = |reason: String| EnrollError::Stanza {
        name: name.to_owned(),
        path: stanza_path.clone(),
        reason,
    };
    let text =
        crate::sys::fs::read_capped(&stanza_path, crate::sys::fs::MAX_CONFIG_BYTES, "a stanza")
            .map_err(|e| e.to_string())
            .and_then(|b| String::from_utf8(b).map_err(|_| "not UTF-8 text".to_owned()))
            .map_err(stanza_err)?;
    let parsed = Config::parse(&text, dir).map_err(|e| stanza_err(e.to_string()))?;
    let cfg = parsed
        .credentials
        .get(name)
        .ok_or_else(|| stanza_err("no [credentials.NAME] table".into()))?;
    let cert_err = |reason: String| EnrollError::Certificate {
        name: name.to_owned(),
        cert: cert.to_owned(),
        reason,
    };
    let chain = read_certificates(cert).map_err(|e| cert_err(e.to_string()))?;
    let facts = PublicFacts::from_chain(&chain).map_err(|e| cert_err(e.to_string()))?;
    if cfg.pkcs11.is_some() {
        // A token enrollment: the key never left the token; its public
        // key, read from the token at enroll, is what the certificate must
        // certify.
        let Some(cert_path) = &cfg.certificate else {
            return Err(stanza_err("the stanza needs certificate".into()));
        };
        let leaf = chain
            .first()
            .ok_or_else(|| cert_err("it holds no certificate".into()))?;
        match crate::ops::provision::check_enrolled_public(dir, name, leaf)
            .map_err(|e| cert_err(e.to_string()))?
        {
            Ok(()) => {}
            Err((cert_kid, key_kid)) => {
                return Err(cert_err(format!(
                    "it certifies another key (kid {cert_kid}), not the one enrolled on the \
                     token (kid {key_kid}): was it issued for this CSR?"
                )));
            }
        }
        return put_live(name, dir, config, &text, &chain, cert_path, &facts);
    }
    let (Some(key_path), Some(cert_path), Some(pass_cfg)) =
        (&cfg.key, &cfg.certificate, &cfg.passphrase)
    else {
        return Err(stanza_err(
            "the stanza needs key, certificate and passphrase".into(),
        ));
    };
    let timeout = std::time::Duration::from_secs(
        crate::config::AgentConfig::default().passphrase_fetch_timeout_seconds,
    );
    let src = source::from_config(pass_cfg, &EnvVault::default(), timeout);
    let pass = source::fetch_blocking(&src, timeout).map_err(|e| cert_err(e.to_string()))?;
    let key = KeyFile::read_key(key_path)
        .and_then(|k| k.decrypt(Some(&pass), &src.describe()))
        .map_err(|e| cert_err(e.to_string()))?;
    if let Some(cert_kid) = facts
        .check_matches(&key.key)
        .err()
        .as_ref()
        .and_then(PublicFacts::mismatch)
        .map(str::to_owned)
    {
        let key_alg = Alg::for_key(&key.key).map_err(|e| cert_err(e.to_string()))?;
        let key_kid = crate::jose::PublicJwk::new(&key.key, key_alg, &[])?
            .thumbprint()
            .to_owned();
        return Err(cert_err(format!(
            "it certifies another key (kid {cert_kid}), not the enrolled one (kid {key_kid}): \
             was it issued for this CSR?"
        )));
    }
    put_live(name, dir, config, &text, &chain, cert_path, &facts)
}

/// Writes the checked certificate as `cert_path` and appends the stanza
/// `text` to `config`, refusing a config that already has `name`.
fn put_live(
    name: &str,
    dir: &Path,
    config: Option<&Path>,
    text: &str,
    chain: &[openssl::x509::X509],
    cert_path: &Path,
    facts: &PublicFacts,
) -> Result<String, EnrollError> {
    if let Some(config) = config {
        let current =
            crate::sys::fs::read_capped(config, crate::sys::fs::MAX_CONFIG_BYTES, "a config file")
                .map_err(|e| EnrollError::Io {
                    path: config.to_owned(),
                    source: std::io::Error::other(e.to_string()),
                })?;
        let current = String::from_utf8_lossy(&current);
        if Config::parse(&current, dir).is_ok_and(|c| c.credentials.contains_key(name)) {
            return Err(EnrollError::AlreadyConfigured {
                name: name.to_owned(),
                config: config.to_owned(),
            });
        }
    }
    // Certificate first, atomically, then the config that names it.
    let tmp = cert_path.with_extension("crt.tmp");
    let mut pem = Vec::new();
    for c in chain {
        pem.extend(c.to_pem()?);
    }
    std::fs::write(&tmp, &pem).map_err(io(&tmp))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).map_err(io(&tmp))?;
    std::fs::rename(&tmp, cert_path).map_err(io(cert_path))?;
    if let Some(config) = config {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(config)
            .map_err(io(config))?;
        f.write_all(text.as_bytes()).map_err(io(config))?;
    }
    Ok(facts.jwk.thumbprint().to_owned())
}
