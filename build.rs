//! Compiles `proto/` without `protoc`: protox parses the protos into a
//! descriptor set, tonic-prost-build generates code from it, and the encoded
//! set is written to `OUT_DIR` for gRPC server reflection.

use prost::Message;

const PROTOS: &[&str] = &["proto/fapi_agent/v1/agent.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
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
