//! The `systemd` source: a systemd credential, `$CREDENTIALS_DIRECTORY/NAME`.
//!
//! systemd places `LoadCredential=`, `LoadCredentialEncrypted=` (decrypted
//! with the TPM and/or the host key) and `SetCredential[Encrypted]=` values
//! in a private, read-only directory named by `$CREDENTIALS_DIRECTORY`,
//! readable only by the service. The name must match the one given to
//! `systemd-creds encrypt --name=NAME`.

use std::path::PathBuf;

use super::file::read_full;
use super::{PassphraseSource, SourceError};
use crate::secret::Passphrase;
use crate::sys::fs::{self as files, FileError};

/// Reads one systemd credential at every fetch.
#[derive(Debug)]
pub struct SystemdSource {
    name: String,
}

impl SystemdSource {
    /// A source for the credential `name`.
    pub fn new(name: String) -> Self {
        Self { name }
    }

    fn path(&self) -> Result<PathBuf, SourceError> {
        let dir = std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(|| {
            SourceError::unavailable(
                self,
                "$CREDENTIALS_DIRECTORY is not set: run the daemon under systemd with \
                 LoadCredential= or LoadCredentialEncrypted= naming this credential",
            )
        })?;
        Ok(PathBuf::from(dir).join(&self.name))
    }
}

impl PassphraseSource for SystemdSource {
    fn kind(&self) -> &'static str {
        "systemd"
    }

    fn describe(&self) -> String {
        format!("systemd credential {:?}", self.name)
    }

    fn fetch(&self) -> Result<Passphrase, SourceError> {
        let path = self.path()?;
        let (mut file, _) = files::open_regular(&path).map_err(|e| match e {
            FileError::Io { source, .. } => SourceError::unavailable(
                self,
                format_args!(
                    "{}: {source} (is the unit's LoadCredential[Encrypted]= name {:?}?)",
                    path.display(),
                    self.name
                ),
            ),
            other => SourceError::refused(self, other),
        })?;
        let filled = Passphrase::fill_with(|buf| read_full(&mut file, buf))
            .map_err(|e| SourceError::unavailable(self, e))?;
        filled.map_err(|e| SourceError::invalid_value(self, e))
    }
}
