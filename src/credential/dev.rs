//! `run --dev`: a throwaway credential so the daemon runs with no setup.
//!
//! An ES256 key and a self-signed certificate for client_id `dev-client`
//! are generated in memory; the key is encrypted (PKCS#8, PBES2) under a
//! random passphrase that exists only in this process, and written with the
//! certificate to a private temporary directory removed at exit. The daemon
//! then loads it like any other credential, so the real decrypt path runs.

use std::sync::Arc;

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::symm::Cipher;
use openssl::x509::{X509, X509NameBuilder};

use crate::config::{AgentConfig, AssertionConfig, CredentialConfig, PaddingName};
use crate::credential::Credential;
use crate::secret::Passphrase;
use crate::source::MemorySource;

/// The dev credential's client_id.
pub const CLIENT_ID: &str = "dev-client";
/// The dev credential's issuer (default `aud`).
pub const ISSUER: &str = "https://as.dev.fapi-agent.invalid";

/// What `run --dev --issuer URL --client-id C` points the throwaway
/// credential at: a newcomer's own sandbox authorization server.
#[derive(Debug, Clone, Default)]
pub struct DevOptions {
    /// The assertion's `aud` (default [`ISSUER`]).
    pub issuer: Option<String>,
    /// The assertion's `iss` and `sub`, and the certificate's CN (default
    /// [`CLIENT_ID`]).
    pub client_id: Option<String>,
}

impl DevOptions {
    /// The issuer in use.
    pub fn issuer(&self) -> &str {
        self.issuer.as_deref().unwrap_or(ISSUER)
    }

    /// The client_id in use.
    pub fn client_id(&self) -> &str {
        self.client_id.as_deref().unwrap_or(CLIENT_ID)
    }

    /// Checks the flags before anything is generated: the issuer must be
    /// an absolute `https` (or, for a sandbox on this machine, `http`) URL
    /// without fragment, the client_id non-empty.
    pub fn check(&self) -> Result<(), String> {
        if let Some(issuer) = &self.issuer {
            let url = url::Url::parse(issuer).map_err(|e| {
                format!(
                    "--issuer {issuer:?} is not an absolute URL ({e}): give the authorization \
                     server's issuer identifier, e.g. https://as.sandbox.example"
                )
            })?;
            if !matches!(url.scheme(), "https" | "http") || url.fragment().is_some() {
                return Err(format!(
                    "--issuer {issuer:?} must be an https (or http) URL without a fragment: the \
                     authorization server's issuer identifier, byte for byte as in its metadata"
                ));
            }
        }
        if self
            .client_id
            .as_deref()
            .is_some_and(|c| c.trim().is_empty())
        {
            return Err("--client-id is empty: give the client_id the sandbox registered".into());
        }
        Ok(())
    }
}

/// A generated dev credential and the directory holding its files.
pub struct DevCredential {
    /// The loaded credential.
    pub credential: Credential,
    /// Removed when dropped.
    pub dir: tempfile::TempDir,
}

/// Generates, writes and loads the dev credential.
pub fn credential(
    agent: &AgentConfig,
    options: &DevOptions,
) -> Result<DevCredential, Box<dyn std::error::Error>> {
    options.check()?;
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    let key = PKey::from_ec_key(EcKey::generate(&group)?)?;
    let cert = self_signed(&key, options.client_id())?;
    let pass = Passphrase::random(32)?;
    let encrypted =
        key.private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), pass.expose())?;
    drop(key);

    let dir = tempfile::Builder::new()
        .prefix("fapi-agent-dev-")
        .tempdir()?;
    let key_path = dir.path().join("dev.key");
    let cert_path = dir.path().join("dev.crt");
    std::fs::write(&key_path, encrypted)?;
    std::fs::write(&cert_path, cert.to_pem()?)?;

    let config = CredentialConfig {
        client_id: options.client_id().into(),
        issuer: options.issuer().into(),
        key: Some(key_path),
        certificate: Some(cert_path),
        pkcs12: None,
        keystore: None,
        passphrase: None,
        allow_plaintext_key: false,
        export: false,
        decrypt_paddings: vec![PaddingName::OaepSha256],
        assertion: AssertionConfig::default(),
        allow: Vec::new(),
        shielded: false,
        oauth: None,
        ob_uk: None,
        open_finance_brasil: None,
        http_signatures: Default::default(),
        shared_secrets: Default::default(),
        pkcs11: None,
    };
    let credential = Credential::load_with_source(
        "dev",
        config,
        agent,
        Some(Arc::new(MemorySource::new(pass))),
        None,
    );
    Ok(DevCredential { credential, dir })
}

fn self_signed(key: &PKey<openssl::pkey::Private>, client_id: &str) -> Result<X509, ErrorStack> {
    let mut name = X509NameBuilder::new()?;
    // A CN is at most 64 characters (RFC 5280 ub-common-name): a longer
    // client_id is cut there; it is only a label in a self-signed cert.
    let cn: String = client_id.chars().take(64).collect();
    name.append_entry_by_text("CN", &cn)?;
    name.append_entry_by_text("O", "fapi-agent dev mode")?;
    let name = name.build();
    let mut serial = BigNum::new()?;
    serial.rand(128, MsbOption::MAYBE_ZERO, false)?;
    let mut b = X509::builder()?;
    b.set_version(2)?;
    let serial = serial.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(key)?;
    let (not_before, not_after) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(365)?);
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    b.sign(key, MessageDigest::sha256())?;
    Ok(b.build())
}
