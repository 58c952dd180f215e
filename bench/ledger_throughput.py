#!/usr/bin/env python
"""Ledger throughput: consent events recorded per second vs. a plain single-row INSERT of the
same size on the same backend, in-process and over HTTP, printed as ratios (target >= 0.7).

    python bench/ledger_throughput.py [--events N] [--backend sqlite|postgresql|all]

Per backend: a fresh database (SQLite file in a temp dir / a PostgreSQL database created and
dropped), migrated with the app's migrations, one site, plus the bench-only table `bench_plain`.

  service       N x record_consent(...) in an app context, one transaction each (a new consent
                id each time; no `new_subject`, so the subject lookup is included), vs. N x one INSERT into bench_plain of a
                payload as large as one recorded event's stored data (leaf JSON + leaf hash + seal
                + personal row: salt + JSON), committed each time through the same
                Flask-SQLAlchemy session. Run in alternating slices so drift hits both alike.
  http          gunicorn (2 sync workers, background sequencer every 1 s as in production)
                serving bench.bench_app:create_bench_app(); wrk (-t2 -c8) POSTs the real hosted
                banner form to /s/<slug>/consent (session cookie + CSRF token fetched once), vs.
                the same body POSTed to /bench/plain in the same app and server. Alternating
                phases; after each consent phase the sequencer is let drain the pending queue.

Figures also go to bench/results/ledger_throughput.json. Exit status: 0 all ratios pass,
1 a ratio is below target, 2 the benchmark could not run. Traffic only to 127.0.0.1.
"""
from __future__ import annotations

import argparse
import cProfile
import html
import json
import os
import pstats
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET = 0.7
SECRET = "bench-secret-not-for-production"
RESULTS = ROOT / "bench" / "results" / "ledger_throughput.json"
USER_AGENTS = [  # a few common families: production traffic repeats them (the parser caches)
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
]
WRK_THREADS, WRK_CONNECTIONS = 2, 8


class BenchError(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- databases and app

@contextmanager
def fresh_database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    from tests.conftest import create_pg_database, drop_pg_database, pg_url, postgres_answers

    if not postgres_answers():
        raise BenchError("PostgreSQL does not answer at 127.0.0.1:5432")
    name = create_pg_database()
    try:
        yield pg_url(name)
    finally:
        drop_pg_database(name)


def build_app(url: str, instance: Path):
    """The production app (not TESTING), without the background sequencer in this process."""
    import logging

    from flask_migrate import upgrade

    from bench.bench_app import bench_metadata
    from cookiegate import create_app
    from cookiegate.extensions import db
    from tests.factories import make_site

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET,
                      "LEDGER_KEY_FILE": str(instance / "ledger.pem"), "LEDGER_SEQUENCE_INTERVAL": 0})
    with app.app_context():
        logging.disable(logging.INFO)  # alembic's per-migration INFO lines
        try:
            upgrade()
        finally:
            logging.disable(logging.NOTSET)
        bench_metadata.create_all(db.engine)
        slug = make_site().slug
        db.session.remove()
    return app, slug


def db_counts(app) -> dict[str, int]:
    from sqlalchemy import text

    from cookiegate.extensions import db

    with app.app_context():
        row = db.session.execute(text(
            "SELECT (SELECT count(*) FROM consent_event), (SELECT count(*) FROM bench_plain), "
            "(SELECT count(*) FROM ledger_pending)")).one()
        db.session.remove()
    return {"events": row[0], "plain": row[1], "pending": row[2]}


def stored_event_size(app, after_pk: int = 0) -> dict[str, int]:
    """Mean stored bytes of one event: leaf JSON + leaf hash + seal + personal row (salt + JSON);
    after_pk limits it to the events recorded after that key."""
    from sqlalchemy import text

    from cookiegate.extensions import db

    with app.app_context():
        rows = db.session.execute(text(
            "SELECT e.leaf, e.leaf_hash, e.seal, p.salt, CAST(p.data AS TEXT) FROM consent_event e "
            "JOIN event_personal p ON p.event_pk = e.id WHERE e.id > :after"), {"after": after_pk}).all()
        db.session.remove()
    if not rows:
        raise BenchError("no recorded events to measure")
    parts = {"leaf": 0, "leaf_hash": 0, "seal": 0, "salt": 0, "personal_json": 0}
    for leaf, digest, seal, salt, data in rows:
        parts["leaf"] += len(leaf.encode())
        parts["leaf_hash"] += len(digest)
        parts["seal"] += len(seal)
        parts["salt"] += len(salt)
        parts["personal_json"] += len(data.encode())
    parts = {k: round(v / len(rows)) for k, v in parts.items()}
    parts["total"] = sum(parts.values())
    return parts


# --------------------------------------------------------------------------- in-process

def service_slice(app, slug: str, count: int, new_subject: bool = True) -> float:
    """Seconds for `count` record_consent calls, one transaction each, a new consent id each
    time; new_subject=False makes each call look up the subject's history, as for a returning
    visitor (or a decision posted by the embedded banner)."""
    from cookiegate.extensions import db
    from cookiegate.ledger.record import Context, Interaction, record_consent
    from cookiegate.sites.services import current_notice, site_by_slug

    ids = [str(uuid.uuid4()) for _ in range(count)]
    interaction = Interaction(channel="banner", action="accept_all", layer=1)
    contexts = [Context(origin="http://127.0.0.1", path=f"/s/{slug}/", ip=f"203.0.113.{i % 250}",
                        user_agent=USER_AGENTS[i % len(USER_AGENTS)]) for i in range(count)]
    with app.app_context():
        site = site_by_slug(slug)
        notice = current_notice(site)
        choices = {"analytics": True, "tracking": True, "marketing": True}
        started = time.perf_counter()
        for consent_id, context in zip(ids, contexts):
            record_consent(site=site, notice=notice, consent_id=consent_id, choices=choices,
                           language="nl", interaction=interaction, context=context,
                           new_subject=new_subject)
        elapsed = time.perf_counter() - started
        db.session.remove()
    return elapsed


def plain_slice(app, payload_bytes: int, count: int) -> float:
    """Seconds for `count` single-row INSERTs of payload_bytes, committed each time."""
    from bench.bench_app import insert_plain, random_payload
    from cookiegate.extensions import db

    payloads = [random_payload(payload_bytes) for _ in range(count)]
    with app.app_context():
        started = time.perf_counter()
        for payload in payloads:
            insert_plain(payload)
        elapsed = time.perf_counter() - started
        db.session.remove()
    return elapsed


def plain_driver_slice(app, payload_bytes: int, count: int) -> float:
    """Seconds for `count` single-row INSERTs of payload_bytes, each its own transaction through
    hotpath.write_rows: the driver-level machinery record_consent writes with (information:
    what the ledger's four extra B-trees and its Python cost against the floor)."""
    from bench.bench_app import random_payload
    from cookiegate.extensions import db
    from cookiegate.hotpath import write_rows

    payloads = [random_payload(payload_bytes) for _ in range(count)]
    with app.app_context():
        mark = "%s" if db.engine.dialect.name == "postgresql" else "?"
        sql = f"INSERT INTO bench_plain (payload) VALUES ({mark}) RETURNING id"
        started = time.perf_counter()
        for payload in payloads:
            write_rows([(sql, (payload,))])
        elapsed = time.perf_counter() - started
    return elapsed


def measure_in_process(app, slug: str, events: int, slices: int, budget: float) -> dict[str, Any]:
    service_slice(app, slug, 100)  # warm-up: caches, pool, statement compilation; also sized below
    size = stored_event_size(app)
    plain_slice(app, size["total"], 100)
    per_slice = max(1, events // slices)
    plain_driver_slice(app, size["total"], 100)
    service_times, lookup_times, plain_times, driver_times = [], [], [], []
    started = time.monotonic()
    for _ in range(slices):  # alternate, so machine noise lands on all of them
        service_times.append(service_slice(app, slug, per_slice))
        lookup_times.append(service_slice(app, slug, per_slice, new_subject=False))
        plain_times.append(plain_slice(app, size["total"], per_slice))
        driver_times.append(plain_driver_slice(app, size["total"], per_slice))
        if time.monotonic() - started > budget:
            break  # a loaded machine: fewer, still paired, slices keep the run bounded
    n = per_slice * len(service_times)
    service_rate, lookup_rate, plain_rate = n / sum(service_times), n / sum(lookup_times), n / sum(plain_times)
    slice_ratios = [p / s for s, p in zip(service_times, plain_times)]
    return {"events": n, "requested": per_slice * slices, "payload_bytes": size, "service_per_s": service_rate,
            "plain_per_s": plain_rate, "ratio": service_rate / plain_rate,
            "slice_ratios": [round(r, 3) for r in slice_ratios],
            "lookup_per_s": lookup_rate, "lookup_ratio": lookup_rate / plain_rate,
            "service_ms_per_event": 1000 * sum(service_times) / n,
            "lookup_ms_per_event": 1000 * sum(lookup_times) / n,
            "plain_ms_per_row": 1000 * sum(plain_times) / n,
            "driver_plain_per_s": n / sum(driver_times), "driver_ratio": service_rate / (n / sum(driver_times)),
            "driver_plain_ms_per_row": 1000 * sum(driver_times) / n}


def profile_service(app, slug: str, count: int, out: Path) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    service_slice(app, slug, count)
    profiler.disable()
    out.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(str(out))
    print(f"\n  cProfile of {count} record_consent calls ({out.relative_to(ROOT)}), top by cumulative time:")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


def sequence_everything(app) -> None:
    from cookiegate.extensions import db
    from cookiegate.ledger.log import sequence_all

    with app.app_context():
        sequence_all(origin_base=app.config["LEDGER_ORIGIN"])
        db.session.remove()


# --------------------------------------------------------------------------- over HTTP

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """gunicorn -w 2 serving the bench app; always stopped (its whole process group) on exit."""

    def __init__(self, url: str, instance: Path, payload_bytes: int, extra_env: dict[str, str] | None = None):
        self.port = free_port()
        self.log_path = instance / "gunicorn.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("COOKIEGATE_")}
        env.update({
            "COOKIEGATE_DATABASE_URL": url, "COOKIEGATE_SECRET_KEY": SECRET,
            "COOKIEGATE_INSTANCE_PATH": str(instance),
            "COOKIEGATE_LEDGER_KEY_FILE": str(instance / "ledger.pem"),
            "COOKIEGATE_LEDGER_SEQUENCE_INTERVAL": "1",
            "COOKIEGATE_CONSENT_RATE_LIMIT": "1000000 per minute",
            "CGBENCH_PAYLOAD_BYTES": str(payload_bytes),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            **(extra_env or {}),
        })
        self.cmd = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{self.port}",
                    "--chdir", str(ROOT), "--error-logfile", str(self.log_path), "--log-level", "warning",
                    "bench.bench_app:create_bench_app()"]
        self.env = env
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Gunicorn":
        import requests

        self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=ROOT, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"gunicorn exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                if requests.get(self.base + "/", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise BenchError(f"gunicorn did not answer in 30 s:\n{self.log_tail()}")

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)  # the group we started: master and its workers
            except ProcessLookupError:
                return
            try:
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def log_tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-30:])
        except OSError:
            return "(no gunicorn log)"


class FormFields(HTMLParser):
    """The hidden inputs of the page's consent form (csrf_token, next, layer, channel)."""

    def __init__(self, action: str):
        super().__init__()
        self.action, self.inside, self.fields = action, False, {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("action") == self.action:
            self.inside = True
        elif tag == "input" and self.inside and a.get("type") == "hidden" and a.get("name"):
            self.fields[a["name"]] = html.unescape(a.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False


def consent_request(base: str, slug: str) -> tuple[str, str]:
    """GET the hosted page once: its session cookie and the banner form's hidden fields."""
    import requests

    action = f"/s/{slug}/consent"
    page = requests.get(f"{base}/s/{slug}/", timeout=10)
    page.raise_for_status()
    parser = FormFields(action)
    parser.feed(page.text)
    if "csrf_token" not in parser.fields or "cg_session" not in page.cookies:
        raise BenchError("no CSRF token / session cookie on the hosted page")
    body = urllib.parse.urlencode({**parser.fields, "accept_all": "1"})
    return f"cg_session={page.cookies['cg_session']}", body


# wrk's closing report, read back by run_wrk.
REPORT_LUA = ["done = function(s, latency, requests)",
              '  io.write(string.format("CGBENCH %d %d %d %d %d %d %d %d %d\\n", s.requests, s.duration,',
              "    s.errors.connect, s.errors.read, s.errors.write, s.errors.status, s.errors.timeout,",
              "    latency:percentile(50), latency:percentile(99)))",
              "end"]


def wrk_script(path: Path, cookie: str | None, body: str) -> Path:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if cookie:
        headers["Cookie"] = cookie
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    path.write_text("\n".join(lines + REPORT_LUA) + "\n")
    return path


def embed_wrk_script(path: Path, origin: str, template: str) -> Path:
    """A wrk script posting decisions as banner.js does, each with fresh random UUIDs (the event
    id makes resends idempotent, so a repeated body would record nothing new)."""
    return uuid_wrk_script(path, {"Content-Type": "text/plain", "Origin": origin}, template)


def uuid_wrk_script(path: Path, headers: dict[str, str], template: str) -> Path:
    """A wrk script POSTing `template` with every %s replaced by a fresh random UUID."""
    fill = ", ".join(["uuid()"] * template.count("%s"))
    lines = ['wrk.method = "POST"', *(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()),
             # Seeded from the kernel: a seed of clock readings can repeat between two runs of the
             # script (warm-up, rounds), and a repeated body is an idempotent resend, not an event.
             "init = function(args)",
             "  local f = io.open('/dev/urandom', 'rb'); local b = f:read(6); f:close()",
             "  local seed = 0; for i = 1, #b do seed = seed * 256 + b:byte(i) end",
             "  math.randomseed(seed)",
             "end",
             "local function uuid()",
             "  return (string.gsub('xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx', '[xy]', function(c)",
             "    return string.format('%x', c == 'x' and math.random(0, 15) or math.random(8, 11)) end))",
             "end",
             f"local template = {json.dumps(template)}",
             f"request = function() return wrk.format(nil, nil, nil, string.format(template, {fill})) end"]
    path.write_text("\n".join(lines + REPORT_LUA) + "\n")
    return path


def run_wrk(url: str, script: Path, seconds: int, connections: int = WRK_CONNECTIONS) -> dict[str, Any]:
    cmd = ["wrk", f"-t{min(WRK_THREADS, connections)}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
           "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    match = re.search(r"^CGBENCH" + r" (\d+)" * 9 + "$", out.stdout, re.M)
    if out.returncode != 0 or not match:
        raise BenchError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    requests_, duration_us, *errors, p50_us, p99_us = map(int, match.groups())
    return {"requests": requests_, "seconds": duration_us / 1e6,
            "errors": dict(zip(("connect", "read", "write", "status", "timeout"), errors)),
            "p50_ms": p50_us / 1000, "p99_ms": p99_us / 1000}


def wait_for_drain(app, timeout: float = 30.0) -> float:
    """Wait until the workers' sequencers have emptied ledger_pending; returns seconds waited."""
    started = time.monotonic()
    while db_counts(app)["pending"]:
        if time.monotonic() - started > timeout:
            raise BenchError(f"sequencer did not drain the pending queue in {timeout:.0f} s")
        time.sleep(0.25)
    return time.monotonic() - started


def embed_template(app, slug: str) -> tuple[str, str]:
    """The declared origin and a decision body as banner.js posts it, with %s for its two ids."""
    from cookiegate.sites.services import current_notice, site_by_slug

    with app.app_context():
        site = site_by_slug(slug)
        origin, notice = site.allowed_origins[0], current_notice(site).sha256
    body = {"id": "ID", "consent_id": "SUBJECT", "notice": notice, "lang": "nl", "action": "accept_all",
            "layer": 1, "choices": {"analytics": True, "tracking": True, "marketing": True}, "gpc": False,
            "consent_mode": {"ad_storage": "granted", "analytics_storage": "granted"}, "path": "/winkel/"}
    return origin, json.dumps(body).replace('"ID"', '"%s"').replace('"SUBJECT"', '"%s"')


def measure_http(app, url: str, instance: Path, slug: str, payload_bytes: int, seconds: int,
                 rounds: int) -> dict[str, Any]:
    """Requests per second of the two recording endpoints, each beside the plain-INSERT endpoint
    fed the same kind of body: the hosted form POST and the embedded banner's JSON post."""
    import requests

    sequence_everything(app)  # the in-process events: don't leave them to the servers' sequencers
    with app.app_context():
        from cookiegate.extensions import db
        db.engine.dispose()
    with Gunicorn(url, instance, payload_bytes) as server:
        cookie, body = consent_request(server.base, slug)
        origin, template = embed_template(app, slug)
        consent_url, embed_url = f"{server.base}/s/{slug}/consent", f"{server.base}/s/{slug}/consent.json"
        plain_url = f"{server.base}/bench/plain"
        # One checked request each: the consent POSTs must record an event, the plain one a row.
        before = db_counts(app)
        r1 = requests.post(consent_url, data=body, headers={"Cookie": cookie, "Content-Type":
                           "application/x-www-form-urlencoded"}, allow_redirects=False, timeout=10)
        r2 = requests.post(plain_url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"},
                           timeout=10)
        r3 = requests.post(embed_url, data=template % (uuid.uuid4(), uuid.uuid4()),
                           headers={"Origin": origin, "Content-Type": "text/plain"}, timeout=10)
        after = db_counts(app)
        if r1.status_code != 303 or r3.status_code != 201 or after["events"] != before["events"] + 2:
            raise BenchError(f"consent POSTs did not record events (HTTP {r1.status_code}, {r3.status_code})"
                             f"\n{r3.text}\n{server.log_tail()}")
        if r2.status_code != 204 or after["plain"] != before["plain"] + 1:
            raise BenchError(f"plain POST did not insert a row (HTTP {r2.status_code})\n{server.log_tail()}")
        scripts = {"consent": (consent_url, wrk_script(instance / "consent.lua", cookie, body), "events"),
                   "plain": (plain_url, wrk_script(instance / "plain.lua", None, body), "plain"),
                   "embed": (embed_url, embed_wrk_script(instance / "embed.lua", origin, template), "events"),
                   "plain_json": (plain_url, embed_wrk_script(instance / "plain_json.lua", origin, template), "plain")}
        for target, script, _table in scripts.values():
            run_wrk(target, script, 1)  # warm-up both workers and every path
        wait_for_drain(app)
        phases: dict[str, list[dict[str, Any]]] = {kind: [] for kind in scripts}
        drained = 0.0
        for _ in range(rounds):  # alternate, so machine noise lands on all
            for kind, (target, script, table) in scripts.items():
                before = db_counts(app)[table]
                result = run_wrk(target, script, seconds)
                result["rows"] = db_counts(app)[table] - before
                phases[kind].append(result)
                if table == "events":
                    drained += wait_for_drain(app)  # the next phase starts with an empty queue
        errors = {kind: sum(sum(r["errors"].values()) for r in runs) for kind, runs in phases.items()}
        if any(errors.values()):
            raise BenchError(f"HTTP errors during the run: {errors}\n{server.log_tail()}")
    figures: dict[str, Any] = {"load_generator": f"wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS}",
                               "server": "gunicorn -w 2 (sync workers)", "seconds_per_phase": seconds,
                               "rounds": rounds, "sequencer_drain_s": round(drained, 2)}
    for kind, runs in phases.items():
        requests_, rows = sum(r["requests"] for r in runs), sum(r["rows"] for r in runs)
        if rows < requests_:  # wrk counted a response the database does not hold
            raise BenchError(f"{kind}: {requests_} responses but only {rows} rows written")
        figures[f"{kind}_requests"] = requests_
        figures[f"{kind}_rows"] = rows
        figures[f"{kind}_per_s"] = requests_ / sum(r["seconds"] for r in runs)
        figures[f"{kind}_p50_ms"] = max(r["p50_ms"] for r in runs)
    figures["ratio"] = figures["consent_per_s"] / figures["plain_per_s"]
    figures["embed_ratio"] = figures["embed_per_s"] / figures["plain_json_per_s"]
    figures["round_ratios"] = [round((c["requests"] / c["seconds"]) / (p["requests"] / p["seconds"]), 3)
                               for c, p in zip(phases["consent"], phases["plain"])]
    figures["embed_round_ratios"] = [round((c["requests"] / c["seconds"]) / (p["requests"] / p["seconds"]), 3)
                                     for c, p in zip(phases["embed"], phases["plain_json"])]
    return figures


# --------------------------------------------------------------------------- driver

def verdict(ratio: float) -> str:
    return "PASS" if ratio >= TARGET else "FAIL"


def run_backend(backend: str, args) -> dict[str, Any]:
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f"cgbench-{backend}-"))
    os.environ["COOKIEGATE_INSTANCE_PATH"] = str(tmp)  # never read the checkout's instance/config.py
    try:
        with fresh_database(backend, tmp) as url:
            log(f"{backend}: migrating a fresh database")
            app, slug = build_app(url, tmp)
            try:
                log(f"{backend}: {args.events} x record_consent vs. plain INSERT, in-process")
                local = measure_in_process(app, slug, args.events, args.slices, args.budget)
                if args.profile:
                    profile_service(app, slug, args.profile,
                                    RESULTS.parent / f"ledger_record_consent_{backend}.prof")
                http = None
                if not args.no_http:
                    log(f"{backend}: gunicorn + wrk, {args.rounds} x {args.http_seconds:g} s per endpoint")
                    http = measure_http(app, url, tmp, slug, local["payload_bytes"]["total"],
                                        args.http_seconds, args.rounds)
            finally:
                from cookiegate.extensions import db
                with app.app_context():
                    db.engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"backend": backend, "in_process": local, "http": http,
            "elapsed_s": round(time.monotonic() - started, 1)}


def print_table(result: dict[str, Any]) -> None:
    local, http = result["in_process"], result["http"]
    size = local["payload_bytes"]
    print(f"\n{result['backend']}  (plain payload {size['total']} B = leaf {size['leaf']} + hash "
          f"{size['leaf_hash']} + seal {size['seal']} + salt {size['salt']} + personal JSON "
          f"{size['personal_json']}; {result['elapsed_s']} s)")
    print(f"  {'':44}{'per s':>8}  {'ratio':>6}")

    def row(label: str, rate: float, note: str) -> None:
        print(f"  {label:44}{rate:8.0f}          {note}")

    def ratio(label: str, value: float, spread: list[float] | None) -> None:
        extra = f"; {min(spread):.2f}-{max(spread):.2f}" if spread else ""
        print(f"  {label:44}{'':8}  {value:6.2f}  {verdict(value)} (>= {TARGET}{extra})")

    budget = "" if local["events"] >= local["requested"] else ", time budget reached"
    row("service  record_consent, new visitor", local["service_per_s"],
        f"({local['service_ms_per_event']:.2f} ms/event, {local['events']} events{budget})")
    row("service  record_consent, history looked up", local["lookup_per_s"],
        f"({local['lookup_ms_per_event']:.2f} ms/event)")
    row("plain    INSERT + commit", local["plain_per_s"], f"({local['plain_ms_per_row']:.2f} ms/row)")
    ratio("service / plain (new visitor)", local["ratio"], local["slice_ratios"])
    ratio("service / plain (history looked up)", local["lookup_ratio"], None)
    row("info     INSERT on the service's driver path", local["driver_plain_per_s"],
        f"({local['driver_plain_ms_per_row']:.2f} ms/row; service / it: {local['driver_ratio']:.2f}, no target)")
    if http:
        for kind, label in (("embed", "http     POST /s/<slug>/consent.json (embed)"),
                            ("plain_json", "http     POST /bench/plain (same JSON)"),
                            ("consent", "http     POST /s/<slug>/consent (hosted form)"),
                            ("plain", "http     POST /bench/plain (same form)")):
            row(label, http[f"{kind}_per_s"], f"({http[f'{kind}_requests']} req, p50 {http[f'{kind}_p50_ms']:.1f} ms)")
        ratio("http embed / plain", http["embed_ratio"], http["embed_round_ratios"])
        ratio("http hosted form / plain", http["ratio"], http["round_ratios"])


def parse_args(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000, help="record_consent calls (and plain rows) in-process")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    parser.add_argument("--slices", type=int, default=10, help="alternating in-process slices")
    parser.add_argument("--budget", type=float, default=30,
                        help="seconds per backend for the in-process slices; stops early (still paired) past it")
    parser.add_argument("--http-seconds", type=int, default=4, help="wrk seconds per phase")
    parser.add_argument("--rounds", type=int, default=2, help="alternating HTTP rounds (consent, plain)")
    parser.add_argument("--no-http", action="store_true", help="skip the gunicorn/wrk part")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also cProfile N record_consent calls (after the timed runs)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks: stop servers
    if not args.no_http and shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    started = time.monotonic()
    print(f"ledger throughput: events/s through the service vs. a plain single-row INSERT of the same "
          f"size; target ratio >= {TARGET}")
    print(f"  in-process: {args.events} events per side, {args.slices} alternating slices; http: "
          f"gunicorn -w 2 + wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS}, {args.rounds} x {args.http_seconds:g} s per endpoint")
    results, failed = [], []
    for backend in backends:
        try:
            result = run_backend(backend, args)
        except BenchError as error:
            print(f"\n{backend}: ERROR {error}", file=sys.stderr)
            failed.append(backend)
            continue
        results.append(result)
        print_table(result)
        sys.stdout.flush()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"target": TARGET, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                   "results": results}, indent=2) + "\n")
    print(f"\ntotal {time.monotonic() - started:.0f} s; figures in {RESULTS.relative_to(ROOT)}")
    if failed:
        return 2
    ratios = [r["in_process"][key] for r in results for key in ("ratio", "lookup_ratio")]
    ratios += [r["http"][key] for r in results if r["http"] for key in ("ratio", "embed_ratio")]
    return 0 if all(r >= TARGET for r in ratios) else 1


if __name__ == "__main__":
    sys.exit(main())
