"""Helpers for the ledger acceptance tests: filling and sequencing a site's log, reading it back,
and tampering with it in raw SQL past the append-only guard, as a database superuser could.

Tampering runs on its own connection: on PostgreSQL inside one transaction after
`SET LOCAL session_replication_role = replica` (every trigger, foreign keys included, is off for
that transaction only); on SQLite the guard triggers are read from sqlite_master, dropped, and
re-created from that exact text afterwards, with foreign keys off on that connection meanwhile.
"""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from flask import current_app
from sqlalchemy import Connection, Executable, select, text

from cookiegate.canonical import canonical_json, loads
from cookiegate.extensions import db
from cookiegate.ledger.log import log_origin, sequence_pending
from cookiegate.ledger.merkle import leaf_hash
from cookiegate.ledger.models import APPEND_ONLY_TABLES, ConsentEvent, LogEntry
from cookiegate.sites.models import Site
from tests.factories import record

LEDGER_TABLES_CHILD_FIRST = ("event_personal", "ledger_pending", "log_entry", "merkle_node",
                             "checkpoint", "consent_event")


def dialect() -> str:
    return db.engine.dialect.name


def origin_of(site: Site) -> str:
    return log_origin(current_app.config["LEDGER_ORIGIN"], site.slug)


def sequence_in_batches(site: Site, batch_size: int) -> list[int]:
    """Sequence every pending event of the site, batch_size at a time; returns the batch sizes."""
    sizes = []
    while count := sequence_pending(site_id=site.id, origin=origin_of(site), batch_size=batch_size):
        sizes.append(count)
    return sizes


def record_many(site: Site, count: int, subjects: int = 6) -> list[str]:
    """Record `count` decisions spread over a few subjects; returns the subjects' consent ids."""
    consent_ids = [str(uuid.uuid4()) for _ in range(subjects)]
    for i in range(count):
        record(site, consent_id=consent_ids[i % subjects],
               choices={"analytics": i % 2 == 0, "tracking": i % 3 == 0, "marketing": False})
    return consent_ids


@dataclass(frozen=True)
class LoggedEvent:
    seq: int
    pk: int
    event_id: str
    leaf: str
    leaf_hash: bytes


def log_of(site: Site) -> list[LoggedEvent]:
    """The site's log in order, joined with its events."""
    rows = db.session.execute(
        select(LogEntry.seq, ConsentEvent.id, ConsentEvent.event_id, ConsentEvent.leaf, ConsentEvent.leaf_hash)
        .join(ConsentEvent, ConsentEvent.id == LogEntry.event_pk)
        .where(LogEntry.site_id == site.id).order_by(LogEntry.seq)).all()
    return [LoggedEvent(*row) for row in rows]


class Tamperer:
    """Runs raw SQL on one connection while the append-only guard is off."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def __call__(self, sql: str | Executable, **params: Any) -> Any:
        return self.conn.execute(text(sql) if isinstance(sql, str) else sql, params)


@contextmanager
def tampering() -> Iterator[Tamperer]:
    """`with tampering() as sql: sql("UPDATE ...")`: committed at the end, guard back on."""
    db.session.commit()
    with db.engine.connect() as conn:
        if dialect() == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            yield Tamperer(conn)
            conn.commit()
        else:
            with _sqlite_guard_lifted(conn):
                yield Tamperer(conn)
    db.session.expire_all()


def guard_trigger_names() -> list[str]:
    return [f"{table}_no_{op}" for table in APPEND_ONLY_TABLES for op in ("update", "delete")]


@contextmanager
def _sqlite_guard_lifted(conn: Connection) -> Iterator[None]:
    names = guard_trigger_names()
    guard = [(name, sql) for name, sql in conn.execute(
        text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")) if name in names]
    assert len(guard) == len(names), "the SQLite append-only triggers are not all installed"
    conn.exec_driver_sql("PRAGMA foreign_keys = OFF")  # no transaction is open yet, so it applies
    for name, _sql in guard:
        conn.exec_driver_sql(f"DROP TRIGGER {name}")
    try:
        yield
        conn.commit()
    finally:
        conn.rollback()
        for _name, sql in guard:
            conn.exec_driver_sql(sql)
        conn.commit()
        conn.exec_driver_sql("PRAGMA foreign_keys = ON")
        conn.commit()


def empty_ledger(sql: Tamperer, site_id: int) -> None:
    """Delete every ledger row of one site, children first (and personal rows whose event was
    deleted, which SQLite would otherwise hand to a new event reusing the same rowid)."""
    for table in LEDGER_TABLES_CHILD_FIRST:
        if table == "event_personal":
            sql("DELETE FROM event_personal WHERE event_pk IN (SELECT id FROM consent_event WHERE "
                "site_id = :site) OR event_pk NOT IN (SELECT id FROM consent_event)", site=site_id)
        else:
            sql(f"DELETE FROM {table} WHERE site_id = :site", site=site_id)


def edited_leaf(leaf: str) -> str:
    """The same event with one decision flipped: what a forger would want to change."""
    doc = loads(leaf)
    doc["decisions"]["marketing"]["granted"] = not doc["decisions"]["marketing"]["granted"]
    return canonical_json(doc).decode()


def forge_event(sql: Tamperer, template: LoggedEvent, *, pending: bool = False) -> LoggedEvent:
    """Insert a copy of a genuine event under a new event id with one decision flipped: columns
    and leaf hash are consistent, only the seal is made without the deployment's key.
    With pending=True it is queued for sequencing, else it is left out of the queue."""
    doc = loads(edited_leaf(template.leaf))
    doc["event_id"] = str(uuid.uuid4())
    leaf = canonical_json(doc)
    digest = leaf_hash(leaf)
    pk = sql("INSERT INTO consent_event (site_id, event_id, consent_id, kind, created_at, notice_sha256, "
             "leaf, leaf_hash, seal) SELECT site_id, :event_id, consent_id, kind, created_at, "
             "notice_sha256, :leaf, :digest, :seal FROM consent_event WHERE id = :template RETURNING id",
             event_id=doc["event_id"], leaf=leaf.decode(), digest=digest, seal=os.urandom(32),
             template=template.pk).scalar_one()
    # The consent_event_pending trigger queues every insert where triggers run (SQLite here;
    # the PostgreSQL tamper connection runs without them): end in the requested state either way.
    if pending:
        sql("INSERT INTO ledger_pending (event_pk, site_id) SELECT id, site_id FROM consent_event "
            "WHERE id = :pk AND NOT EXISTS (SELECT 1 FROM ledger_pending WHERE event_pk = :pk)", pk=pk)
    else:
        sql("DELETE FROM ledger_pending WHERE event_pk = :pk", pk=pk)
    return LoggedEvent(seq=-1, pk=pk, event_id=doc["event_id"], leaf=leaf.decode(), leaf_hash=digest)
