//! What `fapi-agent --version` prints: the package version, the git commit
//! the binary was built from and its optional features, so an operator can
//! tell which build a machine runs and whether it has a given backend.
//!
//! `build.rs` records the commit (`FAPI_AGENT_GIT_COMMIT`, "unknown" when
//! built without git) and the features (`FAPI_AGENT_FEATURES`, "none").

/// The version line after the program name, e.g.
/// `0.1.0 (commit 283b3c6a1f2e, features: aws-secrets-manager)`.
pub(crate) const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("FAPI_AGENT_GIT_COMMIT"),
    ", features: ",
    env!("FAPI_AGENT_FEATURES"),
    ")"
);

#[cfg(test)]
mod tests {
    use super::VERSION;

    #[test]
    fn version_names_version_commit_and_features() {
        assert!(VERSION.starts_with(concat!(env!("CARGO_PKG_VERSION"), " (commit ")));
        let aws = VERSION.contains("aws-secrets-manager");
        assert_eq!(aws, cfg!(feature = "aws-secrets-manager"), "{VERSION}");
        if !cfg!(feature = "aws-secrets-manager") {
            assert!(VERSION.ends_with("features: none)"), "{VERSION}");
        }
    }
}
