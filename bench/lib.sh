# shellcheck shell=bash
# Shared by bench/run.sh, bench/soak.sh and bench/ab.sh (sourced, not run).
# Needs only coreutils when sourced, so a script can source it before it
# installs what it is missing (ensure_tools).

# The key-encryption key the benchmarked servers seal their signing keys
# under, from the environment: an older binary (bench/ab.sh) ignores it.
CERTBOUND_KEK=${CERTBOUND_KEK:-$(head -c 32 /dev/urandom | basenc --base64url | tr -d '=\n')}
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

START_TIME=${START_TIME:-$(date +%s)}
# Progress on stderr, seconds since the script started; LOG_TAG names the script.
log() { printf '[%s %4ds] %s\n' "${LOG_TAG:-bench}" $(($(date +%s) - START_TIME)) "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

# Installs the Debian packages whose command is missing: ensure_tools PACKAGE:COMMAND...
ensure_tools() {
  local pair missing=()
  for pair in "$@"; do
    command -v "${pair#*:}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair#*:}" ] || missing+=("${pair%%:*}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing from Debian: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres), started if it is
# installed but down.
ensure_postgres() {
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && [ -d /etc/postgresql ]; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
  pg_isready -h 127.0.0.1 -p 5432 -q || die "PostgreSQL is not reachable on 127.0.0.1:5432"
}

# Builds certbound and the load generator; sets PROFILE, TARGET, CB and LOAD.
# The `dist` profile (fat LTO, one codegen unit) is what deployments build;
# `bench/profiles.sh` compares it with the lighter `release` profile.
# BENCH_PROFILE=release trades some speed for a much quicker build, for
# trying a change; published figures use dist.
# shellcheck disable=SC2034 # the caller uses them
build_binaries() {
  PROFILE=${BENCH_PROFILE:-dist}
  log "building certbound and the load generator ($PROFILE profile)"
  cargo build --profile "$PROFILE" --locked -q -p certbound -p certbound-bench
  TARGET=$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)
  CB=$TARGET/$PROFILE/certbound
  LOAD=$TARGET/$PROFILE/certbound-bench
}

# Waits until `curl ARGS` succeeds (a listener is up), at most 30 s.
wait_for() {
  local what=$1
  shift
  for _ in $(seq 1 300); do
    curl -sf --noproxy '*' -o /dev/null --max-time 2 "$@" && return 0
    sleep 0.1
  done
  die "$what did not come up; see its log in $WORK"
}

# A field of /proc/PID/status in kB: rss_kb PID VmRSS|VmHWM.
rss_kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }

# Prints the gateway configuration every benchmark uses: mTLS, JWT validation
# against the AS at AS_PORT, bound tokens required, the AS's default audience
# (its issuer; the bench client has no --audience), one route to UP_PORT.
# With CLIENT, the gateway also has an identity at the AS (client id CLIENT,
# certificate $PKI/CLIENT.pem): it introspects opaque tokens and polls the
# revocation list. Needs $PKI (server.pem/.key) and $CA.
gateway_toml() { # GW_PORT AS_PORT UP_PORT [CLIENT]
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
EOF
  [ -z "${4:-}" ] || cat <<EOF
introspection_client_id = "$4"
cert = "$PKI/$4.pem"
key = "$PKI/$4.key"
EOF
  cat <<EOF
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
