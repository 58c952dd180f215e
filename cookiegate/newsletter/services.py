"""Newsletter services with plain arguments, for the hosted pages, the API and the CLI alike:
subscribe (double opt-in), confirm, unsubscribe, "may I mail these addresses", link building.

States of a subscription: pending (confirmation mail out) -> subscribed (its POST confirmed)
-> unsubscribed (any opt-out method); a new opt-in starts again at pending. Every confirmed
opt-in and every opt-out is a ledger event (layout: newsletter/proof.py). Marketing mail may go
to an address only while `may_mail` says so: subscribed to the list, no global "no marketing
e-mail", not suppressed.
"""
from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Connection, delete, select, text, update
from sqlalchemy.exc import IntegrityError

from cookiegate.errors import ValidationError
from cookiegate.extensions import db
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.record import Context, Interaction, uuid7
from cookiegate.mail.models import OutboxMail
from cookiegate.mail.services import deliver
from cookiegate.newsletter import proof
from cookiegate.newsletter import subscriptions as steps
from cookiegate.newsletter.lists import list_by_key, shown_text, text_sha256
from cookiegate.mail.site_mail import public_base
from cookiegate.newsletter.models import MailingList, Subscriber, Subscription, Suppression
from cookiegate.newsletter.tokens import confirm_token_hash, confirm_token_id, invalid_link, unsubscribe_token
from cookiegate.sites.models import Site
from cookiegate.timeutil import utcnow


def subscribe(*, site: Site, email: Any, list_key: Any, language: Any, source: Any,
              base_url: str | None = None, send: bool = True, age_confirmed: Any = None,
              now: datetime | None = None) -> Subscription:
    """Ask for one list: see subscribe_lists."""
    return subscribe_lists(site=site, email=email, list_keys=[list_key], language=language, source=source,
                           base_url=base_url, send=send, age_confirmed=age_confirmed, now=now)[0]


def subscribe_lists(*, site: Site, email: Any, list_keys: list[Any], language: Any, source: Any,
                    shown_language: str | None = None, base_url: str | None = None, send: bool = True,
                    remind: bool = False, age_confirmed: Any = None, now: datetime | None = None) -> list[Subscription]:
    """Start a double opt-in for these lists of the site: each list the address is not already
    mailable on becomes pending and ONE confirmation mail (in `language`) goes out; nothing is
    mailed on these lists until its POST confirms. `source` names where the request came from
    (hosted_form, api, checkout, ...); `shown_language` is the language the sign-up text was
    read in (default: `language`). With send=False the mail is only queued (the worker sends it).
    With remind=True an address already on every list asked gets its manage link instead (so a
    sign-up form can answer the same for everyone). On a site with marketing_age_check the
    person must have confirmed being 16 or over (age_confirmed=True). Returns the subscriptions
    in the order asked; commits."""
    address = steps.checked_email(email)
    steps.check_request(site, language=language, source=source)
    age = steps.check_age(site, age_confirmed)
    if shown_language not in (None, *site.languages):
        raise ValidationError(_l("Unsupported language."), fields={"shown_language": _l("not offered by this site")})
    if type(list_keys) is not list or not list_keys or not all(type(key) is str for key in list_keys):
        raise ValidationError(_l("Choose at least one list."), fields={"lists": _l("at least one list")})
    by_key = {key: list_by_key(site, key) for key in list_keys}
    lists = list({item.id: item for item in by_key.values()}.values())
    for attempt in (1, 2):  # a twin request creating the same new subscriber: retry once
        try:
            mail = _subscribe(site, address, lists, language, shown_language or language, source,
                              public_base(base_url), remind, age, now or utcnow())
            break
        except IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise
    if mail is not None and send:
        deliver([mail.id])
    subscriber = steps.subscriber_by_hmac(site.id, current_keys().email_hmac(address))
    return [steps.subscription_of(subscriber, by_key[key]) for key in list_keys]


def _subscribe(site: Site, address: str, lists: list[MailingList], language: str, shown_language: str,
               source: str, base: str, remind: bool, age: bool | None, now: datetime) -> OutboxMail | None:
    email_hmac = current_keys().email_hmac(address)
    subscriber = steps.subscriber_by_hmac(site.id, email_hmac) or steps.new_subscriber(site, email_hmac, language, now)
    subscriber.email, subscriber.language, subscriber.updated_at = address, language, now
    mail = steps.request_opt_in(site=site, subscriber=subscriber, address=address, lists=lists, language=language,
                                shown_language=shown_language, source=source, base=base, now=now,
                                age_confirmed=age)
    if mail is None and remind:
        mail = steps.queue_manage_mail(site=site, subscriber=subscriber, address=address, language=language, base=base)
    db.session.commit()
    return mail


@dataclass(frozen=True)
class Confirmation:
    """What a confirmation link stands for: state "pending" (the button confirms), "confirmed"
    (done; the same link shows that again) or "expired" (ask again)."""

    state: str
    subscriber: Subscriber
    lists: list[MailingList]


def confirmation_for(*, site: Site, token: Any, now: datetime | None = None) -> Confirmation:
    """Look a confirmation link up without changing anything (GET and HEAD are link scanners'
    too). NotFound for a forged, altered or foreign token."""
    subscriber, group = _confirmation_group(site, token)
    return Confirmation(state=_state(group, now or utcnow()), subscriber=subscriber, lists=[m for _, m in group])


def confirm(*, site: Site, token: Any, context: Context, now: datetime | None = None) -> Confirmation:
    """Confirm the double opt-in (the button's POST): each pending list of the link becomes
    subscribed and gets its "subscribed" ledger event, with the confirming click's time, the
    truncated IP and user-agent family (context) in its personal fields. The address leaves the
    suppression list and the global "no marketing e-mail" is lifted: the newest act counts.
    Repeats change nothing. Commits."""
    now = now or utcnow()
    subscriber, group = _confirmation_group(site, token)
    state = _state(group, now)
    if state != "pending":
        return Confirmation(state=state, subscriber=subscriber, lists=[m for _, m in group])
    for subscription, mailing_list in group:
        if subscription.status == "pending":
            _confirm_one(site, subscriber, subscription, mailing_list, context, now)
    subscriber.no_marketing_email, subscriber.updated_at = False, now
    subscriber.channels = {**subscriber.channels, "email": True}
    db.session.execute(delete(Suppression).where(Suppression.site_id == site.id,
                                                 Suppression.email_hmac == subscriber.email_hmac))
    db.session.commit()
    return Confirmation(state="confirmed", subscriber=subscriber, lists=[m for _, m in group])


def _confirmation_group(site: Site, token: Any) -> tuple[Subscriber, list[tuple[Subscription, MailingList]]]:
    subscription_id = confirm_token_id(token)
    first = db.session.get(Subscription, subscription_id) if subscription_id is not None else None
    if first is None or first.confirm_token_hash is None or not hmac.compare_digest(
            bytes(first.confirm_token_hash), confirm_token_hash(token)):
        raise invalid_link()
    subscriber = db.session.get(Subscriber, first.subscriber_id)
    if subscriber is None or subscriber.site_id != site.id:
        raise invalid_link()
    group = db.session.execute(
        select(Subscription, MailingList).join(MailingList, MailingList.id == Subscription.list_id)
        .where(Subscription.subscriber_id == subscriber.id,
               Subscription.confirm_token_hash == first.confirm_token_hash)
        .order_by(MailingList.key)).all()
    return subscriber, [(row[0], row[1]) for row in group]


def _state(group: list[tuple[Subscription, MailingList]], now: datetime) -> str:
    pending = [s for s, _ in group if s.status == "pending"]
    if not pending:
        return "confirmed"
    days = float(current_app.config["NEWSLETTER_CONFIRM_DAYS"])
    return "expired" if min(s.requested_at for s in pending) < now - timedelta(days=days) else "pending"


def _confirm_one(site: Site, subscriber: Subscriber, subscription: Subscription, mailing_list: MailingList,
                 context: Context, now: datetime) -> None:
    sent_at = db.session.execute(select(OutboxMail.sent_at).where(
        OutboxMail.site_id == site.id, OutboxMail.message_sha256 == subscription.confirmation_mail_sha256,
        OutboxMail.sent_at.is_not(None))).scalar() or subscription.confirmation_sent_at
    event_id = uuid7()
    changed = db.session.execute(update(Subscription).where(
        Subscription.id == subscription.id, Subscription.status == "pending").values(
        status="subscribed", confirmed_at=now, confirm_event_id=event_id, confirmation_sent_at=sent_at,
        unsubscribed_at=None, unsubscribe_method=None, unsubscribe_event_id=None)
        .execution_options(synchronize_session=False))
    if changed.rowcount != 1:
        return  # a twin POST confirmed it first
    shown = next((t for t in (shown_text(mailing_list, lang) for lang in site.languages)
                  if text_sha256(t) == subscription.text_sha256), None)  # None: the list's text changed since
    proof.record_newsletter_event(
        site=site, subscriber=subscriber, kind="subscribed", event_id=event_id,
        decisions=proof.list_decision(mailing_list.key, True),
        interaction=Interaction(channel="email_link", action="confirm"), context=context,
        actor="visitor", source="browser", now=now, newsletter=proof.newsletter_object(
            list=mailing_list.key, method="double_opt_in", source=subscription.source, text=shown,
            text_sha256=subscription.text_sha256, requested_at=subscription.requested_at,
            confirmation_sent_at=sent_at, confirmation_mail_sha256=subscription.confirmation_mail_sha256,
            confirmed_at=now, age_confirmed=subscription.age_confirmed))
    db.session.expire(subscription)


def unsubscribe(*, site: Site, list_key: Any, method: str, email: Any = None, email_hmac: str | None = None,
                subscription: Subscription | None = None, context: Context | None = None,
                actor: str | None = None, source: str | None = None, account_id: str | None = None,
                now: datetime | None = None) -> Subscription | None:
    """Take a subscriber off one list at once, by address, keyed hash or subscription; method
    is one of proof.METHODS (one_click, page, preference_centre, account, api, mailer) and is
    recorded with the "unsubscribed" event. Idempotent: an address not on the list, or off it
    already, changes nothing (returns None, or the subscription as it is). Commits."""
    if method not in proof.METHODS:
        raise ValidationError(_l("Unknown unsubscribe method."),
                              fields={"method": _l("one of %(values)s", values=", ".join(proof.METHODS))})
    mailing_list = list_by_key(site, list_key)
    if subscription is None:
        key = email_hmac or current_keys().email_hmac(steps.checked_email(email))
        subscriber = steps.subscriber_by_hmac(site.id, key)
        subscription = steps.subscription_of(subscriber, mailing_list) if subscriber else None
    else:
        subscriber = db.session.get(Subscriber, subscription.subscriber_id)
        if subscriber is None or subscriber.site_id != site.id or subscription.list_id != mailing_list.id:
            raise ValidationError(_l("The subscription is not on this list of this site."),
                                  fields={"subscription": _l("not on this list")})
    if subscription is None:
        return None
    now = now or utcnow()
    if steps.end_subscription(site=site, subscriber=subscriber, subscription=subscription, mailing_list=mailing_list,
                              method=method, context=context or Context(), actor=actor, source=source,
                              account_id=account_id, now=now):
        steps.forget_address_if_unused(subscriber, now)
    db.session.commit()
    return subscription


_MAILABLE_SQL = {
    "postgresql": text(
        "SELECT s.email_hmac FROM unnest(string_to_array(:keys, ',')) AS w(key) "
        "JOIN subscriber AS s ON s.site_id = :site_id AND s.email_hmac = w.key "
        "JOIN subscription AS b ON b.subscriber_id = s.id AND b.list_id = :list_id AND b.status = 'subscribed' "
        "WHERE NOT s.no_marketing_email AND s.email IS NOT NULL AND NOT EXISTS ("
        "SELECT 1 FROM suppression AS p WHERE p.site_id = :site_id AND p.email_hmac = s.email_hmac)"),
    # CROSS JOIN fixes SQLite's join order (the hashes outermost, then index probes): left to
    # itself it scans the list's subscriptions and, for each, all the hashes (O(n*m)).
    "sqlite": text(
        "SELECT s.email_hmac FROM json_each(:keys) AS w "
        "CROSS JOIN subscriber AS s ON s.site_id = :site_id AND s.email_hmac = w.value "
        "CROSS JOIN subscription AS b ON b.subscriber_id = s.id AND b.list_id = :list_id AND b.status = 'subscribed' "
        "WHERE NOT s.no_marketing_email AND s.email IS NOT NULL AND NOT EXISTS ("
        "SELECT 1 FROM suppression AS p WHERE p.site_id = :site_id AND p.email_hmac = s.email_hmac)"),
}


def may_mail(*, site: Site, list_key: Any, email_hmacs: list[str],
             connection: Connection | None = None) -> dict[str, bool]:
    """For each keyed address hash: may the site send marketing mail on this list to it now?
    Yes only when subscribed (confirmed), without the global "no marketing e-mail", and not
    suppressed. One set-based statement per call (100,000 hashes in well under a second), on
    `connection` (a batch's own, sqlite_setup.bulk_reads) or else the session's."""
    if type(email_hmacs) is not list or not all(type(key) is str for key in email_hmacs):
        raise ValidationError(_l("Give the addresses as a list of keyed hashes."),
                              fields={"email_hmacs": _l("a list of strings")})
    mailing_list = list_by_key(site, list_key)
    # Sorted: SQLite probes its index in order (twice as fast). A key with a comma is no hash.
    keys = sorted({key for key in email_hmacs if "," not in key})
    if connection is None:
        connection = db.session.connection()
    dialect = connection.dialect.name
    # One text parameter: binding 100,000 values as a PostgreSQL array costs more than the query.
    bound = ",".join(keys) if dialect == "postgresql" else json.dumps(keys)
    allowed = set(connection.execute(_MAILABLE_SQL[dialect], {
        "keys": bound, "site_id": site.id, "list_id": mailing_list.id}).scalars())
    return {key: key in allowed for key in email_hmacs}


def unsubscribe_url(*, site: Site, subscription: Subscription, base_url: str | None = None) -> str:
    """The subscription's unsubscribe URL (RFC 8058 one-click target and the page behind it):
    never expires, works only for this subscriber's preferences on this site."""
    subscriber = db.session.get(Subscriber, subscription.subscriber_id)
    mailing_list = db.session.get(MailingList, subscription.list_id)
    if subscriber is None or mailing_list is None or subscriber.site_id != site.id:
        raise ValidationError(_l("The subscription is not on this site."), fields={"subscription": _l("not on this site")})
    token = unsubscribe_token(site_id=site.id, subscriber_id=subscriber.id, consent_id=subscriber.consent_id,
                              list_key=mailing_list.key)
    # No ?lang=: the one-click answer must not set the language cookie; the page follows the
    # reader's browser (Accept-Language), like every hosted page.
    return f"{public_base(base_url)}/s/{site.slug}/u/{token}"


def list_unsubscribe_headers(*, site: Site, subscription: Subscription, base_url: str | None = None) -> dict[str, str]:
    """The RFC 2369 / RFC 8058 headers a marketing mail to this subscription carries."""
    return {"List-Unsubscribe": f"<{unsubscribe_url(site=site, subscription=subscription, base_url=base_url)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
