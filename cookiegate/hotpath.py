"""Statements on the hot paths (key checks, state look-ups, recording a decision), straight
through the database driver.

Every API call checks its key, and a state look-up follows: through the ORM session each costs
about 70 µs to open and close the session and 60 µs to run a Core statement, against some 15 µs
for the SQL itself on SQLite. So these statements share one pooled connection of their own per
app context (a request), given back when the context ends. A read runs on its own, outside any
transaction (PostgreSQL's autocommit; SQLite's reads are so anyway): it sees what is committed at
that moment, never a session's pending changes, and nothing is left to roll back. A write
(`write_rows`) is one transaction of its own, committed before it returns."""
from __future__ import annotations

from typing import Any

from flask import Flask, g
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from cookiegate.extensions import db
from cookiegate.sqlite_setup import sqlite_file, writer_turn


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_give_back)


def fetch_one(statements: tuple[str, str], params: dict[str, Any]) -> tuple | None:
    """The first row of the statement (PostgreSQL's form, SQLite's form) as a plain tuple. A read
    on a connection the server has dropped runs once more on a new one (connection_check.py)."""
    for attempt in (1, 2):
        connection, form, _turn_file = _held()
        try:  # the driver connection's own execute: its cursor, made in C, goes with the result
            return connection.dbapi_connection.execute(statements[form], params).fetchone()
        except Exception as error:
            lost = _drop_if_lost(error, connection)
            if not lost or attempt == 2:
                raise as_sqlalchemy_error(error, statements[form], params, lost) from error
    raise AssertionError("unreachable: the second attempt returns or raises")


def write_rows(steps: list[tuple[str, tuple]]) -> tuple | None:
    """Run the statements (SQL in this backend's form, params) as one committed transaction;
    returns the first row the first statement answers (its RETURNING). On an error nothing is
    kept and the driver's error comes out as SQLAlchemy's (an IntegrityError for a duplicate
    key, as through the session)."""
    connection, form, turn_file = _held()
    driver = connection.dbapi_connection
    sql, params = steps[0]
    turn = None
    try:
        if form == 0 and len(steps) == 1:  # PostgreSQL in autocommit: one statement is atomic
            return driver.execute(sql, params).fetchone()
        if form == 0:
            with driver.transaction():
                first = driver.execute(sql, params).fetchone()
                for sql, params in steps[1:]:
                    driver.execute(sql, params)
            return first
        turn = writer_turn.take_file(turn_file)
        first = driver.execute(sql, params).fetchone()  # SQLite begins the transaction here
        for sql, params in steps[1:]:
            driver.execute(sql, params)
        driver.commit()
        writer_turn.give_back(turn)
        turn = None
        return first
    except Exception as error:
        if form == 1:
            driver.rollback()
            writer_turn.give_back(turn)
        lost = _drop_if_lost(error, connection)
        raise as_sqlalchemy_error(error, sql, params, lost) from error


def _drop_if_lost(error: Exception, connection) -> bool:
    """True, after throwing the connection away, when the error says the server is gone; the
    next statement of this context takes a new connection."""
    dialect = db.engine.dialect
    if not isinstance(error, dialect.loaded_dbapi.Error) or not dialect.is_disconnect(
            error, connection.dbapi_connection, None):
        return False
    g.pop("hot_connection", None)
    connection.invalidate(error)
    connection.close()
    return True


def as_sqlalchemy_error(error: Exception, sql: str, params: Any, lost: bool = False) -> Exception:
    """A driver error as SQLAlchemy's (IntegrityError for a duplicate key, as through the session);
    anything else as it is."""
    dialect = db.engine.dialect
    if not isinstance(error, dialect.loaded_dbapi.Error):
        return error
    return DBAPIError.instance(sql, params, error, dialect.loaded_dbapi.Error,
                              connection_invalidated=lost, dialect=dialect)


def _held() -> tuple:
    """This app context's connection, the index of its statement form (0 PostgreSQL, 1 SQLite)
    and its SQLite file for the writers' turn (None on PostgreSQL and in memory), found once per
    context: Flask-SQLAlchemy's engine look-up costs more than a SQLite read."""
    held = g.get("hot_connection")
    if held is None:
        engine = db.engine
        postgresql = engine.dialect.name == "postgresql"
        held = g.hot_connection = (engine.raw_connection(), 0 if postgresql else 1, sqlite_file(engine))
        if postgresql:
            held[0].dbapi_connection.autocommit = True
    return held


def backend() -> str:
    """The dialect name of the hot path's connection ("postgresql" or "sqlite")."""
    return "sqlite" if _held()[1] else "postgresql"


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
    connection, form, _turn_file = held
    try:
        if form == 0 and connection.dbapi_connection is not None:
            connection.dbapi_connection.autocommit = False  # as the pool hands connections out
    finally:
        connection.close()
