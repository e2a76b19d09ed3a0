//! The test bank (tests/rs/bank.mjs: a FAPI resource server on loopback
//! HTTPS with mTLS, DPoP, nonces and introspection at the test AS) and
//! curl as the app that calls it through the proxy.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::oauth::{AuthServer, Pki};
use super::root;

/// A running bank.mjs.
pub struct Bank {
    child: Child,
    ready: Value,
    log: PathBuf,
    http: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<bytes::Bytes>,
    >,
}

impl Bank {
    /// Starts a bank with `config` (TLS from `pki`, client certificates
    /// from its CA, tokens introspected at `auth`), waiting for its ready
    /// line.
    pub fn start(pki: &Pki, auth: &AuthServer, mut config: Value) -> Self {
        config["tls"] = json!({
            "cert": pki.dir.join("server.crt"),
            "key": pki.dir.join("server.key"),
            "client_ca": pki.ca(),
        });
        config["introspection"] = json!({"control_url": auth.ready["control_url"]});
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = pki.dir.join(format!("bank-{stamp}.json"));
        std::fs::write(&path, config.to_string()).unwrap();
        let log = path.with_extension("log");
        let mut child = Command::new("node")
            .arg(root().join("tests/rs/bank.mjs"))
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("node is needed (see README)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the bank's ready line");
        assert!(
            !line.is_empty(),
            "the bank did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Self {
            child,
            ready: serde_json::from_str(&line).expect("a JSON ready line"),
            log,
            http: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http(),
        }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.ready["url"].as_str().unwrap().to_owned()
    }

    /// Every request and refusal the bank logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A control API call.
    pub async fn control(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.ready["control_url"].as_str().unwrap());
        let req = hyper::Request::builder()
            .method(method)
            .uri(url)
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::from(
                body.to_string(),
            )))
            .unwrap();
        let resp = tokio::time::timeout(Duration::from_secs(20), self.http.request(req))
            .await
            .expect("the bank's control API answers")
            .expect("the bank's control API is reachable");
        let bytes = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    pub async fn counters(&self) -> Value {
        self.control("GET", "/counters", Value::Null).await
    }
}

impl Drop for Bank {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What curl got.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Runs curl with `args` (and `--unix-socket socket` when given), the
/// body written to `body_to` if given, and parses what it printed.
pub async fn curl(socket: Option<&Path>, args: &[&str], body_to: Option<&Path>) -> Answer {
    let dir = tempfile::tempdir().unwrap();
    let headers = dir.path().join("headers");
    let default_body = dir.path().join("body");
    let body_path = body_to.unwrap_or(&default_body);
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "120", "-D"])
        .arg(&headers)
        .arg("-o")
        .arg(body_path)
        .args(["-w", "%{http_code}"]);
    if let Some(s) = socket {
        cmd.arg("--unix-socket").arg(s);
    }
    cmd.args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("curl is needed (see README)");
    let status: u16 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("curl failed: {}", String::from_utf8_lossy(&out.stderr)));
    let text = std::fs::read_to_string(&headers).unwrap_or_default();
    // The last response's headers (after any 100 Continue).
    let last = text
        .rsplit("\r\n\r\n")
        .find(|b| !b.trim().is_empty())
        .unwrap_or("");
    let headers = last
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = if body_to.is_some() {
        Vec::new()
    } else {
        std::fs::read(body_path).unwrap_or_default()
    };
    Answer {
        status,
        headers,
        body,
    }
}
