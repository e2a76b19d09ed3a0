//! Reading the files the daemon is pointed at (config, keys, certificates,
//! bundles, passphrase files): regular files only, opened so that nothing
//! can block, and never more than a documented size.
//!
//! A FIFO, a device such as `/dev/urandom` or a socket in place of a
//! credential file would otherwise hang a reload (a FIFO blocks `open`
//! until a writer comes) or grow the daemon without bound (a device never
//! ends). The file is opened with `O_NONBLOCK` (which changes nothing for a
//! regular file), checked with `fstat` on the open descriptor (so a rename
//! in between cannot swap it), and read to at most its cap.

use std::fmt;
use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroize;

/// Largest config file read, in bytes.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// Largest key, certificate or PKCS#12 file read, in bytes: a year-long
/// credential with a full chain is a few kilobytes.
pub const MAX_CREDENTIAL_FILE_BYTES: u64 = 1 << 20;
/// Largest passphrase file accepted: one passphrase (at most 1023 bytes)
/// and a line ending.
pub const MAX_PASSPHRASE_FILE_BYTES: u64 = 1025;

/// Why a file could not be read. No variant carries file contents.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Something other than a regular file is at the path.
    #[error(
        "{} is a {kind}, not a regular file: point the config at the file itself (a FIFO, \
         device or socket can block or never end, so it is refused)",
        path.display()
    )]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What is there: directory, FIFO, character device, …
        kind: &'static str,
    },
    /// The file is larger than its kind of file can be.
    #[error(
        "{} is {size} bytes, over the {cap}-byte limit for {what}: is it the right file?",
        path.display()
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size (or the bytes read before giving up).
        size: u64,
        /// The limit.
        cap: u64,
        /// What kind of file it should be.
        what: &'static str,
    },
}

impl FileError {
    /// The underlying I/O error kind, for "not found" checks.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            FileError::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

fn kind_of(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

/// Opens `path` for reading without blocking and checks, on the open
/// descriptor, that it is a regular file.
pub fn open_regular(path: &Path) -> Result<(File, Metadata), FileError> {
    let io = |source| FileError::Io {
        path: path.to_owned(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.file_type().is_file() {
        return Err(FileError::NotRegular {
            path: path.to_owned(),
            kind: kind_of(&meta),
        });
    }
    Ok((file, meta))
}

/// Reads a whole regular file of at most `cap` bytes (`what` names the kind
/// of file in the error). The buffer is allocated once at the file's size,
/// so key bytes are never left behind in a reallocated copy; on error it is
/// wiped.
pub fn read_capped(path: &Path, cap: u64, what: &'static str) -> Result<Vec<u8>, FileError> {
    let (mut file, meta) = open_regular(path)?;
    let too_large = |size| FileError::TooLarge {
        path: path.to_owned(),
        size,
        cap,
        what,
    };
    if meta.len() > cap {
        return Err(too_large(meta.len()));
    }
    // One byte more than the size: a file that grew since fstat shows it.
    let size = usize::try_from(meta.len()).map_err(|_| too_large(meta.len()))?;
    let mut buf = vec![0u8; size + 1];
    let mut n = 0;
    let read = loop {
        match file.read(&mut buf[n..]) {
            Ok(0) => break Ok(()),
            Ok(k) => {
                n += k;
                if n == buf.len() {
                    break Ok(());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    if let Err(source) = read {
        buf.zeroize();
        return Err(FileError::Io {
            path: path.to_owned(),
            source,
        });
    }
    if n > size {
        buf.zeroize();
        return Err(FileError::Io {
            path: path.to_owned(),
            source: std::io::Error::other("the file grew while it was read; try again"),
        });
    }
    buf.truncate(n);
    Ok(buf)
}

/// A file by what it is: the device and inode it has, and the mount it was
/// reached through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileIdentity {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
    /// The mount id (`statx`), when the kernel reports it.
    pub mnt_id: Option<u64>,
}

impl FileIdentity {
    /// The identity of the file `path` names now (symlinks followed).
    pub fn of(path: &Path) -> std::io::Result<Self> {
        let meta = std::fs::metadata(path)?;
        Ok(Self {
            dev: meta.dev(),
            ino: meta.ino(),
            mnt_id: super::process::mount_id(path),
        })
    }

    /// The same file: same device and inode and, when both are known and
    /// `same_mounts` (both read in one mount namespace), the same mount.
    pub fn same_file(&self, other: &FileIdentity, same_mounts: bool) -> bool {
        self.dev == other.dev
            && self.ino == other.ino
            && (!same_mounts
                || self.mnt_id.is_none()
                || other.mnt_id.is_none()
                || self.mnt_id == other.mnt_id)
    }
}

impl fmt::Display for FileIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dev {}:{} ino {}",
            libc::major(self.dev),
            libc::minor(self.dev),
            self.ino
        )?;
        if let Some(m) = self.mnt_id {
            write!(f, " mnt {m}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_files_and_oversized_files_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        // Without O_NONBLOCK this open would wait for a writer forever.
        assert!(matches!(
            read_capped(&fifo, 100, "a test file"),
            Err(FileError::NotRegular { kind: "FIFO", .. })
        ));
        assert!(matches!(
            read_capped(Path::new("/dev/urandom"), 100, "a test file"),
            Err(FileError::NotRegular {
                kind: "character device",
                ..
            })
        ));
        assert!(matches!(
            read_capped(dir.path(), 100, "a test file"),
            Err(FileError::NotRegular {
                kind: "directory",
                ..
            })
        ));
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; 101]).unwrap();
        let e = read_capped(&big, 100, "a test file").unwrap_err();
        assert!(
            e.to_string()
                .contains("is 101 bytes, over the 100-byte limit for a test file"),
            "{e}"
        );
        let ok = dir.path().join("ok");
        std::fs::write(&ok, b"hello").unwrap();
        assert_eq!(read_capped(&ok, 100, "a test file").unwrap(), b"hello");
        assert_eq!(
            read_capped(&dir.path().join("missing"), 100, "x")
                .unwrap_err()
                .io_kind(),
            Some(std::io::ErrorKind::NotFound)
        );
    }
}
