#!/usr/bin/env bash
# Soak: minutes of mixed traffic against `certbound serve` on PostgreSQL and
# `certbound gateway`, watching for growth. One command, about 13 minutes
# with the build already done:
#
#   bash bench/soak.sh
#
# Each minute, four `certbound-bench load` runs go side by side for 60 s, one
# per kind, each paced at SOAK_RATE requests/s (a soak, not a peak test: the
# machine is not saturated): token issuance (client_credentials, bound JWT), gateway calls
# (a bound JWT minted at the start, through the gateway to a trivial upstream),
# introspection (the gateway's client introspects one opaque token) and
# revocation (one JWT revoked again and again: RFC 7009 answers 200 and the
# server verifies it, looks it up and rewrites the same revocation row, so
# every request writes without the revocation list growing). Every
# SOAK_SAMPLE_SECS the RSS, open file descriptors and CPU time of the AS and
# the gateway and the 1-minute load average are sampled; bench/soak_report.py
# reports per-minute latency, requests and errors per kind, every sample, and
# growth after the first (warm-up) minute against the goals: under 10%, no
# errors.
#
# Knobs (environment): SOAK_MINUTES (default 10; at least 3 for a growth
# figure), SOAK_RATE (requests/s per kind, default 200; 0: back to back, as
# fast as they go, which saturates the machine), SOAK_CONCURRENCY (workers
# per kind, default 4), SOAK_SAMPLE_SECS
# (default 10), BENCH_PROFILE (cargo profile, default dist), SOAK_WRITE (1:
# write bench/soak.md and its section of BENCHMARKS.md; default 1 for runs of
# 10 minutes or more, else the report only goes to stdout).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
LOG_TAG=soak

MINUTES=${SOAK_MINUTES:-10}
RATE=${SOAK_RATE:-200}
CONCURRENCY=${SOAK_CONCURRENCY:-4}
SAMPLE_SECS=${SOAK_SAMPLE_SECS:-10}
WRITE=${SOAK_WRITE:-$([ "$MINUTES" -ge 10 ] && echo 1 || echo 0)}

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

ensure_tools curl:curl jq:jq postgresql-client:psql python3:python3
ensure_postgres
build_binaries

WORK=$(mktemp -d /tmp/certbound-soak.XXXXXX)
RES=$WORK/results
mkdir -p "$RES"
PIDS=()
RUNS=()
PG_DB=certbound_soak_$$_$(date +%s)
cleanup() {
  for pid in "${RUNS[@]}" "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true
  # Raw results and the servers' logs stay for a look.
  rm -rf "$TARGET/soak-results"
  mv "$RES" "$TARGET/soak-results" || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------- PKI, clients
PKI=$WORK/pki
CA=$PKI/ca.pem
"$CB" pki init --dir "$PKI" >/dev/null
for name in soak-client soak-opaque soak-gateway; do
  "$CB" pki issue --dir "$PKI" --name "$name" --cn "$name" --org "certbound soak" >/dev/null
done
tls_as() { printf '%s\n' --cacert "$CA" --cert "$PKI/$1.pem" --key "$PKI/$1.key"; }
mapfile -t AS_CLIENT < <(tls_as soak-client)
mapfile -t AS_OPAQUE < <(tls_as soak-opaque)
mapfile -t AS_GATEWAY < <(tls_as soak-gateway)

AS_PORT=$(free_port)
AS=https://127.0.0.1:$AS_PORT
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $PG_DB" >/dev/null
certbound_toml "postgres://postgres@127.0.0.1:5432/$PG_DB" "$AS_PORT" >"$WORK/certbound.toml"
chmod 600 "$WORK/certbound.toml"
add_client() { # NAME [clients add options]
  local name=$1
  shift
  "$CB" clients add --config "$WORK/certbound.toml" --id "$name" --auth tls_client_auth \
    --subject-dn "CN=$name,O=certbound soak" --scope read "$@" >/dev/null
}
add_client soak-client
add_client soak-opaque --opaque
add_client soak-gateway --may-introspect

# ---------------------------------------------------------------- systems
log "starting certbound serve (PostgreSQL), the upstream and certbound gateway"
# A fixed-size pool (see the report): its connections are open before the
# first sample rather than whenever requests first overlap.
CERTBOUND_STORAGE__MIN_CONNECTIONS=16 "$CB" serve --config "$WORK/certbound.toml" >"$RES/serve.log" 2>&1 &
AS_PID=$!
PIDS+=("$AS_PID")
wait_for "certbound serve" --cacert "$CA" "$AS/readyz"

UP_PORT=$(free_port)
"$LOAD" fixed-server --plain-listen "127.0.0.1:$UP_PORT" >"$RES/upstream.log" 2>&1 &
PIDS+=("$!")
# The gateway verifies JWTs locally and, with its own identity, polls the
# revocation list (every 15 s by default).
GW_PORT=$(free_port)
GW=https://127.0.0.1:$GW_PORT
gateway_toml "$GW_PORT" "$AS_PORT" "$UP_PORT" soak-gateway >"$WORK/gateway.toml"
"$CB" gateway --config "$WORK/gateway.toml" >"$RES/gateway.log" 2>&1 &
GW_PID=$!
PIDS+=("$GW_PID")

token_of() { # CLIENT -> a fresh access token
  curl -sf --noproxy '*' "${@:2}" -d "grant_type=client_credentials&client_id=$1&scope=read" "$AS/token" \
    | jq -er .access_token
}
GW_TOKEN=$(token_of soak-client "${AS_CLIENT[@]}") || die "no token for soak-client"
REVOKED_TOKEN=$(token_of soak-client "${AS_CLIENT[@]}") || die "no second token for soak-client"
OPAQUE_TOKEN=$(token_of soak-opaque "${AS_OPAQUE[@]}") || die "no token for soak-opaque"

# Every kind must do what it is measured doing before the soak starts.
wait_for "certbound gateway" "${AS_CLIENT[@]}" -H "Authorization: Bearer $GW_TOKEN" "$GW/api"
status=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' "${AS_CLIENT[@]}" "$GW/api")
[ "$status" = 401 ] || die "the gateway let a request without a token through ($status)"
INTROSPECT_FORM="token=$OPAQUE_TOKEN&client_id=soak-gateway"
REVOKE_FORM="token=$REVOKED_TOKEN&client_id=soak-client"
active_of() { # TOKEN -> .active as the gateway's client sees it
  curl -sf --noproxy '*' "${AS_GATEWAY[@]}" -d "token=$1&client_id=soak-gateway" "$AS/introspect" | jq -r .active
}
[ "$(active_of "$OPAQUE_TOKEN")" = true ] || die "the opaque token does not introspect as active"
[ "$(active_of "$REVOKED_TOKEN")" = true ] || die "the JWT to revoke does not introspect as active"
curl -sf --noproxy '*' -o /dev/null "${AS_CLIENT[@]}" -d "$REVOKE_FORM" "$AS/revoke" || die "revocation failed"
[ "$(active_of "$REVOKED_TOKEN")" = false ] || die "the revoked JWT still introspects as active"

# ---------------------------------------------------------------- sampler
# One CSV row every SAMPLE_SECS: seconds since the soak started, the minute
# it belongs to (0 before, "end" after), and per process RSS (kB), open file
# descriptors and CPU time (clock ticks, user + system), then the 1-minute
# load average.
SLICE=$WORK/slice
echo 0 >"$SLICE"
proc_sample() { # PID -> rss_kb,fds,cpu_ticks
  local fds=("/proc/$1/fd/"*)
  printf '%s,%s,%s' "$(rss_kb "$1" VmRSS)" "${#fds[@]}" "$(awk '{print $14 + $15}' "/proc/$1/stat")"
}
SOAK_START=$(date +%s)
SOAK_DATE=$(date -u -d "@$SOAK_START" +%Y-%m-%dT%H:%MZ)
(
  echo "t,minute,as_rss_kb,as_fds,as_cpu_ticks,gw_rss_kb,gw_fds,gw_cpu_ticks,loadavg1"
  i=0
  while :; do
    echo "$(($(date +%s) - SOAK_START)),$(cat "$SLICE"),$(proc_sample "$AS_PID"),$(proc_sample "$GW_PID"),$(cut -d' ' -f1 /proc/loadavg)"
    i=$((i + 1))
    wait_s=$((SOAK_START + i * SAMPLE_SECS - $(date +%s)))
    [ "$wait_s" -le 0 ] || sleep "$wait_s"
  done
) >"$RES/samples.csv" 2>"$RES/sampler.log" &
SAMPLER_PID=$!
PIDS+=("$SAMPLER_PID")

# ---------------------------------------------------------------- traffic
LOAD_AVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
PACE=(--rate "$RATE")
[ "$RATE" != 0 ] || PACE=()
log "soak: $MINUTES minute(s), 4 kinds x $CONCURRENCY workers, ${PACE[*]:-unpaced}, load average $LOAD_AVG_START"
for minute in $(seq 1 "$MINUTES"); do
  echo "$minute" >"$SLICE.new" && mv "$SLICE.new" "$SLICE"
  RUNS=()
  for kind in issue gateway introspect revoke; do
    case $kind in
      issue) args=(--url "$AS/token" "${AS_CLIENT[@]}" --form "grant_type=client_credentials&client_id=soak-client&scope=read") ;;
      gateway) args=(--url "$GW/api" "${AS_CLIENT[@]}" --bearer "$GW_TOKEN") ;;
      introspect) args=(--url "$AS/introspect" "${AS_GATEWAY[@]}" --form "$INTROSPECT_FORM") ;;
      revoke) args=(--url "$AS/revoke" "${AS_CLIENT[@]}" --form "$REVOKE_FORM") ;;
    esac
    "$LOAD" load "${args[@]}" "${PACE[@]}" --concurrency "$CONCURRENCY" --duration 60 --format json \
      --output "$RES/$(printf 'm%02d' "$minute")-$kind.json" >/dev/null &
    RUNS+=("$!")
  done
  for pid in "${RUNS[@]}"; do wait "$pid" || die "a load run of minute $minute failed"; done
  RUNS=()
  kill -0 "$AS_PID" 2>/dev/null || die "certbound serve exited; see serve.log"
  kill -0 "$GW_PID" 2>/dev/null || die "certbound gateway exited; see gateway.log"
  log "minute $minute: $(cd "$RES" && for f in "$(printf 'm%02d' "$minute")"-*.json; do
    jq -r --arg k "${f#*-}" '"\($k | rtrimstr(".json")) \(.requests) req \(.errors) err p99 \(.latency_ms.p99) ms"' "$f"
  done | paste -sd ';' | sed 's/;/; /g')"
done
echo end >"$SLICE.new" && mv "$SLICE.new" "$SLICE"
# One more sample with the traffic gone.
sleep "$SAMPLE_SECS"
kill "$SAMPLER_PID"
wait "$SAMPLER_PID" 2>/dev/null || true
LOAD_AVG_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
jq -n --arg date "$SOAK_DATE" --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --arg cpu "${cpu_model:-unknown}" --arg kernel "$(uname -r)" --arg profile "$PROFILE" \
  --arg load_start "$LOAD_AVG_START" --arg load_end "$LOAD_AVG_END" \
  --arg postgresql "$(psql -h 127.0.0.1 -U postgres -tAc 'SHOW server_version' | cut -d' ' -f1)" \
  --argjson nproc "$(nproc)" --argjson minutes "$MINUTES" --argjson concurrency "$CONCURRENCY" --argjson rate "$RATE" \
  --argjson sample_secs "$SAMPLE_SECS" --argjson clk_tck "$(getconf CLK_TCK)" \
  '$ARGS.named' >"$RES/meta.json"
if [ "$WRITE" = 1 ]; then
  python3 "$ROOT/bench/soak_report.py" "$RES" "$ROOT/bench/soak.md" "$ROOT/BENCHMARKS.md"
  log "done: wrote bench/soak.md and its section of BENCHMARKS.md (raw results: $TARGET/soak-results)"
else
  python3 "$ROOT/bench/soak_report.py" "$RES"
  log "done (SOAK_WRITE=0: nothing written; raw results: $TARGET/soak-results)"
fi
