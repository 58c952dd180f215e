"""Export (GDPR Art. 15 and 20): everything held about a customer, as one JSON document that
the readable page shows too: the profile, the consents with their proofs (the hashed leaf, its
inclusion proof under a signed checkpoint, a signed receipt, the personal fields kept outside
the leaf), the notices they were given on, the newsletter subscriptions of the address, and
every row of every table that references the account (found by walking the models' foreign
keys, so that a new table is exported without anyone remembering to add it)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, select

from cookiegate.accounts.consents import account_subscriber, consent_history, linked_consent_ids
from cookiegate.accounts.models import Account
from cookiegate.extensions import db
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.models import EventPersonal, SubjectLink
from cookiegate.ledger.proofs import event_proof, notice_snapshot
from cookiegate.ledger.receipts import issue_receipt
from cookiegate.newsletter.models import MailingList, Subscription
from cookiegate.sites.models import Site
from cookiegate.sites.services import notice_by_hash
from cookiegate.timeutil import iso, utcnow

EXPORT_FORMAT = "cookiegate.account-export.v1"
PROFILE = ("subject_id", "email", "language", "name", "postal_address", "phone", "created_at", "confirmed_at",
           "updated_at", "deleted_at")
# Credentials are not the customer's data: their hashes are left out, their existence is not.
SECRET_COLUMNS = {"password_hash", "token_hash", "session_token", "confirm_token_hash"}
INTERNAL_KEYS = {"id", "subscriber_id", "list_id"}  # row ids that mean nothing outside this database


def export_account(*, site: Site, account: Account, now: datetime | None = None) -> dict[str, Any]:
    """The whole export of one account (events not yet in the log are sequenced first, so
    that each has its proof). Read only, apart from that sequencing."""
    events = consent_history(site=site, account=account)
    consents = [_consent(site, event.event_id, event) for event in events]
    notices = {c["event"]["notice_sha256"] for c in consents}
    return {
        "format": EXPORT_FORMAT,
        "exported_at": iso(now or utcnow()),
        "site": {"slug": site.slug, "name": site.name, "controller": site.controller},
        "account": {name: _plain(getattr(account, name)) for name in PROFILE},
        "browsers": linked_consent_ids(site=site, account=account),
        "consents": consents,
        "notices": {sha: notice_snapshot(notice_by_hash(site, sha)) for sha in sorted(notices)},
        "newsletter": _newsletter(site, account),
        "subject_links": [_row(SubjectLink.__table__, row) for row in db.session.execute(
            select(SubjectLink.__table__).where(SubjectLink.site_id == site.id, SubjectLink.kind == "account",
                                                SubjectLink.key == account.subject_id)).mappings()],
        "records": {table.name: [_row(table, row) for row in db.session.execute(
            select(table).where(column == account.id).order_by(*table.primary_key.columns)).mappings()]
            for table, column in referencing_tables()},
    }


def referencing_tables() -> list[tuple[Table, Any]]:
    """Every (table, column) whose foreign key points at account.id."""
    account_id = Account.__table__.c.id
    return [(table, fk.parent) for table in db.metadata.sorted_tables for fk in table.foreign_keys
            if fk.column is account_id]


def _consent(site: Site, event_id: str, event: Any) -> dict[str, Any]:
    proof = event_proof(site=site, event_id=event_id)
    personal = db.session.get(EventPersonal, event.id)
    return {"event": proof["event"], "inclusion": proof["inclusion"], "checkpoint": proof["checkpoint"],
            "personal": personal.data if personal is not None else None,
            "receipt": issue_receipt(event=event, keys=current_keys())}


def _newsletter(site: Site, account: Account) -> dict[str, Any] | None:
    subscriber = account_subscriber(site=site, account=account)
    if subscriber is None:
        return None
    rows = db.session.execute(select(Subscription, MailingList.key).join(
        MailingList, MailingList.id == Subscription.list_id).where(Subscription.subscriber_id == subscriber.id)
        .order_by(MailingList.key)).all()
    return {"email": subscriber.email, "language": subscriber.language, "consent_id": subscriber.consent_id,
            "channels": subscriber.channels, "no_marketing_email": subscriber.no_marketing_email,
            "created_at": iso(subscriber.created_at), "updated_at": iso(subscriber.updated_at),
            "subscriptions": [{"list": key, **{column.name: _plain(getattr(item, column.name))
                                               for column in Subscription.__table__.columns
                                               if column.name not in SECRET_COLUMNS | INTERNAL_KEYS}}
                              for item, key in rows]}


def _row(table: Table, row: Any) -> dict[str, Any]:
    return {column.name: _plain(row[column.name]) for column in table.columns if column.name not in SECRET_COLUMNS}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return value
