//! The `keyutils` source: a `user` key in a Linux kernel keyring.
//!
//! Store with `keyctl add user "fapi-agent:acme" "$PASS" @u` (or
//! `fapi-agent passphrase store --source keyutils`). Under systemd the
//! default `KeyringMode=private` gives a service its own session keyring;
//! the user keyring (`@u`) stays reachable, which is why it is the default.

use linux_keyutils::{KeyError, KeyRing, KeyRingIdentifier};

use super::{PassphraseSource, SourceError};
use crate::config::KeyringName;
use crate::secret::Passphrase;

/// Looks a key up by description and reads its payload straight into a
/// locked passphrase buffer. It searches and reads only: unlike keyring
/// store crates it never links keys into keyrings as a side effect.
#[derive(Debug)]
pub struct KeyutilsSource {
    description: String,
    keyring: KeyringName,
}

impl KeyutilsSource {
    /// A source for the key `description` in `keyring`.
    pub fn new(description: String, keyring: KeyringName) -> Self {
        Self {
            description,
            keyring,
        }
    }

    fn open_keyring(&self) -> Result<KeyRing, KeyError> {
        open(self.keyring)
    }
}

fn open(ring: KeyringName) -> Result<KeyRing, KeyError> {
    match ring {
        KeyringName::User => KeyRing::from_special_id(KeyRingIdentifier::User, false),
        KeyringName::Session => KeyRing::from_special_id(KeyRingIdentifier::Session, false),
        KeyringName::Process => KeyRing::from_special_id(KeyRingIdentifier::Process, false),
        KeyringName::Persistent => KeyRing::get_persistent(KeyRingIdentifier::Process),
    }
}

/// Stores `pass` as the `user` key `description` in `ring`, replacing the
/// payload of an existing key with that description.
pub fn store(description: &str, ring: KeyringName, pass: &Passphrase) -> Result<(), String> {
    let keyring = open(ring).map_err(|e| format!("cannot open the keyring: {e:?}"))?;
    keyring
        .add_key(description, pass.expose())
        .map(|_| ())
        .map_err(|e| format!("cannot add the key: {e:?}"))
}

impl PassphraseSource for KeyutilsSource {
    fn kind(&self) -> &'static str {
        "keyutils"
    }

    fn describe(&self) -> String {
        let ring = match self.keyring {
            KeyringName::User => "user",
            KeyringName::Session => "session",
            KeyringName::Persistent => "persistent",
            KeyringName::Process => "process",
        };
        format!("keyutils {ring}:{:?}", self.description)
    }

    fn fetch(&self) -> Result<Passphrase, SourceError> {
        let ring = self.open_keyring().map_err(|e| {
            SourceError::unavailable(self, format_args!("cannot open keyring: {e:?}"))
        })?;
        let key = ring.search(&self.description).map_err(|e| match e {
            KeyError::KeyDoesNotExist => SourceError::unavailable(
                self,
                "no such key: add it with `keyctl add user DESCRIPTION PASSPHRASE @u` \
                 (or padd to read it from stdin)",
            ),
            KeyError::AccessDenied => SourceError::refused(
                self,
                "access denied: the key exists but the daemon's user may not read it",
            ),
            other => SourceError::unavailable(self, format_args!("search failed: {other:?}")),
        })?;
        let filled = Passphrase::fill_with(|mut buf| key.read(&mut buf)).map_err(|e| {
            SourceError::unavailable(self, format_args!("reading the key failed: {e:?}"))
        })?;
        filled.map_err(|e| SourceError::invalid_value(self, e))
    }
}
