//! Listening on a Unix socket safely, for every front end (gRPC, the
//! egress proxy, the systemd credential socket).
//!
//! The socket's directory must be ours (or root's) and writable by nobody
//! else, so no other user can swap the socket for their own; it is created
//! `0700`. A stale socket left by a dead daemon is replaced; a live one is
//! not. The socket itself is created `0600` (process umask, then chmod).

use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;

/// Why the daemon cannot serve on a socket path.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The path has no parent directory.
    #[error("socket path {0} has no parent directory")]
    NoParent(PathBuf),
    /// The directory could not be created or inspected.
    #[error("socket directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The directory is unsafe.
    #[error("refusing socket directory {path}: {reason}")]
    UnsafeDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Something other than a socket is at the path.
    #[error("{0} exists and is not a socket: remove it or choose another path")]
    NotASocket(PathBuf),
    /// Another daemon answers on the socket.
    #[error("another fapi-agent is already serving on {0}")]
    InUse(PathBuf),
    /// The configured socket group does not exist.
    #[error("socket_group {0:?} is not a group on this system")]
    UnknownGroup(String),
    /// Binding failed.
    #[error("cannot listen on {path}: {source}")]
    Bind {
        /// The socket path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// The default socket path: `/run/fapi-agent/agent.sock` for root,
/// `$XDG_RUNTIME_DIR/fapi-agent/agent.sock` otherwise (falling back to
/// `/tmp/fapi-agent-UID/agent.sock` without a runtime directory).
pub fn default_socket_path() -> PathBuf {
    let uid = super::process::effective_uid();
    if uid == 0 {
        return PathBuf::from("/run/fapi-agent/agent.sock");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("fapi-agent/agent.sock"),
        _ => PathBuf::from(format!("/tmp/fapi-agent-{uid}/agent.sock")),
    }
}

/// A bound socket, removed when the server stops (if it is still ours).
pub struct BoundSocket {
    listener: UnixListener,
    guard: SocketGuard,
}

/// Removes the socket file on drop if it is still the one we bound: a newer
/// daemon may have replaced it.
pub struct SocketGuard {
    path: PathBuf,
    inode: u64,
    /// False for a socket systemd bound and keeps (socket activation).
    owned: bool,
}

impl BoundSocket {
    /// Checks the directory, replaces a stale socket and binds. With a
    /// `group`, a directory created here is `0750` and the socket `0660`,
    /// both owned by that group; otherwise `0700` and `0600`.
    pub fn bind(path: &Path, group: Option<u32>) -> Result<Self, SocketError> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .ok_or_else(|| SocketError::NoParent(path.to_owned()))?;
        prepare_dir(dir, group)?;
        match std::fs::symlink_metadata(path) {
            Ok(meta) if !meta.file_type().is_socket() => {
                return Err(SocketError::NotASocket(path.to_owned()));
            }
            Ok(_) => match std::os::unix::net::UnixStream::connect(path) {
                Ok(_) => return Err(SocketError::InUse(path.to_owned())),
                Err(_) => {
                    tracing::info!(socket = %path.display(), "replacing stale socket");
                    std::fs::remove_file(path).map_err(|source| SocketError::Bind {
                        path: path.to_owned(),
                        source,
                    })?;
                }
            },
            Err(_) => {}
        }
        let bind_err = |source| SocketError::Bind {
            path: path.to_owned(),
            source,
        };
        let listener = UnixListener::bind(path).map_err(bind_err)?;
        let mode = if group.is_some() { 0o660 } else { 0o600 };
        // Only with a group: even a no-op chown is a system call that
        // seccomp filters denying @chown (the shipped unit's) refuse.
        if group.is_some() {
            std::os::unix::fs::chown(path, None, group).map_err(bind_err)?;
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(bind_err)?;
        let inode = std::fs::symlink_metadata(path).map_err(bind_err)?.ino();
        Ok(Self {
            listener,
            guard: SocketGuard {
                path: path.to_owned(),
                inode,
                owned: true,
            },
        })
    }

    /// A listening socket systemd passed (socket activation). systemd owns
    /// the file, its mode and its directory; it is left in place at exit.
    pub fn inherited(listener: std::os::unix::net::UnixListener) -> Result<Self, SocketError> {
        let path = listener
            .local_addr()
            .ok()
            .and_then(|a| a.as_pathname().map(Path::to_owned))
            .unwrap_or_else(|| PathBuf::from("(systemd socket)"));
        let listener = UnixListener::from_std(listener).map_err(|source| SocketError::Bind {
            path: path.clone(),
            source,
        })?;
        Ok(Self {
            listener,
            guard: SocketGuard {
                path,
                inode: 0,
                owned: false,
            },
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.guard.path
    }

    /// The listener, and the guard that removes the socket file when
    /// dropped (keep it until serving ends).
    pub fn into_parts(self) -> (UnixListener, SocketGuard) {
        (self.listener, self.guard)
    }
}

fn prepare_dir(dir: &Path, group: Option<u32>) -> Result<(), SocketError> {
    let dir_err = |source| SocketError::Dir {
        path: dir.to_owned(),
        source,
    };
    if std::fs::symlink_metadata(dir).is_err() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(dir_err)?;
        if let Some(gid) = group {
            std::os::unix::fs::chown(dir, None, Some(gid)).map_err(dir_err)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750))
                .map_err(dir_err)?;
        }
    }
    let meta = std::fs::symlink_metadata(dir).map_err(dir_err)?;
    let unsafe_dir = |reason: String| SocketError::UnsafeDir {
        path: dir.to_owned(),
        reason,
    };
    if !meta.file_type().is_dir() {
        return Err(unsafe_dir(
            "it is not a directory (symlinks are refused)".into(),
        ));
    }
    let me = super::process::effective_uid();
    if meta.uid() != me && meta.uid() != 0 {
        return Err(unsafe_dir(format!(
            "it is owned by uid {}, not by the daemon's uid {me} or root",
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(unsafe_dir(format!(
            "its mode {:04o} lets other users create or replace files in it: use a private \
             directory (chmod 700)",
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        if self.owned && std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.ino() == self.inode)
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
