"""Every SQLite connection of the app gets the pragmas of cookiegate/sqlite_setup.py, its WAL is
copied back by a keeper thread rather than by a committing writer, and its writers queue for
their turn."""
from __future__ import annotations

import gc
import multiprocessing
import os
import threading
import time
import uuid

import pytest
from sqlalchemy import select

from cookiegate.extensions import db
from cookiegate.ledger.models import ConsentEvent
from cookiegate.sqlite_setup import MMAP_BYTES, WAL_AUTOCHECKPOINT_PAGES, WAL_KEEPER_SECONDS, writer_turn
from cookiegate.ledger.record import Context, Interaction, record_consent
from cookiegate.sites.models import Site
from cookiegate.sites.services import current_notice
from tests.factories import make_site

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@sqlite_only
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
            assert pragma("mmap_size") == 0  # mapped only for batch reads
        finally:
            connection.close()


@sqlite_only
def test_batch_reads_have_mapped_connections_of_their_own(app):
    from cookiegate.sqlite_setup import bulk_reads

    with app.app_context():
        session_connection = db.session.connection()
        with bulk_reads(session_connection) as connection:
            assert connection is not session_connection
            assert 0 < connection.exec_driver_sql("PRAGMA mmap_size").scalar() <= MMAP_BYTES  # the build's cap
            assert connection.exec_driver_sql("SELECT count(*) FROM site").scalar() >= 0
        assert session_connection.exec_driver_sql("PRAGMA mmap_size").scalar() == 0
        db.session.rollback()


def test_batch_reads_on_postgresql_use_the_callers_connection():
    from sqlalchemy import create_engine

    from cookiegate.sqlite_setup import bulk_reads
    from tests.conftest import PG_ADMIN_URL, require_postgres

    require_postgres()
    engine = create_engine(PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection, bulk_reads(connection) as used:
            assert used is connection
    finally:
        engine.dispose()


# --- the WAL keeper --------------------------------------------------------------------------

def _keepers(path) -> list[threading.Thread]:
    name = f"sqlite-wal-keeper {os.path.basename(path)}"
    return [thread for thread in threading.enumerate() if thread.name == name and thread.is_alive()]


def _rows_in_the_database_file(path, table: str) -> int:
    """Rows of `table` in the database file itself, not counting what is still only in the WAL."""
    import sqlite3

    reader = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return reader.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:  # not even the table is there yet
        return -1
    finally:
        reader.close()


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_commits_only_append_to_the_wal_and_the_keeper_copies_it_back(tmp_path):
    from sqlalchemy import create_engine, text

    path = tmp_path / "kept.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE note (body TEXT)"))
        assert len(_keepers(path)) == 1, "the first connection starts the process's keeper"
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == WAL_AUTOCHECKPOINT_PAGES
            for i in range(200):  # far below the backstop: no commit copies anything back itself
                connection.execute(text("INSERT INTO note VALUES (:body)"), {"body": "x" * 2000})
                connection.commit()
        assert _wait_for(lambda: _rows_in_the_database_file(path, "note") == 200, 5 * WAL_KEEPER_SECONDS), \
            "the keeper never copied the WAL back into the database file"
        engine.dispose()
        assert len(_keepers(path)) == 1, "one keeper per process and file, however many connections"
    finally:
        engine.dispose()


def test_a_forked_child_gets_a_keeper_of_its_own(tmp_path):
    from sqlalchemy import create_engine, text

    path = tmp_path / "forked.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE note (body TEXT)"))
    engine.dispose()  # a server forks its workers before they connect
    assert len(_keepers(path)) == 1
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # the parent's keeper thread does not exist here
        try:
            before = len(_keepers(path))
            with engine.connect() as connection:
                connection.execute(text("SELECT count(*) FROM note")).scalar()
            os.write(writing, f"{before} {len(_keepers(path))}".encode())
        finally:
            os._exit(0)
    os.close(writing)
    seen = os.read(reading, 64).decode()
    os.waitpid(child, 0)
    os.close(reading)
    assert seen == "0 1"


def test_the_keeper_ends_when_its_database_file_is_gone(tmp_path):
    from sqlalchemy import create_engine, text

    path = tmp_path / "gone.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE note (body TEXT)"))
    engine.dispose()
    assert _keepers(path)
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    assert _wait_for(lambda: not _keepers(path), 5 * WAL_KEEPER_SECONDS)


# --- the writers' turn -------------------------------------------------------------------------

HOLD = 0.4  # seconds a holder keeps the turn; a waiter that did not wait finishes far sooner


def _holds_the_turn(database_url: str, held, release) -> None:
    """In another process: take the turn on the database, say so, keep it until told."""
    from sqlalchemy import create_engine

    turn = writer_turn.take(create_engine(database_url))
    held.set()
    release.wait(30)
    writer_turn.give_back(turn)


@sqlite_only
def test_a_recorded_decision_waits_for_the_writers_turn_another_process_holds(app):
    with app.app_context():
        site = make_site()
        url = str(db.engine.url)
    context = multiprocessing.get_context("spawn")
    held, release = context.Event(), context.Event()
    holder = context.Process(target=_holds_the_turn, args=(url, held, release))
    holder.start()
    try:
        assert held.wait(60), "the holder never took the turn"
        threading.Timer(HOLD, release.set).start()
        started = time.monotonic()
        with app.app_context():
            loaded = db.session.get(Site, site.id)
            notice = current_notice(loaded)
            db.session.commit()  # no session transaction: the event is written on its own (write_rows)
            recorded = record_consent(
                site=loaded, notice=notice, consent_id=str(uuid.uuid4()), choices={}, language="nl",
                interaction=Interaction(channel="banner", action="reject_all", layer=1),
                context=Context(origin="https://shop.example", path="/", ip="203.0.113.9", user_agent="x"),
                new_subject=True)
        waited = time.monotonic() - started
    finally:
        release.set()
        holder.join(30)
    assert waited >= HOLD * 0.9, f"the write went ahead while another process held the turn ({waited:.3f} s)"
    with app.app_context():
        assert db.session.execute(select(ConsentEvent).filter_by(event_id=recorded.event_id)).scalar_one()


@sqlite_only
def test_the_turn_orders_threads_of_one_process_and_a_forked_child(app):
    with app.app_context():
        engine = db.engine

        def waited_in(start) -> float:
            """Seconds the started waiter (a thread or a forked process) spent taking the turn
            while this thread held it for HOLD seconds."""
            turn = writer_turn.take(engine)
            began = time.monotonic()
            result = start()
            time.sleep(HOLD)
            writer_turn.give_back(turn)
            return result(began)

        def in_thread():
            took = []
            worker = threading.Thread(target=lambda: (writer_turn.give_back(writer_turn.take(engine)),
                                                      took.append(time.monotonic())))
            worker.start()
            return lambda began: (worker.join(10), took[0] - began)[1]

        def in_fork():
            reading, writing = os.pipe()
            child = os.fork()
            if child == 0:  # the child shares this thread's open lock file: the turn must not
                try:
                    writer_turn.give_back(writer_turn.take(engine))
                    os.write(writing, repr(time.monotonic()).encode())
                finally:
                    os._exit(0)
            os.close(writing)

            def result(began):
                took = float(os.read(reading, 64))
                os.waitpid(child, 0)
                os.close(reading)
                return took - began
            return result

        assert waited_in(in_thread) >= HOLD * 0.9
        assert waited_in(in_fork) >= HOLD * 0.9


def test_postgresql_needs_no_turn():
    from sqlalchemy import create_engine

    assert writer_turn.take(create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")) is None


@sqlite_only
def test_a_thread_that_ends_leaves_no_open_turn_file(app):
    with app.app_context():
        engine = db.engine

        def open_handles() -> int:
            return len(os.listdir("/proc/self/fd"))

        writer_turn.give_back(writer_turn.take(engine))  # this thread's own file, kept
        before = open_handles()
        for _ in range(20):
            worker = threading.Thread(target=lambda: writer_turn.give_back(writer_turn.take(engine)))
            worker.start()
            worker.join(10)
        gc.collect()
        assert open_handles() <= before + 1  # leeway for an unrelated handle; 20 leaked ones fail
