#!/usr/bin/env python3
"""Writes a self-signed X.509 v3 certificate for a PEM private key (RSA, EC
P-256 or Ed25519; plaintext or encrypted) with any validity window: expired
(-10/-1), not yet valid (5/400), expiring soon (-1/7). The openssl 3.0 CLI
cannot backdate a certificate; python cryptography can."""

from __future__ import annotations

import argparse
import datetime
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def load_key(path: str, pass_file: str | None) -> SigningKey:
    try:
        password = None
        if pass_file:
            with open(pass_file, "rb") as f:
                password = f.read().rstrip(b"\r\n")
        with open(path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=password)
    except (OSError, ValueError, TypeError) as e:  # unreadable, bad or missing passphrase, not a key
        sys.exit(f"make_cert: cannot load {path}: {e}")
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)):
        sys.exit(f"make_cert: {path} is a {type(key).__name__}, not an RSA, EC or Ed25519 key")
    return key


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--key", required=True, help="PEM private key")
    p.add_argument("--key-pass-file", help="file holding the key's passphrase (trailing newline ignored)")
    p.add_argument("--out", required=True, help="PEM certificate to write")
    p.add_argument("--cn", required=True, help="subject and issuer common name")
    p.add_argument("--not-before-days", type=int, required=True, help="notBefore = now + N days (may be negative)")
    p.add_argument("--not-after-days", type=int, required=True, help="notAfter = now + M days (may be negative)")
    p.add_argument("--not-after-seconds", type=int, help="overrides --not-after-days: notAfter = now + S seconds")
    p.add_argument("--not-before-seconds", type=int, help="overrides --not-before-days: notBefore = now + S seconds")
    a = p.parse_args()

    key = load_key(a.key, a.key_pass_file)
    now = datetime.datetime.now(datetime.timezone.utc)
    not_after = (
        now + datetime.timedelta(seconds=a.not_after_seconds)
        if a.not_after_seconds is not None
        else now + datetime.timedelta(days=a.not_after_days)
    )
    not_before = (
        now + datetime.timedelta(seconds=a.not_before_seconds)
        if a.not_before_seconds is not None
        else now + datetime.timedelta(days=a.not_before_days)
    )
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, a.cn)])
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=is_rsa,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256())
    )
    with open(a.out, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return 0


if __name__ == "__main__":
    sys.exit(main())
