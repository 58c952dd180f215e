"""`cookiegate serve`: gunicorn in production; several app nodes on one PostgreSQL database."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cookiegate.extensions import db
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.verify import verify_log
from cookiegate.sites.services import current_notice
from tests.conftest import build_test_app, create_pg_database, drop_pg_database, free_port, pg_url, require_postgres
from tests.factories import make_site

ORIGIN = "https://shop.example"
DECISIONS = 400


def start_node(url: str, instance: Path, port: int, log: Path, **settings: str) -> subprocess.Popen:
    """One app node: `cookiegate serve` with 2 workers; every node shares the database and keys.
    `settings` are more COOKIEGATE_* variables, e.g. RATELIMIT_STORAGE_URI="redis://..."."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOKIEGATE_")}
    env.update(COOKIEGATE_DATABASE_URL=url, COOKIEGATE_INSTANCE_PATH=str(instance),
               COOKIEGATE_SECRET_KEY="test-secret", COOKIEGATE_LEDGER_KEY_FILE=str(instance / "ledger.pem"),
               COOKIEGATE_LEDGER_SEQUENCE_INTERVAL="0.2", COOKIEGATE_CONSENT_RATE_LIMIT="100000 per minute",
               **{f"COOKIEGATE_{name}": value for name, value in settings.items()})
    command = [sys.executable, "-c", "from cookiegate.cli import main; main()", "serve",
               "--bind", f"127.0.0.1:{port}", "--workers", "2"]
    return subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_until_up(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"node on {port} did not answer:\n{log.read_text()}")


def post_decision(port: int, slug: str, notice: str) -> int:
    body = {"id": str(uuid.uuid4()), "consent_id": str(uuid.uuid4()), "notice": notice, "lang": "nl",
            "action": "accept_all", "layer": 1, "choices": {"analytics": True, "tracking": True, "marketing": True},
            "gpc": False, "consent_mode": None, "path": "/"}
    request = urllib.request.Request(f"http://127.0.0.1:{port}/s/{slug}/consent.json", method="POST",
                                     data=json.dumps(body).encode(), headers={"Origin": ORIGIN,
                                                                              "Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


@pytest.mark.slow
def test_two_app_nodes_on_one_postgresql_take_concurrent_writes(tmp_path):
    require_postgres()
    name = create_pg_database()
    url = pg_url(name)
    nodes: list[subprocess.Popen] = []
    try:
        app = build_test_app(url, tmp_path)
        with app.app_context():
            site = make_site(allowed_origins=[ORIGIN])
            slug, notice = site.slug, current_notice(site).sha256
        ports = [free_port(), free_port()]
        nodes = [start_node(url, tmp_path, port, tmp_path / f"node{i}.log") for i, port in enumerate(ports)]
        for i, (port, node) in enumerate(zip(ports, nodes)):
            wait_until_up(port, node, tmp_path / f"node{i}.log")
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda n: post_decision(ports[n % 2], slug, notice), range(DECISIONS)))
        assert statuses == [201] * DECISIONS
        with app.app_context():
            deadline = time.monotonic() + 30
            while True:  # the nodes' sequencers append and sign in batches
                report = verify_log(site=site, keys=current_keys())
                db.session.remove()
                if report.entries == DECISIONS or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
            assert report.ok, report.problems
            assert (report.entries, report.pending) == (DECISIONS, 0)
            db.engine.dispose()
    finally:
        for node in nodes:
            if node.poll() is None:
                os.killpg(node.pid, signal.SIGTERM)
                node.wait(15)
        drop_pg_database(name)
