//! Onboarding: storing a passphrase in a secret manager
//! (`passphrase store`) and importing a credential a platform issued
//! (`import`), proving everything before anything is stored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::{Config, KeyringName, PassphraseConfig};
use crate::credential::{CredentialError, PublicFacts, read_certificates};
use crate::jose::{Alg, PublicJwk};
use crate::keys::KeyError;
use crate::keys::software::KeyFile;
use crate::now_unix;
use crate::secret::Passphrase;
use crate::source;

/// Where a passphrase is stored.
#[derive(Debug, Clone)]
pub enum StoreTarget {
    /// A `user` key in a kernel keyring.
    Keyutils {
        /// The key's description.
        description: String,
        /// Which keyring.
        keyring: KeyringName,
    },
    /// An item in the Secret Service's default collection.
    SecretService {
        /// Lookup attributes.
        attributes: BTreeMap<String, String>,
        /// The item's label, shown in keyring managers.
        label: String,
    },
    /// A `keyring` entry (the Rust crate's and Python keyring's layout).
    Keyring {
        /// The entry's service.
        service: String,
        /// The entry's user.
        user: String,
    },
    /// A file, mode 0600, that must not exist yet.
    File {
        /// The file.
        path: PathBuf,
    },
}

/// Why onboarding stopped. Each message says what was wrong and how to
/// fix it; none contains the passphrase.
#[derive(Debug, thiserror::Error)]
pub enum OnboardError {
    /// The secret manager refused or is unreachable.
    #[error("cannot store the passphrase in {target}: {reason}")]
    Store {
        /// Where it was going.
        target: String,
        /// Why.
        reason: String,
    },
    /// The passphrase does not open the key.
    #[error(
        "the passphrase does not decrypt {path}: it is not the one issued with this key. Copy it \
         again from the platform (watch for a missing character or a trailing space) ({detail})"
    )]
    WrongPassphrase {
        /// The key or bundle.
        path: PathBuf,
        /// OpenSSL's reason.
        detail: String,
    },
    /// The certificate belongs to another key.
    #[error(
        "{cert} certifies another key (kid {cert_kid}), not the key in {key} (kid {key_kid}): \
         is it the certificate of another credential? Download the certificate issued with this key"
    )]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// Its key's thumbprint.
        cert_kid: String,
        /// The key file.
        key: PathBuf,
        /// The key's thumbprint.
        key_kid: String,
    },
    /// The key is not encrypted.
    #[error(
        "{0} is not encrypted: import is for the passphrase-protected keys platforms issue; \
         encrypt it first (openssl pkcs8 -topk8 -v2 aes256)"
    )]
    Plaintext(PathBuf),
    /// Anything else about the credential (corrupt file, expired, policy).
    #[error("{0}")]
    Credential(#[from] CredentialError),
    /// The key file cannot be read or opened.
    #[error("{0}")]
    Key(#[from] KeyError),
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
}

impl StoreTarget {
    /// Where a keystore entry's own key password is stored beside the
    /// store password stored here: keyutils description and keyring user
    /// with `:key` appended, a `part = key` attribute, a `.key` file.
    pub fn for_key_password(&self) -> StoreTarget {
        match self {
            StoreTarget::Keyutils {
                description,
                keyring,
            } => StoreTarget::Keyutils {
                description: format!("{description}:key"),
                keyring: *keyring,
            },
            StoreTarget::SecretService { attributes, label } => {
                let mut attributes = attributes.clone();
                attributes.insert("part".into(), "key".into());
                StoreTarget::SecretService {
                    attributes,
                    label: format!("{label} (key password)"),
                }
            }
            StoreTarget::Keyring { service, user } => StoreTarget::Keyring {
                service: service.clone(),
                user: format!("{user}:key"),
            },
            StoreTarget::File { path } => {
                let mut p = path.clone().into_os_string();
                p.push(".key");
                StoreTarget::File { path: p.into() }
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            StoreTarget::Keyutils {
                description,
                keyring,
            } => format!("keyutils {keyring:?}:{description:?}").to_lowercase(),
            StoreTarget::SecretService { attributes, .. } => {
                format!("secret-service {attributes:?}")
            }
            StoreTarget::Keyring { service, user } => {
                format!("keyring service {service:?} user {user:?}")
            }
            StoreTarget::File { path } => format!("file {}", path.display()),
        }
    }
}

/// Stores `pass` and returns the config that reads it back.
pub fn store(target: &StoreTarget, pass: &Passphrase) -> Result<PassphraseConfig, OnboardError> {
    let fail = |reason: String| OnboardError::Store {
        target: target.describe(),
        reason,
    };
    match target {
        StoreTarget::Keyutils {
            description,
            keyring,
        } => {
            source::keyutils::store(description, *keyring, pass).map_err(fail)?;
            Ok(PassphraseConfig::Keyutils {
                description: description.clone(),
                keyring: *keyring,
            })
        }
        StoreTarget::SecretService { attributes, label } => {
            source::secret_service::store(label, attributes, pass).map_err(fail)?;
            Ok(PassphraseConfig::SecretService {
                attributes: attributes.clone(),
            })
        }
        StoreTarget::Keyring { service, user } => {
            source::keyring::store(service, user, pass).map_err(fail)?;
            Ok(PassphraseConfig::Keyring {
                service: service.clone(),
                user: user.clone(),
            })
        }
        StoreTarget::File { path } => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| fail(e.to_string()))?;
            f.write_all(pass.expose())
                .map_err(|e| fail(e.to_string()))?;
            let path = std::path::absolute(path).map_err(|e| fail(e.to_string()))?;
            Ok(PassphraseConfig::File {
                path,
                allow_group_read: false,
            })
        }
    }
}

/// A credential to import.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// Credential name in the config.
    pub name: String,
    /// Its client_id.
    pub client_id: String,
    /// The authorization server's issuer.
    pub issuer: String,
    /// Key and certificate files ...
    pub key: Option<PathBuf>,
    /// ...
    pub cert: Option<PathBuf>,
    /// ... or a PKCS#12 bundle.
    pub p12: Option<PathBuf>,
    /// ... or a Java keystore (JKS or PKCS#12) and the alias of its entry;
    /// the passphrase is its store password and the entry's key password.
    pub keystore: Option<(PathBuf, String)>,
    /// Where the passphrase goes.
    pub target: StoreTarget,
}

/// What `import` proved and wrote.
#[derive(Debug, Clone)]
pub struct Imported {
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
}

/// Proves that `pass` decrypts the key, that key and certificate match and
/// the certificate is valid now, then stores `pass` and returns the stanza.
/// Nothing is stored when a check fails.
pub fn import(req: &ImportRequest, pass: &Passphrase) -> Result<Imported, OnboardError> {
    import_with_key_password(req, pass, None)
}

/// What [`open_checked`] proved: the decrypted key matches its
/// certificate, which is valid now.
pub(crate) struct Checked {
    /// The certificate's facts.
    pub facts: PublicFacts,
    /// The stanza's lines naming the files (a keystore's left open for
    /// `key_password`).
    pub files: String,
    /// The decrypted key (OpenSSL memory, wiped when freed).
    pub key: openssl::pkey::PKey<openssl::pkey::Private>,
    /// The certificate chain, leaf first.
    pub chain: Vec<openssl::x509::X509>,
    /// The key file, bundle or keystore read.
    pub input: PathBuf,
}

/// Decrypts the key `req` names with `pass` (and `key_pass`), and checks
/// it against its certificate. Stores nothing.
pub(crate) fn open_checked(
    req: &ImportRequest,
    pass: &Passphrase,
    key_pass: Option<&Passphrase>,
) -> Result<Checked, OnboardError> {
    if key_pass.is_some() && req.keystore.is_none() {
        return Err(OnboardError::Usage(
            "a separate key password is only for --keystore".into(),
        ));
    }
    let wrong = |path: &Path, e: KeyError| match e {
        KeyError::WrongPassphrase { detail, .. } => OnboardError::WrongPassphrase {
            path: path.to_owned(),
            detail,
        },
        other => OnboardError::Credential(other.into()),
    };
    let (facts, files, key, chain, input) = match (&req.key, &req.cert, &req.p12) {
        (None, None, None) if req.keystore.is_some() => {
            let Some((path, alias)) = &req.keystore else {
                return Err(OnboardError::Usage("give --keystore and --alias".into()));
            };
            let store = crate::keys::software::Keystore::read(path, alias, key_pass.is_some())?;
            let packed = key_pass
                .map(|k| crate::keys::software::pack_keystore_passwords(pass, k))
                .transpose()
                .map_err(OnboardError::Usage)?;
            let opened = KeyFile::Keystore(store)
                .decrypt(
                    Some(packed.as_ref().unwrap_or(pass)),
                    "the passwords entered",
                )
                .map_err(|e| wrong(path, e))?;
            let certs = opened.certs.as_deref().unwrap_or_default();
            let facts = PublicFacts::from_chain(certs)?;
            if let Err(e) = facts.check_matches(&opened.key) {
                return Err(match PublicFacts::mismatch(&e) {
                    Some(cert_kid) => mismatch(path, cert_kid.to_owned(), path, &opened.key)?,
                    None => OnboardError::Credential(e),
                });
            }
            (
                facts,
                // Closed by the caller, once the key password's source is known.
                format!(
                    "keystore = {{ path = {:?}, alias = {alias:?}",
                    absolute(path)?
                ),
                opened.key,
                opened.certs.unwrap_or_default(),
                path.clone(),
            )
        }
        (None, None, Some(p12)) if req.keystore.is_none() => {
            let bundle = KeyFile::read_pkcs12(p12)?;
            let opened = bundle
                .decrypt(Some(pass), "the passphrase entered")
                .map_err(|e| wrong(p12, e))?;
            let certs = opened.certs.as_deref().unwrap_or_default();
            let facts = PublicFacts::from_chain(certs)?;
            if let Err(e) = facts.check_matches(&opened.key) {
                return Err(match PublicFacts::mismatch(&e) {
                    Some(cert_kid) => mismatch(p12, cert_kid.to_owned(), p12, &opened.key)?,
                    None => OnboardError::Credential(e),
                });
            }
            (
                facts,
                format!("pkcs12 = {:?}\n", absolute(p12)?),
                opened.key,
                opened.certs.unwrap_or_default(),
                p12.clone(),
            )
        }
        (Some(key), Some(cert), None) if req.keystore.is_none() => {
            let chain = read_certificates(cert)?;
            let facts = PublicFacts::from_chain(&chain)?;
            let key_file = KeyFile::read_key(key)?;
            if !key_file.needs_passphrase() {
                return Err(OnboardError::Plaintext(key.clone()));
            }
            let opened = key_file
                .decrypt(Some(pass), "the passphrase entered")
                .map_err(|e| wrong(key, e))?;
            if let Err(e) = facts.check_matches(&opened.key) {
                return Err(match PublicFacts::mismatch(&e) {
                    Some(cert_kid) => mismatch(cert, cert_kid.to_owned(), key, &opened.key)?,
                    None => OnboardError::Credential(e),
                });
            }
            (
                facts,
                format!(
                    "key = {:?}\ncertificate = {:?}\n",
                    absolute(key)?,
                    absolute(cert)?
                ),
                opened.key,
                chain,
                key.clone(),
            )
        }
        _ => {
            return Err(OnboardError::Usage(
                "give --key and --cert, or --p12, or --keystore and --alias".into(),
            ));
        }
    };
    Ok(Checked {
        facts,
        files,
        key,
        chain,
        input,
    })
}

/// [`import`] of a keystore entry whose key password (`key_pass`) is not
/// its store password (`pass`): both are checked, then both stored (the key
/// password beside the store password, see [`StoreTarget::for_key_password`]).
pub fn import_with_key_password(
    req: &ImportRequest,
    pass: &Passphrase,
    key_pass: Option<&Passphrase>,
) -> Result<Imported, OnboardError> {
    let checked = open_checked(req, pass, key_pass)?;
    let (facts, files) = (checked.facts, checked.files);
    drop(checked.key);
    let stanza_head = |key_password: &str| {
        let close = if req.keystore.is_some() {
            format!("{key_password} }}\n")
        } else {
            String::new()
        };
        format!(
            "[credentials.{name}]\nclient_id = {client:?}\nissuer = {issuer:?}\n{files}{close}",
            name = req.name,
            client = req.client_id,
            issuer = req.issuer,
        )
    };
    const PLACEHOLDER: &str = "{ source = \"env\", variable = \"X\" }";
    // Validate the stanza with placeholder sources before storing anything.
    let placeholder_key = if key_pass.is_some() {
        format!(", key_password = {PLACEHOLDER}")
    } else {
        String::new()
    };
    Config::parse(
        &format!(
            "{}passphrase = {PLACEHOLDER}\n",
            stanza_head(&placeholder_key)
        ),
        Path::new("/"),
    )
    .map_err(|e| OnboardError::Usage(e.to_string()))?;
    // The key password goes first: should the store password then fail to
    // be stored, the operator re-runs import into a fresh target either way.
    let key_password = match key_pass {
        Some(k) => format!(
            ", key_password = {}",
            store(&req.target.for_key_password(), k)?.to_inline_toml()
        ),
        None => String::new(),
    };
    let stanza_head = stanza_head(&key_password);
    let pass_cfg = store(&req.target, pass)?;
    Ok(Imported {
        kid: facts.jwk.thumbprint().to_owned(),
        alg: facts.alg,
        not_after: facts.not_after_text.clone(),
        days_left: facts.days_left(now_unix()),
        stanza: format!("{stanza_head}passphrase = {}\n", pass_cfg.to_inline_toml()),
    })
}

fn absolute(p: &Path) -> Result<PathBuf, OnboardError> {
    std::path::absolute(p).map_err(|e| OnboardError::Usage(format!("{}: {e}", p.display())))
}

fn mismatch(
    cert: &Path,
    cert_kid: String,
    key: &Path,
    pkey: &openssl::pkey::PKey<openssl::pkey::Private>,
) -> Result<OnboardError, OnboardError> {
    let key_kid = Alg::for_key(pkey)
        .ok()
        .and_then(|alg| PublicJwk::new(pkey, alg, &[]).ok())
        .map_or_else(|| "unknown".into(), |j| j.thumbprint().to_owned());
    Ok(OnboardError::Mismatch {
        cert: cert.to_owned(),
        cert_kid,
        key: key.to_owned(),
        key_kid,
    })
}
