#!/usr/bin/env bash
# What each build profile costs: a cold build of the `certbound` binary under
# `release` (what the README's first command builds) and under `dist` (fat
# LTO, one codegen unit: what deployments and bench/run.sh build), each into
# an empty target directory, then both binaries side by side on token
# issuance and on the gateway (bench/ab.sh, A = dist, B = release). Writes
# bench/profiles.md, which bench/report.py copies into BENCHMARKS.md.
#
#   bash bench/profiles.sh
#
# Run it on a quiet host: build times are wall-clock. Knobs: BENCH_DURATION,
# BENCH_RUNS (default 3 here), BENCH_CONCURRENCY (default "1 16 64").
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=$ROOT/bench/profiles.md
WORK=$(mktemp -d /tmp/certbound-profiles.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export BENCH_RUNS=${BENCH_RUNS:-3}

# Dependencies are downloaded first so the timings are of building only.
cargo fetch --locked -q

declare -A SECONDS_FOR BIN
for profile in release dist; do
  echo "cold build, profile $profile" >&2
  start=$(date +%s.%N)
  CARGO_TARGET_DIR=$WORK/target-$profile cargo build --profile "$profile" --locked -q -p certbound
  end=$(date +%s.%N)
  SECONDS_FOR[$profile]=$(python3 -c "print(f'{$end - $start:.0f}')")
  BIN[$profile]=$WORK/bin-$profile
  cp "$WORK/target-$profile/$profile/certbound" "${BIN[$profile]}"
  size=$(stat -c %s "${BIN[$profile]}")
  declare "size_$profile=$(python3 -c "print(f'{$size / 1e6:.1f}')")"
  rm -rf "$WORK/target-$profile"
done

echo "token issuance, dist (A) against release (B)" >&2
bash bench/ab.sh token "${BIN[dist]}" "${BIN[release]}" >"$WORK/token.md"
echo "gateway, dist (A) against release (B)" >&2
bash bench/ab.sh gateway "${BIN[dist]}" "${BIN[release]}" >"$WORK/gateway.md"

median() { # table.md c -> median B ÷ A req/s at that concurrency
  awk -F'|' -v c="$2" '$2+0 == c && $6 ~ /[0-9]/ {print $6+0}' "$1" | sort -n |
    awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'
}
{
  echo "## Build profiles"
  echo
  echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) CPUs, certbound $(git rev-parse --short HEAD), $(rustc --version | cut -d' ' -f1-2); rerun: \`bash bench/profiles.sh\`."
  echo "Cold build of the \`certbound\` binary into an empty target directory (dependencies already downloaded),"
  echo "then both binaries side by side (\`bench/ab.sh\`, $BENCH_RUNS alternating rounds per concurrency; A = dist, B = release)."
  echo
  echo "| profile | settings | cold build | binary | token req/s ÷ dist (c=1 / 16 / 64) | gateway req/s ÷ dist (c=1 / 16 / 64) |"
  echo "|---|---|--:|--:|--:|--:|"
  echo "| \`release\` (\`cargo run --release\`, the README's demo) | opt-level 2, no LTO, 16 codegen units | ${SECONDS_FOR[release]} s | ${size_release} MB | $(median "$WORK/token.md" 1) / $(median "$WORK/token.md" 16) / $(median "$WORK/token.md" 64) | $(median "$WORK/gateway.md" 1) / $(median "$WORK/gateway.md" 16) / $(median "$WORK/gateway.md" 64) |"
  echo "| \`dist\` (\`cargo build --profile dist\`, deployments, \`bench/run.sh\`) | fat LTO, 1 codegen unit | ${SECONDS_FOR[dist]} s | ${size_dist} MB | 1 | 1 |"
  echo
  echo "Token issuance, every round:"
  echo
  cat "$WORK/token.md"
  echo
  echo "Gateway, every round:"
  echo
  cat "$WORK/gateway.md"
} >"$OUT"
echo "wrote $OUT" >&2
