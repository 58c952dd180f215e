"""Every SQLite connection of the app gets the pragmas of cookiegate/sqlite_setup.py."""
from __future__ import annotations

import pytest

from cookiegate.extensions import db
from cookiegate.sqlite_setup import MMAP_BYTES, WAL_AUTOCHECKPOINT_PAGES

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_a_pooled_sqlite_connection_has_the_pragmas(app):
    with app.app_context():
        connection = db.engine.raw_connection()
        try:
            def pragma(name: str):
                return connection.dbapi_connection.execute(f"PRAGMA {name}").fetchone()[0]

            assert pragma("journal_mode") == "wal"
            assert pragma("synchronous") == 1  # NORMAL
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == 30000
            assert pragma("wal_autocheckpoint") == WAL_AUTOCHECKPOINT_PAGES
            assert 0 < pragma("mmap_size") <= MMAP_BYTES  # capped at the build's maximum
        finally:
            connection.close()
