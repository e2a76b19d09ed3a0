//! The operating system: the base every other layer stands on, and the only
//! place with `unsafe` code (each block small, with a `// SAFETY:` comment,
//! wrapped in a safe function). Nothing here knows the crate's domain types.

#![allow(unsafe_code)]

pub mod cpu;
pub mod env;
pub mod fs;
pub mod listen;
pub mod mem;
pub mod openssl;
pub mod process;
pub mod systemd;
pub mod systemd_bus;
pub mod tty;
