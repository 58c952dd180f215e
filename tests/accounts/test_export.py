"""Acceptance 2: the export holds every row of every table that references the account. The
test finds those tables by walking the models' foreign keys, and requires the account's
activity here to have put a row in each: a new table referencing accounts fails this test
until the activity below creates a row in it and the export shows it."""
from __future__ import annotations

from sqlalchemy import select

import cookiegate.models  # noqa: F401  (every table on the metadata)
from cookiegate.accounts.auth import account_by_email
from cookiegate.accounts.export import SECRET_COLUMNS, export_account, referencing_tables
from cookiegate.accounts.models import Account
from cookiegate.extensions import db
from tests.accounts.conftest import PASSWORD, post_form
from tests.newsletter.conftest import forget_loaded


def referencing_by_walk() -> dict[str, list[str]]:
    """Independently of the export code: table -> columns whose foreign key is account.id."""
    found: dict[str, list[str]] = {}
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            for fk in column.foreign_keys:
                if fk.target_fullname == "account.id":
                    found.setdefault(table.name, []).append(column.name)
    return found


def test_the_export_holds_every_row_that_references_the_account(live_server, shop, smtp, account_session):
    person, address = account_session
    base = f"{live_server.url}/s/{shop.slug}/account"
    # Activity that touches every referencing table: tokens (a reset, an address change) and events.
    assert post_form(person, f"{base}/", {"name": "Anna", "postal_address": "", "phone": ""},
                     action=f"{base}/profile").status_code == 303
    assert post_form(person, f"{base}/", {"email_password": PASSWORD, "new_email": "nieuw-" + address},
                     action=f"{base}/email").status_code == 303
    assert post_form(person, f"{base}/reset", {"email": address}).status_code == 200
    smtp.wait_for("nieuw-" + address)
    smtp.wait_for(address, 2)

    forget_loaded()
    account = account_by_email(shop, address)
    walked = referencing_by_walk()
    assert walked, "no table references account.id: the walk itself is broken"
    assert {table.name: [column.name] for table, column in referencing_tables()} == walked
    exported = export_account(site=shop, account=account)
    assert set(exported["records"]) == set(walked)
    for table_name, columns in walked.items():
        table = db.metadata.tables[table_name]
        rows = db.session.execute(select(table).where(
            db.or_(*[table.c[name] == account.id for name in columns]))).mappings().all()
        assert rows, f"the test's activity left no row in {table_name}: make it create one"
        shown = exported["records"][table_name]
        key = [c.name for c in table.primary_key.columns]
        assert sorted(tuple(r[k] for k in key) for r in shown) == sorted(tuple(r[k] for k in key) for r in rows)
        for row in shown:
            assert not SECRET_COLUMNS & set(row), f"{table_name}: a credential's hash is exported"
            assert set(row) == {c.name for c in table.columns} - SECRET_COLUMNS
    other = db.session.execute(select(Account).where(Account.site_id == shop.id, Account.id != account.id)).scalars()
    assert all(o.subject_id not in str(exported) for o in other)
    assert exported["account"]["email"] == address and exported["account"]["name"] == "Anna"
