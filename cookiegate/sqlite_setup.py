"""SQLite pragmas: WAL (readers never block the writer), NORMAL sync, foreign keys on, reads
through a memory map."""
from __future__ import annotations

import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine

MMAP_BYTES = 4 << 30


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
        cursor.close()
