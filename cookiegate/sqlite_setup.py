"""SQLite pragmas: WAL (readers never block the writer) copied back in large batches, NORMAL
sync, foreign keys on, reads through a memory map."""
from __future__ import annotations

import sqlite3

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
