//! The errors requests can end in, and their mapping to gRPC status codes:
//! the one place where that mapping is decided.

use std::sync::Arc;

use tonic::{Code, Status};

use crate::credential::CredentialError;
use crate::source::SourceError;

/// Why a request failed. Messages are for operators: they say what is wrong
/// and what to do, and never contain secret material.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No credential has that name.
    #[error("no credential named {0:?} is configured (see `fapi-agent credentials`)")]
    UnknownCredential(String),
    /// No credential has that client_id.
    #[error("no credential for client_id {0:?} is configured (see `fapi-agent credentials`)")]
    UnknownClient(String),
    /// The pinned kid is not among the selected credentials.
    #[error("no key with kid {kid:?} in {within}")]
    UnknownKid {
        /// The kid asked for.
        kid: String,
        /// What was searched.
        within: String,
    },
    /// The request is malformed or asks for something the config forbids.
    #[error("{0}")]
    InvalidArgument(String),
    /// The credential cannot be used as it is.
    #[error("credential {name:?}: {source}")]
    Credential {
        /// The credential.
        name: String,
        /// Why.
        source: Arc<CredentialError>,
    },
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
    /// The daemon's state does not allow the operation; the message says why.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The caller may not do this.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The caller exceeded its request rate.
    #[error("rate limit: uid {0} sends more than its configured requests per second; retry later")]
    RateLimited(u32),
    /// A bug or resource failure inside the daemon.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The gRPC code of this error.
    pub fn code(&self) -> Code {
        match self {
            Error::UnknownCredential(_) | Error::UnknownClient(_) | Error::UnknownKid { .. } => {
                Code::NotFound
            }
            Error::InvalidArgument(_) | Error::DecryptFailed(_) => Code::InvalidArgument,
            Error::Credential { source, .. } => match &**source {
                CredentialError::Source(SourceError::Unavailable { .. }) => Code::Unavailable,
                _ => Code::FailedPrecondition,
            },
            Error::ExportDisabled(_) | Error::FailedPrecondition(_) => Code::FailedPrecondition,
            Error::PermissionDenied(_) => Code::PermissionDenied,
            Error::RateLimited(_) => Code::ResourceExhausted,
            Error::Internal(_) => Code::Internal,
        }
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        Status::new(e.code(), e.to_string())
    }
}
