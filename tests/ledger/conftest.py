"""Fixtures for the ledger acceptance tests (each runs on SQLite and on PostgreSQL through the
session-wide `backend` parameter of tests/conftest.py)."""
from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from cookiegate.extensions import db
from cookiegate.ledger.cli import ledger_cli
from cookiegate.sites.models import Site
from tests.ledger.helpers import (LoggedEvent, empty_ledger, log_of, record_many, sequence_in_batches,
                                  tampering)

LOG_SIZE = 20
BATCH = 7  # three signed checkpoints: at sizes 7, 14 and 20


@pytest.fixture
def logged_site(site) -> Site:
    """A site with LOG_SIZE events over a few subjects, sequenced in batches of BATCH."""
    record_many(site, LOG_SIZE)
    assert sequence_in_batches(site, BATCH) == [7, 7, 6]
    return site


@pytest.fixture
def log(logged_site) -> list[LoggedEvent]:
    """The logged site's entries in log order."""
    return log_of(logged_site)


@pytest.fixture
def run_ledger_cli(app_ctx) -> Callable[..., Any]:
    """Invoke `cookiegate ledger ARGS...` in the test's app; returns click's Result."""
    runner = app_ctx.test_cli_runner()
    return lambda *args: runner.invoke(ledger_cli, list(args))


@pytest.fixture
def tamper(site) -> Iterator[Callable[[], Any]]:
    """The `tampering` context manager; the test's site is emptied of ledger rows afterwards,
    so that a later `ledger verify` of every site in the shared test database still passes."""
    yield tampering
    db.session.rollback()
    with tampering() as sql:
        empty_ledger(sql, site.id)
