#!/usr/bin/env bash
# Runs every test, on a fresh machine too: installs the external clients the
# interop tests drive (curl, openssl, psql, nginx, PyJWT ...), starts the local
# PostgreSQL if it is down, then runs `cargo test --workspace --locked`.
# Arguments go to cargo test (`bash scripts/test.sh -p certbound-gateway`).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else
    echo "installing Debian packages needs root or sudo: $*" >&2
    return 1
  fi
}

# Debian package : the command the tests run.
missing=()
for pair in curl:curl openssl:openssl coreutils:basenc postgresql-client:psql \
  python3:python3 python3-pip:pip3 nginx:nginx procps:/bin/kill \
  chromium:chromium chromium-driver:chromedriver nodejs:node npm:npm; do
  command=${pair#*:}
  command -v "$command" >/dev/null 2>&1 || [ -x "/usr/sbin/$command" ] || missing+=("${pair%%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing from Debian: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python clients that check our tokens independently.
if ! python3 -c "import jwt, requests, cryptography, yaml" >/dev/null 2>&1; then
  echo "installing PyJWT, cryptography, requests and PyYAML from PyPI"
  packages=("PyJWT[crypto]>=2.8" "requests>=2.31" "PyYAML>=6")
  python3 -m pip install --quiet "${packages[@]}" 2>/dev/null \
    || python3 -m pip install --quiet --user "${packages[@]}" 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages "${packages[@]}"
fi

# The browser tests drive Debian's Chromium through playwright-core (its
# own browser download is never used: login.mjs points at /usr/bin/chromium).
(cd interop/node && npm ci --no-audit --no-fund --loglevel=error)

# The PostgreSQL tests need a server on 127.0.0.1:5432 (trust auth, user postgres).
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && break; sleep 1; done
  pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null || {
    echo "PostgreSQL is not reachable on 127.0.0.1:5432 (trust auth, user postgres); start it and rerun" >&2
    exit 1
  }
fi

exec cargo test --workspace --locked "$@"
