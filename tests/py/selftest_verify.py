#!/usr/bin/env python3
"""Proves verify_assertion.py is not vacuous: it accepts correct assertions
for PS256, ES256 and EdDSA made here with PyJWT, and rejects each encoding
or claim mistake STANDARDS.md lists."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from jwcrypto import jwk as jwc_jwk

HERE = os.path.dirname(os.path.abspath(__file__))
AUD = "https://as.example"
CID = "client-1"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def openssl(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make(tmp: str, name: str, genpkey_args: list[str]):
    openssl("genpkey", "-out", f"{name}.pem", *genpkey_args, cwd=tmp)
    openssl("req", "-x509", "-new", "-key", f"{name}.pem", "-subj", f"/CN={name}", "-days", "30", "-out", f"{name}.crt", cwd=tmp)
    with open(os.path.join(tmp, f"{name}.pem"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    pub_pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    kid = jwc_jwk.JWK.from_pem(pub_pem).thumbprint(hashes.SHA256())
    return key, os.path.join(tmp, f"{name}.crt"), kid


def claims(**over):
    now = int(time.time())
    c = {"iss": CID, "sub": CID, "aud": AUD, "iat": now, "nbf": now, "exp": now + 60, "jti": b64(secrets.token_bytes(16))}
    c.update(over)
    return c


def verify(token: str, cert: str, alg: str, *extra: str) -> tuple[bool, str]:
    r = subprocess.run(
        [sys.executable, os.path.join(HERE, "verify_assertion.py"), "--token", token, "--cert", cert, "--alg", alg,
         "--audience", AUD, "--client-id", CID, *extra],
        capture_output=True, text=True,
    )
    return r.returncode == 0, r.stdout + r.stderr


def main() -> int:
    failures = []
    checks = 0
    with tempfile.TemporaryDirectory() as tmp:
        keys = {
            "ES256": make(tmp, "es", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]),
            "PS256": make(tmp, "ps", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
            "EdDSA": make(tmp, "ed", ["-algorithm", "ED25519"]),
        }
        hdr = {"typ": "client-authentication+jwt"}
        for alg, (key, cert, kid) in keys.items():
            tok = jwt.encode(claims(), key, algorithm=alg, headers={**hdr, "kid": kid})
            checks += 1
            ok, out = verify(tok, cert, alg, "--typ", "client-authentication+jwt", "--ttl", "60", "--kid", kid)
            if not ok:
                failures.append(f"correct {alg} rejected: {out}")

        key, cert, kid = keys["ES256"]
        h = {**hdr, "kid": kid}

        def sign_raw(header: dict, body: dict, der: bool = False) -> str:
            si = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(body).encode())}"
            sig = key.sign(si.encode(), ec.ECDSA(hashes.SHA256()))
            if not der:
                from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
                r, s = decode_dss_signature(sig)
                sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
            return f"{si}.{b64(sig)}"

        now = int(time.time())
        bad = {
            "wrong aud": jwt.encode(claims(aud="https://other"), key, "ES256", headers=h),
            "array aud": jwt.encode(claims(aud=[AUD]), key, "ES256", headers=h),
            "token endpoint aud": jwt.encode(claims(aud=AUD + "/token"), key, "ES256", headers=h),
            "float iat": sign_raw({"alg": "ES256", **h}, claims(iat=now + 0.5)),
            "string exp": sign_raw({"alg": "ES256", **h}, claims(exp=str(now + 60))),
            "DER signature": sign_raw({"alg": "ES256", **h}, claims(), der=True),
            "padded base64": jwt.encode(claims(), key, "ES256", headers=h).replace(".", "=.", 1),
            "wrong kid": jwt.encode(claims(), key, "ES256", headers={**hdr, "kid": "nope"}),
            "jku header": jwt.encode(claims(), key, "ES256", headers={**h, "jku": "https://x"}),
            "short jti": jwt.encode(claims(jti="abc"), key, "ES256", headers=h),
            "lifetime over cap": jwt.encode(claims(exp=now + 301), key, "ES256", headers=h),
            "iss != sub": jwt.encode(claims(sub="other"), key, "ES256", headers=h),
            "missing typ": jwt.encode(claims(), key, "ES256", headers={"kid": kid}),
        }
        for what, tok in bad.items():
            checks += 1
            ok, _ = verify(tok, cert, "ES256", "--typ", "client-authentication+jwt")
            if ok:
                failures.append(f"accepted a token with {what}")

        # PS256 with OpenSSL 3's default (maximum) salt must be rejected.
        pkey, pcert, pkid = keys["PS256"]
        si = f"{b64(json.dumps({'alg': 'PS256', 'kid': pkid}).encode())}.{b64(json.dumps(claims()).encode())}"
        sig = pkey.sign(si.encode(), padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH), hashes.SHA256())
        checks += 1
        ok, _ = verify(f"{si}.{b64(sig)}", pcert, "PS256")
        if ok:
            failures.append("accepted PS256 with a maximum-length salt")

    for f in failures:
        print("FAIL:", f)
    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
