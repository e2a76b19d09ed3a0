"""Access tokens through the Python client: the real daemon
(target/debug/fapi-agent, with a ``[credentials.web.oauth]`` table) against a
real FAPI 2.0 authorization server (tests/oidc/fapi_as.mjs, oidc-provider on
loopback HTTPS), whose own introspection checks what the daemon got; and the
example examples/call_resource.py against a real resource server
(tests/rs/bank.mjs)."""
import base64
import hashlib
import json
import os
import pathlib
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import grpc
import jwt
import pytest

from fapi_agent_client import AccessToken, AgentError, Client, pb

ROOT = pathlib.Path(__file__).resolve().parents[3]
BIN = os.environ.get("FAPI_AGENT_BIN", str(ROOT / "target/debug/fapi-agent"))
REDIRECT = "https://client.example/cb"


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def sha256(s: str) -> bytes:
    return hashlib.sha256(s.encode()).digest()


class AuthServer:
    """tests/oidc/fapi_as.mjs with a CA, its certificate for 127.0.0.1 and
    one client ``web-app`` (private_key_jwt, DPoP-bound tokens, code flow)."""

    def __init__(self, d: pathlib.Path, client_cert_pem: str):
        self.dir = d  # also the CA (ca.crt), the 127.0.0.1 certificate and the daemon's socket
        config = {
            "profile": "fapi2",
            "tls": {"cert": str(d / "server.crt"), "key": str(d / "server.key"), "client_ca": str(d / "ca.crt")},
            "clients": [{
                "client_id": "web-app", "certificates_pem": [client_cert_pem],
                "redirect_uris": [REDIRECT], "scope": "openid accounts offline_access",
                "grant_types": ["client_credentials", "authorization_code", "refresh_token"],
                "dpop_bound_access_tokens": True,
            }],
        }
        (d / "as.json").write_text(json.dumps(config))
        self.log = d / "as.log"
        self.proc = subprocess.Popen(["node", str(ROOT / "tests/oidc/fapi_as.mjs"), str(d / "as.json")],
                                     stdout=subprocess.PIPE, stderr=self.log.open("w"), text=True)
        line = self.proc.stdout.readline()  # the ready line, or EOF if it exits
        if not line:
            raise RuntimeError(f"the authorization server did not start: {self.log.read_text()}")
        self.ready = json.loads(line)

    def control(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.ready["control_url"] + path, data=data, method=method,
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=20) as r:
            return json.loads(r.read())

    def introspect(self, token: str) -> dict:
        return self.control("POST", "/introspect", {"token": token})

    def token_requests(self) -> int:
        return self.control("GET", "/counters")["total_token_requests"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture(scope="module")
def fapi():
    d = pathlib.Path(tempfile.mkdtemp())
    run = lambda *a: subprocess.run(["openssl", *a], cwd=d, check=True, capture_output=True)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
        "-out", "ca.crt", "-subj", "/CN=fapi-agent python test CA", "-days", "2")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key",
        "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-out", "server.crt", "-extfile", "server.ext")
    for name in ("web", "bare"):
        run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{name}.key")
        os.chmod(d / f"{name}.key", 0o600)
        run("req", "-x509", "-new", "-key", f"{name}.key", "-subj", f"/CN={name}", "-days", "365",
            "-out", f"{name}.crt")
    server = AuthServer(d, (d / "web.crt").read_text())
    issuer = json.dumps(server.ready["issuer"])
    f = lambda n: json.dumps(str(d / n))
    (d / "agent.toml").write_text(
        f'[credentials.web]\nclient_id = "web-app"\nissuer = {issuer}\nkey = {f("web.key")}\n'
        f'certificate = {f("web.crt")}\nallow_plaintext_key = true\n'
        f'[credentials.web.oauth]\nca_file = {f("ca.crt")}\nscopes = ["accounts"]\n'
        # A credential without an oauth table: no tokens, no DPoP proofs.
        f'[credentials.bare]\nclient_id = "bare-app"\nissuer = {issuer}\nkey = {f("bare.key")}\n'
        f'certificate = {f("bare.crt")}\nallow_plaintext_key = true\n')
    sock = d / "run" / "agent.sock"
    daemon = subprocess.Popen([BIN, "run", "--config", str(d / "agent.toml"), "--socket", str(sock)],
                              stdout=subprocess.DEVNULL, stderr=(d / "daemon.log").open("w"))
    try:
        deadline = time.monotonic() + 20
        while True:  # until the daemon answers (bounded)
            if daemon.poll() is not None:
                raise RuntimeError(f"daemon exited: {(d / 'daemon.log').read_text()}")
            if sock.exists():
                try:
                    with Client(sock, retries=0) as c:
                        c.list_credentials()
                    break
                except Exception:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError("daemon did not start")
            time.sleep(0.05)
        with Client(sock) as agent:
            yield agent, server
    finally:
        daemon.terminate()
        daemon.wait(10)
        server.stop()


def test_get_access_token_is_dpop_bound_cached_and_force_refreshed(fapi):
    agent, server = fapi
    t = agent.get_access_token(name="web")
    assert isinstance(t, AccessToken)
    assert (t.token_type, t.scope, t.credential, t.cached) == ("DPoP", "accounts", "web", False)
    assert len(t.jkt) == 43 and t.x5t_s256 == ""
    assert t.expires_at > time.time() and t.expires_in() > 0
    seen = server.introspect(t.access_token)
    assert seen["active"] is True, seen
    assert seen["client_id"] == "web-app" and seen["scope"] == "accounts"
    assert seen["cnf"]["jkt"] == t.jkt

    before = server.token_requests()
    again = agent.get_access_token(client_id="web-app", scopes=["accounts"])
    assert again.cached is True and again.access_token == t.access_token
    assert server.token_requests() == before
    fresh = agent.get_access_token(name="web", force_refresh=True, grant=pb.GRANT_CLIENT_CREDENTIALS)
    assert fresh.cached is False and fresh.access_token != t.access_token
    assert server.token_requests() == before + 1
    assert t.authorization_header() == f"DPoP {t.access_token}"


def test_an_access_token_prints_redacted(fapi):
    agent, _ = fapi
    t = agent.get_access_token(name="web")
    prefix = hashlib.sha256(t.access_token.encode()).hexdigest()[:16]
    assert t.sha256_prefix == prefix
    for shown in (repr(t), str(t), f"{t}", f"{t!r}", repr([t]), repr({"t": t}), "%s" % t):
        assert t.access_token not in shown, shown
        assert f"access_token=[REDACTED sha256:{prefix}]" in shown, shown
        assert "token_type='DPoP'" in shown and f"expires_at={t.expires_at}" in shown
    assert not hasattr(t, "__dict__"), "no instance dict for vars() to dump"


def test_sign_dpop_proof_with_ath_nonce_and_the_token_binding_key(fapi):
    agent, _ = fapi
    t = agent.get_access_token(name="web")
    p = agent.sign_dpop_proof("GET", "https://rs.example/accounts?page=2#top", access_token=t,
                              nonce="server-nonce-1", name="web")
    assert p.jkt == t.jkt and p.htu == "https://rs.example/accounts"
    header = jwt.get_unverified_header(p.proof)
    assert header["typ"] == "dpop+jwt" and header["alg"] == "ES256"
    jwk = header["jwk"]
    thumbprint = b64url(hashlib.sha256(json.dumps(
        {k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":")).encode()).digest())
    assert thumbprint == t.jkt, "the proof key is the one the token is bound to"
    claims = jwt.decode(p.proof, jwt.PyJWK(jwk).key, algorithms=["ES256"])
    assert claims["htm"] == "GET" and claims["htu"] == "https://rs.example/accounts"
    assert claims["ath"] == b64url(sha256(t.access_token))
    assert claims["nonce"] == "server-nonce-1" and claims["jti"] == p.jti
    q = agent.sign_dpop_proof("POST", "https://rs.example/payments", name="web")
    qc = jwt.decode(q.proof, jwt.PyJWK(jwk).key, algorithms=["ES256"])
    assert "ath" not in qc and "nonce" not in qc and q.jti != p.jti


def test_par_then_code_exchange_then_refresh(fapi):
    agent, server = fapi
    verifier = b64url(secrets.token_bytes(32))
    pushed = agent.push_authorization_request({
        "response_type": "code", "redirect_uri": REDIRECT, "scope": "openid accounts offline_access",
        "state": "st-1", "nonce": "n-1", "code_challenge": b64url(sha256(verifier)),
        "code_challenge_method": "S256", "prompt": "consent",
    }, signed_request_object=True, name="web")
    assert pushed.request_uri.startswith("urn:ietf:params:oauth:request_uri:")
    assert 0 < pushed.expires_in <= 600 and pushed.client_id == "web-app"
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(pushed.authorization_url).query)
    assert query == {"client_id": ["web-app"], "request_uri": [pushed.request_uri]}
    authorized = server.control("POST", "/authorize", {"url": pushed.authorization_url})
    assert authorized.get("code") and authorized["state"] == "st-1", authorized

    t = agent.exchange_authorization_code(authorized["code"], code_verifier=verifier, redirect_uri=REDIRECT,
                                          name="web")
    assert t.token_type == "DPoP" and t.cached is False
    assert t.refresh_token, "offline_access gives a refresh token"
    seen = server.introspect(t.access_token)
    assert seen["sub"] == "alice" and seen["cnf"]["jkt"] == t.jkt, seen
    assert t.refresh_token not in repr(t) and "refresh_token=[REDACTED]" in repr(t)

    refreshed = agent.refresh_access_token(t, name="web")
    assert refreshed.access_token != t.access_token
    seen = server.introspect(refreshed.access_token)
    assert seen["active"] is True and seen["cnf"]["jkt"] == t.jkt, seen

    # A replayed code is the AS's invalid_grant, quoted as FAILED_PRECONDITION.
    with pytest.raises(AgentError) as e:
        agent.exchange_authorization_code(authorized["code"], code_verifier=verifier, redirect_uri=REDIRECT,
                                          name="web")
    assert e.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert 'credential "web"' in e.value.message and "invalid_grant" in e.value.message
    assert t.access_token not in str(e.value)


def test_a_credential_without_an_oauth_table_is_failed_precondition(fapi):
    agent, _ = fapi
    for call in (lambda: agent.get_access_token(name="bare"),
                 lambda: agent.sign_dpop_proof("GET", "https://rs.example/", name="bare"),
                 lambda: agent.refresh_access_token("rt", name="bare")):
        with pytest.raises(AgentError) as e:
            call()
        assert e.value.code == grpc.StatusCode.FAILED_PRECONDITION
        assert 'credential "bare" has no [credentials.bare.oauth] table' in e.value.message


class Bank:
    """tests/rs/bank.mjs: DPoP-bound tokens introspected at the AS, nonces
    required, no client certificate; TLS with the AS's certificate for
    127.0.0.1 (the test CA)."""

    def __init__(self, server: AuthServer):
        d = server.dir
        (d / "bank.json").write_text(json.dumps({
            "port": 0, "control_port": 0,
            "tls": {"cert": str(d / "server.crt"), "key": str(d / "server.key")},
            "require_client_cert": False, "token_binding": "dpop", "require_dpop_nonce": True,
            "introspection": {"control_url": server.ready["control_url"]},
        }))
        self.log = d / "bank.log"
        self.proc = subprocess.Popen(["node", str(ROOT / "tests/rs/bank.mjs"), str(d / "bank.json")],
                                     stdout=subprocess.PIPE, stderr=self.log.open("w"), text=True)
        line = self.proc.stdout.readline()  # the ready line, or EOF if it exits
        if not line:
            raise RuntimeError(f"the bank did not start: {self.log.read_text()}")
        self.ready = json.loads(line)

    def counters(self) -> dict:
        with urllib.request.urlopen(self.ready["control_url"] + "/counters", timeout=20) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def test_example_calls_the_bank_with_a_dpop_bound_token_after_one_nonce_challenge(fapi):
    agent, server = fapi
    bank = Bank(server)
    try:
        env = {**os.environ, "FAPI_AGENT_SOCKET": str(server.dir / "run" / "agent.sock"),
               "FAPI_RESOURCE_URL": bank.ready["url"] + "/accounts"}
        out = subprocess.run([sys.executable, str(ROOT / "clients/python/examples/call_resource.py"),
                              "--credential", "web", "--ca-file", str(server.dir / "ca.crt")],
                             env=env, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr + bank.log.read_text()
        answer = json.loads(out.stdout)
        assert answer["accounts"], answer
        t = agent.get_access_token(name="web")
        assert answer["seen"]["jkt"] == t.jkt, "the bank saw the key the token is bound to"
        assert answer["seen"]["client_id"] == "web-app" and answer["seen"]["token_binding"] == "dpop"
        counters = bank.counters()
        assert counters["nonce_challenges"] == 1, counters
        assert counters["requests"] == 2 and counters["refused"] == {"dpop_nonce_missing": 1}, counters
    finally:
        bank.stop()
