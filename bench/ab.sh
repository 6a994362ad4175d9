#!/usr/bin/env bash
# Compares two certbound builds side by side, in one run: did a change (or a
# build profile) make a hot path slower? `gateway`: both builds' gateways in
# front of the same AS, upstream and token. `token`: both builds' token
# endpoints (tls_client_auth, bound ES256 JWT, SQLite), each with its own
# database. Rounds alternate A and B at each concurrency and report the
# per-round ratio B ÷ A of requests/s and of server CPU per request.
#
#   bash bench/ab.sh gateway|token OLD_CERTBOUND NEW_CERTBOUND
#
# Both binaries should be optimised builds (`cargo build --profile dist -p
# certbound`; an old one from a worktree of the old commit with its own
# target dir). Knobs: BENCH_DURATION (s, default 3), BENCH_RUNS (default 5),
# BENCH_CONCURRENCY (default "1 16 64").
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
USAGE="usage: ab.sh gateway|token OLD_CERTBOUND NEW_CERTBOUND"
SCENARIO=${1:?$USAGE}
A=${2:?$USAGE}
B=${3:?$USAGE}
case "$SCENARIO" in gateway | token) ;; *) echo "$USAGE" >&2; exit 2 ;; esac
DURATION=${BENCH_DURATION:-3}
RUNS=${BENCH_RUNS:-5}
read -r -a CONCURRENCY <<<"${BENCH_CONCURRENCY:-1 16 64}"
cd "$ROOT"
cargo build --profile dist --locked -q -p certbound-bench
LOAD=$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)/dist/certbound-bench
WORK=$(mktemp -d /tmp/certbound-ab.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
wait_for() {
  for _ in $(seq 1 300); do
    curl -sf --noproxy '*' -o /dev/null --max-time 2 "$@" && return 0
    sleep 0.1
  done
  echo "not up: $*" >&2
  exit 1
}

PKI=$WORK/pki
"$B" pki init --dir "$PKI" >/dev/null
"$B" pki issue --dir "$PKI" --name bench-client --cn bench-client --org "certbound bench" >/dev/null
CA=$PKI/ca.pem
CLIENT=(--cacert "$CA" --cert "$PKI/bench-client.pem" --key "$PKI/bench-client.key")
FORM='grant_type=client_credentials&client_id=bench-client&scope=read'

start_as() { # binary name cpu -> sets AS_PID, AS_PORT
  AS_PORT=$(free_port)
  mkdir -p "$WORK/$2"
  certbound_toml "sqlite://$WORK/$2/certbound.db" "$AS_PORT" >"$WORK/$2/certbound.toml"
  "$1" clients add --config "$WORK/$2/certbound.toml" --id bench-client --auth tls_client_auth \
    --subject-dn "CN=bench-client,O=certbound bench" --scope read >/dev/null
  taskset -c "$3" "$1" serve --config "$WORK/$2/certbound.toml" >"$WORK/$2/as.log" 2>&1 &
  AS_PID=$!
  PIDS+=("$AS_PID")
  wait_for --cacert "$CA" "https://127.0.0.1:$AS_PORT/readyz"
}

# The same gateway configuration for both builds (bench/lib.sh).
start_gateway() { # binary -> sets GW_PID, GW_PORT
  GW_PORT=$(free_port)
  gateway_toml "$GW_PORT" "$AS_PORT" "$UP_PORT" >"$WORK/gw-$GW_PORT.toml"
  taskset -c 0 "$1" gateway --config "$WORK/gw-$GW_PORT.toml" >"$WORK/gw-$GW_PORT.log" 2>&1 &
  GW_PID=$!
  PIDS+=("$GW_PID")
}

if [ "$SCENARIO" = token ]; then
  # Each build's AS on the servers' core, with a database of its own.
  start_as "$A" as-a 0; A_PID=$AS_PID A_PORT=$AS_PORT
  start_as "$B" as-b 0; B_PID=$AS_PID B_PORT=$AS_PORT
  TARGET_PATH=/token
  LOAD_ARGS=(--form "$FORM")
else
  # One AS mints the token and serves the JWKS; it sits with the load.
  start_as "$B" as 1
  UP_PORT=$(free_port)
  CEIL_PORT=$(free_port)
  taskset -c 0 "$LOAD" fixed-server --listen "127.0.0.1:$CEIL_PORT" --plain-listen "127.0.0.1:$UP_PORT" \
    --cert "$PKI/server.pem" --key "$PKI/server.key" --client-ca "$CA" >"$WORK/fixed.log" 2>&1 &
  PIDS+=($!)
  start_gateway "$A"; A_PID=$GW_PID A_PORT=$GW_PORT
  start_gateway "$B"; B_PID=$GW_PID B_PORT=$GW_PORT
  TOKEN_FILE=$WORK/token
  curl -sf --noproxy '*' "${CLIENT[@]}" -d "$FORM" "https://127.0.0.1:$AS_PORT/token" | jq -r .access_token >"$TOKEN_FILE"
  for port in "$A_PORT" "$B_PORT"; do
    wait_for "${CLIENT[@]}" -H "Authorization: Bearer $(cat "$TOKEN_FILE")" "https://127.0.0.1:$port/api"
  done
  TARGET_PATH=/api
  LOAD_ARGS=(--bearer-file "$TOKEN_FILE")
fi

measure() { # name port pid c
  taskset -c 1 "$LOAD" load --url "https://127.0.0.1:$2$TARGET_PATH" "${CLIENT[@]}" --duration "$DURATION" \
    --warmup 1 --format json --output "$WORK/$1.json" --concurrency "$4" \
    "${LOAD_ARGS[@]}" --cpu-of "$3" >/dev/null
}
printf '| c | round | A req/s | B req/s | B ÷ A req/s | A CPU µs/req | B CPU µs/req | B ÷ A CPU |\n|--:|--:|--:|--:|--:|--:|--:|--:|\n'
for c in "${CONCURRENCY[@]}"; do
  for r in $(seq 1 "$RUNS"); do
    # Alternate which goes first, so drift in the host hits both alike.
    if [ $((r % 2)) = 1 ]; then
      measure "a-$c-$r" "$A_PORT" "$A_PID" "$c"; measure "b-$c-$r" "$B_PORT" "$B_PID" "$c"
    else
      measure "b-$c-$r" "$B_PORT" "$B_PID" "$c"; measure "a-$c-$r" "$A_PORT" "$A_PID" "$c"
    fi
    python3 - "$WORK/a-$c-$r.json" "$WORK/b-$c-$r.json" "$c" "$r" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
def cpu(x):
    return x.get("server_cpu_us_per_request") or 0.0
ra, rb = a["rps"], b["rps"]
ca, cb = cpu(a), cpu(b)
print(f"| {sys.argv[3]} | {sys.argv[4]} | {ra:,.0f} | {rb:,.0f} | {rb/ra:.3f} | {ca:.1f} | {cb:.1f} | {cb/ca if ca else 0:.3f} |")
PY
  done
done
