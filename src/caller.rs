//! Who is calling: the peer's uid, gid and pid as the kernel reports them
//! for the Unix socket, and the rule that decides whether they may call.

use std::fmt;

use tonic::Request;
use tonic::transport::server::UdsConnectInfo;

use crate::error::Error;
use crate::os;

/// The calling process, from `SO_PEERCRED`. Nothing in a request body can
/// change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// Effective uid.
    pub uid: u32,
    /// Effective gid.
    pub gid: u32,
    /// Process id (informational: a pid can be reused, so it is never used
    /// to authorise).
    pub pid: Option<i32>,
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "uid {} gid {} pid {pid}", self.uid, self.gid),
            None => write!(f, "uid {} gid {}", self.uid, self.gid),
        }
    }
}

impl Caller {
    /// The caller of `req`, and whether it may use the daemon: only the
    /// daemon's own uid and root may. Without kernel credentials (not a Unix
    /// socket) the answer is no.
    pub fn authorize<T>(req: &Request<T>) -> Result<Caller, Error> {
        let cred = req
            .extensions()
            .get::<UdsConnectInfo>()
            .and_then(|i| i.peer_cred)
            .ok_or_else(|| {
                Error::PermissionDenied(
                    "the caller's identity could not be established from the socket".into(),
                )
            })?;
        let caller = Caller {
            uid: cred.uid(),
            gid: cred.gid(),
            pid: cred.pid(),
        };
        let own = os::effective_uid();
        if caller.uid != own && caller.uid != 0 {
            tracing::warn!(%caller, "denied: only the daemon's uid and root may call");
            return Err(Error::PermissionDenied(format!(
                "rule `callers = daemon uid {own} or root` does not admit uid {}",
                caller.uid
            )));
        }
        Ok(caller)
    }
}
