//! Onboarding onto a PKCS#11 token: `enroll --pkcs11` (the key pair is
//! generated on the token and never leaves it; the token signs the CSR)
//! and `import --to-pkcs11` (a platform-issued key, checked as `import`
//! checks it, is copied onto the token with its certificate).
//!
//! The module must be listed in `[agent] pkcs11_modules` of the daemon's
//! config (`--config`): the same allow-list the daemon applies, so that a
//! stanza written here is one the daemon loads. The PIN is read once,
//! used to log in, and stored in the chosen source; the stanza names that
//! source as `pin`. Every failure leaves nothing new on the token (and no
//! file): objects created before a later step failed are destroyed.

use std::path::{Path, PathBuf};

use openssl::pkey::{Id, PKey, Public};
use openssl::x509::{X509, X509Req};

use super::enroll::{EnrollError, Staged, io, subject_name, sync_dir};
use super::onboard::{ImportRequest, OnboardError, StoreTarget, open_checked, store};
use crate::config::{Config, PassphraseConfig, Pkcs11Target};
use crate::jose::{Alg, PublicJwk};
use crate::keys::pkcs11::KeyFlags;
use crate::keys::pkcs11::provision::{ProvisionError, Provisioner, TokenSigner};
use crate::now_unix;
use crate::secret::Passphrase;

/// Why putting a key on a token failed. Each message says what to change;
/// none contains the PIN or the passphrase.
#[derive(Debug, thiserror::Error)]
pub enum TokenOnboardError {
    /// The token or module refused (module not allowed, wrong PIN, label
    /// taken, mechanism missing…).
    #[error("{0}")]
    Token(#[from] ProvisionError),
    /// Writing the files or storing the PIN failed.
    #[error("{0}")]
    Enroll(#[from] EnrollError),
    /// The key or certificate to import is not usable.
    #[error("{0}")]
    Import(#[from] OnboardError),
    /// The daemon's config (for its allow-list) cannot be read.
    #[error(
        "cannot read the daemon's config {path} for `[agent] pkcs11_modules`: {reason} (give \
         --config AGENT.toml, the config the daemon runs with)"
    )]
    AgentConfig {
        /// The config file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The CSR could not be made or does not verify.
    #[error("cannot make the CSR with the token key: {0}")]
    Csr(String),
    /// OpenSSL failed.
    #[error("OpenSSL failure: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
}

/// The token an onboarding goes to.
#[derive(Debug, Clone)]
pub struct TokenChoice {
    /// The PKCS#11 module.
    pub module: PathBuf,
    /// The token's label ...
    pub token_label: Option<String>,
    /// ... or serial number.
    pub token_serial: Option<String>,
    /// The daemon's config, whose `[agent] pkcs11_modules` must list the
    /// module.
    pub agent_config: PathBuf,
}

impl TokenChoice {
    fn target(&self, label: &str, id: Option<&[u8]>) -> Pkcs11Target {
        Pkcs11Target {
            token_label: self.token_label.clone(),
            token_serial: self.token_serial.clone(),
            key_label: Some(label.to_owned()),
            key_id: id.map(<[u8]>::to_vec),
        }
    }

    /// `[agent] pkcs11_modules` of the daemon's config.
    fn allowed(&self) -> Result<Vec<PathBuf>, TokenOnboardError> {
        let fail = |reason: String| TokenOnboardError::AgentConfig {
            path: self.agent_config.clone(),
            reason,
        };
        let bytes = crate::sys::fs::read_capped(
            &self.agent_config,
            crate::sys::fs::MAX_CONFIG_BYTES,
            "a config file",
        )
        .map_err(|e| fail(e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|_| fail("not UTF-8 text".into()))?;
        let base = self.agent_config.parent().unwrap_or(Path::new("."));
        let cfg = Config::parse(&text, base).map_err(|e| fail(e.to_string()))?;
        Ok(cfg.agent.pkcs11_modules)
    }

    /// Logs in to the token with `pin`.
    fn open(&self, pin: &Passphrase) -> Result<Provisioner, TokenOnboardError> {
        let target = self.target("", None);
        match (&self.token_label, &self.token_serial) {
            (None, None) => {
                return Err(TokenOnboardError::Usage(
                    "name the token: --token-label or --token-serial (see `pkcs11-tool \
                     --module MODULE -L`)"
                        .into(),
                ));
            }
            (Some(_), Some(_)) => {
                return Err(TokenOnboardError::Usage(
                    "give --token-label or --token-serial, not both".into(),
                ));
            }
            _ => {}
        }
        let allowed = self.allowed()?;
        Ok(Provisioner::open(
            &self.module,
            &allowed,
            &target,
            pin.expose(),
        )?)
    }

    /// The stanza's `pkcs11 = { … }` value.
    fn inline_toml(&self, label: &str, id: &[u8], pin: &PassphraseConfig) -> String {
        let token = match (&self.token_label, &self.token_serial) {
            (Some(l), _) => format!("token_label = {l:?}"),
            (None, Some(s)) => format!("token_serial = {s:?}"),
            (None, None) => String::new(),
        };
        format!(
            "{{ module = {module:?}, {token}, key_label = {label:?}, key_id = {id:?}, pin = {pin} }}",
            module = self.module,
            id = hex::encode(id),
            pin = pin.to_inline_toml(),
        )
    }
}

/// Stores the PIN where `target` says.
/// Checks that a stanza parses (with a placeholder PIN source), before
/// anything is stored.
fn validate(stanza: &str, base: &Path) -> Result<(), TokenOnboardError> {
    Config::parse(stanza, base)
        .map(drop)
        .map_err(|e| TokenOnboardError::Usage(e.to_string()))
}

/// A PIN source for validating a stanza before the PIN is stored.
fn placeholder() -> PassphraseConfig {
    PassphraseConfig::Env {
        variable: "X".into(),
    }
}

/// What to enroll on a token.
#[derive(Debug, Clone)]
pub struct TokenEnrollRequest {
    /// Credential name; also the key objects' CKA_LABEL.
    pub name: String,
    /// OAuth client_id.
    pub client_id: String,
    /// Authorization server issuer.
    pub issuer: String,
    /// ES256 (P-256), PS256 (RSA 3072) or EdDSA (Ed25519).
    pub alg: Alg,
    /// Certificate subject, `CN=…,O=…`.
    pub subject: String,
    /// Output directory.
    pub dir: PathBuf,
    /// The token.
    pub token: TokenChoice,
    /// Where the PIN is stored.
    pub pin_target: StoreTarget,
}

/// What `enroll --pkcs11` made.
#[derive(Debug, Clone)]
pub struct TokenEnrolled {
    /// The CSR to upload.
    pub csr: PathBuf,
    /// The config stanza.
    pub stanza: PathBuf,
    /// The public key, as read from the token (for `install-cert`).
    pub public_key: PathBuf,
    /// The CSR, PEM.
    pub csr_pem: String,
    /// The key's kid (RFC 7638 thumbprint).
    pub kid: String,
    /// The key objects' CKA_ID, hex.
    pub key_id: String,
    /// The private key's flags, as the token reports them.
    pub flags: KeyFlags,
}

/// Where `enroll --pkcs11` saves the public key read from the token.
pub fn public_key_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.pub.pem"))
}

/// Signs a CSR for `subject` with the token key behind `signer`.
fn token_csr(
    signer: TokenSigner,
    public: &PKey<Public>,
    subject: &str,
) -> Result<String, TokenOnboardError> {
    let name = subject_name(subject)?;
    let mut dn = rcgen::DistinguishedName::new();
    for entry in name.entries() {
        let oid = der::asn1::ObjectIdentifier::from_bytes(entry.object().to_owned().as_slice())
            .map_err(|e| TokenOnboardError::Csr(format!("subject attribute OID: {e}")))?;
        let arcs: Vec<u64> = oid.arcs().map(u64::from).collect();
        let value = entry.data().to_string()?;
        let ty = rcgen::DnType::from_oid(&arcs);
        // countryName is a PrintableString (RFC 5280), the rest UTF8String,
        // as OpenSSL writes them for the software enroll.
        let value = if ty == rcgen::DnType::CountryName {
            rcgen::DnValue::PrintableString(
                rcgen::PrintableString::try_from(value)
                    .map_err(|e| EnrollError::Subject(format!("C: {e}")))?,
            )
        } else {
            rcgen::DnValue::Utf8String(value)
        };
        dn.push(ty, value);
    }
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = dn;
    let key = rcgen::KeyPair::from_remote(Box::new(signer))
        .map_err(|e| TokenOnboardError::Csr(e.to_string()))?;
    let pem = params
        .serialize_request(&key)
        .and_then(|csr| csr.pem())
        .map_err(|e| TokenOnboardError::Csr(e.to_string()))?;
    // Independent of rcgen: OpenSSL reads the CSR back and checks the
    // token's signature under the token's public key.
    let req = X509Req::from_pem(pem.as_bytes())?;
    if !req.public_key()?.public_eq(public) || !req.verify(public)? {
        return Err(TokenOnboardError::Csr(
            "the CSR does not verify under the token's public key".into(),
        ));
    }
    Ok(pem)
}

/// Generates the key pair on the token, has the token sign the CSR, stores
/// the PIN and writes NAME.csr, NAME.pub.pem and the stanza NAME.toml. No
/// key file is written.
pub fn enroll_on_token(
    req: &TokenEnrollRequest,
    pin: &Passphrase,
) -> Result<TokenEnrolled, TokenOnboardError> {
    let dir = std::path::absolute(&req.dir).map_err(io(&req.dir))?;
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let csr_path = dir.join(format!("{}.csr", req.name));
    let stanza_path = dir.join(format!("{}.toml", req.name));
    let cert_path = dir.join(format!("{}.crt", req.name));
    let pub_path = public_key_path(&dir, &req.name);
    for p in [&csr_path, &stanza_path, &cert_path, &pub_path] {
        if p.exists() {
            return Err(EnrollError::Exists(p.clone()).into());
        }
    }
    subject_name(&req.subject)?;
    let stanza = |pin: &PassphraseConfig, id: &[u8]| {
        format!(
            "\n[credentials.{name}]\nclient_id = {client:?}\nissuer = {issuer:?}\n\
             certificate = {cert:?}\npkcs11 = {p11}\n",
            name = req.name,
            client = req.client_id,
            issuer = req.issuer,
            cert = cert_path,
            p11 = req.token.inline_toml(&req.name, id, pin),
        )
    };
    validate(&stanza(&placeholder(), &[0]), &dir)?;
    let p = req.token.open(pin)?;
    let kind = super::enroll::key_kind(req.alg);
    let generated = p.generate(kind, &req.name)?;
    let private = generated
        .objects
        .private_key()
        .ok_or_else(|| TokenOnboardError::Csr("no private key was generated".into()))?;
    let kid = PublicJwk::new(&generated.public, req.alg, &[])?
        .thumbprint()
        .to_owned();
    let signer = p.signer(private, kind, &generated.public)?;
    let csr_pem = token_csr(signer, &generated.public, &req.subject)?;
    // As the software enroll: files staged and flushed, the PIN stored,
    // then the files take their names; the token objects are kept last.
    let staged_pub = Staged::write(&pub_path, &generated.public.public_key_to_pem()?, 0o644)?;
    let staged_csr = Staged::write(&csr_path, csr_pem.as_bytes(), 0o644)?;
    let pin_cfg = store(&req.pin_target, pin).map_err(EnrollError::from)?;
    let staged_stanza = Staged::write(
        &stanza_path,
        stanza(&pin_cfg, &generated.id).as_bytes(),
        0o644,
    )?;
    staged_pub.commit()?;
    staged_csr.commit()?;
    staged_stanza.commit()?;
    sync_dir(&dir)?;
    let (id, flags) = (generated.id.clone(), generated.flags);
    generated.objects.keep();
    Ok(TokenEnrolled {
        csr: csr_path,
        stanza: stanza_path,
        public_key: pub_path,
        csr_pem,
        kid,
        key_id: hex::encode(id),
        flags,
    })
}

/// What `import --to-pkcs11` proved and stored.
#[derive(Debug, Clone)]
pub struct TokenImported {
    /// The key's thumbprint.
    pub kid: String,
    /// Its algorithm.
    pub alg: Alg,
    /// Certificate notAfter.
    pub not_after: String,
    /// Whole days until then.
    pub days_left: i64,
    /// The config stanza to add.
    pub stanza: String,
    /// The objects' CKA_ID, hex.
    pub key_id: String,
    /// The private key's flags, as the token reports them.
    pub flags: KeyFlags,
    /// The encrypted key file (or bundle) the key came from.
    pub key_file: PathBuf,
}

/// Decrypts and checks the key as `import` does, copies it onto the token
/// (private key, public key, certificate under one CKA_ID, label NAME),
/// proves it there by a signature the certificate's key verifies, then
/// stores the PIN in `req.target`. Nothing stays on the token if a step
/// fails. The key file is left alone: the caller offers to delete it.
pub fn import_to_token(
    req: &ImportRequest,
    token: &TokenChoice,
    pass: &Passphrase,
    pin: &Passphrase,
) -> Result<TokenImported, TokenOnboardError> {
    let checked = open_checked(req, pass, None)?;
    let leaf = checked
        .chain
        .first()
        .cloned()
        .ok_or_else(|| TokenOnboardError::Usage("no certificate came with the key".into()))?;
    let stanza = |pin: &PassphraseConfig, id: &[u8]| {
        format!(
            "[credentials.{name}]\nclient_id = {client:?}\nissuer = {issuer:?}\npkcs11 = {p11}\n",
            name = req.name,
            client = req.client_id,
            issuer = req.issuer,
            p11 = token.inline_toml(&req.name, id, pin),
        )
    };
    validate(&stanza(&placeholder(), &[0]), Path::new("/"))?;
    let p = token.open(pin)?;
    let imported = p.import(&checked.key, &leaf, &req.name)?;
    // The token has the key now: the decrypted copy goes (OpenSSL wipes
    // the memory it frees).
    drop(checked.key);
    let private = imported
        .objects
        .private_key()
        .ok_or_else(|| TokenOnboardError::Usage("no private key was created".into()))?;
    p.prove(private, &checked.facts.public_key)?;
    let pin_cfg = store(&req.target, pin)?;
    let (id, flags) = (imported.id.clone(), imported.flags);
    imported.objects.keep();
    let facts = checked.facts;
    Ok(TokenImported {
        kid: facts.jwk.thumbprint().to_owned(),
        alg: facts.alg,
        not_after: facts.not_after_text.clone(),
        days_left: facts.days_left(now_unix()),
        stanza: stanza(&pin_cfg, &id),
        key_id: hex::encode(id),
        flags,
        key_file: checked.input,
    })
}

/// The public key `enroll --pkcs11` saved for `install-cert`, and whether
/// `cert` certifies it.
pub fn check_enrolled_public(
    dir: &Path,
    name: &str,
    cert: &X509,
) -> Result<Result<(), (String, String)>, TokenOnboardError> {
    let path = public_key_path(dir, name);
    let pem = std::fs::read(&path).map_err(io(&path))?;
    let enrolled = PKey::public_key_from_pem(&pem)?;
    let certified = cert.public_key()?;
    if certified.public_eq(&enrolled) {
        return Ok(Ok(()));
    }
    let kid = |k: &PKey<Public>| {
        let alg = match k.id() {
            Id::RSA => Alg::Ps256,
            Id::EC => Alg::Es256,
            _ => Alg::EdDsa,
        };
        PublicJwk::new(k, alg, &[]).map_or_else(|_| "unknown".into(), |j| j.thumbprint().to_owned())
    };
    Ok(Err((kid(&certified), kid(&enrolled))))
}

/// Deletes the encrypted key file `import --to-pkcs11` copied from, once
/// the token holds the key.
pub fn delete_key_file(path: &Path) -> Result<(), TokenOnboardError> {
    std::fs::remove_file(path).map_err(io(path))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stanza_names_token_key_and_pin_and_parses() {
        let t = TokenChoice {
            module: "/usr/lib/softhsm/libsofthsm2.so".into(),
            token_label: Some("fapi".into()),
            token_serial: None,
            agent_config: "/etc/fapi-agent/agent.toml".into(),
        };
        let pin = PassphraseConfig::File {
            path: "/etc/fapi-agent/hsm.pin".into(),
            allow_group_read: false,
        };
        let line = t.inline_toml("acme", &[0xab, 0x01], &pin);
        let text = format!(
            "[credentials.acme]\nclient_id = \"c\"\nissuer = \"https://as\"\npkcs11 = {line}\n"
        );
        let cfg = Config::parse(&text, Path::new("/")).unwrap();
        let p = cfg.credentials["acme"].pkcs11.as_ref().unwrap();
        let target = p.target().unwrap();
        assert_eq!(target.key_id.as_deref(), Some(&[0xab, 0x01][..]));
        assert_eq!(target.key_label.as_deref(), Some("acme"));
        assert_eq!(target.token_label.as_deref(), Some("fapi"));
        assert_eq!(p.pin, pin);
    }
}
