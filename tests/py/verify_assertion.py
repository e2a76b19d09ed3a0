#!/usr/bin/env python3
"""Independent verification of a FAPI private_key_jwt client assertion.

Checks one compact JWS with PyJWT and jwcrypto (code nobody on this project
wrote), with cryptography on the exact signature encodings, and against every
rule of STANDARDS.md sections 1-2 that those libraries do not enforce
themselves. Prints one JSON report on stdout; exits 0 only if every check
passed, 1 with every failure listed otherwise, 2 on an unexpected error.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import sys
import time
from typing import Any

import jwt
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwcrypto.jwk import JWK
from jwcrypto.jwt import JWT

ALLOWED_HEADER = {"alg", "kid", "typ", "x5t#S256"}
FORBIDDEN_HEADER = {"x5u", "jku", "jwk", "crit", "x5c"}
NUMERIC_DATES = ("iat", "nbf", "exp")
REQUIRED_CLAIMS = ["exp", "iat", "nbf", "jti", "iss", "sub", "aud"]
LEEWAY = 10  # seconds: what a FAPI 2.0 AS allows (STANDARDS.md A6)
MIN_JTI_BYTES = 16  # 128 bits (STANDARDS.md A5)
B64URL_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(segment: str) -> bytes:
    """Strict, canonical, unpadded base64url (RFC 7515 section 2)."""
    if "=" in segment:
        raise ValueError("has '=' padding")
    if not B64URL_ALPHABET.fullmatch(segment):
        raise ValueError("has characters outside the base64url alphabet")
    if len(segment) % 4 == 1:
        raise ValueError(f"has an impossible length {len(segment)}")
    data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    if b64url(data) != segment:
        raise ValueError("is not the canonical encoding (non-zero trailing bits)")
    return data


def json_object(data: bytes) -> dict[str, Any]:
    """A JSON object in UTF-8 with no duplicate member names (RFC 7515 section 4)."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        names = [k for k, _ in pairs]
        duplicates = sorted({k for k in names if names.count(k) > 1})
        if duplicates:
            raise ValueError(f"has duplicate members {duplicates}")
        return dict(pairs)

    obj = json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates)
    if not isinstance(obj, dict):
        raise ValueError("is not a JSON object")
    return obj


def decode_object(name: str, raw: bytes | None, errors: list[str]) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        return json_object(raw)
    except ValueError as e:
        errors.append(f"{name} {e}")
        return None


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def load_leaf(path: str) -> x509.Certificate:
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificates(f.read())[0]


def check_header(
    header: dict[str, Any], args: argparse.Namespace, leaf: x509.Certificate, thumbprint: str
) -> list[str]:
    """STANDARDS.md A7, A9, A10, A11."""
    errors = []
    if header.get("alg") != args.alg:
        errors.append(f"header alg is {header.get('alg')!r}, expected {args.alg!r}")
    forbidden = sorted(set(header) & FORBIDDEN_HEADER)
    if forbidden:
        errors.append(f"forbidden header parameters {forbidden}")
    unexpected = sorted(set(header) - ALLOWED_HEADER - FORBIDDEN_HEADER)
    if unexpected:
        errors.append(f"unexpected header parameters {unexpected} (allowed: {sorted(ALLOWED_HEADER)})")
    kid = header.get("kid")
    if kid != thumbprint:
        errors.append(f"header kid {kid!r} is not the RFC 7638 SHA-256 thumbprint {thumbprint!r}")
    if args.kid is not None and kid != args.kid:
        errors.append(f"header kid {kid!r} is not the expected {args.kid!r}")
    if args.typ is not None and header.get("typ") != args.typ:
        errors.append(f"header typ is {header.get('typ')!r}, expected {args.typ!r}")
    if args.no_typ and "typ" in header:
        errors.append(f"header typ {header['typ']!r} present, expected absent")
    x5t = b64url(hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).digest())
    if "x5t#S256" in header:
        if args.no_x5t:
            errors.append("header x5t#S256 present, expected absent")
        elif header["x5t#S256"] != x5t:
            errors.append(f"header x5t#S256 is {header['x5t#S256']!r}, expected {x5t!r} (SHA-256 of the leaf DER)")
    elif args.x5t:
        errors.append(f"header x5t#S256 absent, expected {x5t!r}")
    return errors


def check_claims(claims: dict[str, Any], args: argparse.Namespace, now: int) -> list[str]:
    """STANDARDS.md A2-A6 and the NumericDate trap."""
    errors = []
    missing = [c for c in REQUIRED_CLAIMS if c not in claims]
    if missing:
        errors.append(f"claims {missing} missing")
    for c in ("iss", "sub"):
        if c in claims and claims[c] != args.client_id:
            errors.append(f"{c} is {claims[c]!r}, expected the client_id {args.client_id!r}")
    if "aud" in claims:
        if not isinstance(claims["aud"], str):
            errors.append(f"aud is {claims['aud']!r}, not one JSON string")
        elif claims["aud"] != args.audience:
            errors.append(f"aud is {claims['aud']!r}, expected the issuer {args.audience!r}")
    for c in NUMERIC_DATES:
        if c in claims and not is_int(claims[c]):
            errors.append(f"{c} is {claims[c]!r} ({type(claims[c]).__name__}), not an integer NumericDate")
    if all(is_int(claims.get(c)) for c in NUMERIC_DATES):
        iat, nbf, exp = claims["iat"], claims["nbf"], claims["exp"]
        if iat != nbf:
            errors.append(f"iat {iat} != nbf {nbf}")
        if abs(iat - now) > LEEWAY:
            errors.append(f"iat is {iat - now:+d} s from now, allowed +-{LEEWAY} s")
        lifetime = exp - iat
        if lifetime <= 0:
            errors.append(f"exp {exp} is not after iat {iat}")
        if lifetime > args.max_lifetime:
            errors.append(f"lifetime exp - iat = {lifetime} s exceeds the cap {args.max_lifetime} s")
        if args.ttl is not None and lifetime != args.ttl:
            errors.append(f"lifetime exp - iat = {lifetime} s, expected --ttl {args.ttl} s")
    if "jti" in claims:
        jti = claims["jti"]
        if not isinstance(jti, str):
            errors.append(f"jti is {jti!r}, not a string")
        else:
            try:
                n = len(b64url_decode(jti))
                if n < MIN_JTI_BYTES:
                    errors.append(f"jti {jti!r} carries {n * 8} bits, fewer than {MIN_JTI_BYTES * 8}")
            except ValueError as e:
                errors.append(f"jti {jti!r} is not base64url: {e}")
    return errors


def check_signature(alg: str, pub: PublicKey, signing_input: bytes, sig: bytes) -> list[str]:
    """The signature in its exact JWS encoding, verified with cryptography (RFC 7518 3.4, 3.5; RFC 8037)."""
    try:
        if alg == "ES256":
            if not (isinstance(pub, ec.EllipticCurvePublicKey) and isinstance(pub.curve, ec.SECP256R1)):
                return ["ES256 needs a P-256 key in the certificate"]
            if len(sig) != 64:
                return [f"ES256 signature is {len(sig)} bytes, not raw R||S of 64"]
            r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
            pub.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
        elif alg == "PS256":
            if not (isinstance(pub, rsa.RSAPublicKey) and pub.key_size >= 2048):
                return ["PS256 needs an RSA key of at least 2048 bits in the certificate"]
            # OpenSSL checks an explicit salt length exactly: passing proves salt 32.
            pub.verify(
                sig, signing_input, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256()
            )
        elif alg == "EdDSA":
            if not isinstance(pub, ed25519.Ed25519PublicKey):
                return ["EdDSA needs an Ed25519 key in the certificate"]
            if len(sig) != 64:
                return [f"Ed25519 signature is {len(sig)} bytes, not 64"]
            pub.verify(sig, signing_input)
    except InvalidSignature:
        detail = {"ES256": "raw R||S, SHA-256", "PS256": "RSA-PSS, SHA-256, MGF1-SHA-256, salt 32", "EdDSA": "Ed25519"}
        return [f"{alg} signature does not verify as {detail[alg]} (cryptography)"]
    return []


def check_pyjwt(token: str, pub: PublicKey, args: argparse.Namespace) -> list[str]:
    try:
        jwt.decode(
            token,
            pub,
            algorithms=[args.alg],
            audience=args.audience,
            issuer=args.client_id,
            leeway=LEEWAY,
            options={"require": REQUIRED_CLAIMS, "strict_aud": True},
        )
    except Exception as e:  # any exception is a rejection
        return [f"PyJWT rejected it: {type(e).__name__}: {e}"]
    return []


def check_jwcrypto(token: str, pub: PublicKey, args: argparse.Namespace) -> list[str]:
    try:
        verifier = JWT(
            algs=[args.alg],
            check_claims={
                "iss": args.client_id,
                "sub": args.client_id,
                "aud": args.audience,
                "exp": None,
                "nbf": None,
                "iat": None,
                "jti": None,
            },
            expected_type="JWS",
            strict_serialization=True,
        )
        verifier.leeway = LEEWAY
        verifier.deserialize(token, JWK.from_pyca(pub))
        claims = json.loads(verifier.claims)
    except Exception as e:  # jwcrypto raises several unrelated exception types
        return [f"jwcrypto rejected it: {type(e).__name__}: {e}"]
    # jwcrypto accepts an array aud that contains the expected value.
    if not isinstance(claims.get("aud"), str):
        return [f"jwcrypto: aud is {claims.get('aud')!r}, not one JSON string"]
    return []


def check(args: argparse.Namespace) -> dict[str, Any]:
    now = int(time.time())
    token: str = args.token
    leaf = load_leaf(args.cert)
    pub = leaf.public_key()
    if not isinstance(pub, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey)):
        return {"ok": False, "errors": [f"certificate key is {type(pub).__name__}, not RSA, EC or Ed25519"]}
    thumbprint = JWK.from_pyca(pub).thumbprint()

    parts = token.split(".")
    if len(parts) != 3:
        return {"ok": False, "errors": [f"not a compact JWS: {len(parts)} segments, expected 3"]}

    errors: list[str] = []
    decoded: list[bytes | None] = []
    for name, segment in zip(("header", "payload", "signature"), parts, strict=True):
        try:
            decoded.append(b64url_decode(segment))
        except ValueError as e:
            errors.append(f"{name} segment {e}")
            decoded.append(None)
    raw_header, raw_claims, sig = decoded

    header = decode_object("header", raw_header, errors)
    claims = decode_object("claims", raw_claims, errors)

    if header is not None:
        errors += check_header(header, args, leaf, thumbprint)
    if claims is not None:
        errors += check_claims(claims, args, now)
    if sig is not None:
        errors += check_signature(args.alg, pub, f"{parts[0]}.{parts[1]}".encode(), sig)
    errors += check_pyjwt(token, pub, args)
    errors += check_jwcrypto(token, pub, args)

    if errors:
        return {"ok": False, "errors": errors}
    assert sig is not None
    return {"ok": True, "header": header, "claims": claims, "thumbprint": thumbprint, "signature_len": len(sig)}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--token", required=True, help="compact JWS")
    p.add_argument("--cert", required=True, help="PEM certificate file; the first certificate is the signer's")
    p.add_argument("--alg", required=True, choices=["PS256", "ES256", "EdDSA"])
    p.add_argument("--audience", required=True, help="expected aud: the AS issuer identifier")
    p.add_argument("--client-id", required=True, help="expected iss and sub")
    typ = p.add_mutually_exclusive_group()
    typ.add_argument("--typ", help="expected typ header, e.g. client-authentication+jwt")
    typ.add_argument("--no-typ", action="store_true", help="typ header must be absent")
    x5t = p.add_mutually_exclusive_group()
    x5t.add_argument("--x5t", action="store_true", help="x5t#S256 header must be present")
    x5t.add_argument("--no-x5t", action="store_true", help="x5t#S256 header must be absent")
    p.add_argument("--ttl", type=int, help="expected exp - iat in seconds")
    p.add_argument("--max-lifetime", type=int, default=300, help="cap on exp - iat in seconds (default 300)")
    p.add_argument("--kid", help="expected kid (besides being the certificate key's thumbprint)")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    try:
        report = check(args)
    except Exception as e:  # unreadable certificate, bug here: never a pass
        print(json.dumps({"ok": False, "errors": [f"unexpected error: {type(e).__name__}: {e}"]}))
        return 2
    print(json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
