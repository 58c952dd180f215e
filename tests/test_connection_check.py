"""Pooled PostgreSQL connections: pinged only after sitting idle, replaced when found dead, and
the hot-path reads run once more after a lost connection (cookiegate/connection_check.py)."""
from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from cookiegate import connection_check
from cookiegate.extensions import db
from cookiegate.hotpath import fetch_one, write_rows
from tests.conftest import PG_ADMIN_URL

SELECT_ONE = ("SELECT 1", "SELECT 1")
pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # SQLite: files, no pings


def kill_pooled_connections(app) -> int:
    """Terminate every server connection to the app's database (a server restart, as the pool sees it)."""
    name = app.config["SQLALCHEMY_DATABASE_URI"].rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        return len(admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchall())


def backend_pid() -> int:
    return db.session.execute(text("SELECT pg_backend_pid()")).scalar()


def warm_pool(app) -> None:
    with app.app_context():
        backend_pid()
        db.session.remove()


@pytest.fixture
def killed_within_the_window(app, monkeypatch) -> None:
    """The pool's connections were all just used, and the server has since dropped them."""
    monkeypatch.setattr(connection_check, "IDLE_SECONDS", 3600.0)
    monkeypatch.setattr(connection_check, "_last_loss", 0.0)
    warm_pool(app)
    kill_pooled_connections(app)


def test_a_connection_idle_past_the_window_is_pinged_and_replaced_when_dead(app, monkeypatch):
    warm_pool(app)
    assert kill_pooled_connections(app) >= 1
    monkeypatch.setattr(connection_check, "IDLE_SECONDS", 0.0)  # every pooled connection counts as idle
    with app.app_context():
        assert backend_pid() > 0  # the dead connection was found at checkout and replaced
        db.session.remove()


def test_within_the_window_a_connection_is_used_without_a_ping(app, killed_within_the_window):
    with app.app_context():
        with pytest.raises(DBAPIError) as lost:  # no ping: the statement itself meets the dead connection
            backend_pid()
        assert lost.value.connection_invalidated
        db.session.remove()
    with app.app_context():  # the loss marks every older connection for a ping: all are replaced
        assert backend_pid() > 0
        db.session.remove()


def test_a_hot_read_runs_again_on_a_new_connection_after_a_loss(app, killed_within_the_window):
    with app.app_context():
        assert fetch_one(SELECT_ONE, {}) == (1,)


def test_a_hot_write_on_a_lost_connection_fails_and_the_next_one_works(app, killed_within_the_window):
    with app.app_context():  # a write is never repeated: it may have reached the server
        with pytest.raises(DBAPIError) as lost:
            write_rows([("SELECT 1", ())])
        assert lost.value.connection_invalidated
    with app.app_context():
        assert write_rows([("SELECT 1", ())]) == (1,)
