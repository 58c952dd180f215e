"""Single-statement reads on the API's hot path, straight through the database driver.

Every API call checks its key, and a state look-up follows: through the ORM session each costs
about 70 µs to open and close the session and 60 µs to run a Core statement, against some 15 µs
for the SQL itself on SQLite. So these reads take a pooled connection of their own, run one
statement and hand it back. They see what is committed, never a session's pending changes."""
from __future__ import annotations

from typing import Any

from cookiegate.extensions import db


def fetch_one(statements: tuple[str, str], params: dict[str, Any]) -> tuple | None:
    """The first row of the statement (PostgreSQL's form, SQLite's form) as a plain tuple."""
    engine = db.engine
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(statements[0] if engine.dialect.name == "postgresql" else statements[1], params)
        return cursor.fetchone()
    finally:
        connection.close()  # back to the pool, rolled back
