//! The test authorization server (tests/oidc/fapi_as.mjs, oidc-provider on
//! loopback HTTPS with an mTLS listener and a control API) and the TLS
//! fixtures it and the daemon need: a CA, a server certificate for
//! 127.0.0.1, client certificates issued by the CA.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{openssl, root};

/// A test CA and the certificates it issued, in a directory.
pub struct Pki {
    pub dir: PathBuf,
}

impl Pki {
    /// A CA and a server certificate for IP 127.0.0.1, in `dir`.
    pub fn new(dir: &Path) -> Self {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-subj",
                "/CN=fapi-agent test CA",
                "-days",
                "2",
            ],
        );
        let pki = Self {
            dir: dir.to_owned(),
        };
        pki.issue_plain(
            "server",
            "/CN=127.0.0.1",
            Some("subjectAltName=IP:127.0.0.1\n"),
        );
        pki
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// An unencrypted key and a CA-issued certificate `NAME.key`/`NAME.crt`.
    pub fn issue_plain(&self, name: &str, subject: &str, ext: Option<&str>) -> (PathBuf, PathBuf) {
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let crt = format!("{name}.crt");
        openssl(
            &self.dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                subject,
            ],
        );
        let mut args = vec![
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &crt,
        ];
        let extfile = format!("{name}.ext");
        if let Some(ext) = ext {
            std::fs::write(self.dir.join(&extfile), ext).unwrap();
            args.extend(["-extfile", &extfile]);
        }
        openssl(&self.dir, &args);
        (self.dir.join(key), self.dir.join(crt))
    }

    /// A certificate issued by the CA for an existing key.
    pub fn issue_for(&self, name: &str, key: &Path, subject: &str) -> PathBuf {
        let csr = format!("{name}.csr");
        let crt = format!("{name}.crt");
        openssl(
            &self.dir,
            &[
                "req",
                "-new",
                "-key",
                key.to_str().unwrap(),
                "-out",
                &csr,
                "-subj",
                subject,
            ],
        );
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &crt,
            ],
        );
        self.dir.join(crt)
    }
}

/// A running fapi_as.mjs.
pub struct AuthServer {
    pub child: Child,
    pub ready: Value,
    pub config_path: PathBuf,
    http: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<bytes::Bytes>,
    >,
}

impl AuthServer {
    /// Starts the server with `config` (its `tls` filled from `pki`) and
    /// waits for its ready line.
    pub fn start(pki: &Pki, mut config: Value) -> Self {
        config["tls"] = json!({
            "cert": pki.dir.join("server.crt"),
            "key": pki.dir.join("server.key"),
            "client_ca": pki.ca(),
        });
        let config_path = pki.dir.join(format!(
            "as-{}.json",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::write(&config_path, config.to_string()).unwrap();
        let log = config_path.with_extension("log");
        let mut child = Command::new("node")
            .arg(root().join("tests/oidc/fapi_as.mjs"))
            .arg(&config_path)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("node is needed (see README)");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the authorization server's ready line");
        assert!(
            !line.is_empty(),
            "the authorization server did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let ready: Value = serde_json::from_str(&line).expect("a JSON ready line");
        let http =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        Self {
            child,
            ready,
            config_path,
            http,
        }
    }

    /// What the server logged (every request, every refusal's reason).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.config_path.with_extension("log")).unwrap_or_default()
    }

    pub fn issuer(&self) -> String {
        self.ready["issuer"].as_str().unwrap().to_owned()
    }

    pub fn port(&self) -> u16 {
        self.ready["port"].as_u64().unwrap() as u16
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
            .expect("the control API answers")
            .expect("the control API is reachable");
        let bytes = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    pub async fn introspect(&self, token: &str) -> Value {
        self.control("POST", "/introspect", json!({ "token": token }))
            .await
    }

    pub async fn counters(&self) -> Value {
        self.control("GET", "/counters", Value::Null).await
    }

    pub async fn fault(&self, fault: Value) {
        self.control("POST", "/fault", fault).await;
    }

    /// Stops the server and waits for it to exit.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "the authorization server did not stop"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback TCP port (bound and released: for a server that must
/// come up later on a known port).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
