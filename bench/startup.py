#!/usr/bin/env python3
"""Start a server command and print the milliseconds until its /readyz
answers 200 over TLS; then stop it. Used by bench/run.sh (stdlib only)."""
import argparse
import http.client
import ssl
import subprocess
import sys
import time


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--ca", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--config")
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("command", nargs="+")
    a = p.parse_args()
    ctx = ssl.create_default_context(cafile=a.ca)
    start = time.monotonic()
    proc = subprocess.Popen(a.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.monotonic() - start < a.timeout:
            if proc.poll() is not None:
                print(f"server exited with {proc.returncode} before it was ready", file=sys.stderr)
                return 1
            try:
                conn = http.client.HTTPSConnection("127.0.0.1", a.port, context=ctx, timeout=1)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    print(round((time.monotonic() - start) * 1000, 1))
                    return 0
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.002)
        print("not ready within the timeout", file=sys.stderr)
        return 1
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    sys.exit(main())
