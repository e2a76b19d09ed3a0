//! Secret value types.
//!
//! A [`Passphrase`] and [`SecretBytes`] own secret material. Both wipe
//! themselves on drop, never grow (so no reallocation leaves a copy behind),
//! print only `[REDACTED]` in `Debug`, and have no `Display`. Public values
//! (JWKs, certificates, audit records) are different types elsewhere;
//! nothing converts a secret into them implicitly.

use std::fmt;

use zeroize::{Zeroize, Zeroizing};

/// Longest passphrase accepted, in bytes. The buffer holds one more byte for
/// the NUL terminator OpenSSL's C APIs need.
pub const MAX_PASSPHRASE_LEN: usize = 1023;

/// A key-file passphrase in a fixed-size, page-locked, zeroizing buffer.
///
/// The buffer is allocated once at its full size and never reallocated, so
/// reading a passphrase into it leaves no stray copies; it is locked in RAM
/// and excluded from core dumps where the OS allows ([`crate::sys::mem::SecretPage`]),
/// and wiped when dropped.
pub struct Passphrase {
    buf: Box<crate::sys::mem::SecretPage>,
    len: usize,
}

/// Why bytes could not become a [`Passphrase`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PassphraseError {
    /// Longer than [`MAX_PASSPHRASE_LEN`].
    #[error("the passphrase is longer than {MAX_PASSPHRASE_LEN} bytes")]
    TooLong,
    /// Empty after trimming.
    #[error("the passphrase is empty")]
    Empty,
    /// Contains a NUL byte, which OpenSSL's C interfaces cannot take.
    #[error("the passphrase contains a NUL byte")]
    ContainsNul,
}

impl Passphrase {
    /// Fills a new passphrase by letting `fill` write directly into the locked
    /// buffer; `fill` returns how many bytes it wrote. Reading straight into
    /// the final buffer is what keeps secrets out of intermediate allocations.
    ///
    /// One trailing `\n` (or `\r\n`) is removed, as files and command output
    /// usually end with one.
    pub fn fill_with<E>(
        fill: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<Result<Self, PassphraseError>, E> {
        let mut p = Self::empty();
        // The last byte stays reserved for the NUL terminator; offering one
        // byte more than the maximum lets us detect an over-long input.
        let n = fill(&mut p.buf[..=MAX_PASSPHRASE_LEN])?;
        if n > MAX_PASSPHRASE_LEN {
            return Ok(Err(PassphraseError::TooLong));
        }
        p.len = n;
        p.trim_trailing_newline();
        Ok(p.validate())
    }

    /// Copies a passphrase from a byte slice (the caller wipes its own copy).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, PassphraseError> {
        if bytes.len() > MAX_PASSPHRASE_LEN {
            return Err(PassphraseError::TooLong);
        }
        let mut p = Self::empty();
        p.buf[..bytes.len()].copy_from_slice(bytes);
        p.len = bytes.len();
        p.validate()
    }

    /// A fresh random passphrase of `len` printable characters (base64url
    /// alphabet) from OpenSSL's CSPRNG, for throwaway credentials.
    pub fn random(len: usize) -> Result<Self, openssl::error::ErrorStack> {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let len = len.min(MAX_PASSPHRASE_LEN);
        let mut p = Self::empty();
        openssl::rand::rand_bytes(&mut p.buf[..len])?;
        for b in &mut p.buf[..len] {
            *b = ALPHABET[usize::from(*b & 63)];
        }
        p.len = len;
        Ok(p)
    }

    /// The passphrase bytes, without terminator.
    pub fn expose(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The passphrase followed by a NUL byte, for C interfaces.
    pub fn expose_nul_terminated(&self) -> &[u8] {
        // `validate` guarantees no interior NUL and `len <= MAX_PASSPHRASE_LEN`,
        // and every byte past `len` is zero, so `buf[len]` is the terminator.
        &self.buf[..=self.len]
    }

    /// A copy in a new locked buffer.
    pub fn duplicate(&self) -> Self {
        let mut p = Self::empty();
        p.buf[..self.len].copy_from_slice(self.expose());
        p.len = self.len;
        p
    }

    fn empty() -> Self {
        Self {
            buf: crate::sys::mem::SecretPage::new_boxed(),
            len: 0,
        }
    }

    fn trim_trailing_newline(&mut self) {
        if self.len > 0 && self.buf[self.len - 1] == b'\n' {
            self.len -= 1;
            self.buf[self.len] = 0;
            if self.len > 0 && self.buf[self.len - 1] == b'\r' {
                self.len -= 1;
                self.buf[self.len] = 0;
            }
        }
    }

    fn validate(mut self) -> Result<Self, PassphraseError> {
        // Anything a fill wrote past `len` must not survive, both for hygiene
        // and so that `buf[len]` is a terminator.
        self.buf[self.len..=MAX_PASSPHRASE_LEN].zeroize();
        if self.len == 0 {
            return Err(PassphraseError::Empty);
        }
        if self.expose().contains(&0) {
            return Err(PassphraseError::ContainsNul);
        }
        Ok(self)
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase([REDACTED])")
    }
}

/// Secret bytes of exact size (a decrypted shared secret, an exported key):
/// wiped on drop, redacted in `Debug`.
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Takes ownership of `bytes`; shrinks first so no spare capacity holds
    /// anything the wipe would miss.
    pub fn new(mut bytes: Vec<u8>) -> Self {
        if bytes.capacity() != bytes.len() {
            // Copy into an exact-size allocation, then wipe the original.
            let exact = bytes.as_slice().to_vec();
            bytes.zeroize();
            return Self(Zeroizing::new(exact));
        }
        Self(Zeroizing::new(bytes))
    }

    /// The secret bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Hands the bytes to a consumer that cannot take a wiping type (a
    /// protobuf message about to be encoded); the caller owns the exposure.
    pub fn into_unprotected_vec(mut self) -> Vec<u8> {
        std::mem::take(&mut *self.0)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passphrase_trims_one_newline_and_is_nul_terminated() {
        let p = Passphrase::from_slice(b"hunter2\n").unwrap();
        // from_slice does not trim: only fill_with (reading files/stdout) does.
        assert_eq!(p.expose(), b"hunter2\n");
        let p = Passphrase::fill_with::<()>(|buf| {
            buf[..10].copy_from_slice(b"hunter2\r\n\n");
            Ok(10)
        })
        .unwrap()
        .unwrap();
        assert_eq!(p.expose(), b"hunter2\r\n");
        assert_eq!(p.expose_nul_terminated(), b"hunter2\r\n\0");
    }

    #[test]
    fn passphrase_rejects_bad_input() {
        assert_eq!(
            Passphrase::from_slice(b"").unwrap_err(),
            PassphraseError::Empty
        );
        assert_eq!(
            Passphrase::from_slice(b"a\0b").unwrap_err(),
            PassphraseError::ContainsNul
        );
        assert_eq!(
            Passphrase::from_slice(&[b'x'; MAX_PASSPHRASE_LEN + 1]).unwrap_err(),
            PassphraseError::TooLong
        );
        let over = Passphrase::fill_with::<()>(|buf| {
            buf.fill(b'x');
            Ok(buf.len())
        })
        .unwrap();
        assert_eq!(over.unwrap_err(), PassphraseError::TooLong);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let p = Passphrase::from_slice(b"correct horse").unwrap();
        let s = SecretBytes::new(b"shared secret".to_vec());
        let printed = format!("{p:?} {s:?}");
        assert!(!printed.contains("horse") && !printed.contains("shared"));
        assert!(printed.contains("REDACTED"));
    }

    #[test]
    fn random_passphrases_differ() {
        let a = Passphrase::random(32).unwrap();
        let b = Passphrase::random(32).unwrap();
        assert_eq!(a.expose().len(), 32);
        assert_ne!(a.expose(), b.expose());
    }
}
