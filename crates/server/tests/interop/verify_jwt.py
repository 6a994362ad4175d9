#!/usr/bin/env python3
"""Verify a certbound access token with libraries nobody here wrote.

Fetches the JWKS with `requests` over HTTPS (trusting only --cacert), picks
the key named by the token's `kid`, verifies the signature, issuer and expiry
with PyJWT, checks `typ: at+jwt`, and prints the verified header and claims
as JSON. Exits non-zero on any failure.
"""
import argparse
import json
import sys

import jwt
import requests


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jwks-url", required=True)
    parser.add_argument("--cacert", required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()

    session = requests.Session()
    session.trust_env = False  # ignore proxies and REQUESTS_CA_BUNDLE
    response = session.get(args.jwks_url, verify=args.cacert, timeout=10)
    response.raise_for_status()
    jwks = response.json()

    header = jwt.get_unverified_header(args.token)
    if header.get("typ") != "at+jwt":
        print(f"typ is {header.get('typ')!r}, expected 'at+jwt'", file=sys.stderr)
        return 1
    matching = [k for k in jwks["keys"] if k.get("kid") == header.get("kid")]
    if len(matching) != 1:
        print(f"kid {header.get('kid')!r} not in JWKS", file=sys.stderr)
        return 1
    key = jwt.PyJWK(matching[0]).key
    claims = jwt.decode(
        args.token,
        key=key,
        algorithms=[matching[0]["alg"]],
        issuer=args.issuer,
        options={"verify_aud": False, "require": ["exp", "iat", "iss", "sub", "jti"]},
    )
    print(json.dumps({"header": header, "claims": claims}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
