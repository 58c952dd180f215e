"""The shop mailer's inbound events: an unsubscribe (from its own link or footer), a hard bounce
or a spam complaint, sent in batches over the API.

- unsubscribe: ends the address's subscription to the list named (every list when none is),
  recorded like every opt-out: an "unsubscribed" ledger event with method "mailer";
- bounce (permanent failure only) and complaint: the address goes on the suppression list (all
  lists; a fresh double opt-in lifts it) and every subscription it has ends, as above.

An event older than the opt-in it would end is stale and changes nothing: a retried or late
unsubscribe never undoes a newer, confirmed subscription. An event with an id is applied at most
once per site: its id is kept (MailerEvent), and a repeat answers "duplicate".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, String, UniqueConstraint, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from cookiegate.errors import NotFound, ValidationError
from cookiegate.extensions import db
from cookiegate.ledger.record import Context
from cookiegate.newsletter import subscriptions as steps
from cookiegate.newsletter.lists import LIST_KEY_RE, site_lists
from cookiegate.newsletter.mailer import MAX_REPORTED, email_hmacs, is_address
from cookiegate.newsletter.models import MailingList, Subscriber, Subscription
from cookiegate.sites.models import Site
from cookiegate.timeutil import utcnow

EVENT_TYPES = ("unsubscribe", "bounce", "complaint")
EVENT_FIELDS = {"type", "email", "list", "time", "id"}
MAX_EVENTS = 1000
ID_PATTERN = "^[\\x21-\\x7e]{1,128}$"  # printable ASCII, no spaces: any mailer's message or event id
_ID = re.compile(ID_PATTERN)
RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


class MailerEvent(db.Model):
    """The id of an event a site's mailer sent, kept so that a retried event is applied once.
    An opaque id of the mailer's, never an address."""

    __tablename__ = "mailer_event"
    __table_args__ = (UniqueConstraint("site_id", "event_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    event_key: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime]


@dataclass(frozen=True)
class InboundEvent:
    kind: str
    email_hmac: str
    list_key: str | None
    time: datetime
    id: str | None


def apply_mailer_events(*, site: Site, key_id: str, events: Any, now: datetime | None = None) -> list[str]:
    """Check a batch of mailer events at once (ValidationError naming each bad field, NotFound
    naming each unknown list: nothing is applied then), then apply them in order, each in its
    own transaction. Returns a status per event: "applied" (something changed), "ignored"
    (nothing to change, or stale) or "duplicate" (its id was received before)."""
    now = now or utcnow()
    lists = {item.key: item for item in site_lists(site)}
    checked = check_events(events, lists=lists, now=now)
    return [_apply(site, f"api_key:{key_id}/{event.kind}", event, lists, now) for event in checked]


def check_events(events: Any, *, lists: dict[str, MailingList], now: datetime) -> list[InboundEvent]:
    """The events as sent, validated: type, address, list key, RFC 3339 time (default and at
    most `now`), id."""
    if type(events) is not list:
        raise ValidationError(_l("Give the events as a list."), fields={"events": _l("a list of events")})
    fields: dict[str, Any] = {}
    unknown: dict[str, Any] = {}
    for index, event in enumerate(events):
        at = f"events.{index}"
        if type(event) is not dict:
            fields[at] = _l("an object with type and email")
            continue
        fields.update({f"{at}.{name}": _l("unknown field") for name in sorted(set(event) - EVENT_FIELDS)})
        if event.get("type") not in EVENT_TYPES:
            fields[f"{at}.type"] = _l("one of %(values)s", values=", ".join(EVENT_TYPES))
        if not is_address(event.get("email")):
            fields[f"{at}.email"] = _l("an e-mail address")
        list_key = event.get("list")
        if list_key is not None and not (type(list_key) is str and LIST_KEY_RE.fullmatch(list_key)):
            fields[f"{at}.list"] = _l("a list key, or null for every list")
        elif list_key is not None and list_key not in lists:
            unknown[f"{at}.list"] = _l("unknown list")
        if event.get("time") is not None and _moment(event["time"], now) is None:
            fields[f"{at}.time"] = _l("an RFC 3339 time such as 2026-01-31T12:00:00Z")
        if event.get("id") is not None and not (type(event["id"]) is str and _ID.fullmatch(event["id"])):
            fields[f"{at}.id"] = _l("1 to 128 printable ASCII characters, no spaces")
        if len(fields) >= MAX_REPORTED:
            break
    if fields:
        raise ValidationError(_l("Some events are malformed."), fields=fields)
    if unknown:
        raise NotFound(_l("This site has no such mailing list."), fields=unknown)
    keys = email_hmacs([event["email"] for event in events])
    return [InboundEvent(kind=event["type"], email_hmac=key, list_key=event.get("list"),
                         time=now if event.get("time") is None else _moment(event["time"], now), id=event.get("id"))
            for event, key in zip(events, keys)]


def _moment(value: Any, now: datetime) -> datetime | None:
    """An RFC 3339 time as naive UTC, never after `now` (a mailer's clock may run ahead); None
    when malformed."""
    match = RFC3339.fullmatch(value) if type(value) is str else None
    if match is None:
        return None
    fraction = (match[4] or ".0")[:7].ljust(7, "0")
    zone = "+00:00" if match[5] in "Zz" else match[5]
    seconds = min(int(match[3]), 59)  # a leap second counts as the second before it
    try:
        moment = datetime.fromisoformat(f"{match[1]}T{match[2]}:{seconds:02d}{fraction}{zone}")
    except ValueError:
        return None
    try:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # within a day of year 1 or 9999
        moment = datetime.min if moment.year == 1 else now
    return min(moment, now)


def _apply(site: Site, source: str, event: InboundEvent, lists: dict[str, MailingList], now: datetime) -> str:
    try:
        if event.id is not None and not _first_time(site, event, now):
            status = "duplicate"
        elif event.kind == "unsubscribe":
            status = _unsubscribe(site, source, event, lists, now)
        else:
            status = _suppress(site, source, event, lists, now)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return status


def _first_time(site: Site, event: InboundEvent, now: datetime) -> bool:
    """Keep the event's id; False when the site's mailer sent it before (a twin request waits
    for the other's commit on PostgreSQL, and SQLite runs one writer at a time)."""
    connection = db.session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    table = MailerEvent.__table__
    inserted = connection.execute(dialect.insert(table).on_conflict_do_nothing().returning(table.c.id), {
        "site_id": site.id, "event_key": event.id, "kind": event.kind, "received_at": now})
    return inserted.first() is not None


def _subscriptions(subscriber: Subscriber, lists: dict[str, MailingList]) -> list[tuple[Subscription, MailingList]]:
    by_id = {item.id: item for item in lists.values()}
    found = db.session.execute(select(Subscription).where(Subscription.subscriber_id == subscriber.id)
                               .order_by(Subscription.list_id)).scalars()
    return [(subscription, by_id[subscription.list_id]) for subscription in found]


def _opted_in_at(subscription: Subscription) -> datetime:
    """When the opt-in an opt-out would end was made: confirmed, or asked for (pending)."""
    return subscription.confirmed_at or subscription.requested_at


def _end(site: Site, source: str, subscriber: Subscriber, ending: list[tuple[Subscription, MailingList]],
         now: datetime) -> bool:
    """End these subscriptions (method mailer, one ledger event each); True if any changed."""
    changed = False
    for subscription, mailing_list in ending:
        changed |= steps.end_subscription(
            site=site, subscriber=subscriber, subscription=subscription, mailing_list=mailing_list,
            method="mailer", context=Context(), actor="mailer", source=source, account_id=None, now=now)
    if changed:
        steps.forget_address_if_unused(subscriber, now)
    return changed


def _unsubscribe(site: Site, source: str, event: InboundEvent, lists: dict[str, MailingList], now: datetime) -> str:
    subscriber = steps.subscriber_by_hmac(site.id, event.email_hmac)
    if subscriber is None:
        return "ignored"
    ending = [(subscription, mailing_list) for subscription, mailing_list in _subscriptions(subscriber, lists)
              if subscription.status in steps.ACTIVE and event.list_key in (None, mailing_list.key)
              and _opted_in_at(subscription) <= event.time]
    return "applied" if _end(site, source, subscriber, ending, now) else "ignored"


def _suppress(site: Site, source: str, event: InboundEvent, lists: dict[str, MailingList], now: datetime) -> str:
    """A hard bounce or a complaint: suppressed, and every subscription ends; stale (nothing
    changes) when the address confirmed an opt-in after the event."""
    subscriber = steps.subscriber_by_hmac(site.id, event.email_hmac)
    held = _subscriptions(subscriber, lists) if subscriber is not None else []
    if any(subscription.confirmed_at and subscription.confirmed_at > event.time for subscription, _ in held):
        return "ignored"
    fresh = not steps.is_suppressed(site.id, event.email_hmac)
    steps.suppress(site_id=site.id, email_hmac=event.email_hmac, reason=event.kind, now=now)
    ending = [(subscription, mailing_list) for subscription, mailing_list in held
              if subscription.status in steps.ACTIVE]
    ended = _end(site, source, subscriber, ending, now) if ending else False
    return "applied" if fresh or ended else "ignored"
