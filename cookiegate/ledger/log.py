"""The per-site Merkle log: sequencing pending events in batches, signed checkpoints, proofs.

Recording never takes a lock; only sequencing does, per site, and it appends a batch at a time:
log entries, the perfect-subtree nodes they complete, and one signed checkpoint, in one
transaction. So every log entry is covered by a signed checkpoint once committed.
"""
from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from typing import Callable, TypeVar

from flask import current_app
from sqlalchemy import delete, insert, select, text, tuple_
from sqlalchemy.exc import IntegrityError, OperationalError

from cookiegate.errors import LedgerIntegrityError
from cookiegate.extensions import db
from cookiegate.ledger.keys import LedgerKeys, current_keys
from cookiegate.ledger.merkle import (Frontier, consistency_proof, inclusion_proof, node_hash, root_hash,
                                      split_point)
from cookiegate.ledger.models import Checkpoint, ConsentEvent, LogEntry, MerkleNode, PendingEvent
from cookiegate.sites.models import Site
from cookiegate.sqlite_setup import writer_turn
from cookiegate.timeutil import iso, utcnow

_process_lock = threading.Lock()  # one sequencer per process; the database guards across processes
T = TypeVar("T")


def checkpoint_note(origin: str, size: int, root: bytes, time: str) -> str:
    """The signed text of a checkpoint: origin, size, base64 root, time, one per line."""
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n{time}\n"


def log_origin(base: str, slug: str) -> str:
    return f"{base}/{slug}"


def latest_checkpoint(site_id: int) -> Checkpoint | None:
    return db.session.execute(
        select(Checkpoint).where(Checkpoint.site_id == site_id)
        .order_by(Checkpoint.tree_size.desc()).limit(1)).scalar()


def checkpoint_at(site_id: int, tree_size: int) -> Checkpoint | None:
    """The checkpoint signed at exactly this tree size, if one was."""
    return db.session.execute(select(Checkpoint).where(
        Checkpoint.site_id == site_id, Checkpoint.tree_size == tree_size)).scalar()


def sequence_pending(*, site_id: int, origin: str, batch_size: int = 2000,
                     keys: LedgerKeys | None = None) -> int:
    """Append up to batch_size pending events of a site to its log and sign a checkpoint.
    Returns how many were appended. Safe to run from several processes at once."""
    keys = keys or current_keys()
    with _process_lock:
        for attempt in range(5):
            # On SQLite the whole batch takes the writers' turn: its reads then see the last
            # write, and its first insert never finds the write lock taken by a turn-taker.
            turn = writer_turn.take(db.engine)
            try:
                return _sequence_batch(site_id, origin, batch_size, keys)
            except (IntegrityError, OperationalError):
                # Another process sequenced this site at the same moment: start again from its result.
                db.session.rollback()
                if attempt == 4:
                    raise
            finally:
                writer_turn.give_back(turn)
    return 0


def _sequence_batch(site_id: int, origin: str, batch_size: int, keys: LedgerKeys) -> int:
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(8675309, :site)"), {"site": site_id})
    pending = _sealed_pending(site_id, batch_size, keys)
    if not pending:
        db.session.rollback()
        return 0
    last = latest_checkpoint(site_id)
    size = last.tree_size if last else 0
    frontier = load_frontier(site_id, size)
    entries, nodes, appended = [], [], []
    for event_pk, digest in pending:
        entries.append((site_id, frontier.size, event_pk, digest))
        nodes += [(site_id, level, idx, digest_) for level, idx, digest_ in frontier.append(digest)]
        appended.append(event_pk)
    if entries:
        _insert_many(_INSERT_ENTRY, entries)
        if nodes:
            _insert_many(_INSERT_NODE, nodes)
        now = utcnow()
        root = frontier.root()
        note = checkpoint_note(origin, frontier.size, root, iso(now))
        db.session.execute(insert(Checkpoint).values(
            site_id=site_id, tree_size=frontier.size, root_hash=root, created_at=now,
            key_id=keys.key_id, note=note, signature=keys.sign(note.encode())))
    db.session.execute(delete(PendingEvent).where(PendingEvent.event_pk.in_(appended)))
    db.session.commit()
    return len(entries)


# A batch's entries and nodes go through the driver's executemany: through the ORM's bulk insert
# a thousand rows cost six times their SQL, all of it while the batch holds SQLite's write lock
# (the workers' requests wait for it) and the worker's GIL.
_INSERT_ENTRY = "INSERT INTO log_entry (site_id, seq, event_pk, leaf_hash) VALUES ({0}, {0}, {0}, {0})"
_INSERT_NODE = "INSERT INTO merkle_node (site_id, level, idx, hash) VALUES ({0}, {0}, {0}, {0})"


def _insert_many(sql: str, rows: list[tuple]) -> None:
    connection = db.session.connection()
    connection.exec_driver_sql(sql.format("%s" if connection.dialect.name == "postgresql" else "?"), rows)


def _sealed_pending(site_id: int, batch_size: int, keys: LedgerKeys) -> list[tuple[int, bytes]]:
    """Up to batch_size pending (event_pk, leaf_hash) of a site, oldest first, skipping rows whose
    seal is invalid: those were not written by this deployment, are never sequenced, stay
    pending and are reported by `ledger verify`; they must not hold up the events behind them."""
    sealed: list[tuple[int, bytes]] = []
    after = None
    while len(sealed) < batch_size:
        query = (select(PendingEvent.event_pk, ConsentEvent.leaf_hash, ConsentEvent.seal)
                 .join(ConsentEvent, ConsentEvent.id == PendingEvent.event_pk)
                 .where(PendingEvent.site_id == site_id)
                 .order_by(PendingEvent.event_pk).limit(batch_size))
        if after is not None:
            query = query.where(PendingEvent.event_pk > after)
        rows = db.session.execute(query).all()
        sealed += [(pk, digest) for pk, digest, seal in rows if keys.seal_valid(digest, seal)]
        if len(rows) < batch_size:
            break
        after = rows[-1].event_pk
    return sealed[:batch_size]


def sequence_all(*, origin_base: str, batch_size: int = 2000, until_empty: bool = True) -> int:
    """Sequence every site that has pending events. Returns the count. until_empty=False makes
    one pass (a batch per site): a scheduled sequencer must not spin while events keep arriving,
    its batches simply grow with the load."""
    total = 0
    while True:
        sites = db.session.execute(select(PendingEvent.site_id).distinct()).scalars().all()
        db.session.rollback()
        done = 0
        for site_id in sites:
            slug = db.session.get(Site, site_id).slug
            done += sequence_pending(site_id=site_id, origin=log_origin(origin_base, slug),
                                     batch_size=batch_size)
        total += done
        if not until_empty or done == 0:
            return total  # done == 0: nothing, or only unsealed rows (verify reports them), is left


def load_frontier(site_id: int, size: int) -> Frontier:
    positions = Frontier.node_positions(size)
    found = load_nodes(site_id, positions)
    return Frontier(size, [found[p] for p in positions])


def load_nodes(site_id: int, positions: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Fetch perfect-subtree hashes: level 0 from log entries, higher levels from merkle_node."""
    found: dict[tuple[int, int], bytes] = {}
    leaves = [idx for level, idx in positions if level == 0]
    inner = [(level, idx) for level, idx in positions if level > 0]
    for start in range(0, len(leaves), 500):
        rows = db.session.execute(select(LogEntry.seq, LogEntry.leaf_hash).where(
            LogEntry.site_id == site_id, LogEntry.seq.in_(leaves[start:start + 500])))
        found.update({(0, seq): h for seq, h in rows})
    for start in range(0, len(inner), 500):
        rows = db.session.execute(select(MerkleNode.level, MerkleNode.idx, MerkleNode.hash).where(
            MerkleNode.site_id == site_id,
            tuple_(MerkleNode.level, MerkleNode.idx).in_(inner[start:start + 500])))
        found.update({(level, idx): h for level, idx, h in rows})
    missing = set(positions) - set(found)
    if missing:
        raise LedgerIntegrityError(f"log nodes missing: {sorted(missing)[:5]}")
    return found


class _PositionRecorder:
    """Answers range_hash with a placeholder and notes which perfect subtrees were needed."""

    def __init__(self) -> None:
        self.positions: set[tuple[int, int]] = set()

    def range_hash(self, start: int, end: int) -> bytes:
        for level, idx in _perfect_cover(start, end):
            self.positions.add((level, idx))
        return b"\x00" * 32


class _StoredHasher:
    def __init__(self, nodes: dict[tuple[int, int], bytes]):
        self.nodes = nodes

    def range_hash(self, start: int, end: int) -> bytes:
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            return self.nodes[(n.bit_length() - 1, start // n)]
        k = split_point(n)
        return node_hash(self.range_hash(start, start + k), self.range_hash(start + k, end))


def _perfect_cover(start: int, end: int) -> list[tuple[int, int]]:
    """The perfect, aligned subtrees whose combination RFC 6962 uses for MTH(D[start:end])."""
    n = end - start
    if n & (n - 1) == 0 and start % n == 0:
        return [(n.bit_length() - 1, start // n)]
    k = split_point(n)
    return _perfect_cover(start, start + k) + _perfect_cover(start + k, end)


def with_stored_nodes(site_id: int, compute: Callable[..., T]) -> T:
    """Run a merkle function (root_hash, inclusion_proof, ...) against the stored nodes,
    fetching exactly the O(log n) nodes it needs in one pass."""
    recorder = _PositionRecorder()
    compute(recorder)
    return compute(_StoredHasher(load_nodes(site_id, sorted(recorder.positions))))


@dataclass(frozen=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    hashes: list[bytes]
    checkpoint: Checkpoint


def log_entry_for(event_pk: int) -> LogEntry | None:
    return db.session.execute(select(LogEntry).where(LogEntry.event_pk == event_pk)).scalar()


def inclusion_for_event(event_pk: int, site_id: int) -> InclusionProof | None:
    """The inclusion proof of an event under the site's latest checkpoint (None if unsequenced)."""
    entry = log_entry_for(event_pk)
    checkpoint = latest_checkpoint(site_id)
    if entry is None or checkpoint is None or entry.seq >= checkpoint.tree_size:
        return None
    hashes = with_stored_nodes(site_id, lambda h: inclusion_proof(h, entry.seq, checkpoint.tree_size))
    return InclusionProof(leaf_index=entry.seq, tree_size=checkpoint.tree_size, hashes=hashes,
                          checkpoint=checkpoint)


def consistency_between(site_id: int, first: int, second: int) -> tuple[list[bytes], bytes, bytes]:
    """(PROOF(first, D[second]), MTH(D[0:first]), MTH(D[0:second])) from the stored nodes, in one
    fetch. The caller checks 0 < first <= second <= the site's sequenced size."""
    return with_stored_nodes(site_id, lambda h: (consistency_proof(h, first, second),
                                                 root_hash(h, first), root_hash(h, second)))


def ensure_sequenced(site: Site) -> int:
    """Sequence the site's pending events now (a receipt should name a signed tree head)."""
    return sequence_pending(site_id=site.id, origin=log_origin(current_app.config["LEDGER_ORIGIN"], site.slug))
