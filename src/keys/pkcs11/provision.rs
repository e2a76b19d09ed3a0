//! Putting keys on a token, for `enroll --pkcs11` and `import
//! --to-pkcs11`: a logged-in read-write session, key pairs generated on
//! the token (never extractable), platform-issued keys copied in
//! (sensitive, not extractable), certificates stored beside them.
//!
//! Objects are created through a [`Pending`] set that destroys them
//! again unless the caller keeps them: a step that fails after some
//! objects exist leaves nothing on the token.

use std::path::{Path, PathBuf};

use cryptoki::error::RvError;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, CertificateType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use der::Encode;
use der::asn1::{ObjectIdentifier, OctetString};
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::x509::X509;
use zeroize::Zeroize;

use super::{KeyFlags, Pkcs11Error, check_allowed, token};
use crate::config::Pkcs11Target;
use crate::keys::{KeyKind, SignatureScheme};

/// P-256 (RFC 5480 `secp256r1`).
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// Ed25519 (RFC 8410 `id-Ed25519`).
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// Why a key could not be put on the token. Each message names the token
/// and says what to do; none contains the PIN. When one is returned,
/// nothing this run created is left on the token.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The module is not allowed, cannot be loaded, or the token is
    /// missing or refused an operation.
    #[error("{0}")]
    Pkcs11(#[from] Pkcs11Error),
    /// The token rejected the PIN.
    #[error(
        "{token} rejected the PIN (CKR_PIN_INCORRECT): enter the token's user PIN; nothing was \
         created on the token (the token may lock the PIN after a few failed logins)"
    )]
    WrongPin {
        /// The token.
        token: String,
    },
    /// An object with the credential's label is already on the token.
    #[error(
        "{token} already holds an object labelled {label:?}: choose another --name, or remove \
         the old objects (pkcs11-tool --login --list-objects, then --delete-object)"
    )]
    LabelTaken {
        /// The token.
        token: String,
        /// The label.
        label: String,
    },
    /// The token lacks a mechanism the algorithm needs.
    #[error(
        "{token} does not offer {mechanism}, which a {kind} key needs: choose another --alg, or a \
         token (or module version) that has it"
    )]
    Mechanism {
        /// The token.
        token: String,
        /// The CKM_ name.
        mechanism: &'static str,
        /// The key: `RSA`, `P-256`, `Ed25519`.
        kind: &'static str,
    },
    /// The key is of a kind the daemon does not use.
    #[error("the key is of a kind the daemon cannot use from a token: {0}")]
    Unsupported(String),
    /// OpenSSL failed on the key's components.
    #[error("OpenSSL failure: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
    /// The token did not protect the key as asked.
    #[error(
        "{token} stored the key with CKA_SENSITIVE {sensitive} and CKA_EXTRACTABLE \
         {extractable}, not sensitive and not extractable as asked: it was removed again; use a \
         token (or token policy) that honours these attributes"
    )]
    Unprotected {
        /// The token.
        token: String,
        /// CKA_SENSITIVE as read back.
        sensitive: bool,
        /// CKA_EXTRACTABLE as read back.
        extractable: bool,
    },
    /// The token's signature did not verify under the expected public key.
    #[error(
        "{token}: the key stored does not sign for the certificate's public key (the proof \
         signature did not verify); it was removed again"
    )]
    ProofFailed {
        /// The token.
        token: String,
    },
}

/// A logged-in read-write session on the token an onboarding names.
pub struct Provisioner {
    session: Session,
    token: String,
    slot: Slot,
    ctx: cryptoki::context::Pkcs11,
}

/// Objects created on the token and destroyed again when dropped, unless
/// [`Pending::keep`] was called.
pub struct Pending<'a> {
    session: &'a Session,
    handles: Vec<ObjectHandle>,
    private_key: Option<ObjectHandle>,
}

impl Pending<'_> {
    /// The private key object.
    pub fn private_key(&self) -> Option<ObjectHandle> {
        self.private_key
    }

    /// Keeps the objects on the token.
    pub fn keep(mut self) {
        self.handles.clear();
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        for h in self.handles.drain(..) {
            if let Err(e) = self.session.destroy_object(h) {
                tracing::error!(
                    error = %token::reason(&e),
                    "cannot remove an object created on the token before a later step failed: \
                     remove it with pkcs11-tool --delete-object"
                );
            }
        }
    }
}

/// What a key generated on the token is.
pub struct Generated<'a> {
    /// The objects (public and private key), until kept.
    pub objects: Pending<'a>,
    /// CKA_ID of both.
    pub id: Vec<u8>,
    /// The public key, read back from the token.
    pub public: PKey<Public>,
    /// The private key's flags, read back from the token.
    pub flags: KeyFlags,
}

/// What a key copied onto the token is.
pub struct Imported<'a> {
    /// The objects (private key, public key, certificate), until kept.
    pub objects: Pending<'a>,
    /// CKA_ID of all three.
    pub id: Vec<u8>,
    /// The private key's flags, read back from the token.
    pub flags: KeyFlags,
}

/// Attribute values that are key material: wiped when the template goes.
struct SecretTemplate(Vec<Attribute>);

impl Drop for SecretTemplate {
    fn drop(&mut self) {
        for a in &mut self.0 {
            match a {
                Attribute::Value(v)
                | Attribute::PrivateExponent(v)
                | Attribute::Prime1(v)
                | Attribute::Prime2(v)
                | Attribute::Exponent1(v)
                | Attribute::Exponent2(v)
                | Attribute::Coefficient(v) => v.zeroize(),
                _ => {}
            }
        }
    }
}

/// A CKA_EC_POINT: the point as a DER OCTET STRING (PKCS#11 v2.40).
fn octet_string(point: Vec<u8>) -> Result<Vec<u8>, ProvisionError> {
    der_of(&OctetString::new(point).map_err(|e| ProvisionError::Unsupported(e.to_string()))?)
}

fn der_of(v: &impl Encode) -> Result<Vec<u8>, ProvisionError> {
    v.to_der()
        .map_err(|e| ProvisionError::Unsupported(format!("cannot encode a key attribute: {e}")))
}

impl Provisioner {
    /// Loads `module` (which `allowed`, the daemon's `[agent]
    /// pkcs11_modules`, must list), finds the token, opens a read-write
    /// session and logs in with `pin`.
    pub fn open(
        module: &Path,
        allowed: &[PathBuf],
        target: &Pkcs11Target,
        pin: &[u8],
    ) -> Result<Self, ProvisionError> {
        check_allowed(module, allowed)?;
        let ctx = token::load_module(module)?;
        let token = target.token_desc();
        let slot = token::find_slot(&ctx, target)?;
        let failed = |what: &str, e: &cryptoki::error::Error| Pkcs11Error::Token {
            token: token.clone(),
            detail: format!("{what}: {}", token::reason(e)),
        };
        let session = ctx
            .open_rw_session(slot)
            .map_err(|e| failed("cannot open a read-write session", &e))?;
        let raw: cryptoki::types::RawAuthPin = secrecy::SecretBox::new(Box::new(pin.to_vec()));
        match session.login_with_raw(UserType::User, &raw) {
            Ok(()) => {}
            Err(e) if token::rv(&e) == Some(RvError::UserAlreadyLoggedIn) => {}
            Err(e) => {
                return Err(match token::rv(&e) {
                    Some(RvError::PinIncorrect | RvError::PinLenRange) => {
                        ProvisionError::WrongPin { token }
                    }
                    Some(RvError::PinLocked) => Pkcs11Error::PinBlocked {
                        token,
                        state: "locked (CKR_PIN_LOCKED)",
                    }
                    .into(),
                    Some(RvError::PinExpired) => Pkcs11Error::PinBlocked {
                        token,
                        state: "expired (CKR_PIN_EXPIRED)",
                    }
                    .into(),
                    _ => failed("login failed", &e).into(),
                });
            }
        }
        Ok(Self {
            session,
            token,
            slot,
            ctx,
        })
    }

    /// `PKCS#11 token "label"`.
    pub fn token(&self) -> &str {
        &self.token
    }

    fn failed(&self, what: &str, e: &cryptoki::error::Error) -> ProvisionError {
        Pkcs11Error::Token {
            token: self.token.clone(),
            detail: format!("{what}: {}", token::reason(e)),
        }
        .into()
    }

    /// Refuses a key the token reports as extractable or not sensitive
    /// (the caller's [`Pending`] then removes it).
    fn check_protected(&self, flags: KeyFlags) -> Result<(), ProvisionError> {
        if flags.sensitive && !flags.extractable {
            return Ok(());
        }
        Err(ProvisionError::Unprotected {
            token: self.token.clone(),
            sensitive: flags.sensitive,
            extractable: flags.extractable,
        })
    }

    /// Refuses a label some object on the token already has.
    pub fn check_label_free(&self, label: &str) -> Result<(), ProvisionError> {
        let found = self
            .session
            .find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
            .map_err(|e| self.failed("cannot search objects", &e))?;
        if found.is_empty() {
            Ok(())
        } else {
            Err(ProvisionError::LabelTaken {
                token: self.token.clone(),
                label: label.to_owned(),
            })
        }
    }

    fn require(&self, mechanism: MechanismType, kind: KeyKind) -> Result<(), ProvisionError> {
        // C_GetMechanismInfo rather than the list: cryptoki logs every
        // listed mechanism it does not know as an error.
        let missing = match self.ctx.get_mechanism_info(self.slot, mechanism) {
            Ok(info) => !info.generate_key_pair(),
            Err(e) if token::rv(&e) == Some(RvError::MechanismInvalid) => true,
            Err(e) => return Err(self.failed("cannot query a mechanism", &e)),
        };
        if !missing {
            return Ok(());
        }
        Err(ProvisionError::Mechanism {
            token: self.token.clone(),
            mechanism: match mechanism {
                MechanismType::RSA_PKCS_KEY_PAIR_GEN => "CKM_RSA_PKCS_KEY_PAIR_GEN",
                MechanismType::ECC_KEY_PAIR_GEN => "CKM_EC_KEY_PAIR_GEN",
                _ => "CKM_EC_EDWARDS_KEY_PAIR_GEN",
            },
            kind: match kind {
                KeyKind::Rsa { .. } => "RSA",
                KeyKind::EcP256 => "P-256",
                KeyKind::Ed25519 => "Ed25519",
            },
        })
    }

    fn fresh_id() -> Result<Vec<u8>, ProvisionError> {
        let mut id = vec![0u8; 16];
        openssl::rand::rand_bytes(&mut id)?;
        Ok(id)
    }

    /// The attributes every private key gets: on the token, private,
    /// sensitive, not extractable, for signing (and decrypting, RSA).
    /// Without CKA_KEY_TYPE, which generation leaves to the mechanism and
    /// [`Self::import`] adds.
    fn private_template(key_type: KeyType, label: &str, id: &[u8]) -> Vec<Attribute> {
        vec![
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Decrypt(key_type == KeyType::RSA),
            // Nothing beyond what the daemon uses (tokens default these on).
            Attribute::Unwrap(false),
            Attribute::Derive(false),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
        ]
    }

    fn public_template(key_type: Option<KeyType>, label: &str, id: &[u8]) -> Vec<Attribute> {
        let mut t = vec![
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::Wrap(false),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
        ];
        t.extend(key_type.map(Attribute::KeyType));
        t
    }

    /// Generates a key pair of `kind` on the token labelled `label` under a
    /// fresh random CKA_ID.
    pub fn generate(&self, kind: KeyKind, label: &str) -> Result<Generated<'_>, ProvisionError> {
        self.check_label_free(label)?;
        let id = Self::fresh_id()?;
        let (mechanism, key_type, extra_pub): (_, _, Vec<Attribute>) = match kind {
            KeyKind::Rsa { bits } => (
                Mechanism::RsaPkcsKeyPairGen,
                KeyType::RSA,
                vec![
                    Attribute::ModulusBits(u64::from(bits).into()),
                    Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
                ],
            ),
            KeyKind::EcP256 => (
                Mechanism::EccKeyPairGen,
                KeyType::EC,
                vec![Attribute::EcParams(der_of(&OID_P256)?)],
            ),
            KeyKind::Ed25519 => (
                Mechanism::EccEdwardsKeyPairGen,
                KeyType::EC_EDWARDS,
                vec![Attribute::EcParams(der_of(&OID_ED25519)?)],
            ),
        };
        self.require(mechanism.mechanism_type(), kind)?;
        let mut public = Self::public_template(None, label, &id);
        public.extend(extra_pub);
        let private = Self::private_template(key_type, label, &id);
        let (pub_h, priv_h) = self
            .session
            .generate_key_pair(&mechanism, &public, &private)
            .map_err(|e| self.failed("key pair generation failed", &e))?;
        let objects = Pending {
            session: &self.session,
            handles: vec![priv_h, pub_h],
            private_key: Some(priv_h),
        };
        let public = token::public_key(&self.session, pub_h).map_err(|detail| {
            ProvisionError::Pkcs11(Pkcs11Error::Token {
                token: self.token.clone(),
                detail: format!("cannot read back the generated public key: {detail}"),
            })
        })?;
        let (_, flags) = token::key_flags(&self.session, priv_h)
            .map_err(|e| self.failed("cannot read the generated key's attributes", &e))?;
        self.check_protected(flags)?;
        Ok(Generated {
            objects,
            id,
            public,
            flags,
        })
    }

    /// Copies `key` onto the token as a sensitive, not extractable private
    /// key labelled `label`, with its public key and `cert` beside it
    /// under one fresh CKA_ID. The key's components pass through buffers
    /// wiped once the token has them.
    pub fn import(
        &self,
        key: &PKey<Private>,
        cert: &X509,
        label: &str,
    ) -> Result<Imported<'_>, ProvisionError> {
        self.check_label_free(label)?;
        let id = Self::fresh_id()?;
        let key_type = match key.id() {
            Id::RSA => KeyType::RSA,
            Id::EC => KeyType::EC,
            Id::ED25519 => KeyType::EC_EDWARDS,
            other => {
                return Err(ProvisionError::Unsupported(format!(
                    "OpenSSL key type {other:?}"
                )));
            }
        };
        // Every secret value goes straight into this template, which wipes
        // them when dropped (on success or at any `?` below).
        let mut private = SecretTemplate(Self::private_template(key_type, label, &id));
        private.0.push(Attribute::KeyType(key_type));
        let public: Vec<Attribute> = match key_type {
            KeyType::RSA => {
                let rsa = key.rsa()?;
                let part = |b: Option<&openssl::bn::BigNumRef>, what: &str| {
                    b.map(|b| b.to_vec()).ok_or_else(|| {
                        ProvisionError::Unsupported(format!("the RSA key has no {what}"))
                    })
                };
                let t = &mut private.0;
                t.push(Attribute::Modulus(rsa.n().to_vec()));
                t.push(Attribute::PublicExponent(rsa.e().to_vec()));
                t.push(Attribute::PrivateExponent(rsa.d().to_vec()));
                t.push(Attribute::Prime1(part(rsa.p(), "prime p")?));
                t.push(Attribute::Prime2(part(rsa.q(), "prime q")?));
                t.push(Attribute::Exponent1(part(rsa.dmp1(), "dmp1")?));
                t.push(Attribute::Exponent2(part(rsa.dmq1(), "dmq1")?));
                t.push(Attribute::Coefficient(part(rsa.iqmp(), "iqmp")?));
                vec![
                    Attribute::Modulus(rsa.n().to_vec()),
                    Attribute::PublicExponent(rsa.e().to_vec()),
                ]
            }
            KeyType::EC => {
                let ec = key.ec_key()?;
                if ec.group().curve_name() != Some(openssl::nid::Nid::X9_62_PRIME256V1) {
                    return Err(ProvisionError::Unsupported(
                        "an EC key not on P-256 (ES256 needs P-256)".into(),
                    ));
                }
                let params = der_of(&OID_P256)?;
                private.0.push(Attribute::EcParams(params.clone()));
                private
                    .0
                    .push(Attribute::Value(ec.private_key().to_vec_padded(32)?));
                let mut ctx = openssl::bn::BigNumContext::new()?;
                let point = ec.public_key().to_bytes(
                    ec.group(),
                    openssl::ec::PointConversionForm::UNCOMPRESSED,
                    &mut ctx,
                )?;
                vec![
                    Attribute::EcParams(params),
                    Attribute::EcPoint(octet_string(point)?),
                ]
            }
            _ => {
                let params = der_of(&OID_ED25519)?;
                private.0.push(Attribute::EcParams(params.clone()));
                private.0.push(Attribute::Value(key.raw_private_key()?));
                vec![
                    Attribute::EcParams(params),
                    Attribute::EcPoint(octet_string(key.raw_public_key()?)?),
                ]
            }
        };
        let priv_h = self
            .session
            .create_object(&private.0)
            .map_err(|e| self.failed("cannot create the private key object", &e))?;
        drop(private);
        let mut objects = Pending {
            session: &self.session,
            handles: vec![priv_h],
            private_key: Some(priv_h),
        };
        let mut pub_t = Self::public_template(Some(key_type), label, &id);
        pub_t.extend(public);
        let pub_h = self
            .session
            .create_object(&pub_t)
            .map_err(|e| self.failed("cannot create the public key object", &e))?;
        objects.handles.push(pub_h);
        let cert_t = vec![
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.clone()),
            Attribute::Subject(cert.subject_name().to_der()?),
            Attribute::Issuer(cert.issuer_name().to_der()?),
            Attribute::SerialNumber(cert.serial_number().to_bn()?.to_vec()),
            Attribute::Value(cert.to_der()?),
        ];
        let cert_h = self
            .session
            .create_object(&cert_t)
            .map_err(|e| self.failed("cannot create the certificate object", &e))?;
        objects.handles.push(cert_h);
        let (_, flags) = token::key_flags(&self.session, priv_h)
            .map_err(|e| self.failed("cannot read the stored key's attributes", &e))?;
        self.check_protected(flags)?;
        Ok(Imported { objects, id, flags })
    }

    /// Signs `message` with the private key `key` on the token.
    pub fn sign(
        &self,
        key: ObjectHandle,
        scheme: SignatureScheme,
        message: &[u8],
    ) -> Result<Vec<u8>, ProvisionError> {
        token::sign(&self.session, key, scheme, message)
            .map_err(|e| self.failed("signing failed", &e))?
            .map_err(|detail| {
                Pkcs11Error::Token {
                    token: self.token.clone(),
                    detail,
                }
                .into()
            })
    }

    /// Signs a random challenge with `key` and verifies it under `public`:
    /// the key on the token is the one `public` names.
    pub fn prove(&self, key: ObjectHandle, public: &PKey<Public>) -> Result<(), ProvisionError> {
        let scheme = match public.id() {
            Id::RSA => SignatureScheme::RsaPssSha256,
            Id::EC => SignatureScheme::EcdsaP256Sha256,
            _ => SignatureScheme::Ed25519,
        };
        let mut challenge = [0u8; 32];
        openssl::rand::rand_bytes(&mut challenge)?;
        let sig = self.sign(key, scheme, &challenge)?;
        if super::verify(public, scheme, &challenge, &sig)? {
            Ok(())
        } else {
            Err(ProvisionError::ProofFailed {
                token: self.token.clone(),
            })
        }
    }
}

/// The token key as rcgen's remote signer, for a CSR: it signs on a
/// session of its own (the login belongs to the whole token, so the
/// session is logged in too).
pub struct TokenSigner {
    session: std::sync::Mutex<Session>,
    key: ObjectHandle,
    token: String,
    scheme: SignatureScheme,
    algorithm: &'static rcgen::SignatureAlgorithm,
    public_raw: Vec<u8>,
}

impl Provisioner {
    /// A CSR signer for the private key `key`, whose public key is
    /// `public`, a key of `kind` (RSA keys sign their CSR with
    /// sha256WithRSAEncryption, as the software enroll's do).
    pub fn signer(
        &self,
        key: ObjectHandle,
        kind: KeyKind,
        public: &PKey<Public>,
    ) -> Result<TokenSigner, ProvisionError> {
        let session = self
            .ctx
            .open_ro_session(self.slot)
            .map_err(|e| self.failed("cannot open a session", &e))?;
        let (scheme, algorithm, public_raw) = match kind {
            KeyKind::Rsa { .. } => (
                SignatureScheme::RsaPkcs1Sha256,
                &rcgen::PKCS_RSA_SHA256,
                // rcgen wants RSA public keys as PKCS#1 RSAPublicKey.
                public.rsa()?.public_key_to_der_pkcs1()?,
            ),
            KeyKind::EcP256 => {
                let ec = public.ec_key()?;
                let mut ctx = openssl::bn::BigNumContext::new()?;
                (
                    SignatureScheme::EcdsaP256Sha256,
                    &rcgen::PKCS_ECDSA_P256_SHA256,
                    ec.public_key().to_bytes(
                        ec.group(),
                        openssl::ec::PointConversionForm::UNCOMPRESSED,
                        &mut ctx,
                    )?,
                )
            }
            KeyKind::Ed25519 => (
                SignatureScheme::Ed25519,
                &rcgen::PKCS_ED25519,
                public.raw_public_key()?,
            ),
        };
        Ok(TokenSigner {
            session: std::sync::Mutex::new(session),
            key,
            token: self.token.clone(),
            scheme,
            algorithm,
            public_raw,
        })
    }
}

impl rcgen::RemoteKeyPair for TokenSigner {
    fn public_key(&self) -> &[u8] {
        &self.public_raw
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        // A poisoned lock still holds a usable session handle.
        let session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        match token::sign(&session, self.key, self.scheme, msg) {
            Ok(Ok(sig)) => Ok(sig),
            Ok(Err(detail)) => {
                tracing::error!(token = %self.token, %detail, "the token's CSR signature is unusable");
                Err(rcgen::Error::RemoteKeyError)
            }
            Err(e) => {
                tracing::error!(token = %self.token, error = %token::reason(&e), "the token did not sign the CSR");
                Err(rcgen::Error::RemoteKeyError)
            }
        }
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.algorithm
    }
}

impl Drop for Provisioner {
    fn drop(&mut self) {
        // The CLI process ends soon; logging out is good manners for
        // tokens that count sessions.
        let _ = self.session.logout();
    }
}
