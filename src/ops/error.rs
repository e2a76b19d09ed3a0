//! The errors operations end in. Messages are for operators: they say what
//! is wrong and what to do, and never contain secret material. Front ends
//! map them to their own codes in one place each (`service/status.rs` for
//! gRPC).

use crate::credential::{CredentialFailure, SelectError};
use crate::daemon::ReloadError;

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The selection matched no credential (name, client_id or kid).
    #[error("{0}")]
    NotFound(#[from] SelectError),
    /// The request is malformed or asks for something the config forbids.
    #[error("{0}")]
    InvalidArgument(String),
    /// The credential cannot be used as it is.
    #[error("{0}")]
    Credential(#[from] CredentialFailure),
    /// Export is off for this credential.
    #[error(
        "credential {0:?} does not allow key export: set export = true in its config if this \
         caller really needs the private key"
    )]
    ExportDisabled(String),
    /// Any decryption failure of a shared secret. Deliberately one message,
    /// whatever the cause, so that it cannot serve as a padding oracle.
    #[error("decryption failed for credential {0:?}")]
    DecryptFailed(String),
    /// The credential has no shared secret of that name.
    #[error("credential {credential:?}: {source}")]
    UnknownSharedSecret {
        /// The credential.
        credential: String,
        /// Which name, and the names configured.
        source: crate::keys::shared::SharedSecretError,
    },
    /// The daemon's state does not allow the operation; the message says why.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A server the daemon depends on (an authorization server) is down,
    /// slow or failing; retrying later may help.
    #[error("{0}")]
    Unavailable(String),
    /// The caller may not do this.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The caller exceeded its request rate.
    #[error("rate limit: uid {0} sends more than its configured requests per second; retry later")]
    RateLimited(u32),
    /// A signed message (a response, a JARM response) does not verify.
    #[error("{0}")]
    Unverified(String),
    /// A bug or resource failure inside the daemon.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The kinds of [`Error`], for the front ends' code mappings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Nothing by that name or kid.
    NotFound,
    /// The request itself is wrong.
    InvalidArgument,
    /// The configuration or state must change first.
    FailedPrecondition,
    /// A dependency (a passphrase source) is down; retrying may help.
    Unavailable,
    /// The caller may not.
    PermissionDenied,
    /// Over a limit.
    ResourceExhausted,
    /// A signature presented for checking is not authentic.
    Unauthenticated,
    /// A bug.
    Internal,
}

impl Error {
    /// The kind of error.
    pub fn kind(&self) -> Kind {
        match self {
            Error::NotFound(_) | Error::UnknownSharedSecret { .. } => Kind::NotFound,
            Error::InvalidArgument(_) | Error::DecryptFailed(_) => Kind::InvalidArgument,
            Error::Credential(c) if c.is_source_unavailable() => Kind::Unavailable,
            Error::Unavailable(_) => Kind::Unavailable,
            Error::Credential(_) | Error::ExportDisabled(_) | Error::FailedPrecondition(_) => {
                Kind::FailedPrecondition
            }
            Error::PermissionDenied(_) => Kind::PermissionDenied,
            Error::RateLimited(_) => Kind::ResourceExhausted,
            Error::Unverified(_) => Kind::Unauthenticated,
            Error::Internal(_) => Kind::Internal,
        }
    }
}

impl Error {
    /// A ready key's failure while signing: a hardware token that fails or
    /// went away (or a Lock meanwhile) is a state the operator fixes; any
    /// other failure is a fault.
    pub fn from_signing(e: crate::keys::KeyError) -> Self {
        match e {
            e if e.is_source_unavailable() => Error::Unavailable(format!("signing failed: {e}")),
            e @ (crate::keys::KeyError::Pkcs11(_) | crate::keys::KeyError::Locked) => {
                Error::FailedPrecondition(format!("signing failed: {e}"))
            }
            e => Error::Internal(format!("signing failed: {e}")),
        }
    }

    /// A ready key's failure in an export: a key its backend keeps (a
    /// non-extractable token key) is the caller's precondition, anything
    /// else a fault.
    pub fn from_export(credential: &str, e: crate::keys::KeyError) -> Self {
        match e {
            crate::keys::KeyError::NotExtractable(why) => {
                Error::FailedPrecondition(format!("credential {credential:?}: {why}"))
            }
            e => Error::Internal(format!("key export failed: {e}")),
        }
    }
}

impl From<ReloadError> for Error {
    fn from(e: ReloadError) -> Self {
        match e {
            ReloadError::Internal(m) => Error::Internal(m),
            other => Error::FailedPrecondition(other.to_string()),
        }
    }
}
