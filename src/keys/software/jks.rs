//! A small reader of Sun's JKS keystore format (`keytool -storetype JKS`):
//! no maintained crate reads it, and none keeps the passwords and the
//! recovered key in wiped memory.
//!
//! The format (OpenJDK `sun.security.provider.JavaKeyStore`), all integers
//! big-endian:
//!
//! ```text
//! u32 magic 0xFEEDFEED | u32 version (1, 2) | u32 count
//! count × entry:
//!   u32 tag (1 private key, 2 trusted certificate) | UTF alias | u64 date
//!   tag 1: u32 len, EncryptedPrivateKeyInfo | u32 n | n × cert
//!   tag 2: cert
//!   cert: (version 2: UTF type, "X.509") | u32 len, DER
//! 20 bytes: SHA-1(UTF-16BE(store password) ‖ "Mighty Aphrodite" ‖ all above)
//! ```
//!
//! `UTF` is Java's `writeUTF`: a u16 length and modified UTF-8. A private
//! key is protected by Sun's `KeyProtector` (OID 1.3.6.1.4.1.42.2.17.1.1):
//! the protected bytes are `salt(20) ‖ ciphertext ‖ check(20)`; the key
//! stream is `d1 = SHA-1(P ‖ salt)`, `d(i+1) = SHA-1(P ‖ d(i))` with `P`
//! the key password as UTF-16BE; the plaintext (a PKCS#8 PrivateKeyInfo) is
//! the ciphertext XOR the stream, and `check` must be `SHA-1(P ‖ plain)`.
//!
//! Order of checks: the magic (JCEKS is told apart), then the integrity
//! digest under the store password (constant time) before any byte of the
//! body is interpreted, then the structure, with every length bounded
//! against the remaining input and the whole body consumed exactly. The key
//! check is compared in constant time. Password encodings and the recovered
//! key live in zeroizing buffers of exact size.

use der::{Reader as _, Tagged as _};
use openssl::sha::Sha1;
use zeroize::Zeroizing;

use crate::secret::Passphrase;

/// `0xFEEDFEED`: JKS.
const MAGIC_JKS: u32 = 0xFEED_FEED;
/// `0xCECECECE`: JCEKS (Sun's JCE keystore, keys under PBEWithMD5AndTripleDES).
const MAGIC_JCEKS: u32 = 0xCECE_CECE;
/// Entries in one store.
const MAX_ENTRIES: u32 = 1024;
/// Certificates in one chain.
const MAX_CHAIN: u32 = 16;
/// One certificate or one protected key.
const MAX_BLOB: u32 = 64 * 1024;
/// An alias or a certificate type (modified UTF-8 bytes).
const MAX_TEXT: u16 = 1024;
/// Sun's KeyProtector algorithm, DER contents of the OID.
const KEY_PROTECTOR_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x2a, 0x02, 0x11, 0x01, 0x01];
const SALT_LEN: usize = 20;
const DIGEST_LEN: usize = 20;
/// magic, version, count.
const HEADER_LEN: usize = 12;

/// What a keystore file is, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    /// Sun JKS.
    Jks,
    /// Sun JCEKS.
    Jceks,
    /// A DER SEQUENCE: presumably PKCS#12.
    Pkcs12,
    /// Something else.
    Unknown,
}

/// Tells a keystore's format from its first bytes.
pub fn detect(bytes: &[u8]) -> Detected {
    match bytes.get(..4) {
        Some(&[a, b, c, d]) if u32::from_be_bytes([a, b, c, d]) == MAGIC_JKS => Detected::Jks,
        Some(&[a, b, c, d]) if u32::from_be_bytes([a, b, c, d]) == MAGIC_JCEKS => Detected::Jceks,
        _ if bytes.first() == Some(&0x30) => Detected::Pkcs12,
        _ => Detected::Unknown,
    }
}

/// Why a JKS store or entry cannot be read. No variant holds secret bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JksError {
    /// Not a JKS file at all.
    #[error("not a JKS keystore (no 0xFEEDFEED magic)")]
    NotJks,
    /// The structure is broken or over a bound.
    #[error("damaged JKS keystore: {0}")]
    Malformed(String),
    /// The integrity digest does not match: wrong store password, or an
    /// altered file.
    #[error(
        "the keystore's integrity check failed: wrong store password (or the file was altered)"
    )]
    Integrity,
    /// A password that is not UTF-8 text (Java passwords are characters).
    #[error("the {0} password is not UTF-8 text")]
    PasswordNotText(&'static str),
    /// No entry has this alias.
    #[error("no entry with alias {alias:?}; the keystore holds: {aliases}")]
    NoSuchAlias {
        /// The alias asked for.
        alias: String,
        /// Those present, with their kinds.
        aliases: String,
    },
    /// The entry is a trusted certificate, not a key.
    #[error(
        "entry {0:?} is a trusted certificate, not a private key entry (keytool -list shows \
         PrivateKeyEntry for the right one)"
    )]
    NotAKey(String),
    /// The key password does not open the entry.
    #[error("wrong key password for alias {0:?}")]
    WrongKeyPassword(String),
    /// A key protected some other way than Sun's KeyProtector.
    #[error("entry {0:?} is protected by an algorithm this reader does not know")]
    UnknownProtection(String),
}

/// One entry of a JKS store. No `Debug`: it holds the protected key.
enum Entry<'a> {
    Key {
        protected: &'a [u8],
        chain: Vec<&'a [u8]>,
    },
    Trusted,
}

/// A parsed JKS store whose integrity was checked with the store password.
/// `Debug` shows the aliases only, never the protected keys.
pub struct Jks<'a> {
    entries: Vec<(String, Entry<'a>)>,
}

impl std::fmt::Debug for Jks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|(alias, _)| alias))
            .finish()
    }
}

/// A private-key entry opened: the PKCS#8 DER key (wiped on drop) and
/// the certificate chain (DER, leaf first).
pub type KeyEntry<'a> = (Zeroizing<Vec<u8>>, Vec<&'a [u8]>);

/// A bounded big-endian reader over the store's bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

fn malformed(what: impl Into<String>) -> JksError {
    JksError::Malformed(what.into())
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], JksError> {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let s = rest
            .get(..n)
            .ok_or_else(|| malformed(format!("truncated in {what}")))?;
        self.pos += n;
        Ok(s)
    }

    fn u16(&mut self, what: &str) -> Result<u16, JksError> {
        match *self.take(2, what)? {
            [a, b] => Ok(u16::from_be_bytes([a, b])),
            _ => Err(malformed(format!("truncated in {what}"))),
        }
    }

    fn u32(&mut self, what: &str) -> Result<u32, JksError> {
        match *self.take(4, what)? {
            [a, b, c, d] => Ok(u32::from_be_bytes([a, b, c, d])),
            _ => Err(malformed(format!("truncated in {what}"))),
        }
    }

    fn text(&mut self, what: &str) -> Result<String, JksError> {
        let n = self.u16(what)?;
        if n > MAX_TEXT {
            return Err(malformed(format!(
                "{what} of {n} bytes (at most {MAX_TEXT})"
            )));
        }
        // Modified UTF-8 differs from UTF-8 only for NUL and characters
        // outside the BMP, which aliases do not use; shown lossily.
        Ok(String::from_utf8_lossy(self.take(usize::from(n), what)?).into_owned())
    }

    fn blob(&mut self, what: &str) -> Result<&'a [u8], JksError> {
        let n = self.u32(what)?;
        if n == 0 || n > MAX_BLOB {
            return Err(malformed(format!("{what} of {n} bytes (1 to {MAX_BLOB})")));
        }
        // u32 fits usize on every target this builds for (64-bit Linux).
        self.take(n as usize, what)
    }

    fn cert(&mut self, version: u32) -> Result<&'a [u8], JksError> {
        if version == 2 {
            let kind = self.text("a certificate type")?;
            if kind != "X.509" {
                return Err(malformed(format!("a certificate of type {kind:?}")));
            }
        }
        self.blob("a certificate")
    }
}

/// The UTF-16BE bytes of a password, as Java hashes its `char[]`.
fn utf16be(pass: &Passphrase, which: &'static str) -> Result<Zeroizing<Vec<u8>>, JksError> {
    let text = std::str::from_utf8(pass.expose()).map_err(|_| JksError::PasswordNotText(which))?;
    let units = text.encode_utf16().count();
    let mut out = Zeroizing::new(Vec::with_capacity(units * 2));
    for u in text.encode_utf16() {
        out.extend_from_slice(&u.to_be_bytes());
    }
    Ok(out)
}

/// Java's alias comparison for JKS (aliases are stored lower-cased).
pub(crate) fn same_alias(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

impl<'a> Jks<'a> {
    /// Checks the integrity digest of `bytes` under `store_password`, then
    /// parses them.
    pub fn open(bytes: &'a [u8], store_password: &Passphrase) -> Result<Self, JksError> {
        match detect(bytes) {
            Detected::Jks => {}
            _ => return Err(JksError::NotJks),
        }
        let body_len = bytes
            .len()
            .checked_sub(DIGEST_LEN)
            .filter(|&n| n >= HEADER_LEN)
            .ok_or_else(|| malformed("truncated: shorter than a header and its digest"))?;
        let (body, digest) = bytes.split_at(body_len);
        let pass = utf16be(store_password, "store")?;
        let mut h = Sha1::new();
        h.update(&pass);
        h.update(b"Mighty Aphrodite");
        h.update(body);
        if !openssl::memcmp::eq(&h.finish(), digest) {
            return Err(JksError::Integrity);
        }
        drop(pass);
        // Only now, with the body known to be the store's, is it parsed.
        let mut r = Reader {
            bytes: body,
            pos: 4,
        };
        let version = r.u32("the version")?;
        if version != 1 && version != 2 {
            return Err(malformed(format!("version {version} (1 or 2)")));
        }
        let count = r.u32("the entry count")?;
        if count > MAX_ENTRIES {
            return Err(malformed(format!(
                "{count} entries (at most {MAX_ENTRIES})"
            )));
        }
        let mut entries = Vec::new();
        for _ in 0..count {
            let tag = r.u32("an entry tag")?;
            let alias = r.text("an alias")?;
            r.take(8, "an entry date")?;
            let entry = match tag {
                1 => {
                    let protected = r.blob("a protected key")?;
                    let n = r.u32("a chain length")?;
                    if n > MAX_CHAIN {
                        return Err(malformed(format!(
                            "a chain of {n} certificates (at most {MAX_CHAIN})"
                        )));
                    }
                    let chain = (0..n)
                        .map(|_| r.cert(version))
                        .collect::<Result<Vec<_>, _>>()?;
                    Entry::Key { protected, chain }
                }
                2 => {
                    r.cert(version)?;
                    Entry::Trusted
                }
                other => return Err(malformed(format!("entry tag {other}"))),
            };
            entries.push((alias, entry));
        }
        if r.pos != body.len() {
            return Err(malformed("bytes after the last entry"));
        }
        Ok(Self { entries })
    }

    /// The aliases with their kinds, for messages.
    pub fn listing(&self) -> String {
        if self.entries.is_empty() {
            return "no entries".into();
        }
        self.entries
            .iter()
            .map(|(a, e)| match e {
                Entry::Key { .. } => format!("{a:?} (private key)"),
                Entry::Trusted => format!("{a:?} (trusted certificate)"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The private-key entry `alias` (matched as Java does: JKS aliases
    /// are case-insensitive), its key recovered with `key_password`: the
    /// PKCS#8 DER key and the certificate chain (DER, leaf first).
    pub fn private_key(
        &self,
        alias: &str,
        key_password: &Passphrase,
    ) -> Result<KeyEntry<'a>, JksError> {
        let (name, entry) = self
            .entries
            .iter()
            .find(|(a, _)| same_alias(a, alias))
            .ok_or_else(|| JksError::NoSuchAlias {
                alias: alias.to_owned(),
                aliases: self.listing(),
            })?;
        let Entry::Key { protected, chain } = entry else {
            return Err(JksError::NotAKey(name.clone()));
        };
        let key = recover(protected, key_password, name)?;
        Ok((key, chain.clone()))
    }
}

fn der_malformed(what: &str) -> impl Fn(der::Error) -> JksError + '_ {
    move |e| malformed(format!("{what}: {e}"))
}

/// Sun's KeyProtector: from the DER EncryptedPrivateKeyInfo to the PKCS#8
/// PrivateKeyInfo, checked.
fn recover(
    encoded: &[u8],
    key_password: &Passphrase,
    alias: &str,
) -> Result<Zeroizing<Vec<u8>>, JksError> {
    // EncryptedPrivateKeyInfo ::= SEQUENCE { AlgorithmIdentifier, OCTET STRING }
    let what = "the protected key";
    let (oid, data) = der::asn1::AnyRef::try_from(encoded)
        .and_then(|info| {
            info.sequence(|r| {
                let alg: der::asn1::AnyRef<'_> = r.decode()?;
                let oid = alg.sequence(|a| {
                    let oid: der::asn1::AnyRef<'_> = a.decode()?;
                    // The parameters (NULL) are not used.
                    while !a.is_finished() {
                        let _: der::asn1::AnyRef<'_> = a.decode()?;
                    }
                    Ok(oid)
                })?;
                let data: der::asn1::OctetStringRef<'_> = r.decode()?;
                Ok((oid, data))
            })
        })
        .map_err(der_malformed(what))?;
    if oid.tag() != der::Tag::ObjectIdentifier || oid.value() != KEY_PROTECTOR_OID {
        return Err(JksError::UnknownProtection(alias.to_owned()));
    }
    let data = data.as_bytes();
    if data.len() <= SALT_LEN + DIGEST_LEN {
        return Err(malformed("a protected key too short to hold a key"));
    }
    let (salt, rest) = data.split_at(SALT_LEN);
    let (cipher, check) = rest.split_at(rest.len() - DIGEST_LEN);
    let pass = utf16be(key_password, "key")?;
    let mut plain = Zeroizing::new(Vec::with_capacity(cipher.len()));
    let mut block = Zeroizing::new([0u8; DIGEST_LEN]);
    block.copy_from_slice(salt);
    for chunk in cipher.chunks(DIGEST_LEN) {
        let mut h = Sha1::new();
        h.update(&pass);
        h.update(&*block);
        *block = h.finish();
        plain.extend(chunk.iter().zip(block.iter()).map(|(c, k)| c ^ k));
    }
    let mut h = Sha1::new();
    h.update(&pass);
    h.update(&plain);
    if !openssl::memcmp::eq(&h.finish(), check) {
        return Err(JksError::WrongKeyPassword(alias.to_owned()));
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(s: &str) -> Passphrase {
        Passphrase::from_slice(s.as_bytes()).unwrap()
    }

    /// The inverse of [`recover`], for tests: Sun's KeyProtector.protect.
    fn protect(plain: &[u8], password: &str, salt: [u8; 20]) -> Vec<u8> {
        let p = utf16be(&pass(password), "key").unwrap();
        let mut out = salt.to_vec();
        let mut block = salt;
        for chunk in plain.chunks(20) {
            let mut h = Sha1::new();
            h.update(&p);
            h.update(&block);
            block = h.finish();
            out.extend(chunk.iter().zip(block.iter()).map(|(c, k)| c ^ k));
        }
        let mut h = Sha1::new();
        h.update(&p);
        h.update(plain);
        out.extend(h.finish());
        let mut alg = vec![0x06, KEY_PROTECTOR_OID.len() as u8];
        alg.extend(KEY_PROTECTOR_OID);
        alg.extend([0x05, 0x00]);
        let mut body = vec![0x30, alg.len() as u8];
        body.extend(alg);
        body.push(0x04);
        body.extend(der_len(out.len()));
        body.extend(out);
        let mut der = vec![0x30];
        der.extend(der_len(body.len()));
        der.extend(body);
        der
    }

    fn der_len(n: usize) -> Vec<u8> {
        // Minimal DER, as Java writes it (the `der` crate refuses others).
        if n < 0x80 {
            vec![n as u8]
        } else if n < 0x100 {
            vec![0x81, n as u8]
        } else {
            vec![0x82, (n >> 8) as u8, n as u8]
        }
    }

    fn utf(s: &str) -> Vec<u8> {
        let mut v = (s.len() as u16).to_be_bytes().to_vec();
        v.extend(s.as_bytes());
        v
    }

    /// Appends the integrity digest under `store_pass` to `body`.
    fn seal(mut body: Vec<u8>, store_pass: &str) -> Vec<u8> {
        let p = utf16be(&pass(store_pass), "store").unwrap();
        let mut h = Sha1::new();
        h.update(&p);
        h.update(b"Mighty Aphrodite");
        h.update(&body);
        body.extend(h.finish());
        body
    }

    /// The body of a version-2 store with a key entry and a trusted
    /// certificate.
    fn body(key_pass: &str, key: &[u8], cert: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(MAGIC_JKS.to_be_bytes());
        b.extend(2u32.to_be_bytes());
        b.extend(2u32.to_be_bytes());
        b.extend(1u32.to_be_bytes());
        b.extend(utf("acme"));
        b.extend(0u64.to_be_bytes());
        let protected = protect(key, key_pass, [7; 20]);
        b.extend((protected.len() as u32).to_be_bytes());
        b.extend(protected);
        b.extend(1u32.to_be_bytes());
        b.extend(utf("X.509"));
        b.extend((cert.len() as u32).to_be_bytes());
        b.extend(cert);
        b.extend(2u32.to_be_bytes());
        b.extend(utf("root"));
        b.extend(0u64.to_be_bytes());
        b.extend(utf("X.509"));
        b.extend((cert.len() as u32).to_be_bytes());
        b.extend(cert);
        b
    }

    #[test]
    fn reads_its_own_inverse_and_tells_every_failure_apart() {
        let key: Vec<u8> = (0..=120u8).collect();
        let ks = seal(body("keypw-é", &key, b"cert-der"), "storepw");
        let jks = Jks::open(&ks, &pass("storepw")).unwrap();
        let (got, chain) = jks.private_key("ACME", &pass("keypw-é")).unwrap();
        assert_eq!(&*got, &key);
        assert_eq!(chain, vec![&b"cert-der"[..]]);

        assert_eq!(
            Jks::open(&ks, &pass("storepW")).unwrap_err(),
            JksError::Integrity
        );
        assert_eq!(
            jks.private_key("acme", &pass("keypw-e")).unwrap_err(),
            JksError::WrongKeyPassword("acme".into())
        );
        assert_eq!(
            jks.private_key("root", &pass("x")).unwrap_err(),
            JksError::NotAKey("root".into())
        );
        let e = jks
            .private_key("other", &pass("x"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(r#""acme" (private key), "root" (trusted certificate)"#),
            "{e}"
        );
        // Any change to the digested bytes fails the integrity check.
        let mut altered = ks.clone();
        altered[60] ^= 1;
        assert_eq!(
            Jks::open(&altered, &pass("storepw")).unwrap_err(),
            JksError::Integrity
        );
        assert_eq!(detect(&MAGIC_JCEKS.to_be_bytes()), Detected::Jceks);
        assert_eq!(
            Jks::open(&MAGIC_JCEKS.to_be_bytes(), &pass("x")).unwrap_err(),
            JksError::NotJks
        );
        assert_eq!(detect(b"\x30\x82"), Detected::Pkcs12);
        assert_eq!(detect(b"\xfe"), Detected::Unknown);
    }

    /// A store whose digest is right (its writer had the password) but whose
    /// structure is damaged, truncated anywhere, or declares huge lengths:
    /// always a `Malformed` error, never a panic or a huge allocation.
    #[test]
    fn damaged_stores_with_valid_digests_are_refused() {
        let key: Vec<u8> = (0..64u8).collect();
        let b = body("pw", &key, b"c");
        // Truncated anywhere (and re-sealed): an error.
        for n in 0..b.len() {
            match Jks::open(&seal(b[..n].to_vec(), "pw"), &pass("pw")) {
                Err(JksError::Malformed(_)) | Err(JksError::NotJks) => {}
                other => panic!("truncated at {n}: {other:?}"),
            }
        }
        // Unsealed truncations: never a panic.
        for n in 0..b.len() + 20 {
            assert!(Jks::open(&seal(b.clone(), "pw")[..n], &pass("pw")).is_err());
        }
        // Every single-bit change of the body, re-sealed: an error or a
        // store (the change hit a date or key byte), never a panic.
        for i in 0..b.len() {
            for bit in [0x01u8, 0x80] {
                let mut d = b.clone();
                d[i] ^= bit;
                if let Ok(j) = Jks::open(&seal(d, "pw"), &pass("pw")) {
                    let _ = j.private_key("acme", &pass("pw"));
                }
            }
        }
        // Huge declared counts and lengths are refused before allocating.
        let mut huge = b[..12].to_vec();
        huge[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            Jks::open(&seal(huge, "pw"), &pass("pw")),
            Err(JksError::Malformed(m)) if m.contains("entries")
        ));
        let mut huge_key = b.clone();
        // The protected key's length follows tag, alias "acme", date.
        let at = 12 + 4 + 2 + 4 + 8;
        huge_key[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            Jks::open(&seal(huge_key, "pw"), &pass("pw")),
            Err(JksError::Malformed(m)) if m.contains("protected key")
        ));
        let mut longer = b.clone();
        longer.push(0);
        assert!(matches!(
            Jks::open(&seal(longer, "pw"), &pass("pw")),
            Err(JksError::Malformed(m)) if m.contains("after the last entry")
        ));
        let mut v3 = b.clone();
        v3[7] = 3;
        assert!(matches!(
            Jks::open(&seal(v3, "pw"), &pass("pw")),
            Err(JksError::Malformed(m)) if m.contains("version 3")
        ));
    }

    /// A protected key whose DER is broken or whose algorithm is another.
    #[test]
    fn protected_key_framing_is_checked() {
        let p = pass("pw");
        assert!(matches!(
            recover(b"\x30\x05\x30", &p, "a"),
            Err(JksError::Malformed(_))
        ));
        let mut other = protect(&[1; 30], "pw", [0; 20]);
        // Change the OID's last arc.
        let oid_end = 4 + KEY_PROTECTOR_OID.len() + 1;
        other[oid_end] ^= 0x7f;
        assert_eq!(
            recover(&other, &p, "a").unwrap_err(),
            JksError::UnknownProtection("a".into())
        );
        let ok = protect(&[1; 30], "pw", [0; 20]);
        assert_eq!(&*recover(&ok, &p, "a").unwrap(), &[1; 30]);
        for n in 0..ok.len() {
            assert!(recover(&ok[..n], &p, "a").is_err());
        }
    }
}
