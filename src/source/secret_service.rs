//! The `secret-service` source: the freedesktop Secret Service on the D-Bus
//! session bus (gnome-keyring, KeePassXC, KWallet).
//!
//! The item is found by its lookup attributes and must be unique. Calls
//! never show a prompt: a locked collection is an error that says to unlock
//! it (log in, or `gnome-keyring-daemon --unlock`), not a hang. The D-Bus
//! calls block, so like every source this runs on a blocking thread, under
//! the daemon's fetch timeout. The session uses Diffie-Hellman transport
//! encryption, so the secret does not cross the bus in clear.

use std::collections::{BTreeMap, HashMap};

use dbus_secret_service::{EncryptionType, Error as SsError, SecretService};
use zeroize::Zeroize;

use super::{PassphraseSource, SourceError};
use crate::secret::Passphrase;

/// Looks one item up by attributes at every fetch.
#[derive(Debug)]
pub struct SecretServiceSource {
    attributes: BTreeMap<String, String>,
}

impl SecretServiceSource {
    /// A source for the item carrying all of `attributes`.
    pub fn new(attributes: BTreeMap<String, String>) -> Self {
        Self { attributes }
    }

    fn attrs(&self) -> HashMap<&str, &str> {
        self.attributes
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    fn why(&self, e: &SsError) -> String {
        match e {
            SsError::Unavailable => "no Secret Service on the session bus (is \
                DBUS_SESSION_BUS_ADDRESS set and gnome-keyring or KeePassXC running?)"
                .into(),
            SsError::Locked | SsError::Prompt => "the collection is locked: unlock it (log in to \
                the desktop session, or `gnome-keyring-daemon --unlock`); the daemon never \
                prompts"
                .into(),
            other => other.to_string(),
        }
    }
}

/// Connects without ever showing a prompt.
fn connect() -> Result<SecretService, SsError> {
    SecretService::connect_with_max_prompt_timeout(EncryptionType::Dh, 0)
}

impl PassphraseSource for SecretServiceSource {
    fn kind(&self) -> &'static str {
        "secret-service"
    }

    fn describe(&self) -> String {
        let attrs: Vec<String> = self
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        format!("secret-service {{{}}}", attrs.join(", "))
    }

    fn fetch(&self) -> Result<Passphrase, SourceError> {
        let ss = connect().map_err(|e| SourceError::unavailable(self, self.why(&e)))?;
        let found = ss
            .search_items(self.attrs())
            .map_err(|e| SourceError::unavailable(self, self.why(&e)))?;
        let item = match (found.unlocked.as_slice(), found.locked.as_slice()) {
            ([one], _) => one,
            ([], []) => {
                return Err(SourceError::unavailable(
                    self,
                    "no item has these attributes: store it with `fapi-agent passphrase store \
                     --source secret-service` or `secret-tool store`",
                ));
            }
            ([], _) => return Err(SourceError::unavailable(self, self.why(&SsError::Locked))),
            (many, _) => {
                return Err(SourceError::refused(
                    self,
                    format_args!(
                        "{} items have these attributes: add an attribute that tells them apart",
                        many.len()
                    ),
                ));
            }
        };
        let mut secret = item
            .get_secret()
            .map_err(|e| SourceError::unavailable(self, self.why(&e)))?;
        let pass = Passphrase::from_slice(trim_newline(&secret));
        secret.zeroize();
        pass.map_err(|e| SourceError::invalid_value(self, e))
    }
}

fn trim_newline(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// Stores `pass` in the default collection under `attributes`, replacing an
/// item with the same attributes (`fapi-agent passphrase store`).
pub fn store(
    label: &str,
    attributes: &BTreeMap<String, String>,
    pass: &Passphrase,
) -> Result<(), String> {
    let src = SecretServiceSource::new(attributes.clone());
    let ss = connect().map_err(|e| src.why(&e))?;
    let collection = ss.get_default_collection().map_err(|e| src.why(&e))?;
    if collection.is_locked().map_err(|e| src.why(&e))? {
        return Err(src.why(&SsError::Locked));
    }
    collection
        .create_item(label, src.attrs(), pass.expose(), true, "text/plain")
        .map_err(|e| src.why(&e))?;
    Ok(())
}
