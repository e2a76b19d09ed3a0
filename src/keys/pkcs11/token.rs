//! The blocking PKCS#11 calls: loading a module (once per process, from
//! the allow-list only), finding the token and objects, and the
//! mechanisms each [`SignatureScheme`] and [`Padding`] use.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki::slot::Slot;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Public};

use super::Pkcs11Error;
use crate::config::Pkcs11Target;
use crate::keys::{KeyKind, Padding, SignatureScheme};

/// The modules loaded so far, by path. A module is initialised once per
/// process (a second `C_Initialize` fails) and never finalised: a reload
/// that builds new credentials reuses it.
fn modules() -> &'static Mutex<HashMap<PathBuf, Pkcs11>> {
    static M: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    M.get_or_init(Default::default)
}

/// How many credentials hold the login of each token (module, slot id):
/// a PKCS#11 login belongs to the application and token, so a credential
/// logs out only when it is the last.
pub fn holders() -> std::sync::MutexGuard<'static, HashMap<(PathBuf, u64), usize>> {
    static H: OnceLock<Mutex<HashMap<(PathBuf, u64), usize>>> = OnceLock::new();
    H.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// Loads and initialises `path` (already checked against the allow-list),
/// or returns the context loaded before.
pub fn load_module(path: &Path) -> Result<Pkcs11, Pkcs11Error> {
    let mut m = modules().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = m.get(path) {
        return Ok(c.clone());
    }
    let failed = |e: CkError| Pkcs11Error::Module {
        module: path.to_owned(),
        detail: e.to_string(),
    };
    let ctx = Pkcs11::new(path).map_err(failed)?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(failed(e)),
    }
    m.insert(path.to_owned(), ctx.clone());
    Ok(ctx)
}

/// Finalises and initialises `path`'s module again, so that it lists its
/// tokens anew (SoftHSM and some modules list only the tokens present at
/// `C_Initialize`). Done only while no credential holds a login on any of
/// its tokens (it ends every session of the module), and serialised with
/// loading.
pub fn reinitialize(path: &Path, ctx: &Pkcs11) -> Result<bool, Pkcs11Error> {
    let m = modules().lock().unwrap_or_else(|p| p.into_inner());
    let holders = holders();
    if holders
        .iter()
        .any(|((module, _), n)| module == path && *n > 0)
    {
        return Ok(false);
    }
    let failed = |e: CkError| Pkcs11Error::Module {
        module: path.to_owned(),
        detail: e.to_string(),
    };
    match ctx.clone().finalize() {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiNotInitialized, _)) => {}
        Err(e) => return Err(failed(e)),
    }
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(failed(e)),
    }
    drop((holders, m));
    Ok(true)
}

/// The PKCS#11 return value of `e`, if it is one.
pub fn rv(e: &CkError) -> Option<RvError> {
    match e {
        CkError::Pkcs11(rv, _) => Some(*rv),
        _ => None,
    }
}

/// Whether `e` means the session (or the token behind it) is gone: the
/// token was removed and reinserted, the module restarted, or the login
/// ended. Such an operation is retried once on a fresh session.
pub fn session_lost(e: &CkError) -> bool {
    matches!(
        rv(e),
        Some(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::DeviceRemoved
                | RvError::TokenNotPresent
                | RvError::TokenNotRecognized
                | RvError::DeviceError
                | RvError::UserNotLoggedIn
                | RvError::KeyHandleInvalid
                | RvError::ObjectHandleInvalid
                | RvError::CryptokiNotInitialized
        )
    )
}

/// A short reason for operators: the CKR_ name where known.
pub fn reason(e: &CkError) -> String {
    match rv(e) {
        Some(rv) => format!("{rv:?}"),
        None => e.to_string(),
    }
}

/// The slot holding the token `target` names.
pub fn find_slot(ctx: &Pkcs11, target: &Pkcs11Target) -> Result<Slot, Pkcs11Error> {
    let token = target.token_desc();
    let slots = ctx.get_slots_with_token().map_err(|e| Pkcs11Error::Token {
        token: token.clone(),
        detail: format!("cannot list slots: {}", reason(&e)),
    })?;
    for slot in slots {
        let Ok(info) = ctx.get_token_info(slot) else {
            continue;
        };
        let label_ok = target
            .token_label
            .as_deref()
            .is_none_or(|l| info.label().trim_end() == l);
        let serial_ok = target
            .token_serial
            .as_deref()
            .is_none_or(|s| info.serial_number().trim_end() == s);
        if label_ok && serial_ok {
            return Ok(slot);
        }
    }
    Err(Pkcs11Error::Absent { token })
}

/// [`find_slot`], and if no slot holds the token, once more after
/// initialising the module again (when no login on it would be lost):
/// the token may have been inserted since the module listed its tokens.
/// `credential` names the asker in the log (empty: a load).
pub fn find_slot_or_rescan(
    path: &Path,
    ctx: &Pkcs11,
    target: &Pkcs11Target,
    credential: &str,
) -> Result<Slot, Pkcs11Error> {
    let absent = match find_slot(ctx, target) {
        Err(e @ Pkcs11Error::Absent { .. }) => e,
        other => return other,
    };
    match reinitialize(path, ctx) {
        Ok(true) => {
            tracing::info!(
                credential, token = %target.token_desc(),
                "token not found: initialised the module again to list its tokens anew"
            );
            find_slot(ctx, target)
        }
        Ok(false) => Err(absent),
        Err(re) => {
            tracing::warn!(credential, error = %re, "cannot initialise the module again");
            Err(absent)
        }
    }
}

/// The search template for an object of `class` that `target` names.
pub fn template(class: ObjectClass, target: &Pkcs11Target) -> Vec<Attribute> {
    let mut t = vec![Attribute::Class(class)];
    if let Some(l) = &target.key_label {
        t.push(Attribute::Label(l.as_bytes().to_vec()));
    }
    if let Some(id) = &target.key_id {
        t.push(Attribute::Id(id.clone()));
    }
    t
}

/// The one object of `class` that `target` names, if any (more than one
/// is an error: the config must be precise).
pub fn find_one(
    session: &Session,
    class: ObjectClass,
    target: &Pkcs11Target,
) -> Result<Option<ObjectHandle>, Pkcs11Error> {
    let found = session
        .find_objects(&template(class, target))
        .map_err(|e| Pkcs11Error::Token {
            token: target.token_desc(),
            detail: format!("cannot search objects: {}", reason(&e)),
        })?;
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        more => Err(Pkcs11Error::Token {
            token: target.token_desc(),
            detail: format!(
                "{} objects of class {class} match {}: give key_id as well as key_label",
                more.len(),
                target.key_desc()
            ),
        }),
    }
}

/// Strips the DER OCTET STRING around a CKA_EC_POINT, which PKCS#11 v2.40
/// prescribes and some tokens omit.
fn ec_point_bytes(raw: &[u8]) -> &[u8] {
    match raw {
        [0x04, len, rest @ ..] if usize::from(*len) == rest.len() => rest,
        [0x04, 0x81, len, rest @ ..] if usize::from(*len) == rest.len() => rest,
        _ => raw,
    }
}

/// The public key object `handle` as an OpenSSL key.
pub fn public_key(session: &Session, handle: ObjectHandle) -> Result<PKey<Public>, String> {
    let attrs = session
        .get_attributes(
            handle,
            &[
                AttributeType::KeyType,
                AttributeType::Modulus,
                AttributeType::PublicExponent,
                AttributeType::EcPoint,
            ],
        )
        .map_err(|e| reason(&e))?;
    let mut key_type = None;
    let (mut n, mut e, mut point) = (None, None, None);
    for a in attrs {
        match a {
            Attribute::KeyType(t) => key_type = Some(t),
            Attribute::Modulus(v) => n = Some(v),
            Attribute::PublicExponent(v) => e = Some(v),
            Attribute::EcPoint(v) => point = Some(v),
            _ => {}
        }
    }
    let ossl = |e: openssl::error::ErrorStack| e.to_string();
    match (key_type, n, e, point) {
        (Some(KeyType::RSA), Some(n), Some(e), _) => {
            let rsa = openssl::rsa::Rsa::from_public_components(
                BigNum::from_slice(&n).map_err(ossl)?,
                BigNum::from_slice(&e).map_err(ossl)?,
            )
            .map_err(ossl)?;
            PKey::from_rsa(rsa).map_err(ossl)
        }
        (Some(KeyType::EC), _, _, Some(p)) => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(ossl)?;
            let mut ctx = openssl::bn::BigNumContext::new().map_err(ossl)?;
            let point = EcPoint::from_bytes(&group, ec_point_bytes(&p), &mut ctx).map_err(ossl)?;
            PKey::from_ec_key(EcKey::from_public_key(&group, &point).map_err(ossl)?).map_err(ossl)
        }
        (Some(KeyType::EC_EDWARDS), _, _, Some(p)) => {
            PKey::public_key_from_raw_bytes(ec_point_bytes(&p), Id::ED25519).map_err(ossl)
        }
        (t, ..) => Err(format!(
            "a public key of type {t:?} the daemon does not use"
        )),
    }
}

/// Attributes of the private key that operators see and the backend
/// checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyFlags {
    /// CKA_EXTRACTABLE.
    pub extractable: bool,
    /// CKA_NEVER_EXTRACTABLE.
    pub never_extractable: bool,
    /// CKA_SENSITIVE.
    pub sensitive: bool,
}

/// The private key's type and flags.
pub fn key_flags(
    session: &Session,
    handle: ObjectHandle,
) -> Result<(Option<KeyType>, KeyFlags), CkError> {
    let attrs = session.get_attributes(
        handle,
        &[
            AttributeType::KeyType,
            AttributeType::Extractable,
            AttributeType::NeverExtractable,
            AttributeType::Sensitive,
        ],
    )?;
    let mut flags = KeyFlags {
        // Unknown counts as the safe answer.
        extractable: false,
        never_extractable: false,
        sensitive: true,
    };
    let mut key_type = None;
    for a in attrs {
        match a {
            Attribute::KeyType(t) => key_type = Some(t),
            Attribute::Extractable(b) => flags.extractable = b,
            Attribute::NeverExtractable(b) => flags.never_extractable = b,
            Attribute::Sensitive(b) => flags.sensitive = b,
            _ => {}
        }
    }
    Ok((key_type, flags))
}

/// The PKCS#11 key type a key of `kind` has.
pub fn key_type_of(kind: KeyKind) -> KeyType {
    match kind {
        KeyKind::Rsa { .. } => KeyType::RSA,
        KeyKind::EcP256 => KeyType::EC,
        KeyKind::Ed25519 => KeyType::EC_EDWARDS,
    }
}

/// DigestInfo prefix of SHA-256 (RFC 8017 §9.2 note 1): CKM_RSA_PKCS signs
/// `prefix ‖ hash` for RSASSA-PKCS1-v1_5.
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// Signs `message` under `scheme` with the token's key: the digest is made
/// here (tokens differ in which hash-and-sign mechanisms they have; all
/// have the raw ones), the signature comes out as the [`crate::keys`]
/// contract says (ECDSA as DER).
pub fn sign(
    session: &Session,
    key: ObjectHandle,
    scheme: SignatureScheme,
    message: &[u8],
) -> Result<Result<Vec<u8>, String>, CkError> {
    let pss = |hash_alg, mgf, salt: u64| {
        Mechanism::RsaPkcsPss(PkcsPssParams {
            hash_alg,
            mgf,
            s_len: salt.into(),
        })
    };
    Ok(match scheme {
        SignatureScheme::RsaPssSha256 => Ok(session.sign(
            &pss(MechanismType::SHA256, PkcsMgfType::MGF1_SHA256, 32),
            key,
            &openssl::sha::sha256(message),
        )?),
        SignatureScheme::RsaPssSha512 => Ok(session.sign(
            &pss(MechanismType::SHA512, PkcsMgfType::MGF1_SHA512, 64),
            key,
            &openssl::sha::sha512(message),
        )?),
        SignatureScheme::RsaPkcs1Sha256 => {
            let mut info = SHA256_DIGEST_INFO.to_vec();
            info.extend_from_slice(&openssl::sha::sha256(message));
            Ok(session.sign(&Mechanism::RsaPkcs, key, &info)?)
        }
        SignatureScheme::EcdsaP256Sha256 => {
            let raw = session.sign(&Mechanism::Ecdsa, key, &openssl::sha::sha256(message))?;
            raw_to_der(&raw)
        }
        SignatureScheme::Ed25519 => {
            let sig = session.sign(
                &Mechanism::Eddsa(cryptoki::mechanism::eddsa::EddsaParams::new(
                    cryptoki::mechanism::eddsa::EddsaSignatureScheme::Pure,
                )),
                key,
                message,
            )?;
            if sig.len() == 64 {
                Ok(sig)
            } else {
                Err(format!(
                    "the token returned a {}-byte Ed25519 signature, not 64",
                    sig.len()
                ))
            }
        }
    })
}

/// CKM_ECDSA's raw `R‖S` (32 + 32 bytes on P-256) as DER.
fn raw_to_der(raw: &[u8]) -> Result<Vec<u8>, String> {
    if raw.len() != 64 {
        return Err(format!(
            "the token returned a {}-byte ECDSA signature, not 64 (R‖S on P-256)",
            raw.len()
        ));
    }
    let ossl = |e: openssl::error::ErrorStack| e.to_string();
    let (r, s) = raw.split_at(32);
    openssl::ecdsa::EcdsaSig::from_private_components(
        BigNum::from_slice(r).map_err(ossl)?,
        BigNum::from_slice(s).map_err(ossl)?,
    )
    .and_then(|sig| sig.to_der())
    .map_err(ossl)
}

/// Decrypts `ciphertext` with the token's RSA key under `padding`.
pub fn decrypt(
    session: &Session,
    key: ObjectHandle,
    padding: Padding,
    ciphertext: &[u8],
) -> Result<Vec<u8>, CkError> {
    let oaep =
        |hash, mgf| Mechanism::RsaPkcsOaep(PkcsOaepParams::new(hash, mgf, PkcsOaepSource::empty()));
    let mechanism = match padding {
        Padding::Pkcs1V15 => Mechanism::RsaPkcs,
        Padding::OaepSha1 => oaep(MechanismType::SHA1, PkcsMgfType::MGF1_SHA1),
        Padding::OaepSha256 => oaep(MechanismType::SHA256, PkcsMgfType::MGF1_SHA256),
    };
    session.decrypt(&mechanism, key, ciphertext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_ecdsa_becomes_der_that_openssl_reads_back() {
        let mut raw = [0u8; 64];
        raw[31] = 7;
        raw[63] = 9;
        let der = raw_to_der(&raw).unwrap();
        let sig = openssl::ecdsa::EcdsaSig::from_der(&der).unwrap();
        assert_eq!(sig.r().to_vec(), vec![7]);
        assert_eq!(sig.s().to_vec(), vec![9]);
        assert!(raw_to_der(&raw[..63]).unwrap_err().contains("63-byte"));
    }

    #[test]
    fn ec_points_with_and_without_the_octet_string() {
        let mut point = vec![0x04];
        point.extend([1u8; 64]);
        let mut wrapped = vec![0x04, 65];
        wrapped.extend(&point);
        assert_eq!(ec_point_bytes(&wrapped), &point[..]);
        assert_eq!(ec_point_bytes(&point), &point[..]);
        let ed = [0x04, 32].into_iter().chain([5u8; 32]).collect::<Vec<_>>();
        assert_eq!(ec_point_bytes(&ed), &[5u8; 32][..]);
    }
}
