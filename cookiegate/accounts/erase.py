"""Deleting an account (GDPR Art. 17), and applying deletions again after a backup restore.

The account's personal data goes (address, password hash, profile, tokens, where each log entry
came from); so do the personal fields of its ledger events, whose leaves and proofs stay valid
(they hold only a salted commitment), and the newsletter record of its address, which leaves a
suppression entry. What stays is a shell row (its events keep an owner id and nothing else) and
an erasure tombstone: the keyed hash of the address, from which `reapply_erasures` erases again
whatever a restored backup brings back.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from cookiegate.accounts import records
from cookiegate.accounts.consents import linked_consent_ids
from cookiegate.accounts.mails import queue_account_mail
from cookiegate.accounts.models import Account, AccountEvent, AccountToken, ErasureTombstone
from cookiegate.accounts.passwords import password_matches
from cookiegate.accounts.profile import wrong_password
from cookiegate.extensions import db
from cookiegate.ledger.erase import erase_subject_rows
from cookiegate.mail.models import OutboxMail
from cookiegate.mail.services import deliver
from cookiegate.mail.site_mail import public_base
from cookiegate.newsletter.subscriptions import subscriber_by_hmac
from cookiegate.newsletter.wipe import wipe_subscriber_rows
from cookiegate.sites.models import Site
from cookiegate.timeutil import iso, parse_iso, utcnow

PERSONAL = ("email", "email_hmac", "password_hash", "name", "postal_address", "phone")


@dataclass(frozen=True)
class Erased:
    accounts: int
    subscribers: int
    events: int


def delete_account(*, site: Site, account: Account, password: Any,
                   base_url: str | None = None, now: datetime | None = None) -> Erased:
    """The customer deletes their own account, after typing their password again. Every
    session ends; a confirmation goes to the address (whose copy is blanked once sent). Where
    the deletion came from is not kept: that would be personal data again. Commits."""
    if not password_matches(account.password_hash, password):
        raise wrong_password()
    now = now or utcnow()
    address = account.email
    erased = _erase_account(site, account, reason="account_deleted", now=now)
    mail = queue_account_mail(site=site, account=account, kind="account_deleted", to=address,
                              base=public_base(base_url))
    db.session.commit()
    deliver([mail.id])
    db.session.execute(update(OutboxMail).where(OutboxMail.id == mail.id, OutboxMail.sent_at.is_not(None))
                       .values(message=b""))
    db.session.commit()
    return erased


def erase_by_email_hmac(*, site: Site, email_hmac: str, reason: str, now: datetime | None = None) -> Erased:
    """Erase the site's account and newsletter record of an address (by keyed hash), as staff
    do for a request made by mail, and keep its tombstone. Commits."""
    now = now or utcnow()
    account = db.session.execute(select(Account).where(Account.site_id == site.id,
                                                       Account.email_hmac == email_hmac)).scalar()
    erased = (_erase_account(site, account, reason=reason, now=now) if account is not None
              else _erase_address(site, email_hmac, reason, now, accounts=0, events=0))
    db.session.commit()
    return erased


def tombstone_records(*, site: Site | None = None) -> list[dict[str, str]]:
    """Every tombstone (of one site, or all) as plain records, for keeping apart from the
    database's backups: a restore brings back the rows but also loses newer tombstones."""
    query = select(Site.slug, ErasureTombstone.email_hmac, ErasureTombstone.reason, ErasureTombstone.erased_at).join(
        Site, Site.id == ErasureTombstone.site_id).order_by(ErasureTombstone.id)
    if site is not None:
        query = query.where(ErasureTombstone.site_id == site.id)
    return [{"site": slug, "email_hmac": email_hmac, "reason": reason, "erased_at": iso(erased_at)}
            for slug, email_hmac, reason, erased_at in db.session.execute(query).all()]


def restore_tombstones(records: list[Any]) -> int:
    """Put back tombstones kept by tombstone_records (those of unknown sites are skipped, those
    present are kept as they are); returns how many were missing. Commits."""
    sites = {slug: site_id for site_id, slug in db.session.execute(select(Site.id, Site.slug)).all()}
    rows = [{"site_id": sites[r["site"]], "email_hmac": r["email_hmac"], "reason": str(r["reason"])[:24],
             "erased_at": parse_iso(r["erased_at"])} for r in records
            if type(r) is dict and r.get("site") in sites and type(r.get("email_hmac")) is str
            and len(r["email_hmac"]) == 64]
    before = db.session.execute(select(func.count()).select_from(ErasureTombstone)).scalar_one()
    if rows:
        connection = db.session.connection()
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        connection.execute(dialect.insert(ErasureTombstone.__table__).on_conflict_do_nothing(), rows)
    after = db.session.execute(select(func.count()).select_from(ErasureTombstone)).scalar_one()
    db.session.commit()
    return after - before


def reapply_erasures(*, site: Site | None = None, now: datetime | None = None) -> Erased:
    """After a backup restore: erase again every account and newsletter record whose address
    has a tombstone (of one site, or all). What is erased already is left as it is. Commits."""
    now = now or utcnow()
    query = select(ErasureTombstone.site_id, ErasureTombstone.email_hmac, ErasureTombstone.reason)
    if site is not None:
        query = query.where(ErasureTombstone.site_id == site.id)
    total = Erased(0, 0, 0)
    for site_id, email_hmac, reason in db.session.execute(query).all():
        account = db.session.execute(select(Account).where(Account.site_id == site_id,
                                                           Account.email_hmac == email_hmac)).scalar()
        if account is None and subscriber_by_hmac(site_id, email_hmac) is None:
            continue
        erased = erase_by_email_hmac(site=db.session.get(Site, site_id), email_hmac=email_hmac, reason=reason, now=now)
        total = Erased(*(a + b for a, b in zip(total.__dict__.values(), erased.__dict__.values())))
    return total


def _erase_account(site: Site, account: Account, *, reason: str, now: datetime) -> Erased:
    email_hmac = account.email_hmac
    events = sum(erase_subject_rows(site=site, consent_id=consent_id)
                 for consent_id in linked_consent_ids(site=site, account=account))
    db.session.execute(delete(AccountToken).where(AccountToken.account_id == account.id))
    db.session.execute(update(AccountEvent).where(AccountEvent.account_id == account.id)
                       .values(ip_prefix=None, ua_family=None))
    for name in PERSONAL:
        setattr(account, name, None)
    account.session_token, account.deleted_at, account.updated_at = secrets.token_hex(16), now, now
    records.note(account, "deleted", context=None, now=now, reason=reason)
    return _erase_address(site, email_hmac, reason, now, accounts=1, events=events) if email_hmac else Erased(1, 0, events)


def _erase_address(site: Site, email_hmac: str, reason: str, now: datetime, *, accounts: int, events: int) -> Erased:
    """The newsletter record (a suppression entry stays) and the tombstone of an address."""
    wiped = wipe_subscriber_rows(site=site, email_hmac=email_hmac, reason=reason, now=now)
    connection = db.session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    connection.execute(dialect.insert(ErasureTombstone.__table__).on_conflict_do_nothing(), [
        {"site_id": site.id, "email_hmac": email_hmac, "reason": reason[:24], "erased_at": now}])
    return Erased(accounts=accounts, subscribers=int(wiped.found), events=events + wiped.events_erased)
