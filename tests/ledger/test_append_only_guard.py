"""The database itself refuses to change committed ledger rows: triggers on PostgreSQL (UPDATE,
DELETE, TRUNCATE) and on SQLite (UPDATE, DELETE), whoever sends the SQL."""
from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from cookiegate.extensions import db
from cookiegate.ledger.models import APPEND_ONLY_TABLES
from tests.ledger.helpers import dialect, edited_leaf, log_of, record_many, sequence_in_batches

# What an attacker would want to change in each table.
CHANGES = {
    "consent_event": "kind = 'withdrawn'",
    "log_entry": "seq = seq + 1000",
    "merkle_node": "idx = idx + 1000",
    "checkpoint": "tree_size = tree_size + 1",
    "notice": "content = '{}'",
}
STATEMENTS = {
    "UPDATE": "UPDATE {table} SET {change} WHERE site_id = :site",
    "DELETE": "DELETE FROM {table} WHERE site_id = :site",
    "DELETE all": "DELETE FROM {table}",
}


@pytest.fixture
def guarded_site(site):
    """A site with a row in every append-only table: 4 events, 2 checkpoints, 3 tree nodes."""
    record_many(site, 4)
    assert sequence_in_batches(site, 2) == [2, 2]
    return site


def rows_of(table: str, site_id: int) -> list[tuple]:
    return sorted(map(tuple, db.session.execute(
        text(f"SELECT * FROM {table} WHERE site_id = :site"), {"site": site_id})))


def assert_refused(sql: str, site_id: int, operation: str, table: str) -> None:
    """The statement fails with the guard's message and leaves the site's rows as they were."""
    before = rows_of(table, site_id)
    assert before, f"no {table} rows to protect"
    with pytest.raises(DBAPIError) as refused:
        db.session.execute(text(sql), {"site": site_id})
    db.session.rollback()
    message = str(refused.value.orig)
    assert f"{operation} on {table} refused: the consent ledger is append-only" in message
    if dialect() == "postgresql":
        assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)
    assert rows_of(table, site_id) == before


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
@pytest.mark.parametrize("statement", STATEMENTS)
def test_update_and_delete_are_refused(guarded_site, table, statement):
    sql = STATEMENTS[statement].format(table=table, change=CHANGES[table])
    assert_refused(sql, guarded_site.id, statement.split()[0], table)


# A plain TRUNCATE of consent_event already stops at the foreign keys that point to it, before
# any trigger runs; with CASCADE it gets past them and must meet the guard.
TRUNCATES = [f"TRUNCATE {table} CASCADE" for table in APPEND_ONLY_TABLES] + [
    f"TRUNCATE {table}" for table in APPEND_ONLY_TABLES if table != "consent_event"]


@pytest.mark.parametrize("sql", TRUNCATES)
def test_truncate_is_refused_on_postgresql(guarded_site, sql):
    if dialect() != "postgresql":
        pytest.skip("SQLite has no TRUNCATE (an unqualified DELETE is tested above)")
    assert_refused(sql, guarded_site.id, "TRUNCATE", sql.split()[1])


def test_guard_is_back_after_tampering(guarded_site, tamper):
    log = log_of(guarded_site)
    with tamper() as sql:
        sql("UPDATE consent_event SET leaf = :leaf WHERE id = :pk", leaf=edited_leaf(log[0].leaf), pk=log[0].pk)
    sql = STATEMENTS["UPDATE"].format(table="consent_event", change=CHANGES["consent_event"])
    assert_refused(sql, guarded_site.id, "UPDATE", "consent_event")

