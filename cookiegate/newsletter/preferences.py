"""What an unsubscribe or manage link opens: the one-click and page opt-out of its list, and the
preference centre (per-list switches, the global "no marketing e-mail", marketing channels,
resubscribing with a fresh double opt-in), plus the "lost your link?" mail.

A link's token is its only credential: it opens this subscriber's marketing preferences on this
site and nothing else (no address is shown, no other subscriber or site is reachable), and the
one-click POST and the unsubscribe button act on the token's own list only.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from cookiegate.errors import NotFound, ValidationError
from cookiegate.extensions import db
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.record import Context, Interaction
from cookiegate.mail.services import deliver
from cookiegate.newsletter import proof
from cookiegate.newsletter import subscriptions as steps
from cookiegate.newsletter.lists import list_by_key, site_lists
from cookiegate.mail.site_mail import public_base
from cookiegate.newsletter.models import MailingList, Subscriber, Subscription
from cookiegate.newsletter.services import unsubscribe
from cookiegate.newsletter.tokens import invalid_link, read_link, same_consent_id
from cookiegate.sites.models import Site
from cookiegate.timeutil import utcnow

MARKETING_CHANNELS = ("post", "phone", "social")  # e-mail is the lists and the global switch


@dataclass(frozen=True)
class Link:
    """An opened link: its subscriber, and for an unsubscribe link its list and subscription."""

    subscriber: Subscriber
    mailing_list: MailingList | None
    subscription: Subscription | None


def open_link(*, site: Site, token: Any, manage_allowed: bool = True) -> Link:
    """Verify a link's token for this site (read only). NotFound for a forged, altered or
    foreign token, or one whose subscriber has been wiped."""
    claim = read_link(token, site_id=site.id, manage_allowed=manage_allowed)
    subscriber = db.session.get(Subscriber, claim.subscriber_id)
    if subscriber is None or subscriber.site_id != site.id or not same_consent_id(claim, subscriber.consent_id):
        raise invalid_link()
    if claim.list_key is None:
        return Link(subscriber=subscriber, mailing_list=None, subscription=None)
    try:
        mailing_list = list_by_key(site, claim.list_key)
    except NotFound:  # the list is gone
        raise invalid_link() from None
    return Link(subscriber=subscriber, mailing_list=mailing_list,
                subscription=steps.subscription_of(subscriber, mailing_list))


def unsubscribe_by_link(*, site: Site, token: Any, method: str, context: Context) -> Link:
    """Unsubscribe the link's own list (one_click or page). The same on repeats. Commits."""
    link = open_link(site=site, token=token, manage_allowed=False)
    if link.subscription is not None:
        unsubscribe(site=site, list_key=link.mailing_list.key, method=method, subscription=link.subscription,
                    context=context)
    return link


def list_states(*, site: Site, subscriber: Subscriber) -> list[tuple[MailingList, str]]:
    """Every list of the site with this subscriber's status on it ("none" when never asked)."""
    return [(item, getattr(steps.subscription_of(subscriber, item), "status", "none")) for item in site_lists(site)]


@dataclass(frozen=True)
class Saved:
    unsubscribed: list[str]
    requested: list[str]  # lists waiting for the new confirmation mail
    channels_changed: bool


def save_preferences(*, site: Site, subscriber: Subscriber, lists: dict[str, bool], no_marketing_email: bool,
                     channels: dict[str, bool], language: str, context: Context, email: Any = None,
                     base_url: str | None = None, method: str = "preference_centre",
                     account_id: str | None = None, age_confirmed: Any = None,
                     now: datetime | None = None) -> Saved:
    """Apply the preference centre: lists switched off are unsubscribed (method
    preference_centre); lists switched on again need a fresh double opt-in (one mail; the
    address must be typed again when it is no longer kept, and must be this subscriber's);
    "no marketing e-mail" unsubscribes every list and blocks marketing mail; post, phone and
    social channels are stored, and any change to them or to the global switch is an "updated"
    ledger event. `method` "account" records all of it as the customer's account page (channel
    account, the account's subject id linked); on a site with marketing_age_check, switching a
    list on needs age_confirmed=True. Commits once, then sends the mail."""
    now = now or utcnow()
    states = dict((item.key, (item, status)) for item, status in list_states(site=site, subscriber=subscriber))
    if set(lists) - set(states) or set(channels) - set(MARKETING_CHANNELS):
        raise ValidationError(_l("Unknown list or channel."), fields={"lists": _l("unknown list or channel")})
    off = [key for key, (_, status) in states.items() if status in steps.ACTIVE and (no_marketing_email or not lists.get(key))]
    on = [key for key, (_, status) in states.items() if status not in steps.ACTIVE and lists.get(key) and not no_marketing_email]
    address = _address_for(subscriber, email) if on else None
    age = steps.check_age(site, age_confirmed) if on else None
    for key in off:
        subscription = steps.subscription_of(subscriber, states[key][0])
        steps.end_subscription(site=site, subscriber=subscriber, subscription=subscription, mailing_list=states[key][0],
                               method=method, context=context, actor=None, source=None,
                               account_id=account_id, now=now)
    changed = _save_channels(site, subscriber, no_marketing_email, channels, context, now, method, account_id)
    mail = None
    if on:
        subscriber.email = address
        mail = steps.request_opt_in(site=site, subscriber=subscriber, address=address, lists=[states[k][0] for k in on],
                                    language=language, shown_language=language, source=method,
                                    base=public_base(base_url), now=now, age_confirmed=age)
    steps.forget_address_if_unused(subscriber, now)
    db.session.commit()
    if mail is not None:
        deliver([mail.id])
    return Saved(unsubscribed=off, requested=on, channels_changed=changed)


def _address_for(subscriber: Subscriber, email: Any) -> str:
    if subscriber.email:
        return subscriber.email
    address = steps.checked_email(email)
    if current_keys().email_hmac(address) != subscriber.email_hmac:
        raise ValidationError(_l("Enter the address these preferences belong to."),
                              fields={"email": _l("not the address of these preferences")})
    return address


def _save_channels(site: Site, subscriber: Subscriber, no_marketing_email: bool, channels: dict[str, bool],
                   context: Context, now: datetime, method: str, account_id: str | None) -> bool:
    wanted = {"email": not no_marketing_email, **{key: bool(channels.get(key)) for key in MARKETING_CHANNELS}}
    if wanted == subscriber.channels and no_marketing_email == subscriber.no_marketing_email:
        return False
    subscriber.channels, subscriber.no_marketing_email, subscriber.updated_at = wanted, no_marketing_email, now
    proof.record_newsletter_event(
        site=site, subscriber=subscriber, kind="updated",
        decisions={f"channel:{key}": {"granted": value, "basis": "consent"} for key, value in wanted.items()},
        interaction=Interaction(channel="account" if method == "account" else "email_link", action="save_selection"),
        context=context, actor="visitor", source="account" if method == "account" else "browser", now=now,
        account_id=account_id, newsletter=proof.newsletter_object(method=method, channels=wanted,
                                           no_marketing_email=no_marketing_email))
    return True


def send_manage_link(*, site: Site, email: Any, language: Any, base_url: str | None = None) -> None:
    """"Lost your link?": mail the preference-centre link to the address if the site knows it,
    else do nothing. The caller answers the same either way; the mail is sent in the
    background so that not even the answer's timing tells. Commits."""
    address = steps.checked_email(email)
    if language not in site.languages:
        language = site.default_language
    subscriber = steps.subscriber_by_hmac(site.id, current_keys().email_hmac(address))
    if subscriber is None:
        return
    mail = steps.queue_manage_mail(site=site, subscriber=subscriber, address=address, language=language,
                                   base=public_base(base_url))
    db.session.commit()
    deliver([mail.id], background=True)
