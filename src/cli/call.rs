//! The one path every client command takes: a runtime, a connection that
//! checks who serves the socket, the call, and any error as one line on
//! stderr with a failing exit code.

use std::future::Future;
use std::process::ExitCode;

use super::{SocketArg, Which};
use crate::client::Client;
use crate::service::pb;

/// Connects to the daemon on `socket`, runs `f` with the client and prints
/// its error, if any.
pub(super) fn call<F, Fut>(socket: &SocketArg, f: F) -> ExitCode
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        eprintln!("fapi-agent: cannot start the runtime");
        return ExitCode::FAILURE;
    };
    let result = runtime.block_on(async {
        let client = connect(socket).await?;
        f(client).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("fapi-agent: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// The bytes of `path`, or of stdin for `-`; `what` names them in errors.
pub(super) fn read_file_or_stdin(path: &std::path::Path, what: &str) -> Result<Vec<u8>, String> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .map_err(|e| format!("cannot read the {what} from stdin: {e}"))?;
        Ok(buf)
    } else {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    }
}

/// A failed call, as the command prints it.
pub(super) fn status_msg(s: tonic::Status) -> String {
    format!("{:?}: {}", s.code(), s.message())
}

async fn connect(socket: &SocketArg) -> Result<Client, String> {
    let path = socket.path();
    Client::connect(&path).await.map_err(|e| {
        // The transport error's own text is generic; the cause is below it.
        let mut cause = String::new();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            cause = s.to_string();
            source = s.source();
        }
        if cause.contains("refusing to talk to it") {
            return cause;
        }
        format!(
            "cannot connect to the daemon at {}: {e}: {cause} (is it running? set --socket or \
             FAPI_AGENT_SOCKET)",
            path.display()
        )
    })
}

/// Resolves an empty selection to the only credential, as a convenience.
pub(super) async fn selection(
    client: &mut Client,
    which: &Which,
) -> Result<pb::CredentialSelector, String> {
    if let Some(sel) = which.selector() {
        return Ok(sel);
    }
    let list = client
        .agent
        .list_credentials(pb::ListCredentialsRequest {})
        .await
        .map_err(status_msg)?
        .into_inner();
    match list.credentials.as_slice() {
        [only] => Ok(pb::CredentialSelector {
            by: Some(pb::credential_selector::By::Name(only.name.clone())),
            kid: which.kid.clone().unwrap_or_default(),
        }),
        _ => Err(
            "several credentials are configured: choose one with --credential or --client-id"
                .into(),
        ),
    }
}
