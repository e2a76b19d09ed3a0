#!/usr/bin/env python3
"""Proves verify_signed.py is not vacuous, and checks rfc9421_vectors.json.

For every subcommand, correct objects made by the libraries themselves
(PyJWT, jwcrypto, cryptography, http-message-signatures, httpsig, zeep) and
by the openssl CLI must be accepted, and each mistake a buggy signer could
make must be rejected for the stated reason. The RFC 9421 Appendix B vectors
must verify with http-message-signatures and with cryptography, rebuild byte
for byte, and reproduce exactly where the algorithm is deterministic.
Exits 1 if any check fails.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import importlib.util
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.x509.oid import NameOID
from http_message_signatures import (
    ContentDigest,
    HTTPMessageSigner,
    HTTPMessageVerifier,
    MappingKeyResolver,
    algorithms,
)
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS, JWSEHeaderParameter

HERE = os.path.dirname(os.path.abspath(__file__))
VERIFY = os.path.join(HERE, "verify_signed.py")
VECTORS = os.path.join(HERE, "rfc9421_vectors.json")
PSS_MAX_SALT = 2048 // 8 - 32 - 2

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


class Results:
    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def expect(self, name: str, ok: bool, detail: str = "") -> None:
        print(f"ok    {name}" if ok else f"FAIL  {name}: {detail}")
        if ok:
            self.passed += 1
        else:
            self.failed.append(name)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sb64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def verify(sub: str, inp: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    r = subprocess.run([sys.executable, VERIFY, sub], input=json.dumps(inp), capture_output=True, text=True)
    try:
        report = json.loads(r.stdout)
    except json.JSONDecodeError:
        report = {"ok": None, "errors": [f"no JSON on stdout: {r.stdout!r} {r.stderr!r}"]}
    return r.returncode, report


def accepts(res: Results, name: str, sub: str, inp: dict[str, Any], libs: tuple[str, ...] = ()) -> dict[str, Any]:
    """Exit 0, ok true, and every library in `libs` reports passed."""
    rc, rep = verify(sub, inp)
    checked = rep.get("checked_by", {})
    bad = [lib for lib in libs if checked.get(lib) != "passed"]
    res.expect(
        f"{sub}: accepts {name}", rc == 0 and rep.get("ok") is True and not bad, f"rc={rc} libs {bad} {json.dumps(rep)}"
    )
    return rep


def rejects(
    res: Results,
    name: str,
    sub: str,
    inp: dict[str, Any],
    want: list[str],
    rc_want: int = 1,
    outcome: tuple[int, dict[str, Any]] | None = None,
) -> None:
    """Exit 1 (or rc_want), ok false, and each of `want` is a substring of some error."""
    rc, rep = outcome or verify(sub, inp)
    errors = rep.get("errors", [])
    missing = [w for w in want if not any(w in e for e in errors)]
    res.expect(
        f"{sub}: rejects {name}",
        rc == rc_want and rep.get("ok") is False and not missing,
        f"rc={rc}, missing {missing} in {errors}",
    )


def load_verifier() -> Any:
    spec = importlib.util.spec_from_file_location("verify_signed", VERIFY)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rejects_all(res: Results, sub: str, cases: list[tuple[str, dict[str, Any], list[str]]]) -> None:
    """rejects() for each case, the verifier runs spread over the cores, the results in order."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        outcomes = list(pool.map(lambda case: verify(sub, case[1]), cases))
    for (what, inp, want), outcome in zip(cases, outcomes, strict=True):
        rejects(res, what, sub, inp, want, outcome=outcome)


def openssl(cwd: str, *args: str, stdin: bytes | None = None) -> bytes:
    r = subprocess.run(["openssl", *args], cwd=cwd, input=stdin, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {r.stderr.decode()}")
    return r.stdout


def pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def pub_pem(key: PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def public_jwk(key: PrivateKey) -> dict[str, Any]:
    return JWK.from_pyca(key.public_key()).export(private_key=False, as_dict=True)


def raw_sign(key: Any, alg: str, data: bytes, salt: int = 32, der: bool = False) -> bytes:
    """Signs in the JWS encoding, or deliberately not (DER ECDSA, other PSS salts, RS256, HS256, none)."""
    if alg == "none":
        return b""
    if alg == "HS256":
        return hmac.new(key, data, "sha256").digest()
    if alg == "ES256":
        sig = key.sign(data, ec.ECDSA(hashes.SHA256()))
        if der:
            return sig
        r, s = decode_dss_signature(sig)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg == "PS256":
        return key.sign(data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt), hashes.SHA256())
    if alg == "RS256":
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if alg == "EdDSA":
        return key.sign(data)
    raise ValueError(alg)


def compact(key: Any, alg: str, header: dict[str, Any], payload: dict[str, Any] | bytes, **kw: Any) -> str:
    """A compact JWS built by hand, so that every encoding can be got wrong on purpose."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
    text = f"{b64(json.dumps(header, separators=(',', ':')).encode())}.{b64(body)}"
    return f"{text}.{b64(raw_sign(key, alg, text.encode(), **kw))}"


def drop(d: dict[str, Any], *names: str, **over: Any) -> dict[str, Any]:
    out = {k: v for k, v in d.items() if k not in names}
    out.update(over)
    return {k: v for k, v in out.items() if v is not None}


def make_ca_and_leaf(serial: int) -> dict[str, Any]:
    """A QTSP-like CA and a QSealC-like RSA leaf it issued, with spaces in the issuer DN."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Trust GmbH"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Test QTSP CA 2-1 2024"),
        ]
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TPP QSealC")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
    )
    return {"key": key, "cert": leaf, "ca": ca, "cert_pem": leaf.public_bytes(serialization.Encoding.PEM).decode()}


def self_signed(key: PrivateKey) -> str:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signer")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


# ---------------------------------------------------------------- dpop


def test_dpop(res: Results, tmp: str, keys: dict[str, Any]) -> None:
    es, ps, ed, other = keys["es"], keys["ps"], keys["ed"], keys["es2"]
    token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
    htu = "https://server.example.com/token"
    nonce = "eyJ7S_zG.eyJH0-Z.HX4w-7v"
    ath = b64(hashlib.sha256(token.encode()).digest())

    def claims(**over: Any) -> dict[str, Any]:
        c = {"jti": b64(secrets.token_bytes(16)), "htm": "POST", "htu": htu, "iat": int(time.time())}
        c.update(over)
        return {k: v for k, v in c.items() if v is not None}

    def header(key: PrivateKey, alg: str, **over: Any) -> dict[str, Any]:
        return drop({"typ": "dpop+jwt", "alg": alg, "jwk": public_jwk(key)}, **over)

    def inp(proof: str, **over: Any) -> dict[str, Any]:
        return drop({"proof": proof, "htm": "POST", "htu": htu}, **over)

    thumb = JWK.from_pyca(es.public_key()).thumbprint()
    by_pyjwt = jwt.encode(claims(), es, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": public_jwk(es)})
    rep = accepts(res, "ES256 signed by PyJWT, with jkt", "dpop", inp(by_pyjwt, jkt=thumb), ("PyJWT", "jwcrypto"))
    res.expect("dpop: reports the RFC 7638 thumbprint", rep.get("thumbprint") == thumb, json.dumps(rep))

    j = JWS(json.dumps(claims(ath=ath, nonce=nonce)).encode())
    j.add_signature(
        JWK.from_pyca(ps), alg="PS256", protected={"typ": "dpop+jwt", "alg": "PS256", "jwk": public_jwk(ps)}
    )
    accepts(
        res,
        "PS256 signed by jwcrypto, with ath and nonce",
        "dpop",
        inp(j.serialize(compact=True), access_token=token, nonce=nonce),
        ("PyJWT", "jwcrypto", "cryptography (exact JWS encoding)"),
    )
    hdr = b64(json.dumps(header(ed, "EdDSA")).encode())
    text = f"{hdr}.{b64(json.dumps(claims(ath=ath)).encode())}"
    with open(os.path.join(tmp, "dpop-ed"), "wb") as f:
        f.write(text.encode())
    with open(os.path.join(tmp, "ed.pem"), "wb") as f:
        f.write(pem(ed))
    sig = openssl(tmp, "pkeyutl", "-sign", "-inkey", "ed.pem", "-rawin", "-in", "dpop-ed")
    accepts(res, "EdDSA signed by openssl pkeyutl", "dpop", inp(f"{text}.{b64(sig)}", access_token=token))
    rep = accepts(
        res,
        "htu equal after RFC 3986 normalization, request URI with query",
        "dpop",
        inp(compact(es, "ES256", header(es, "ES256"), claims()), htu="HTTPS://Server.Example.COM:443/token?x=1#f"),
    )
    res.expect(
        "dpop: notes a normalized htu match", any("normalization" in n for n in rep.get("notes", [])), json.dumps(rep)
    )

    leaked = header(es, "ES256")
    leaked["jwk"] = JWK.from_pyca(es).export(private_key=True, as_dict=True)
    secret = secrets.token_bytes(32)
    oct_header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": b64(secret)}}
    now = int(time.time())
    cases: list[tuple[str, str, dict[str, Any], list[str]]] = [
        ("typ JWT", compact(es, "ES256", header(es, "ES256", typ="JWT"), claims()), {}, ["header typ is 'JWT'"]),
        ("typ missing", compact(es, "ES256", header(es, "ES256", typ=None), claims()), {}, ["header typ is None"]),
        ("alg none", compact(es, "none", header(es, "none"), claims()), {}, ["alg 'none' is not in the allow-list"]),
        (
            "HS256 with an oct jwk",
            compact(secret, "HS256", oct_header, claims()),
            {},
            ["alg 'HS256' is not", "kty is 'oct'"],
        ),
        ("private d leaked in the jwk", compact(es, "ES256", leaked, claims()), {}, ["private key members ['d']"]),
        ("jwk missing", compact(es, "ES256", header(es, "ES256", jwk=None), claims()), {}, ["header jwk is None"]),
        (
            "signed by another key",
            compact(other, "ES256", header(es, "ES256"), claims()),
            {},
            ["PyJWT rejected", "jwcrypto rejected"],
        ),
        (
            "DER ECDSA signature",
            compact(es, "ES256", header(es, "ES256"), claims(), der=True),
            {},
            ["not raw R||S of 64"],
        ),
        (
            "PSS salt max",
            compact(ps, "PS256", header(ps, "PS256"), claims(), salt=PSS_MAX_SALT),
            {},
            ["salt 32", "PyJWT rejected"],
        ),
        (
            "PSS salt 20",
            compact(ps, "PS256", header(ps, "PS256"), claims(), salt=20),
            {},
            ["PS256 signature does not verify"],
        ),
        (
            "wrong htm",
            compact(es, "ES256", header(es, "ES256"), claims(htm="GET")),
            {},
            ["htm is 'GET', expected 'POST'"],
        ),
        (
            "htu with query",
            compact(es, "ES256", header(es, "ES256"), claims(htu=htu + "?a=b")),
            {},
            ["has a query or fragment"],
        ),
        (
            "htu with fragment",
            compact(es, "ES256", header(es, "ES256"), claims(htu=htu + "#x")),
            {},
            ["has a query or fragment"],
        ),
        (
            "htu other path",
            compact(es, "ES256", header(es, "ES256"), claims(htu=htu + "2")),
            {},
            ["htu is 'https://server.example.com/token2'"],
        ),
        (
            "htu http scheme",
            compact(es, "ES256", header(es, "ES256"), claims(htu="http://server.example.com/token")),
            {},
            ["htu is"],
        ),
        (
            "iat 120 s old",
            compact(es, "ES256", header(es, "ES256"), claims(iat=now - 120)),
            {},
            ["s old, more than max_age 60 s"],
        ),
        (
            "iat 60 s ahead",
            compact(es, "ES256", header(es, "ES256"), claims(iat=now + 60)),
            {},
            ["s in the future", "PyJWT rejected"],
        ),
        (
            "iat a string",
            compact(es, "ES256", header(es, "ES256"), claims(iat=str(now))),
            {},
            ["not an integer NumericDate"],
        ),
        ("jti missing", compact(es, "ES256", header(es, "ES256"), claims(jti=None)), {}, ["claims ['jti'] missing"]),
        (
            "jti 64 bits",
            compact(es, "ES256", header(es, "ES256"), claims(jti=b64(secrets.token_bytes(8)))),
            {},
            ["at most 64 bits"],
        ),
        ("jti a counter", compact(es, "ES256", header(es, "ES256"), claims(jti="42")), {}, ["at most 8 bits"]),
        (
            "ath missing",
            compact(es, "ES256", header(es, "ES256"), claims()),
            {"access_token": token},
            ["claims ['ath'] missing"],
        ),
        (
            "ath of another token",
            compact(es, "ES256", header(es, "ES256"), claims(ath=b64(hashlib.sha256(b"other").digest()))),
            {"access_token": token},
            ["ath is"],
        ),
        (
            "ath in padded standard base64",
            compact(es, "ES256", header(es, "ES256"), claims(ath=sb64(hashlib.sha256(token.encode()).digest()))),
            {"access_token": token},
            ["ath is"],
        ),
        (
            "nonce missing",
            compact(es, "ES256", header(es, "ES256"), claims()),
            {"nonce": nonce},
            ["claims ['nonce'] missing"],
        ),
        (
            "stale nonce",
            compact(es, "ES256", header(es, "ES256"), claims(nonce="old")),
            {"nonce": nonce},
            ["nonce is 'old'"],
        ),
        (
            "wrong jkt",
            compact(es, "ES256", header(es, "ES256"), claims()),
            {"jkt": b64(bytes(32))},
            ["is not the expected jkt"],
        ),
        ("two segments", "abc.def", {}, ["2 segments"]),
    ]
    padded = compact(es, "ES256", header(es, "ES256"), claims())
    cases.append(
        ("padded base64", padded.split(".")[0] + "==." + ".".join(padded.split(".")[1:]), {}, ["has '=' padding"])
    )
    rejects_all(res, "dpop", [(what, inp(proof, **over), want) for what, proof, over, want in cases])
    rejects(res, "input without htu", "dpop", {"proof": by_pyjwt, "htm": "POST"}, ["input field 'htu' is required"], 2)


# ---------------------------------------------------------------- ob-detached

OB_IAT = "http://openbanking.org.uk/iat"
OB_ISS = "http://openbanking.org.uk/iss"
OB_TAN = "http://openbanking.org.uk/tan"


def test_ob(res: Results, tmp: str, keys: dict[str, Any]) -> None:
    ps, other = keys["ps"], keys["ps2"]
    cert = self_signed(ps)
    body = json.dumps({"Data": {"Initiation": {"InstructionIdentification": "ACME412", "Amount": "165.88"}}}).encode()
    iss, tan = "0015800001041REAAY/5pJm4eVPCmpY0c3vHqESsV", "openbanking.org.uk"
    expect = {"iss": iss, "tan": tan, "kid": "ob-kid-1"}

    def header(v313: bool, **over: Any) -> dict[str, Any]:
        h: dict[str, Any] = {"alg": "PS256", "kid": "ob-kid-1", "typ": "JOSE", "cty": "application/json"}
        if v313:
            h["b64"] = False
        h.update({OB_IAT: int(time.time()), OB_ISS: iss, OB_TAN: tan})
        h["crit"] = (["b64"] if v313 else []) + [OB_IAT, OB_ISS, OB_TAN]
        return drop(h, **over)

    def detached(
        h: dict[str, Any], payload: bytes, unencoded: bool, alg: str = "PS256", key: Any = ps, **kw: Any
    ) -> str:
        """By hand: header_b64 + "." + (raw body | base64url body), signature, payload segment removed."""
        hb = b64(json.dumps(h, separators=(",", ":")).encode())
        signing_input = hb.encode() + b"." + (payload if unencoded else b64(payload).encode())
        return f"{hb}..{b64(raw_sign(key, alg, signing_input, **kw))}"

    def inp(jws: str, version: str, payload: bytes = body, **over: Any) -> dict[str, Any]:
        return drop(
            {"jws": jws, "body_b64": sb64(payload), "cert_pem": cert, "version": version, "expect": expect}, **over
        )

    registry = {h: JWSEHeaderParameter(h, False, True, None) for h in (OB_IAT, OB_ISS, OB_TAN)}
    for version, v313 in (("3.1.3", True), ("3.1.4", False)):
        j = JWS(body, header_registry=registry)
        j.add_signature(JWK.from_pyca(ps), alg="PS256", protected=json.dumps(header(v313)))
        j.detach_payload()  # RFC 7515 appendix F; a raw body with dots cannot sit in the compact form anyway
        detached_jws = j.serialize(compact=True)
        accepts(res, f"{version} signed by jwcrypto", "ob-detached", inp(detached_jws, version), ("jwcrypto", "PyJWT"))
    # The openssl CLI as a second signer of the 3.1.3 (RFC 7797) form.
    hb = b64(json.dumps(header(True)).encode())
    with open(os.path.join(tmp, "ps.pem"), "wb") as f:
        f.write(pem(ps))
    sig = openssl(
        tmp,
        "dgst",
        "-sha256",
        "-sign",
        "ps.pem",
        "-sigopt",
        "rsa_padding_mode:pss",
        "-sigopt",
        "rsa_pss_saltlen:digest",
        stdin=hb.encode() + b"." + body,
    )
    accepts(
        res, "3.1.3 signed by openssl dgst over the unencoded body", "ob-detached", inp(f"{hb}..{b64(sig)}", "3.1.3")
    )
    accepts(
        res,
        "3.1.4 checked with the public JWK",
        "ob-detached",
        inp(detached(header(False), body, False), "3.1.4", cert_pem=None, jwk=public_jwk(ps)),
    )

    changed = body[:-2] + bytes([body[-2] ^ 1]) + body[-1:]
    crit313 = ["b64", OB_IAT, OB_ISS]
    cases: list[tuple[str, str, str, dict[str, Any], list[str]]] = [
        (
            "3.1.3 body changed by one byte",
            detached(header(True), body, True),
            "3.1.3",
            {"body_b64": sb64(changed)},
            ["PS256 signature does not verify", "jwcrypto rejected", "PyJWT rejected"],
        ),
        (
            "3.1.4 body changed by one byte",
            detached(header(False), body, False),
            "3.1.4",
            {"body_b64": sb64(changed)},
            ["PS256 signature does not verify", "jwcrypto rejected"],
        ),
        (
            "b64 false present in 3.1.4",
            detached(header(True), body, True),
            "3.1.4",
            {},
            ["b64 is present (False)", "extra ['b64']"],
        ),
        (
            "b64 absent in 3.1.3",
            detached(header(False), body, False),
            "3.1.3",
            {},
            ["b64 is 'absent'", "missing ['b64']"],
        ),
        (
            "b64 true in 3.1.4",
            detached(header(False, b64=True, crit=["b64", OB_IAT, OB_ISS, OB_TAN]), body, False),
            "3.1.4",
            {},
            ["b64 is present (True)"],
        ),
        (
            "3.1.3 header signed over the base64url body",
            detached(header(True), body, False),
            "3.1.3",
            {},
            ["verifies over the base64url-encoded payload"],
        ),
        (
            "crit missing tan",
            detached(header(True, crit=crit313), body, True),
            "3.1.3",
            {},
            ["missing ['http://openbanking.org.uk/tan']"],
        ),
        (
            "crit missing b64 in 3.1.3",
            detached(header(True, crit=[OB_IAT, OB_ISS, OB_TAN]), body, True),
            "3.1.3",
            {},
            ["missing ['b64']"],
        ),
        (
            "crit with an extra entry",
            detached(header(False, crit=[OB_IAT, OB_ISS, OB_TAN, "exp"]), body, False),
            "3.1.4",
            {},
            ["extra ['exp']"],
        ),
        (
            "crit duplicated",
            detached(header(False, crit=[OB_IAT, OB_ISS, OB_TAN, OB_TAN]), body, False),
            "3.1.4",
            {},
            ["duplicate entries"],
        ),
        (
            "iat a string",
            detached(header(False, **{OB_IAT: str(int(time.time()))}), body, False),
            "3.1.4",
            {},
            ["not a JSON number"],
        ),
        (
            "iat in an hour",
            detached(header(False, **{OB_IAT: int(time.time()) + 3600}), body, False),
            "3.1.4",
            {},
            ["in the future"],
        ),
        ("kid missing", detached(header(False, kid=None), body, False), "3.1.4", {}, ["header kid is None"]),
        ("other kid", detached(header(False, kid="other"), body, False), "3.1.4", {}, ["expected 'ob-kid-1'"]),
        ("RS256", detached(header(False, alg="RS256"), body, False, alg="RS256"), "3.1.4", {}, ["alg is 'RS256'"]),
        (
            "PSS salt max",
            detached(header(True), body, True, salt=PSS_MAX_SALT),
            "3.1.3",
            {},
            ["PS256 signature does not verify", "salt 32"],
        ),
        (
            "wrong iss",
            detached(header(False, **{OB_ISS: "someone/else"}), body, False),
            "3.1.4",
            {},
            ["'someone/else'"],
        ),
        ("wrong tan", detached(header(False, **{OB_TAN: "other.org"}), body, False), "3.1.4", {}, ["'other.org'"]),
        ("typ JWT", detached(header(False, typ="JWT"), body, False), "3.1.4", {}, ["must be 'JOSE'"]),
        ("signed by another key", detached(header(False), body, False, key=other), "3.1.4", {}, ["jwcrypto rejected"]),
    ]
    attached = compact(ps, "PS256", header(False), body)
    cases.append(("payload not detached", attached, "3.1.4", {}, ["not a detached JWS"]))
    rejects_all(
        res, "ob-detached", [(what, inp(jws, version, **over), want) for what, jws, version, over, want in cases]
    )


# ---------------------------------------------------------------- rfc9421


class Req:
    def __init__(self, method: str, url: str, headers: dict[str, str]) -> None:
        self.method, self.url, self.headers = method, url, dict(headers)


class SHA512Digest(ContentDigest):
    algorithm = "sha-512"


FAPI_COMPONENTS = ["@method", "@target-uri", "authorization", "dpop", "content-digest"]


def test_rfc9421(res: Results, keys: dict[str, Any]) -> None:
    url = "https://rs.example.com/accounts/1/payments?x=1"
    body = json.dumps({"amount": "10.00", "currency": "EUR"}).encode()
    base_headers = {
        "Authorization": "DPoP Kz~8mXK1EalYznwH-LC-1fBAo",
        "DPoP": "eyJhbGciOiJFUzI1NiJ9.e30.c2ln",
        "Content-Type": "application/json",
    }
    algs = {
        "ecdsa-p256-sha256": (algorithms.ECDSA_P256_SHA256, keys["es"]),
        "ed25519": (algorithms.ED25519, keys["ed"]),
        "rsa-pss-sha512": (algorithms.RSA_PSS_SHA512, keys["ps"]),
    }

    def signed(
        alg: str = "ecdsa-p256-sha256",
        *,
        method: str = "POST",
        payload: bytes | None = body,
        components: list[str] | None = None,
        tag: str | None = "fapi-2-request",
        keyid: str = "client-key-1",
        created: datetime.datetime | None = None,
        headers: dict[str, str] | None = None,
        digest_class: type[ContentDigest] = ContentDigest,
    ) -> Req:
        cls, key = algs[alg]
        msg = Req(method, url, base_headers if headers is None else headers)
        comps = [c for c in (components or FAPI_COMPONENTS) if payload is not None or c != "content-digest"]
        signer = HTTPMessageSigner(
            signature_algorithm=cls, key_resolver=MappingKeyResolver(public_keys={}, private_keys={keyid: key})
        )
        signer.content_digest_class = digest_class
        signer.sign(
            msg,
            key_id=keyid,
            label="sig1",
            tag=tag,
            include_alg=False,
            covered_component_ids=comps,
            body=payload,
            created=created,
        )
        return msg

    def inp(msg: Req, alg: str = "ecdsa-p256-sha256", payload: bytes | None = body, **over: Any) -> dict[str, Any]:
        key = algs[alg][1]
        d = {
            "method": msg.method,
            "url": msg.url,
            "headers": msg.headers,
            "body_b64": None if payload is None else sb64(payload),
            "public_key_pem": pub_pem(key),
            "alg": alg,
            "keyid": "client-key-1",
            "expect_components": [c for c in FAPI_COMPONENTS if payload is not None or c != "content-digest"],
            "expect_tag": "fapi-2-request",
        }
        return drop(d, **over)

    for alg in algs:
        rep = accepts(
            res,
            f"{alg} POST signed by http-message-signatures",
            "rfc9421",
            inp(signed(alg), alg),
            ("http-message-signatures", "http-sf (Content-Digest)"),
        )
        if alg == "ecdsa-p256-sha256":
            res.expect(
                "rfc9421: reports the covered components and params",
                list(rep.get("covered_components", {})) == [f'"{c}"' for c in FAPI_COMPONENTS]
                and rep.get("params", {}).get("tag") == "fapi-2-request"
                and rep.get("signature_base", "").endswith(';keyid="client-key-1";tag="fapi-2-request"'),
                json.dumps(rep),
            )
    accepts(
        res, "GET without body (no content-digest)", "rfc9421", inp(signed(method="GET", payload=None), payload=None)
    )
    accepts(
        res,
        "ed25519 with the public JWK",
        "rfc9421",
        inp(signed("ed25519"), "ed25519", public_key_pem=None, jwk=public_jwk(keys["ed"])),
    )

    # Mutations a buggy signer could produce.
    changed = body[:-2] + bytes([body[-2] ^ 1]) + body[-1:]
    tampered = signed()
    tampered.headers["Authorization"] = "DPoP another-token"
    der = signed()
    prep = HTTPMessageSigner(signature_algorithm=algorithms.ECDSA_P256_SHA256).prepare(
        Req("POST", url, {**base_headers, "Content-Digest": der.headers["Content-Digest"]}),
        key_id="client-key-1",
        label="sig1",
        tag="fapi-2-request",
        include_alg=False,
        covered_component_ids=FAPI_COMPONENTS,
        use_existing_digest=True,
        created=datetime.datetime.now(datetime.UTC),
    )
    der.headers["Signature-Input"] = "sig1=" + prep.signature_params
    der.headers["Signature"] = f"sig1=:{sb64(keys['es'].sign(prep.signature_base, ec.ECDSA(hashes.SHA256())))}:"
    wrong_digest = Req("POST", url, {**base_headers, "Content-Digest": ContentDigest.create(changed)})
    HTTPMessageSigner(
        signature_algorithm=algorithms.ECDSA_P256_SHA256,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={"client-key-1": keys["es"]}),
    ).sign(
        wrong_digest,
        key_id="client-key-1",
        label="sig1",
        tag="fapi-2-request",
        include_alg=False,
        covered_component_ids=FAPI_COMPONENTS,
        use_existing_digest=True,
    )
    pss_salt = signed("rsa-pss-sha512")
    base = pss_salt.headers["Signature-Input"]
    prep = HTTPMessageSigner(signature_algorithm=algorithms.RSA_PSS_SHA512).prepare(
        Req("POST", url, {**base_headers, "Content-Digest": pss_salt.headers["Content-Digest"]}),
        key_id="client-key-1",
        label="sig1",
        tag="fapi-2-request",
        include_alg=False,
        covered_component_ids=FAPI_COMPONENTS,
        use_existing_digest=True,
        created=datetime.datetime.fromtimestamp(int(base.split("created=")[1].split(";")[0]), datetime.UTC),
    )
    max_salt = keys["ps"].sign(
        prep.signature_base,
        padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=padding.PSS.MAX_LENGTH),
        hashes.SHA512(),
    )
    pss_salt.headers["Signature"] = f"sig1=:{sb64(max_salt)}:"
    old = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=400)
    cases: list[tuple[str, dict[str, Any], list[str]]] = [
        (
            "body changed by one byte",
            inp(signed(), body_b64=sb64(changed)),
            ["http-message-signatures rejected", "Content-Digest sha-256 does not match the body"],
        ),
        (
            "@target-uri not covered",
            inp(signed(components=["@method", "authorization", "dpop", "content-digest"])),
            ["missing ['\"@target-uri\"']", "components ['@target-uri'] are not covered"],
        ),
        (
            "an extra component",
            inp(signed(components=FAPI_COMPONENTS + ["content-type"])),
            ["extra ['\"content-type\"']"],
        ),
        (
            "dpop present but not covered",
            inp(signed(components=["@method", "@target-uri", "authorization", "content-digest"])),
            ["components ['dpop'] are not covered"],
        ),
        ("no tag", inp(signed(tag=None)), ["http-message-signatures rejected", "cannot pick one signature"]),
        ("tag fapi-2-response", inp(signed(tag="fapi-2-response")), ["cannot pick one signature"]),
        ("Authorization changed after signing", inp(tampered), ["http-message-signatures rejected"]),
        ("wrong keyid", inp(signed(keyid="other-key")), ["parameter keyid is 'other-key'"]),
        ("created 400 s ago", inp(signed(created=old)), ["exceeds maximum allowable age"]),
        (
            "created in an hour",
            inp(signed(created=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1))),
            ["in the future"],
        ),
        ("DER ECDSA instead of raw r||s", inp(der), ["Unexpected signature length"]),
        (
            "RSA-PSS with the maximum salt, not 64",
            inp(pss_salt, "rsa-pss-sha512"),
            ["http-message-signatures rejected"],
        ),
        ("Content-Digest of another body", inp(wrong_digest), ["Content-Digest sha-256 does not match the body"]),
        ("sha-512 only Content-Digest", inp(signed(digest_class=SHA512Digest)), ["has no sha-256 member"]),
        (
            "signed by another key",
            inp(signed(), public_key_pem=pub_pem(keys["es2"])),
            ["http-message-signatures rejected"],
        ),
        (
            "verified as another algorithm",
            inp(signed("ed25519"), "ecdsa-p256-sha256"),
            ["http-message-signatures rejected"],
        ),
    ]
    rejects_all(res, "rfc9421", cases)


# ---------------------------------------------------------------- RFC 9421 appendix B vectors


class Headers:
    def __init__(self, pairs: list[list[str]]) -> None:
        self.p = [tuple(x) for x in pairs]

    def items(self) -> list[tuple[str, str]]:
        return list(self.p)

    def __iter__(self) -> Any:
        return iter(dict.fromkeys(n for n, _ in self.p))

    def __contains__(self, n: object) -> bool:
        return isinstance(n, str) and any(k.lower() == n.lower() for k, _ in self.p)

    def __setitem__(self, n: str, v: str) -> None:
        self.p = [(k, x) for k, x in self.p if k.lower() != n.lower()] + [(n, v)]

    def __delitem__(self, n: str) -> None:
        self.p = [(k, x) for k, x in self.p if k.lower() != n.lower()]


class Resp:
    def __init__(self, status: int, headers: Headers) -> None:
        self.status_code, self.headers, self.request = status, headers, None


VECTOR_ALGS = {
    "rsa-pss-sha512": algorithms.RSA_PSS_SHA512,
    "ecdsa-p256-sha256": algorithms.ECDSA_P256_SHA256,
    "hmac-sha256": algorithms.HMAC_SHA256,
    "ed25519": algorithms.ED25519,
}


def vector_message(v: dict[str, Any], case: dict[str, Any]) -> tuple[Any, list[list[str]]]:
    m = v["messages"][case["message"]]
    headers = [list(h) for h in m["headers"]]
    if case["message"] == "test-response":
        headers = [[n, m["content_digest_as_signed_in_b24"] if n == "Content-Digest" else x] for n, x in headers]
        return Resp(m["status"], Headers(headers)), headers
    msg = Req(m["method"], m["url"], {})
    msg.headers = Headers(headers)  # type: ignore[assignment]
    return msg, headers


def test_vectors(res: Results) -> None:
    with open(VECTORS) as f:
        v = json.load(f)
    # Keys: the PEM and JWK forms are the same key.
    for kid, k in v["keys"].items():
        if "jwk" not in k:
            continue
        priv = serialization.load_pem_private_key(k["private_pem"].encode(), None)
        pub = serialization.load_pem_public_key(k["public_pem"].encode())
        jwk = JWK(**k["jwk"])
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        same = (
            pub.public_bytes(serialization.Encoding.DER, spki)
            == priv.public_key().public_bytes(serialization.Encoding.DER, spki)
            == jwk.get_op_key("verify").public_bytes(serialization.Encoding.DER, spki)
        )
        res.expect(f"vectors: {kid} PEM public, PEM private and JWK are one key", same and jwk.has_private)
    secret = base64.b64decode(v["keys"]["test-shared-secret"]["base64"])
    res.expect("vectors: test-shared-secret is 64 bytes", len(secret) == 64)
    # Messages: the bodies are what Content-Length says.
    for name, m in v["messages"].items():
        length = dict(m["headers"])["Content-Length"]
        res.expect(
            f"vectors: {name} body has Content-Length bytes", len(base64.b64decode(m["body_b64"])) == int(length)
        )
    resp = v["messages"]["test-response"]
    res.expect(
        "vectors: B.2.4 signs the SHA-512 of the test-response body",
        resp["content_digest_as_signed_in_b24"] == f"sha-512=:{sb64(hashlib.sha512(resp['body'].encode()).digest())}:",
    )
    for sec, case in v["cases"].items():
        k = v["keys"][case["key"]]
        cls = VECTOR_ALGS[case["alg"]]
        if case["alg"] == "hmac-sha256":
            pub = priv = secret
        else:
            pub, priv = k["public_pem"].encode(), k["private_pem"].encode()
        msg, headers = vector_message(v, case)
        p = case["params"]
        signer = HTTPMessageSigner(signature_algorithm=cls)
        prep = signer.prepare(
            msg,
            key_id=p["keyid"],
            created=datetime.datetime.fromtimestamp(p["created"], datetime.UTC),
            nonce=p.get("nonce"),
            tag=p.get("tag"),
            label=case["label"],
            include_alg=False,
            covered_component_ids=case["covered_components"],
            use_existing_digest=True,
        )
        res.expect(
            f"vectors: {sec} signature base rebuilt byte for byte by http-message-signatures",
            prep.signature_base == case["signature_base"].encode(),
            repr(prep.signature_base),
        )
        res.expect(
            f"vectors: {sec} Signature-Input rebuilt byte for byte",
            f"{case['label']}={prep.signature_params}" == case["signature_input"],
        )
        sig = base64.b64decode(case["signature_b64"])
        res.expect(
            f"vectors: {sec} Signature field is label=:signature_b64:",
            case["signature"] == f"{case['label']}=:{case['signature_b64']}:",
        )
        # cryptography directly over the printed base.
        data = case["signature_base"].encode()
        try:
            if case["alg"] == "rsa-pss-sha512":
                serialization.load_pem_public_key(pub).verify(  # type: ignore[union-attr]
                    sig, data, padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64), hashes.SHA512()
                )
            elif case["alg"] == "ecdsa-p256-sha256":
                der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
                serialization.load_pem_public_key(pub).verify(der, data, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg]
            elif case["alg"] == "ed25519":
                serialization.load_pem_public_key(pub).verify(sig, data)  # type: ignore[call-arg]
            else:
                if not hmac.compare_digest(hmac.new(secret, data, "sha256").digest(), sig):
                    raise ValueError("HMAC mismatch")
            ok, detail = True, ""
        except Exception as e:
            ok, detail = False, repr(e)
        res.expect(f"vectors: {sec} signature verifies with cryptography over signature_base", ok, detail)
        if case["deterministic"]:
            algo = cls(shared_secret=priv) if case["alg"] == "hmac-sha256" else cls(private_key=priv)
            res.expect(f"vectors: {sec} signature reproduced exactly", algo.sign(data) == sig)
        msg.headers["Signature-Input"] = case["signature_input"]
        msg.headers["Signature"] = case["signature"]
        verifier = HTTPMessageVerifier(
            signature_algorithm=cls, key_resolver=MappingKeyResolver(public_keys={p["keyid"]: pub}, private_keys={})
        )
        try:
            verifier.verify(msg, max_age=None, expect_tag=p.get("tag"))
            ok, detail = True, ""
        except Exception as e:
            ok, detail = False, repr(e)
        res.expect(f"vectors: {sec} verifies with http-message-signatures", ok, detail)
        # And through the CLI, as the Rust tests will call it.
        m = v["messages"][case["message"]]
        d: dict[str, Any] = {
            "headers": headers + [["Signature-Input", case["signature_input"]], ["Signature", case["signature"]]],
            "alg": case["alg"],
            "keyid": p["keyid"],
            "expect_components": [
                json.loads(c.split(";")[0]) if ";" not in c else c for c in case["covered_components"]
            ],
            "expect_tag": p.get("tag"),
            "max_age": None,
            "fapi": False,
        }
        if case["message"] == "test-response":
            d["status"] = m["status"]
        else:
            d["method"], d["url"] = m["method"], m["url"]
        if case["alg"] == "hmac-sha256":
            d["shared_secret_b64"] = k["base64"]
        else:
            d["public_key_pem"] = k["public_pem"]
        rc, rep = verify("rfc9421", d)
        res.expect(
            f"vectors: {sec} accepted by verify_signed.py rfc9421",
            rc == 0 and rep.get("signature_base") == case["signature_base"],
            json.dumps(rep),
        )
    # B.2.6 is the deterministic one the Rust unit tests rely on: a one-bit change must fail.
    case = v["cases"]["B.2.6"]
    pub = serialization.load_pem_public_key(v["keys"]["test-key-ed25519"]["public_pem"].encode())
    try:
        pub.verify(base64.b64decode(case["signature_b64"]), case["signature_base"].replace("POST", "PUT").encode())  # type: ignore[call-arg]
        flipped = False
    except Exception:
        flipped = True
    res.expect("vectors: B.2.6 signature fails over a changed base", flipped)


# ---------------------------------------------------------------- cavage


def test_cavage(res: Results, tmp: str) -> None:
    qseal = make_ca_and_leaf(serial=0x00A1B2C3D4E5F60718)
    other = make_ca_and_leaf(serial=0x1234)
    key, cert = qseal["key"], qseal["cert"]
    key_pem = pem(key)
    with open(os.path.join(tmp, "qseal.pem"), "wb") as f:
        f.write(key_pem)
    issuer = cert.issuer.rfc4514_string()
    key_id = f"SN={cert.serial_number:X},CA={issuer}"
    body = json.dumps(
        {
            "instructedAmount": {"currency": "EUR", "amount": "123.50"},
            "creditorAccount": {"iban": "DE02100100109307118603"},
            "creditorName": "Merchant123",
        }
    ).encode()
    path = "/v1/payments/sepa-credit-transfers"
    der_b64 = sb64(cert.public_bytes(serialization.Encoding.DER))
    signed_names = ["digest", "x-request-id", "psu-id", "tpp-redirect-uri"]

    def base_headers(payload: bytes = body) -> dict[str, str]:
        return {
            "X-Request-ID": str(uuid.uuid4()),
            "PSU-ID": "PSU-1234",
            "TPP-Redirect-URI": "https://tpp.example.com/cb?state=xyz",
            "Digest": f"SHA-256={sb64(hashlib.sha256(payload).digest())}",
            "Date": "Sun, 06 Jul 2025 10:00:00 GMT",
            "TPP-Signature-Certificate": der_b64,
            "Content-Type": "application/json",
        }

    def signing_string(h: dict[str, str], names: list[str]) -> bytes:
        low = {k.lower(): v for k, v in h.items()}
        return "\n".join(
            f"(request-target): post {path}" if n == "(request-target)" else f"{n}: {low[n]}" for n in names
        ).encode()

    def openssl_signed(
        h: dict[str, str] | None = None,
        names: list[str] = signed_names,
        kid: str = key_id,
        algorithm: str = "rsa-sha256",
        pss: bool = False,
        key_file: str = "qseal.pem",
    ) -> dict[str, str]:
        h = dict(base_headers() if h is None else h)
        args = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"] if pss else []
        sig = openssl(tmp, "dgst", "-sha256", "-sign", key_file, *args, stdin=signing_string(h, names))
        h["Signature"] = f'keyId="{kid}",algorithm="{algorithm}",headers="{" ".join(names)}",signature="{sb64(sig)}"'
        return h

    def inp(h: dict[str, str], payload: bytes = body, **over: Any) -> dict[str, Any]:
        return drop(
            {"method": "POST", "path": path, "headers": h, "body_b64": sb64(payload), "cert_pem": qseal["cert_pem"]},
            **over,
        )

    HeaderSigner = load_verifier().import_httpsig().HeaderSigner

    h = base_headers()
    hs = HeaderSigner(
        key_id,
        key_pem,
        algorithm="rsa-sha256",
        headers=["(request-target)", "date", *signed_names],
        sign_header="signature",
    )
    h = hs.sign(h, method="POST", path=path)
    h = {k if k != "signature" else "Signature": v for k, v in h.items()}
    accepts(
        res,
        "signed by httpsig, with (request-target) and date",
        "cavage",
        inp(h),
        ("openssl dgst -sha256 -verify (PKCS#1 v1.5)", "httpsig"),
    )
    rep = accepts(
        res,
        "signed by openssl dgst",
        "cavage",
        inp(openssl_signed()),
        ("openssl dgst -sha256 -verify (PKCS#1 v1.5)", "httpsig"),
    )
    res.expect("cavage: reports the expected keyId", rep.get("expected_key_id") == key_id, json.dumps(rep))
    pct = key_id.replace(" ", "%20")
    rep = accepts(res, "keyId CA percent-encoded as in the NextGenPSD2 example", "cavage", inp(openssl_signed(kid=pct)))
    res.expect(
        "cavage: names the percent-encoded CA form",
        rep.get("key_id_ca_form") == "RFC 4514, percent-encoded",
        json.dumps(rep),
    )
    no_psu = {k: v for k, v in base_headers().items() if k not in ("PSU-ID", "TPP-Redirect-URI")}
    accepts(
        res,
        "no PSU-ID or TPP-Redirect-URI, so only digest x-request-id",
        "cavage",
        inp(openssl_signed(no_psu, names=["digest", "x-request-id"])),
    )

    changed = body[:-2] + bytes([body[-2] ^ 1]) + body[-1:]
    hex_digest = base_headers()
    hex_digest["Digest"] = f"SHA-256={hashlib.sha256(body).hexdigest()}"
    sha512_only = base_headers()
    sha512_only["Digest"] = f"SHA-512={sb64(hashlib.sha512(body).digest())}"
    forward_dn = ",".join(a.rfc4514_string() for rdn in cert.issuer.rdns for a in rdn)  # X.509 order, C first
    other_cert = base_headers()
    other_cert["TPP-Signature-Certificate"] = sb64(other["cert"].public_bytes(serialization.Encoding.DER))
    pem_cert = base_headers()
    pem_cert["TPP-Signature-Certificate"] = qseal["cert_pem"].replace("\n", "")
    with open(os.path.join(tmp, "other.pem"), "wb") as f:
        f.write(pem(other["key"]))
    after = openssl_signed()
    after["PSU-ID"] = "PSU-9999"
    not_uuid = base_headers()
    not_uuid["X-Request-ID"] = "request-1"
    cases: list[tuple[str, dict[str, Any], list[str]]] = [
        (
            "body changed by one byte (Digest mismatch)",
            inp(openssl_signed(), changed),
            ["Digest SHA-256 does not match the body"],
        ),
        ("Digest in hex", inp(openssl_signed(hex_digest)), ["decodes to 48 bytes, not 32 (hex?)"]),
        ("Digest SHA-512 only", inp(openssl_signed(sha512_only)), ["has no SHA-256 member"]),
        (
            "keyId with the serial in decimal",
            inp(openssl_signed(kid=f"SN={cert.serial_number},CA={issuer}")),
            ["keyId serial"],
        ),
        (
            "keyId CA in X.509 order",
            inp(openssl_signed(kid=f"SN={cert.serial_number:X},CA={forward_dn}")),
            ["keyId CA"],
        ),
        (
            "keyId CA is the subject",
            inp(openssl_signed(kid=f"SN={cert.serial_number:X},CA={cert.subject.rfc4514_string()}")),
            ["keyId CA"],
        ),
        ("keyId without SN=", inp(openssl_signed(kid=f"{cert.serial_number:X},{issuer}")), ["is not SN=<hex serial>"]),
        (
            "TPP-Signature-Certificate of another certificate",
            inp(openssl_signed(other_cert)),
            ["is not the base64 DER"],
        ),
        ("TPP-Signature-Certificate as PEM", inp(openssl_signed(pem_cert)), ["not canonical standard base64"]),
        (
            "RSA-PSS instead of PKCS#1 v1.5",
            inp(openssl_signed(pss=True)),
            ["is RSA-PSS, not PKCS#1 v1.5", "httpsig rejected"],
        ),
        (
            "x-request-id not signed",
            inp(openssl_signed(names=["digest", "psu-id", "tpp-redirect-uri"])),
            ["['x-request-id'] are not signed"],
        ),
        (
            "tpp-redirect-uri present but not signed",
            inp(openssl_signed(names=["digest", "x-request-id", "psu-id"])),
            ["['tpp-redirect-uri'] are not signed"],
        ),
        ("algorithm rsa-sha512", inp(openssl_signed(algorithm="rsa-sha512")), ["expected 'rsa-sha256'"]),
        (
            "signed by another key",
            inp(openssl_signed(key_file="other.pem")),
            ["openssl: the signature does not verify", "httpsig rejected"],
        ),
        ("PSU-ID changed after signing", inp(after), ["openssl: the signature does not verify", "httpsig rejected"]),
        ("date required but not signed", inp(openssl_signed(), required_headers=["date"]), ["['date'] are not signed"]),
        ("X-Request-ID not a UUID", inp(openssl_signed(not_uuid)), ["is not a UUID"]),
    ]
    rejects_all(res, "cavage", cases)


# ---------------------------------------------------------------- brasil


def test_brasil(res: Results, tmp: str, keys: dict[str, Any]) -> None:
    ps = keys["ps"]
    cert = self_signed(ps)
    aud, iss = (
        "https://api.banco.example.com/open-banking/payments/v4/pix/payments",
        "c1d9f8e2-5a6b-4c3d-9e8f-0a1b2c3d4e5f",
    )

    def claims(**over: Any) -> dict[str, Any]:
        c = {
            "aud": aud,
            "iss": iss,
            "jti": str(uuid.uuid4()),
            "iat": int(time.time()),
            "data": {"payment": {"amount": "100.00", "currency": "BRL"}},
        }
        c.update(over)
        return {k: v for k, v in c.items() if v is not None}

    head = {"alg": "PS256", "typ": "JWT", "kid": "ofb-kid-1"}

    def inp(token: str, **over: Any) -> dict[str, Any]:
        return drop({"jws": token, "cert_pem": cert, "aud": aud, "iss": iss, "kid": "ofb-kid-1"}, **over)

    accepts(
        res,
        "signed by PyJWT",
        "brasil",
        inp(jwt.encode(claims(), ps, algorithm="PS256", headers={"kid": "ofb-kid-1", "typ": "JWT"})),
        ("PyJWT", "cryptography (exact JWS encoding)"),
    )
    j = JWS(json.dumps(claims()).encode())
    j.add_signature(JWK.from_pyca(ps), alg="PS256", protected=json.dumps(head))
    accepts(
        res,
        "signed by jwcrypto, checked with the JWK",
        "brasil",
        inp(j.serialize(compact=True), cert_pem=None, jwk=public_jwk(ps)),
    )
    text = compact(ps, "PS256", head, claims()).rsplit(".", 1)[0]
    with open(os.path.join(tmp, "ps.pem"), "wb") as f:
        f.write(pem(ps))
    sig = openssl(
        tmp,
        "dgst",
        "-sha256",
        "-sign",
        "ps.pem",
        "-sigopt",
        "rsa_padding_mode:pss",
        "-sigopt",
        "rsa_pss_saltlen:digest",
        stdin=text.encode(),
    )
    accepts(res, "signed by openssl dgst", "brasil", inp(f"{text}.{b64(sig)}"))
    now = int(time.time())
    cases: list[tuple[str, str, list[str]]] = [
        (
            "wrong aud",
            compact(ps, "PS256", head, claims(aud="https://other.example")),
            ["aud is 'https://other.example'", "PyJWT rejected"],
        ),
        ("array aud", compact(ps, "PS256", head, claims(aud=[aud])), ["PyJWT rejected"]),
        ("wrong iss", compact(ps, "PS256", head, claims(iss="other")), ["iss is 'other'", "PyJWT rejected"]),
        ("data missing", compact(ps, "PS256", head, claims(data=None)), ["claims ['data'] missing"]),
        ("data a string", compact(ps, "PS256", head, claims(data="{}")), ["data is str"]),
        ("jti missing", compact(ps, "PS256", head, claims(jti=None)), ["claims ['jti'] missing", "PyJWT rejected"]),
        ("iat missing", compact(ps, "PS256", head, claims(iat=None)), ["claims ['iat'] missing"]),
        ("iat a string", compact(ps, "PS256", head, claims(iat=str(now))), ["not an integer NumericDate"]),
        ("iat an hour old", compact(ps, "PS256", head, claims(iat=now - 3600)), ["s old, more than max_age"]),
        ("typ missing", compact(ps, "PS256", drop(head, "typ"), claims()), ["header typ is None"]),
        ("typ JOSE", compact(ps, "PS256", drop(head, typ="JOSE"), claims()), ["header typ is 'JOSE'"]),
        ("kid missing", compact(ps, "PS256", drop(head, "kid"), claims()), ["header kid is None"]),
        ("other kid", compact(ps, "PS256", drop(head, kid="x"), claims()), ["expected 'ofb-kid-1'"]),
        (
            "RS256",
            compact(
                ps,
                "RS256",
                drop(head, alg="RS256"),
                claims(),
            ),
            ["alg is 'RS256'", "PyJWT rejected"],
        ),
        ("PSS salt max", compact(ps, "PS256", head, claims(), salt=PSS_MAX_SALT), ["salt 32", "PyJWT rejected"]),
        ("signed by another key", compact(keys["ps2"], "PS256", head, claims()), ["PyJWT rejected"]),
    ]
    rejects_all(res, "brasil", [(what, inp(token), want) for what, token, want in cases])


# ---------------------------------------------------------------- jarm


def test_jarm(res: Results, keys: dict[str, Any]) -> None:
    ps, es, ps2 = keys["ps"], keys["es"], keys["ps2"]
    issuer, client_id = "https://as.example.com", "client-1"
    jwks = {"keys": [dict(public_jwk(ps), kid="as-rsa", use="sig"), dict(public_jwk(es), kid="as-ec", use="sig")]}

    def claims(**over: Any) -> dict[str, Any]:
        now = int(time.time())
        c = {
            "iss": issuer,
            "aud": client_id,
            "exp": now + 300,
            "iat": now,
            "code": "PyyFaux2o7Q0YfXBU32jhw.5FXSQpvr8akv9CeRDSd0QA",
            "state": "S8NJ7uqk5fY4EjNvP_G_FtyJu6pUsvH9jsYni9dMAJw",
        }
        c.update(over)
        return {k: v for k, v in c.items() if v is not None}

    def inp(token: str, **over: Any) -> dict[str, Any]:
        return drop(
            {
                "response": token,
                "jwks": jwks,
                "issuer": issuer,
                "client_id": client_id,
                "state": "S8NJ7uqk5fY4EjNvP_G_FtyJu6pUsvH9jsYni9dMAJw",
            },
            **over,
        )

    accepts(
        res,
        "PS256 signed by PyJWT",
        "jarm",
        inp(jwt.encode(claims(), ps, algorithm="PS256", headers={"kid": "as-rsa"})),
        ("PyJWT", "jwcrypto", "cryptography (exact JWS encoding)"),
    )
    accepts(
        res,
        "ES256 signed by jwcrypto",
        "jarm",
        inp(compact(es, "ES256", {"alg": "ES256", "kid": "as-ec"}, claims())),
        ("PyJWT", "jwcrypto"),
    )
    accepts(
        res,
        "an error response",
        "jarm",
        inp(compact(ps, "PS256", {"alg": "PS256", "kid": "as-rsa"}, claims(code=None, error="access_denied"))),
    )
    hs = {"alg": "PS256", "kid": "as-rsa"}
    leaked = {"keys": [JWK.from_pyca(ps).export(private_key=True, as_dict=True) | {"kid": "as-rsa"}]}
    cases: list[tuple[str, dict[str, Any], list[str]]] = [
        (
            "wrong iss",
            inp(compact(ps, "PS256", hs, claims(iss="https://evil.example"))),
            ["iss is 'https://evil.example'", "PyJWT rejected"],
        ),
        ("wrong aud", inp(compact(ps, "PS256", hs, claims(aud="client-2"))), ["aud is 'client-2'", "PyJWT rejected"]),
        (
            "expired",
            inp(compact(ps, "PS256", hs, claims(exp=int(time.time()) - 60))),
            ["s in the past", "PyJWT rejected"],
        ),
        ("exp missing", inp(compact(ps, "PS256", hs, claims(exp=None))), ["claim exp missing", "PyJWT rejected"]),
        (
            "exp a day ahead",
            inp(compact(ps, "PS256", hs, claims(exp=int(time.time()) + 86400))),
            ["more than max_lifetime"],
        ),
        (
            "kid not in the JWKS",
            inp(compact(ps, "PS256", {"alg": "PS256", "kid": "nope"}, claims())),
            ["no signing key in the JWKS"],
        ),
        (
            "signed by a key not in the JWKS",
            inp(compact(ps2, "PS256", hs, claims())),
            ["does not verify with any", "PyJWT rejected"],
        ),
        ("alg none", inp(compact(ps, "none", {"alg": "none"}, claims())), ["alg 'none' is not in the allow-list"]),
        (
            "DER ECDSA",
            inp(compact(es, "ES256", {"alg": "ES256", "kid": "as-ec"}, claims(), der=True)),
            ["not raw R||S of 64"],
        ),
        (
            "JWKS publishes a private key",
            inp(compact(ps, "PS256", hs, claims()), jwks=leaked),
            ["publishes private members"],
        ),
        ("state mismatch", inp(compact(ps, "PS256", hs, claims(state="other"))), ["state is 'other'"]),
        ("neither code nor error", inp(compact(ps, "PS256", hs, claims(code=None))), ["neither code nor error"]),
        ("encrypted (JWE)", inp("a.b.c.d.e"), ["5-segment compact JWE"]),
    ]
    rejects_all(res, "jarm", cases)


# ---------------------------------------------------------------- password-digest and hmac


def test_password_digest(res: Results) -> None:
    created = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    password = "s3cr3t-Pässwort"
    text_nonce = secrets.token_hex(12).encode()  # 24 UTF-8 bytes: zeep can take it
    bin_nonce = b"\xff\xfe" + secrets.token_bytes(14)  # not UTF-8: zeep cannot

    def digest(nonce: bytes, c: str = created, pw: str = password) -> str:
        return sb64(hashlib.sha1(nonce + c.encode() + pw.encode()).digest())

    def inp(nonce: bytes, d: str, **over: Any) -> dict[str, Any]:
        return drop({"nonce_b64": sb64(nonce), "created": created, "password": password, "digest": d}, **over)

    rep = accepts(
        res,
        "text nonce (zeep UsernameToken ran)",
        "password-digest",
        inp(text_nonce, digest(text_nonce)),
        ("hashlib (by hand)", "zeep UsernameToken"),
    )
    rep = accepts(
        res,
        "binary nonce (zeep cannot take it)",
        "password-digest",
        inp(bin_nonce, digest(bin_nonce)),
        ("hashlib (by hand)",),
    )
    res.expect(
        "password-digest: says why zeep did not run",
        rep.get("zeep", "").startswith("not run: zeep takes the nonce as a str"),
        json.dumps(rep),
    )
    accepts(
        res,
        "password given as password_b64",
        "password-digest",
        inp(bin_nonce, digest(bin_nonce), password=None, password_b64=sb64(password.encode())),
    )
    n = bin_nonce
    later = f"{created[:-3]}{(int(created[-3:-1]) + 1) % 60:02d}Z"  # one second on (mod 60)
    cases: list[tuple[str, dict[str, Any], list[str]]] = [
        ("wrong password", inp(n, digest(n, pw="other")), ["PasswordDigest is"]),
        ("created changed", inp(n, digest(n, c=later)), ["PasswordDigest is"]),
        (
            "digest over the base64 nonce text",
            inp(n, sb64(hashlib.sha1(sb64(n).encode() + created.encode() + password.encode()).digest())),
            ["the base64 text of the nonce instead of its bytes"],
        ),
        (
            "SHA-256 instead of SHA-1",
            inp(n, sb64(hashlib.sha256(n + created.encode() + password.encode()).digest())),
            ["SHA-256 instead of SHA-1"],
        ),
        (
            "hex digest",
            inp(n, hashlib.sha1(n + created.encode() + password.encode()).hexdigest()),
            ["the digest is hex"],
        ),
        (
            "password first",
            inp(n, sb64(hashlib.sha1(password.encode() + n + created.encode()).digest())),
            ["the order password"],
        ),
        ("8-byte nonce", inp(n[:8], digest(n[:8])), ["nonce has 8 bytes"]),
        (
            "created not an xsd:dateTime",
            inp(n, digest(n, c="2025-07-06 10:00:00"), created="2025-07-06 10:00:00"),
            ["not an xsd:dateTime"],
        ),
        (
            "zeep disagrees on a text nonce",
            inp(text_nonce, digest(text_nonce, pw="x")),
            ["PasswordDigest is", "zeep computes"],
        ),
    ]
    rejects_all(res, "password-digest", cases)


def test_hmac(res: Results) -> None:
    libs = ("python hmac", "cryptography HMAC", "openssl dgst -mac HMAC")
    # RFC 4231 test case 2 (HMAC-SHA-256, HMAC-SHA-512) and RFC 2202 test case 2 (HMAC-SHA-1).
    known = {
        "SHA-1": "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
        "SHA-256": "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        "SHA-512": "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
        "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
    }
    for alg, mac_hex in known.items():
        accepts(
            res,
            f"HMAC-{alg} known answer (RFC 4231/2202 test case 2)",
            "hmac",
            {
                "alg": alg,
                "key_b64": sb64(b"Jefe"),
                "message_b64": sb64(b"what do ya want for nothing?"),
                "mac_b64": sb64(bytes.fromhex(mac_hex)),
            },
            libs,
        )
    key, msg = secrets.token_bytes(64), b"POST /soap/payments\n" + secrets.token_bytes(100)
    good = hmac.new(key, msg, "sha256").digest()

    def inp(**over: Any) -> dict[str, Any]:
        return drop({"alg": "SHA-256", "key_b64": sb64(key), "message_b64": sb64(msg), "mac_b64": sb64(good)}, **over)

    accepts(res, "HMAC-SHA-256 of random data", "hmac", inp(), libs)
    cases: list[tuple[str, dict[str, Any], list[str]]] = [
        ("wrong key", inp(key_b64=sb64(secrets.token_bytes(64))), ["MAC does not match", "cryptography HMAC rejected"]),
        ("message changed by one byte", inp(message_b64=sb64(msg[:-1] + bytes([msg[-1] ^ 1]))), ["MAC does not match"]),
        ("MAC truncated to 16 bytes", inp(mac_b64=sb64(good[:16])), ["16 bytes, expected 32"]),
        ("SHA-256 MAC checked as SHA-512", inp(alg="SHA-512"), ["MAC does not match HMAC-SHA-512"]),
        ("base64url MAC", inp(mac_b64=b64(good)), ["not canonical standard base64"]),
        ("hex MAC", inp(mac_b64=good.hex()), ["MAC does not match"]),
    ]
    rejects_all(res, "hmac", cases)
    rejects(res, "unknown alg MD5", "hmac", inp(alg="MD5"), ["alg 'MD5' is not one of"], 2)


def main() -> int:
    res = Results()
    keys = {
        "es": ec.generate_private_key(ec.SECP256R1()),
        "es2": ec.generate_private_key(ec.SECP256R1()),
        "ps": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ps2": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ed": ed25519.Ed25519PrivateKey.generate(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        test_vectors(res)
        test_dpop(res, tmp, keys)
        test_ob(res, tmp, keys)
        test_rfc9421(res, keys)
        test_cavage(res, tmp)
        test_brasil(res, tmp, keys)
        test_jarm(res, keys)
        test_password_digest(res)
        test_hmac(res)
    print(f"{res.passed} passed, {len(res.failed)} failed")
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
