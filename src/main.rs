//! The `fapi-agent` binary: all logic lives in the library.

fn main() -> std::process::ExitCode {
    fapi_agent::cli::main()
}
