//! The one gate every operation passes: the caller's identity is known,
//! its uid is within its rate, the operation is allowed by the
//! credential's rules (or the Admin rule), and each refusal and outcome is
//! written to the audit log with a typed operation and outcome.

use std::sync::Arc;

use super::Error;
use crate::access::audit::{AuditEvent, AuditOp, Outcome};
use crate::access::caller::Caller;
use crate::access::limits::Verdict;
use crate::access::policy;
use crate::config::Operation;
use crate::credential::{Credential, Registry};
use crate::daemon::Daemon;

/// Who is asking, as the front end's transport established it (`None`:
/// the kernel gave no identity). Shared: it is read once per connection
/// and handed to every request on it.
#[derive(Debug, Clone)]
pub struct Peer(pub Option<Arc<Caller>>);

/// The gate, over the daemon's state.
#[derive(Clone)]
pub struct Gate {
    daemon: Arc<Daemon>,
}

/// A caller admitted for one operation: identity known, within its rate.
pub struct Admitted<'g> {
    gate: &'g Gate,
    caller: Arc<Caller>,
    op: AuditOp,
}

impl Gate {
    /// A gate over `daemon`.
    pub fn new(daemon: Arc<Daemon>) -> Self {
        Self { daemon }
    }

    /// The daemon behind the gate.
    pub fn daemon(&self) -> &Arc<Daemon> {
        &self.daemon
    }

    /// Step one of every operation: the caller's identity is known and its
    /// uid within its rate. Refusals are logged and audited (a flood of
    /// rate-limited requests only once, until the uid is served again).
    pub fn admit(&self, peer: &Peer, op: AuditOp) -> Result<Admitted<'_>, Error> {
        let Some(caller) = peer.0.clone() else {
            let e = Error::PermissionDenied(
                "the caller's identity could not be established from the socket".into(),
            );
            tracing::warn!(operation = ?op, "denied: {e}");
            self.daemon
                .audit(AuditEvent::new(op, Outcome::Denied).detail(e.to_string()));
            return Err(e);
        };
        match self.daemon.rate_limiter().take(caller.uid) {
            Verdict::Allowed => {}
            Verdict::Refused => {
                tracing::warn!(%caller, operation = ?op, "rate limit exceeded");
                let e = Error::RateLimited(caller.uid);
                self.daemon.audit(
                    AuditEvent::new(op, Outcome::Denied)
                        .caller(Some(&caller))
                        .detail(format!(
                            "{e} (further refusals until this uid is served again are not \
                             recorded)"
                        )),
                );
                return Err(e);
            }
            Verdict::RefusedAgain => {
                tracing::debug!(%caller, operation = ?op, "rate limit exceeded again");
                return Err(Error::RateLimited(caller.uid));
            }
        }
        Ok(Admitted {
            gate: self,
            caller,
            op,
        })
    }
}

impl Admitted<'_> {
    /// The caller.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// Whether the caller may perform `op` on `cred`; a refusal is logged
    /// and audited.
    pub fn authorize(
        &self,
        registry: &Registry,
        cred: &Credential,
        op: Operation,
    ) -> Result<(), Error> {
        policy::check(&self.caller, cred, op, registry.executables()).map_err(|e| {
            tracing::warn!(caller = %self.caller, credential = %cred.name, operation = op.as_str(), "denied: {e}");
            self.gate.daemon.audit(
                AuditEvent::new(op.into(), Outcome::Denied)
                    .caller(Some(&self.caller))
                    .credential(&cred.name)
                    .detail(format!("permission denied: {e}")),
            );
            Error::PermissionDenied(e.0)
        })
    }

    /// Whether the caller may use the Admin service: root, the daemon's
    /// uid, or the admin group; a refusal is logged and audited.
    pub fn authorize_admin(&self) -> Result<(), Error> {
        policy::check_admin(&self.caller, self.gate.daemon.admin_gid()).map_err(|e| {
            tracing::warn!(caller = %self.caller, operation = ?self.op, "denied: {e}");
            self.gate.daemon.audit(
                AuditEvent::new(self.op, Outcome::Denied)
                    .caller(Some(&self.caller))
                    .detail(format!("permission denied: {e}")),
            );
            Error::PermissionDenied(e.0)
        })
    }

    /// Whether the caller may read `cred` (no record: listings filter).
    pub fn may_read(&self, registry: &Registry, cred: &Credential) -> bool {
        policy::check(&self.caller, cred, Operation::Read, registry.executables()).is_ok()
    }

    /// Writes the audit record of an outcome of this operation on `cred`.
    pub fn record(&self, cred: &Credential, outcome: Outcome, event: AuditEvent) {
        let event = AuditEvent {
            op: self.op,
            outcome,
            ..event
        };
        self.gate
            .daemon
            .audit(event.caller(Some(&self.caller)).credential(&cred.name));
    }

    /// The operation being performed.
    pub fn op(&self) -> AuditOp {
        self.op
    }

    /// The gate this caller was admitted at.
    pub fn gate(&self) -> &Gate {
        self.gate
    }
}
