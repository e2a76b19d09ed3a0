//! The `file` source: a passphrase in a file only the daemon's user can read.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use super::{PassphraseSource, SourceError};
use crate::secret::Passphrase;
use crate::sys::fs::{self as files, FileError};

/// Reads a passphrase file. Refuses a file that is group- or world-readable
/// or owned by another user (root's files are accepted: root can read ours
/// anyway), like ssh refuses a private key with loose permissions.
#[derive(Debug)]
pub struct FileSource {
    path: PathBuf,
    allow_group_read: bool,
}

impl FileSource {
    /// A source reading `path` at every fetch.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            allow_group_read: false,
        }
    }

    /// Also accepts group read access when the group is the daemon's own
    /// (Kubernetes Secret volumes with `fsGroup`).
    pub fn allow_group_read(mut self, allow: bool) -> Self {
        self.allow_group_read = allow;
        self
    }
}

impl PassphraseSource for FileSource {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }

    fn fetch(&self) -> Result<Passphrase, SourceError> {
        // Regular files only, opened without blocking: a FIFO here would
        // otherwise hold a thread until a writer came.
        let (mut file, meta) = files::open_regular(&self.path).map_err(|e| match e {
            FileError::Io { source, .. } => SourceError::unavailable(self, source),
            other => SourceError::refused(self, other),
        })?;
        if meta.len() > files::MAX_PASSPHRASE_FILE_BYTES {
            return Err(SourceError::refused(
                self,
                format_args!(
                    "it is {} bytes: a passphrase file holds one passphrase of at most 1023 bytes",
                    meta.len()
                ),
            ));
        }
        let me = crate::sys::process::effective_uid();
        if meta.uid() != me && meta.uid() != 0 {
            return Err(SourceError::refused(
                self,
                format_args!(
                    "it is owned by uid {}, not the daemon's uid {me}: chown it",
                    meta.uid()
                ),
            ));
        }
        let group_read_ok = self.allow_group_read
            && meta.gid() == crate::sys::process::effective_gid()
            && meta.mode() & 0o037 == 0;
        if meta.mode() & 0o077 != 0 && !group_read_ok {
            return Err(SourceError::refused(
                self,
                format_args!(
                    "its mode is {:04o}, so other users may read it: chmod 600 it",
                    meta.mode() & 0o7777
                ),
            ));
        }
        let filled = Passphrase::fill_with(|buf| read_full(&mut file, buf))
            .map_err(|e| SourceError::unavailable(self, e))?;
        filled.map_err(|e| SourceError::invalid_value(self, e))
    }
}

/// Reads `r` to its end through a buffer that is wiped afterwards, so
/// secret bytes past what the caller kept leave no copy behind.
pub fn drain_wiped(r: &mut impl Read) {
    let mut buf = zeroize::Zeroizing::new([0u8; 4096]);
    while let Ok(n) = read_full(r, &mut buf[..]) {
        if n < buf.len() {
            break;
        }
    }
}

/// Reads until `buf` is full or the end of input; returns the count.
pub fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
