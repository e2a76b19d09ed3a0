//! `run --dev --issuer URL --client-id C`: the throwaway credential signs
//! for a newcomer's own sandbox authorization server. The assertion is
//! checked by PyJWT and jwcrypto (tests/py/verify_assertion.py) against the
//! flags, and the banner names what the credential signs for.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use fapi_agent::service::pb;

/// Starts `run --dev ARGS` on `socket` and waits until it signs.
async fn start_dev(socket: &Path, extra: &[&str]) -> (Child, fapi_agent::client::Client) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
        .args(["run", "--dev", "--socket", socket.to_str().unwrap()])
        .args(extra)
        .env_remove("FAPI_AGENT_SOCKET")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..400 {
        if let Ok(mut c) = fapi_agent::client::Client::connect(socket).await
            && sign(&mut c, "dev").await.is_ok()
        {
            return (child, c);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the dev daemon did not serve on {}", socket.display());
}

/// Stops the daemon and returns its stdout (the banner).
fn stop(child: Child) -> String {
    run(Command::new("kill").args(["-INT", &child.id().to_string()]));
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_credential_signs_for_the_given_issuer_and_client_id() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    let issuer = "https://sandbox.as.example/realms/me";
    let client_id = "my-sandbox-client";
    let (child, mut client) =
        start_dev(&socket, &["--issuer", issuer, "--client-id", client_id]).await;

    let assertion = sign(&mut client, "dev").await.unwrap().assertion;
    let cred = client
        .agent
        .get_credential(pb::GetCredentialRequest {
            credential: by_name("dev"),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cred.client_id, client_id);
    let cert = dir.path().join("dev.crt");
    std::fs::write(&cert, &cred.certificate_chain_pem).unwrap();
    let report = verify_with_python(&assertion, &cert, "ES256", issuer, client_id, &[]);
    let claims = &report["claims"];
    assert_eq!(claims["aud"], issuer, "{report}");
    assert_eq!(claims["iss"], client_id, "{report}");
    assert_eq!(claims["sub"], client_id, "{report}");

    // The same credential by client_id: the selector follows the flag too.
    let by_client_id = client
        .agent
        .sign_client_assertion(pb::SignClientAssertionRequest {
            credential: by_client(client_id),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    verify_with_python(
        &by_client_id.assertion,
        &cert,
        "ES256",
        issuer,
        client_id,
        &[],
    );

    let banner = stop(child);
    assert!(
        banner.contains(&format!("client_id {client_id}")) && banner.contains(issuer),
        "{banner}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_credential_defaults_stay_without_flags() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    let (child, mut client) = start_dev(&socket, &[]).await;
    let assertion = sign(&mut client, "dev").await.unwrap().assertion;
    let cred = client
        .agent
        .get_credential(pb::GetCredentialRequest {
            credential: by_name("dev"),
        })
        .await
        .unwrap()
        .into_inner();
    let cert = dir.path().join("dev.crt");
    std::fs::write(&cert, &cred.certificate_chain_pem).unwrap();
    let report = verify_with_python(
        &assertion,
        &cert,
        "ES256",
        "https://as.dev.fapi-agent.invalid",
        "dev-client",
        &[],
    );
    assert_eq!(report["claims"]["iss"], "dev-client");
    stop(child);
}

#[test]
fn bad_dev_flags_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    let attempt = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
            .args(["run", "--socket", socket.to_str().unwrap()])
            .args(args)
            .env_remove("FAPI_AGENT_SOCKET")
            .output()
            .unwrap()
    };
    // Not a URL.
    let out = attempt(&["--dev", "--issuer", "sandbox.example"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("--issuer \"sandbox.example\" is not an absolute URL"),
        "{err}"
    );
    // Not http(s).
    let out = attempt(&["--dev", "--issuer", "ftp://as.example"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("must be an https (or http) URL"), "{err}");
    // An empty client_id.
    let out = attempt(&["--dev", "--client-id", ""]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("--client-id is empty"), "{err}");
    // The flags need --dev (a config's credentials have their own).
    let out = attempt(&["--config", "x.toml", "--issuer", "https://as.example"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--dev"), "{err}");
    assert!(!socket.exists());
}
