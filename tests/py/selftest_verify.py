#!/usr/bin/env python3
"""Proves verify_assertion.py and make_cert.py are not vacuous.

verify_assertion.py must accept correct PS256 (RSA 2048), ES256 (P-256) and
EdDSA (Ed25519) assertions signed by PyJWT, jwcrypto and the openssl CLI, and
reject every encoding, header and claim mistake of STANDARDS.md sections 1-2,
each for the stated reason. make_cert.py must write self-signed v3
certificates with the asked validity window for plaintext and encrypted RSA,
EC and Ed25519 keys. Exits 1 if any check fails.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import importlib.util
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from typing import Any

import jwt
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwcrypto.jwk import JWK
from jwcrypto.jwt import JWT

HERE = os.path.dirname(os.path.abspath(__file__))
VERIFY = os.path.join(HERE, "verify_assertion.py")
MAKE_CERT = os.path.join(HERE, "make_cert.py")
AUD = "https://as.example.com"
CID = "client-1"
TYP = "client-authentication+jwt"
PSS_MAX_SALT = 2048 // 8 - 32 - 2  # emLen - hLen - 2 for RSA 2048: OpenSSL 3.0's default

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class Cred:
    alg: str
    key: PrivateKey
    key_path: str
    cert: str
    kid: str


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


def b64(data: bytes, pad: bool = False) -> str:
    s = base64.urlsafe_b64encode(data).decode()
    return s if pad else s.rstrip("=")


def run(cmd: list[str], cwd: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cmd, cwd=cwd, input=stdin, capture_output=True)


def openssl(cwd: str, *args: str, stdin: bytes | None = None) -> bytes:
    r = run(["openssl", *args], cwd, stdin)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {r.stderr.decode()}")
    return r.stdout


def make_cert(cwd: str, key: str, out: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return run([sys.executable, MAKE_CERT, "--key", key, "--out", out, "--cn", out, *args], cwd)


def verify(token: str, cert: str, alg: str, *flags: str) -> tuple[int, dict[str, Any]]:
    r = subprocess.run(
        [
            sys.executable,
            VERIFY,
            "--token",
            token,
            "--cert",
            cert,
            "--alg",
            alg,
            "--audience",
            AUD,
            "--client-id",
            CID,
            *flags,
        ],
        capture_output=True,
        text=True,
    )
    try:
        report = json.loads(r.stdout)
    except json.JSONDecodeError:
        report = {"ok": None, "errors": [f"no JSON on stdout: {r.stdout!r} {r.stderr!r}"]}
    return r.returncode, report


def claims(at: int | None = None, **over: Any) -> dict[str, Any]:
    """Valid claims issued at `at` (default: now), with `over` replacing or (None) removing members.

    Cases that set exp relative to their own clock reading pass that reading as `at`: a second
    boundary between the two readings would otherwise shift iat and change the lifetime."""
    now = int(time.time()) if at is None else at
    c = {
        "iss": CID,
        "sub": CID,
        "aud": AUD,
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "jti": b64(secrets.token_bytes(16)),
    }
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def header(cred: Cred, **over: Any) -> dict[str, Any]:
    h = {"alg": cred.alg, "kid": cred.kid, "typ": TYP}
    h.update(over)
    return {k: v for k, v in h.items() if v is not None}


def raw_sign(cred: Cred, signing_input: bytes, salt: int = 32) -> bytes:
    """Signs in the JWS encoding: raw R||S for ES256, PSS with `salt` for PS256."""
    key = cred.key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(
            signing_input, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt), hashes.SHA256()
        )
    return key.sign(signing_input)


def compact(cred: Cred, hdr: dict[str, Any], body: dict[str, Any] | str, pad: bool = False, salt: int = 32) -> str:
    """A compact JWS built by hand, so that every encoding can be got wrong on purpose."""
    payload = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    signing_input = f"{b64(json.dumps(hdr, separators=(',', ':')).encode(), pad)}.{b64(payload.encode(), pad)}"
    return f"{signing_input}.{b64(raw_sign(cred, signing_input.encode(), salt), pad)}"


def signing_input_of(token: str) -> str:
    return token.rsplit(".", 1)[0]


def load_module(path: str) -> Any:
    spec = importlib.util.spec_from_file_location("verify_assertion", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def new_cred(tmp: str, alg: str, genpkey: list[str]) -> Cred:
    name = alg.lower()
    openssl(tmp, "genpkey", *genpkey, "-out", f"{name}.pem")
    r = make_cert(tmp, f"{name}.pem", f"{name}.crt", "--not-before-days", "-1", "--not-after-days", "365")
    if r.returncode != 0:
        raise RuntimeError(r.stderr.decode())
    with open(os.path.join(tmp, f"{name}.pem"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    assert isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey))
    kid = JWK.from_pyca(key.public_key()).thumbprint()
    return Cred(alg, key, os.path.join(tmp, f"{name}.pem"), os.path.join(tmp, f"{name}.crt"), kid)


def test_accepts(res: Results, tmp: str, creds: dict[str, Cred]) -> None:
    sig_len = {"ES256": 64, "PS256": 256, "EdDSA": 64}
    for alg, cred in creds.items():
        body = claims()
        tokens = {
            "PyJWT": jwt.encode(body, cred.key, algorithm=alg, headers={"kid": cred.kid, "typ": TYP}),
            "jwcrypto": JWT(header=header(cred), claims=body),
        }
        tokens["jwcrypto"].make_signed_token(JWK.from_pyca(cred.key))
        tokens["jwcrypto"] = tokens["jwcrypto"].serialize()
        for signer, token in tokens.items():
            rc, rep = verify(token, cred.cert, alg, "--typ", TYP, "--no-x5t", "--ttl", "60", "--kid", cred.kid)
            res.expect(
                f"accepts {alg} signed by {signer}",
                rc == 0
                and rep["ok"] is True
                and rep["thumbprint"] == cred.kid
                and rep["signature_len"] == sig_len[alg]
                and rep["claims"] == body
                and rep["header"]["alg"] == alg,
                json.dumps(rep),
            )

    # The openssl CLI as a third signer, in the JWS encodings.
    ps = creds["PS256"]
    text = signing_input_of(compact(ps, header(ps), claims()))
    sig = openssl(
        tmp,
        "dgst",
        "-sha256",
        "-sign",
        ps.key_path,
        "-sigopt",
        "rsa_padding_mode:pss",
        "-sigopt",
        "rsa_pss_saltlen:digest",
        stdin=text.encode(),
    )
    rc, rep = verify(f"{text}.{b64(sig)}", ps.cert, "PS256", "--typ", TYP)
    res.expect("accepts PS256 signed by openssl dgst -sigopt rsa_pss_saltlen:digest", rc == 0, json.dumps(rep))

    ed = creds["EdDSA"]
    text = signing_input_of(compact(ed, header(ed), claims()))
    with open(os.path.join(tmp, "ed-input"), "wb") as f:
        f.write(text.encode())
    sig = openssl(tmp, "pkeyutl", "-sign", "-inkey", ed.key_path, "-rawin", "-in", "ed-input")
    rc, rep = verify(f"{text}.{b64(sig)}", ed.cert, "EdDSA", "--typ", TYP)
    res.expect("accepts EdDSA signed by openssl pkeyutl -rawin", rc == 0, json.dumps(rep))

    es = creds["ES256"]
    text = signing_input_of(compact(es, header(es), claims()))
    r, s = decode_dss_signature(openssl(tmp, "dgst", "-sha256", "-sign", es.key_path, stdin=text.encode()))
    rc, rep = verify(f"{text}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}", es.cert, "ES256", "--typ", TYP)
    res.expect("accepts ES256 signed by openssl dgst, DER converted to R||S", rc == 0, json.dumps(rep))

    # Optional parts: no typ, x5t#S256 present.
    with open(es.cert, "rb") as f:
        leaf = x509.load_pem_x509_certificate(f.read())
    x5t = b64(hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).digest())
    rc, rep = verify(
        compact(es, header(es, typ=None, **{"x5t#S256": x5t}), claims()), es.cert, "ES256", "--no-typ", "--x5t"
    )
    res.expect("accepts no typ with --no-typ and x5t#S256 with --x5t", rc == 0, json.dumps(rep))

    # A chain: the leaf comes first.
    other = os.path.join(tmp, "other.crt")
    openssl(tmp, "req", "-x509", "-new", "-key", ps.key_path, "-subj", "/CN=ca", "-days", "30", "-out", other)
    with open(es.cert) as f, open(other) as g:
        leaf_pem, other_pem = f.read(), g.read()
    for name, pem, want in (
        ("leaf first", leaf_pem + other_pem, 0),
        ("another certificate first", other_pem + leaf_pem, 1),
    ):
        path = os.path.join(tmp, f"chain-{want}.pem")
        with open(path, "w") as f:
            f.write(pem)
        rc, rep = verify(compact(es, header(es), claims()), path, "ES256", "--typ", TYP)
        res.expect(f"{'accepts' if want == 0 else 'rejects'} a chain with {name}", rc == want, json.dumps(rep))


def test_rejects(res: Results, tmp: str, creds: dict[str, Cred]) -> None:
    es, ps, ed = creds["ES256"], creds["PS256"], creds["EdDSA"]
    now = int(time.time())
    good = compact(es, header(es), claims())

    # Padded and non-canonical encodings of otherwise valid tokens.
    padded = compact(es, header(es), claims(), pad=True)
    text, sig = good.rsplit(".", 1)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    non_canonical = f"{text}.{sig[:-1]}{alphabet[alphabet.index(sig[-1]) | 1]}"  # 64 bytes: last 2 bits unused
    standard = next(
        t for t in (compact(es, header(es), claims()) for _ in range(64)) if set(t.rsplit(".", 1)[1]) & set("-_")
    )
    standard = standard.translate(str.maketrans("-_", "+/"))

    # DER ES256 from the openssl CLI, PS256 with the maximum salt (cryptography and openssl CLI).
    text = signing_input_of(good)
    der = f"{text}.{b64(openssl(tmp, 'dgst', '-sha256', '-sign', es.key_path, stdin=text.encode()))}"
    ps_text = signing_input_of(compact(ps, header(ps), claims()))
    ps_max_cli = openssl(
        tmp,
        "dgst",
        "-sha256",
        "-sign",
        ps.key_path,
        "-sigopt",
        "rsa_padding_mode:pss",
        "-sigopt",
        "rsa_pss_saltlen:max",
        stdin=ps_text.encode(),
    )
    other = replace(es, key=ec.generate_private_key(ec.SECP256R1()))
    duplicate = json.dumps(claims(), separators=(",", ":"))[:-1] + f',"aud":"{AUD}"}}'

    cases: list[tuple[str, str, Cred, list[str], list[str]]] = [
        # (what, token, credential, extra flags, substrings every one of which must be among the errors)
        (
            "wrong aud",
            compact(es, header(es), claims(aud="https://other.example")),
            es,
            [],
            ["aud is 'https://other.example', expected the issuer", "PyJWT rejected", "jwcrypto rejected"],
        ),
        (
            "array aud",
            compact(es, header(es), claims(aud=[AUD])),
            es,
            [],
            ["not one JSON string", "PyJWT rejected", "jwcrypto: aud is"],
        ),
        ("token endpoint aud", compact(es, header(es), claims(aud=AUD + "/token")), es, [], ["expected the issuer"]),
        (
            "float iat",
            compact(es, header(es), claims(at=now, iat=now + 0.5)),
            es,
            [],
            ["iat is", "(float), not an integer"],
        ),
        ("string exp", compact(es, header(es), claims(at=now, exp=str(now + 60))), es, [], ["(str), not an integer"]),
        ("bool nbf", compact(es, header(es), claims(nbf=True)), es, [], ["(bool), not an integer"]),
        ("padded base64", padded, es, [], ["header segment has '=' padding", "signature segment has '=' padding"]),
        ("non-canonical base64", non_canonical, es, [], ["signature segment is not the canonical encoding"]),
        ("standard base64 alphabet", standard, es, [], ["outside the base64url alphabet"]),
        ("DER-encoded ES256 signature", der, es, [], ["not raw R||S of 64"]),
        (
            "PS256 with max salt (cryptography)",
            compact(ps, header(ps), claims(), salt=PSS_MAX_SALT),
            ps,
            [],
            ["PS256 signature does not verify", "PyJWT rejected", "jwcrypto rejected"],
        ),
        (
            "PS256 with max salt (openssl CLI)",
            f"{ps_text}.{b64(ps_max_cli)}",
            ps,
            [],
            ["PS256 signature does not verify"],
        ),
        ("PS256 with salt 20", compact(ps, header(ps), claims(), salt=20), ps, [], ["PS256 signature does not verify"]),
        ("wrong kid", compact(es, header(es, kid="nope"), claims()), es, [], ["not the RFC 7638 SHA-256 thumbprint"]),
        ("kid other than --kid", good, es, ["--kid", "pinned"], ["is not the expected 'pinned'"]),
        (
            "extra jku header",
            compact(es, header(es, jku="https://attacker.example/jwks"), claims()),
            es,
            [],
            ["forbidden header parameters ['jku']"],
        ),
        (
            "extra x5c header",
            compact(es, header(es, x5c=["MIIB"]), claims()),
            es,
            [],
            ["forbidden header parameters ['x5c']"],
        ),
        (
            "unknown header",
            compact(es, header(es, foo="bar"), claims()),
            es,
            [],
            ["unexpected header parameters ['foo']"],
        ),
        (
            "jti too short",
            compact(es, header(es), claims(jti=b64(secrets.token_bytes(8)))),
            es,
            [],
            ["carries 64 bits"],
        ),
        ("jti not base64url", compact(es, header(es), claims(jti="not base64!")), es, [], ["is not base64url"]),
        ("missing jti", compact(es, header(es), claims(jti=None)), es, [], ["claims ['jti'] missing"]),
        (
            "lifetime over the cap",
            compact(es, header(es), claims(at=now, exp=now + 301)),
            es,
            [],
            ["301 s exceeds the cap 300 s"],
        ),
        ("lifetime over --max-lifetime", good, es, ["--max-lifetime", "30"], ["60 s exceeds the cap 30 s"]),
        ("exp == iat", compact(es, header(es), claims(at=now, exp=now)), es, [], ["is not after iat"]),
        ("lifetime other than --ttl", good, es, ["--ttl", "30"], ["expected --ttl 30 s"]),
        (
            "iat 30 s old",
            compact(es, header(es), claims(iat=now - 30, nbf=now - 30, exp=now + 30)),
            es,
            [],
            ["s from now"],
        ),
        ("iat != nbf", compact(es, header(es), claims(at=now, nbf=now - 5)), es, [], ["!= nbf"]),
        ("sub != client_id", compact(es, header(es), claims(sub="other")), es, [], ["sub is 'other'"]),
        ("duplicate claim", compact(es, header(es), duplicate), es, [], ["claims has duplicate members ['aud']"]),
        (
            "typ missing under --typ",
            compact(es, header(es, typ=None), claims()),
            es,
            ["--typ", TYP],
            ["header typ is None"],
        ),
        ("typ present under --no-typ", good, es, ["--no-typ"], ["typ 'client-authentication+jwt' present"]),
        ("x5t#S256 missing under --x5t", good, es, ["--x5t"], ["x5t#S256 absent"]),
        (
            "wrong x5t#S256",
            compact(es, header(es, **{"x5t#S256": b64(bytes(32))}), claims()),
            es,
            [],
            ["SHA-256 of the leaf DER"],
        ),
        (
            "x5t#S256 under --no-x5t",
            compact(es, header(es, **{"x5t#S256": "x"}), claims()),
            es,
            ["--no-x5t"],
            ["x5t#S256 present, expected absent"],
        ),
        ("signed by another key", compact(other, header(es), claims()), es, [], ["ES256 signature does not verify"]),
        (
            "alg other than --alg",
            good,
            replace(es, alg="PS256"),
            [],
            ["header alg is 'ES256', expected 'PS256'", "needs an RSA key"],
        ),
        (
            "Ed25519 instead of EdDSA",
            compact(ed, header(ed, alg="Ed25519"), claims()),
            ed,
            [],
            ["header alg is 'Ed25519'"],
        ),
        ("two segments", "abc.def", es, [], ["2 segments, expected 3"]),
    ]
    for what, token, cred, flags, want in cases:
        rc, rep = verify(token, cred.cert, cred.alg, *flags)
        errors = rep.get("errors", [])
        missing = [w for w in want if not any(w in e for e in errors)]
        res.expect(
            f"rejects {what}", rc == 1 and rep["ok"] is False and not missing, f"rc={rc}, missing {missing} in {errors}"
        )

    rc, rep = verify(good, os.path.join(tmp, "no-such.crt"), "ES256")
    res.expect("unreadable certificate exits 2", rc == 2 and rep["ok"] is False, json.dumps(rep))


def test_pss_salt(res: Results, tmp: str, ps: Cred) -> None:
    """OpenSSL checks an explicit PSS salt length exactly, so salt_length=32 pins salt 32."""
    check_signature = load_module(VERIFY).check_signature
    pub = ps.key.public_key()
    assert isinstance(pub, rsa.RSAPublicKey)
    msg = b"signing input"
    for name, salt in ((f"max ({PSS_MAX_SALT})", PSS_MAX_SALT), ("20", 20), ("32", 32)):
        sig = raw_sign(ps, msg, salt)
        try:
            pub.verify(
                sig, msg, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO), hashes.SHA256()
            )
            valid = True
        except InvalidSignature:
            valid = False
        errors = check_signature("PS256", pub, msg, sig)
        res.expect(
            f"cryptography salt_length=32 {'accepts' if salt == 32 else 'rejects'} salt {name} (valid under AUTO)",
            valid and (errors == []) == (salt == 32),
            f"valid under AUTO={valid}, errors={errors}",
        )
        # The system openssl CLI agrees.
        with open(os.path.join(tmp, "pss.sig"), "wb") as f:
            f.write(sig)
        with open(os.path.join(tmp, "pss.pub"), "wb") as f:
            f.write(pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        r = run(
            [
                "openssl",
                "dgst",
                "-sha256",
                "-verify",
                "pss.pub",
                "-signature",
                "pss.sig",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:32",
            ],
            tmp,
            msg,
        )
        res.expect(
            f"openssl CLI rsa_pss_saltlen:32 {'accepts' if salt == 32 else 'rejects'} salt {name}",
            (r.returncode == 0) == (salt == 32),
            r.stdout.decode() + r.stderr.decode(),
        )


def check_cert(path: str, key: PrivateKey, nb_days: int, na: datetime.timedelta) -> list[str]:
    with open(path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    now = datetime.datetime.now(datetime.timezone.utc)
    slack = datetime.timedelta(seconds=30)
    problems = []
    if cert.version != x509.Version.v3:
        problems.append(f"version {cert.version}")
    if cert.subject != cert.issuer:
        problems.append("not self-issued")
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature) as e:
        problems.append(f"self-signature: {e!r}")
    want_hash = None if isinstance(key, ed25519.Ed25519PrivateKey) else "sha256"
    got_hash = cert.signature_hash_algorithm.name if cert.signature_hash_algorithm else None
    if got_hash != want_hash:
        problems.append(f"signature hash {got_hash}, expected {want_hash}")
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if cert.public_key().public_bytes(serialization.Encoding.DER, spki) != key.public_key().public_bytes(
        serialization.Encoding.DER, spki
    ):
        problems.append("public key is not the key's")
    if abs(cert.not_valid_before_utc - (now + datetime.timedelta(days=nb_days))) > slack:
        problems.append(f"notBefore {cert.not_valid_before_utc}")
    if abs(cert.not_valid_after_utc - (now + na)) > slack:
        problems.append(f"notAfter {cert.not_valid_after_utc}")
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    if not bc.critical or bc.value.ca:
        problems.append(f"basicConstraints {bc}")
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    if not (ku.critical and ku.value.digital_signature) or ku.value.key_encipherment != isinstance(
        key, rsa.RSAPrivateKey
    ):
        problems.append(f"keyUsage {ku}")
    return problems


def test_make_cert(res: Results, tmp: str) -> None:
    with open(os.path.join(tmp, "pass"), "w") as f:
        f.write("correct horse\n")
    keys = {
        "RSA 2048": ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "mc-rsa.pem"],
        "EC P-256": ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "mc-ec.pem"],
        "Ed25519": ["genpkey", "-algorithm", "ED25519", "-out", "mc-ed.pem"],
    }
    plain: dict[str, str] = {}
    for name, args in keys.items():
        openssl(tmp, *args)
        plain[name] = args[-1]
    encrypted = {  # name: (plaintext key, encrypted file, openssl arguments)
        "RSA 2048 (PKCS#8 AES-256)": ("RSA 2048", "mc-rsa-enc.pem", ["pkcs8", "-topk8", "-v2", "aes256"]),
        "EC P-256 (legacy PEM AES-256)": ("EC P-256", "mc-ec-enc.pem", ["ec", "-aes256"]),
        "Ed25519 (PKCS#8 scrypt)": ("Ed25519", "mc-ed-enc.pem", ["pkcs8", "-topk8", "-scrypt"]),
    }
    for kname, out, args in encrypted.values():
        openssl(tmp, *args, "-in", plain[kname], "-passout", "file:pass", "-out", out)

    windows = {"expired": (-10, -1), "not yet valid": (5, 400), "expiring soon": (-1, 7)}
    jobs: list[tuple[str, str, str, list[str], int, datetime.timedelta]] = []
    for kname, path in plain.items():
        for wname, (nb_days, na_days) in windows.items():
            window = datetime.timedelta(days=na_days)
            jobs.append((f"{kname}, {wname} ({nb_days}/{na_days})", kname, path, [], nb_days, window))
    year = datetime.timedelta(days=365)
    for ename, (kname, out, _) in encrypted.items():
        jobs.append((f"{ename}, with --key-pass-file", kname, out, ["--key-pass-file", "pass"], -1, year))
    soon = ["--not-after-seconds", "120"]
    jobs.append(
        ("EC P-256, --not-after-seconds 120", "EC P-256", plain["EC P-256"], soon, -1, datetime.timedelta(seconds=120))
    )

    for i, (name, kname, path, extra, nb, na) in enumerate(jobs):
        out = f"mc-{i}.crt"
        r = make_cert(tmp, path, out, "--not-before-days", str(nb), "--not-after-days", str(na.days), *extra)
        if r.returncode != 0:
            res.expect(f"make_cert {name}", False, r.stderr.decode())
            continue
        with open(os.path.join(tmp, plain[kname]), "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
        assert isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey))
        problems = check_cert(os.path.join(tmp, out), key, nb, na)
        # The system openssl CLI reads the same notAfter: -checkend 0 fails once expired.
        expired = run(["openssl", "x509", "-in", out, "-noout", "-checkend", "0"], tmp).returncode != 0
        if expired != (na.total_seconds() < 0):
            problems.append(f"openssl x509 -checkend 0 says expired={expired}")
        res.expect(f"make_cert {name}", not problems, "; ".join(problems))

    with open(os.path.join(tmp, "wrong-pass"), "w") as f:
        f.write("wrong\n")
    enc_rsa = encrypted["RSA 2048 (PKCS#8 AES-256)"][1]
    for name, extra in (("wrong passphrase", ["--key-pass-file", "wrong-pass"]), ("missing passphrase", [])):
        r = make_cert(tmp, enc_rsa, "mc-bad.crt", "--not-before-days", "0", "--not-after-days", "1", *extra)
        res.expect(
            f"make_cert fails cleanly on a {name}",
            r.returncode != 0 and b"Traceback" not in r.stderr,
            r.stderr.decode(),
        )


def main() -> int:
    res = Results()
    with tempfile.TemporaryDirectory() as tmp:
        creds = {
            "ES256": new_cred(tmp, "ES256", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]),
            "PS256": new_cred(tmp, "PS256", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
            "EdDSA": new_cred(tmp, "EdDSA", ["-algorithm", "ED25519"]),
        }
        test_accepts(res, tmp, creds)
        test_rejects(res, tmp, creds)
        test_pss_salt(res, tmp, creds["PS256"])
        test_make_cert(res, tmp)
    print(f"{res.passed} passed, {len(res.failed)} failed")
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
