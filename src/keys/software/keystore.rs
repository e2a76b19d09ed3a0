//! A Java keystore entry used as a key file: one private-key entry, chosen
//! by alias, of a JKS store ([`super::jks`]) or a PKCS#12 keystore
//! (`keytool -storetype PKCS12`, the JDK's default), opened with a store
//! password and a key password. JCEKS is refused with the `keytool`
//! command that converts it.
//!
//! PKCS#12 by alias: OpenSSL verifies the MAC and opens the bundle with the
//! store password (and hands back every certificate with its
//! `friendlyName`), but `PKCS12_parse` returns only the first key. The
//! other key bags are found by walking the bundle's plaintext SafeContents
//! with the `der` crate (keytool and `openssl pkcs12 -export` put the
//! shrouded key bags there, with their `friendlyName` beside them); the
//! chosen bag's EncryptedPrivateKeyInfo is then decrypted by OpenSSL with
//! the key password. No new FFI.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use der::{Reader as _, Tagged as _};
use openssl::error::ErrorStack;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use zeroize::Zeroize;

use super::file::{Decrypted, reasons};
use super::jks::{self, Detected, Jks, JksError};
use crate::keys::KeyError;
use crate::secret::Passphrase;
use crate::source::{PassphraseSource, SourceError};

/// How to convert a JCEKS store, for the error that refuses one.
const JCEKS_HINT: &str = "JCEKS keystores are not read: convert it to PKCS#12 with `keytool \
     -importkeystore -srcstoretype JCEKS -srckeystore FILE -deststoretype PKCS12 -destkeystore \
     FILE.p12` and configure the .p12";

/// DER contents of the OIDs walked in a PKCS#12 bundle.
const OID_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
const OID_FRIENDLY_NAME: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x14];
const OID_KEY_BAG: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x01,
];
const OID_SHROUDED_KEY_BAG: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x02,
];
/// Longest chain assembled from a PKCS#12 keystore's certificates.
const MAX_CHAIN: usize = 16;

/// A keystore file and the entry to use, not yet opened.
pub struct Keystore {
    path: PathBuf,
    bytes: Vec<u8>,
    alias: String,
    format: Detected,
    /// The passphrase handed to [`Keystore::open`] is a [`pack`]ed pair
    /// (store password, key password) rather than one password for both.
    separate_key_password: bool,
}

impl Drop for Keystore {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl std::fmt::Debug for Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keystore")
            .field("path", &self.path)
            .field("alias", &self.alias)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// Packs a store password and a key password into the one secret the
/// software backend holds (fetched, timed out and wiped as one):
/// `decimal length of the store password ‖ ":" ‖ store ‖ key` (a passphrase
/// holds no NUL, so no binary length).
pub fn pack(store: &Passphrase, key: &Passphrase) -> Result<Passphrase, String> {
    let (s, k) = (store.expose(), key.expose());
    let head = format!("{}:", s.len());
    let mut buf = zeroize::Zeroizing::new(Vec::with_capacity(head.len() + s.len() + k.len()));
    buf.extend_from_slice(head.as_bytes());
    buf.extend_from_slice(s);
    buf.extend_from_slice(k);
    Passphrase::from_slice(&buf).map_err(|e| format!("the store and key passwords together: {e}"))
}

/// The store password's source and the key password's, fetched as one
/// [`pack`]ed passphrase (for a keystore whose key password differs).
#[derive(Debug)]
pub struct PasswordPair {
    store: Arc<dyn PassphraseSource>,
    key: Arc<dyn PassphraseSource>,
}

impl PasswordPair {
    /// The pair of `store` (store password) and `key` (key password).
    pub fn new(store: Arc<dyn PassphraseSource>, key: Arc<dyn PassphraseSource>) -> Self {
        Self { store, key }
    }
}

impl PassphraseSource for PasswordPair {
    fn kind(&self) -> &'static str {
        self.store.kind()
    }

    fn describe(&self) -> String {
        format!(
            "{} (store password) and {} (key password)",
            self.store.describe(),
            self.key.describe()
        )
    }

    fn identity(&self) -> String {
        format!("pair({})({})", self.store.identity(), self.key.identity())
    }

    fn fetch(&self) -> Result<Passphrase, SourceError> {
        let store = self.store.fetch()?;
        let key = self.key.fetch()?;
        pack(&store, &key).map_err(|reason| SourceError::Refused {
            source_desc: self.describe(),
            reason,
        })
    }

    fn wipe(&self) {
        self.store.wipe();
        self.key.wipe();
    }
}

/// The two passwords of a [`pack`]ed passphrase.
fn unpack(p: &Passphrase) -> Option<(Passphrase, Passphrase)> {
    let b = p.expose();
    let colon = b.iter().take(5).position(|&c| c == b':')?;
    let n: usize = std::str::from_utf8(b.get(..colon)?).ok()?.parse().ok()?;
    let rest = b.get(colon + 1..)?;
    let (s, k) = (rest.get(..n)?, rest.get(n..)?);
    Some((
        Passphrase::from_slice(s).ok()?,
        Passphrase::from_slice(k).ok()?,
    ))
}

impl Keystore {
    /// Reads a keystore file and tells its format; JCEKS and unknown
    /// formats are refused here.
    pub fn read(path: &Path, alias: &str, separate_key_password: bool) -> Result<Self, KeyError> {
        let bytes = super::file::read(path)?;
        let format = jks::detect(&bytes);
        let fail = |message: String| KeyError::Keystore {
            path: path.to_owned(),
            message,
        };
        match format {
            Detected::Jks | Detected::Pkcs12 => {}
            Detected::Jceks => return Err(fail(JCEKS_HINT.into())),
            Detected::Unknown => {
                return Err(fail(
                    "not a JKS, JCEKS or PKCS#12 keystore (unknown first bytes)".into(),
                ));
            }
        }
        if alias.is_empty() {
            return Err(fail("the alias is empty".into()));
        }
        Ok(Self {
            path: path.to_owned(),
            bytes,
            alias: alias.to_owned(),
            format,
            separate_key_password,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The private-key entry's alias.
    pub fn alias(&self) -> &str {
        &self.alias
    }

    /// Opens the entry: its key and certificate chain (leaf first). `pass`
    /// is the store password, also the key password unless the keystore
    /// was read with a separate one (then `pass` is [`pack`]ed). CPU-heavy:
    /// call on a blocking thread.
    pub fn open(&self, pass: &Passphrase, source_desc: &str) -> Result<Decrypted, KeyError> {
        let pair;
        let (store, key) = if self.separate_key_password {
            pair = unpack(pass).ok_or_else(|| KeyError::Keystore {
                path: self.path.clone(),
                message: "the store and key passwords did not arrive as a pair".into(),
            })?;
            (&pair.0, &pair.1)
        } else {
            (pass, pass)
        };
        let result = match self.format {
            Detected::Jks => self.open_jks(store, key, source_desc),
            _ => self.open_pkcs12(store, key, source_desc),
        };
        // OpenSSL and the reader ran below this frame: wipe what they left.
        crate::sys::mem::scrub_stack();
        result
    }

    fn wrong(&self, source_desc: &str, detail: String) -> KeyError {
        KeyError::WrongPassphrase {
            path: self.path.clone(),
            source_desc: source_desc.to_owned(),
            detail,
        }
    }

    fn fail(&self, message: String) -> KeyError {
        KeyError::Keystore {
            path: self.path.clone(),
            message,
        }
    }

    fn open_jks(
        &self,
        store: &Passphrase,
        key: &Passphrase,
        source_desc: &str,
    ) -> Result<Decrypted, KeyError> {
        let from_jks = |e: JksError| match e {
            JksError::Integrity | JksError::WrongKeyPassword(_) => {
                self.wrong(source_desc, e.to_string())
            }
            other => self.fail(other.to_string()),
        };
        let store = Jks::open(&self.bytes, store).map_err(from_jks)?;
        let (pkcs8, chain) = store.private_key(&self.alias, key).map_err(from_jks)?;
        let pkey = PKey::private_key_from_pkcs8(&pkcs8).map_err(|e| {
            self.fail(format!(
                "entry {:?}: the recovered key is not a PKCS#8 key ({})",
                self.alias,
                reasons(&e)
            ))
        })?;
        drop(pkcs8);
        let certs = chain
            .iter()
            .map(|c| X509::from_der(c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                self.fail(format!(
                    "entry {:?}: a certificate of its chain is not X.509 DER ({})",
                    self.alias,
                    reasons(&e)
                ))
            })?;
        if certs.is_empty() {
            return Err(self.fail(format!("entry {:?} has no certificate", self.alias)));
        }
        Ok(Decrypted {
            key: pkey,
            certs: Some(certs),
        })
    }

    fn open_pkcs12(
        &self,
        store: &Passphrase,
        key: &Passphrase,
        source_desc: &str,
    ) -> Result<Decrypted, KeyError> {
        let opened = crate::sys::openssl::pkcs12_parse(&self.bytes, store.expose_nul_terminated())
            .map_err(|e| {
                let detail = reasons(&e);
                if detail.contains("mac verify failure") || detail.contains("bad decrypt") {
                    self.wrong(
                        source_desc,
                        format!(
                            "wrong store password: the keystore's MAC does not verify ({detail})"
                        ),
                    )
                } else {
                    self.fail(format!("not a readable PKCS#12 keystore ({detail})"))
                }
            })?;
        let mut all: Vec<X509> = vec![opened.cert];
        all.extend(opened.chain);
        let alias_of = |c: &X509| c.alias().map(|a| String::from_utf8_lossy(a).into_owned());
        let first_is_named = all
            .first()
            .and_then(alias_of)
            .is_some_and(|a| jks::same_alias(&a, &self.alias));
        let bags = match key_bags(&self.bytes) {
            Ok(bags) => bags,
            // A BER-encoded bundle (older tools) that the `der` walk cannot
            // read still gives its first key, which OpenSSL found.
            Err(_) if first_is_named => Vec::new(),
            Err(e) => {
                return Err(self.fail(format!(
                    "cannot list the keystore's entries (is it BER-encoded? convert it with \
                     `keytool -importkeystore -srcstoretype PKCS12 -deststoretype PKCS12 …`): {e}"
                )));
            }
        };
        let chosen = match bags.iter().find(|b| {
            b.name
                .as_deref()
                .is_some_and(|n| jks::same_alias(n, &self.alias))
        }) {
            Some(bag) => decrypt_bag(bag, key).map_err(|e| {
                let detail = reasons(&e);
                if detail.contains("bad decrypt") || detail.contains("decode error") {
                    self.wrong(
                        source_desc,
                        format!("wrong key password for alias {:?}", self.alias),
                    )
                } else {
                    self.fail(format!(
                        "entry {:?}: cannot decrypt its key ({detail})",
                        self.alias
                    ))
                }
            })?,
            // A bag the walk could not see (inside encrypted contents): the
            // key OpenSSL found, if its certificate has this alias.
            None if first_is_named => opened.key,
            None => {
                let keys: Vec<String> = bags
                    .iter()
                    .filter_map(|b| b.name.as_ref().map(|n| format!("{n:?} (private key)")))
                    .collect();
                let certs: Vec<String> = all
                    .iter()
                    .filter_map(alias_of)
                    .filter(|a| !keys.iter().any(|k| k.starts_with(&format!("{a:?}"))))
                    .map(|a| format!("{a:?} (certificate)"))
                    .collect();
                let listing = [keys, certs].concat();
                return Err(self.fail(format!(
                    "no private key entry with alias {:?}; the keystore holds: {}",
                    self.alias,
                    if listing.is_empty() {
                        "no named entries".into()
                    } else {
                        listing.join(", ")
                    }
                )));
            }
        };
        let certs = chain_for(&chosen, &self.alias, all);
        if certs.is_empty() {
            return Err(self.fail(format!(
                "entry {:?}: no certificate in the keystore matches its key",
                self.alias
            )));
        }
        Ok(Decrypted {
            key: chosen,
            certs: Some(certs),
        })
    }
}

/// A key bag found in a plaintext SafeContents.
struct KeyBag<'a> {
    /// Its `friendlyName`.
    name: Option<String>,
    /// EncryptedPrivateKeyInfo (shrouded) or PrivateKeyInfo DER.
    value: &'a [u8],
    shrouded: bool,
}

fn decrypt_bag(bag: &KeyBag<'_>, key: &Passphrase) -> Result<PKey<Private>, ErrorStack> {
    if !bag.shrouded {
        return PKey::private_key_from_pkcs8(bag.value);
    }
    // OpenSSL asks for the password and copies it into a buffer it
    // cleanses; no other copy is made.
    PKey::private_key_from_pkcs8_callback(bag.value, |buf: &mut [u8]| {
        let p = key.expose();
        let dst = buf.get_mut(..p.len()).ok_or_else(ErrorStack::get)?;
        dst.copy_from_slice(p);
        Ok(p.len())
    })
}

/// The DER elements inside a constructed element's contents.
fn items(bytes: &[u8]) -> der::Result<Vec<der::asn1::AnyRef<'_>>> {
    let mut r = der::SliceReader::new(bytes)?;
    let mut out = Vec::new();
    while !r.is_finished() {
        out.push(r.decode()?);
    }
    Ok(out)
}

/// `ContentInfo` of type `data`: the octets it carries (None for any other
/// type, such as the encrypted contents holding certificates).
fn data_content<'a>(ci: der::asn1::AnyRef<'a>) -> der::Result<Option<&'a [u8]>> {
    let parts = items(ci.value())?;
    let (Some(oid), Some(explicit)) = (parts.first(), parts.get(1)) else {
        return Ok(None);
    };
    if oid.tag() != der::Tag::ObjectIdentifier || oid.value() != OID_DATA {
        return Ok(None);
    }
    let inner: der::asn1::OctetStringRef<'a> =
        der::asn1::AnyRef::try_from(explicit.value())?.decode_as()?;
    Ok(Some(inner.as_bytes()))
}

/// The key bags (with their friendly names) in a PKCS#12 file's plaintext
/// SafeContents. Bounded by the file: the `der` reader checks every length
/// against its input.
fn key_bags(pfx: &[u8]) -> der::Result<Vec<KeyBag<'_>>> {
    let top = items(der::asn1::AnyRef::try_from(pfx)?.value())?;
    let auth_safe = top
        .get(1)
        .copied()
        .ok_or_else(|| der::Error::from(der::ErrorKind::Failed))?;
    let Some(safes) = data_content(auth_safe)? else {
        // Public-key integrity mode: nothing readable without keys.
        return Ok(Vec::new());
    };
    let mut bags = Vec::new();
    for ci in items(der::asn1::AnyRef::try_from(safes)?.value())? {
        let Some(contents) = data_content(ci)? else {
            continue;
        };
        for bag in items(der::asn1::AnyRef::try_from(contents)?.value())? {
            let parts = items(bag.value())?;
            let (Some(id), Some(value)) = (parts.first(), parts.get(1)) else {
                continue;
            };
            let shrouded = id.value() == OID_SHROUDED_KEY_BAG;
            if id.tag() != der::Tag::ObjectIdentifier || !(shrouded || id.value() == OID_KEY_BAG) {
                continue;
            }
            let name = match parts.get(2) {
                Some(attrs) => friendly_name(attrs.value())?,
                None => None,
            };
            bags.push(KeyBag {
                name,
                value: value.value(),
                shrouded,
            });
        }
    }
    Ok(bags)
}

/// The `friendlyName` (a BMPString) among a bag's attributes.
fn friendly_name(attrs: &[u8]) -> der::Result<Option<String>> {
    for attr in items(attrs)? {
        let parts = items(attr.value())?;
        let (Some(id), Some(values)) = (parts.first(), parts.get(1)) else {
            continue;
        };
        if id.value() != OID_FRIENDLY_NAME {
            continue;
        }
        let Some(v) = items(values.value())?.first().copied() else {
            continue;
        };
        if v.tag() != der::Tag::BmpString || v.value().len() % 2 != 0 {
            continue;
        }
        let units: Vec<u16> = v
            .value()
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        return Ok(Some(String::from_utf16_lossy(&units)));
    }
    Ok(None)
}

/// The chain for `key` among `certs`: the certificate with its public key
/// (preferring one named `alias`), then its issuers as far as they are
/// present.
fn chain_for(key: &PKey<Private>, alias: &str, certs: Vec<X509>) -> Vec<X509> {
    let matches = |c: &X509| c.public_key().is_ok_and(|p| key.public_eq(&p));
    let named = |c: &X509| {
        c.alias()
            .is_some_and(|a| jks::same_alias(&String::from_utf8_lossy(a), alias))
    };
    let mut rest = certs;
    let pos = rest
        .iter()
        .position(|c| matches(c) && named(c))
        .or_else(|| rest.iter().position(matches));
    let Some(pos) = pos else {
        return Vec::new();
    };
    let mut chain = vec![rest.remove(pos)];
    while chain.len() < MAX_CHAIN {
        let Some(last) = chain.last() else { break };
        // A self-issued certificate ends the chain.
        if last.issuer_name().try_cmp(last.subject_name()).ok() == Some(std::cmp::Ordering::Equal) {
            break;
        }
        let next = rest.iter().position(|c| {
            c.subject_name().try_cmp(last.issuer_name()).ok() == Some(std::cmp::Ordering::Equal)
        });
        match next {
            Some(i) => chain.push(rest.remove(i)),
            None => break,
        }
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_pair_comes_apart_as_it_went_in() {
        let s = Passphrase::from_slice(b"store").unwrap();
        let k = Passphrase::from_slice("kéy".as_bytes()).unwrap();
        let p = pack(&s, &k).unwrap();
        let (s2, k2) = unpack(&p).unwrap();
        assert_eq!(s2.expose(), b"store");
        assert_eq!(k2.expose(), "kéy".as_bytes());
        assert!(unpack(&Passphrase::from_slice(b"\xff").unwrap()).is_none());
        assert!(unpack(&Passphrase::from_slice(b"9:abc").unwrap()).is_none());
        assert!(unpack(&Passphrase::from_slice(b"3:abc").unwrap()).is_none());
        let long = Passphrase::from_slice(&[b'a'; 600]).unwrap();
        assert!(pack(&long, &long).is_err());
    }

    /// Damaged or truncated PKCS#12 framing gives an error, never a panic.
    #[test]
    fn walking_a_damaged_bundle_never_panics() {
        let group =
            openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap()).unwrap();
        let mut name = openssl::x509::X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "t").unwrap();
        let name = name.build();
        let mut b = openssl::x509::X509Builder::new().unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(&key, openssl::hash::MessageDigest::sha256())
            .unwrap();
        let cert = b.build();
        let der = openssl::pkcs12::Pkcs12::builder()
            .name("first")
            .pkey(&key)
            .cert(&cert)
            .build2("pw")
            .unwrap()
            .to_der()
            .unwrap();
        let bags = key_bags(&der).unwrap();
        assert_eq!(bags.len(), 1);
        assert_eq!(bags[0].name.as_deref(), Some("first"));
        assert!(bags[0].shrouded);
        for n in 0..der.len() {
            let _ = key_bags(&der[..n]);
        }
        for i in 0..der.len() {
            let mut d = der.clone();
            d[i] ^= 0x80;
            let _ = key_bags(&d);
        }
    }
}
