"""Bench-only bulk seeding of one site's consent ledger, fast, with events exactly like real ones.

    seeder = LedgerSeeder(app, slug, planned=1_000_000)
    seeder.seed(10_000)        # returns SeedStats; may be called again to grow the ledger
    seeder.subjects            # every consent id in the ledger, for requests against it

Every event is made by `cookiegate.ledger.record.build_event` (the function record_consent uses):
canonical leaf, leaf hash, seal and salted personal commitment are the real ones. The mix is a
shop's: one notice, many subjects (about 30 % of events revisit an earlier subject), banner
decisions (accept all / reject all / a selection; 70 % from the embedded banner with a Consent
Mode state, 30 % from the hosted page), later changes and withdrawals from the preferences
page, the kind (given / refused / updated / withdrawn / renewed) classified by `classify_event`
from the subject's previous decision, times spread over the last 30 days in insertion order.

Speed: two forked worker processes build the events while the main process inserts the
previous ones, one transaction per 50,000 events, straight through the driver (SQLite:
executemany; PostgreSQL: COPY), with ids reserved up front (PostgreSQL: from the table's own
sequence). event_personal rows are inserted alongside; the ledger_pending rows come from the
database trigger, as for any insert. Meanwhile a forked sequencer process runs the product's
`sequence_pending` (batches of 50,000): real log entries, Merkle nodes and signed checkpoints.
`check_sample` verifies a random sample with the checks of `cookiegate.ledger.verify` plus
inclusion proofs; `verify_log` does the full run. Never import this from the product: it
bypasses record_consent's validation on purpose. Nothing else may write to the site meanwhile.
"""
from __future__ import annotations

import json
import multiprocessing
import random
import signal
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select

from cookiegate.extensions import db
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.log import (inclusion_for_event, latest_checkpoint, log_origin, sequence_pending,
                                  with_stored_nodes)
from cookiegate.ledger.merkle import root_hash, verify_inclusion
from cookiegate.ledger.models import ConsentEvent, EventPersonal, LogEntry
from cookiegate.ledger.record import _SQLITE_TIME, Context, Interaction, build_event, category_decisions, classify_event
from cookiegate.ledger.verify import VerifyReport, _check_entry, _checked_checkpoints
from cookiegate.privacy import truncate_ip, user_agent_family
from cookiegate.sites.services import current_notice, notice_document, site_by_slug
from cookiegate.timeutil import utcnow

TRANSACTION = 50_000  # events per insert transaction and per sequencing batch
TASK = 5_000  # events per worker task
AHEAD = 4  # worker tasks in flight beyond the one being collected (bounds memory)
WAIT = 900  # seconds before a worker task or the sequencer counts as hung
SPAN = timedelta(days=30)
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
]
PATHS = ["/", "/winkel/", "/winkel/jurken/", "/product/linnen-blouse", "/blog/zomer", "/contact"]
CONSENT_MODE = {"analytics": ("analytics_storage",), "tracking": ("ad_storage", "ad_user_data"),
                "marketing": ("ad_personalization", "personalization_storage")}

_shared: dict[str, Any] = {}  # what forked workers need: set before the pool forks


@dataclass
class SeedStats:
    events: int
    subjects: int
    seconds: float
    insert_s: float  # in inserts (worker processes build and a sequencer process sequences meanwhile)
    sequence_s: float  # after the last insert: the sequencer's tail, then VACUUM ANALYZE / WAL checkpoint

    @property
    def per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def _consent_mode(choices: dict[str, bool]) -> dict[str, str]:
    """The Consent Mode v2 state banner.js emits for these choices (REFERENCE.md mapping)."""
    state = {"functionality_storage": "granted", "security_storage": "granted"}
    for category, keys in CONSENT_MODE.items():
        for key in keys:
            state[key] = "granted" if choices.get(category) else "denied"
    return state


def _build(plans: list[tuple]) -> list[tuple]:
    """Worker: build_event for each planned decision; returns insertable tuples."""
    site, notice, decisions, modes = _shared["site"], _shared["notice"], _shared["decisions"], _shared["modes"]
    out = []
    for consent_id, pattern, kind, action, channel, layer, language, embed, path, ip, ua, gpc, now in plans:
        personal = {"ip_prefix": truncate_ip(ip), "ua_family": user_agent_family(ua),
                    "account_id": None, "email_hmac": None}
        built = build_event(
            site=site, notice=notice, consent_id=consent_id, decisions=decisions[pattern], kind=kind,
            language=language, interaction=Interaction(channel=channel, action=action, layer=layer),
            context=Context(origin=_shared["origin"] if embed else _shared["host"], path=path),
            gpc=gpc, consent_mode=modes[pattern] if embed else None, actor="visitor", source="browser",
            event_id=None, personal=personal, now=now)
        row = built.row
        out.append((row["event_id"], consent_id, kind, now, row["leaf"], row["leaf_hash"], row["seal"],
                    built.salt, json.dumps(personal)))
    return out


def _sequencer(stop) -> None:
    """A forked process sequencing in batches of TRANSACTION while the parent inserts; once the
    parent sets `stop`, it drains what is left and exits."""
    _default_signals()
    with _shared["app"].app_context():
        db.engine.dispose(close=False)  # the parent's pooled connections are not this process's
        while True:
            finishing = stop.is_set()  # set after the parent's last commit
            if sequence_pending(site_id=_shared["site"].id, origin=_shared["log_origin"], batch_size=TRANSACTION):
                continue
            if finishing:
                return
            stop.wait(0.2)


def _default_signals() -> None:
    """A forked child must die at once on SIGTERM (Pool.terminate relies on it), not run the
    parent's Python handler: that would unwind through locks the parent may hold, and hang."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops its children


def _worker_init() -> None:
    _default_signals()
    _shared["context"] = _shared["app"].app_context()
    _shared["context"].push()  # current_keys() reads the app; no database is touched


class LedgerSeeder:
    """Grows one site's ledger; keeps each subject's last decision so kinds stay consistent."""

    def __init__(self, app, slug: str, *, planned: int, workers: int = 2, seed: int = 4):
        self.app, self.planned, self.workers = app, max(planned, 1), workers
        self.rng = random.Random(seed)
        self.subjects: list[str] = []
        self.last: dict[str, int] = {}  # consent id -> choice pattern of its latest event
        self.seeded = 0
        with app.app_context():
            site = site_by_slug(slug)
            notice = current_notice(site)
            content = notice_document(notice)
            self.optional = [c["key"] for c in content["categories"] if not c["exempt"]]
            patterns = [{key: bool(p >> i & 1) for i, key in enumerate(self.optional)}
                        for p in range(1 << len(self.optional))]
            self.decisions = [category_decisions(site, content, choices) for choices in patterns]
            self.site = SimpleNamespace(id=site.id, slug=site.slug, consent_lifetime_days=site.consent_lifetime_days,
                                        allowed_origins=list(site.allowed_origins), languages=list(site.languages))
            self.notice = SimpleNamespace(id=notice.id, site_id=site.id, sha256=notice.sha256, version=notice.version)
            self.modes = [_consent_mode(choices) for choices in patterns]
            self.origin = log_origin(app.config["LEDGER_ORIGIN"], slug)
            self.dialect = db.engine.dialect.name
            db.session.remove()
        self.start = utcnow() - SPAN
        self.hosted_path = f"/s/{slug}/"

    # ------------------------------------------------------------------ planning (main process)

    def _plan(self, index: int) -> tuple:
        rng, full = self.rng, (1 << len(self.optional)) - 1
        roll = rng.random()
        if self.subjects and rng.random() < 0.3:  # a returning visitor changes their mind
            consent_id = self.subjects[rng.randrange(len(self.subjects))]
            previous = self.last[consent_id]
            if roll < 0.2:
                pattern, action, channel, layer = 0, "withdraw", "preferences", 2
            elif roll < 0.7:
                pattern, action, channel, layer = rng.randrange(full + 1), "save_selection", "preferences", 2
            else:
                pattern, action, channel, layer = full, "accept_all", "banner", 1
        else:
            consent_id, previous = str(uuid.UUID(int=rng.getrandbits(128), version=4)), None
            self.subjects.append(consent_id)
            if roll < 0.55:
                pattern, action, channel, layer = full, "accept_all", "banner", 1
            elif roll < 0.85:
                pattern, action, channel, layer = 0, "reject_all", "banner", 1
            else:
                pattern, action, channel, layer = rng.randrange(1, full), "save_selection", "banner", 2
        previous_leaf = None if previous is None else {"decisions": self.decisions[previous],
                                                       "notice": {"sha256": self.notice.sha256}}
        kind = classify_event(previous_leaf, self.decisions[pattern], action, self.notice.sha256)
        self.last[consent_id] = pattern
        embed = rng.random() < 0.7
        now = self.start + SPAN * (index / max(self.planned, index + 1))
        bits = rng.getrandbits(40)  # one draw for the address, path, browser and language
        ip = f"{1 + (bits & 0xFF) % 223}.{bits >> 8 & 0xFF}.{bits >> 16 & 0xFF}.{1 + (bits >> 24 & 0xFF) % 254}"
        return (consent_id, pattern, kind, action, channel, layer, "nl" if bits >> 32 & 0xF < 13 else "en", embed,
                PATHS[(bits >> 36) % len(PATHS)] if embed else self.hosted_path, ip,
                USER_AGENTS[(bits >> 24) % len(USER_AGENTS)], embed and rng.random() < 0.03, now)

    # ------------------------------------------------------------------ seeding

    def seed(self, count: int) -> SeedStats:
        """Add `count` events, sequence them all, and commit. Nothing else may write meanwhile."""
        started = time.perf_counter()
        first_subjects = len(self.subjects)
        with self.app.app_context():
            db.engine.dispose()  # no pooled connection is inherited by the forked workers
        _shared.update(app=self.app, site=self.site, notice=self.notice, decisions=self.decisions,
                       modes=self.modes, origin=self.site.allowed_origins[0], host="https://consent.example",
                       log_origin=self.origin)
        context = multiprocessing.get_context("fork")
        stop = context.Event()
        sequencer = context.Process(target=_sequencer, args=(stop,), name="seed-sequencer", daemon=True)
        sequencer.start()
        with context.Pool(self.workers, initializer=_worker_init) as pool, self.app.app_context():
            raw = db.engine.raw_connection()
            if self.dialect == "sqlite":  # room for the indexes' pages: random consent ids touch them all
                raw.driver_connection.execute("PRAGMA cache_size = -262144")
            try:
                inflight: list = []
                batch: list[tuple] = []
                planned, inserting = 0, 0.0
                while planned < count or inflight:
                    while planned < count and len(inflight) <= AHEAD:
                        n = min(TASK, count - planned)
                        plans = [self._plan(self.seeded + planned + i) for i in range(n)]
                        inflight.append(pool.apply_async(_build, (plans,)))
                        planned += n
                    batch += inflight.pop(0).get(timeout=WAIT)
                    if len(batch) >= TRANSACTION or (planned >= count and not inflight):
                        tick = time.perf_counter()
                        self._insert(raw.driver_connection, batch)
                        inserting += time.perf_counter() - tick
                        batch = []
                pool.close()  # the workers exit by themselves: no SIGTERM on the normal path
                pool.join()
            finally:
                stop.set()
                if self.dialect == "sqlite":
                    raw.driver_connection.execute("PRAGMA cache_size = -2000")  # SQLite's default
                raw.close()
        tick = time.perf_counter()
        sequencer.join(WAIT)
        if sequencer.exitcode is None:
            sequencer.kill()
            raise RuntimeError(f"the seeding sequencer did not finish in {WAIT} s")
        if sequencer.exitcode != 0:
            raise RuntimeError(f"the seeding sequencer failed (exit code {sequencer.exitcode})")
        self.seeded += count
        self._finish()
        sequencing = time.perf_counter() - tick
        return SeedStats(events=count, subjects=len(self.subjects) - first_subjects,
                         seconds=time.perf_counter() - started, insert_s=inserting, sequence_s=sequencing)

    def _insert(self, conn, rows: list[tuple]) -> None:
        """One transaction: the events (ids reserved first) and their personal rows."""
        site_id, sha = self.site.id, self.notice.sha256
        if self.dialect == "postgresql":
            with conn.cursor() as cur:
                cur.execute("SELECT nextval(pg_get_serial_sequence('consent_event', 'id')) "
                            "FROM generate_series(1, %s)", (len(rows),))
                ids = sorted(r[0] for r in cur.fetchall())
                with cur.copy("COPY consent_event (id, site_id, event_id, consent_id, kind, created_at, "
                              "notice_sha256, leaf, leaf_hash, seal) FROM STDIN") as copy:
                    for pk, (event_id, cid, kind, now, leaf, digest, seal, _salt, _data) in zip(ids, rows):
                        copy.write_row((pk, site_id, event_id, cid, kind, now, sha, leaf, digest, seal))
                with cur.copy("COPY event_personal (event_pk, salt, data) FROM STDIN") as copy:
                    for pk, row in zip(ids, rows):
                        copy.write_row((pk, row[7], row[8]))
            conn.commit()
            return
        cur = conn.cursor()
        first = cur.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM consent_event").fetchone()[0]
        cur.executemany("INSERT INTO consent_event (id, site_id, event_id, consent_id, kind, created_at, "
                        "notice_sha256, leaf, leaf_hash, seal) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [(first + i, site_id, r[0], r[1], r[2], r[3].strftime(_SQLITE_TIME), sha, r[4], r[5], r[6])
                         for i, r in enumerate(rows)])
        cur.executemany("INSERT INTO event_personal (event_pk, salt, data) VALUES (?, ?, ?)",
                        [(first + i, r[7], r[8]) for i, r in enumerate(rows)])
        conn.commit()
        cur.close()

    def _finish(self) -> None:
        """Sequence whatever is still pending, then tidy up as the database would."""
        with self.app.app_context():
            while sequence_pending(site_id=self.site.id, origin=self.origin, batch_size=TRANSACTION):
                pass
            connection = db.engine.raw_connection()
            try:
                driver = connection.driver_connection
                if self.dialect == "postgresql":  # what autovacuum would soon do; not during the timing
                    driver.autocommit = True
                    driver.execute("VACUUM ANALYZE consent_event, event_personal, log_entry, merkle_node, "
                                   "checkpoint, ledger_pending")
                    driver.autocommit = False
                else:
                    driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                connection.close()
            db.session.remove()

    # ------------------------------------------------------------------ checking

    def check_sample(self, size: int = 2000, proofs: int = 50) -> dict[str, Any]:
        """Verify `size` random log entries as `ledger verify` does (leaf hash, seal, columns,
        personal commitment), the inclusion proofs of `proofs` of them under the latest
        checkpoint (fewer: on SQLite each proof reads every node of the site), every
        checkpoint's signature, and the latest root recomputed from the stored nodes."""
        started = time.perf_counter()
        with self.app.app_context():
            site, keys = site_by_slug(self.site.slug), current_keys()
            report = VerifyReport(site=site.slug)
            checkpoints = _checked_checkpoints(site, keys, report)
            latest = latest_checkpoint(site.id)
            if latest is None:
                raise RuntimeError("no checkpoint after seeding")
            if with_stored_nodes(site.id, lambda h: root_hash(h, latest.tree_size)) != latest.root_hash:
                report.add("the stored nodes do not give the latest checkpoint's root")
            seqs = sorted(random.Random(7).sample(range(latest.tree_size), min(size, latest.tree_size)))
            rows = db.session.execute(
                select(LogEntry, ConsentEvent, EventPersonal)
                .join(ConsentEvent, ConsentEvent.id == LogEntry.event_pk)
                .outerjoin(EventPersonal, EventPersonal.event_pk == LogEntry.event_pk)
                .where(LogEntry.site_id == site.id, LogEntry.seq.in_(seqs))).all()
            if len(rows) != len(seqs):
                report.add(f"{len(seqs) - len(rows)} sampled log entries are missing")
            proved = 0
            for number, (entry, event, personal) in enumerate(rows):
                digest = _check_entry(site, entry, event, personal, keys, report)
                if number % max(1, len(rows) // proofs):
                    continue
                proved += 1
                proof = inclusion_for_event(event.id, site.id)
                if proof is None or not verify_inclusion(digest, proof.leaf_index, proof.tree_size, proof.hashes,
                                                         proof.checkpoint.root_hash):
                    report.add(f"entry #{entry.seq}: no valid inclusion proof")
            db.session.remove()
        return {"sampled": len(rows), "proofs": proved, "checkpoints": len(checkpoints), "tree_size": latest.tree_size,
                "problems": report.problems, "seconds": round(time.perf_counter() - started, 2)}
