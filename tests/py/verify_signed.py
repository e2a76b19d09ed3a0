#!/usr/bin/env python3
"""Independent verification of the daemon's other signed objects.

    verify_signed.py SUBCOMMAND < input.json

Subcommands (STANDARDS.md sections 3, 9 and 10): dpop, ob-detached, rfc9421,
cavage, brasil, jarm, password-digest, hmac. Each reads one JSON object on
stdin and prints one JSON report on stdout:

    {"ok": bool, "subcommand": str, "errors": [str], "notes": [str],
     "checked_by": {library: "passed" | "failed: ..." | "not run: ..."}, ...}

Exit status: 0 only if every check passed, 1 with every failure listed, 2 on
unusable input (a missing or mistyped field) or an unexpected error. The
checks are made by code nobody on this project wrote (PyJWT, jwcrypto,
cryptography, http-message-signatures, http-sf, httpsig, zeep, the openssl
CLI, hashlib/hmac); the glue below only feeds them the exact bytes and adds
the profile rules those libraries do not know. See each cmd_* docstring for
its input fields and selftest_signed.py for the mutations each one catches.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac as std_hmac
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import http_sf
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from http_message_signatures import HTTPMessageVerifier, MappingKeyResolver, algorithms
from jwcrypto.jwk import JWK, JWKSet
from jwcrypto.jws import JWS, JWSEHeaderParameter
from jwcrypto.jwt import JWT

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from verify_assertion import b64url, b64url_decode, check_signature, is_int, json_object  # noqa: E402

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
FAPI_ALGS = ["PS256", "ES256", "EdDSA"]  # STANDARDS.md A7
LEEWAY = 10


class InputError(Exception):
    """The input JSON lacks a field or has one of the wrong type: exit 2, never a verdict."""


class Report:
    def __init__(self, subcommand: str) -> None:
        self.data: dict[str, Any] = {"ok": False, "subcommand": subcommand, "errors": [], "notes": [], "checked_by": {}}

    @property
    def errors(self) -> list[str]:
        return self.data["errors"]

    def error(self, msg: str) -> None:
        self.errors.append(msg)

    def note(self, msg: str) -> None:
        self.data["notes"].append(msg)

    def lib(self, name: str, outcome: str) -> None:
        self.data["checked_by"][name] = outcome

    def run_lib(self, name: str, fn: Callable[[], Any]) -> Any:
        """Runs one library check: any exception is that library's rejection."""
        try:
            result = fn()
        except Exception as e:  # libraries raise many unrelated types
            self.lib(name, f"failed: {type(e).__name__}: {e}")
            self.error(f"{name} rejected it: {type(e).__name__}: {e}")
            return None
        self.lib(name, "passed")
        return result

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value


# ---------------------------------------------------------------- input helpers


def req(inp: dict[str, Any], name: str, typ: type | tuple[type, ...] = str) -> Any:
    if name not in inp:
        raise InputError(f"input field {name!r} is required")
    return typed(inp, name, typ)


def opt(inp: dict[str, Any], name: str, typ: type | tuple[type, ...] = str, default: Any = None) -> Any:
    if inp.get(name) is None:
        return default
    return typed(inp, name, typ)


def typed(inp: dict[str, Any], name: str, typ: type | tuple[type, ...]) -> Any:
    v = inp[name]
    if not isinstance(v, typ) or (isinstance(v, bool) and typ in (int, float, (int, float))):
        raise InputError(f"input field {name!r} has the wrong type {type(v).__name__}")
    return v


def std_b64decode(s: str, what: str) -> bytes:
    """Canonical, padded standard base64 (RFC 4648 section 4)."""
    try:
        data = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError) as e:
        raise InputError(f"{what} is not standard base64: {e}") from None
    return data


def is_canonical_std_b64(s: str) -> bool:
    try:
        return base64.b64encode(base64.b64decode(s, validate=True)).decode() == s
    except (binascii.Error, ValueError):
        return False


def load_certs(pem: str) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(pem.encode())
    except ValueError as e:
        raise InputError(f"cert_pem is not a PEM certificate: {e}") from None
    return certs


def public_key_from_jwk(jwk: dict[str, Any], what: str, errors: list[str] | None = None) -> PublicKey:
    leaked = [m for m in PRIVATE_JWK_MEMBERS if m in jwk]
    if leaked and errors is not None:
        errors.append(f"{what} has private key members {leaked}")
    try:
        key = JWK(**{k: v for k, v in jwk.items() if k not in PRIVATE_JWK_MEMBERS})
        pub = key.get_op_key("verify")
    except Exception as e:  # jwcrypto raises several types for bad keys
        raise InputError(f"{what} is not a usable public JWK: {type(e).__name__}: {e}") from None
    if not isinstance(pub, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey)):
        raise InputError(f"{what} is a {type(pub).__name__}, not an RSA, EC or Ed25519 public key")
    return pub


def load_public_key(inp: dict[str, Any]) -> tuple[PublicKey, x509.Certificate | None]:
    """One of cert_pem (the first certificate is the signer's), public_key_pem, jwk."""
    if inp.get("cert_pem") is not None:
        cert = load_certs(req(inp, "cert_pem"))[0]
        pub = cert.public_key()
    elif inp.get("public_key_pem") is not None:
        cert = None
        try:
            pub = serialization.load_pem_public_key(req(inp, "public_key_pem").encode())
        except ValueError as e:
            raise InputError(f"public_key_pem is not a PEM public key: {e}") from None
    elif inp.get("jwk") is not None:
        return public_key_from_jwk(req(inp, "jwk", dict), "input jwk"), None
    else:
        raise InputError("one of cert_pem, public_key_pem, jwk is required")
    if not isinstance(pub, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey)):
        raise InputError(f"the key is a {type(pub).__name__}, not an RSA, EC or Ed25519 public key")
    return pub, cert


def pem_of(pub: PublicKey) -> bytes:
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def split_compact(token: str, rep: Report, *, detached: bool = False) -> tuple[dict[str, Any], bytes, bytes] | None:
    """Strict compact JWS: three segments of canonical unpadded base64url, a duplicate-free JSON header."""
    parts = token.split(".")
    if len(parts) == 5:
        rep.error("a 5-segment compact JWE (encrypted), not a JWS: this verifier does not decrypt")
        return None
    if len(parts) != 3:
        rep.error(f"not a compact JWS: {len(parts)} segments, expected 3")
        return None
    if detached and parts[1] != "":
        rep.error("payload segment is not empty: not a detached JWS (RFC 7515 appendix F)")
    decoded = []
    for name, seg in zip(("header", "payload", "signature"), parts, strict=True):
        try:
            decoded.append(b64url_decode(seg))
        except ValueError as e:
            rep.error(f"{name} segment {e}")
            return None
    try:
        header = json_object(decoded[0])
    except ValueError as e:
        rep.error(f"header {e}")
        return None
    return header, decoded[1], decoded[2]


def claims_of(payload: bytes, rep: Report) -> dict[str, Any] | None:
    try:
        return json_object(payload)
    except (ValueError, UnicodeDecodeError) as e:
        rep.error(f"claims {e}")
        return None


def check_alg_key(alg: str, pub: PublicKey) -> str | None:
    if alg == "ES256" and not (isinstance(pub, ec.EllipticCurvePublicKey) and isinstance(pub.curve, ec.SECP256R1)):
        return "ES256 needs a P-256 key"
    if alg == "PS256" and not (isinstance(pub, rsa.RSAPublicKey) and pub.key_size >= 2048):
        return "PS256 needs an RSA key of at least 2048 bits"
    if alg == "EdDSA" and not isinstance(pub, ed25519.Ed25519PublicKey):
        return "EdDSA needs an Ed25519 key"
    return None


def exact_signature(rep: Report, alg: str, pub: PublicKey, signing_input: bytes, sig: bytes) -> None:
    """cryptography on the exact JWS encodings: raw R||S for ES256, PSS salt 32 for PS256 (verify_assertion.py)."""
    problem = check_alg_key(alg, pub)
    if problem:
        rep.error(problem)
        return
    errs = check_signature(alg, pub, signing_input, sig)
    rep.lib("cryptography (exact JWS encoding)", "passed" if not errs else f"failed: {'; '.join(errs)}")
    rep.errors.extend(errs)


def check_numeric_date(rep: Report, name: str, v: Any) -> bool:
    if not is_int(v):
        rep.error(f"{name} is {v!r} ({type(v).__name__}), not an integer NumericDate")
        return False
    return True


# ---------------------------------------------------------------- dpop


def jti_bits(jti: str) -> int | None:
    """A lower bound on the entropy length of a jti, by its alphabet: UUID, hex, base64url."""
    if re.fullmatch(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}", jti):
        return 122
    if re.fullmatch(r"[0-9a-fA-F]+", jti):
        return 4 * len(jti)
    if re.fullmatch(r"[A-Za-z0-9_-]+", jti):
        try:
            return 8 * len(b64url_decode(jti))
        except ValueError:
            return 6 * len(jti)
    return None


def normalize_uri(u: str) -> str:
    """RFC 3986 section 6.2.2/6.2.3 normalization of an http(s) URI without query and fragment (RFC 9449 4.3)."""
    p = urllib.parse.urlsplit(u)
    scheme = p.scheme.lower()
    host = (p.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = p.port
    netloc = host if port is None or port == {"http": 80, "https": 443}.get(scheme) else f"{host}:{port}"

    def pct(m: re.Match[str]) -> str:
        ch = chr(int(m.group(1), 16))
        return ch if re.fullmatch(r"[A-Za-z0-9._~-]", ch) else m.group(0).upper()

    path = re.sub(r"%([0-9A-Fa-f]{2})", pct, p.path) or "/"
    return f"{scheme}://{netloc}{path}"


def cmd_dpop(inp: dict[str, Any], rep: Report) -> None:
    """DPoP proof, RFC 9449 section 4.3.

    in:  proof (compact JWS), htm, htu (the request URI; its query/fragment are ignored),
         access_token? (then ath is required), nonce? (then the nonce claim is required),
         jkt? (expected RFC 7638 SHA-256 thumbprint), algs? (default PS256, ES256, EdDSA),
         max_age? (seconds iat may lie in the past, default 60), leeway? (future, default 10)
    out: header, claims, thumbprint
    """
    proof = req(inp, "proof")
    htm = req(inp, "htm")
    htu = req(inp, "htu")
    access_token = opt(inp, "access_token")
    nonce = opt(inp, "nonce")
    jkt = opt(inp, "jkt")
    algs = opt(inp, "algs", list, FAPI_ALGS)
    max_age = opt(inp, "max_age", int, 60)
    leeway = opt(inp, "leeway", int, LEEWAY)
    now = int(time.time())

    parsed = split_compact(proof, rep)
    if parsed is None:
        return
    header, payload, sig = parsed
    rep["header"] = header
    claims = claims_of(payload, rep)
    rep["claims"] = claims

    if header.get("typ") != "dpop+jwt":
        rep.error(f"header typ is {header.get('typ')!r}, expected 'dpop+jwt'")
    alg = header.get("alg")
    if alg not in algs:
        rep.error(f"header alg {alg!r} is not in the allow-list {algs} (asymmetric only, never none)")
    jwk = header.get("jwk")
    pub = None
    public_members: dict[str, Any] = {}
    if not isinstance(jwk, dict):
        rep.error(f"header jwk is {jwk!r}, expected a JSON object with the public key")
    else:
        leaked = [m for m in PRIVATE_JWK_MEMBERS if m in jwk]
        if leaked:
            rep.error(f"header jwk carries private key members {leaked} (RFC 9449 4.3 step 7: public key only)")
        if jwk.get("kty") not in ("EC", "RSA", "OKP"):
            rep.error(f"header jwk kty is {jwk.get('kty')!r}, not an asymmetric key type")
        else:
            public_members = {k: v for k, v in jwk.items() if k not in PRIVATE_JWK_MEMBERS}
            try:
                public = JWK(**public_members)
                rep["thumbprint"] = public.thumbprint()
                pub = public.get_op_key("verify")
                rep.lib("jwcrypto (RFC 7638 thumbprint)", "passed")
            except Exception as e:
                rep.error(f"header jwk is not a usable public key (jwcrypto): {type(e).__name__}: {e}")
    for h in ("x5c", "x5u", "jku", "kid"):
        if h in header:
            rep.note(f"header also carries {h!r}")

    if pub is not None and isinstance(alg, str) and alg in algs:
        if alg in ("ES256", "PS256", "EdDSA"):
            exact_signature(rep, alg, pub, proof.rsplit(".", 1)[0].encode(), sig)
        rep.run_lib(
            "PyJWT",
            lambda: jwt.decode(
                proof,
                jwt.PyJWK(public_members, algorithm=alg).key,
                algorithms=[alg],
                leeway=leeway,
                options={"require": ["jti", "htm", "htu", "iat"], "verify_aud": False},
            ),
        )

        def jwcrypto_verify() -> None:
            j = JWS()
            j.deserialize(proof)
            j.verify(JWK(**public_members), alg=alg)

        rep.run_lib("jwcrypto", jwcrypto_verify)
    if jkt is not None and rep.data.get("thumbprint") != jkt:
        rep.error(f"jwk thumbprint {rep.data.get('thumbprint')!r} is not the expected jkt {jkt!r}")

    if claims is None:
        return
    required = ["jti", "htm", "htu", "iat"] + (["ath"] if access_token is not None else [])
    required += ["nonce"] if nonce is not None else []
    missing = [c for c in required if c not in claims]
    if missing:
        rep.error(f"claims {missing} missing")
    if "jti" in claims:
        jti = claims["jti"]
        bits = jti_bits(jti) if isinstance(jti, str) else None
        if bits is None:
            rep.error(f"jti {jti!r} is not a UUID, hex or base64url string: its entropy cannot be bounded")
        elif bits < 96:
            rep.error(f"jti {jti!r} carries at most {bits} bits, fewer than 96 (STANDARDS.md 3)")
    if "htm" in claims and claims["htm"] != htm:
        rep.error(f"htm is {claims['htm']!r}, expected {htm!r}")
    if "htu" in claims:
        got = claims["htu"]
        if not isinstance(got, str):
            rep.error(f"htu is {got!r}, not a string")
        else:
            if "?" in got or "#" in got:
                rep.error(f"htu {got!r} has a query or fragment (RFC 9449 4.2: the URI without them)")
            want = urllib.parse.urlunsplit(urllib.parse.urlsplit(htu)._replace(query="", fragment=""))
            if normalize_uri(got.split("#")[0].split("?")[0]) != normalize_uri(want):
                rep.error(f"htu is {got!r}, expected {want!r}")
            elif got != want:
                rep.note(f"htu {got!r} equals {want!r} only after RFC 3986 normalization")
    if "iat" in claims and check_numeric_date(rep, "iat", claims["iat"]):
        age = now - claims["iat"]
        if age > max_age:
            rep.error(f"iat is {age} s old, more than max_age {max_age} s")
        if age < -leeway:
            rep.error(f"iat is {-age} s in the future, more than the leeway {leeway} s")
    if access_token is not None and "ath" in claims:
        want_ath = b64url(hashlib.sha256(access_token.encode("ascii")).digest())
        if claims["ath"] != want_ath:
            rep.error(f"ath is {claims['ath']!r}, expected base64url(SHA-256(access token)) {want_ath!r}")
    elif "ath" in claims:
        rep.note("ath present although no access_token was given")
    if nonce is not None and "nonce" in claims and claims["nonce"] != nonce:
        rep.error(f"nonce is {claims['nonce']!r}, expected {nonce!r}")
    elif nonce is None and "nonce" in claims:
        rep.note("nonce present although none was expected")


# ---------------------------------------------------------------- ob-detached

OB_IAT = "http://openbanking.org.uk/iat"
OB_ISS = "http://openbanking.org.uk/iss"
OB_TAN = "http://openbanking.org.uk/tan"
OB_CRIT = [OB_IAT, OB_ISS, OB_TAN]


def parse_version(v: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in v.lstrip("v").split("."))
    except ValueError:
        raise InputError(f"version {v!r} is not like 3.1.3") from None


class OBPyJWS(jwt.PyJWS):
    _supported_crit = {"b64", *OB_CRIT}


def cmd_ob_detached(inp: dict[str, Any], rep: Report) -> None:
    """UK Open Banking x-jws-signature: detached JWS, RFC 7515 appendix F, RFC 7797 up to 3.1.3.

    in:  jws ("<header>..<signature>"), body_b64 (standard base64 of the exact body bytes),
         cert_pem | public_key_pem | jwk, version ("3.1.3" or earlier: b64 false; "3.1.4" or later: no b64),
         expect? {iss?, tan?, kid?}, max_age? (seconds the OB iat may lie in the past; unchecked if absent)
    out: header, form ("b64:false (RFC 7797)" or "base64url payload")
    """
    token = req(inp, "jws")
    body = std_b64decode(req(inp, "body_b64"), "body_b64")
    version = req(inp, "version")
    unencoded = parse_version(version) <= (3, 1, 3)
    expect = opt(inp, "expect", dict, {})
    max_age = opt(inp, "max_age", int)
    pub, _ = load_public_key(inp)
    now = int(time.time())

    parsed = split_compact(token, rep, detached=True)
    if parsed is None:
        return
    header, _, sig = parsed
    rep["header"] = header
    rep["form"] = "b64:false (RFC 7797)" if unencoded else "base64url payload"

    if header.get("alg") != "PS256":
        rep.error(f"header alg is {header.get('alg')!r}, expected 'PS256'")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        rep.error(f"header kid is {kid!r}, expected a non-empty string")
    elif "kid" in expect and kid != expect["kid"]:
        rep.error(f"header kid is {kid!r}, expected {expect['kid']!r}")
    want_crit = (["b64"] if unencoded else []) + OB_CRIT
    crit = header.get("crit")
    if not isinstance(crit, list) or not all(isinstance(c, str) for c in crit):
        rep.error(f"header crit is {crit!r}, expected a list of {want_crit}")
    else:
        if len(set(crit)) != len(crit):
            rep.error(f"header crit {crit} has duplicate entries")
        if sorted(set(crit)) != sorted(want_crit):
            missing = sorted(set(want_crit) - set(crit))
            extra = sorted(set(crit) - set(want_crit))
            rep.error(f"header crit {crit} is not exactly {want_crit} for {version}: missing {missing}, extra {extra}")
    if unencoded:
        if header.get("b64", None) is not False:
            rep.error(f"header b64 is {header.get('b64', 'absent')!r}, expected false for {version} (RFC 7797)")
    elif "b64" in header:
        rep.error(f"header b64 is present ({header['b64']!r}); from 3.1.4 it must be omitted")
    iat = header.get(OB_IAT)
    if not isinstance(iat, (int, float)) or isinstance(iat, bool):
        rep.error(f"header {OB_IAT} is {iat!r} ({type(iat).__name__}), not a JSON number")
    else:
        if iat > now + LEEWAY:
            rep.error(f"header {OB_IAT} is {iat - now} s in the future")
        if max_age is not None and now - iat > max_age:
            rep.error(f"header {OB_IAT} is {now - iat} s old, more than max_age {max_age} s")
        if not is_int(iat):
            rep.note(f"header {OB_IAT} is a non-integer number {iat!r}")
    for name, claim in (("iss", OB_ISS), ("tan", OB_TAN)):
        v = header.get(claim)
        if not isinstance(v, str) or not v:
            rep.error(f"header {claim} is {v!r}, expected a non-empty string")
        elif name in expect and v != expect[name]:
            rep.error(f"header {claim} is {v!r}, expected {expect[name]!r}")
    if "typ" in header and header["typ"] != "JOSE":
        rep.error(f"header typ is {header['typ']!r}; if present it must be 'JOSE'")
    if "cty" in header and header["cty"] not in ("json", "application/json"):
        rep.error(f"header cty is {header['cty']!r}; if present it must be 'json' or 'application/json'")
    extra = sorted(set(header) - {"alg", "kid", "typ", "cty", "crit", "b64", *OB_CRIT})
    if extra:
        rep.note(f"header also carries {extra}")

    protected = token.split(".")[0]
    raw_input = protected.encode() + b"." + body
    b64_input = f"{protected}.{b64url(body)}".encode()
    signing_input = raw_input if unencoded else b64_input
    before = len(rep.errors)
    exact_signature(rep, "PS256", pub, signing_input, sig)
    if len(rep.errors) > before and not check_signature("PS256", pub, b64_input if unencoded else raw_input, sig):
        other = "base64url-encoded payload (3.1.4 form)" if unencoded else "unencoded payload (b64:false, 3.1.3 form)"
        rep.error(f"the signature verifies over the {other} instead")

    registry = {h: JWSEHeaderParameter(f"Open Banking {h}", False, True, None) for h in OB_CRIT}

    def jwcrypto_verify() -> None:
        j = JWS(header_registry=registry)
        j.deserialize(token)
        j.verify(JWK.from_pyca(pub), alg="PS256", detached_payload=body)

    rep.run_lib("jwcrypto", jwcrypto_verify)

    def pyjwt_verify() -> None:
        if header.get("b64", True) is False:
            OBPyJWS().decode_complete(token, pub, algorithms=["PS256"], detached_payload=body)
        else:  # RFC 7515 appendix F: put the payload back and verify the ordinary JWS
            head, _, tail = token.split(".")
            OBPyJWS().decode_complete(f"{head}.{b64url(body)}.{tail}", pub, algorithms=["PS256"])

    rep.run_lib("PyJWT", pyjwt_verify)


# ---------------------------------------------------------------- rfc9421

RFC9421_ALGS: dict[str, type[algorithms.HTTPSignatureAlgorithm]] = {
    "ecdsa-p256-sha256": algorithms.ECDSA_P256_SHA256,
    "ecdsa-p384-sha384": algorithms.ECDSA_P384_SHA384,
    "ed25519": algorithms.ED25519,
    "rsa-pss-sha512": algorithms.RSA_PSS_SHA512,
    "rsa-v1_5-sha256": algorithms.RSA_V1_5_SHA256,
    "hmac-sha256": algorithms.HMAC_SHA256,
}
DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


class Headers:
    """Field lines in order, as http-message-signatures wants them (repeated names allowed)."""

    def __init__(self, value: Any) -> None:
        if isinstance(value, dict):
            pairs = list(value.items())
        elif isinstance(value, list) and all(isinstance(p, list) and len(p) == 2 for p in value):
            pairs = [tuple(p) for p in value]
        else:
            raise InputError("headers must be an object or a list of [name, value] pairs")
        if not all(isinstance(n, str) and isinstance(v, str) for n, v in pairs):
            raise InputError("header names and values must be strings")
        self.pairs: list[tuple[str, str]] = pairs

    def items(self) -> list[tuple[str, str]]:
        return list(self.pairs)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(n for n, _ in self.pairs))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(n.lower() == name.lower() for n, _ in self.pairs)

    def get_all(self, name: str) -> list[str]:
        return [v for n, v in self.pairs if n.lower() == name.lower()]

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return ", ".join(v.strip(" \t") for v in values) if values else None

    def __setitem__(self, name: str, value: str) -> None:
        raise TypeError("read-only")

    def __delitem__(self, name: str) -> None:
        raise TypeError("read-only")


class Request:
    def __init__(self, method: str, url: str, headers: Headers) -> None:
        self.method, self.url, self.headers = method, url, headers


class Response:
    def __init__(self, status_code: int, headers: Headers, request: Request | None) -> None:
        self.status_code, self.headers, self.request = status_code, headers, request


def component_id(c: str) -> str:
    """A component identifier in its serialized form: "@method" -> '"@method"' (RFC 9421 section 2)."""
    item = http_sf.parse((c if c.startswith('"') else http_sf.ser(c)).encode(), tltype="item")
    return http_sf.ser(item)


def rfc9421_key(inp: dict[str, Any], alg: str) -> Any:
    if alg == "hmac-sha256":
        return std_b64decode(req(inp, "shared_secret_b64"), "shared_secret_b64")
    return load_public_key(inp)[0]


def check_content_digest(rep: Report, value: str | None, body: bytes, require_sha256: bool) -> None:
    """RFC 9530 Content-Digest, parsed as a Structured Field Dictionary by http-sf."""
    if value is None:
        if body:
            rep.error("Content-Digest header missing although the request has a body")
        return
    try:
        parsed = http_sf.parse(value.encode(), tltype="dictionary")
    except Exception as e:
        rep.error(f"Content-Digest {value!r} is not a Structured Field Dictionary (http-sf): {e}")
        return
    rep.lib("http-sf (Content-Digest)", "passed")
    if not parsed:
        rep.error("Content-Digest has no member")
    if require_sha256 and "sha-256" not in parsed:
        rep.error(f"Content-Digest {value!r} has no sha-256 member")
    for alg, (member, _params) in parsed.items():
        if alg not in DIGESTS:
            rep.error(f"Content-Digest member {alg!r} is not sha-256 or sha-512")
        elif not isinstance(member, bytes):
            rep.error(f"Content-Digest {alg} is {member!r}, not a Byte Sequence (:base64:)")
        elif member != DIGESTS[alg](body).digest():
            rep.error(f"Content-Digest {alg} does not match the body ({len(body)} bytes)")


def cmd_rfc9421(inp: dict[str, Any], rep: Report) -> None:
    """RFC 9421 HTTP message signature, with the FAPI 2.0 component rules when tag is fapi-2-request.

    in:  method, url, headers ({name: value} or [[name, value], ...]), body_b64? (the exact content;
         absent: no body checks), or for a response status (+ request? {method, url, headers}),
         public_key_pem | cert_pem | jwk | shared_secret_b64 (hmac-sha256), alg (RFC 9421 3.3 name),
         keyid, expect_components ([component ids] that must be exactly the covered set),
         expect_tag? ("fapi-2-request"), label?, max_age? (default 300 s; null: no age limit),
         fapi? (default: expect_tag == "fapi-2-request"), require_sha256? (default true)
    out: label, covered_components {id: value}, params, signature_base
    """
    alg = req(inp, "alg")
    if alg not in RFC9421_ALGS:
        raise InputError(f"alg {alg!r} is not one of {sorted(RFC9421_ALGS)}")
    keyid = req(inp, "keyid")
    expect_components = req(inp, "expect_components", list)
    expect_tag = opt(inp, "expect_tag")
    label = opt(inp, "label")
    max_age = inp.get("max_age", 300)
    if max_age is not None and not is_int(max_age):
        raise InputError("input field 'max_age' must be an integer or null")
    fapi = opt(inp, "fapi", bool, expect_tag == "fapi-2-request")
    require_sha256 = opt(inp, "require_sha256", bool, True)
    body = std_b64decode(inp["body_b64"], "body_b64") if inp.get("body_b64") is not None else None
    headers = Headers(req(inp, "headers", (dict, list)))
    if inp.get("status") is not None:
        r = opt(inp, "request", dict)
        request = Request(req(r, "method"), req(r, "url"), Headers(req(r, "headers", (dict, list)))) if r else None
        message: Request | Response = Response(req(inp, "status", int), headers, request)
    else:
        message = Request(req(inp, "method"), req(inp, "url"), headers)
    key = rfc9421_key(inp, alg)
    try:
        expected_ids = [component_id(c) for c in expect_components]
    except Exception as e:
        raise InputError(f"expect_components: {e}") from None

    # Independent parse of the two fields (http-sf), for the report and the parameter rules.
    members: dict[str, Any] = {}
    for field in ("Signature-Input", "Signature"):
        value = headers.get(field)
        if value is None:
            rep.error(f"{field} header missing")
            return
        try:
            members[field] = http_sf.parse(value.encode(), tltype="dictionary")
        except Exception as e:
            rep.error(f"{field} is not a Structured Field Dictionary (http-sf): {e}")
            return
    labels = list(members["Signature-Input"])
    picked = label
    if picked is None:
        chosen = [
            lb for lb in labels if expect_tag is None or members["Signature-Input"][lb][1].get("tag") == expect_tag
        ]
        if len(chosen) != 1:
            rep.error(f"cannot pick one signature: labels {labels}, tag {expect_tag!r} matches {chosen}")
        else:
            picked = chosen[0]
    if picked is not None and (picked not in members["Signature-Input"] or picked not in members["Signature"]):
        rep.error(f"label {picked!r} is not in both Signature-Input and Signature (labels {labels})")
        picked = None
    if picked is None and len(labels) == 1:
        picked = labels[0]  # report on the only signature there is
    inner, params = members["Signature-Input"][picked] if picked is not None else ([], {})
    rep["label"] = picked
    rep["params"] = params

    verifier = HTTPMessageVerifier(
        signature_algorithm=RFC9421_ALGS[alg],
        key_resolver=MappingKeyResolver(public_keys={keyid: key}, private_keys={}),
    )
    verifier.allow_label_only_selection = True

    def verify() -> Any:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return verifier.verify(
                message,
                max_age=None if max_age is None else datetime.timedelta(seconds=max_age),
                expect_tag=expect_tag,
                expect_label=label,
                require_components=expect_components,
                body=body,
            )

    results = rep.run_lib("http-message-signatures", verify)
    if results:
        result = results[0]
        rep["covered_components"] = {k: v for k, v in result.covered_components.items() if k != '"@signature-params"'}
        rep["signature_base"] = "\n".join(f"{k}: {v}" for k, v in result.covered_components.items())
        covered = list(rep.data["covered_components"])
    else:
        # Not verified: still compare the declared set, serialised from http-sf's (value, params) pairs.
        covered = [http_sf.ser((value, item_params)) for value, item_params in inner]
    if sorted(covered) != sorted(expected_ids):
        rep.error(
            f"covered components {covered} are not exactly {expected_ids}: "
            f"missing {sorted(set(expected_ids) - set(covered))}, extra {sorted(set(covered) - set(expected_ids))}"
        )
    elif covered != expected_ids:
        rep.note(f"covered components in the order {covered}, expected order {expected_ids}")

    if not is_int(params.get("created")):
        rep.error(f"parameter created is {params.get('created')!r}, expected an integer")
    if params.get("keyid") != keyid:
        rep.error(f"parameter keyid is {params.get('keyid')!r}, expected {keyid!r}")
    if expect_tag is not None and params.get("tag") != expect_tag:
        rep.error(f"parameter tag is {params.get('tag')!r}, expected {expect_tag!r}")
    if "alg" in params and params["alg"] != alg:
        rep.error(f"parameter alg is {params['alg']!r}, expected {alg!r}")
    if "expires" in params and is_int(params.get("created")) and params["expires"] <= params["created"]:
        rep.error(f"parameter expires {params['expires']} is not after created {params['created']}")
    if isinstance(params.get("created"), int) and params["created"] > int(time.time()) + LEEWAY:
        rep.error(f"parameter created is {params['created'] - int(time.time())} s in the future")

    if fapi:
        names = {c.split(";")[0].strip('"') for c in covered}
        need = ["@method", "@target-uri"]
        need += [h for h in ("authorization", "dpop") if h in headers]
        if body or "content-digest" in headers:
            need.append("content-digest")
        missing = [n for n in need if n not in names]
        if missing:
            rep.error(f"FAPI 2.0 message signing: components {missing} are not covered")
        if isinstance(message, Request) and params.get("tag") != "fapi-2-request":
            rep.error(f"FAPI 2.0 message signing: tag is {params.get('tag')!r}, expected 'fapi-2-request'")
    if body is not None:
        check_content_digest(rep, headers.get("content-digest"), body, require_sha256)
    else:
        rep.note("body_b64 absent: Content-Digest not checked against a body")


# ---------------------------------------------------------------- cavage


def parse_cavage_params(value: str) -> dict[str, str]:
    """keyId="...",algorithm="...",headers="...",signature="..." (draft-cavage-10 section 4.1)."""
    out: dict[str, str] = {}
    pos = 0
    pattern = re.compile(r'\s*([A-Za-z]+)="([^"]*)"\s*(,|$)')
    while pos < len(value):
        m = pattern.match(value, pos)
        if not m:
            raise ValueError(f"cannot parse Signature parameters at {value[pos:]!r}")
        if m.group(1) in out:
            raise ValueError(f"parameter {m.group(1)} given twice")
        out[m.group(1)] = m.group(2)
        pos = m.end()
    return out


def signing_string(names: list[str], headers: Headers, method: str, path: str) -> str:
    """draft-cavage-http-signatures-10 section 2.3."""
    lines = []
    for name in names:
        if name == "(request-target)":
            lines.append(f"(request-target): {method.lower()} {path}")
        else:
            values = headers.get_all(name)
            if not values:
                raise ValueError(f"signed header {name!r} is not in the request")
            joined = ", ".join(v.strip(" \t") for v in values)
            lines.append(f"{name}: {joined}")
    return "\n".join(lines)


def openssl_verify(pub_pem: bytes, data: bytes, sig: bytes, *args: str) -> tuple[bool, str]:
    with tempfile.TemporaryDirectory() as tmp:
        for name, content in (("pub.pem", pub_pem), ("sig.bin", sig), ("data.bin", data)):
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(content)
        r = subprocess.run(
            ["openssl", "dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig.bin", *args, "data.bin"],
            cwd=tmp,
            capture_output=True,
        )
    out = (r.stdout + r.stderr).decode(errors="replace").strip()
    return r.returncode == 0 and "Verified OK" in out, out


def import_httpsig() -> Any:
    """httpsig 1.3.0 (2018) imports pkg_resources only to read its own version; recent setuptools (84.2.1 on
    this machine) no longer ships pkg_resources. A stand-in for that one import, when it is missing, leaves
    httpsig's signing and verifying code as it is."""
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        import types

        class DistributionNotFound(Exception):
            pass

        def get_distribution(name: str) -> Any:
            raise DistributionNotFound(name)

        shim = types.ModuleType("pkg_resources")
        shim.DistributionNotFound = DistributionNotFound  # type: ignore[attr-defined]
        shim.get_distribution = get_distribution  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = shim
    import httpsig

    return httpsig


def cmd_cavage(inp: dict[str, Any], rep: Report) -> None:
    """Berlin Group NextGenPSD2 signature, draft-cavage-http-signatures-10.

    in:  method, path (request target: path and query as sent), headers ({name: value} or pairs, with
         Digest, X-Request-ID, Signature, TPP-Signature-Certificate), body_b64, cert_pem (the QSealC),
         required_headers? (signed headers required beyond digest, x-request-id and the conditional ones)
    out: signing_string, key_id {serial, issuer}, signed_headers
    """
    method = req(inp, "method")
    path = req(inp, "path")
    headers = Headers(req(inp, "headers", (dict, list)))
    body = std_b64decode(req(inp, "body_b64"), "body_b64")
    cert = load_certs(req(inp, "cert_pem"))[0]
    extra_required = [h.lower() for h in opt(inp, "required_headers", list, [])]
    pub = cert.public_key()
    if not isinstance(pub, rsa.RSAPublicKey):
        rep.error(f"certificate key is {type(pub).__name__}; rsa-sha256 needs RSA")
        return

    sig_header = headers.get("signature")
    if sig_header is None:
        rep.error("Signature header missing")
        return
    try:
        params = parse_cavage_params(sig_header)
    except ValueError as e:
        rep.error(f"Signature header: {e}")
        return
    rep["signature_params"] = params
    for p in ("keyId", "algorithm", "headers", "signature"):
        if p not in params:
            rep.error(f"Signature parameter {p} missing")
    if params.get("algorithm") != "rsa-sha256":
        rep.error(f"Signature algorithm is {params.get('algorithm')!r}, expected 'rsa-sha256'")
    names = params.get("headers", "date").split(" ")
    rep["signed_headers"] = names
    if names != [n.lower() for n in names] or "" in names:
        rep.error(f"Signature headers {params.get('headers')!r} must be lower-case names separated by single spaces")
    need = ["digest", "x-request-id"] + [h for h in ("psu-id", "psu-corporate-id", "tpp-redirect-uri") if h in headers]
    need += extra_required
    missing = [h for h in need if h not in names]
    if missing:
        rep.error(f"headers {missing} are not signed")

    # Digest (RFC 3230) of the exact body.
    digest = headers.get("digest")
    if digest is None:
        rep.error("Digest header missing")
    else:
        found = {}
        for part in digest.split(","):
            algo, sep, value = part.strip().partition("=")
            if not sep:
                rep.error(f"Digest member {part!r} is not ALGORITHM=base64")
                continue
            found[algo.upper()] = value
        if "SHA-256" not in found:
            rep.error(f"Digest {digest!r} has no SHA-256 member")
        for algo, value in found.items():
            fn = {"SHA-256": hashlib.sha256, "SHA-512": hashlib.sha512}.get(algo)
            if fn is None:
                rep.error(f"Digest algorithm {algo!r} is not SHA-256 or SHA-512")
            elif not is_canonical_std_b64(value):
                rep.error(f"Digest {algo} value {value!r} is not canonical standard base64")
            elif (n := len(base64.b64decode(value))) != fn().digest_size:
                rep.error(f"Digest {algo} value decodes to {n} bytes, not {fn().digest_size} (hex?)")
            elif base64.b64decode(value) != fn(body).digest():
                rep.error(f"Digest {algo} does not match the body ({len(body)} bytes)")

    # keyId = "SN=<serial hex>,CA=<issuer DN>" of the certificate.
    key_id = params.get("keyId", "")
    m = re.fullmatch(r"SN=([0-9A-Fa-f]+),CA=(.+)", key_id)
    issuer = cert.issuer.rfc4514_string()
    rep["expected_key_id"] = f"SN={cert.serial_number:X},CA={issuer}"
    if not m:
        rep.error(f"keyId {key_id!r} is not SN=<hex serial>,CA=<issuer DN>")
    else:
        if int(m.group(1), 16) != cert.serial_number:
            rep.error(f"keyId serial {m.group(1)} is not the certificate serial {cert.serial_number:X} (hex)")
        ca = m.group(2)
        if ca == issuer:
            rep["key_id_ca_form"] = "RFC 4514"
        elif urllib.parse.unquote(ca) == issuer:
            rep["key_id_ca_form"] = "RFC 4514, percent-encoded"
        else:
            rep.error(f"keyId CA {ca!r} is not the certificate issuer {issuer!r} (RFC 4514)")

    # TPP-Signature-Certificate = base64(DER of the signing certificate).
    tpp = headers.get("tpp-signature-certificate")
    der = cert.public_bytes(serialization.Encoding.DER)
    if tpp is None:
        rep.error("TPP-Signature-Certificate header missing")
    elif not is_canonical_std_b64(tpp):
        rep.error("TPP-Signature-Certificate is not canonical standard base64 (PEM armour or line breaks?)")
    elif base64.b64decode(tpp) != der:
        rep.error("TPP-Signature-Certificate is not the base64 DER of cert_pem")

    x_request_id = headers.get("x-request-id")
    if x_request_id is not None and not re.fullmatch(
        r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}", x_request_id
    ):
        rep.error(f"X-Request-ID {x_request_id!r} is not a UUID")

    if "signature" not in params:
        return
    try:
        sig = base64.b64decode(params["signature"], validate=True)
    except (binascii.Error, ValueError):
        rep.error("signature parameter is not standard base64")
        return
    try:
        text = signing_string(names, headers, method, path)
    except ValueError as e:
        rep.error(str(e))
        return
    rep["signing_string"] = text
    pub_pem = pem_of(pub)
    ok, out = openssl_verify(pub_pem, text.encode(), sig)
    rep.lib("openssl dgst -sha256 -verify (PKCS#1 v1.5)", "passed" if ok else f"failed: {out}")
    if not ok:
        rep.error(f"openssl: the signature does not verify as RSA PKCS#1 v1.5 SHA-256 over the signing string: {out}")
        pss, _ = openssl_verify(
            pub_pem, text.encode(), sig, "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-2"
        )
        if pss:
            rep.error("the signature is RSA-PSS, not PKCS#1 v1.5 (rsa-sha256)")

    try:
        httpsig = import_httpsig()
    except Exception as e:
        rep.lib("httpsig", f"not run: cannot import httpsig: {type(e).__name__}: {e}")
        return

    def httpsig_verify() -> None:
        plain = {n: headers.get(n) for n in headers}
        v = httpsig.HeaderVerifier(
            plain, pub_pem, required_headers=names, method=method, path=path, sign_header="signature"
        )
        if not v.verify():
            raise ValueError("HeaderVerifier.verify() returned False")

    rep.run_lib("httpsig", httpsig_verify)


# ---------------------------------------------------------------- brasil


def cmd_brasil(inp: dict[str, Any], rep: Report) -> None:
    """Open Finance Brasil signed body (payments and consents): compact JWS, PS256.

    in:  jws, cert_pem | public_key_pem | jwk, aud, iss, kid? (expected kid),
         max_age? (seconds iat may lie in the past, default 300)
    out: header, claims
    """
    token = req(inp, "jws")
    aud = req(inp, "aud")
    iss = req(inp, "iss")
    want_kid = opt(inp, "kid")
    max_age = opt(inp, "max_age", int, 300)
    pub, _ = load_public_key(inp)
    now = int(time.time())

    parsed = split_compact(token, rep)
    if parsed is None:
        return
    header, payload, sig = parsed
    rep["header"] = header
    claims = claims_of(payload, rep)
    rep["claims"] = claims
    if header.get("alg") != "PS256":
        rep.error(f"header alg is {header.get('alg')!r}, expected 'PS256'")
    if header.get("typ") != "JWT":
        rep.error(f"header typ is {header.get('typ')!r}, expected 'JWT'")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        rep.error(f"header kid is {kid!r}, expected a non-empty string")
    elif want_kid is not None and kid != want_kid:
        rep.error(f"header kid is {kid!r}, expected {want_kid!r}")
    exact_signature(rep, "PS256", pub, token.rsplit(".", 1)[0].encode(), sig)
    rep.run_lib(
        "PyJWT",
        lambda: jwt.decode(
            token,
            pub,
            algorithms=["PS256"],
            audience=aud,
            issuer=iss,
            leeway=LEEWAY,
            options={"require": ["aud", "iss", "jti", "iat"], "strict_aud": True},
        ),
    )
    if claims is None:
        return
    missing = [c for c in ("aud", "iss", "jti", "iat", "data") if c not in claims]
    if missing:
        rep.error(f"claims {missing} missing")
    if "aud" in claims and claims["aud"] != aud:
        rep.error(f"aud is {claims['aud']!r}, expected {aud!r}")
    if "iss" in claims and claims["iss"] != iss:
        rep.error(f"iss is {claims['iss']!r}, expected {iss!r}")
    if "jti" in claims and (not isinstance(claims["jti"], str) or not claims["jti"]):
        rep.error(f"jti is {claims['jti']!r}, expected a non-empty string")
    if "data" in claims and not isinstance(claims["data"], dict):
        rep.error(f"data is {type(claims['data']).__name__}, expected a JSON object")
    if "iat" in claims and check_numeric_date(rep, "iat", claims["iat"]):
        if claims["iat"] > now + LEEWAY:
            rep.error(f"iat is {claims['iat'] - now} s in the future")
        if now - claims["iat"] > max_age:
            rep.error(f"iat is {now - claims['iat']} s old, more than max_age {max_age} s")


# ---------------------------------------------------------------- jarm


def cmd_jarm(inp: dict[str, Any], rep: Report) -> None:
    """JARM authorization response (signed, not encrypted), checked against the AS JWKS.

    in:  response (compact JWS), jwks ({"keys": [...]}), issuer, client_id, state? (expected),
         algs? (default PS256, ES256, EdDSA), max_lifetime? (exp - now at most, default 600 s)
    out: header, claims
    """
    token = req(inp, "response")
    jwks = req(inp, "jwks", dict)
    issuer = req(inp, "issuer")
    client_id = req(inp, "client_id")
    state = opt(inp, "state")
    algs = opt(inp, "algs", list, FAPI_ALGS)
    max_lifetime = opt(inp, "max_lifetime", int, 600)
    now = int(time.time())
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not keys:
        raise InputError('jwks must be {"keys": [...]} with at least one key')
    for i, k in enumerate(keys):
        leaked = [m for m in PRIVATE_JWK_MEMBERS if isinstance(k, dict) and m in k]
        if leaked:
            rep.error(f"jwks key {i} ({k.get('kid')!r}) publishes private members {leaked}")

    parsed = split_compact(token, rep)
    if parsed is None:
        return
    header, payload, sig = parsed
    rep["header"] = header
    claims = claims_of(payload, rep)
    rep["claims"] = claims
    alg = header.get("alg")
    if alg not in algs:
        rep.error(f"header alg {alg!r} is not in the allow-list {algs}")
        return
    kid = header.get("kid")
    kty = {"PS256": "RSA", "ES256": "EC", "EdDSA": "OKP"}.get(alg)
    candidates = [
        k for k in keys if isinstance(k, dict) and (k.get("kid") == kid if kid is not None else k.get("kty") == kty)
    ]
    candidates = [k for k in candidates if k.get("use", "sig") == "sig"]
    if not candidates:
        rep.error(f"no signing key in the JWKS for kid {kid!r} (kty {kty})")
        return
    if kid is None:
        rep.note("header has no kid: tried every key of the right type")
    pubs = [public_key_from_jwk(k, "jwks key") for k in candidates]
    if alg in ("PS256", "ES256", "EdDSA"):
        outcomes = [
            check_signature(alg, p, token.rsplit(".", 1)[0].encode(), sig)
            if not check_alg_key(alg, p)
            else ["wrong key type"]
            for p in pubs
        ]
        if all(o for o in outcomes):
            rep.error(f"signature does not verify with any matching JWKS key (cryptography): {outcomes[0]}")
            rep.lib("cryptography (exact JWS encoding)", f"failed: {outcomes[0]}")
        else:
            rep.lib("cryptography (exact JWS encoding)", "passed")

    def pyjwt_verify() -> None:
        last: Exception | None = None
        for k in candidates:
            try:
                return jwt.decode(
                    token,
                    jwt.PyJWK(k, algorithm=alg).key,
                    algorithms=[alg],
                    audience=client_id,
                    issuer=issuer,
                    leeway=LEEWAY,
                    options={"require": ["iss", "aud", "exp"]},
                )
            except Exception as e:
                last = e
        assert last is not None
        raise last

    rep.run_lib("PyJWT", pyjwt_verify)

    def jwcrypto_verify() -> None:
        keyset = JWKSet()
        for k in candidates:
            keyset.add(JWK(**{n: v for n, v in k.items() if n not in PRIVATE_JWK_MEMBERS}))
        t = JWT(algs=[alg], check_claims={"iss": issuer, "aud": client_id, "exp": None}, expected_type="JWS")
        t.leeway = LEEWAY
        t.deserialize(token, keyset)

    rep.run_lib("jwcrypto", jwcrypto_verify)
    if claims is None:
        return
    for c in ("iss", "aud", "exp"):
        if c not in claims:
            rep.error(f"claim {c} missing")
    if "iss" in claims and claims["iss"] != issuer:
        rep.error(f"iss is {claims['iss']!r}, expected {issuer!r}")
    if "aud" in claims:
        aud = claims["aud"]
        if aud != client_id and not (isinstance(aud, list) and client_id in aud):
            rep.error(f"aud is {aud!r}, expected {client_id!r}")
    if "exp" in claims and check_numeric_date(rep, "exp", claims["exp"]):
        if claims["exp"] <= now - LEEWAY:
            rep.error(f"exp is {now - claims['exp']} s in the past")
        if claims["exp"] - now > max_lifetime:
            rep.error(f"exp is {claims['exp'] - now} s ahead, more than max_lifetime {max_lifetime} s")
    if "code" not in claims and "error" not in claims:
        rep.error("neither code nor error in the response")
    if state is not None and claims.get("state") != state:
        rep.error(f"state is {claims.get('state')!r}, expected {state!r}")


# ---------------------------------------------------------------- password-digest and hmac

XSD_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def zeep_digest(nonce: bytes, created: str, password: bytes) -> tuple[str | None, str]:
    """zeep.wsse.username.UsernameToken on a SOAP envelope; None and the reason when zeep cannot express the input."""
    try:
        from lxml import etree
        from zeep import ns
        from zeep.wsse.username import UsernameToken
    except Exception as e:
        return None, f"not run: cannot import zeep: {type(e).__name__}: {e}"
    try:
        nonce_text = nonce.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not run: zeep takes the nonce as a str and encodes it as UTF-8; these nonce bytes are not UTF-8"
    try:
        dt = datetime.datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return None, f"not run: created {created!r} is not an ISO 8601 timestamp"
    zulu = created.endswith("Z")
    if dt.utcoffset() != datetime.timedelta(0) or dt.microsecond:
        return None, "not run: zeep writes only UTC timestamps without fractions"
    token = UsernameToken("user", password, use_digest=True, nonce=nonce_text, created=dt, zulu_timestamp=zulu)
    env = etree.fromstring(f'<soap:Envelope xmlns:soap="{ns.SOAP_ENV_11}"><soap:Header/><soap:Body/></soap:Envelope>')
    token.apply(env, {})
    get = lambda local, space: env.find(f".//{{{space}}}{local}")  # noqa: E731
    if get("Created", ns.WSU).text != created:
        return None, f"not run: zeep renders created as {get('Created', ns.WSU).text!r}, not {created!r}"
    if base64.b64decode(get("Nonce", ns.WSSE).text) != nonce:
        return None, "not run: zeep changed the nonce"
    return get("Password", ns.WSSE).text, "ran"


def cmd_password_digest(inp: dict[str, Any], rep: Report) -> None:
    """WS-Security UsernameToken Profile 1.1 section 3.1: PasswordDigest = Base64(SHA-1(nonce || created || password)).

    in:  nonce_b64 (standard base64 of the raw nonce), created (the wsu:Created text),
         password (UTF-8) | password_b64, digest, min_nonce_bytes? (default 16)
    out: expected_digest, zeep ("ran" or why not)
    """
    nonce_b64 = req(inp, "nonce_b64")
    nonce = std_b64decode(nonce_b64, "nonce_b64")
    created = req(inp, "created")
    digest = req(inp, "digest")
    if inp.get("password") is not None:
        password = req(inp, "password").encode("utf-8")
    else:
        password = std_b64decode(req(inp, "password_b64"), "password_b64")
    min_nonce = opt(inp, "min_nonce_bytes", int, 16)

    expected = base64.b64encode(hashlib.sha1(nonce + created.encode("utf-8") + password).digest()).decode()
    rep["expected_digest"] = expected
    rep.lib("hashlib (by hand)", "passed" if digest == expected else "failed")
    if digest != expected:
        rep.error(f"PasswordDigest is {digest!r}, expected Base64(SHA-1(nonce || created || password)) {expected!r}")
        guesses = {
            "the base64 text of the nonce instead of its bytes": hashlib.sha1(
                nonce_b64.encode() + created.encode() + password
            ),
            "SHA-256 instead of SHA-1": hashlib.sha256(nonce + created.encode() + password),
            "the order password || nonce || created": hashlib.sha1(password + nonce + created.encode()),
            "SHA-1(password) instead of password": hashlib.sha1(
                nonce + created.encode() + hashlib.sha1(password).digest()
            ),
        }
        for what, h in guesses.items():
            if digest in (base64.b64encode(h.digest()).decode(), h.hexdigest()):
                rep.error(f"the digest was computed with {what}")
        if digest == hashlib.sha1(nonce + created.encode() + password).hexdigest():
            rep.error("the digest is hex, not base64")
    if not XSD_DATETIME.fullmatch(created):
        rep.error(f"created {created!r} is not an xsd:dateTime")
    elif not created.endswith("Z"):
        rep.note(f"created {created!r} is not in UTC (Z)")
    if not is_canonical_std_b64(nonce_b64):
        rep.error(f"nonce_b64 {nonce_b64!r} is not canonical standard base64")
    if len(nonce) < min_nonce:
        rep.error(f"nonce has {len(nonce)} bytes, fewer than {min_nonce}")

    z, why = zeep_digest(nonce, created, password)
    rep["zeep"] = why
    if z is None:
        rep.lib("zeep UsernameToken", why)
    elif z == digest:
        rep.lib("zeep UsernameToken", "passed")
    else:
        rep.lib("zeep UsernameToken", f"failed: zeep computes {z!r}")
        if digest == expected:
            rep.error(f"zeep computes {z!r}, hashlib {expected!r}")
        else:
            rep.error(f"zeep computes {z!r}, not {digest!r}")


HMAC_ALGS = {"SHA-1": ("sha1", hashes.SHA1), "SHA-256": ("sha256", hashes.SHA256), "SHA-512": ("sha512", hashes.SHA512)}


def cmd_hmac(inp: dict[str, Any], rep: Report) -> None:
    """HMAC (RFC 2104) of a message with a shared secret.

    in:  alg ("SHA-1" | "SHA-256" | "SHA-512"), key_b64, message_b64, mac_b64 (canonical standard base64)
    out: expected_mac_b64
    """
    alg = req(inp, "alg")
    if alg not in HMAC_ALGS:
        raise InputError(f"alg {alg!r} is not one of {sorted(HMAC_ALGS)}")
    key = std_b64decode(req(inp, "key_b64"), "key_b64")
    msg = std_b64decode(req(inp, "message_b64"), "message_b64")
    mac_b64 = req(inp, "mac_b64")
    name, crypto_alg = HMAC_ALGS[alg]
    expected = std_hmac.new(key, msg, name).digest()
    rep["expected_mac_b64"] = base64.b64encode(expected).decode()
    if not is_canonical_std_b64(mac_b64):
        rep.error(f"mac_b64 {mac_b64!r} is not canonical standard base64 (base64url? unpadded?)")
        try:
            mac = base64.urlsafe_b64decode(mac_b64 + "=" * (-len(mac_b64) % 4))
        except (binascii.Error, ValueError):
            mac = b""
    else:
        mac = base64.b64decode(mac_b64)
    ok = std_hmac.compare_digest(mac, expected)
    rep.lib("python hmac", "passed" if ok else "failed")
    if not ok:
        rep.error(f"MAC does not match HMAC-{alg} of the message ({len(mac)} bytes, expected {len(expected)})")
    h = crypto_hmac.HMAC(key, crypto_alg())
    h.update(msg)
    rep.run_lib("cryptography HMAC", lambda: h.verify(mac))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "msg")
        with open(path, "wb") as f:
            f.write(msg)
        r = subprocess.run(
            ["openssl", "dgst", f"-{name}", "-mac", "HMAC", "-macopt", f"hexkey:{key.hex()}", "-binary", path],
            capture_output=True,
        )
    if r.returncode != 0:
        rep.lib("openssl dgst -mac HMAC", f"not run: {r.stderr.decode(errors='replace').strip()}")
    elif r.stdout == mac:
        rep.lib("openssl dgst -mac HMAC", "passed")
    else:
        rep.lib("openssl dgst -mac HMAC", "failed")
        rep.error("openssl dgst -mac HMAC computes another MAC")


COMMANDS: dict[str, Callable[[dict[str, Any], Report], None]] = {
    "dpop": cmd_dpop,
    "ob-detached": cmd_ob_detached,
    "rfc9421": cmd_rfc9421,
    "cavage": cmd_cavage,
    "brasil": cmd_brasil,
    "jarm": cmd_jarm,
    "password-digest": cmd_password_digest,
    "hmac": cmd_hmac,
}


def main() -> int:
    if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        print(f"usage: {sys.argv[0]} {{{','.join(COMMANDS)}}} < input.json", file=sys.stderr)
        return 2
    rep = Report(sys.argv[1])
    try:
        inp = json.load(sys.stdin)
        if not isinstance(inp, dict):
            raise InputError("stdin must hold one JSON object")
        COMMANDS[sys.argv[1]](inp, rep)
    except (InputError, json.JSONDecodeError) as e:
        rep.error(f"bad input: {e}")
        print(json.dumps(rep.data, default=str))
        return 2
    except Exception as e:  # a bug here: never a pass
        rep.error(f"unexpected error: {type(e).__name__}: {e}")
        print(json.dumps(rep.data, default=str))
        return 2
    rep["ok"] = not rep.errors
    print(json.dumps(rep.data, default=str))
    return 0 if rep.data["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
