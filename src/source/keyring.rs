//! The `keyring` source: an entry as the Rust `keyring` crate and Python's
//! `keyring` (`keyring set SERVICE USER`) store it, found as is.
//!
//! On Linux both keep entries in the freedesktop Secret Service: Python's
//! `SecretService` backend as an item with attributes `service`,
//! `username` (and `application`) in the default collection; the crate
//! adds `target = "default"`. The lookup goes through the `keyring` crate
//! itself (`Entry::new(service, user)`), which searches for the crate's
//! own items and falls back to the default collection's items without a
//! `target`, so either writer's entry is found, and an entry that two
//! items match is refused rather than guessed.
//!
//! The crate never gives up on a prompt: a locked item would make it ask
//! the desktop to unlock it and wait. So the source first looks for the
//! item itself without any prompt (`dbus-secret-service`, prompt timeout
//! 0) and answers "locked" at once. The crate's answer (a `Vec<u8>`) is
//! copied into a [`Passphrase`] and wiped.

use std::collections::HashMap;

use dbus_secret_service::{EncryptionType, SecretService};
use zeroize::Zeroize;

use super::{PassphraseSource, SourceError};
use crate::secret::Passphrase;

/// One `keyring` entry (service, user), looked up at every fetch.
#[derive(Debug)]
pub struct KeyringSource {
    service: String,
    user: String,
}

impl KeyringSource {
    /// The entry `keyring set SERVICE USER` writes.
    pub fn new(service: String, user: String) -> Self {
        Self { service, user }
    }

    /// What to run to store the entry, for messages.
    fn how_to_store(&self) -> String {
        format!(
            "store it with `keyring set {s} {u}` (Python keyring) or `fapi-agent passphrase \
             store --source keyring --service {s} --user {u}`",
            s = shell_quote(&self.service),
            u = shell_quote(&self.user)
        )
    }

    /// Refuses at once when the only items for the entry are locked (the
    /// crate would prompt and wait).
    fn check_not_locked(&self) -> Result<(), SourceError> {
        let Ok(ss) = SecretService::connect_with_max_prompt_timeout(EncryptionType::Dh, 0) else {
            // The crate reports the bus itself, in its own words.
            return Ok(());
        };
        let attrs = HashMap::from([
            ("service", self.service.as_str()),
            ("username", self.user.as_str()),
        ]);
        match ss.search_items(attrs) {
            Ok(found) if found.unlocked.is_empty() && !found.locked.is_empty() => {
                Err(SourceError::unavailable(
                    self,
                    "the entry's collection is locked: unlock it (log in to the desktop \
                     session, or `gnome-keyring-daemon --unlock`); the daemon never prompts",
                ))
            }
            _ => Ok(()),
        }
    }

    fn why(&self, e: &::keyring::Error) -> SourceError {
        use ::keyring::Error as E;
        match e {
            E::NoEntry => SourceError::refused(
                self,
                format_args!("no such entry in the keyring: {}", self.how_to_store()),
            ),
            E::Ambiguous(items) => SourceError::refused(
                self,
                format_args!(
                    "{} keyring items match this service and user: delete the extra ones \
                     (`keyring del {} {}` removes one)",
                    items.len(),
                    shell_quote(&self.service),
                    shell_quote(&self.user)
                ),
            ),
            E::NoStorageAccess(inner) => SourceError::unavailable(
                self,
                format_args!(
                    "the keyring cannot be read ({inner}): unlock it (log in to the desktop \
                     session, or `gnome-keyring-daemon --unlock`)"
                ),
            ),
            E::PlatformFailure(inner) => SourceError::unavailable(
                self,
                format_args!(
                    "no Secret Service to read the keyring from ({inner}): is \
                     DBUS_SESSION_BUS_ADDRESS set and gnome-keyring or KeePassXC running?"
                ),
            ),
            // Never the bytes `BadEncoding` carries: it is the secret.
            E::BadEncoding(_) => SourceError::refused(self, "the entry is not UTF-8 text"),
            E::TooLong(what, max) => SourceError::refused(
                self,
                format_args!("the {what} is longer than the keyring allows ({max})"),
            ),
            E::Invalid(what, why) => SourceError::refused(self, format_args!("the {what} {why}")),
            other => SourceError::unavailable(self, other),
        }
    }

    fn entry(&self) -> Result<::keyring::Entry, SourceError> {
        ::keyring::Entry::new(&self.service, &self.user).map_err(|e| self.why(&e))
    }
}

/// `s` as one shell word, for the commands the messages suggest.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@+=,".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

impl PassphraseSource for KeyringSource {
    fn kind(&self) -> &'static str {
        "keyring"
    }

    fn describe(&self) -> String {
        format!("keyring service {:?} user {:?}", self.service, self.user)
    }

    fn fetch(&self) -> Result<Passphrase, SourceError> {
        self.check_not_locked()?;
        let mut secret = self.entry()?.get_secret().map_err(|e| self.why(&e))?;
        let b = secret.strip_suffix(b"\n").unwrap_or(&secret);
        let pass = Passphrase::from_slice(b);
        secret.zeroize();
        pass.map_err(|e| SourceError::invalid_value(self, e))
    }
}

/// Stores `pass` as the entry (service, user) through the `keyring` crate
/// (`fapi-agent passphrase store --source keyring`): an existing item is
/// updated, else one is made in the default collection, so Python's
/// `keyring get SERVICE USER` reads it back.
pub fn store(service: &str, user: &str, pass: &Passphrase) -> Result<(), String> {
    let src = KeyringSource::new(service.to_owned(), user.to_owned());
    src.check_not_locked().map_err(reason)?;
    src.entry()
        .and_then(|e| e.set_secret(pass.expose()).map_err(|e| src.why(&e)))
        .map_err(reason)
}

fn reason(e: SourceError) -> String {
    match e {
        SourceError::Unavailable { reason, .. } | SourceError::Refused { reason, .. } => reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_quote_what_a_shell_would_split() {
        assert_eq!(shell_quote("fapi-agent"), "fapi-agent");
        assert_eq!(shell_quote("my app"), "'my app'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        let src = KeyringSource::new("svc".into(), "a b".into());
        assert_eq!(src.describe(), r#"keyring service "svc" user "a b""#);
        let e = src.why(&::keyring::Error::NoEntry).to_string();
        assert!(e.contains("keyring set svc 'a b'"), "{e}");
        assert!(matches!(
            src.why(&::keyring::Error::BadEncoding(b"secret".to_vec())),
            SourceError::Refused { reason, .. } if !reason.contains("secret")
        ));
    }
}
