#!/usr/bin/env python
"""API throughput (issue 4): the consent API against baselines in the same app and server, on a
ledger seeded to a million events, printed as four figures with their targets.

    python bench/api_throughput.py [--backend sqlite|postgresql|all] [--events N] [--duration S]
                                   [--rounds R] [--full-verify] [--profile N]

Per backend: two fresh databases (as ledger_throughput.py), a small ledger of 10,000 events
(N/10 below 100,000 events) and a big one of N (default 1,000,000), each with one site and two
API keys (consent:read, consent:write), seeded by bench/seed.py (build_event, bulk inserts, real
sequencing) and checked on a sample. Each is served by its own gunicorn -w 2 running
bench.bench_app:create_bench_app() (API rate limit lifted), both at once; wrk loads them.

  1 state / bare      wrk -t2 -c8 POSTs {"subject": {"consent_id": ...}} to
                      /api/v1/subjects/state, cycling through 5,000 random subjects of the
                      ledger (bodies in a Lua table), vs. the same bodies to POST /bench/bare
                      (parses the JSON, answers a constant object), big ledger; beside it
                      the ceiling, /bench/one_query (bare + one SELECT 1).   target >= 0.8
  2 latency growth    p50 of subject state on the big / on the small ledger, from 2 s wrk
                      phases with one connection per worker (-c2: service time, no queueing),
                      the two ledgers' phases alternating (4 pairs per round): the median of
                      the pairs' ratios; p99 and the bare endpoint's ratio (about 1) beside it.
                                                                              target <= 1.2
  3 batch check       POST /api/v1/subjects/check of 100,000 subjects (95 % seeded, 5 %
                      unknown) on the big ledger, 3 times: the median of its Server-Timing
                      header, else of the time in-process (the app's test client on the same
                      database); the wall time over HTTP from this machine is an upper bound.
                                                                                target <= 1 s
  4 events / plain    wrk POSTs a decision for a new random subject to /api/v1/events vs. the
                      same body to /bench/plain (one INSERT of as many bytes as an API-recorded
                      event stores), alternating; the sequencers drain between phases.
                                                                              target >= 0.7

Figures go to stdout and to bench/results/api_throughput.json. Exit status: 0 all targets met,
1 a figure misses its target, 2 the benchmark (or a part of it) could not run: for instance an
endpoint that is not there. Traffic only to 127.0.0.1.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
import traceback
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.ledger_throughput import (WRK_CONNECTIONS, WRK_THREADS, BenchError, Gunicorn, REPORT_LUA,  # noqa: E402
                                     build_app, fresh_database, log, run_wrk, sequence_everything,
                                     stored_event_size, uuid_wrk_script, wait_for_drain)

TARGETS = {"state_vs_bare": 0.8, "latency_growth": 1.2, "check_seconds": 1.0, "events_vs_plain": 0.7}
RESULTS = ROOT / "bench" / "results" / "api_throughput.json"
STATE, CHECK, EVENTS = "/api/v1/subjects/state", "/api/v1/subjects/check", "/api/v1/events"
SMALL = 10_000
PHASE_SUBJECTS = 5_000
CHECK_SUBJECTS = 100_000
LATENCY_CONNECTIONS = 2  # one per gunicorn worker: latency is service time, not queueing
SERVER_ENV = {"COOKIEGATE_API_RATE_LIMIT": "1000000000 per minute"}  # measure work, not the limiter


class Missing(BenchError):
    """An endpoint of the contract is not there (yet)."""


# --------------------------------------------------------------------------- requests

def issue_keys(app, slug: str) -> dict[str, str]:
    from cookiegate.api.keys import create_api_key
    from cookiegate.extensions import db
    from cookiegate.sites.services import site_by_slug

    with app.app_context():
        site = site_by_slug(slug)
        tokens = {scope: create_api_key(site=site, scopes=[scope], label=f"bench {scope}").token
                  for scope in ("consent:read", "consent:write")}
        db.session.remove()
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def subject_body(consent_id: str) -> dict[str, Any]:
    return {"subject": {"consent_id": consent_id}}


def event_template(optional: list[str]) -> str:
    """A decision as a shop's server posts it, %s for a new subject's consent id."""
    choices = {key: i % 2 == 0 for i, key in enumerate(optional)}  # analytics yes, tracking no, ...
    body = {"subject": {"consent_id": "SUBJECT"}, "choices": choices, "language": "nl", "action": "save_selection"}
    return json.dumps(body).replace('"SUBJECT"', '"%s"')


def expect(response, status: int, what: str) -> None:
    """The contract's status, or a clear reason (a 404/405 means the endpoint is not there)."""
    if response.status_code == status:
        return
    text = response.text if hasattr(response, "text") else response.get_data(as_text=True)
    error = Missing if response.status_code in (404, 405) else BenchError
    raise error(f"{what}: HTTP {response.status_code} (expected {status}): {text[:300]}")


def subjects_wrk_script(path: Path, token: str, subjects: list[str]) -> Path:
    """A wrk script POSTing subject-state bodies, cycling through `subjects` (each thread from
    its own offset); the ids are read from a file into a Lua table of ready bodies."""
    ids = path.with_suffix(".ids")
    ids.write_text("\n".join(subjects) + "\n")
    lines = ['wrk.method = "POST"'] + [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}"
                                      for k, v in bearer(token).items()]
    lines += ["threads = 0",
              "setup = function(thread) threads = threads + 1; thread:set('tid', threads) end",
              "local bodies, i = {}, 0",
              "init = function(args)",
              f"  for id in io.lines({json.dumps(str(ids))}) do",
              """    bodies[#bodies + 1] = '{"subject":{"consent_id":"' .. id .. '"}}'""",
              "  end",
              f"  i = math.floor(#bodies * (tid - 1) / {WRK_THREADS})",
              "end",
              "request = function()",
              "  i = i % #bodies + 1",
              "  return wrk.format(nil, nil, nil, bodies[i])",
              "end"]
    path.write_text("\n".join(lines + REPORT_LUA) + "\n")
    return path


# --------------------------------------------------------------------------- measurements

def phases(plan: dict[str, tuple[str, Path, int]], seconds: int, rounds: int,
           rows: Callable[[str], int] | None = None,
           settle: Callable[[str], float] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Run every (url, script, connections) of plan once per round, in turn, in reverse order every
    other round (ABBA: no side always goes first); fail on errors. rows(name) counts what a
    phase writes; settle(name) runs after it (e.g. drain the queue)."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in plan}
    for url, script, connections in plan.values():
        run_wrk(url, script, 1, connections)  # warm-up: both workers, every path
    for round_ in range(rounds):  # alternate, so machine noise lands on every side
        for name, (url, script, connections) in list(plan.items())[::1 if round_ % 2 == 0 else -1]:
            before = rows(name) if rows else 0
            result = run_wrk(url, script, seconds, connections)
            result["settle_s"] = settle(name) if settle else 0.0
            if rows:
                result["rows"] = rows(name) - before
            runs[name].append(result)
    errors = {name: sum(sum(r["errors"].values()) for r in rs) for name, rs in runs.items()}
    if any(errors.values()):
        raise BenchError(f"HTTP errors during the run: {errors}")
    return runs


def rate(runs: list[dict[str, Any]]) -> float:
    return sum(r["requests"] for r in runs) / sum(r["seconds"] for r in runs)


THROUGHPUT_PHASES = {"state": (STATE, WRK_CONNECTIONS), "bare": ("/bench/bare", WRK_CONNECTIONS),
                     "one_query": ("/bench/one_query", WRK_CONNECTIONS)}
LATENCY_PHASES = {"state_lat": (STATE, LATENCY_CONNECTIONS), "bare_lat": ("/bench/bare", LATENCY_CONNECTIONS)}
LATENCY_SECONDS, LATENCY_PAIRS = 2, 4  # short latency phases, LATENCY_PAIRS per round: adjacent pairs


def measure_state(ledgers: dict[str, "Ledger"], seconds: int,
                  rounds: int) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Subject state vs. bare JSON on every ledger's server: throughput (-c8, `seconds` per
    phase) and latency (-c2, short phases), every phase of every ledger in turn each round, so
    drift lands on all alike. Returns the figures per ledger, and the latency of the last
    ledger over the first as the median of adjacent pairs of phases (2 s apart)."""
    import requests

    for ledger in ledgers.values():
        expect(requests.post(ledger.server.base + STATE, json=subject_body(ledger.sample[0]),
                             headers={"Authorization": f"Bearer {ledger.tokens['consent:read']}"}, timeout=10),
               200, f"POST {STATE}")
        ledger.script = subjects_wrk_script(ledger.tmp / "state.lua", ledger.tokens["consent:read"], ledger.sample)

    def plan(kinds: dict[str, tuple[str, int]]) -> dict[str, tuple[str, Path, int]]:
        return {f"{label}:{kind}": (ledger.server.base + path, ledger.script, connections)
                for kind, (path, connections) in kinds.items() for label, ledger in ledgers.items()}

    runs = phases(plan(THROUGHPUT_PHASES), seconds, rounds)
    runs.update(phases(plan(LATENCY_PHASES), LATENCY_SECONDS, rounds * LATENCY_PAIRS))
    out = {}
    for label, ledger in ledgers.items():
        state, bare, one_query = (runs[f"{label}:{kind}"] for kind in ("state", "bare", "one_query"))
        figures = {"subjects": len(ledger.sample), "state_per_s": rate(state), "bare_per_s": rate(bare),
                   "one_query_per_s": rate(one_query),
                   "round_ratios": [round((s["requests"] / s["seconds"]) / (b["requests"] / b["seconds"]), 3)
                                    for s, b in zip(state, bare)]}
        figures["ratio"] = figures["state_per_s"] / figures["bare_per_s"]
        # No look-up that asks the database can beat one trivial round trip to it: the ceiling.
        figures["one_query_ratio"] = figures["one_query_per_s"] / figures["bare_per_s"]
        for kind in ("state_lat", "bare_lat", "state"):
            figures[f"{kind}_p50_ms"] = statistics.median(r["p50_ms"] for r in runs[f"{label}:{kind}"])
            figures[f"{kind}_p99_ms"] = statistics.median(r["p99_ms"] for r in runs[f"{label}:{kind}"])
        out[label] = figures
    first, last = list(ledgers)[0], list(ledgers)[-1]

    def pairs(kind: str, percentile: str) -> list[float]:
        return [b[percentile] / a[percentile] for a, b in zip(runs[f"{first}:{kind}"], runs[f"{last}:{kind}"])]

    growth = pairs("state_lat", "p50_ms")
    latency = {"phases": len(growth), "seconds": LATENCY_SECONDS, "p50_growth": statistics.median(growth),
               "pair_ratios": [round(x, 2) for x in growth],
               "p99_growth": round(statistics.median(pairs("state_lat", "p99_ms")), 2),
               "bare_p50_growth": round(statistics.median(pairs("bare_lat", "p50_ms")), 2)}
    return out, latency


def check_body(subjects: list[str], rng: random.Random) -> tuple[bytes, int]:
    known = rng.sample(subjects, min(len(subjects), CHECK_SUBJECTS * 95 // 100))
    ids = known + [str(uuid.uuid4()) for _ in range(CHECK_SUBJECTS - len(known))]
    rng.shuffle(ids)
    body = {"category": "marketing", "subjects": [{"consent_id": cid} for cid in ids]}
    return json.dumps(body).encode(), len(known)


def server_timing(header: str | None) -> float | None:
    """Seconds from a Server-Timing header: its largest dur (the total, when it lists parts)."""
    durations = [float(d) for d in re.findall(r"dur=([0-9.]+)", header or "")]
    return max(durations) / 1000 if durations else None


def measure_check_in_process(app, token: str, body: bytes, times: int = 3) -> list[float]:
    client = app.test_client()
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        response = client.post(CHECK, data=body, headers=bearer(token))
        seconds.append(time.perf_counter() - started)
        expect(response, 200, f"POST {CHECK} (in-process)")
        if len(response.get_json()["results"]) != CHECK_SUBJECTS:
            raise BenchError(f"{CHECK}: the answer does not hold {CHECK_SUBJECTS} results")
    return seconds


def measure_check_http(server: Gunicorn, token: str, body: bytes, times: int = 3) -> dict[str, Any]:
    import requests

    walls, timings = [], []
    for _ in range(times):
        started = time.perf_counter()
        try:
            response = requests.post(server.base + CHECK, data=body, headers=bearer(token), timeout=120)
            _ = response.content
        except requests.RequestException as error:  # e.g. gunicorn's 30 s worker timeout struck
            tail = [line for line in server.log_tail().splitlines() if "TIMEOUT" in line][-1:]
            return {"http_wall_s": walls, "server_timing_s": None,
                    "http_error": f"broke off after {time.perf_counter() - started:.1f} s: {error} {' '.join(tail)}"}
        walls.append(time.perf_counter() - started)
        expect(response, 200, f"POST {CHECK}")
        if len(response.json()["results"]) != CHECK_SUBJECTS:
            raise BenchError(f"{CHECK}: the answer does not hold {CHECK_SUBJECTS} results")
        timings.append(server_timing(response.headers.get("Server-Timing")))
    return {"http_wall_s": walls, "server_timing_s": timings if all(t is not None for t in timings) else None,
            "response_bytes": len(response.content)}


def probe_events(app, token: str, template: str, count: int = 50) -> dict[str, int]:
    """Record `count` events through the API in-process; the stored size of one (for /bench/plain)."""
    from sqlalchemy import func, select

    from cookiegate.extensions import db
    from cookiegate.ledger.models import ConsentEvent

    with app.app_context():
        before = db.session.execute(select(func.max(ConsentEvent.id))).scalar() or 0
        db.session.remove()
    client = app.test_client()
    for _ in range(count):
        expect(client.post(EVENTS, data=template % uuid.uuid4(), headers=bearer(token)), 201, f"POST {EVENTS}")
    sequence_everything(app)
    return stored_event_size(app, after_pk=before)


def measure_events(app, server: Gunicorn, tmp: Path, token: str, template: str, seconds: int,
                   rounds: int) -> dict[str, Any]:
    """POST /api/v1/events (a new subject each) vs. the same body to /bench/plain, alternating."""
    from bench.ledger_throughput import db_counts

    events = uuid_wrk_script(tmp / "events.lua", bearer(token), template)
    plain = uuid_wrk_script(tmp / "plain.lua", {"Content-Type": "application/json"}, template)
    runs = phases({"events": (server.base + EVENTS, events, WRK_CONNECTIONS),
                   "plain": (server.base + "/bench/plain", plain, WRK_CONNECTIONS)}, seconds, rounds,
                  rows=lambda name: db_counts(app)["events" if name == "events" else "plain"],
                  settle=lambda name: wait_for_drain(app) if name == "events" else 0.0)
    for name, rs in runs.items():
        answered, written = sum(r["requests"] for r in rs), sum(r["rows"] for r in rs)
        if written < answered:  # wrk counted a response the database does not hold
            raise BenchError(f"{name}: {answered} responses but only {written} rows written")
    out = {"events_per_s": rate(runs["events"]), "plain_per_s": rate(runs["plain"]),
           "events_requests": sum(r["requests"] for r in runs["events"]),
           "events_p50_ms": statistics.median(r["p50_ms"] for r in runs["events"]),
           "plain_p50_ms": statistics.median(r["p50_ms"] for r in runs["plain"]),
           "drained_s": round(sum(r["settle_s"] for r in runs["events"]), 2),
           "round_ratios": [round((e["requests"] / e["seconds"]) / (p["requests"] / p["seconds"]), 3)
                            for e, p in zip(runs["events"], runs["plain"])]}
    out["ratio"] = out["events_per_s"] / out["plain_per_s"]
    return out


def profile_state(app, token: str, subjects: list[str], count: int, out: Path) -> None:
    """cProfile `count` subject-state requests through the app in-process (after the timed runs)."""
    client = app.test_client()
    bodies = [json.dumps(subject_body(subjects[i % len(subjects)])) for i in range(count + 50)]
    for body in bodies[:50]:  # warm-up
        client.post(STATE, data=body, headers=bearer(token))
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for body in bodies[50:]:
        client.post(STATE, data=body, headers=bearer(token))
    profiler.disable()
    elapsed = time.perf_counter() - started
    out.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(str(out))
    print(f"\n  cProfile of {count} subject-state requests in-process ({1000 * elapsed / count:.2f} ms each "
          f"under the profiler; {out.relative_to(ROOT)}):")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


def full_verify(app, slug: str) -> dict[str, Any]:
    from cookiegate.extensions import db
    from cookiegate.ledger.keys import current_keys
    from cookiegate.ledger.verify import verify_log
    from cookiegate.sites.services import site_by_slug

    with app.app_context():
        started = time.perf_counter()
        report = verify_log(site=site_by_slug(slug), keys=current_keys())
        seconds = time.perf_counter() - started
        db.session.remove()
    return {"ok": report.ok, "entries": report.entries, "checkpoints": report.checkpoints,
            "problems": report.problems, "seconds": round(seconds, 1)}


# --------------------------------------------------------------------------- driver

def part(result: dict[str, Any], name: str, run: Callable[[], Any]) -> Any:
    """Run one measurement; a failure is noted (and makes the exit status 2), the rest goes on."""
    try:
        return run()
    except BenchError as error:
        result["errors"][name] = str(error)
        log(f"{result['backend']}: {name} could not run: {str(error)[:300]}")
        return None


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def small_size(events: int) -> int:
    return SMALL if events >= 10 * SMALL else max(1, events // 10)


@dataclass
class Ledger:
    """One fresh database with one site and its two API keys, seeded; served while measured."""

    label: str
    tmp: Path
    url: str
    app: Any
    slug: str
    tokens: dict[str, str]
    seeder: Any
    sample: list[str] = field(default_factory=list)  # subjects the state phases cycle through
    server: Gunicorn | None = None
    script: Path | None = None


def open_ledger(stack: ExitStack, backend: str, root: Path, label: str, events: int, result: dict[str, Any],
                rng: random.Random) -> Ledger:
    from bench.seed import LedgerSeeder
    from cookiegate.extensions import db

    tmp = root / label
    tmp.mkdir()
    url = stack.enter_context(fresh_database(backend, tmp))
    log(f"{backend}: migrating a fresh database ({label})")
    app, slug = build_app(url, tmp)

    def dispose() -> None:
        with app.app_context():
            db.engine.dispose()

    stack.callback(dispose)
    app.config["API_RATE_LIMIT"] = SERVER_ENV["COOKIEGATE_API_RATE_LIMIT"]  # in-process requests too
    ledger = Ledger(label, tmp, url, app, slug, issue_keys(app, slug), LedgerSeeder(app, slug, planned=events))
    log(f"{backend}: seeding {events:,} events ({label})")
    stats = ledger.seeder.seed(events)
    result["seeding"][label] = {"events": events, "subjects": len(ledger.seeder.subjects),
                                "seconds": round(stats.seconds, 1), "insert_s": round(stats.insert_s, 1),
                                "sequence_s": round(stats.sequence_s, 1), "per_s": round(stats.per_s)}
    log(f"{backend}: seeded at {stats.per_s:.0f} events/s; verifying a sample")
    result["verify"][label] = ledger.seeder.check_sample()
    ledger.sample = rng.sample(ledger.seeder.subjects, min(PHASE_SUBJECTS, len(ledger.seeder.subjects)))
    return ledger


def run_backend(backend: str, args) -> dict[str, Any]:
    """Two fresh ledgers, 10,000 and N events, each served by its own gunicorn at the same time,
    so the state phases of both interleave (like with like, whatever the machine does)."""
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix=f"cgbench-api-{backend}-"))
    os.environ["COOKIEGATE_INSTANCE_PATH"] = str(root)  # never read the checkout's instance/config.py
    result: dict[str, Any] = {"backend": backend, "events": args.events, "small_events": small_size(args.events),
                              "load": {"start": loadavg()}, "errors": {}, "seeding": {}, "verify": {}}
    rng = random.Random(11)
    try:
        with ExitStack() as stack:
            small = open_ledger(stack, backend, root, "small", result["small_events"], result, rng)
            big = open_ledger(stack, backend, root, "big", args.events, result, rng)
            if args.full_verify:
                log(f"{backend}: full ledger verify")
                result["verify_full"] = full_verify(big.app, big.slug)
            template = event_template(big.seeder.optional)
            size = part(result, "events", lambda: probe_events(big.app, big.tokens["consent:write"], template))
            result["payload_bytes"] = size
            body, known = check_body(big.seeder.subjects, rng)
            log(f"{backend}: batch check of {CHECK_SUBJECTS:,} subjects, in-process")
            check = part(result, "check", lambda: {"known": known, "request_bytes": len(body),
                                                   "in_process_s": measure_check_in_process(
                                                       big.app, big.tokens["consent:read"], body)})
            small.server = stack.enter_context(Gunicorn(small.url, small.tmp, 1024, SERVER_ENV))
            big.server = stack.enter_context(Gunicorn(big.url, big.tmp, size["total"] if size else 1024, SERVER_ENV))
            result["load"]["http"] = loadavg()
            log(f"{backend}: subject state vs. bare, {result['small_events']:,} and {args.events:,} events interleaved")
            state = part(result, "state", lambda: measure_state({"small": small, "big": big}, args.duration,
                                                                args.rounds))
            if state:
                figures, result["latency"] = state
                result["state_small"], result["state_big"] = figures["small"], figures["big"]
            if check:
                log(f"{backend}: batch check over HTTP")
                check.update(part(result, "check_http", lambda: measure_check_http(
                    big.server, big.tokens["consent:read"], body)) or {})
            result["check"] = check
            if size:
                log(f"{backend}: POST {EVENTS} vs. plain INSERT")
                result["events_http"] = part(result, "events", lambda: measure_events(
                    big.app, big.server, big.tmp, big.tokens["consent:write"], template, args.duration, args.rounds))
            small.server.stop()
            big.server.stop()
            result["load"]["end"] = loadavg()
            if args.profile and result.get("state_big"):
                profile_state(big.app, big.tokens["consent:read"], big.sample, args.profile,
                              RESULTS.parent / f"api_state_{backend}.prof")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    result["ratios"] = ratios(result)
    return result


def ratios(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The four figures with their targets; None where a part could not run."""
    small, big, check, events = (result.get(k) for k in ("state_small", "state_big", "check", "events_http"))
    out: dict[str, dict[str, Any]] = {}

    def put(name: str, value: float | None, higher_is_better: bool, **extra: Any) -> None:
        target = TARGETS[name]
        ok = None if value is None else (value >= target if higher_is_better else value <= target)
        out[name] = {"value": value, "target": target, "pass": ok, **extra}

    put("state_vs_bare", big["ratio"] if big else None, True)
    latency = result.get("latency")
    put("latency_growth", latency["p50_growth"] if latency else None, False,
        p99_growth=latency and latency["p99_growth"], bare_growth=latency and latency["bare_p50_growth"])
    seconds, source = None, None
    if check and check.get("server_timing_s"):
        seconds, source = statistics.median(check["server_timing_s"]), "Server-Timing header"
    elif check and check.get("in_process_s"):
        seconds, source = statistics.median(check["in_process_s"]), "in-process, median of 3"
    put("check_seconds", seconds, False, source=source)
    put("events_vs_plain", events["ratio"] if events else None, True)
    return out


def print_table(r: dict[str, Any]) -> None:
    ratio = r["ratios"]
    n, small = f"{r['events']:,}", f"{r['small_events']:,}"
    print(f"\n{r['backend']}  ({r['elapsed_s']} s; load average at start / HTTP / end: "
          f"{', '.join('/'.join(map(str, r['load'][k])) for k in ('start', 'http', 'end') if k in r['load'])})")
    for label, seed in r["seeding"].items():
        print(f"  seeding    {label:5} {seed['events']:>9,} events, {seed['subjects']:,} subjects in "
              f"{seed['seconds']} s = "
              f"{seed['per_s']:,} events/s (main process in inserts {seed['insert_s']} s; then the sequencer "
              f"process's tail and VACUUM/checkpoint {seed['sequence_s']} s)")
    for label, v in r["verify"].items():
        print(f"  verify     {label:5} sample of {v['sampled']} entries, {v['proofs']} inclusion proofs, "
              f"{v['checkpoints']} checkpoints at size {v['tree_size']:,}: "
              f"{'ok' if not v['problems'] else v['problems'][:3]} ({v['seconds']} s)")
    if r.get("verify_full"):
        v = r["verify_full"]
        print(f"  verify     full: {'ok' if v['ok'] else v['problems'][:3]}, {v['entries']:,} entries in "
              f"{v['seconds']} s")

    def verdict(number: int, name: str, label: str, extra: str = "") -> None:
        x = ratio[name]
        sign = ">=" if name in ("state_vs_bare", "events_vs_plain") else "<="
        shown = "NOT RUN" if x["value"] is None else (
            f"{x['value']:6.2f}  {'PASS' if x['pass'] else 'FAIL'} ({sign} {x['target']})")
        print(f"  {number} {label:52}{shown}{extra}")

    small_run, big, check, events = (r.get(k) for k in ("state_small", "state_big", "check", "events_http"))
    for label, s in ((small, small_run), (n, big)):
        if s:
            print(f"    @{label:>9} events: state {s['state_per_s']:5.0f}/s, bare {s['bare_per_s']:5.0f}/s = "
                  f"{s['ratio']:.2f} (rounds {min(s['round_ratios']):.2f}-{max(s['round_ratios']):.2f}); -c2 p50/p99 "
                  f"state {s['state_lat_p50_ms']:.2f}/{s['state_lat_p99_ms']:.2f} ms, bare "
                  f"{s['bare_lat_p50_ms']:.2f}/{s['bare_lat_p99_ms']:.2f} ms")
    if big:
        print(f"    ceiling: bare + one SELECT 1 on the hot connection {big['one_query_per_s']:5.0f}/s = "
              f"{big['one_query_ratio']:.2f} of bare (information, no target: no look-up that asks the database "
              f"can do better; state / it = {big['state_per_s'] / big['one_query_per_s']:.2f})")
    verdict(1, "state_vs_bare", f"subject state / bare JSON at {n} events")
    latency = r.get("latency")
    if latency:
        print(f"    latency: {latency['phases']} adjacent pairs of {latency['seconds']} s -c2 phases, p50 {n} / {small}: "
              f"{min(latency['pair_ratios']):.2f}-{max(latency['pair_ratios']):.2f}; p99 {latency['p99_growth']}; "
              f"bare endpoint p50 {latency['bare_p50_growth']}")
    verdict(2, "latency_growth", f"state p50 latency at {n} / at {small} events (median)")
    if check:
        walls, timings = check.get("http_wall_s"), check.get("server_timing_s")
        print(f"    batch check of {CHECK_SUBJECTS:,} subjects ({check['known']:,} seeded, "
              f"{check['request_bytes'] / 1e6:.1f} MB): "
              f"in-process {', '.join(f'{x:.2f}' for x in check['in_process_s'])} s"
              + (f"; Server-Timing {', '.join(f'{x:.2f}' for x in timings)} s" if timings else "")
              + (f"; HTTP wall (upper bound) {', '.join(f'{x:.2f}' for x in walls)} s" if walls else "")
              + (f"; over HTTP the request {check['http_error']}" if check.get("http_error") else ""))
    verdict(3, "check_seconds", f"batch check, seconds ({ratio['check_seconds'].get('source') or '-'})")
    if events:
        print(f"    events {events['events_per_s']:.0f}/s (p50 {events['events_p50_ms']:.1f} ms) vs. plain "
              f"{events['plain_per_s']:.0f}/s (p50 {events['plain_p50_ms']:.1f} ms), payload "
              f"{r['payload_bytes']['total']} B; rounds {events['round_ratios']}; sequencer drain "
              f"{events['drained_s']} s")
    verdict(4, "events_vs_plain", "POST /api/v1/events / plain INSERT")
    for name, error in r["errors"].items():
        print(f"  ERROR {name}: {error[:400]}")


def parse_args(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the seeded ledger")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk phase")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of phases")
    parser.add_argument("--full-verify", action="store_true", help="also run the full ledger verify (slow)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also cProfile N subject-state requests in-process (after the timed runs)")
    args = parser.parse_args(argv)
    if args.events < 20:
        parser.error("--events must be at least 20")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks: stop servers
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    started = time.monotonic()
    print(f"API throughput on a ledger of {args.events:,} events: gunicorn -w 2 + wrk -t{WRK_THREADS} "
          f"-c{WRK_CONNECTIONS} (latency -c{LATENCY_CONNECTIONS}), {args.rounds} x {args.duration} s per phase")
    results, failed = [], []
    for backend in backends:
        try:
            result = run_backend(backend, args)
        except BenchError as error:
            print(f"\n{backend}: ERROR {error}", file=sys.stderr)
            failed.append(backend)
            continue
        except Exception:  # a crash is "could not run" (2), never a missed target (1)
            traceback.print_exc()
            failed.append(backend)
            continue
        results.append(result)
        print_table(result)
        sys.stdout.flush()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"targets": TARGETS, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                   "results": results}, indent=2) + "\n")
    print(f"\ntotal {time.monotonic() - started:.0f} s; figures in {RESULTS.relative_to(ROOT)}")
    verdicts = [x["pass"] for r in results for x in r["ratios"].values()]
    if failed or any(r["errors"] for r in results) or None in verdicts:
        return 2
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
