"""The steps the newsletter services are built from. None of them commits: each service runs
a few of them and commits once."""
from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select, update
from sqlalchemy.dialects import postgresql, sqlite

from cookiegate.errors import ValidationError
from cookiegate.extensions import db
from cookiegate.ledger.record import Context, uuid7
from cookiegate.ledger.subjects import EMAIL_RE, MAX_EMAIL
from cookiegate.mail.models import OutboxMail
from cookiegate.mail.services import enqueue
from cookiegate.newsletter import proof
from cookiegate.newsletter.lists import shown_text, text_sha256
from cookiegate.newsletter.mails import confirmation_mail, manage_mail
from cookiegate.newsletter.models import MailingList, Subscriber, Subscription, Suppression
from cookiegate.newsletter.tokens import manage_token, new_confirm_token
from cookiegate.sites.models import Site

SOURCE_RE = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,39}")
CHANNELS = ("email", "post", "phone", "social")
ACTIVE = ("pending", "subscribed")
# Who acts for each opt-out method unless the caller says otherwise: (actor, source).
METHOD_ACTOR = {"one_click": ("visitor", "mail_client"), "page": ("visitor", "browser"),
                "preference_centre": ("visitor", "browser"), "account": ("visitor", "account"),
                "api": ("api_key", "api"), "mailer": ("mailer", "mailer")}


def checked_email(email: Any) -> str:
    """The address as given, without surrounding space; ValidationError when it is not one."""
    address = email.strip() if type(email) is str else ""
    if not (len(address) <= MAX_EMAIL and EMAIL_RE.fullmatch(address) and address.isprintable()):
        raise ValidationError(_l("Enter a valid e-mail address."), fields={"email": _l("an e-mail address")})
    return address


def check_request(site: Site, *, language: Any, source: Any) -> None:
    fields: dict[str, Any] = {}
    if language not in site.languages:
        fields["language"] = _l("one of %(languages)s", languages=", ".join(site.languages))
    if type(source) is not str or not SOURCE_RE.fullmatch(source):
        fields["source"] = _l("lower-case letters, digits and _ . : -, at most 40 characters")
    if fields:
        raise ValidationError(_l("The subscription request is incomplete."), fields=fields)


def check_age(site: Site, age_confirmed: Any) -> bool | None:
    """On a site that asks (marketing_age_check), marketing sign-up needs the person's
    confirmation that they are 16 or over; returns what to keep with the subscription."""
    if not site.marketing_age_check:
        return None
    if age_confirmed is not True:
        raise ValidationError(_l("Confirm that you are 16 or over to sign up."),
                              fields={"age_confirmed": _l("confirm that you are 16 or over")})
    return True


def subscriber_by_hmac(site_id: int, email_hmac: str) -> Subscriber | None:
    return db.session.execute(select(Subscriber).where(
        Subscriber.site_id == site_id, Subscriber.email_hmac == email_hmac)).scalar()


def new_subscriber(site: Site, email_hmac: str, language: str, now: datetime) -> Subscriber:
    subscriber = Subscriber(site_id=site.id, email_hmac=email_hmac, consent_id=str(uuid.uuid4()),
                            language=language, no_marketing_email=False,
                            channels={"email": True, "post": False, "phone": False, "social": False},
                            created_at=now, updated_at=now)
    db.session.add(subscriber)
    db.session.flush()
    return subscriber


def subscription_of(subscriber: Subscriber, mailing_list: MailingList) -> Subscription | None:
    return db.session.execute(select(Subscription).where(
        Subscription.subscriber_id == subscriber.id, Subscription.list_id == mailing_list.id)).scalar()


def is_suppressed(site_id: int, email_hmac: str) -> bool:
    return bool(db.session.execute(select(exists().where(
        Suppression.site_id == site_id, Suppression.email_hmac == email_hmac))).scalar())


def suppress(*, site_id: int, email_hmac: str, reason: str, now: datetime) -> None:
    """Keep the address (keyed hash) from being mailed without a fresh double opt-in; an
    entry that exists is kept as it is."""
    connection = db.session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    connection.execute(dialect.insert(Suppression.__table__).on_conflict_do_nothing(), [
        {"site_id": site_id, "email_hmac": email_hmac, "reason": reason[:24], "created_at": now}])


def request_opt_in(*, site: Site, subscriber: Subscriber, address: str, lists: list[MailingList],
                   language: str, shown_language: str, source: str, base: str, now: datetime,
                   age_confirmed: bool | None = None) -> OutboxMail | None:
    """Put each list that is not already mailable into "pending" with the proof of what was
    asked (source, shown text), and queue ONE confirmation mail for them. An address on the
    suppression list is never taken as subscribed: it always needs this fresh confirmation.
    Returns the queued mail, or None when every list was subscribed already."""
    suppressed = is_suppressed(site.id, subscriber.email_hmac)
    waiting: list[tuple[Subscription, MailingList]] = []
    for mailing_list in lists:
        subscription = subscription_of(subscriber, mailing_list)
        if subscription is not None and subscription.status == "subscribed" and not suppressed:
            continue
        if subscription is None:
            subscription = Subscription(subscriber_id=subscriber.id, list_id=mailing_list.id)
            db.session.add(subscription)
        subscription.status, subscription.source, subscription.requested_at = "pending", source, now
        subscription.age_confirmed = age_confirmed
        subscription.text_sha256 = text_sha256(shown_text(mailing_list, shown_language))
        subscription.confirmed_at = subscription.confirm_event_id = None
        waiting.append((subscription, mailing_list))
    if not waiting:
        return None
    db.session.flush()
    token, digest = new_confirm_token(waiting[0][0].id)
    mail = enqueue(site_id=site.id, kind="double_opt_in", to_hmac=subscriber.email_hmac, message=confirmation_mail(
        site=site, to=address, language=language, lists=[item for _, item in waiting], token=token, base=base))
    for subscription, _ in waiting:
        subscription.confirm_token_hash, subscription.confirmation_sent_at = digest, now
        subscription.confirmation_mail_sha256 = mail.message_sha256
    return mail


def queue_manage_mail(*, site: Site, subscriber: Subscriber, address: str, language: str, base: str) -> OutboxMail:
    """Queue the mail with the subscriber's preference-centre link."""
    token = manage_token(site_id=site.id, subscriber_id=subscriber.id, consent_id=subscriber.consent_id)
    return enqueue(site_id=site.id, kind="manage_link", to_hmac=subscriber.email_hmac, message=manage_mail(
        site=site, to=address, language=language, token=token, base=base))


def end_subscription(*, site: Site, subscriber: Subscriber, subscription: Subscription,
                     mailing_list: MailingList, method: str, context: Context, actor: str | None,
                     source: str | None, account_id: str | None, now: datetime) -> bool:
    """Unsubscribe (a pending or subscribed list) and record the opt-out with its method. Only
    one of several racing requests changes anything; True for that one."""
    event_id = uuid7()
    changed = db.session.execute(update(Subscription).where(
        Subscription.id == subscription.id, Subscription.status != "unsubscribed").values(
        status="unsubscribed", unsubscribed_at=now, unsubscribe_method=method,
        unsubscribe_event_id=event_id, confirm_token_hash=None).execution_options(synchronize_session=False))
    if changed.rowcount != 1:
        return False
    default_actor, default_source = METHOD_ACTOR[method]
    proof.record_newsletter_event(
        site=site, subscriber=subscriber, kind="unsubscribed", event_id=event_id,
        decisions=proof.list_decision(mailing_list.key, False), interaction=proof.METHOD_INTERACTION[method],
        context=context, actor=actor or default_actor, source=source or default_source, now=now,
        account_id=account_id, newsletter=proof.newsletter_object(
            list=mailing_list.key, method=method, opt_in_event=subscription.confirm_event_id))
    db.session.expire(subscription)
    return True


def forget_address_if_unused(subscriber: Subscriber, now: datetime) -> None:
    """Clear the stored address once no list is pending or subscribed (only the keyed hash
    stays); the next opt-in brings it again."""
    db.session.flush()
    active = db.session.execute(select(exists().where(
        Subscription.subscriber_id == subscriber.id, Subscription.status.in_(ACTIVE)))).scalar()
    if not active:
        subscriber.email = None
    subscriber.updated_at = now
