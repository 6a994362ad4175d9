#!/usr/bin/env bash
# Runs every benchmark scenario side by side on 127.0.0.1 and rewrites
# BENCHMARKS.md. One command, a fresh machine, about 16 minutes:
#
#   bash bench/run.sh
#
# Knobs (environment): BENCH_DURATION (s per measurement, default 3),
# BENCH_WARMUP (s, default 1), BENCH_RUNS (rounds, default 3), BENCH_PROFILE
# (cargo profile, default dist; release builds much faster for trying a change),
# BENCH_PIN (1: servers on CPU 0, load generator on CPU 1; default 1 when
# nproc >= 2), BENCH_OUT (default BENCHMARKS.md at the repository root),
# BENCH_HALT_POLL (0: skip the extra run with guest halt polling turned on
# for its duration, on VMs where it is off; default 1), BENCH_GRANTS (0: skip
# the refresh-token and code-redemption scenarios; default 1), BENCH_ONLY_GRANTS
# (1: run only those, then stop without writing the report; for a quick check),
# BENCH_CODE_RATE and BENCH_NODE_CODE_RATE (a generous requests/s estimate for
# code redemption on certbound and on node-oidc-provider, default 30000 and
# 6000: each run gets (warm-up + duration) x that many fresh codes).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

DURATION=${BENCH_DURATION:-3}
WARMUP=${BENCH_WARMUP:-1}
RUNS=${BENCH_RUNS:-3}
OUT=${BENCH_OUT:-$ROOT/BENCHMARKS.md}
CONCURRENCY=(1 16 64)
FORM='grant_type=client_credentials&client_id=bench-client&scope=read'
# The refresh-token and code-redemption scenarios (keep-alive only).
GRANT_CONCURRENCY=(1 64)
GRANTS=${BENCH_GRANTS:-1}
ONLY_GRANTS=${BENCH_ONLY_GRANTS:-0}
CODE_RATE=${BENCH_CODE_RATE:-30000}
NODE_CODE_RATE=${BENCH_NODE_CODE_RATE:-6000}
REDIRECT_URI=https://127.0.0.1/cb

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

# ---------------------------------------------------------------- tools
ensure_tools curl:curl openssl:openssl jq:jq nginx:nginx nodejs:node npm:npm \
  postgresql-client:psql procps:pgrep python3:python3 util-linux:taskset
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
ensure_postgres

PEER_DIR=$ROOT/bench/peers/node-oidc-provider
if [ ! -d "$PEER_DIR/node_modules/oidc-provider" ]; then
  log "installing node-oidc-provider from npm (package-lock.json)"
  (cd "$PEER_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

build_binaries

if [ "${BENCH_PIN:-$([ "$(nproc)" -ge 2 ] && echo 1 || echo 0)}" = 1 ]; then
  SERVER_CPU=(taskset -c 0)
  LOAD_CPU=(taskset -c 1)
  PINNED=1
else
  SERVER_CPU=()
  LOAD_CPU=()
  PINNED=0
fi

# ---------------------------------------------------------------- workspace
WORK=$(mktemp -d /tmp/certbound-bench.XXXXXX)
RES=$WORK/results
mkdir -p "$RES"
PIDS=()
PG_DB=certbound_bench_$$_$(date +%s)
cleanup() {
  if [ "${RESTORE_HALT_POLL:-0}" = 1 ]; then echo "$HALT_POLL_NS" >"$HALT_POLL" || true; fi
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true
  # Raw per-run JSON stays for a look (and for re-rendering with report.py).
  if [ -d "$RES" ] && [ -n "${TARGET:-}" ]; then
    rm -rf "$TARGET/bench-results" && mv "$RES" "$TARGET/bench-results" || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PKI=$WORK/pki
"$CB" pki init --dir "$PKI" >/dev/null
"$CB" pki issue --dir "$PKI" --name bench-client --cn bench-client --org "certbound bench" >/dev/null
CA=$PKI/ca.pem
CLIENT=(--cacert "$CA" --cert "$PKI/bench-client.pem" --key "$PKI/bench-client.key")

# ---------------------------------------------------------------- systems
# certbound serve on SQLite or PostgreSQL; sets STARTED_PID and STARTED_PORT.
start_certbound() {
  local name=$1 url=$2 port
  port=$(free_port)
  mkdir -p "$WORK/$name"
  certbound_toml "$url" "$port" >"$WORK/$name/certbound.toml"
  "$CB" clients add --config "$WORK/$name/certbound.toml" --id bench-client \
    --auth tls_client_auth --subject-dn "CN=bench-client,O=certbound bench" \
    --scope "read write" --grant-types authorization_code,refresh_token,client_credentials \
    --redirect-uri "$REDIRECT_URI" >/dev/null
  "${SERVER_CPU[@]}" "$CB" serve --config "$WORK/$name/certbound.toml" >"$WORK/$name.log" 2>&1 &
  STARTED_PID=$!
  STARTED_PORT=$port
  PIDS+=("$STARTED_PID")
}

start_node() {
  local port
  port=$(free_port)
  MINT_PORT=$(free_port)
  BENCH_MINT_PORT=$MINT_PORT REDIRECT_URI=$REDIRECT_URI \
    PORT=$port TLS_CERT=$PKI/server.pem TLS_KEY=$PKI/server.key CLIENT_CA=$CA \
    CLIENT_ID=bench-client CLIENT_SUBJECT_DN="CN=bench-client,O=certbound bench" \
    SCOPE="read write" TOKEN_TTL=3600 \
    "${SERVER_CPU[@]}" node "$PEER_DIR/server.mjs" >"$WORK/node.log" 2>&1 &
  STARTED_PID=$!
  STARTED_PORT=$port
  PIDS+=("$STARTED_PID")
}

log "starting certbound (SQLite), certbound (PostgreSQL) and node-oidc-provider"
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $PG_DB" >/dev/null
start_certbound cb-sqlite "sqlite://$WORK/cb-sqlite/certbound.db"
CB_SQLITE_PID=$STARTED_PID CB_SQLITE_PORT=$STARTED_PORT
start_certbound cb-postgres "postgres://postgres@127.0.0.1:5432/$PG_DB"
CB_PG_PID=$STARTED_PID CB_PG_PORT=$STARTED_PORT
start_node
NODE_PID=$STARTED_PID NODE_PORT=$STARTED_PORT
wait_for "certbound (SQLite)" --cacert "$CA" "https://127.0.0.1:$CB_SQLITE_PORT/readyz"
IDLE_RSS_KB=$(rss_kb "$CB_SQLITE_PID" VmRSS)
IDLE_HWM_KB=$(rss_kb "$CB_SQLITE_PID" VmHWM)
wait_for "certbound (PostgreSQL)" --cacert "$CA" "https://127.0.0.1:$CB_PG_PORT/readyz"
wait_for "node-oidc-provider" "${CLIENT[@]}" "https://127.0.0.1:$NODE_PORT/.well-known/oauth-authorization-server"
NODE_IDLE_RSS_KB=$(rss_kb "$NODE_PID" VmRSS)

# Every system must really issue a bound JWT before it is measured.
PORT=$NODE_PORT CLIENT_CERT=$PKI/bench-client.pem CLIENT_KEY=$PKI/bench-client.key CA_CERT=$CA \
  CLIENT_ID=bench-client SCOPE="read write" bash "$PEER_DIR/check.sh" >&2 \
  || die "node-oidc-provider does not issue bound tokens"
cnf_of() { # token endpoint URL [FORM] -> cnf.x5t#S256 of a fresh token
  curl -sf --noproxy '*' "${CLIENT[@]}" -d "${2:-$FORM}" "$1" | jq -r .access_token \
    | cut -d. -f2 | tr '_-' '/+' | awk '{while (length($0) % 4) $0 = $0 "="; print}' \
    | base64 -d | jq -r '.cnf["x5t#S256"]'
}
WANT_CNF=$(openssl x509 -in "$PKI/bench-client.pem" -outform DER | openssl dgst -sha256 -binary | basenc --base64url | tr -d '=\n')
for port in "$CB_SQLITE_PORT" "$CB_PG_PORT"; do
  [ "$(cnf_of "https://127.0.0.1:$port/token")" = "$WANT_CNF" ] || die "certbound on $port issued no bound token"
done
TOKEN_BODY_BYTES=$(curl -sf --noproxy '*' "${CLIENT[@]}" -d "$FORM" "https://127.0.0.1:$CB_SQLITE_PORT/token" | wc -c)

# The TLS ceiling: a minimal rustls mTLS server answering a body of the same size.
CEIL_PORT=$(free_port)
UP_PORT=$(free_port)
"${SERVER_CPU[@]}" "$LOAD" fixed-server --listen "127.0.0.1:$CEIL_PORT" --plain-listen "127.0.0.1:$UP_PORT" \
  --cert "$PKI/server.pem" --key "$PKI/server.key" --client-ca "$CA" \
  --body-size "$TOKEN_BODY_BYTES" >"$WORK/fixed.log" 2>&1 &
FIXED_PID=$!
PIDS+=("$FIXED_PID")
wait_for "TLS ceiling server" "${CLIENT[@]}" "https://127.0.0.1:$CEIL_PORT/"

# One measurement: NAME URL [load args...] -> $RES/NAME.json
measure() {
  local name=$1 url=$2
  shift 2
  "${LOAD_CPU[@]}" "$LOAD" load --url "$url" "${CLIENT[@]}" --duration "$DURATION" \
    --warmup "$WARMUP" --format json --output "$RES/$name.json" "$@" >/dev/null \
    || die "load run $name failed"
}

# ---------------------------------------------------------------- token issuance
[ "$ONLY_GRANTS" = 1 ] && GRANTS=1
[ "$ONLY_GRANTS" = 1 ] || log "token issuance: ${#CONCURRENCY[@]} concurrencies x 2 modes x $RUNS rounds x 4 systems"
[ "$ONLY_GRANTS" = 1 ] || for mode in keep-alive new-connection; do
  extra=()
  [ "$mode" = new-connection ] && extra=(--new-connection)
  for c in "${CONCURRENCY[@]}"; do
    for r in $(seq 1 "$RUNS"); do
      for sys in "certbound-sqlite $CB_SQLITE_PORT $CB_SQLITE_PID" "certbound-postgres $CB_PG_PORT $CB_PG_PID" \
        "node-oidc-provider $NODE_PORT $NODE_PID" "tls-ceiling $CEIL_PORT $FIXED_PID"; do
        read -r name port pid <<<"$sys"
        measure "token__${name}__${mode}__c${c}__r${r}" "https://127.0.0.1:$port/token" \
          --concurrency "$c" --form "$FORM" --cpu-of "$pid" "${extra[@]}"
      done
    done
    log "  $mode c=$c done"
  done
done
# ---------------------------------------------------------------- guest halt polling
# On a VM whose guest halt polling is off (guest_halt_poll_ns=0; the kernel's
# default is 200000), an idle vCPU halts, and every response that wakes the
# idle load generator costs the sending core a VM exit. On loopback that core
# is the server's, so the fastest servers pay most. Measure keep-alive at the
# highest concurrency once more with polling at the kernel default, and put
# the setting back.
HALT_POLL=/sys/module/haltpoll/parameters/guest_halt_poll_ns
HALT_POLL_NS=$(cat "$HALT_POLL" 2>/dev/null || echo none)
C_HI=${CONCURRENCY[${#CONCURRENCY[@]}-1]}
if [ "$ONLY_GRANTS" != 1 ] && [ "${BENCH_HALT_POLL:-1}" = 1 ] && [ "$HALT_POLL_NS" = 0 ] && [ -w "$HALT_POLL" ]; then
  log "token issuance keep-alive c=$C_HI again with guest halt polling at the kernel default, $RUNS rounds"
  echo 200000 >"$HALT_POLL" && RESTORE_HALT_POLL=1
  for r in $(seq 1 "$RUNS"); do
    for sys in "certbound-sqlite $CB_SQLITE_PORT $CB_SQLITE_PID" "node-oidc-provider $NODE_PORT $NODE_PID" \
      "tls-ceiling $CEIL_PORT $FIXED_PID"; do
      read -r name port pid <<<"$sys"
      measure "haltpoll__${name}__keep-alive__c${C_HI}__r${r}" "https://127.0.0.1:$port/token" \
        --concurrency "$C_HI" --form "$FORM" --cpu-of "$pid"
    done
  done
  echo "$HALT_POLL_NS" >"$HALT_POLL" && RESTORE_HALT_POLL=0
fi
# ---------------------------------------------------------------- signature cost
# One ES256 access-token signature on the servers' core: with the ceiling's
# CPU per request it bounds how close any ES256 token endpoint can come.
[ "$ONLY_GRANTS" = 1 ] || log "ES256 token signature on the server core, $RUNS times"
[ "$ONLY_GRANTS" = 1 ] || for r in $(seq 1 "$RUNS"); do
  "${SERVER_CPU[@]}" "$LOAD" sign --alg es256 --duration 1 --format json \
    --output "$RES/sign-es256-r$r.json" >/dev/null || die "sign run $r failed"
done
# Memory over token issuance, before the grant scenarios fill node-oidc-provider's store.
LOAD_HWM_KB=$(rss_kb "$CB_SQLITE_PID" VmHWM)
LOAD_RSS_KB=$(rss_kb "$CB_SQLITE_PID" VmRSS)
NODE_HWM_KB=$(rss_kb "$NODE_PID" VmHWM)
# ---------------------------------------------------------------- refresh token, code redemption
# The authorization code flow's two token requests, as a confidential
# tls_client_auth client makes them. The user's login and consent are not
# measured: certbound's database is seeded (bench/seed.py) and
# node-oidc-provider mints through its own models (server.mjs, BENCH_MINT_PORT),
# as if the user had just approved. Both issue the same bound ES256 JWT
# (scope read, no refresh token at redemption: no offline_access).
#   refresh: one refresh token, not rotated on use (both servers' behaviour
#     for this client), sent again and again.
#   code: every code is single use, so each run gets its own fresh codes
#     (--forms-file, one form per request); codes live 60 s on both servers.
if [ "$GRANTS" = 1 ]; then
  awk -v w="$WARMUP" -v d="$DURATION" 'BEGIN { exit !(w + d <= 40) }' \
    || die "code redemption needs BENCH_WARMUP + BENCH_DURATION <= 40 s (codes live 60 s)"
  VERIFIER=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
  CHALLENGE=$(printf %s "$VERIFIER" | openssl dgst -sha256 -binary | basenc --base64url | tr -d '=\n')
  REDIRECT_ENC=$(jq -rn --arg v "$REDIRECT_URI" '$v | @uri')
  CB_RT=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
  python3 "$ROOT/bench/seed.py" "sqlite://$WORK/cb-sqlite/certbound.db" refresh --token "$CB_RT" \
    || die "seeding certbound (SQLite) failed"
  python3 "$ROOT/bench/seed.py" "postgres://postgres@127.0.0.1:5432/$PG_DB" refresh --token "$CB_RT" \
    || die "seeding certbound (PostgreSQL) failed"
  NODE_RT=$(curl -sf --noproxy '*' -X POST "http://127.0.0.1:$MINT_PORT/mint-refresh") \
    || die "node-oidc-provider did not mint a refresh token"
  refresh_form() { printf 'grant_type=refresh_token&refresh_token=%s&client_id=bench-client' "$1"; }

  # Fresh codes for SYSTEM, N of them, one per line on stdout.
  mint_codes() {
    case $1 in
      certbound-sqlite) python3 "$ROOT/bench/seed.py" "sqlite://$WORK/cb-sqlite/certbound.db" codes \
        --count "$2" --challenge "$CHALLENGE" --redirect-uri "$REDIRECT_URI" ;;
      certbound-postgres) python3 "$ROOT/bench/seed.py" "postgres://postgres@127.0.0.1:5432/$PG_DB" codes \
        --count "$2" --challenge "$CHALLENGE" --redirect-uri "$REDIRECT_URI" ;;
      node-oidc-provider) curl -sf --noproxy '*' -X POST \
        "http://127.0.0.1:$MINT_PORT/mint-codes?n=$2&code_challenge=$CHALLENGE" ;;
    esac
  }
  # Codes (stdin) -> one token request form per line (stdout).
  code_forms() {
    awk -v v="$VERIFIER" -v r="$REDIRECT_ENC" 'NF {
      print "grant_type=authorization_code&code=" $0 "&code_verifier=" v "&redirect_uri=" r "&client_id=bench-client" }'
  }
  # Every system must answer both grants with 200 and a bound token first:
  # twice for the refresh token (so it is really not rotated away), and a
  # code must work once and be refused the second time.
  for sys in "certbound-sqlite $CB_SQLITE_PORT $CB_RT" "certbound-postgres $CB_PG_PORT $CB_RT" \
    "node-oidc-provider $NODE_PORT $NODE_RT"; do
    read -r name port rt <<<"$sys"
    url="https://127.0.0.1:$port/token"
    for _ in 1 2; do
      [ "$(cnf_of "$url" "$(refresh_form "$rt")")" = "$WANT_CNF" ] \
        || die "$name does not answer the refresh_token grant with a bound token"
    done
    form=$(mint_codes "$name" 1 | code_forms) || die "minting a code on $name failed"
    [ "$(cnf_of "$url" "$form")" = "$WANT_CNF" ] \
      || die "$name does not answer the authorization_code grant with a bound token"
    status=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' "${CLIENT[@]}" -d "$form" "$url")
    [ "$status" = 400 ] || die "$name redeemed the same code twice ($status)"
  done
  log "refresh token and code redemption verified on all three; measuring keep-alive c=${GRANT_CONCURRENCY[*]}, $RUNS rounds"

  FORMS=$WORK/code-forms.txt
  for c in "${GRANT_CONCURRENCY[@]}"; do
    for r in $(seq 1 "$RUNS"); do
      for sys in "certbound-sqlite $CB_SQLITE_PORT $CB_SQLITE_PID $CB_RT" \
        "certbound-postgres $CB_PG_PORT $CB_PG_PID $CB_RT" "node-oidc-provider $NODE_PORT $NODE_PID $NODE_RT"; do
        read -r name port pid rt <<<"$sys"
        measure "refresh__${name}__keep-alive__c${c}__r${r}" "https://127.0.0.1:$port/token" \
          --concurrency "$c" --form "$(refresh_form "$rt")" --cpu-of "$pid"
      done
      for sys in "certbound-sqlite $CB_SQLITE_PORT $CB_SQLITE_PID $CODE_RATE" \
        "certbound-postgres $CB_PG_PORT $CB_PG_PID $CODE_RATE" "node-oidc-provider $NODE_PORT $NODE_PID $NODE_CODE_RATE"; do
        read -r name port pid rate <<<"$sys"
        # Exactly enough for this run at the estimated rate, minted right before it.
        count=$(awk -v w="$WARMUP" -v d="$DURATION" -v r="$rate" 'BEGIN { n = (w + d) * r; printf "%d", (n == int(n)) ? n : int(n) + 1 }')
        mint_codes "$name" "$count" | code_forms >"$FORMS" || die "minting $count codes on $name failed"
        [ "$(wc -l <"$FORMS")" -eq "$count" ] || die "$name: $(wc -l <"$FORMS") codes minted, $count asked for"
        result="code__${name}__keep-alive__c${c}__r${r}"
        measure "$result" "https://127.0.0.1:$port/token" --concurrency "$c" --forms-file "$FORMS" --cpu-of "$pid"
        # The codes nobody redeemed go, as they would expire unused (node's expire in memory).
        case $name in
          certbound-sqlite) python3 "$ROOT/bench/seed.py" "sqlite://$WORK/cb-sqlite/certbound.db" drop-unused-codes ;;
          certbound-postgres) python3 "$ROOT/bench/seed.py" "postgres://postgres@127.0.0.1:5432/$PG_DB" drop-unused-codes ;;
        esac || die "dropping the unused codes of $name failed"
        knob=BENCH_CODE_RATE
        [ "$name" = node-oidc-provider ] && knob=BENCH_NODE_CODE_RATE
        if [ "$(jq -r .requests "$RES/$result.json")" = 0 ]; then
          log "  $result: all $count codes went in the warm-up, nothing measured (raise $knob)"
        elif [ "$(jq -r .forms.exhausted "$RES/$result.json")" = true ]; then
          log "  $result used all $count codes after $(jq -r .duration_secs "$RES/$result.json") s of measuring (its rate is over that time; raise $knob for full runs)"
        fi
      done
    done
    log "  refresh token and code redemption c=$c done"
  done
  rm -f "$FORMS"
fi
if [ "$ONLY_GRANTS" = 1 ]; then
  python3 "$ROOT/bench/report.py" --grants-only "$RES" >&2
  log "done (BENCH_ONLY_GRANTS=1: no report written; raw results: $TARGET/bench-results)"
  exit 0
fi
kill "$NODE_PID" "$CB_PG_PID" 2>/dev/null || true

# ---------------------------------------------------------------- gateway
log "gateway: certbound gateway vs direct mTLS vs nginx, $RUNS rounds"
GW_PORT=$(free_port)
gateway_toml "$GW_PORT" "$CB_SQLITE_PORT" "$UP_PORT" >"$WORK/gateway.toml"
"${SERVER_CPU[@]}" "$CB" gateway --config "$WORK/gateway.toml" >"$WORK/gateway.log" 2>&1 &
GW_PID=$!
PIDS+=("$GW_PID")

NGINX_PORT=$(free_port)
NGINX_ID_PORT=$(free_port)
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
user root;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  upstream app { server 127.0.0.1:$UP_PORT; keepalive 128; }
  # Both servers terminate mTLS the same way and keep upstream connections.
  ssl_certificate $PKI/server.pem;
  ssl_certificate_key $PKI/server.key;
  ssl_client_certificate $CA;
  ssl_verify_client on;
  keepalive_requests 1000000;
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  server {
    listen 127.0.0.1:$NGINX_PORT ssl;
    location / { proxy_pass http://app; }
  }
  # The same proxy, also telling the upstream who the client is, as a proxy
  # in front of an mTLS-aware upstream does (as many headers as the gateway
  # adds). A level that sets headers inherits none, so Connection is repeated.
  server {
    listen 127.0.0.1:$NGINX_ID_PORT ssl;
    location / {
      proxy_pass http://app;
      proxy_set_header Connection "";
      proxy_set_header X-Client-Verify \$ssl_client_verify;
      proxy_set_header X-Client-DN \$ssl_client_s_dn;
      proxy_set_header X-Client-Serial \$ssl_client_serial;
      proxy_set_header X-Client-Fingerprint \$ssl_client_fingerprint;
      proxy_set_header X-Forwarded-For \$remote_addr;
    }
  }
}
EOF
"${SERVER_CPU[@]}" "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" >"$WORK/nginx.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")

TOKEN_FILE=$WORK/token
curl -sf --noproxy '*' "${CLIENT[@]}" -d "$FORM" "https://127.0.0.1:$CB_SQLITE_PORT/token" | jq -r .access_token >"$TOKEN_FILE"
wait_for "certbound gateway" "${CLIENT[@]}" -H "Authorization: Bearer $(cat "$TOKEN_FILE")" "https://127.0.0.1:$GW_PORT/api"
wait_for "nginx" "${CLIENT[@]}" "https://127.0.0.1:$NGINX_PORT/api"
wait_for "nginx (identity headers)" "${CLIENT[@]}" "https://127.0.0.1:$NGINX_ID_PORT/api"
# nginx's one worker does the work; its master only watches it.
NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -n1)
[ -n "$NGINX_WORKER" ] || die "nginx has no worker process"
# The gateway really checks: no token is 401, another certificate's is 401.
status=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' "${CLIENT[@]}" "https://127.0.0.1:$GW_PORT/api")
[ "$status" = 401 ] || die "gateway let a request without a token through ($status)"

for c in "${CONCURRENCY[@]}"; do
  for r in $(seq 1 "$RUNS"); do
    # CPU: the TLS endpoint first, then the upstream behind it.
    measure "gateway__certbound-gateway__keep-alive__c${c}__r${r}" "https://127.0.0.1:$GW_PORT/api" \
      --concurrency "$c" --bearer-file "$TOKEN_FILE" --cpu-of "$GW_PID" --cpu-of "$FIXED_PID"
    measure "gateway__direct__keep-alive__c${c}__r${r}" "https://127.0.0.1:$CEIL_PORT/api" \
      --concurrency "$c" --bearer-file "$TOKEN_FILE" --cpu-of "$FIXED_PID"
    measure "gateway__nginx__keep-alive__c${c}__r${r}" "https://127.0.0.1:$NGINX_PORT/api" \
      --concurrency "$c" --bearer-file "$TOKEN_FILE" --cpu-of "$NGINX_WORKER" --cpu-of "$FIXED_PID"
    measure "gateway__nginx-identity__keep-alive__c${c}__r${r}" "https://127.0.0.1:$NGINX_ID_PORT/api" \
      --concurrency "$c" --bearer-file "$TOKEN_FILE" --cpu-of "$NGINX_WORKER" --cpu-of "$FIXED_PID"
  done
  log "  gateway c=$c done"
done

# ---------------------------------------------------------------- start-up
log "start-up to /readyz (SQLite, existing database), $RUNS times"
kill "$CB_SQLITE_PID" 2>/dev/null || true
wait "$CB_SQLITE_PID" 2>/dev/null || true
STARTUP_MS=()
for _ in $(seq 1 "$RUNS"); do
  STARTUP_MS+=("$(python3 "$ROOT/bench/startup.py" --ca "$CA" --config "$WORK/cb-sqlite/certbound.toml" \
    --port "$CB_SQLITE_PORT" -- "${SERVER_CPU[@]}" "$CB" serve --config "$WORK/cb-sqlite/certbound.toml")")
done

# ---------------------------------------------------------------- report
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
cat >"$RES/meta.json" <<EOF
{
  "date": "$(date -u +%Y-%m-%dT%H:%MZ)",
  "nproc": $(nproc),
  "cpu": $(jq -Rn --arg v "${cpu_model:-unknown}" '$v'),
  "kernel": "$(uname -r)",
  "pinned": $PINNED,
  "duration_secs": $DURATION,
  "warmup_secs": $WARMUP,
  "runs": $RUNS,
  "token_body_bytes": $TOKEN_BODY_BYTES,
  "guest_halt_poll_ns": "$HALT_POLL_NS",
  "versions": {
    "certbound": "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)",
    "rustc": "$(rustc --version)",
    "node": "$(node --version)",
    "oidc-provider": "$(jq -r .version "$PEER_DIR/node_modules/oidc-provider/package.json")",
    "nginx": "$("$NGINX" -v 2>&1 | sed 's/.*nginx\///')",
    "openssl": "$(openssl version | cut -d' ' -f2)",
    "postgresql": "$(psql -h 127.0.0.1 -U postgres -tAc 'SHOW server_version' | tr -d ' ')"
  },
  "memory_kb": {
    "certbound_idle_rss": $IDLE_RSS_KB,
    "certbound_idle_peak": $IDLE_HWM_KB,
    "certbound_load_peak": $LOAD_HWM_KB,
    "certbound_after_load_rss": $LOAD_RSS_KB,
    "node_idle_rss": $NODE_IDLE_RSS_KB,
    "node_load_peak": $NODE_HWM_KB
  },
  "startup_ms": [$(IFS=,; echo "${STARTUP_MS[*]}")]
}
EOF
python3 "$ROOT/bench/report.py" "$RES" "$OUT"
log "done: wrote $OUT (raw results: $TARGET/bench-results)"
