"""What the shop's mailer asks over the API (newsletter services with plain arguments): subscribe
an address from the shop's own form or checkout, "may I mail these addresses on list X" for up
to 100,000 addresses, the suppression list as keyed hashes, and the List-Unsubscribe headers of
one recipient. Its inbound events (unsubscribe, bounce, complaint) are in mailer_events.py.

Addresses are only ever handled as keyed hashes (LedgerKeys.email_hmac: HMAC-SHA256 under the
deployment's lookup key of the trimmed, lower-cased address, hex); they are never stored here.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import and_, exists, literal, select, union_all

from cookiegate import ratelimit
from cookiegate.errors import NotFound, ValidationError
from cookiegate.extensions import db
from cookiegate.ledger.keys import current_keys
from cookiegate.mail.models import OutboxMail
from cookiegate.mail.services import deliver
from cookiegate.newsletter import subscriptions as steps
from cookiegate.newsletter.lists import LIST_KEY_RE, list_by_key
from cookiegate.newsletter.models import Subscriber, Suppression
from cookiegate.newsletter.services import list_unsubscribe_headers, may_mail, subscribe, unsubscribe_url
from cookiegate.sites.models import Site
from cookiegate.sqlite_setup import bulk_reads

MAX_CHECK_EMAILS = 100_000
MAX_REPORTED = 20  # bad entries named in one error
MAX_EMAIL = 254
SHOP_SOURCES = ("shop_form", "checkout", "shop_account", "import")
# What the API documents as an address (the OpenAPI pattern, character for character): no
# control characters, surrogates, spaces or second @; surrounding space is ignored.
EMAIL_CHARS = "[^@\\s\\u0000-\\u001f\\u007f-\\u009f\\ud800-\\udfff]"
EMAIL_PATTERN = f"^\\s*{EMAIL_CHARS}{{1,64}}@{EMAIL_CHARS}{{1,253}}\\s*$"
_EMAIL = re.compile(EMAIL_PATTERN)
_IPAD, _OPAD = bytes(x ^ 0x36 for x in range(256)), bytes(x ^ 0x5C for x in range(256))


def is_address(value: Any) -> bool:
    """Whether a JSON value is an address as the API documents it."""
    return type(value) is str and len(value) <= MAX_EMAIL and _EMAIL.match(value) is not None


def list_key_problem(key: Any, fields: dict[str, Any]) -> None:
    """Note in `fields` when a list key is missing or malformed (a well-formed key the site does
    not have is list_by_key's NotFound, checked after every field)."""
    if not (type(key) is str and LIST_KEY_RE.fullmatch(key)):
        fields["list"] = _l("a list key: lower-case letters, digits, - and _")


def email_hmacs(addresses: list[str]) -> list[str]:
    """LedgerKeys.email_hmac of many addresses, about three times as fast: the HMAC's inner and
    outer SHA-256 states are keyed once and copied per address (RFC 2104)."""
    key = current_keys().lookup_key
    key = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
    inner, outer = hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD))
    found = []
    for address in addresses:
        digest = inner.copy()
        digest.update(address.strip().lower().encode())
        final = outer.copy()
        final.update(digest.digest())
        found.append(final.hexdigest())
    return found


def check_addresses(*, site: Site, list_key: Any, emails: Any) -> list[bool]:
    """For each address, in order (duplicates allowed): may the site send marketing mail on
    this list to it now (newsletter.services.may_mail: subscribed and confirmed, no global "no
    marketing e-mail", not suppressed)? ValidationError names the first bad entries; NotFound
    for a list the site does not have."""
    fields: dict[str, Any] = {}
    list_key_problem(list_key, fields)
    if type(emails) is not list:
        fields["emails"] = _l("a list of e-mail addresses")
    elif len(emails) > MAX_CHECK_EMAILS:
        fields["emails"] = _l("at most %(count)d", count=MAX_CHECK_EMAILS)
    else:
        match = _EMAIL.match
        for index, value in enumerate(emails):
            if not (type(value) is str and len(value) <= MAX_EMAIL and match(value)):
                fields[f"emails.{index}"] = _l("an e-mail address")
                if len(fields) >= MAX_REPORTED:
                    break
    if fields:
        raise ValidationError(_l("The check request is malformed."), fields=fields)
    list_by_key(site, list_key)  # NotFound before any hashing
    keys = email_hmacs(emails)
    # Up to 300,000 random rows: mapped, the batch takes about 40 % less time on SQLite.
    with bulk_reads(db.session.connection()) as connection:
        allowed = may_mail(site=site, list_key=list_key, email_hmacs=keys, connection=connection)
    return [allowed[key] for key in keys]


def subscribe_from_shop(*, site: Site, email: Any, list_key: Any, language: Any, source: Any,
                        age_confirmed: Any = None) -> None:
    """Start a double opt-in asked for on the shop's side (its own form, its checkout, ...):
    the same as the hosted form (newsletter.services.subscribe), so a suppressed or wiped
    address is never taken as subscribed and always gets a fresh confirmation mail first. An
    address already mailable on the list gets nothing. The mail is sent in the background, so
    that neither the answer nor its timing tells whether the address was known. At most
    NEWSLETTER_ADDRESS_RATE_LIMIT requests per address (hosted form included). On a site with
    marketing_age_check, age_confirmed must be True. Commits."""
    fields: dict[str, Any] = {}
    if not is_address(email):
        fields["email"] = _l("an e-mail address")
    if source not in SHOP_SOURCES:
        fields["source"] = _l("one of %(values)s", values=", ".join(SHOP_SOURCES))
    if language not in site.languages:
        fields["language"] = _l("one of %(languages)s", languages=", ".join(site.languages))
    list_key_problem(list_key, fields)
    if age_confirmed is not None and type(age_confirmed) is not bool:
        fields["age_confirmed"] = _l("true or false")
    else:
        try:
            steps.check_age(site, age_confirmed)
        except ValidationError as error:
            fields.update(error.fields)
    if fields:
        raise ValidationError(_l("The subscription request is incomplete."), fields=fields)
    list_by_key(site, list_key)  # NotFound before anything is counted or sent
    ratelimit.hit(current_app.config["NEWSLETTER_ADDRESS_RATE_LIMIT"], "newsletter-address",
                  current_keys().email_hmac(email))
    subscription = subscribe(site=site, email=email, list_key=list_key, language=language, source=source,
                             send=False, age_confirmed=age_confirmed)
    queued = db.session.execute(select(OutboxMail.id).where(
        OutboxMail.site_id == site.id, OutboxMail.message_sha256 == subscription.confirmation_mail_sha256,
        OutboxMail.sent_at.is_(None), OutboxMail.to_address.is_not(None))).scalars().all()
    if queued:
        deliver(list(queued), background=True)


def unsubscribe_headers(*, site: Site, email: Any, list_key: Any) -> dict[str, str]:
    """The List-Unsubscribe and List-Unsubscribe-Post headers (RFC 2369, RFC 8058) and the
    unsubscribe URL for one recipient the site may mail on this list; NotFound otherwise (not
    subscribed, opted out of all marketing e-mail, or suppressed)."""
    fields: dict[str, Any] = {}
    if not is_address(email):
        fields["email"] = _l("an e-mail address")
    list_key_problem(list_key, fields)
    if fields:
        raise ValidationError(_l("Name an address and a list."), fields=fields)
    mailing_list = list_by_key(site, list_key)
    email_hmac = current_keys().email_hmac(email)
    subscriber = steps.subscriber_by_hmac(site.id, email_hmac)
    if subscriber is None or not may_mail(site=site, list_key=list_key, email_hmacs=[email_hmac])[email_hmac]:
        raise NotFound(_l("This address may not be mailed on this list."),
                       fields={"email": _l("not subscribed to this list")})
    subscription = steps.subscription_of(subscriber, mailing_list)
    return {**list_unsubscribe_headers(site=site, subscription=subscription),
            "url": unsubscribe_url(site=site, subscription=subscription)}


@dataclass(frozen=True)
class SuppressionEntry:
    email_hmac: str
    reason: str  # wipe, bounce, complaint (suppression list) or no_marketing_email
    since: datetime


def suppression_page(*, site: Site, after: str | None, limit: int) -> tuple[list[SuppressionEntry], str | None]:
    """The addresses (keyed hashes) the site must not send marketing mail to, whatever list:
    the suppression list (wiped, hard-bounced, complained) and the subscribers who refused all
    marketing e-mail, in hash order (keyset by the (site_id, email_hmac) indexes), `limit`
    after the hash `after`; with the hash to continue after, or None at the end."""
    listed = select(Suppression.email_hmac, Suppression.reason, Suppression.created_at.label("since")).where(
        Suppression.site_id == site.id)
    refused = select(Subscriber.email_hmac, literal("no_marketing_email").label("reason"),
                     Subscriber.updated_at.label("since")).where(
        Subscriber.site_id == site.id, Subscriber.no_marketing_email,
        ~exists().where(and_(Suppression.site_id == site.id, Suppression.email_hmac == Subscriber.email_hmac)))
    if after is not None:
        listed, refused = listed.where(Suppression.email_hmac > after), refused.where(Subscriber.email_hmac > after)
    both = union_all(listed, refused).subquery()
    rows = db.session.execute(select(both.c.email_hmac, both.c.reason, both.c.since)
                              .order_by(both.c.email_hmac).limit(limit + 1)).all()
    entries = [SuppressionEntry(*row) for row in rows[:limit]]
    return entries, (entries[-1].email_hmac if len(rows) > limit else None)


def _cursors() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="cookiegate.api.suppressions")


def encode_suppression_cursor(*, site: Site, after: str) -> str:
    """An opaque, signed continuation token for one site's suppression list."""
    return _cursors().dumps([site.id, after])


def decode_suppression_cursor(token: Any, *, site: Site) -> str:
    """The hash a cursor continues after; ValidationError for a garbled, forged or foreign one."""
    try:
        value = _cursors().loads(token) if type(token) is str and len(token) <= 200 else None
    except BadData:
        value = None
    if not isinstance(value, list) or len(value) != 2 or value[0] != site.id or type(value[1]) is not str:
        raise ValidationError(_l("The cursor is not one this listing gave out."),
                              fields={"cursor": _l("use next_cursor from the previous page, unchanged")})
    return value[1]
