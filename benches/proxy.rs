//! The egress proxy beside nginx, in one run, on one upstream: an nginx
//! HTTPS server on loopback that requires a client certificate and answers
//! a small JSON body. In front of it, on a Unix socket each, fapi-agent's
//! proxy (mTLS through the key handle) and nginx configured as the same
//! mTLS-originating reverse proxy (`proxy_ssl_certificate`, upstream
//! keepalive). The same load generator drives both. A third scenario adds
//! a DPoP-bound token and a fresh proof per request (token from the test
//! authorization server, cached), to measure what the proof costs.
//!
//! `cargo bench --bench proxy` writes its table into docs/benchmarks.md
//! between the `<!-- proxy -->` markers (the daemon benchmark keeps that
//! part). Under `cargo test` it runs each scenario briefly as a smoke
//! test and writes nothing.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fapi_agent::client::Client;
use fapi_agent::service::pb;

fn sh(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn openssl(dir: &Path, args: &[&str]) {
    sh(Command::new("openssl").current_dir(dir).args(args));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A CA, a server certificate for 127.0.0.1 and localhost, and a client
/// key (plain for nginx, encrypted for fapi-agent) with its certificate.
fn pki(d: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-subj",
        "/CN=bench CA",
        "-days",
        "2",
    ]);
    openssl(d, &ca);
    for (name, ext) in [
        ("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ] {
        let (key, csr, crt, extfile) = (
            format!("{name}.pem"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        let mut req = vec!["req"];
        req.extend(ec);
        req.extend([
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            if name == "server" {
                "/CN=localhost"
            } else {
                "/CN=bench-client"
            },
        ]);
        openssl(d, &req);
        std::fs::write(d.join(&extfile), ext).unwrap();
        openssl(
            d,
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
                "-extfile",
                &extfile,
            ],
        );
    }
    std::fs::write(d.join("client.pass"), "bench-client\n").unwrap();
    sh(Command::new("chmod").arg("600").arg(d.join("client.pass")));
    openssl(
        d,
        &[
            "pkcs8",
            "-topk8",
            "-in",
            "client.pem",
            "-out",
            "client.key",
            "-v2",
            "aes256",
            "-passout",
            "file:client.pass",
        ],
    );
}

/// A process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        // SIGTERM first: nginx's master then stops its workers (SIGKILL
        // would leave them running, holding our stdout).
        let pid = self.0.id() as libc::pid_t;
        // SAFETY: kill has no memory preconditions; pid is our child's.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts nginx with `body` as the `http` block, in its own prefix.
fn nginx(d: &Path, tag: &str, workers: &str, body: &str) -> Proc {
    let prefix = d.join(tag);
    std::fs::create_dir_all(prefix.join("logs")).unwrap();
    // As root, workers would switch to an unprivileged user that cannot
    // read the keys here.
    let user = if fapi_agent::sys::process::effective_uid() == 0 {
        "user root;\n"
    } else {
        ""
    };
    let conf = prefix.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "{user}worker_processes {workers};\nerror_log {p}/logs/error.log warn;\npid {p}/nginx.pid;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n\
             fastcgi_temp_path {p}/fcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n\
             keepalive_requests 1000000;\n{body}\n}}\n",
            p = prefix.display()
        ),
    )
    .unwrap();
    let child = Command::new("nginx")
        .arg("-p")
        .arg(&prefix)
        .arg("-c")
        .arg(&conf)
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx is needed (apt install nginx; .ci/test-all installs it)");
    Proc(child)
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ready() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Starts the test authorization server; returns it and its issuer.
fn auth_server(d: &Path) -> (Proc, String) {
    let cert = std::fs::read_to_string(d.join("client.crt")).unwrap();
    let config = serde_json::json!({
        "profile": "fapi2",
        "tls": {"cert": d.join("server.crt"), "key": d.join("server.pem"), "client_ca": d.join("ca.crt")},
        "access_token_ttl": 3600,
        "log_requests": false,
        "clients": [{"client_id": "bench", "certificates_pem": [cert], "scope": "accounts",
                     "dpop_bound_access_tokens": true}],
    });
    std::fs::write(d.join("as.json"), config.to_string()).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("node")
        .arg(root.join("tests/oidc/fapi_as.mjs"))
        .arg(d.join("as.json"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node is needed (tests/oidc, npm ci)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: serde_json::Value =
        serde_json::from_str(&line).expect("the authorization server's ready line");
    (Proc(child), ready["issuer"].as_str().unwrap().to_owned())
}

/// CPU time (user + system) of a process and its children so far, µs.
fn cpu_us(pid: u32) -> f64 {
    let mut total = 0.0;
    let mut pids = vec![pid];
    // nginx's workers are its children.
    if let Ok(children) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
        pids.extend(
            children
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    for p in pids {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        total += f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    }
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    total * 1e6 / hz
}

struct Stats {
    ops: f64,
    p50: f64,
    p99: f64,
    cpu_per_op: f64,
}

type Sender = hyper::client::conn::http1::SendRequest<http_body_util::Empty<bytes::Bytes>>;

/// GET /accounts on `conns` keep-alive connections to `socket` for `dur`;
/// every answer must be 200.
async fn load(socket: &Path, host: &str, conns: usize, dur: Duration, pid: u32) -> Stats {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let stream = tokio::net::UnixStream::connect(socket).await.unwrap();
        let (mut sender, conn): (Sender, _) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let stop = Arc::clone(&stop);
        let host = host.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(100_000);
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let req = hyper::Request::get("/accounts")
                    .header("host", &host)
                    .body(http_body_util::Empty::new())
                    .unwrap();
                sender.ready().await.unwrap();
                let resp = sender.send_request(req).await.unwrap();
                assert_eq!(resp.status(), 200, "{resp:?}");
                http_body_util::BodyExt::collect(resp.into_body())
                    .await
                    .unwrap();
                lat.push(t.elapsed().as_micros() as u32);
            }
            lat
        }));
    }
    let cpu0 = cpu_us(pid);
    let t = Instant::now();
    tokio::time::sleep(dur).await;
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    for task in tasks {
        lat.extend(task.await.unwrap());
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_us(pid) - cpu0;
    lat.sort_unstable();
    let pick = |q: f64| lat[((lat.len() as f64 - 1.0) * q) as usize] as f64;
    Stats {
        ops: lat.len() as f64 / secs,
        p50: pick(0.5),
        p99: pick(0.99),
        cpu_per_op: cpu / lat.len() as f64,
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let secs: f64 = if full {
        std::env::var("FAPI_BENCH_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(4.0)
    } else {
        0.3
    };
    let dur = Duration::from_secs_f64(secs);
    let dir = tempfile::Builder::new()
        .prefix("fapi-agent-bench-proxy-")
        .tempdir()
        .unwrap();
    let d = dir.path();
    pki(d);
    let p = |f: &str| d.join(f).display().to_string();

    // The upstream: one nginx worker, mTLS required, a fixed JSON answer.
    let port = free_port();
    let _upstream = nginx(
        d,
        "upstream",
        "1",
        &format!(
            "  server {{\n    listen 127.0.0.1:{port} ssl;\n    ssl_certificate {};\n    ssl_certificate_key {};\n\
             ssl_client_certificate {};\n    ssl_verify_client on;\n\
             location / {{ default_type application/json; return 200 '{{\"accounts\":[{{\"id\":\"1\"}}]}}'; }}\n  }}",
            p("server.crt"),
            p("server.pem"),
            p("ca.crt")
        ),
    );
    wait_for("the upstream nginx", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });

    // nginx as the mTLS-originating reverse proxy on a Unix socket.
    let nginx_sock = d.join("nginx-proxy.sock");
    let nginx_proxy = nginx(
        d,
        "proxy",
        "auto",
        &format!(
            "  upstream bank {{ server 127.0.0.1:{port}; keepalive 64; }}\n  server {{\n    listen unix:{};\n\
             location / {{\n      proxy_pass https://bank;\n      proxy_http_version 1.1;\n\
             proxy_set_header Connection \"\";\n      proxy_ssl_certificate {};\n\
             proxy_ssl_certificate_key {};\n      proxy_ssl_trusted_certificate {};\n\
             proxy_ssl_verify on;\n      proxy_ssl_name localhost;\n      proxy_ssl_session_reuse on;\n    }}\n  }}",
            nginx_sock.display(),
            p("client.crt"),
            p("client.pem"),
            p("ca.crt")
        ),
    );
    wait_for("the nginx proxy", || nginx_sock.exists());

    // fapi-agent: the same upstream without a token, and with DPoP.
    let (_auth, issuer) = auth_server(d);
    let config = format!(
        "[agent]\nrequests_per_second_per_uid = 1000000\nrequest_burst_per_uid = 1000000\n\
         [credentials.bench]\nclient_id = \"bench\"\nissuer = {issuer:?}\nkey = {:?}\ncertificate = {:?}\n\
         passphrase = {{ source = \"file\", path = {:?} }}\n\
         [credentials.bench.oauth]\nca_file = {:?}\nscopes = [\"accounts\"]\n[proxy]\n\
         [upstreams.mtls]\nbase_url = \"https://127.0.0.1:{port}\"\ncredential = \"bench\"\ntoken = \"none\"\n\
         client_certificate = true\nca_file = {:?}\nhttp2 = false\n\
         [upstreams.dpop]\nbase_url = \"https://127.0.0.1:{port}\"\ncredential = \"bench\"\ntoken = \"dpop\"\n\
         client_certificate = true\nca_file = {:?}\nhttp2 = false\n",
        p("client.key"),
        p("client.crt"),
        p("client.pass"),
        p("ca.crt"),
        p("ca.crt"),
        p("ca.crt"),
    );
    std::fs::write(d.join("agent.toml"), config).unwrap();
    let socket = d.join("run/agent.sock");
    let agent = Proc(
        Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
            .args(["run", "--log=warn", "--config"])
            .arg(d.join("agent.toml"))
            .arg("--socket")
            .arg(&socket)
            .stderr(std::fs::File::create(d.join("agent.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let proxy_sock = socket.with_file_name("proxy.sock");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    wait_for("fapi-agent", || {
        proxy_sock.exists()
            && rt.block_on(async {
                match Client::connect(&socket).await {
                    Ok(mut c) => c.admin.status(pb::StatusRequest {}).await.is_ok(),
                    Err(_) => false,
                }
            })
    });

    let conns = 8;
    // Warm: connections, the decrypted key, the token.
    let warm = Duration::from_millis(200);
    rt.block_on(load(&proxy_sock, "mtls", conns, warm, agent.0.id()));
    rt.block_on(load(&proxy_sock, "dpop", conns, warm, agent.0.id()));
    rt.block_on(load(&nginx_sock, "bank", conns, warm, nginx_proxy.0.id()));
    // Alternating rounds, so that neither gets the quieter moments.
    let (mut ours, mut theirs, mut dpop) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..if full { 3 } else { 1 } {
        ours.push(rt.block_on(load(&proxy_sock, "mtls", conns, dur, agent.0.id())));
        theirs.push(rt.block_on(load(&nginx_sock, "bank", conns, dur, nginx_proxy.0.id())));
        dpop.push(rt.block_on(load(&proxy_sock, "dpop", conns, dur, agent.0.id())));
    }
    let median = |mut v: Vec<Stats>| {
        v.sort_by(|a, b| a.ops.total_cmp(&b.ops));
        v.swap_remove(v.len() / 2)
    };
    let (ours, theirs, dpop) = (median(ours), median(theirs), median(dpop));
    let row = |name: &str, s: &Stats| {
        format!(
            "| {name} | {:.0} | {:.0} | {:.0} | {:.1} |\n",
            s.ops, s.p50, s.p99, s.cpu_per_op
        )
    };
    let mut table = String::from(
        "| through, to one mTLS upstream (nginx), 8 connections | requests/s | p50 µs | p99 µs | proxy CPU µs/request |\n|---|---:|---:|---:|---:|\n",
    );
    table.push_str(&row(
        "nginx reverse proxy (proxy_ssl_certificate, keepalive)",
        &theirs,
    ));
    table.push_str(&row("fapi-agent proxy, mTLS", &ours));
    table.push_str(&row("fapi-agent proxy, mTLS + DPoP token and proof", &dpop));
    let verdict = |ok: bool| if ok { "yes" } else { "**no**" };
    let targets = format!(
        "| target | met | measured |\n|---|---|---|\n\
         | throughput ≥ nginx's | {} | {:.0}/s vs {:.0}/s = {:.0} % |\n\
         | p99 ≤ 1.2× nginx's | {} | {:.0} µs vs {:.0} µs = {:.2}× |\n\
         | DPoP proof per request (measured, no target) | — | {:.0}/s → {:.0}/s ({:+.0} %), p50 {:.0} → {:.0} µs |\n",
        verdict(ours.ops >= theirs.ops),
        ours.ops,
        theirs.ops,
        100.0 * ours.ops / theirs.ops,
        verdict(ours.p99 <= 1.2 * theirs.p99),
        ours.p99,
        theirs.p99,
        ours.p99 / theirs.p99,
        ours.ops,
        dpop.ops,
        100.0 * (dpop.ops / ours.ops - 1.0),
        ours.p50,
        dpop.p50,
    );
    println!("{table}\n{targets}");
    drop(agent);
    if !full {
        println!("smoke run: 1 passed, 0 failed");
        return;
    }
    let nginx_version = String::from_utf8_lossy(
        &Command::new("nginx")
            .arg("-v")
            .output()
            .map(|o| o.stderr)
            .unwrap_or_default(),
    )
    .trim()
    .to_owned();
    let section = format!(
        "<!-- proxy -->\n## Egress proxy beside nginx\n\nReproduce: `cargo bench --bench proxy`. {nginx_version}; the upstream is one nginx worker on loopback requiring a client certificate; both proxies listen on a Unix socket and speak HTTP/1.1 with keep-alive to it; each scenario {secs:.0} s, median of 3 alternating rounds; the load generator (one thread) shares the cores.\n\n{table}\n{targets}<!-- /proxy -->"
    );
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/benchmarks.md");
    let text = std::fs::read_to_string(&doc).unwrap_or_default();
    let text = match (text.find("<!-- proxy -->"), text.find("<!-- /proxy -->")) {
        (Some(a), Some(b)) => format!(
            "{}{section}{}",
            &text[..a],
            &text[b + "<!-- /proxy -->".len()..]
        ),
        // After the analysis marker, which the daemon benchmark keeps.
        _ if text.contains("<!-- analysis -->") => format!("{text}\n{section}\n"),
        _ => format!("{text}\n<!-- analysis -->\n{section}\n"),
    };
    std::fs::write(&doc, text).unwrap();
    println!("written to {}", doc.display());
}
