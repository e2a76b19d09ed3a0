//! The message-signing commands through the real binary against a real
//! daemon (docs/standards.md §9): `http-sign` prints RFC 9421 headers that
//! PyPI http-message-signatures verifies, `berlin-sign` prints Berlin Group
//! headers that the openssl CLI and PyPI httpsig verify
//! (tests/py/verify_signed.py); a body changed by one byte fails, and
//! refusals exit non-zero with the daemon's status and reason.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use serde_json::{Value, json};

/// Runs the CLI against `daemon`, feeding `stdin`.
fn cli_with_stdin(daemon: &Daemon, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
        .args(args)
        .env("FAPI_AGENT_SOCKET", &daemon.socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// `Name: value` lines as [name, value] pairs, in order.
fn header_lines(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .map(|l| {
            let (n, v) = l
                .split_once(": ")
                .unwrap_or_else(|| panic!("not a header line: {l:?}"));
            (n.to_owned(), v.to_owned())
        })
        .collect()
}

fn header<'a>(lines: &'a [(String, String)], name: &str) -> &'a str {
    lines
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {lines:?}"))
}

const URL: &str = "https://bank.example/payments?x=1";
const INTERACTION: &str = "c770aef3-6784-41f7-8e0e-ff5f97bddb3a";

/// RFC 9421 verification of a request signed by `http-sign`, as the bank
/// would do it: the request's own headers plus the ones printed.
fn verify_rfc9421(
    printed: &[(String, String)],
    body: &[u8],
    cert: &str,
    alg: &str,
    keyid: &str,
) -> Value {
    let mut headers = vec![
        json!(["Authorization", "DPoP tok-123"]),
        json!(["DPoP", "eyJhbGciOiJFUzI1NiJ9.e30.sig"]),
        json!(["X-FAPI-Interaction-ID", INTERACTION]),
    ];
    headers.extend(printed.iter().map(|(n, v)| json!([n, v])));
    verify_signed(
        "rfc9421",
        &json!({
            "method": "POST",
            "url": URL,
            "headers": headers,
            "body_b64": STANDARD.encode(body),
            "cert_pem": cert,
            "alg": alg,
            "keyid": keyid,
            "expect_components": ["@method", "@target-uri", "authorization", "dpop",
                                  "content-digest", "x-fapi-interaction-id"],
            "expect_tag": "fapi-2-request",
        }),
    )
}

/// `http-sign` for an RSA and a P-256 key, the body from a file and from
/// stdin, plain and `--json`; a GET without a body; refusals.
#[tokio::test(flavor = "multi_thread")]
async fn http_sign_prints_headers_http_message_signatures_verifies() {
    let fx = Fixtures::new();
    let rsa = fx.credential("rsa", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let ec = fx.credential("ec", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let config = format!(
        "{}[credentials.rsa.http_signatures]\nmax_body_bytes = 4096\n{}",
        rsa.toml("rsa", "https://as.example", ""),
        ec.toml("ec", "https://as.example", ""),
    );
    let daemon = Daemon::start(&config).await;
    let body = br#"{"Data":{"Initiation":{"InstructedAmount":{"Amount":"10.00"}}}}"#;
    let file = fx.path().join("body.json");
    std::fs::write(&file, body).unwrap();
    let file = file.to_str().unwrap();
    for (name, cert, alg) in [
        ("rsa", &rsa.cert, "rsa-pss-sha512"),
        ("ec", &ec.cert, "ecdsa-p256-sha256"),
    ] {
        let cert = std::fs::read_to_string(cert).unwrap();
        let common = [
            "http-sign",
            "--credential",
            name,
            "--method",
            "POST",
            "--url",
            URL,
            "--authorization",
            "DPoP tok-123",
            "--dpop",
            "eyJhbGciOiJFUzI1NiJ9.e30.sig",
            "--header",
            &format!("X-FAPI-Interaction-ID:   {INTERACTION}  "),
        ];
        // --json first: it names the keyid the verifier must expect.
        let mut args = common.to_vec();
        args.extend(["--body", file, "--json"]);
        let j: Value = serde_json::from_str(&ok(&daemon.cli(&args))).unwrap();
        assert_eq!(j["alg"], alg, "{j}");
        assert_eq!(j["target_uri"], URL, "{j}");
        let keyid = j["keyid"].as_str().unwrap().to_owned();
        let printed = vec![
            (
                "Signature-Input".to_owned(),
                j["signature-input"].as_str().unwrap().to_owned(),
            ),
            (
                "Signature".to_owned(),
                j["signature"].as_str().unwrap().to_owned(),
            ),
            (
                "Content-Digest".to_owned(),
                j["content-digest"].as_str().unwrap().to_owned(),
            ),
        ];
        let report = verify_rfc9421(&printed, body, &cert, alg, &keyid);
        assert_eq!(report["ok"], true, "{name} --json: {report}");

        // The header lines, body from the file, then from stdin.
        let mut args = common.to_vec();
        args.extend(["--body", file]);
        let from_file = header_lines(&ok(&daemon.cli(&args)));
        let mut args = common.to_vec();
        args.extend(["--body", "-"]);
        let from_stdin = header_lines(&ok(&cli_with_stdin(&daemon, &args, body)));
        for printed in [&from_file, &from_stdin] {
            let names: Vec<&str> = printed.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, ["Signature-Input", "Signature", "Content-Digest"]);
            let report = verify_rfc9421(printed, body, &cert, alg, &keyid);
            assert_eq!(report["ok"], true, "{name}: {report}");
            assert_eq!(
                report["checked_by"]["http-message-signatures"], "passed",
                "{report}"
            );
            // One byte changed: the verifier refuses.
            let mut changed = body.to_vec();
            changed[10] ^= 1;
            let report = verify_rfc9421(printed, &changed, &cert, alg, &keyid);
            assert_eq!(report["ok"], false, "{name}: {report}");
        }
    }

    // A GET without a body: no Content-Digest, and the verifier agrees.
    let printed = header_lines(&ok(&daemon.cli(&[
        "http-sign",
        "--credential",
        "ec",
        "--method",
        "GET",
        "--url",
        "https://bank.example/accounts",
        "--authorization",
        "DPoP tok-123",
    ])));
    assert_eq!(printed.len(), 2, "{printed:?}");
    assert!(
        header(&printed, "Signature-Input")
            .starts_with("sig1=(\"@method\" \"@target-uri\" \"authorization\");"),
        "{printed:?}"
    );
    let j: Value = serde_json::from_str(&ok(&daemon.cli(&[
        "http-sign",
        "--credential",
        "ec",
        "--method",
        "GET",
        "--url",
        "https://bank.example/accounts",
        "--json",
    ])))
    .unwrap();
    let cert = std::fs::read_to_string(&ec.cert).unwrap();
    let report = verify_signed(
        "rfc9421",
        &json!({
            "method": "GET",
            "url": "https://bank.example/accounts",
            "headers": [["Signature-Input", j["signature-input"]], ["Signature", j["signature"]]],
            "body_b64": "",
            "cert_pem": cert,
            "alg": "ecdsa-p256-sha256",
            "keyid": j["keyid"],
            "expect_components": ["@method", "@target-uri"],
            "expect_tag": "fapi-2-request",
        }),
    );
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(j["content-digest"], "", "{j}");

    // Refusals: the daemon's status and reason on stderr, exit 1.
    let big = fx.path().join("big");
    std::fs::write(&big, [b'x'; 4097]).unwrap();
    for (args, status, reason) in [
        (
            vec!["--credential", "ec", "--header", "Signature-Input: x"],
            "InvalidArgument",
            "signature-input",
        ),
        (
            vec!["--credential", "rsa", "--body", big.to_str().unwrap()],
            "InvalidArgument",
            "max_body_bytes = 4096",
        ),
        (vec!["--credential", "nobody"], "NotFound", "nobody"),
    ] {
        let mut all = vec!["http-sign", "--method", "POST", "--url", URL];
        all.extend(args.iter().copied());
        let out = daemon.cli(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            out.stdout.is_empty(),
            "{args:?}: nothing printed on a refusal"
        );
        assert!(
            err.contains(status) && err.to_lowercase().contains(reason),
            "{args:?}: {err}"
        );
    }
    // A --header that is not 'name: value' is the command line's error.
    for bad in ["no-colon", ": value", "two words: x"] {
        let out = daemon.cli(&[
            "http-sign",
            "--method",
            "GET",
            "--url",
            URL,
            "--header",
            bad,
        ]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--header"),
            "{bad}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A body file that does not exist is named.
    let out = daemon.cli(&[
        "http-sign",
        "--method",
        "POST",
        "--url",
        URL,
        "--body",
        "/nonexistent/body",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/body"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Berlin Group check by the openssl CLI and httpsig of what
/// `berlin-sign` printed, for a request with `x_request_id`.
fn verify_cavage(printed: &[(String, String)], body: &[u8], cert: &str) -> Value {
    let mut headers = vec![json!(["PSU-ID", "PSU-1234"])];
    headers.extend(printed.iter().map(|(n, v)| json!([n, v])));
    verify_signed(
        "cavage",
        &json!({
            "method": "POST",
            "path": "/v1/payments/sepa-credit-transfers",
            "headers": headers,
            "body_b64": STANDARD.encode(body),
            "cert_pem": cert,
        }),
    )
}

/// `berlin-sign`: the four header lines, verified by the openssl CLI and
/// httpsig; a given X-Request-ID kept, a new UUID otherwise; `--json`; an
/// EC key and a header outside the profile refused.
#[tokio::test(flavor = "multi_thread")]
async fn berlin_sign_prints_headers_openssl_verifies() {
    let fx = Fixtures::new();
    let rsa = fx.credential("qseal", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let ec = fx.credential("ec", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let config = format!(
        "{}{}",
        rsa.toml("qseal", "https://as.example", ""),
        ec.toml("ec", "https://as.example", ""),
    );
    let daemon = Daemon::start(&config).await;
    let cert = std::fs::read_to_string(&rsa.cert).unwrap();
    let body = br#"{"instructedAmount":{"currency":"EUR","amount":"123.50"}}"#;
    let file = fx.path().join("payment.json");
    std::fs::write(&file, body).unwrap();
    let rid = "99391c7e-ad88-49ec-a2ad-99ddcb1f7721";
    let base = [
        "berlin-sign",
        "--credential",
        "qseal",
        "--header",
        "PSU-ID: PSU-1234",
    ];
    let mut args = base.to_vec();
    args.extend(["--x-request-id", rid, "--body", file.to_str().unwrap()]);
    let printed = header_lines(&ok(&daemon.cli(&args)));
    let names: Vec<&str> = printed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "X-Request-ID",
            "Digest",
            "Signature",
            "TPP-Signature-Certificate"
        ]
    );
    assert_eq!(header(&printed, "X-Request-ID"), rid);
    let report = verify_cavage(&printed, body, &cert);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(
        report["checked_by"]["openssl dgst -sha256 -verify (PKCS#1 v1.5)"], "passed",
        "{report}"
    );
    assert_eq!(report["checked_by"]["httpsig"], "passed", "{report}");
    assert_eq!(
        report["signed_headers"],
        json!(["digest", "x-request-id", "psu-id"]),
        "{report}"
    );
    let mut changed = body.to_vec();
    changed[3] ^= 1;
    let report = verify_cavage(&printed, &changed, &cert);
    assert_eq!(report["ok"], false, "{report}");

    // The body from stdin, no X-Request-ID: a fresh UUID, signed.
    let mut args = base.to_vec();
    args.extend(["--body", "-"]);
    let printed = header_lines(&ok(&cli_with_stdin(&daemon, &args, body)));
    let fresh = header(&printed, "X-Request-ID");
    assert!(uuid_like(fresh), "{fresh}");
    assert_ne!(fresh, rid);
    let report = verify_cavage(&printed, body, &cert);
    assert_eq!(report["ok"], true, "{report}");

    // --json carries the same headers and the keyId.
    let mut args = base.to_vec();
    args.extend(["--body", file.to_str().unwrap(), "--json"]);
    let j: Value = serde_json::from_str(&ok(&daemon.cli(&args))).unwrap();
    let printed: Vec<(String, String)> = [
        ("X-Request-ID", "x-request-id"),
        ("Digest", "digest"),
        ("Signature", "signature"),
        ("TPP-Signature-Certificate", "tpp-signature-certificate"),
    ]
    .iter()
    .map(|(h, k)| ((*h).to_owned(), j[k].as_str().unwrap().to_owned()))
    .collect();
    let report = verify_cavage(&printed, body, &cert);
    assert_eq!(report["ok"], true, "{report}");
    assert!(j["key_id"].as_str().unwrap().starts_with("SN="), "{j}");
    assert_eq!(
        j["signed_headers"],
        json!(["digest", "x-request-id", "psu-id"])
    );

    // Refusals.
    for (args, status, reason) in [
        (vec!["--credential", "ec"], "FailedPrecondition", "rsa"),
        (
            vec!["--credential", "qseal", "--header", "Digest: SHA-256=x"],
            "InvalidArgument",
            "digest",
        ),
        (
            vec!["--credential", "qseal", "--x-request-id", "not-a-uuid"],
            "InvalidArgument",
            "not-a-uuid",
        ),
    ] {
        let mut all = vec!["berlin-sign"];
        all.extend(args.iter().copied());
        let out = daemon.cli(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(status) && err.to_lowercase().contains(reason),
            "{args:?}: {err}"
        );
    }
}

fn uuid_like(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}
