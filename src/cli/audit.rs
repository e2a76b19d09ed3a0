//! `audit verify`: checks an audit log's hash chain offline.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::access::audit;

#[derive(Debug, Subcommand)]
pub(super) enum AuditCommand {
    /// Verify the hash chain of an audit log: exits 1 naming the first
    /// edited, dropped or reordered record.
    Verify {
        /// The audit log (JSON lines).
        file: PathBuf,
    },
}

pub(super) fn run(command: AuditCommand) -> ExitCode {
    let AuditCommand::Verify { file } = command;
    match audit::verify(&file) {
        Ok(Some(last)) => {
            println!(
                "ok: {} records, seq {}..{}, last hash {} (keep it to detect truncation)",
                last.seq + 1,
                0,
                last.seq,
                last.hash
            );
            ExitCode::SUCCESS
        }
        Ok(None) => {
            println!("ok: empty audit log");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fapi-agent: {e}");
            ExitCode::FAILURE
        }
    }
}
