# Shared by bench/run.sh and bench/ab.sh (sourced, not run).

# The key-encryption key the benchmarked servers seal their signing keys
# under, from the environment: an older binary (bench/ab.sh) ignores it.
CERTBOUND_KEK=${CERTBOUND_KEK:-$(python3 -c 'import base64,os; print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))')}
export CERTBOUND_KEK
# The benchmarks send far more than a real client's budget from one address
# and one client: the limiter stays on (its cost is measured) but never bites.
# An older binary ignores these.
export CERTBOUND_RATE_LIMITS__ADDRESS_PER_SECOND=1000000000 CERTBOUND_RATE_LIMITS__ADDRESS_BURST=1000000000
export CERTBOUND_RATE_LIMITS__CLIENT_PER_SECOND=1000000000 CERTBOUND_RATE_LIMITS__CLIENT_BURST=1000000000

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Prints the gateway configuration every benchmark uses: mTLS, JWT validation
# against the AS at AS_PORT, bound tokens required, the AS's default audience
# (its issuer; the bench client has no --audience), one route to UP_PORT.
# Needs $PKI (server.pem/.key) and $CA.
gateway_toml() { # GW_PORT AS_PORT UP_PORT
  cat <<EOF
[listener]
mode = "mtls"
addr = "127.0.0.1:$1"
[tls]
cert = "$PKI/server.pem"
key = "$PKI/server.key"
client_ca = "$CA"
[authorization_server]
issuer = "https://127.0.0.1:$2"
ca = "$CA"
validation = "jwt"
[policy]
require_bound_tokens = true
audience = "https://127.0.0.1:$2"
[[routes]]
path_prefix = "/"
upstream = "http://127.0.0.1:$3"
scopes = ["read"]
EOF
}

# Prints the AS configuration every benchmark uses: one mTLS listener on
# PORT, storage at URL, hour-long tokens. Needs $PKI and $CA.
certbound_toml() { # STORAGE_URL PORT
  cat <<EOF
[storage]
url = "$1"
[tls]
cert = "$PKI/server.pem"
key = "$PKI/server.key"
client_ca = "$CA"
[listeners.mtls]
addr = "127.0.0.1:$2"
url = "https://127.0.0.1:$2"
[tokens]
access_token_ttl = 3600
EOF
}
