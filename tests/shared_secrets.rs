//! Shared secrets that stay inside (docs/standards.md §10): a secret
//! encrypted to the credential's certificate with `openssl pkeyutl`, held
//! by the daemon, used for HMACs (checked against Python's `hmac`) and
//! WS-Security PasswordDigests (checked against a hand computation and
//! zeep's `UsernameToken`), never handed out, wiped by Lock.

mod common;

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::memscan::{contains, memory_of};
use common::*;
use fapi_agent::service::pb;
use tonic::Code;

const ISSUER: &str = "https://as.fapi-agent.test";

/// A secret unlike anything else in the daemon's memory or logs.
fn fresh_secret(tag: &str) -> Vec<u8> {
    let mut r = [0u8; 12];
    openssl::rand::rand_bytes(&mut r).unwrap();
    format!("{tag}-{}", hex(&r)).into_bytes()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 is needed");
    assert!(
        out.status.success(),
        "python3 failed (pip install -r tests/requirements.txt): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// HMAC by Python's `hmac`, in the daemon's encodings.
fn python_hmac(key: &[u8], alg: &str, message: &[u8], encoding: &str) -> String {
    python(
        "import sys, hmac, base64\n\
         key, alg, msg, enc = bytes.fromhex(sys.argv[1]), sys.argv[2], bytes.fromhex(sys.argv[3]), sys.argv[4]\n\
         mac = hmac.new(key, msg, alg).digest()\n\
         print({'hex': mac.hex(), 'base64': base64.b64encode(mac).decode(),\n\
                'base64url': base64.urlsafe_b64encode(mac).decode().rstrip('=')}[enc])",
        &[&hex(key), alg, &hex(message), encoding],
    )
}

fn hmac_req(
    cred: &str,
    name: &str,
    alg: pb::HmacAlg,
    message: &[u8],
    encoding: pb::MacEncoding,
) -> pb::HmacRequest {
    pb::HmacRequest {
        credential: by_name(cred),
        name: name.into(),
        alg: alg.into(),
        message: message.to_vec(),
        encoding: encoding.into(),
    }
}

fn digest_req(cred: &str, name: &str, nonce: &[u8], created: &str) -> pb::PasswordDigestRequest {
    pb::PasswordDigestRequest {
        credential: by_name(cred),
        name: name.into(),
        nonce: nonce.to_vec(),
        created: created.into(),
    }
}

/// Writes `ct` base64-encoded (with a line break, as copied from a
/// platform's page) to `name` in `dir`, mode 0600.
fn write_b64(dir: &std::path::Path, name: &str, ct: &[u8]) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let mut b64 = STANDARD.encode(ct);
    b64.insert(30, '\n');
    b64.push('\n');
    let path = dir.join(name);
    std::fs::write(&path, b64).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn hmacs_and_digests_match_python_hmac_and_zeep() {
    let fx = Fixtures::new();
    let c = fx.credential("akana", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let secret = fresh_secret("akana-shared");
    let binary = {
        let mut b = fresh_secret("bin");
        b.extend_from_slice(&[0, 0xff, 0x80, b'\n']);
        b
    };
    // The three paddings, and the three ways a value arrives: a base64
    // file, a raw ciphertext file, a passphrase source.
    let sha1_file = write_b64(
        fx.path(),
        "sha1.b64",
        &encrypt(fx.path(), &c.cert, &secret, pb::Padding::OaepSha1),
    );
    let raw_file = fx.path().join("raw.bin");
    std::fs::write(
        &raw_file,
        encrypt(fx.path(), &c.cert, &binary, pb::Padding::OaepSha256),
    )
    .unwrap();
    let v15_file = write_b64(
        fx.path(),
        "v15.b64",
        &encrypt(fx.path(), &c.cert, &secret, pb::Padding::Pkcs1V15),
    );
    let extra = format!(
        "decrypt_paddings = [\"oaep-sha1\", \"oaep-sha256\", \"pkcs1-v1_5\"]\n\
         [credentials.akana.shared_secrets.hmac]\nfile = {sha1_file:?}\npadding = \"oaep-sha1\"\n\
         [credentials.akana.shared_secrets.binary]\nfile = {raw_file:?}\npadding = \"oaep-sha256\"\n\
         [credentials.akana.shared_secrets.v15]\nsource = {{ source = \"file\", path = {v15_file:?} }}\npadding = \"pkcs1-v1_5\"\n"
    );
    let daemon = Daemon::start_traced(&c.toml("akana", ISSUER, &extra)).await;
    let mut client = daemon.client().await;

    let message = b"POST /api/v1/payments\n2026-12-02T10:00:00Z\n{\"amount\":\"10.00\"}";
    let algs = [
        (pb::HmacAlg::HmacSha1, "sha1"),
        (pb::HmacAlg::HmacSha256, "sha256"),
        (pb::HmacAlg::HmacSha512, "sha512"),
    ];
    let encodings = [
        (pb::MacEncoding::Hex, "hex"),
        (pb::MacEncoding::Base64, "base64"),
        (pb::MacEncoding::Base64url, "base64url"),
    ];
    for (name, key) in [("hmac", &secret), ("binary", &binary), ("v15", &secret)] {
        for (alg, alg_name) in algs {
            for (enc, enc_name) in encodings {
                let got = client
                    .agent
                    .hmac(hmac_req("akana", name, alg, message, enc))
                    .await
                    .unwrap_or_else(|e| panic!("{name} {alg_name} {enc_name}: {e:?}"))
                    .into_inner();
                assert_eq!(got.credential, "akana");
                assert_eq!(
                    got.mac,
                    python_hmac(key, alg_name, message, enc_name),
                    "{name} {alg_name} {enc_name}"
                );
            }
        }
    }
    // An empty message is a message too.
    let empty = client
        .agent
        .hmac(hmac_req(
            "akana",
            "hmac",
            pb::HmacAlg::HmacSha256,
            b"",
            pb::MacEncoding::Hex,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(empty.mac, python_hmac(&secret, "sha256", b"", "hex"));

    // PasswordDigest with the caller's nonce and created, by hand in Python.
    let by_hand = |nonce_b64: &str, created: &str| {
        python(
            "import sys, hashlib, base64\n\
             n, c, p = base64.b64decode(sys.argv[1]), sys.argv[2].encode(), bytes.fromhex(sys.argv[3])\n\
             print(base64.b64encode(hashlib.sha1(n + c + p).digest()).decode())",
            &[nonce_b64, created, &hex(&secret)],
        )
    };
    let nonce = b"\x00\x01fixed-nonce\xfe\xff";
    let d = client
        .agent
        .password_digest(digest_req("akana", "hmac", nonce, "2026-12-02T10:00:00Z"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.nonce, STANDARD.encode(nonce));
    assert_eq!(d.created, "2026-12-02T10:00:00Z");
    assert_eq!(d.password_digest, by_hand(&d.nonce, "2026-12-02T10:00:00Z"));

    // Without them the daemon makes a 16-byte nonce and the time now (UTC,
    // RFC 3339), and returns what it used; two calls never share a nonce.
    let a = client
        .agent
        .password_digest(digest_req("akana", "hmac", b"", ""))
        .await
        .unwrap()
        .into_inner();
    let b = client
        .agent
        .password_digest(digest_req("akana", "hmac", b"", ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(STANDARD.decode(&a.nonce).unwrap().len(), 16);
    assert_ne!(a.nonce, b.nonce);
    assert_eq!(a.password_digest, by_hand(&a.nonce, &a.created));
    let skew = python(
        "import sys, datetime\n\
         t = datetime.datetime.fromisoformat(sys.argv[1].replace('Z', '+00:00'))\n\
         assert t.utcoffset() == datetime.timedelta(0), t\n\
         print(int(abs((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds())))",
        &[&a.created],
    );
    assert!(
        skew.parse::<u64>().unwrap() < 120,
        "created {} is {skew} s off",
        a.created
    );
    assert!(a.created.ends_with('Z'), "{}", a.created);

    // zeep's UsernameToken (a WS-Security implementation nobody here wrote)
    // makes its own nonce and created; the daemon, given the same two, must
    // produce the Password element zeep wrote. Both timestamp styles.
    let zeep = python(
        "import sys, json\n\
         from lxml import etree\n\
         from zeep.wsse.username import UsernameToken\n\
         out = []\n\
         for zulu in (True, False):\n\
         \x20   env = etree.fromstring(b'<soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap-env:Header/><soap-env:Body/></soap-env:Envelope>')\n\
         \x20   UsernameToken('app', bytes.fromhex(sys.argv[1]), use_digest=True, zulu_timestamp=zulu).apply(env, {})\n\
         \x20   ns = {'wsse': 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd',\n\
         \x20         'wsu': 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd'}\n\
         \x20   t = env.find('.//wsse:UsernameToken', ns)\n\
         \x20   out.append({'password': t.find('wsse:Password', ns).text, 'nonce': t.find('wsse:Nonce', ns).text,\n\
         \x20               'created': t.find('wsu:Created', ns).text})\n\
         print(json.dumps(out))",
        &[&hex(&secret)],
    );
    let tokens: Vec<serde_json::Value> = serde_json::from_str(&zeep).unwrap();
    assert_eq!(tokens.len(), 2);
    for t in tokens {
        let (nonce, created) = (t["nonce"].as_str().unwrap(), t["created"].as_str().unwrap());
        let d = client
            .agent
            .password_digest(digest_req(
                "akana",
                "hmac",
                &STANDARD.decode(nonce).unwrap(),
                created,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            d.password_digest,
            t["password"].as_str().unwrap(),
            "zeep {t}"
        );
        assert_eq!((d.nonce.as_str(), d.created.as_str()), (nonce, created));
    }

    // The CLI: `hmac` prints the MAC, `password-digest` the token's fields.
    let msg_file = fx.path().join("message.bin");
    std::fs::write(&msg_file, message).unwrap();
    let out = daemon.cli(&[
        "hmac",
        "--credential",
        "akana",
        "--name",
        "hmac",
        "--alg",
        "sha512",
        "--encoding",
        "base64",
        "--message",
        msg_file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        python_hmac(&secret, "sha512", message, "base64")
    );
    let out = daemon.cli(&[
        "password-digest",
        "--credential",
        "akana",
        "--name",
        "hmac",
        "--nonce",
        &STANDARD.encode(nonce),
        "--created",
        "2026-12-02T10:00:00Z",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        printed["password_digest"],
        by_hand(&STANDARD.encode(nonce), "2026-12-02T10:00:00Z")
    );

    // Neither secret, in any encoding, ever reaches the log (traced).
    let log = daemon.stderr();
    for s in [&secret, &binary] {
        for form in [
            String::from_utf8_lossy(&s[..12]).into_owned(),
            hex(s),
            STANDARD.encode(s),
        ] {
            assert!(!log.contains(&form), "a shared secret is in the log");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_names_values_requests_and_callers_get_precise_statuses() {
    let fx = Fixtures::new();
    let c = fx.credential("plat", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let secret = fresh_secret("precise");
    let good = write_b64(
        fx.path(),
        "good.b64",
        &encrypt(fx.path(), &c.cert, &secret, pb::Padding::OaepSha256),
    );
    // Encrypted with OAEP-SHA-256 but configured as OAEP-SHA-1.
    let wrong_padding = write_b64(
        fx.path(),
        "wrong.b64",
        &encrypt(fx.path(), &c.cert, &secret, pb::Padding::OaepSha256),
    );
    let mut damaged = encrypt(fx.path(), &c.cert, &secret, pb::Padding::OaepSha256);
    damaged[77] ^= 0x40;
    let damaged = write_b64(fx.path(), "damaged.b64", &damaged);
    let extra = format!(
        "[[credentials.plat.allow]]\nuids = [0]\noperations = [\"hmac\", \"read\"]\n\
         [credentials.plat.shared_secrets.good]\nfile = {good:?}\npadding = \"oaep-sha256\"\nmax_message_bytes = 32\n\
         [credentials.plat.shared_secrets.wrongpad]\nfile = {wrong_padding:?}\npadding = \"oaep-sha1\"\n\
         [credentials.plat.shared_secrets.damaged]\nfile = {damaged:?}\npadding = \"oaep-sha256\"\n"
    );
    let daemon = Daemon::start(&c.toml("plat", ISSUER, &extra)).await;
    let mut client = daemon.client().await;
    let hmac = |name: &str, msg: &[u8]| {
        hmac_req(
            "plat",
            name,
            pb::HmacAlg::HmacSha256,
            msg,
            pb::MacEncoding::Hex,
        )
    };
    let ok = client.agent.hmac(hmac("good", b"m")).await.unwrap();
    assert_eq!(
        ok.into_inner().mac,
        python_hmac(&secret, "sha256", b"m", "hex")
    );

    let e = client.agent.hmac(hmac("nosuch", b"m")).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    assert!(
        e.message().contains("\"nosuch\"") && e.message().contains("\"good\""),
        "{}",
        e.message()
    );

    for name in ["wrongpad", "damaged"] {
        let e = client.agent.hmac(hmac(name, b"m")).await.unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition, "{name}: {e:?}");
        assert!(
            e.message().contains(&format!("shared secret {name:?}"))
                && e.message().contains("could not be decrypted"),
            "{name}: {}",
            e.message()
        );
        assert!(!e.message().contains("precise-"), "the value in an error");
    }

    let e = client
        .agent
        .hmac(hmac("good", &[b'x'; 33]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().contains("max_message_bytes (32)"),
        "{}",
        e.message()
    );
    let mut no_alg = hmac("good", b"m");
    no_alg.alg = pb::HmacAlg::Unspecified.into();
    let e = client.agent.hmac(no_alg).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("alg is required"), "{}", e.message());
    let e = client.agent.hmac(hmac("", b"m")).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);

    // Policy: the rules allow `hmac` but not `password_digest`; a caller
    // the rules do not name gets neither.
    let e = client
        .agent
        .password_digest(digest_req("plat", "good", b"", ""))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    assert!(
        e.message().contains("allows only [\"hmac\", \"read\"]"),
        "{}",
        e.message()
    );
    daemon.open_socket_to_all();
    let msg = fx.path().join("m.txt");
    std::fs::write(&msg, "m").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(fx.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&msg, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let out = daemon.cli_as_nobody(&[
        "hmac",
        "--credential",
        "plat",
        "--name",
        "good",
        "--message",
        msg.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("permission denied"), "{err}");

    // Bad digest inputs.
    let mut bad = digest_req("plat", "good", &[0; 65], "");
    let e = client.agent.password_digest(bad.clone()).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    bad.nonce = b"n".to_vec();
    bad.created = "yesterday".into();
    let e = client.agent.password_digest(bad).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("RFC 3339"), "{}", e.message());

    // The config refuses a padding the credential does not accept, and a
    // value given two ways.
    for (stanza, says) in [
        (
            format!(
                "[credentials.plat.shared_secrets.x]\nfile = {good:?}\npadding = \"pkcs1-v1_5\"\n"
            ),
            "not among the credential's decrypt_paddings",
        ),
        (
            format!(
                "[credentials.plat.shared_secrets.x]\nfile = {good:?}\nsource = {{ source = \"file\", path = {good:?} }}\npadding = \"oaep-sha1\"\n"
            ),
            "either `file = PATH` or `source",
        ),
    ] {
        let cfg = fx.path().join("bad.toml");
        std::fs::write(&cfg, c.toml("plat", ISSUER, &stanza)).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_fapi-agent"))
            .args(["check", "--config", cfg.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("shared_secrets.x") && err.contains(says),
            "{err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_re_encrypted_value_is_picked_up_by_reload() {
    let fx = Fixtures::new();
    let c = fx.credential("rot", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let (old, new) = (fresh_secret("old"), fresh_secret("new"));
    let in_file = fx.path().join("in-file.b64");
    let in_source = fx.path().join("in-source.b64");
    let put = |path: &std::path::Path, s: &[u8]| {
        let ct = encrypt(fx.path(), &c.cert, s, pb::Padding::OaepSha1);
        let written = write_b64(fx.path(), "next.b64", &ct);
        std::fs::rename(written, path).unwrap();
    };
    put(&in_file, &old);
    put(&in_source, &old);
    let extra = format!(
        "[credentials.rot.shared_secrets.f]\nfile = {in_file:?}\npadding = \"oaep-sha1\"\n\
         [credentials.rot.shared_secrets.s]\nsource = {{ source = \"file\", path = {in_source:?} }}\npadding = \"oaep-sha1\"\n"
    );
    let daemon = Daemon::start(&c.toml("rot", ISSUER, &extra)).await;
    let mut client = daemon.client().await;
    let mac = |name: &str| {
        hmac_req(
            "rot",
            name,
            pb::HmacAlg::HmacSha256,
            b"msg",
            pb::MacEncoding::Base64,
        )
    };
    for name in ["f", "s"] {
        let got = client.agent.hmac(mac(name)).await.unwrap().into_inner();
        assert_eq!(got.mac, python_hmac(&old, "sha256", b"msg", "base64"));
    }

    // The platform regenerated the secret: both values re-encrypted. The
    // Reload call returns once the new state is in place.
    put(&in_file, &new);
    put(&in_source, &new);
    let report = client
        .admin
        .reload(pb::ReloadRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(report.errors.is_empty(), "{report:?}");
    assert_eq!(
        report.updated,
        vec!["rot".to_owned()],
        "the file is fingerprinted"
    );
    for name in ["f", "s"] {
        let got = client.agent.hmac(mac(name)).await.unwrap().into_inner();
        assert_eq!(
            got.mac,
            python_hmac(&new, "sha256", b"msg", "base64"),
            "{name} after reload"
        );
    }

    // A source-held value changes while nothing else does: the credential
    // is reused, and the secret read again.
    let newer = fresh_secret("newer");
    put(&in_source, &newer);
    let report = client
        .admin
        .reload(pb::ReloadRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        report.updated.is_empty() && report.errors.is_empty(),
        "{report:?}"
    );
    let got = client.agent.hmac(mac("s")).await.unwrap().into_inner();
    assert_eq!(got.mac, python_hmac(&newer, "sha256", b"msg", "base64"));

    // A damaged new value: reported by the reload, the previous one serves.
    std::fs::write(&in_source, "AAAA").unwrap();
    let report = client
        .admin
        .reload(pb::ReloadRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.starts_with("rot:") && e.contains("shared secret \"s\"")),
        "{report:?}"
    );
    let got = client.agent.hmac(mac("s")).await.unwrap().into_inner();
    assert_eq!(got.mac, python_hmac(&newer, "sha256", b"msg", "base64"));
}

/// After Lock the secret is nowhere in the daemon's memory and its use
/// answers "locked"; before it, it is (which proves the scan works); Unlock
/// decrypts it again.
#[tokio::test(flavor = "multi_thread")]
async fn lock_wipes_the_shared_secret_from_memory() {
    let fx = Fixtures::new();
    let c = fx.credential("memss", KeyType::Rsa2048, KeyFormat::Pkcs8Pbkdf2);
    let secret = fresh_secret("memscan-shared");
    let file = write_b64(
        fx.path(),
        "s.b64",
        &encrypt(fx.path(), &c.cert, &secret, pb::Padding::OaepSha256),
    );
    let extra = format!(
        "[credentials.memss.shared_secrets.s]\nfile = {file:?}\npadding = \"oaep-sha256\"\n"
    );
    let daemon = Daemon::start(&c.toml("memss", ISSUER, &extra)).await;
    let mut client = daemon.client().await;
    let req = || {
        hmac_req(
            "memss",
            "s",
            pb::HmacAlg::HmacSha1,
            b"m",
            pb::MacEncoding::Hex,
        )
    };
    for _ in 0..5 {
        client.agent.hmac(req()).await.unwrap();
        client
            .agent
            .password_digest(digest_req("memss", "s", b"", ""))
            .await
            .unwrap();
    }
    let before = memory_of(daemon.pid());
    assert!(
        contains(&before, &secret),
        "positive control: the shared secret is not found before Lock"
    );
    drop(before);

    client.admin.lock(pb::LockRequest {}).await.unwrap();
    let e = client.agent.hmac(req()).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    assert!(e.message().contains("locked"), "{}", e.message());
    let e = client
        .agent
        .password_digest(digest_req("memss", "s", b"", ""))
        .await
        .unwrap_err();
    assert!(e.message().contains("locked"), "{}", e.message());
    let after = memory_of(daemon.pid());
    assert!(
        !contains(&after, &secret),
        "the shared secret survived Lock"
    );
    drop(after);

    let out = client
        .admin
        .unlock(pb::UnlockRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(out.unlocked, vec!["memss".to_owned()], "{out:?}");
    let got = client.agent.hmac(req()).await.unwrap().into_inner();
    assert_eq!(got.mac, python_hmac(&secret, "sha1", b"m", "hex"));
}
