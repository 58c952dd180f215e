"""SQLite pragmas: WAL (readers never block the writer) copied back in large batches, NORMAL
sync, foreign keys on, reads through a memory map. And the writers' turn (`writer_turn`)."""
from __future__ import annotations

import fcntl
import os
import sqlite3
import threading

from sqlalchemy import event
from sqlalchemy.engine import Engine

MMAP_BYTES = 4 << 30
# Pages the WAL may hold before a commit copies them back into the database file (SQLite's
# default is 1,000). A recorded decision dirties pages all over the subject index (consent ids
# are random), and each copy-back writes every distinct page again and syncs: at 1,000 pages a
# write of an event costs about twice what it does at 10,000, where pages written many times
# between two copy-backs are copied once. The WAL file grows to some 40 MiB.
WAL_AUTOCHECKPOINT_PAGES = 10_000


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Without a map every page read is a read() call copying 4 KiB out of the OS cache: a
        # batch check probes ~1,000,000 index and table pages of a big ledger. SQLite caps the
        # size at its build's maximum (2 GiB on Debian); the map costs address space, not memory.
        cursor.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        cursor.close()


class WriterTurn:
    """Writers of one SQLite database queue for their turn in the kernel before they take
    SQLite's write lock.

    SQLite has one writer at a time; one that finds the lock taken sleeps in its busy handler for
    1, 2, 5, 10 ms before it looks again, however soon the lock came free. With two worker
    processes writing events (some 300 µs each) about one write in ten slept a millisecond or
    more, and the mean wait for the lock was longer than the write itself. An exclusive flock on
    a file beside the database wakes the next writer the moment the last one lets go. It only
    orders writers that take it (`write_rows`, the sequencer); SQLite's lock still guards the
    data for every writer, so a writer that does not take the turn is merely slower.

    The lock file is opened once per process and thread: a flock belongs to an open file, which a
    forked process shares with its parent and a thread with the rest of its process, and a turn
    shared so would order nothing."""

    def __init__(self) -> None:
        self._opened = threading.local()

    def take(self, engine: Engine) -> int | None:
        """Wait for the turn on the engine's database file; answers the handle to give back with
        `give_back`, or None where no turn is needed: PostgreSQL, or SQLite in memory."""
        database = engine.url.database
        if engine.dialect.name != "sqlite" or not database or database == ":memory:" \
                or database.startswith("file:"):
            return None
        opened = self._opened.__dict__
        if opened.get("pid") != os.getpid():
            opened.clear()
            opened["pid"] = os.getpid()
        turn_file = opened.get(database)
        if turn_file is None:  # a file object: closed when its thread ends, so threads leak no handle
            turn_file = opened[database] = open(database + "-writer", "ab", buffering=0,
                                                opener=lambda path, flags: os.open(path, flags, 0o600))
        fcntl.flock(turn_file, fcntl.LOCK_EX)
        return turn_file.fileno()

    @staticmethod
    def give_back(handle: int | None) -> None:
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_UN)


writer_turn = WriterTurn()
