"""Single-statement reads on the API's hot path, straight through the database driver.

Every API call checks its key, and a state look-up follows: through the ORM session each costs
about 70 µs to open and close the session and 60 µs to run a Core statement, against some 15 µs
for the SQL itself on SQLite. So these reads share one pooled connection of their own per app
context (a request), given back when the context ends. Each statement runs on its own, outside
any transaction (PostgreSQL's autocommit; SQLite's reads are so anyway): it sees what is
committed at that moment, never a session's pending changes, and nothing is left to roll back."""
from __future__ import annotations

from typing import Any

from flask import Flask, g
from sqlalchemy.engine import Engine

from cookiegate.extensions import db


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_give_back)


def fetch_one(statements: tuple[str, str], params: dict[str, Any]) -> tuple | None:
    """The first row of the statement (PostgreSQL's form, SQLite's form) as a plain tuple."""
    held = g.get("hot_connection")  # (connection, index of the statement's form)
    if held is None:
        engine = db.engine
        held = g.hot_connection = (engine.raw_connection(), 0 if engine.dialect.name == "postgresql" else 1)
        if held[1] == 0:
            held[0].dbapi_connection.autocommit = True
    cursor = held[0].cursor()
    try:
        cursor.execute(statements[held[1]], params)
        return cursor.fetchone()
    finally:
        cursor.close()


def fetch_all_apart(engine: Engine, statements: tuple[str, str], params: dict[str, Any]) -> list[tuple]:
    """Every row of the statement (PostgreSQL's form, SQLite's form) as plain tuples, on a pooled
    connection taken and given back here: safe to call from another thread, with its engine."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(statements[0] if engine.dialect.name == "postgresql" else statements[1], params)
        return cursor.fetchall()
    finally:
        connection.close()  # back to the pool, rolled back


def _give_back(_error: BaseException | None = None) -> None:
    held = g.pop("hot_connection", None)
    if held is None:
        return
    connection, form = held
    try:
        if form == 0 and connection.dbapi_connection is not None:
            connection.dbapi_connection.autocommit = False  # as the pool hands connections out
    finally:
        connection.close()
