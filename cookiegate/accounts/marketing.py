"""The account page's marketing section: the newsletter lists and marketing channels of the
account's address, changed through the newsletter's own preference service (method "account"),
so the rules and proofs are the preference centre's: switching a list on sends a double opt-in
mail, switching one off is an unsubscribe event."""
from __future__ import annotations

from typing import Any

from cookiegate.accounts.consents import account_subscriber
from cookiegate.accounts.models import Account
from cookiegate.extensions import db
from cookiegate.ledger.record import Context
from cookiegate.newsletter.lists import site_lists
from cookiegate.newsletter.models import MailingList
from cookiegate.newsletter.preferences import Saved, list_states, save_preferences
from cookiegate.newsletter.subscriptions import new_subscriber
from cookiegate.sites.models import Site
from cookiegate.timeutil import utcnow

NO_CHANNELS = {"email": True, "post": False, "phone": False, "social": False}


def marketing_overview(*, site: Site, account: Account) -> tuple[list[tuple[MailingList, str]], dict[str, bool], bool]:
    """Each list with the account address's status on it, the marketing channels, and the
    global "no marketing e-mail"."""
    subscriber = account_subscriber(site=site, account=account)
    if subscriber is None:
        return [(item, "none") for item in site_lists(site)], dict(NO_CHANNELS), False
    return list_states(site=site, subscriber=subscriber), subscriber.channels, subscriber.no_marketing_email


def save_account_marketing(*, site: Site, account: Account, lists: dict[str, bool], no_marketing_email: bool,
                           channels: dict[str, bool], language: str, context: Context, age_confirmed: Any = None,
                           base_url: str | None = None) -> Saved:
    """Apply the account page's marketing choices (see newsletter.preferences.save_preferences).
    An address that was never on the newsletter gets its subscriber record here. Commits."""
    subscriber = account_subscriber(site=site, account=account)
    if subscriber is None:
        subscriber = new_subscriber(site, account.email_hmac, language, utcnow())
    try:
        return save_preferences(site=site, subscriber=subscriber, lists=lists, no_marketing_email=no_marketing_email,
                                channels=channels, language=language, context=context, email=account.email,
                                base_url=base_url, method="account", account_id=account.subject_id,
                                age_confirmed=age_confirmed)
    except Exception:
        db.session.rollback()  # nothing half-made stays, the new subscriber included
        raise
