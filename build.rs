//! Compiles `proto/` without `protoc`: protox parses the protos into a
//! descriptor set, tonic-prost-build generates code from it, and the encoded
//! set is written to `OUT_DIR` for gRPC server reflection.
//!
//! It also records what `fapi-agent --version` reports besides the version:
//! the git commit the binary was built from (`FAPI_AGENT_GIT_COMMIT`) and the
//! optional features it was built with (`FAPI_AGENT_FEATURES`).

use std::path::Path;
use std::process::Command;

use prost::Message;

const PROTOS: &[&str] = &["proto/fapi_agent/v1/agent.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=build.rs");
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    build_info();
    let fds = protox::Compiler::new(["proto"])?
        .include_imports(true)
        .include_source_info(true)
        .open_files(PROTOS)?
        .file_descriptor_set();

    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("fapi_agent_descriptor.bin"),
        fds.encode_to_vec(),
    )?;

    tonic_prost_build::configure()
        // Undecodable requests are INVALID_ARGUMENT, not INTERNAL.
        .codec_path("crate::service::codec::StrictCodec")
        // These messages carry secrets: their Debug is written by hand.
        .skip_debug([
            "fapi_agent.v1.DecryptSecretResponse",
            "fapi_agent.v1.GetKeyMaterialRequest",
            "fapi_agent.v1.GetKeyMaterialResponse",
            "fapi_agent.v1.AccessToken",
            "fapi_agent.v1.ExchangeAuthorizationCodeRequest",
            "fapi_agent.v1.RefreshAccessTokenRequest",
            "fapi_agent.v1.SignDpopProofRequest",
        ])
        .compile_fds(fds)?;
    Ok(())
}

/// Sets `FAPI_AGENT_GIT_COMMIT` and `FAPI_AGENT_FEATURES` for the crate.
///
/// The commit is, in order: the `FAPI_AGENT_GIT_COMMIT` environment variable
/// (for builds from a source tarball whose commit is known), `git rev-parse`
/// in the source tree, or "unknown" (no `.git`, no `git`, or a tree git
/// refuses to read). Never an error: a build without git must succeed.
fn build_info() {
    println!("cargo:rerun-if-env-changed=FAPI_AGENT_GIT_COMMIT");
    let commit = match std::env::var("FAPI_AGENT_GIT_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_owned(),
        _ => git_commit().unwrap_or_else(|| "unknown".to_owned()),
    };
    println!("cargo:rustc-env=FAPI_AGENT_GIT_COMMIT={commit}");

    // Cargo sets CARGO_FEATURE_<NAME> for each enabled feature (upper case,
    // `-` as `_`); this crate's feature names are lower case with `-`.
    let mut features: Vec<String> = std::env::vars()
        .filter_map(|(k, _)| k.strip_prefix("CARGO_FEATURE_").map(str::to_owned))
        .filter(|f| f != "DEFAULT")
        .map(|f| f.to_ascii_lowercase().replace('_', "-"))
        .collect();
    features.sort();
    let features = if features.is_empty() {
        "none".to_owned()
    } else {
        features.join(", ")
    };
    println!("cargo:rustc-env=FAPI_AGENT_FEATURES={features}");
}

/// The commit of `HEAD` (12 hex digits), and `cargo:rerun-if-changed` lines
/// for the files that change when `HEAD` moves; `None` outside a git tree.
fn git_commit() -> Option<String> {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").ok()?;
    let dir = Path::new(&manifest_dir);
    // Only this tree's own repository: a source tree unpacked inside some
    // other repository (a packaging checkout, say) reports "unknown".
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    if std::fs::canonicalize(&top).ok()? != std::fs::canonicalize(dir).ok()? {
        return None;
    }
    let commit = git(dir, &["rev-parse", "--short=12", "HEAD"])?;
    // HEAD, the branch it points to and packed-refs: a commit, checkout or
    // pull changes one of them. `--git-path` resolves worktrees too. Only
    // files that exist: cargo reruns the script on every build for a
    // missing one.
    let mut watch = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        watch.push(branch);
    }
    for name in watch {
        if let Some(path) = git(dir, &["rev-parse", "--git-path", &name]) {
            let path = dir.join(path);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    Some(commit)
}

/// Runs `git ARGS` in `dir`: its trimmed stdout if it succeeded and printed
/// something.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_owned())
}
