"""Registering, listing and removing a site's webhooks.

A webhook hears of the site's consent events sequenced after its registration: each event
becomes one delivery (see delivery.py), of type "consent.withdrawn" for a withdrawal and
"consent.changed" for every other decision (given, refused, updated, renewed, expired...).
"""
from __future__ import annotations

import secrets
import uuid
from typing import Any, NamedTuple

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import delete, func, select

from cookiegate.errors import Conflict, NotFound, ValidationError
from cookiegate.extensions import db
from cookiegate.ledger.models import LogEntry
from cookiegate.sites.models import Site
from cookiegate.timeutil import utcnow
from cookiegate.webhooks.models import Webhook, WebhookDelivery
from cookiegate.webhooks.urls import url_problem

EVENT_TYPES = ("consent.changed", "consent.withdrawn")
MAX_WEBHOOKS_PER_SITE = 20
SECRET_PREFIX = "whsec_"


class RegisteredWebhook(NamedTuple):
    webhook: Webhook
    secret: str  # shown once, at registration; the receiver checks signatures with it


class ListedWebhook(NamedTuple):
    webhook: Webhook
    pending_deliveries: int


def event_type_for(kind: str) -> str:
    """The webhook event type of a consent event kind."""
    return "consent.withdrawn" if kind == "withdrawn" else "consent.changed"


def check_url(url: object) -> LazyString | None:
    """What is wrong with a webhook URL under this deployment's settings, or None."""
    config = current_app.config
    return url_problem(url, allow_http=bool(config["WEBHOOK_ALLOW_HTTP"]),
                       allow_private=bool(config["WEBHOOK_ALLOW_PRIVATE_URLS"]))


def _checked_events(events: Any) -> list[str] | None:
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        return None
    if set(events) - set(EVENT_TYPES):
        return None
    return sorted(set(events))


def register_webhook(*, site: Site, url: Any, events: Any) -> RegisteredWebhook:
    """Register a URL to be told of the site's consent events of the given types, from the
    next sequenced event on. Returns the webhook and its signing secret (shown this once)."""
    fields = {}
    problem = check_url(url)
    if problem is not None:
        fields["url"] = problem
    chosen = _checked_events(events)
    if chosen is None:
        fields["events"] = _l("one or more of %(values)s", values=", ".join(EVENT_TYPES))
    if fields:
        raise ValidationError(_l("The webhook cannot be registered."), fields=fields)
    active = db.session.execute(select(func.count()).select_from(Webhook).where(
        Webhook.site_id == site.id, Webhook.disabled_at.is_(None))).scalar_one()
    if active >= MAX_WEBHOOKS_PER_SITE:
        raise Conflict(_l("A site may have at most %(count)d webhooks; remove one first.",
                          count=MAX_WEBHOOKS_PER_SITE), fields={"url": _l("too many webhooks")})
    log_end = db.session.execute(select(func.max(LogEntry.seq)).where(LogEntry.site_id == site.id)).scalar()
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    webhook = Webhook(site_id=site.id, public_id=str(uuid.uuid4()), url=url, secret=secret,
                      events=chosen, cursor_seq=0 if log_end is None else log_end + 1, created_at=utcnow())
    db.session.add(webhook)
    db.session.commit()
    return RegisteredWebhook(webhook=webhook, secret=secret)


def list_webhooks(*, site: Site) -> list[ListedWebhook]:
    """The site's active webhooks, oldest first, each with its count of undelivered events."""
    webhooks = db.session.execute(select(Webhook).where(
        Webhook.site_id == site.id, Webhook.disabled_at.is_(None)).order_by(Webhook.id)).scalars().all()
    pending = dict(db.session.execute(
        select(WebhookDelivery.webhook_id, func.count())
        .where(WebhookDelivery.webhook_id.in_([w.id for w in webhooks]),
               WebhookDelivery.delivered_at.is_(None))
        .group_by(WebhookDelivery.webhook_id)).all()) if webhooks else {}
    return [ListedWebhook(webhook=w, pending_deliveries=pending.get(w.id, 0)) for w in webhooks]


def parse_webhook_id(text: str) -> str | None:
    """A webhook id in its canonical form, or None when text is not a UUID."""
    try:
        return str(uuid.UUID(text)) if len(text) <= 45 else None
    except ValueError:
        return None


def remove_webhook(*, site: Site, public_id: str) -> Webhook:
    """Stop a webhook at once: it is disabled and its undelivered events are dropped (a
    delivery already on the wire may still arrive). Another site's webhook is not found."""
    canonical = parse_webhook_id(public_id)
    if canonical is None:
        raise ValidationError(_l("Not a webhook id."), fields={"id": _l("a UUID")})
    webhook = db.session.execute(select(Webhook).where(
        Webhook.site_id == site.id, Webhook.public_id == canonical, Webhook.disabled_at.is_(None))).scalar()
    if webhook is None:
        raise NotFound(_l("This site has no webhook with this id."), fields={"id": _l("unknown")})
    webhook.disabled_at = utcnow()
    db.session.execute(delete(WebhookDelivery).where(
        WebhookDelivery.webhook_id == webhook.id, WebhookDelivery.delivered_at.is_(None)))
    db.session.commit()
    return webhook
