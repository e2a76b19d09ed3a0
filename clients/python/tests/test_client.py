"""The Python client against the real daemon (target/debug/fapi-agent) and a
real authorization server (tests/oidc/server.mjs, oidc-provider)."""
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time

import grpc
import jwt
import pytest

from fapi_agent_client import AgentError, Client, SocketTrustError, pb

ROOT = pathlib.Path(__file__).resolve().parents[3]
BIN = os.environ.get("FAPI_AGENT_BIN", str(ROOT / "target/debug/fapi-agent"))


def wait_for(path, proc):
    deadline = time.time() + 20
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"daemon exited: {proc.stderr.read()}")
        if os.path.exists(path):
            try:
                with Client(path) as c:
                    c.list_credentials()
                return
            except Exception:
                pass
        time.sleep(0.1)
    raise RuntimeError("daemon did not start")


@pytest.fixture(scope="module")
def dev_daemon():
    tmp = tempfile.mkdtemp()
    sock = os.path.join(tmp, "run", "agent.sock")
    proc = subprocess.Popen([BIN, "run", "--dev", "--socket", sock], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    wait_for(sock, proc)
    yield sock
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def rsa_daemon():
    """A real config: an RSA credential encrypted under a file passphrase."""
    d = pathlib.Path(tempfile.mkdtemp())
    (d / "pass.txt").write_text("rsa-pass-1234")
    os.chmod(d / "pass.txt", 0o600)
    run = lambda *a: subprocess.run(["openssl", *a], cwd=d, check=True, capture_output=True)
    run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-aes-256-cbc",
        "-pass", "file:pass.txt", "-out", "rsa.key")
    run("req", "-new", "-x509", "-key", "rsa.key", "-passin", "file:pass.txt", "-subj", "/CN=rsa",
        "-days", "30", "-out", "rsa.crt")
    (d / "agent.toml").write_text(
        '[credentials.rsa]\nclient_id = "rsa-client"\nissuer = "https://as.example"\n'
        'key = "rsa.key"\ncertificate = "rsa.crt"\n'
        'passphrase = { source = "file", path = "pass.txt" }\ndecrypt_paddings = ["oaep-sha256"]\n')
    sock = str(d / "run" / "agent.sock")
    proc = subprocess.Popen([BIN, "run", "--config", str(d / "agent.toml"), "--socket", sock],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(sock, proc)
    yield sock, d
    proc.terminate()
    proc.wait(10)


def test_sign_verifies_with_pyjwt_against_the_credential_jwk(dev_daemon):
    with Client(dev_daemon) as c:
        a = c.sign_client_assertion(client_id="dev-client")
        cred = c.get_credential(name="dev")
        jwks = c.jwks()
    assert a.assertion_type == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    key = jwt.PyJWK(json.loads(cred.public_jwk_json))
    claims = jwt.decode(a.assertion, key.key, algorithms=["ES256"],
                        audience="https://as.dev.fapi-agent.invalid")
    assert claims["iss"] == claims["sub"] == "dev-client"
    assert claims["jti"] == a.jti and a.kid == cred.kid
    assert [k["kid"] for k in jwks["keys"]] == [cred.kid]


def test_unknown_credential_is_not_found(dev_daemon):
    with Client(dev_daemon) as c:
        with pytest.raises(AgentError) as e:
            c.sign_client_assertion(name="nope")
    assert e.value.code == grpc.StatusCode.NOT_FOUND
    assert "nope" in e.value.message


def test_decrypt_secret_from_openssl_pkeyutl(rsa_daemon):
    sock, d = rsa_daemon
    (d / "secret.txt").write_bytes(b"shared-secret-from-the-platform")
    subprocess.run(["openssl", "pkeyutl", "-encrypt", "-certin", "-inkey", "rsa.crt", "-in", "secret.txt",
                    "-out", "ct.bin", "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
                    "-pkeyopt", "rsa_mgf1_md:sha256"], cwd=d, check=True)
    with Client(sock) as c:
        pt = c.decrypt_secret((d / "ct.bin").read_bytes(), name="rsa")
        with pytest.raises(AgentError) as e:
            c.decrypt_secret(b"\x00" * 256, name="rsa")
    assert pt == b"shared-secret-from-the-platform"
    assert pt.reveal() == b"shared-secret-from-the-platform"
    assert "shared-secret" not in repr(pt) and "shared-secret" not in f"{pt}" and "REDACTED" in repr(pt)
    assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture(scope="module")
def secrets_daemon():
    """clients/testdata/secrets-fixture.sh: export allowed, a shared secret ``api``."""
    d = pathlib.Path(tempfile.mkdtemp())
    subprocess.run(["bash", str(ROOT / "clients/testdata/secrets-fixture.sh"), str(d)], check=True)
    sock = str(d / "agent.sock")
    proc = subprocess.Popen([BIN, "run", "--config", str(d / "agent.toml"), "--socket", sock],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(sock, proc)
    yield sock, d
    proc.terminate()
    proc.wait(10)


def test_secrets_are_redacted_and_shared_secrets_stay_inside(secrets_daemon):
    import base64
    import hashlib
    import hmac
    import pickle
    sock, d = secrets_daemon
    shared = (d / "shared.txt").read_bytes()
    with Client(sock) as c:
        plain = c.decrypt_secret((d / "plain.ct").read_bytes(), name="secrets")
        km = c.key_material(name="secrets")
        enc = c.key_material(name="secrets", format=pb.KEY_FORMAT_ENCRYPTED_PKCS8_PEM,
                             export_passphrase="an export passphrase")
        mac = c.hmac(b"GET /accounts", secret="api", name="secrets")
        digest = c.password_digest(secret="api", nonce=b"0123456789abcdef",
                                   created="2026-12-02T10:00:00Z", name="secrets")
        with pytest.raises(AgentError) as e:
            c.hmac(b"x", secret="nope", name="secrets")
    assert e.value.code == grpc.StatusCode.NOT_FOUND
    assert plain.reveal() == (d / "plain.bin").read_bytes()
    for shown in (repr(plain), str(plain), f"{plain}", repr(km), str(km), repr([plain, km])):
        assert "REDACTED" in shown and "PRIVATE KEY" not in shown, shown
    assert plain.reveal().hex()[:8] not in repr(plain)
    with pytest.raises(TypeError):
        pickle.dumps(plain)
    # The exported key is the certificate's, as openssl reads both.
    pub = lambda *a, **kw: subprocess.run(["openssl", *a], check=True, capture_output=True, **kw).stdout
    cert_pub = pub("x509", "-pubkey", "-noout", "-in", str(d / "cert.pem"))
    assert km.private_key_pem.reveal_str().startswith("-----BEGIN PRIVATE KEY-----")
    assert pub("pkey", "-pubout", input=km.private_key_pem.reveal()) == cert_pub
    assert pub("pkey", "-pubout", "-passin", "pass:an export passphrase",
               input=enc.private_key_pem.reveal()) == cert_pub
    km.private_key_pem.wipe()
    assert len(km.private_key_pem) == 0
    assert mac == hmac.new(shared, b"GET /accounts", "sha256").hexdigest()
    want = base64.b64encode(hashlib.sha1(b"0123456789abcdef" + b"2026-12-02T10:00:00Z" + shared).digest())
    assert digest.password_digest == want.decode()
    assert digest.nonce == base64.b64encode(b"0123456789abcdef").decode()


def test_watch_starts_with_a_snapshot(dev_daemon):
    with Client(dev_daemon) as c:
        first = next(iter(c.watch_credentials()))
    assert first.kind == pb.CREDENTIAL_EVENT_KIND_SNAPSHOT
    assert [x.name for x in first.snapshot] == ["dev"]


def test_a_socket_served_by_another_uid_is_refused():
    d = tempfile.mkdtemp()
    os.chmod(d, 0o755)
    path = os.path.join(d, "impostor.sock")
    code = ("import socket,sys,time\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\n"
            "s.listen(8)\nwhile True:\n  c,_=s.accept(); c.close()")
    # /usr/bin/python3: the test's own interpreter may live where nobody can read.
    proc = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                             "/usr/bin/python3", "-c", code, path])
    try:
        os.chmod(d, 0o777)
        for _ in range(100):
            if os.path.exists(path):
                break
            time.sleep(0.05)
        os.chmod(d, 0o755)
        with pytest.raises(SocketTrustError, match="served by uid 65534"):
            Client(path)
    finally:
        proc.kill()
        proc.wait()


def test_example_gets_an_access_token_from_oidc_provider(dev_daemon):
    with Client(dev_daemon) as c:
        jwks = c.jwks()
    server = subprocess.Popen(["node", str(ROOT / "tests/oidc/server.mjs")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        server.stdin.write(json.dumps({"issuer": "https://as.dev.fapi-agent.invalid",
                                       "clients": [{"client_id": "dev-client", "jwks": jwks}]}))
        server.stdin.close()
        endpoint = json.loads(server.stdout.readline())["token_endpoint"]
        out = subprocess.run([sys.executable, str(ROOT / "clients/python/examples/get_token.py"),
                              "--token-endpoint", endpoint, "--client-id", "dev-client",
                              "--socket", dev_daemon], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["token_type"] == "Bearer"
        assert json.loads(out.stdout)["access_token"]
    finally:
        server.terminate()
        server.wait(10)


def test_generated_code_is_fresh():
    out = subprocess.run([sys.executable, str(ROOT / "clients/python/regen.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr + out.stdout
