//! The `aws-secrets-manager` source through the AWS SDK against a local
//! moto server (PyPI `moto[server]`): default stage, AWSPREVIOUS, JSON
//! keys, and the errors an operator meets.
//!
//! The source sits behind a cargo feature. Built without it, this binary
//! fails rather than passing with no test run: the README's test command
//! (`bash .ci/test-all`) builds with `--all-features`.

#[cfg(feature = "aws-secrets-manager")]
mod common;

#[cfg(feature = "aws-secrets-manager")]
#[path = "aws/moto.rs"]
mod moto;

#[cfg(not(feature = "aws-secrets-manager"))]
#[test]
fn aws_secrets_manager_source_is_built() {
    panic!(
        "the aws-secrets-manager source was not built, so its tests cannot run: \
         use `cargo test --all-features` (as `bash .ci/test-all` does)"
    );
}
