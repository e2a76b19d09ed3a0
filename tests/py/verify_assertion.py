#!/usr/bin/env python3
"""Independent verification of a FAPI private_key_jwt client assertion.

Checks one compact JWS with PyJWT and jwcrypto (code nobody on this project
wrote) plus every rule of STANDARDS.md sections 1-2 that those libraries do
not enforce themselves. Prints a JSON report; exits 0 only if every check
passed, 1 with every failure listed otherwise.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import sys
import time
from typing import Any

import jwt
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwcrypto import jwk as jwc_jwk
from jwcrypto import jwt as jwc_jwt

ALLOWED_HEADER = {"alg", "kid", "typ", "x5t#S256"}
FORBIDDEN_HEADER = {"x5u", "jku", "jwk", "crit", "x5c"}


def b64url_decode(segment: str) -> bytes:
    """Strict unpadded base64url (RFC 7515 section 2)."""
    if "=" in segment:
        raise ValueError("padding '=' present")
    if any(c in segment for c in "+/"):
        raise ValueError("standard base64 alphabet used")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def load_leaf(path: str) -> x509.Certificate:
    with open(path, "rb") as f:
        data = f.read()
    return x509.load_pem_x509_certificates(data)[0]


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def verify_signature(alg: str, pub: Any, signing_input: bytes, sig: bytes, errors: list[str]) -> None:
    """Verifies the raw signature with cryptography, pinning the encodings."""
    try:
        if alg == "ES256":
            if not isinstance(pub, ec.EllipticCurvePublicKey) or pub.curve.name != "secp256r1":
                errors.append("ES256 needs a P-256 key")
                return
            if len(sig) != 64:
                errors.append(f"ES256 signature is {len(sig)} bytes, not raw R||S of 64")
                return
            r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
            pub.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
        elif alg == "PS256":
            if not isinstance(pub, rsa.RSAPublicKey) or pub.key_size < 2048:
                errors.append("PS256 needs an RSA key of at least 2048 bits")
                return
            # OpenSSL checks an explicit salt length exactly: this proves salt 32.
            pub.verify(
                sig,
                signing_input,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                hashes.SHA256(),
            )
        elif alg == "EdDSA":
            if not isinstance(pub, ed25519.Ed25519PublicKey):
                errors.append("EdDSA needs an Ed25519 key")
                return
            if len(sig) != 64:
                errors.append(f"Ed25519 signature is {len(sig)} bytes, not 64")
                return
            pub.verify(sig, signing_input)
        else:
            errors.append(f"unexpected alg {alg}")
    except InvalidSignature:
        errors.append(f"{alg} signature does not verify with the exact JWS encoding (cryptography)")


def check(args: argparse.Namespace) -> dict[str, Any]:
    errors: list[str] = []
    token: str = args.token
    leaf = load_leaf(args.cert)
    pub = leaf.public_key()
    pub_pem = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    parts = token.split(".")
    if len(parts) != 3:
        return {"ok": False, "errors": ["not a compact JWS with three segments"]}
    try:
        raw = [b64url_decode(p) for p in parts]
        header = json.loads(raw[0])
        claims = json.loads(raw[1])
    except (ValueError, binascii.Error) as e:
        return {"ok": False, "errors": [f"bad encoding: {e}"]}
    sig = raw[2]

    # Header rules (A7, A9, A10, A11).
    if header.get("alg") != args.alg:
        errors.append(f"alg is {header.get('alg')!r}, expected {args.alg!r}")
    extra = set(header) - ALLOWED_HEADER
    if extra:
        errors.append(f"unexpected header parameters {sorted(extra)}")
    bad = set(header) & FORBIDDEN_HEADER
    if bad:
        errors.append(f"forbidden header parameters {sorted(bad)}")
    thumbprint = jwc_jwk.JWK.from_pem(pub_pem).thumbprint(hashes.SHA256())
    if header.get("kid") != thumbprint:
        errors.append(f"kid {header.get('kid')!r} is not the RFC 7638 thumbprint {thumbprint!r}")
    if args.kid is not None and header.get("kid") != args.kid:
        errors.append(f"kid {header.get('kid')!r} is not the expected {args.kid!r}")
    if args.typ is not None and header.get("typ") != args.typ:
        errors.append(f"typ is {header.get('typ')!r}, expected {args.typ!r}")
    if args.no_typ and "typ" in header:
        errors.append("typ present but must be absent")
    x5t = b64url(hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).digest())
    if args.x5t and header.get("x5t#S256") != x5t:
        errors.append(f"x5t#S256 is {header.get('x5t#S256')!r}, expected {x5t!r}")
    if args.no_x5t and "x5t#S256" in header:
        errors.append("x5t#S256 present but must be absent")

    # Claim rules (A2-A6).
    now = int(time.time())
    for c in ("iat", "nbf", "exp"):
        if not is_int(claims.get(c)):
            errors.append(f"{c} is {claims.get(c)!r}, not an integer NumericDate")
    if not isinstance(claims.get("aud"), str):
        errors.append(f"aud is {claims.get('aud')!r}, not one JSON string")
    elif claims["aud"] != args.audience:
        errors.append(f"aud is {claims['aud']!r}, expected {args.audience!r}")
    if claims.get("iss") != args.client_id or claims.get("sub") != args.client_id:
        errors.append(f"iss/sub are {claims.get('iss')!r}/{claims.get('sub')!r}, expected {args.client_id!r}")
    if all(is_int(claims.get(c)) for c in ("iat", "nbf", "exp")):
        if claims["iat"] != claims["nbf"]:
            errors.append("iat != nbf")
        if abs(claims["iat"] - now) > 10:
            errors.append(f"iat is {claims['iat'] - now} s from now")
        lifetime = claims["exp"] - claims["iat"]
        if lifetime <= 0 or lifetime > args.max_lifetime:
            errors.append(f"lifetime {lifetime} s outside 1..{args.max_lifetime}")
        if args.ttl is not None and lifetime != args.ttl:
            errors.append(f"lifetime {lifetime} s, expected {args.ttl}")
    jti = claims.get("jti")
    try:
        if not isinstance(jti, str) or len(b64url_decode(jti)) < 16:
            errors.append(f"jti {jti!r} carries fewer than 128 bits")
    except (ValueError, binascii.Error):
        errors.append(f"jti {jti!r} is not base64url")

    # Signature with the exact encodings.
    verify_signature(args.alg, pub, f"{parts[0]}.{parts[1]}".encode(), sig, errors)

    # PyJWT, as a FAPI 2.0 AS would use it.
    try:
        jwt.decode(
            token,
            pub,
            algorithms=[args.alg],
            audience=args.audience,
            issuer=args.client_id,
            leeway=10,
            options={"require": ["exp", "iat", "nbf", "jti", "iss", "sub", "aud"], "strict_aud": True},
        )
    except jwt.PyJWTError as e:
        errors.append(f"PyJWT rejected it: {type(e).__name__}: {e}")

    # jwcrypto.
    try:
        jwc_jwt.JWT(
            jwt=token,
            key=jwc_jwk.JWK.from_pem(pub_pem),
            algs=[args.alg],
            check_claims={"iss": args.client_id, "sub": args.client_id, "aud": args.audience, "exp": None},
        )
    except Exception as e:  # jwcrypto raises several unrelated exception types
        errors.append(f"jwcrypto rejected it: {type(e).__name__}: {e}")

    if errors:
        return {"ok": False, "errors": errors}
    return {"ok": True, "header": header, "claims": claims, "thumbprint": thumbprint, "signature_len": len(sig)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--token", required=True)
    p.add_argument("--cert", required=True, help="PEM certificate (leaf first)")
    p.add_argument("--alg", required=True, choices=["PS256", "ES256", "EdDSA"])
    p.add_argument("--audience", required=True)
    p.add_argument("--client-id", required=True)
    typ = p.add_mutually_exclusive_group()
    typ.add_argument("--typ")
    typ.add_argument("--no-typ", action="store_true")
    x5t = p.add_mutually_exclusive_group()
    x5t.add_argument("--x5t", action="store_true")
    x5t.add_argument("--no-x5t", action="store_true")
    p.add_argument("--ttl", type=int)
    p.add_argument("--max-lifetime", type=int, default=300)
    p.add_argument("--kid")
    report = check(p.parse_args())
    print(json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
