"""Pooled PostgreSQL connections are checked before use only when they have sat idle.

SQLAlchemy's `pool_pre_ping` sends a round trip (SELECT 1) at every checkout. For a request that
makes one statement, an API state look-up say, that doubles the time it waits on the server. A
connection given back to the pool a moment ago was alive a moment ago, so here a connection is
pinged only when it has been idle for longer than IDLE_SECONDS, as HikariCP does with its
"alive bypass window". A ping that fails raises DisconnectionError, so the pool drops that
connection and makes a new one (SQLAlchemy's documented pessimistic check). A connection that
dies inside the window fails its statement, as it could fail right after any ping. SQLAlchemy
then invalidates it, and from then on every connection given back before that loss is pinged
at its next checkout, whatever its idle time: a server restart takes all of them at once. The
hot-path reads (hotpath.py) run once more on a new connection, as a read can safely be repeated.

SQLite connections are files, not sockets: they are never pinged.
"""
from __future__ import annotations

import sqlite3
import time

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import Pool

IDLE_SECONDS = 1.0
_RETURNED = "cookiegate_returned_at"
_last_loss = 0.0  # when a connection of this process was last found dead (any pool)


@event.listens_for(Pool, "connect")
def _connected(dbapi_connection, record) -> None:
    record.info[_RETURNED] = time.monotonic()  # new: nothing to check at its first checkout


@event.listens_for(Pool, "checkin")
def _given_back(dbapi_connection, record) -> None:
    if dbapi_connection is not None:  # None when the connection was invalidated
        record.info[_RETURNED] = time.monotonic()


@event.listens_for(Pool, "invalidate")
def _lost(_dbapi_connection, _record, _exception) -> None:
    global _last_loss
    _last_loss = time.monotonic()


@event.listens_for(Pool, "checkout")
def _check_if_idle(dbapi_connection, record, _proxy) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        return
    returned = record.info.get(_RETURNED, 0.0)
    if returned > _last_loss and time.monotonic() - returned <= IDLE_SECONDS:
        return
    autocommit = dbapi_connection.autocommit
    try:
        dbapi_connection.autocommit = True  # as SQLAlchemy's own ping: no transaction left open
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        dbapi_connection.autocommit = autocommit
    except Exception as error:
        raise DisconnectionError(f"pooled connection is gone: {error}") from error
