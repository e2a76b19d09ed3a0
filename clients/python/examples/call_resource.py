"""What an app does with a DPoP-bound access token: get it from fapi-agent, have
the daemon sign a DPoP proof for the request (htm GET, htu = the resource URL,
ath from the token, the resource server's nonce) and call the protected
resource over HTTPS with ``Authorization: DPoP <token>`` and ``DPoP: <proof>``.

A resource server that requires nonces (RFC 9449 §9) answers a proof without
one with 401, ``WWW-Authenticate: DPoP error="use_dpop_nonce"`` and a
``DPoP-Nonce`` header; the example then retries once, with a new proof
carrying that nonce. It prints the resource's JSON answer on stdout.

    python3 examples/call_resource.py --url https://rs.bank.example/accounts --credential acme \\
        [--ca-file rs-ca.pem] [--socket /run/fapi-agent/agent.sock]

Each option may come from the environment instead:

    --url         FAPI_RESOURCE_URL      the protected resource (GET)
    --credential  FAPI_AGENT_CREDENTIAL  the credential's name in the daemon's config
    --ca-file     FAPI_RESOURCE_CA_FILE  PEM CA certificate(s) for the resource server's TLS
                                         (default: the system's trust store)
    --socket      FAPI_AGENT_SOCKET      the daemon's socket (default: the standard path)

Exit status: 0 with the answer printed, 1 if the answer is not 2xx (status and
body on stderr), 2 on a usage error.
"""
import argparse
import json
import os
import re
import ssl
import sys
import urllib.error
import urllib.request

from fapi_agent_client import Client


def get(url: str, headers: dict, context: ssl.SSLContext):
    """One GET; returns (status, headers, body) for any HTTP status."""
    req = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as res:
            return res.status, res.headers, res.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers, e.read()


def nonce_challenge(status: int, headers) -> str | None:
    """The nonce of a ``use_dpop_nonce`` challenge (RFC 9449 §9), else None."""
    challenge = ", ".join(headers.get_all("WWW-Authenticate") or [])
    nonce = headers.get("DPoP-Nonce")
    if status != 401 or not nonce:
        return None
    if not re.search(r"(^|,)\s*DPoP\b", challenge, re.I) or not re.search(r'\berror="?use_dpop_nonce"?', challenge):
        return None
    return nonce


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default=os.environ.get("FAPI_RESOURCE_URL"))
    ap.add_argument("--credential", default=os.environ.get("FAPI_AGENT_CREDENTIAL"))
    ap.add_argument("--ca-file", default=os.environ.get("FAPI_RESOURCE_CA_FILE"))
    ap.add_argument("--socket", default=None, help="default: FAPI_AGENT_SOCKET or the standard path")
    args = ap.parse_args()
    if not args.url or not args.credential:
        ap.error("--url (FAPI_RESOURCE_URL) and --credential (FAPI_AGENT_CREDENTIAL) are required")
    context = ssl.create_default_context(cafile=args.ca_file)

    with Client(args.socket) as agent:
        token = agent.get_access_token(name=args.credential)

        def call(nonce=None):
            proof = agent.sign_dpop_proof("GET", args.url, access_token=token, nonce=nonce, name=args.credential)
            return get(args.url, {"Authorization": token.authorization_header(), "DPoP": proof.proof,
                                  "Accept": "application/json"}, context)

        status, headers, body = call()
        nonce = nonce_challenge(status, headers)
        if nonce is not None:
            status, headers, body = call(nonce)  # one retry, a fresh proof with the nonce
    if not 200 <= status < 300:
        print(f"{args.url} answered {status} (WWW-Authenticate: {headers.get('WWW-Authenticate', '-')}): "
              f"{body.decode(errors='replace')}", file=sys.stderr)
        return 1
    print(json.dumps(json.loads(body)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
