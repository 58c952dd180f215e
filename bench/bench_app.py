"""Bench-only WSGI entry: the real app plus one plain-INSERT endpoint, never part of the product.

Served by gunicorn as `bench.bench_app:create_bench_app()` (see ledger_throughput.py). The
endpoint POST /bench/plain parses the same body a consent POST sends (form or JSON), inserts ONE row of
CGBENCH_PAYLOAD_BYTES bytes into `bench_plain` through the app's own Flask-SQLAlchemy session,
commits and answers 204. It lives in the same app, the same gunicorn and the same engine and pool
settings as /s/<slug>/consent, so the two differ only by what the service does.

POST /bench/bare (api_throughput.py) is the floor of a JSON API call in this app and server: it
parses the JSON body as the API does and answers a small constant JSON object, touching no
database, no key and no rate limit. POST /bench/one_query does the same plus one `SELECT 1` on the
hot path's connection (cookiegate/hotpath.py): the ceiling of any answer that asks the database
once, shown beside the subject-state figure.
"""
from __future__ import annotations

import json
import os
import secrets

from flask import Flask, request
from sqlalchemy import BigInteger, Column, Integer, MetaData, Table, Text, insert

from cookiegate import create_app
from cookiegate.extensions import csrf, db
from cookiegate.hotpath import fetch_one

PAYLOAD_ENV = "CGBENCH_PAYLOAD_BYTES"

# Its own MetaData: the table is invisible to the app's models and migrations.
bench_metadata = MetaData()
bench_plain = Table(
    "bench_plain", bench_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("payload", Text, nullable=False),
)


def random_payload(nbytes: int) -> str:
    """An ASCII string of exactly nbytes bytes, different on every call (no compression gains)."""
    return secrets.token_hex((nbytes + 1) // 2)[:nbytes]


_INSERT_PLAIN = insert(bench_plain)  # prebuilt, as the service's statements are
_SELECT_ONE = ("SELECT 1", "SELECT 1")  # (PostgreSQL's form, SQLite's), as hotpath.fetch_one takes them


def insert_plain(payload: str) -> None:
    """One row, one transaction, through the same session machinery the service uses."""
    db.session.connection().execute(_INSERT_PLAIN, {"payload": payload})
    db.session.commit()


def create_bench_app() -> Flask:
    app = create_app()
    nbytes = int(os.environ.get(PAYLOAD_ENV, "1024"))

    def bench_plain_insert():
        if request.mimetype == "application/x-www-form-urlencoded":
            request.form.get("csrf_token")  # parse the body like the consent form does
        else:
            json.loads(request.get_data() or b"null")  # like the embed endpoint does
        insert_plain(random_payload(nbytes))
        return "", 204

    def bench_bare():
        json.loads(request.get_data() or b"null")
        return {"ok": True, "bench": "bare"}

    def bench_one_query():
        json.loads(request.get_data() or b"null")
        fetch_one(_SELECT_ONE, {})
        return {"ok": True, "bench": "one_query"}

    app.add_url_rule("/bench/plain", "bench_plain_insert", bench_plain_insert, methods=["POST"])
    app.add_url_rule("/bench/bare", "bench_bare", bench_bare, methods=["POST"])
    app.add_url_rule("/bench/one_query", "bench_one_query", bench_one_query, methods=["POST"])
    for view in (bench_plain_insert, bench_bare, bench_one_query):
        csrf.exempt(view)
    return app
