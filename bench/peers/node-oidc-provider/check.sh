#!/usr/bin/env bash
# Verifies that a running server.mjs issues certificate-bound JWT access tokens (RFC 8705):
# one client_credentials request with the client certificate, then checks token_type,
# the JWT's cnf.x5t#S256 against the certificate, aud and scope.
#
# Env (as for server.mjs): PORT, ISSUER (optional), CLIENT_ID, SCOPE (optional), AUDIENCE
# (optional), and the client side: CA_CERT (CA that issued the server certificate; defaults
# to CLIENT_CA), CLIENT_CERT, CLIENT_KEY (the client certificate and key).
set -euo pipefail

fail() { echo "check.sh: FAIL: $*" >&2; exit 1; }
need() { [ -n "${!1:-}" ] || fail "$1 must be set"; }

need PORT; need CLIENT_CERT; need CLIENT_KEY
CA_CERT=${CA_CERT:-${CLIENT_CA:-}}
[ -n "$CA_CERT" ] || fail "CA_CERT (or CLIENT_CA) must be set"
ISSUER=${ISSUER:-https://127.0.0.1:$PORT}
CLIENT_ID=${CLIENT_ID:-bench-client}
SCOPE=${SCOPE:-read write}
AUDIENCE=${AUDIENCE:-$ISSUER}
WANT_SCOPE=${SCOPE%% *}  # ask for the first allowed scope

b64url_decode() {
  local s=${1//-/+}
  s=${s//_//}
  case $(( ${#s} % 4 )) in 2) s+='==' ;; 3) s+='=' ;; esac
  printf '%s' "$s" | base64 -d
}

response=$(curl -sS --max-time 10 --noproxy '*' --cacert "$CA_CERT" \
  --cert "$CLIENT_CERT" --key "$CLIENT_KEY" \
  -d grant_type=client_credentials --data-urlencode "client_id=$CLIENT_ID" \
  --data-urlencode "scope=$WANT_SCOPE" \
  "https://127.0.0.1:$PORT/token") || fail "token request to https://127.0.0.1:$PORT/token failed"

token_type=$(jq -r '.token_type // empty' <<<"$response")
access_token=$(jq -r '.access_token // empty' <<<"$response")
[ -n "$access_token" ] || fail "no access_token in response: $response"
[ "$token_type" = Bearer ] || fail "token_type is '$token_type', want Bearer"

IFS=. read -r header payload signature <<<"$access_token"
[ -n "${signature:-}" ] || fail "access token is not a JWS: $access_token"
header_json=$(b64url_decode "$header") || fail "cannot decode JWT header"
payload_json=$(b64url_decode "$payload") || fail "cannot decode JWT payload"

alg=$(jq -r '.alg' <<<"$header_json")
cnf=$(jq -r '.cnf."x5t#S256" // empty' <<<"$payload_json")
iss=$(jq -r '.iss' <<<"$payload_json")
aud=$(jq -r 'if (.aud|type) == "array" then .aud|join(" ") else .aud end' <<<"$payload_json")
scope=$(jq -r '.scope // empty' <<<"$payload_json")
want_cnf=$(openssl x509 -in "$CLIENT_CERT" -outform DER | openssl dgst -sha256 -binary \
  | basenc --base64url | tr -d '=\n')

[ "$alg" = ES256 ] || fail "JWT alg is '$alg', want ES256"
[ -n "$cnf" ] || fail "JWT has no cnf.x5t#S256: $payload_json"
[ "$cnf" = "$want_cnf" ] || fail "cnf.x5t#S256 is $cnf, client certificate thumbprint is $want_cnf"
[ "$iss" = "$ISSUER" ] || fail "iss is '$iss', want '$ISSUER'"
[ "$aud" = "$AUDIENCE" ] || fail "aud is '$aud', want '$AUDIENCE'"
[ "$scope" = "$WANT_SCOPE" ] || fail "scope is '$scope', want '$WANT_SCOPE'"

echo "check.sh: OK: Bearer ES256 JWT, iss=$iss aud=$aud scope=$scope cnf.x5t#S256=$cnf"
