#!/usr/bin/env python3
"""Turns a bench/soak.sh run into the "Soak" section of BENCHMARKS.md.

    soak_report.py RESULTS                      print the section
    soak_report.py RESULTS SOAK_MD BENCHMARKS   write it to SOAK_MD and put it
                                                into BENCHMARKS (replacing its
                                                "## Soak" section, if any)

RESULTS holds meta.json, samples.csv (bench/soak.sh's sampler), one
`certbound-bench load` JSON per minute and kind (mNN-KIND.json), and the
servers' logs (serve.log, gateway.log). Stdlib only.
"""
import csv
import json
import sys
from collections import Counter
from pathlib import Path

KINDS = [
    ("issue", "Token issuance (`POST /token`, client_credentials)"),
    ("gateway", "Gateway calls (`GET` through the gateway, bound JWT)"),
    ("introspect", "Introspection (`POST /introspect`, opaque token)"),
    ("revoke", "Revocation (`POST /revoke`, the same JWT each time)"),
]
GROWTH_GOAL = 0.10
# The section's heading; a later bench/run.sh copies bench/soak.md as it is.
HEADING = "## Soak"
# Where the section goes in a BENCHMARKS.md that has none yet: before the
# notes (bench/report.py copies profiles.md, soak.md, then notes.md).
BEFORE = "## Where the time goes (profiles)"


def ms(v: float) -> str:
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def mean(values):
    values = list(values)
    return sum(values) / len(values) if values else None


def load_runs(res: Path, minutes: int):
    """{(minute, kind): load report} for every run that wrote one."""
    runs = {}
    for m in range(1, minutes + 1):
        for kind, _ in KINDS:
            f = res / f"m{m:02d}-{kind}.json"
            if f.exists():
                runs[(m, kind)] = json.loads(f.read_text())
    return runs


def load_samples(res: Path):
    rows = []
    with open(res / "samples.csv", newline="") as f:
        for row in csv.DictReader(f):
            try:
                rows.append({k: (v if k == "minute" else float(v)) for k, v in row.items()})
            except ValueError:
                # A process was gone when sampled: keep the row, flagged.
                rows.append({**row, "t": float(row["t"]), "broken": True})
    return rows


def log_levels(path: Path):
    """WARN and ERROR lines of a JSON log (tracing's format; the plain lines
    a server prints when it starts are not log entries), and their messages."""
    levels, messages = Counter(), Counter()
    if not path.exists():
        return levels, messages
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        level = entry.get("level", "?")
        if level in ("WARN", "ERROR"):
            levels[level] += 1
            fields = entry.get("fields", {})
            messages[f"{level} {fields.get('event') or fields.get('message', '')}"] += 1
    return levels, messages


def growth(samples, minutes: int, key: str):
    """(minute-2 mean, last-minute mean, growth) of one sampled column."""
    if minutes < 3:
        return None
    base = mean(s[key] for s in samples if s["minute"] == "2" and not s.get("broken"))
    last = mean(s[key] for s in samples if s["minute"] == str(minutes) and not s.get("broken"))
    if not base or last is None:
        return None
    return base, last, (last - base) / base


def cpu_per_minute(samples, minutes: int, key: str, tck: int):
    """CPU seconds of one process per minute: the ticks between the last
    sample taken in the previous minute (the start sample for minute 1) and
    the last one taken in this minute."""
    last_of = {}
    for s in samples:
        if not s.get("broken"):
            last_of[s["minute"]] = s[key]
    out = {}
    for m in range(1, minutes + 1):
        prev, cur = last_of.get(str(m - 1)), last_of.get(str(m))
        if prev is not None and cur is not None:
            out[m] = (cur - prev) / tck
    return out


def section(res: Path) -> str:
    meta = json.loads((res / "meta.json").read_text())
    minutes = meta["minutes"]
    runs = load_runs(res, minutes)
    samples = load_samples(res)
    lines = []
    w = lines.append

    errors = sum(r["errors"] for r in runs.values())
    requests = sum(r["requests"] for r in runs.values())
    missing = minutes * len(KINDS) - len(runs)
    broken = sum(1 for s in samples if s.get("broken"))
    loads = [s["loadavg1"] for s in samples if not s.get("broken") and s["minute"] not in ("0", "end")]

    w(HEADING)
    w("")
    w(f"Started {meta['date']} on {meta['nproc']} CPUs ({meta['cpu']}, Linux {meta['kernel']}), "
      f"certbound {meta['commit']} ({meta['profile']} profile), PostgreSQL {meta['postgresql']}; "
      f"rerun: `bash bench/soak.sh` (about {minutes + 3} minutes with the build done).")
    if meta["rate"]:
        pacing = (f"each paced at {meta['rate']:g} requests/s (`load --rate`: a fixed schedule; "
                  f"latency runs from the send), so {4 * meta['rate']:g} requests/s in all")
    else:
        pacing = ("back to back with no pacing (`SOAK_RATE=0`), so the machine is saturated "
                  "and latency includes queueing behind the other kinds")
    w(f"{minutes} minute{'s' if minutes != 1 else ''} of mixed traffic against `certbound serve` on PostgreSQL and "
      f"`certbound gateway` (JWT validation, polling the AS's revocation list every 15 s, in "
      f"front of `certbound-bench fixed-server`): each minute, four `certbound-bench load` "
      f"runs of 60 s side by side, {meta['concurrency']} keep-alive workers each, {pacing}. "
      f"Nothing is pinned. "
      f"1-minute load average: {meta['load_start'].split()[0]} at the start, "
      f"{mean(loads):.2f} mean and {max(loads):.2f} highest over the samples, "
      f"{meta['load_end'].split()[0]} at the end (the machine is shared; other work shows up here).")
    w("")
    w("- Issuance: `grant_type=client_credentials`, a bound ES256 JWT each time (no database write).")
    w("- Gateway: one bound JWT minted at the start, sent with the certificate it is bound to.")
    w("- Introspection: the gateway's client (`--may-introspect`) introspects one opaque token "
      "(a database read each time).")
    w("- Revocation: a fixed body revoking one of the client's JWTs, revoked before the soak; "
      "RFC 7009 answers 200 and the server verifies the token, finds it and writes the same "
      "revocation row again, so every request writes without the revocation list growing "
      "(fresh tokens per minute would grow it, and the gateway's copy, by design).")
    w("- The AS's PostgreSQL pool is fixed at its 16 connections (`storage.min_connections = 16`, "
      "as HikariCP advises for production): a pool that opens connections as requests overlap "
      "adds up to 16 descriptors at moments the load decides, which this growth figure would "
      "count although they are bounded.")
    w(f"- Every {meta['sample_secs']} s: VmRSS (`/proc/PID/status`), entries of `/proc/PID/fd` and "
      f"CPU time (`/proc/PID/stat`) of the AS and the gateway. **Growth after warm-up** = "
      f"(mean of the samples taken during the last minute − mean of those taken during "
      f"minute 2) ÷ mean of minute 2; minute 1 is the warm-up. Goal: under 10% for RSS and "
      f"open files of both processes, and zero errors (any status but 200, connect, TLS, "
      f"I/O failure or 10 s timeout counts).")
    w("")

    # ---- verdict
    w("| check | AS (`serve`) | gateway | goal | result |")
    w("|---|--:|--:|---|---|")
    ok_all = True
    for label, col in (("RSS", "rss_kb"), ("open file descriptors", "fds")):
        cells, ok = [], True
        for proc in ("as", "gw"):
            g = growth(samples, minutes, f"{proc}_{col}")
            if g is None:
                cells.append("n/a")
                ok = False
                continue
            base, last, frac = g
            shown = (f"{base / 1024:.1f} → {last / 1024:.1f} MB" if col == "rss_kb"
                     else f"{base:.1f} → {last:.1f}")
            cells.append(f"{shown} ({frac * 100:+.1f}%)")
            ok = ok and frac < GROWTH_GOAL
        ok_all = ok_all and ok
        verdict = "met" if ok else ("not measured (under 3 minutes)" if minutes < 3 else "**not met**")
        w(f"| {label}, minute 2 → minute {minutes} | {cells[0]} | {cells[1]} | < 10% | {verdict} |")
    err_ok = errors == 0 and missing == 0 and broken == 0
    ok_all = ok_all and err_ok
    extra = []
    if missing:
        extra.append(f"{missing} load runs missing")
    if broken:
        extra.append(f"{broken} samples found a process gone")
    w(f"| errors, all kinds and minutes | {errors} of {requests:,} requests"
      f"{'; ' + '; '.join(extra) if extra else ''} | | 0 | {'met' if err_ok else '**not met**'} |")
    w("")
    for name, label in (("serve.log", "AS"), ("gateway.log", "gateway")):
        levels, messages = log_levels(res / name)
        if sum(levels.values()):
            shown = ", ".join(f"{m} ×{n}" for m, n in messages.most_common(5))
            w(f"- {label} log: {levels['WARN']} WARN and {levels['ERROR']} ERROR lines ({shown}).")
        else:
            w(f"- {label} log: no WARN or ERROR line.")
    if minutes < 3:
        overall = "growth not measured (under 3 minutes)" + ("" if err_ok else "; **errors**")
    else:
        overall = "**all goals met**" if ok_all else "**goals not met**"
    w(f"- Overall: {overall}.")
    w("")

    # ---- per minute overview
    tck = meta["clk_tck"]
    as_cpu = cpu_per_minute(samples, minutes, "as_cpu_ticks", tck)
    gw_cpu = cpu_per_minute(samples, minutes, "gw_cpu_ticks", tck)
    w("### Per minute")
    w("")
    w("Requests of all four kinds and errors; mean RSS and open files over the minute's samples; "
      "CPU time over the minute (between samples, so ± one sampling interval) per request the "
      "process served (AS: issuance, introspection, revocation; gateway: gateway calls); "
      "mean 1-minute load average.")
    w("")
    w("| minute | requests | errors | AS RSS MB | AS fds | AS CPU µs/req | gateway RSS MB | "
      "gateway fds | gateway CPU µs/req | load avg |")
    w("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for m in range(1, minutes + 1):
        ms_ = [s for s in samples if s["minute"] == str(m) and not s.get("broken")]
        reqs = sum(runs[(m, k)]["requests"] for k, _ in KINDS if (m, k) in runs)
        errs = sum(runs[(m, k)]["errors"] for k, _ in KINDS if (m, k) in runs)
        as_reqs = sum(runs[(m, k)]["requests"] for k in ("issue", "introspect", "revoke") if (m, k) in runs)
        gw_reqs = runs[(m, "gateway")]["requests"] if (m, "gateway") in runs else 0

        def avg(key, scale=1.0, digits=1, rows=ms_):
            v = mean(s[key] for s in rows)
            return "–" if v is None else f"{v / scale:.{digits}f}"

        def per_req(cpu, n):
            return f"{cpu[m] * 1e6 / n:.0f}" if m in cpu and n else "–"

        w(f"| {m} | {reqs:,} | {errs} | {avg('as_rss_kb', 1024)} | {avg('as_fds')} | "
          f"{per_req(as_cpu, as_reqs)} | {avg('gw_rss_kb', 1024)} | {avg('gw_fds')} | "
          f"{per_req(gw_cpu, gw_reqs)} | {avg('loadavg1', digits=2)} |")
    w("")

    # ---- per kind latency
    w("### Latency per minute and kind")
    w("")
    w("Milliseconds, successful requests only, from `certbound-bench load` (HdrHistogram).")
    for kind, label in KINDS:
        w("")
        w(f"**{label}**")
        w("")
        w("| minute | requests | req/s | errors | p50 | p90 | p99 | max |")
        w("|--:|--:|--:|--:|--:|--:|--:|--:|")
        for m in range(1, minutes + 1):
            r = runs.get((m, kind))
            if r is None:
                w(f"| {m} | – | – | – | – | – | – | – |")
                continue
            lat = r["latency_ms"]
            w(f"| {m} | {r['requests']:,} | {r['rps']:,.0f} | {r['errors']} | {ms(lat['p50'])} | "
              f"{ms(lat['p90'])} | {ms(lat['p99'])} | {ms(lat['max'])} |")
            for sample in r.get("error_samples", []):
                w(f"|  | error: {sample} | | | | | | |")
    w("")

    # ---- every sample
    w("### Every sample")
    w("")
    w("| t (s) | minute | AS RSS MB | AS fds | gateway RSS MB | gateway fds | load avg |")
    w("|--:|--:|--:|--:|--:|--:|--:|")
    for s in samples:
        minute = {"0": "start", "end": "after"}.get(s["minute"], s["minute"])
        if s.get("broken"):
            w(f"| {s['t']:.0f} | {minute} | gone | | | | |")
            continue
        w(f"| {s['t']:.0f} | {minute} | {s['as_rss_kb'] / 1024:.1f} | {s['as_fds']:.0f} | "
          f"{s['gw_rss_kb'] / 1024:.1f} | {s['gw_fds']:.0f} | {s['loadavg1']:.2f} |")
    return "\n".join(lines) + "\n"


def splice(benchmarks: Path, text: str):
    """Puts the section into BENCHMARKS.md: in place of its "## Soak" section
    (up to the next level-2 heading), else before the notes, else at the end."""
    lines = benchmarks.read_text().splitlines(keepends=True)
    new = [text, "\n"]
    heads = [i for i, line in enumerate(lines) if line.startswith("## ")]
    start = next((i for i in heads if lines[i].rstrip() == HEADING), None)
    if start is not None:
        end = next((i for i in heads if i > start), len(lines))
        lines[start:end] = new
    else:
        at = next((i for i in heads if lines[i].rstrip() == BEFORE), len(lines))
        lines[at:at] = new
    benchmarks.write_text("".join(lines))


def main() -> int:
    if len(sys.argv) not in (2, 4):
        print(__doc__, file=sys.stderr)
        return 2
    text = section(Path(sys.argv[1]))
    if len(sys.argv) == 2:
        sys.stdout.write(text)
        return 0
    Path(sys.argv[2]).write_text(text)
    splice(Path(sys.argv[3]), text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
