"""Fixtures shared by every test area.

Every database test runs twice: on SQLite and on PostgreSQL (127.0.0.1:5432, user postgres).
Each test process gets its own fresh database per backend, built by running the migrations.
PostgreSQL tests are skipped when it does not answer, except under CI=true, where that fails.
"""
from __future__ import annotations

import os
import socket
import threading
import uuid
from pathlib import Path

import psycopg
import pytest
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from cookiegate import create_app
from cookiegate.extensions import db

PG_ADMIN_URL = os.environ.get("COOKIEGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", "postgresql"]


def postgres_answers() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def require_postgres() -> None:
    if postgres_answers():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL does not answer at {PG_ADMIN_URL}; under CI=true it is required")
    pytest.skip("PostgreSQL does not answer at 127.0.0.1:5432")


def create_pg_database() -> str:
    name = f"cookiegate_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


class IsolatedClient(FlaskClient):
    """Each request runs in its own app context, as in production: `g`, the cached locale and
    the database session never carry over from the test's own context or an earlier request."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def build_test_app(database_url: str, instance: Path, **extra):
    from flask_migrate import upgrade

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
                      "SECRET_KEY": "test-secret", "LEDGER_KEY_FILE": str(instance / "ledger.pem"),
                      "LEDGER_SEQUENCE_INTERVAL": 0, "SERVER_NAME": None, **extra})
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade()
    return app


@pytest.fixture(scope="session")
def _instance(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    if request.param == "postgresql":
        require_postgres()
    return request.param


@pytest.fixture(scope="session")
def database_url(backend, _instance):
    """One fresh, migrated database per backend for the whole test process."""
    if backend == "sqlite":
        yield f"sqlite:///{_instance / 'test.db'}"
        return
    name = create_pg_database()
    yield pg_url(name)
    drop_pg_database(name)


@pytest.fixture(scope="session")
def app(database_url, _instance):
    application = build_test_app(database_url, _instance)
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def site(app_ctx):
    from tests.factories import make_site

    return make_site()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """The app on a real HTTP port in a thread of this process."""

    def __init__(self, application, port: int | None = None):
        self.port = port or free_port()
        self.server = make_server("127.0.0.1", self.port, application, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "LiveServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()  # free the port at once (a restart may reuse it)
        self.thread.join(5)


@pytest.fixture(scope="session")
def live_server(app):
    server = LiveServer(app).start()
    yield server
    server.stop()


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("COOKIEGATE_CHROMIUM", "/usr/bin/chromium")
    if not Path(executable).exists():
        pytest.fail(f"Chromium not found at {executable}: run bash scripts/test, which installs it")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
