//! fapi-agent: a local secrets daemon for FAPI / open-banking clients.
//!
//! It holds passphrase-encrypted credentials (key, certificate, client_id),
//! fetches their passphrases from secret managers, and over gRPC on a Unix
//! socket signs `private_key_jwt` client assertions (RFC 7523, FAPI 2.0) and
//! decrypts shared secrets for local callers identified by the kernel.
//!
//! # Layout
//!
//! - [`config`]: the TOML configuration, defaults and validation.
//! - [`secret`]: secret value types ([`secret::Passphrase`],
//!   [`secret::SecretBytes`]): fixed-size, locked, wiped, never printed.
//! - [`source`]: passphrase sources (`file`, `env`, `keyutils`) behind one
//!   trait.
//! - [`credential`]: loading certificates and encrypted keys in every
//!   format, validation, and on-demand decryption with a TTL cache.
//! - [`jose`]: JWK, RFC 7638 thumbprints, JWS signing (PS256, ES256, EdDSA).
//! - [`assertion`]: the FAPI client-assertion rules on top of [`jose`].
//! - [`daemon`]: the running state: the registry swapped whole on reload,
//!   credential events and per-client health derived from it.
//! - [`watch`]: reload triggers (SIGHUP, file changes).
//! - [`rsa_decrypt`]: shared-secret decryption (PKCS#1 v1.5, OAEP).
//! - [`audit`]: the hash-chained audit log and its verification.
//! - [`caller`]: the caller's kernel identity (peer credentials, pidfd,
//!   executable, systemd unit), established per connection.
//! - [`policy`]: per-credential allow rules and the Admin rule.
//! - [`limits`]: per-caller rate limiting.
//! - [`error`]: request errors and their one mapping to gRPC status codes.
//! - [`service`]: the gRPC `Agent` and `Admin` services.
//! - [`server`]: the Unix socket (safe directory, stale sockets) and serving.
//! - [`cpu`]: where CPU-heavy work runs (off the async workers).
//! - [`os`]: the only `unsafe`: memory locking, hardening, OpenSSL FFI.
//! - [`enroll`]: generating the next credential (key, passphrase, CSR) and
//!   installing its certificate.
//! - [`client`], [`cli`], [`dev`]: the command line and `run --dev`.

#![deny(unsafe_code)]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

pub mod access;
pub mod cli;
pub mod client;
pub mod config;
pub mod credential;
pub mod daemon;
pub mod jose;
pub mod keys;
pub mod metrics;
pub mod ops;
pub mod secret;
pub mod service;
pub mod source;
pub mod sys;

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
