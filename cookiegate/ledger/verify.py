"""Checking a site's log end to end, from the events up to the signed checkpoints.

Everything is recomputed from the stored events: leaf hashes, seals, the copies of leaf fields
in columns, personal-field commitments, the stored tree nodes, and every checkpoint's root and
signature. Problems are reported in log order, so the first one names the first bad entry.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from sqlalchemy import exists, select

from cookiegate.canonical import canonical_json, loads
from cookiegate.extensions import db
from cookiegate.ledger.keys import LedgerKeys
from cookiegate.ledger.merkle import Frontier, leaf_hash
from cookiegate.ledger.models import (Checkpoint, ConsentEvent, EventPersonal, LogEntry, MerkleNode,
                                      PendingEvent)
from cookiegate.sites.models import Site
from cookiegate.timeutil import iso

MAX_PROBLEMS = 20
NODE_CHUNK = 5000


@dataclass
class VerifyReport:
    site: str
    entries: int = 0
    checkpoints: int = 0
    pending: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)


def verify_log(*, site: Site, keys: LedgerKeys) -> VerifyReport:
    """Verify one site's log; the report's first problem names the first bad entry. The log is
    read in one snapshot, so a batch sequenced meanwhile is seen whole or not at all."""
    _begin_snapshot()
    try:
        return _verify(site, keys)
    finally:
        db.session.rollback()  # read-only: end the snapshot


def _begin_snapshot() -> None:
    db.session.commit()  # a fresh transaction whose first statement fixes the snapshot
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN")  # pysqlite starts none for reads; WAL keeps its snapshot


def _verify(site: Site, keys: LedgerKeys) -> VerifyReport:
    report = VerifyReport(site=site.slug)
    checkpoints = _checked_checkpoints(site, keys, report)
    frontier = Frontier()
    computed_nodes: list[tuple[int, int, bytes]] = []
    next_checkpoint = 0
    rows = db.session.execute(
        select(LogEntry, ConsentEvent, EventPersonal)
        .outerjoin(ConsentEvent, ConsentEvent.id == LogEntry.event_pk)
        .outerjoin(EventPersonal, EventPersonal.event_pk == LogEntry.event_pk)
        .where(LogEntry.site_id == site.id).order_by(LogEntry.seq)
        .execution_options(yield_per=2000))
    for entry, event, personal in rows:
        if entry.seq != frontier.size:
            report.add(f"entry #{frontier.size} is missing (the log jumps to #{entry.seq})")
            break
        digest = _check_entry(site, entry, event, personal, keys, report)
        computed_nodes += frontier.append(digest)
        if len(computed_nodes) >= NODE_CHUNK:
            _compare_nodes(site.id, computed_nodes, report)
            computed_nodes = []
        while next_checkpoint < len(checkpoints) and checkpoints[next_checkpoint].tree_size == frontier.size:
            cp = checkpoints[next_checkpoint]
            if cp.root_hash != frontier.root():
                first = checkpoints[next_checkpoint - 1].tree_size if next_checkpoint else 0
                report.add(f"entries #{first}..#{cp.tree_size - 1} do not match the checkpoint "
                           f"signed at size {cp.tree_size}")
            next_checkpoint += 1
    _compare_nodes(site.id, computed_nodes, report)
    report.entries = frontier.size
    for cp in checkpoints[next_checkpoint:]:
        report.add(f"the checkpoint signed at size {cp.tree_size} covers entries that are missing "
                   f"(from #{frontier.size})")
    covered = checkpoints[-1].tree_size if checkpoints else 0
    if frontier.size > covered:
        report.add(f"entries #{covered}..#{frontier.size - 1} are covered by no signed checkpoint")
    _check_unsequenced(site, keys, report)
    return report


def _checked_checkpoints(site: Site, keys: LedgerKeys, report: VerifyReport) -> list[Checkpoint]:
    checkpoints = list(db.session.execute(select(Checkpoint).where(Checkpoint.site_id == site.id)
                                          .order_by(Checkpoint.tree_size)).scalars())
    report.checkpoints = len(checkpoints)
    for cp in checkpoints:
        lines = cp.note.split("\n")
        if (len(lines) != 5 or lines[1] != str(cp.tree_size)
                or lines[2] != base64.b64encode(cp.root_hash).decode() or not lines[0].endswith("/" + site.slug)):
            report.add(f"the checkpoint at size {cp.tree_size} does not match its signed note")
        if cp.key_id != keys.key_id:
            report.add(f"the checkpoint at size {cp.tree_size} is signed by an unknown key {cp.key_id}")
            continue
        try:
            keys.public_key.verify(cp.signature, cp.note.encode())
        except InvalidSignature:
            report.add(f"the checkpoint at size {cp.tree_size} has an invalid signature")
    return checkpoints


def _check_entry(site, entry, event, personal, keys, report) -> bytes:
    """Check one log entry against its event; return the leaf hash the tree must contain."""
    where = f"entry #{entry.seq}"
    if event is None:
        report.add(f"{where}: its event has been deleted")
        return entry.leaf_hash
    where += f" (event {event.event_id})"
    digest = leaf_hash(event.leaf.encode())
    if digest != event.leaf_hash:
        report.add(f"{where}: the event's content has been changed after it was hashed")
    elif digest != entry.leaf_hash:
        report.add(f"{where}: this is not the event that was logged at this position")
    elif not keys.seal_valid(digest, event.seal):
        report.add(f"{where}: the event's seal is invalid")
    else:
        _check_columns(site, event, personal, where, report)
    return digest


def _check_columns(site, event, personal, where, report) -> None:
    doc = loads(event.leaf)
    expected = {"site_id": site.id, "event_id": doc["event_id"], "consent_id": doc["subject"]["consent_id"],
                "kind": doc["type"], "notice_sha256": doc["notice"]["sha256"], "created_at": doc["time"]}
    actual = {"site_id": event.site_id, "event_id": event.event_id, "consent_id": event.consent_id,
              "kind": event.kind, "notice_sha256": event.notice_sha256, "created_at": iso(event.created_at)}
    for name, value in expected.items():
        if actual[name] != value:
            report.add(f"{where}: column {name} differs from the hashed record")
    if personal is not None:
        commitment = hashlib.sha256(personal.salt + canonical_json(personal.data)).hexdigest()
        if commitment != doc["personal"]["commitment"]:
            report.add(f"{where}: the personal fields do not match their commitment")


def _compare_nodes(site_id: int, computed: list[tuple[int, int, bytes]], report: VerifyReport) -> None:
    by_level: dict[int, dict[int, bytes]] = {}
    for level, idx, digest in computed:
        by_level.setdefault(level, {})[idx] = digest
    for level, wanted in by_level.items():
        stored = dict(db.session.execute(select(MerkleNode.idx, MerkleNode.hash).where(
            MerkleNode.site_id == site_id, MerkleNode.level == level,
            MerkleNode.idx.between(min(wanted), max(wanted)))).all())
        for idx, digest in sorted(wanted.items()):
            if stored.get(idx) != digest:
                report.add(f"the stored tree node at level {level}, index {idx} is wrong "
                           f"(entries #{idx << level}..#{((idx + 1) << level) - 1})")
                break


def _check_unsequenced(site: Site, keys: LedgerKeys, report: VerifyReport) -> None:
    rows = db.session.execute(
        select(ConsentEvent, PendingEvent.event_pk).outerjoin(PendingEvent, PendingEvent.event_pk == ConsentEvent.id)
        .where(ConsentEvent.site_id == site.id, ~exists().where(LogEntry.event_pk == ConsentEvent.id))
        .order_by(ConsentEvent.id))
    for event, pending_pk in rows:
        where = f"unsequenced event {event.event_id}"
        if pending_pk is None:
            report.add(f"{where} is in no log and waits for none")
        elif leaf_hash(event.leaf.encode()) != event.leaf_hash:
            report.add(f"{where}: its content does not match its hash")
        elif not keys.seal_valid(event.leaf_hash, event.seal):
            report.add(f"{where}: its seal is invalid (not written by this deployment)")
        else:
            report.pending += 1
