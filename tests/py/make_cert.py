#!/usr/bin/env python3
"""Self-signed certificates with arbitrary validity windows (expired,
not-yet-valid, expiring soon), which the openssl 3.0 CLI cannot backdate."""

from __future__ import annotations

import argparse
import datetime
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.x509.oid import NameOID


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--key", required=True, help="PEM private key")
    p.add_argument("--key-pass-file")
    p.add_argument("--out", required=True)
    p.add_argument("--cn", required=True)
    p.add_argument("--not-before-days", type=int, required=True)
    p.add_argument("--not-after-days", type=int, required=True)
    p.add_argument("--not-after-seconds", type=int, help="overrides --not-after-days: expire this many seconds from now")
    a = p.parse_args()

    password = None
    if a.key_pass_file:
        with open(a.key_pass_file, "rb") as f:
            password = f.read().rstrip(b"\r\n")
    with open(a.key, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=password)

    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, a.cn)])
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + datetime.timedelta(days=a.not_before_days))
        .not_valid_after(
            now + datetime.timedelta(seconds=a.not_after_seconds)
            if a.not_after_seconds is not None
            else now + datetime.timedelta(days=a.not_after_days)
        )
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
    )
    digest = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = builder.sign(key, digest)
    with open(a.out, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return 0


if __name__ == "__main__":
    sys.exit(main())
