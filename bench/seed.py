#!/usr/bin/env python3
"""Seed certbound's database with what the refresh-token and code-redemption
benchmarks redeem, as if a user had gone through the authorization code flow.
Works on a running server (or before it starts). Stdlib only; PostgreSQL
goes through `psql`.

    seed.py STORAGE_URL refresh --token RT
        One user, one grant and one refresh token RT (stored as its SHA-256).
    seed.py STORAGE_URL codes --count N --challenge C --redirect-uri URI
        N fresh authorization codes (each valid 60 s, the server's limit),
        printed one per line; PKCE S256 challenge C.
    seed.py STORAGE_URL drop-unused-codes
        Deletes the client's codes nobody redeemed, so a benchmark leaves no
        pile of dead rows for the server's hourly purge to meet mid-run.

STORAGE_URL is certbound's [storage] url: sqlite://PATH or postgres://...
Secrets are stored the way the server stores them: base64url (no padding)
SHA-256 of the value.
"""
import argparse
import base64
import hashlib
import re
import secrets
import sqlite3
import subprocess
import sys
import time

# The user the seeded grants belong to. Its password hash verifies no password.
USER_ID = "bench-user"
USERNAME = "bench-user"
NO_PASSWORD = "$argon2id$v=19$m=19456,t=2,p=1$c2VlZGVkLWJ5LWJlbmNo$" + "A" * 43
# The server refuses codes older than this (seconds).
CODE_TTL_MAX = 60
GRANT_TTL = 30 * 24 * 3600

SAFE = re.compile(r"^[A-Za-z0-9._~:/?=&%+,$ -]*$")


def sha256_b64url(value: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(value.encode()).digest()).rstrip(b"=").decode()


def literal(value) -> str:
    """An SQL literal; values are from a safe character set (checked)."""
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    if not SAFE.match(value):
        raise ValueError(f"refusing to seed the value {value!r}")
    return "'" + value.replace("'", "''") + "'"


class Db:
    """certbound's SQLite file (sqlite3) or PostgreSQL database (psql)."""

    def __init__(self, url: str):
        if url.startswith("sqlite://"):
            path = url[len("sqlite://"):].split("?", 1)[0]
            if not path:
                raise ValueError("sqlite:// URL without a path")
            # The server holds the database in WAL mode; wait for its locks.
            self.sqlite = sqlite3.connect(path, timeout=30)
            self.pg = None
        elif url.startswith(("postgres://", "postgresql://")):
            self.sqlite = None
            self.pg = url
        else:
            raise ValueError(f"unsupported storage URL {url!r} (sqlite://PATH or postgres://...)")

    def psql(self, command: str, stdin: str = ""):
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.pg, "-c", command],
                       input=stdin, text=True, check=True, stdout=subprocess.DEVNULL)

    def execute(self, sql: str, params: list):
        """One statement; `params` replace $1, $2... (safe values only for psql)."""
        if self.sqlite:
            self.sqlite.execute(re.sub(r"\$\d+", "?", sql), params)
            self.sqlite.commit()
        else:
            for i, v in reversed(list(enumerate(params, 1))):
                sql = sql.replace(f"${i}", literal(v))
            self.psql(sql)

    def insert_once(self, table: str, row: dict):
        """INSERT the row unless its primary key is already there."""
        cols = ", ".join(row)
        if self.sqlite:
            marks = ", ".join("?" for _ in row)
            self.sqlite.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING",
                                list(row.values()))
            self.sqlite.commit()
        else:
            values = ", ".join(literal(v) for v in row.values())
            self.psql(f"INSERT INTO {table} ({cols}) VALUES ({values}) ON CONFLICT DO NOTHING")

    def insert_many(self, table: str, cols: list, rows: list):
        """Many rows in one transaction (SQLite) or one COPY (PostgreSQL)."""
        if self.sqlite:
            marks = ", ".join("?" for _ in cols)
            self.sqlite.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)
            self.sqlite.commit()
        else:
            def field(v):
                if v is None:
                    return "\\N"
                text = str(v)
                if not SAFE.match(text):
                    raise ValueError(f"refusing to seed the value {text!r}")
                return text
            data = "".join("\t".join(field(v) for v in row) + "\n" for row in rows)
            self.psql(f"COPY {table} ({', '.join(cols)}) FROM STDIN", data)


def ensure_user(db: Db, now: int):
    db.insert_once("users", {
        "user_id": USER_ID, "username": USERNAME, "password_hash": NO_PASSWORD,
        "display_name": None, "email": None, "disabled": 0,
        "created_at": now, "updated_at": now,
    })


def seed_refresh(db: Db, args):
    now = int(time.time())
    ensure_user(db, now)
    # The grant id is derived from the token so seeding the same token twice changes nothing.
    grant_id = "bench-grant-" + sha256_b64url("grant:" + args.token)[:22]
    db.insert_once("grants", {
        "grant_id": grant_id, "client_id": args.client_id, "user_id": USER_ID,
        "scope": args.scope, "cnf_x5t_s256": None, "auth_time": now, "created_at": now,
        "expires_at": now + GRANT_TTL, "used_at": now, "revoked_at": None,
    })
    db.insert_once("refresh_tokens", {
        "token_hash": sha256_b64url(args.token), "grant_id": grant_id, "issued_at": now,
        "expires_at": now + GRANT_TTL, "rotated_at": None, "successor_hash": None,
        "sealed_response": None,
    })


def seed_codes(db: Db, args):
    now = int(time.time())
    ensure_user(db, now)
    codes = [secrets.token_urlsafe(32) for _ in range(args.count)]
    # redirect_uri_given = 1: the authorization request named it, as the
    # bench's token requests repeat it (RFC 6749 §4.1.3).
    cols = ["code_hash", "client_id", "user_id", "redirect_uri", "redirect_uri_given", "scope",
            "code_challenge", "nonce", "auth_time", "created_at", "expires_at", "redeemed_at",
            "grant_id"]
    rows = [(sha256_b64url(c), args.client_id, USER_ID, args.redirect_uri, 1, args.scope,
             args.challenge, None, now, now, now + args.ttl, None, None) for c in codes]
    db.insert_many("authorization_codes", cols, rows)
    sys.stdout.write("".join(c + "\n" for c in codes))


def drop_unused_codes(db: Db, args):
    db.execute("DELETE FROM authorization_codes WHERE client_id = $1 AND redeemed_at IS NULL",
               [args.client_id])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("storage_url")
    sub = p.add_subparsers(dest="what", required=True)
    r = sub.add_parser("refresh", help="one user, grant and refresh token")
    r.add_argument("--token", required=True)
    c = sub.add_parser("codes", help="N authorization codes, printed one per line")
    c.add_argument("--count", type=int, required=True)
    c.add_argument("--challenge", required=True, help="PKCE S256 code_challenge")
    c.add_argument("--redirect-uri", required=True)
    c.add_argument("--ttl", type=int, default=CODE_TTL_MAX, help="seconds (at most 60)")
    d = sub.add_parser("drop-unused-codes", help="delete the codes nobody redeemed")
    for s in (r, c, d):
        s.add_argument("--client-id", default="bench-client")
    for s in (r, c):
        s.add_argument("--scope", default="read")
    args = p.parse_args()
    if args.what == "refresh" and not re.fullmatch(r"[A-Za-z0-9_-]{16,512}", args.token):
        p.error("--token must be 16 to 512 base64url characters")
    if args.what == "codes":
        if not 1 <= args.count <= 1_000_000:
            p.error("--count must be from 1 to 1000000")
        if not 1 <= args.ttl <= CODE_TTL_MAX:
            p.error(f"--ttl must be from 1 to {CODE_TTL_MAX}")
        if not re.fullmatch(r"[A-Za-z0-9_-]{43}", args.challenge):
            p.error("--challenge must be a base64url SHA-256 (43 characters)")
    try:
        db = Db(args.storage_url)
        {"refresh": seed_refresh, "codes": seed_codes, "drop-unused-codes": drop_unused_codes}[args.what](db, args)
    except (ValueError, sqlite3.Error, subprocess.CalledProcessError, OSError) as e:
        print(f"seed.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
