//! Generates the client from `../../proto` at build time (protox, no
//! `protoc`), so the client is never stale against the proto.

const PROTO_ROOT: &str = "../../proto";
const PROTOS: &[&str] = &["fapi_agent/v1/agent.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={PROTO_ROOT}/{proto}");
    }
    let fds = protox::Compiler::new([PROTO_ROOT])?
        .include_imports(true)
        .open_files(PROTOS)?
        .file_descriptor_set();
    tonic_prost_build::configure()
        .build_server(false)
        // These carry secrets: their Debug is written by hand (redacted).
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
