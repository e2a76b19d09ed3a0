//! Operations: what every front end (gRPC, the CLI, later the egress proxy
//! and the systemd credential socket) asks of the daemon, with no protocol
//! in it. Each operation passes the one [`Gate`] (identity, rate, policy,
//! audit) and returns domain types; front ends only decode, call an
//! operation, and encode.
//!
//! One module per operation: [`assertion`] (sign a client assertion),
//! [`decrypt`] (a shared secret), [`shared_secret`] (HMACs and WS-Security
//! digests with a shared secret the daemon keeps), [`read`] (public facts), [`export`] (key
//! material), [`watch`] (credential events), [`admin`] (status, reload,
//! lock, unlock); and the offline ones the CLI runs without a daemon:
//! [`onboard`] (import, passphrase store), [`enroll`] and [`provision`]
//! (the same onto a PKCS#11 token).

pub mod admin;
pub mod assertion;
pub mod credsock;
pub mod decrypt;
pub mod dpop;
pub mod enroll;
mod error;
pub mod export;
mod gate;
pub mod onboard;
pub mod provision;
pub mod proxy;
pub mod read;
pub mod shared_secret;
pub mod sign_message;
pub mod token;
pub mod verify;
pub mod watch;

pub use error::{Error, Kind};
pub use gate::{Admitted, Gate, Peer};

use crate::credential::Selector;

/// Which credential a request means, optionally pinned to a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// By name or client_id.
    pub by: Selector,
    /// The kid the key must have.
    pub kid: Option<String>,
}
