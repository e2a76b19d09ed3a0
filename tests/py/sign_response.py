#!/usr/bin/env python3
"""Signs what a bank or an authorization server would send back, for the daemon to check.

    sign_response.py SUBCOMMAND < input.json

Subcommands, each one JSON object in on stdin and one out on stdout:

  jwk      {key_pem, kid?, private?}  ->  {jwk}
           The key as a JWK (jwcrypto), public only unless "private" is true, with "kid"
           (default: its RFC 7638 thumbprint) and use "sig".

  rfc9421  {key_pem, alg, keyid, status, headers?, body_b64?, components, tag?, label?,
            created?, request: {method, url, headers?, body_b64?}}  ->  {headers}
           An RFC 9421 response signature by PyPI http-message-signatures. "components" are
           the covered component ids, e.g. ["@status", "@method;req", "content-digest"]. With a
           body, the library adds Content-Digest (RFC 9530, sha-256). A request with a body and
           no Content-Digest header gets one (what the client sent), so that "content-digest;req"
           resolves. "alg" is an RFC 9421 section 3.3 name. "created" (Unix seconds) defaults to
           now. Out: the response's header fields in order, the signature's included.

  jarm     {key_pem, kid, alg, claims, header?}  ->  {response}
           A JARM response (a compact JWS of "claims") signed by PyJWT with the key.

Exit status: 0 on success, 2 on unusable input. The signing is done by code nobody on this
project wrote (http-message-signatures, PyJWT, jwcrypto); this file only feeds them.
"""

from __future__ import annotations

import base64
import datetime
import json
import sys
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms
from http_message_signatures.digests import ContentDigest
from jwcrypto.jwk import JWK

ALGS: dict[str, type[algorithms.HTTPSignatureAlgorithm]] = {
    "ecdsa-p256-sha256": algorithms.ECDSA_P256_SHA256,
    "ed25519": algorithms.ED25519,
    "rsa-pss-sha512": algorithms.RSA_PSS_SHA512,
    "rsa-v1_5-sha256": algorithms.RSA_V1_5_SHA256,
}


class Headers:
    """Field lines in order; names compared case-insensitively, as HTTP does."""

    def __init__(self, pairs: list[list[str]]) -> None:
        self.pairs = [(n, v) for n, v in pairs]

    def items(self) -> list[tuple[str, str]]:
        return list(self.pairs)

    def __iter__(self):
        return iter(dict.fromkeys(n for n, _ in self.pairs))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(n.lower() == name.lower() for n, _ in self.pairs)

    def __setitem__(self, name: str, value: str) -> None:
        del self[name]
        self.pairs.append((name, value))

    def __delitem__(self, name: str) -> None:
        self.pairs = [(n, v) for n, v in self.pairs if n.lower() != name.lower()]


class Request:
    def __init__(self, method: str, url: str, headers: Headers) -> None:
        self.method, self.url, self.headers = method, url, headers


class Response:
    def __init__(self, status_code: int, headers: Headers, request: Request) -> None:
        self.status_code, self.headers, self.request = status_code, headers, request


def body_of(inp: dict[str, Any]) -> bytes | None:
    b = inp.get("body_b64")
    return base64.b64decode(b, validate=True) if b else None


def private_key(inp: dict[str, Any]) -> Any:
    return serialization.load_pem_private_key(inp["key_pem"].encode(), password=None)


def cmd_jwk(inp: dict[str, Any]) -> dict[str, Any]:
    key = JWK.from_pem(inp["key_pem"].encode())
    out = json.loads(key.export(private_key=bool(inp.get("private"))))
    out["kid"] = inp.get("kid") or key.thumbprint()
    out["use"] = "sig"
    return {"jwk": out}


def cmd_rfc9421(inp: dict[str, Any]) -> dict[str, Any]:
    r = inp["request"]
    req_headers = Headers(r.get("headers", []))
    req_body = body_of(r)
    if req_body and "content-digest" not in req_headers:
        req_headers["Content-Digest"] = ContentDigest.create(req_body)
    request = Request(r["method"], r["url"], req_headers)
    response = Response(inp["status"], Headers(inp.get("headers", [])), request)
    signer = HTTPMessageSigner(
        signature_algorithm=ALGS[inp["alg"]],
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={inp["keyid"]: private_key(inp)}),
    )
    created = inp.get("created")
    signer.sign(
        response,
        key_id=inp["keyid"],
        label=inp.get("label"),
        tag=inp.get("tag"),
        created=None if created is None else datetime.datetime.fromtimestamp(created, datetime.timezone.utc),
        covered_component_ids=inp["components"],
        body=body_of(inp),
    )
    return {"headers": [list(p) for p in response.headers.items()]}


def cmd_jarm(inp: dict[str, Any]) -> dict[str, Any]:
    headers = {"kid": inp["kid"], **inp.get("header", {})}
    token = jwt.encode(inp["claims"], private_key(inp), algorithm=inp["alg"], headers=headers)
    return {"response": token}


COMMANDS = {"jwk": cmd_jwk, "rfc9421": cmd_rfc9421, "jarm": cmd_jarm}


def main() -> int:
    if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
        print(f"usage: sign_response.py {{{'|'.join(COMMANDS)}}} < input.json", file=sys.stderr)
        return 2
    try:
        out = COMMANDS[sys.argv[1]](json.load(sys.stdin))
    except (KeyError, TypeError, ValueError) as e:
        print(f"sign_response.py {sys.argv[1]}: unusable input: {e!r}", file=sys.stderr)
        return 2
    json.dump(out, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
