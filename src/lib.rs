//! fapi-agent: a local secrets daemon for FAPI / open-banking clients.
//!
//! It holds passphrase-encrypted credentials (key, certificate, client_id),
//! fetches their passphrases from secret managers, and over gRPC on a Unix
//! socket signs `private_key_jwt` client assertions (RFC 7523, FAPI 2.0) and
//! decrypts shared secrets for local callers identified by the kernel.
//!
//! # Layout
//!
//! Four layers; a module uses only modules of its own layer or below
//! (checked by `tests/layers.rs`, with the layer diagram and the path of
//! one request in docs/architecture.md).
//!
//! **Edges**, each thin: decode, call [`ops`], encode.
//! - [`service`]: the gRPC `Agent` and `Admin` services on the Unix socket;
//!   the one error → status mapping and the message conversions live here.
//! - [`cli`]: the command line, one file per command group; client
//!   commands share one call path. [`client`]: connecting to a daemon.
//! - [`metrics`]: Prometheus counters and the endpoint serving them.
//!
//! **Operations**: [`ops`]: the gate every operation passes (identity, rate
//! limit, policy, audit) and one module per operation, protocol-free.
//!
//! **Domain**
//! - [`keys`]: key handles, the only code that touches private keys (the
//!   software backend decrypts key files on demand).
//! - [`jose`]: JWK, RFC 7638 thumbprints, compact JWS through a key handle,
//!   one module per signed object (client assertions, DPoP proofs, OB and
//!   Brasil bodies, JARM), JWKS parsing.
//! - [`httpsig`]: HTTP message signatures (RFC 9421 for FAPI 2.0, the
//!   Berlin Group draft-cavage), over typed requests.
//! - [`credential`]: certificate facts, key handle and state of each
//!   credential; the registry; public snapshots.
//! - [`access`]: the caller's kernel identity, the allow rules, the limits
//!   and the hash-chained audit log.
//! - [`daemon`]: the running state: the registry swapped whole on reload,
//!   Lock/Unlock, credential events and per-client health, signals and
//!   file watching.
//!
//! **Base**
//! - [`config`]: the TOML configuration, defaults and validation.
//! - [`secret`]: secret value types ([`secret::Passphrase`],
//!   [`secret::SecretBytes`]): fixed-size, locked, wiped, never printed.
//! - [`source`]: passphrase sources (keyutils, Secret Service, systemd, AWS
//!   Secrets Manager, exec, file, env) behind one trait, and bounded fetches.
//! - [`sys`]: the operating system, the only `unsafe`: memory locking,
//!   hardening, OpenSSL FFI, safe file reads, the socket, systemd, the CPU
//!   pool.

#![deny(unsafe_code)]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

pub mod access;
pub mod cli;
pub mod client;
pub mod config;
pub mod credential;
pub mod credsock;
pub mod daemon;
pub mod httpsig;
pub mod jose;
pub mod keys;
pub mod metrics;
pub mod net;
pub mod oauth;
pub mod ops;
pub mod proxy;
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
