"""Wiping a subscriber: the address and everything personal go, a suppression entry stays."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, update

from cookiegate.extensions import db
from cookiegate.ledger.erase import erase_subject_rows
from cookiegate.ledger.keys import current_keys
from cookiegate.mail.models import OutboxMail
from cookiegate.newsletter import subscriptions as steps
from cookiegate.newsletter.models import Subscriber, Subscription
from cookiegate.sites.models import Site
from cookiegate.timeutil import utcnow


@dataclass(frozen=True)
class Wiped:
    found: bool
    subscriptions: int
    events_erased: int


def wipe_subscriber(*, site: Site, email: Any, reason: str = "wipe", now: datetime | None = None) -> Wiped:
    """Erase a person from the site's newsletter: the subscriber and its subscriptions are
    deleted, every mail to them (queued or kept) loses its address and bytes (the sha256 stays),
    and the personal fields of their ledger events are erased (the events and proofs stay
    valid). A suppression entry (keyed hash) is kept, also for an address the site did not know:
    a later subscribe needs a fresh double opt-in, and may_mail says no until it is confirmed.
    Commits."""
    wiped = wipe_subscriber_rows(site=site, email_hmac=current_keys().email_hmac(steps.checked_email(email)),
                                 reason=reason, now=now)
    db.session.commit()
    return wiped


def wipe_subscriber_rows(*, site: Site, email_hmac: str, reason: str = "wipe", now: datetime | None = None) -> Wiped:
    """wipe_subscriber for an address known by its keyed hash, in the caller's transaction."""
    now = now or utcnow()
    subscriber = steps.subscriber_by_hmac(site.id, email_hmac)
    db.session.execute(update(OutboxMail).where(OutboxMail.site_id == site.id, OutboxMail.to_hmac == email_hmac)
                       .values(to_address=None, message=b"", to_hmac=None))
    steps.suppress(site_id=site.id, email_hmac=email_hmac, reason=reason, now=now)
    if subscriber is None:
        return Wiped(found=False, subscriptions=0, events_erased=0)
    removed = db.session.execute(delete(Subscription).where(Subscription.subscriber_id == subscriber.id))
    db.session.execute(delete(Subscriber).where(Subscriber.id == subscriber.id))
    erased = erase_subject_rows(site=site, consent_id=subscriber.consent_id)
    return Wiped(found=True, subscriptions=removed.rowcount or 0, events_erased=erased)
