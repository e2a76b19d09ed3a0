"""What an app does: get a client assertion from fapi-agent and exchange it
for an access token at the authorization server's token endpoint
(client_credentials with private_key_jwt).

    python3 examples/get_token.py --token-endpoint https://as.bank.example/token --client-id acme
"""
import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

from fapi_agent_client import Client


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--token-endpoint", required=True)
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--socket", default=None, help="default: FAPI_AGENT_SOCKET or the standard path")
    args = ap.parse_args()
    with Client(args.socket) as agent:
        a = agent.sign_client_assertion(client_id=args.client_id)
    body = urllib.parse.urlencode({
        "grant_type": "client_credentials",
        "client_id": args.client_id,
        "client_assertion_type": a.assertion_type,
        "client_assertion": a.assertion,
    }).encode()
    req = urllib.request.Request(args.token_endpoint, data=body,
                                 headers={"content-type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            print(json.dumps(json.load(res)))
            return 0
    except urllib.error.HTTPError as e:
        print(f"token endpoint answered {e.code}: {e.read().decode(errors='replace')}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
