"""Newsletter opt-ins and opt-outs as ledger events (one leaf schema for all of them).

The leaf is the ledger's (`ledger.record.build_event`, schema 1) with a "newsletter" object:

- type: "subscribed" (a double opt-in confirmed), "unsubscribed" (a list left, or all marketing
  e-mail refused) or "updated" (marketing channels changed);
- subject.consent_id: the subscriber's own consent id (Subscriber.consent_id). It is not linked
  to the address in subject_link: the cookie state of an address is its latest linked event, and
  a newsletter event there would hide the cookie decision. The address is found through
  Subscriber.email_hmac, and each event's personal fields hold the e-mail HMAC;
- decisions: {"newsletter:<list key>": {"granted": bool, "basis": "consent"}} for a list;
  {"channel:<email|post|phone|social>": {...}} for a change of marketing channels;
- notice: the site's notice in force (its privacy statement) and the language the person used;
- interaction: channel email_link (confirmation page, unsubscribe link, preference centre),
  account, or api; action confirm, one_click, unsubscribe or save_selection;
- context: origin and path of the page (never the token: it is a credential);
- actor: visitor/browser, visitor/mail_client (RFC 8058 one-click, sent by the mailbox
  provider), api_key/api_key:<id>, or mailer/<source> (the shop mailer's events);
- expires: the ledger's usual refresh date; a subscription itself lasts until withdrawn;
- newsletter: {
    "list": list key, or null for a channels event,
    "method": "double_opt_in" for an opt-in; for an opt-out one of METHODS,
    "source": where the opt-in was asked for (hosted_form, api, checkout, ...), else null,
    "text": what was shown {list, language, name, description, signup}, else null,
    "text_sha256": sha256 of the canonical JSON of "text" (Subscription.text_sha256), else null,
    "requested_at", "confirmation_sent_at", "confirmed_at": times of the opt-in, else null,
    "confirmation_mail_sha256": sha256 of the whole confirmation mail (RFC 5322 bytes), else null,
    "opt_in_event": for an opt-out, the event id of the opt-in it ends, else null,
    "channels": {"email", "post", "phone", "social": bool} for a channels event, else null,
    "no_marketing_email": the global opt-out for a channels event, else null,
    "age_confirmed": true when the site asks marketing sign-ups to confirm they are 16 or over
        and the person did, else null}
- personal fields (outside the leaf, erasable, committed to by the leaf): ip_prefix and
  ua_family of the confirming click or of the opt-out's request, email_hmac, account_id.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from cookiegate.ledger.record import (Context, Interaction, build_event, check_interaction, insert_event_rows,
                                      uuid7)
from cookiegate.newsletter.models import Subscriber
from cookiegate.privacy import truncate_ip, user_agent_family
from cookiegate.sites.models import Site
from cookiegate.sites.services import current_notice
from cookiegate.timeutil import iso

METHODS = ("one_click", "page", "preference_centre", "account", "api", "mailer")
# The interaction each opt-out method is recorded with.
METHOD_INTERACTION = {
    "one_click": Interaction(channel="email_link", action="one_click"),
    "page": Interaction(channel="email_link", action="unsubscribe"),
    "preference_centre": Interaction(channel="email_link", action="unsubscribe"),
    "account": Interaction(channel="account", action="unsubscribe"),
    "api": Interaction(channel="api", action="unsubscribe"),
    "mailer": Interaction(channel="api", action="unsubscribe"),
}
FIELDS = ("list", "method", "source", "text", "text_sha256", "requested_at", "confirmation_sent_at",
          "confirmed_at", "confirmation_mail_sha256", "opt_in_event", "channels", "no_marketing_email",
          "age_confirmed")


def newsletter_object(**values: Any) -> dict[str, Any]:
    """The leaf's "newsletter" object: every field present, null unless given; times as ISO."""
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown newsletter proof fields: {sorted(unknown)}")
    return {name: iso(value) if isinstance(value, datetime) else value
            for name, value in ((name, values.get(name)) for name in FIELDS)}


def list_decision(list_key: str, granted: bool) -> dict[str, dict[str, Any]]:
    return {f"newsletter:{list_key}": {"granted": granted, "basis": "consent"}}


def record_newsletter_event(*, site: Site, subscriber: Subscriber, kind: str,
                            decisions: dict[str, dict[str, Any]], interaction: Interaction,
                            context: Context, newsletter: dict[str, Any], actor: str, source: str,
                            now: datetime, account_id: str | None = None, event_id: str | None = None) -> str:
    """Insert one newsletter event in the caller's transaction (no commit); returns its event id
    (the one given, e.g. already written on the subscription, or a new UUIDv7)."""
    check_interaction(interaction)
    built = build_event(
        site=site, notice=current_notice(site), consent_id=subscriber.consent_id, decisions=decisions,
        kind=kind, language=subscriber.language, interaction=interaction, context=context, gpc=False,
        consent_mode=None, actor=actor, source=source, event_id=event_id or uuid7(),
        personal={"ip_prefix": truncate_ip(context.ip), "ua_family": user_agent_family(context.user_agent),
                  "account_id": account_id, "email_hmac": subscriber.email_hmac},
        now=now, newsletter=newsletter)
    insert_event_rows(built.row, built.salt, built.personal)
    return built.leaf["event_id"]
