"""SQLite pragmas: WAL (readers never block the writer), NORMAL sync, foreign keys on; batch
reads through a memory map (`bulk_reads`). The WAL is copied back into the database
file by a background thread per process (`wal_keeper`), never by a committing writer. And the
writers' turn (`writer_turn`)."""
from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
import weakref
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine

# A batch check reads up to some 400,000 random pages of a big ledger: without a map each is a
# read() call copying 4 KiB out of the OS cache. SQLite caps the size at its build's maximum
# (2 GiB on Debian); the map costs address space, not memory.
MMAP_BYTES = 4 << 30
# A commit that finds the WAL this long (pages) copies it back into the database file itself
# (SQLite's default is 1,000). The keeper below does that every second, so this is only the
# backstop for a process whose keeper cannot keep up (a reader holding an old snapshot, say):
# each copy-back writes every distinct page again and syncs, some 100 ms for 10,000 pages.
WAL_AUTOCHECKPOINT_PAGES = 50_000
WAL_KEEPER_SECONDS = 1.0
log = logging.getLogger(__name__)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # No map on connections that serve requests: SQLite drops a connection's whole map at the
        # start of every transaction after another connection's commit (another worker's, under
        # load nearly always), and every page is then faulted in again: a recorded decision cost
        # some 25 µs more mapped, a look-up 15 µs. Batch reads have connections of their own that
        # map the file (bulk_reads).
        cursor.execute("PRAGMA mmap_size=0")
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        path = cursor.execute("PRAGMA database_list").fetchone()[2]
        cursor.close()
        if path:  # a file: an in-memory database has no WAL
            wal_keeper.keep(path)


def sqlite_file(engine: Engine) -> str | None:
    """The path of the engine's SQLite database file, or None for PostgreSQL and for SQLite in
    memory or behind a URI (where no second connection nor file beside it can be relied on)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


@contextmanager
def bulk_reads(connection: Connection) -> Iterator[Connection]:
    """A connection for a batch of some 100,000 random look-ups: on a SQLite file, one of a small
    pool of its own that reads the file through a memory map (each page then costs a page fault
    at most, not a read() call, and the map stays while nothing is written in between); else
    `connection` itself, the caller's."""
    if sqlite_file(connection.engine) is None:
        yield connection
        return
    with _mapped_engine(connection.engine).connect() as mapped:
        yield mapped


_mapped_engines: "weakref.WeakKeyDictionary[Engine, Engine]" = weakref.WeakKeyDictionary()


def _mapped_engine(engine: Engine) -> Engine:
    mapped = _mapped_engines.get(engine)
    if mapped is None:
        mapped = _mapped_engines[engine] = create_engine(engine.url, pool_size=2, max_overflow=2)
        event.listen(mapped, "connect", _map_the_file)
    return mapped


def _map_the_file(dbapi_connection, _record) -> None:
    dbapi_connection.execute(f"PRAGMA mmap_size={MMAP_BYTES}")


class WalKeeper:
    """Copies each database's WAL back into the database file once a second, on a thread of
    its own, in every process that opens the database.

    SQLite does that copy-back (a checkpoint) by default inside the commit that filled the WAL
    past its limit: that request then waits for some 100 ms of page copies and two fsyncs,
    and holds the writers' turn all the while, so every other writer waits too. Here the
    commits only append to the WAL. A PASSIVE checkpoint never blocks readers or writers; two
    processes' keepers that meet simply take turns (SQLite lets one checkpoint at a time). The
    thread sleeps while nothing is committed (`PRAGMA data_version`) and ends when its database
    file is gone or replaced."""

    def __init__(self, interval: float = WAL_KEEPER_SECONDS) -> None:
        self.interval = interval
        self._kept: dict[tuple[int, str], threading.Thread] = {}
        self._lock = threading.Lock()
        # A child forked while another thread held the lock would wait for it forever.
        os.register_at_fork(after_in_child=self._forget_the_parents_lock)

    def _forget_the_parents_lock(self) -> None:
        self._lock = threading.Lock()

    def keep(self, path: str) -> None:
        """Make sure this process has a keeper for the database file at `path`."""
        key = (os.getpid(), os.path.realpath(path))  # a forked child has its parent's entries, not their threads
        with self._lock:
            thread = self._kept.get(key)
            if thread is not None and thread.is_alive():
                return
            thread = threading.Thread(target=self._run, args=(key[1],), daemon=True,
                                      name=f"sqlite-wal-keeper {os.path.basename(path)}")
            self._kept[key] = thread
            thread.start()

    def _run(self, path: str) -> None:
        try:
            connection = sqlite3.connect(path, isolation_level=None)
            inode = os.stat(path).st_ino
        except (sqlite3.Error, OSError):
            return
        try:
            connection.execute("PRAGMA synchronous=NORMAL")  # sync the WAL before, the file after
            seen = None
            while True:
                time.sleep(self.interval)
                try:
                    if os.stat(path).st_ino != inode:
                        return
                except FileNotFoundError:
                    return
                version = connection.execute("PRAGMA data_version").fetchone()[0]
                if version == seen:
                    continue
                seen = version
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.OperationalError as error:  # another process's keeper is at it
                    log.debug("WAL checkpoint of %s skipped: %s", path, error)
                    seen = None
        finally:
            connection.close()


wal_keeper = WalKeeper()


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
        return self.take_file(sqlite_file(engine))

    def take_file(self, database: str | None) -> int | None:
        """`take` for the database file `sqlite_file` named (None: no turn needed)."""
        if database is None:
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
