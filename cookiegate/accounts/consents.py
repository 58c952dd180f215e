"""The consents of an account: the cookie choices made in browsers while logged in (logging
in links the browser's consent id to the account, subject_link kind "account"), the newsletter
opt-ins and opt-outs of its address, and the ledger events behind them with their receipts."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from cookiegate.accounts.models import Account
from cookiegate.canonical import loads
from cookiegate.errors import NotFound
from cookiegate.extensions import db
from cookiegate.ledger.models import ConsentEvent, SubjectLink
from cookiegate.ledger.record import Context, Interaction, link_subject, record_consent
from cookiegate.newsletter.models import Subscriber
from cookiegate.newsletter.subscriptions import subscriber_by_hmac
from cookiegate.sites.models import Site
from cookiegate.sites.services import current_notice, notice_document
from cookiegate.timeutil import utcnow


@dataclass(frozen=True)
class BrowserConsent:
    """One browser's latest cookie decision, as the account page lists it."""

    consent_id: str
    event_id: str
    kind: str
    time: str
    decisions: dict[str, dict[str, Any]]
    this_browser: bool

    @property
    def any_granted(self) -> bool:
        return any(d["granted"] for d in self.decisions.values() if d["basis"] == "consent")


def link_browser(*, site: Site, account: Account, consent_id: str | None, now: datetime | None = None) -> None:
    """Link this browser's consent id to the account (at login; in the caller's transaction)."""
    if consent_id:
        link_subject(site_id=site.id, consent_id=consent_id, account_id=account.subject_id, email_hmac=None,
                     now=now or utcnow())


def linked_consent_ids(*, site: Site, account: Account) -> list[str]:
    return list(db.session.execute(select(SubjectLink.consent_id).where(
        SubjectLink.site_id == site.id, SubjectLink.kind == "account", SubjectLink.key == account.subject_id)
        .order_by(SubjectLink.created_at, SubjectLink.consent_id)).scalars())


def account_subscriber(*, site: Site, account: Account) -> Subscriber | None:
    return subscriber_by_hmac(site.id, account.email_hmac) if account.email_hmac else None


def browser_consents(*, site: Site, account: Account, current_consent_id: str | None) -> list[BrowserConsent]:
    """Each linked browser's latest decision, newest first."""
    found = []
    for consent_id in linked_consent_ids(site=site, account=account):
        event = db.session.execute(select(ConsentEvent).where(
            ConsentEvent.site_id == site.id, ConsentEvent.consent_id == consent_id)
            .order_by(ConsentEvent.id.desc()).limit(1)).scalar()
        if event is not None:
            leaf = loads(event.leaf)
            found.append(BrowserConsent(consent_id=consent_id, event_id=event.event_id, kind=event.kind,
                                        time=leaf["time"], decisions=leaf["decisions"],
                                        this_browser=consent_id == current_consent_id))
    return sorted(found, key=lambda item: item.time, reverse=True)


def consent_history(*, site: Site, account: Account) -> list[ConsentEvent]:
    """Every ledger event of the account's browsers and of its address's newsletter
    subscriptions, newest first."""
    consent_ids = linked_consent_ids(site=site, account=account)
    subscriber = account_subscriber(site=site, account=account)
    if subscriber is not None:
        consent_ids.append(subscriber.consent_id)
    if not consent_ids:
        return []
    return list(db.session.execute(select(ConsentEvent).where(
        ConsentEvent.site_id == site.id, ConsentEvent.consent_id.in_(consent_ids))
        .order_by(ConsentEvent.id.desc())).scalars())


def account_event(*, site: Site, account: Account, event_id: Any) -> ConsentEvent:
    """One event of the account's history; NotFound for any other."""
    for event in consent_history(site=site, account=account):
        if event.event_id == event_id:
            return event
    raise NotFound(_l("Your account has no consent with this id."))


def withdraw_browser_consent(*, site: Site, account: Account, consent_id: Any, language: str,
                             context: Context) -> str:
    """Withdraw every optional category for one of the account's browsers (channel account).
    The shop's services see it at once through the API; the caller updates the cookie when it
    is the current browser's. Returns the event id; commits."""
    if consent_id not in linked_consent_ids(site=site, account=account):
        raise NotFound(_l("Your account has no consent with this id."))
    notice = current_notice(site)
    optional = [c["key"] for c in notice_document(notice)["categories"] if not c["exempt"]]
    recorded = record_consent(site=site, notice=notice, consent_id=consent_id, choices={key: False for key in optional},
                              language=language, interaction=Interaction(channel="account", action="withdraw"),
                              context=context, account_id=account.subject_id)
    return recorded.event_id
