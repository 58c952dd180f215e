"""Lists, subscribers, subscriptions and the suppression list. Addresses are looked up by keyed
hash (LedgerKeys.email_hmac); the address itself is kept only while it is needed to send mail."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cookiegate.extensions import db


class MailingList(db.Model):
    """A list a site mails, e.g. "newsletter" or "promotions"; names and the sign-up text per
    language (the text's sha256 is recorded with every opt-in)."""

    __tablename__ = "mailing_list"
    __table_args__ = (UniqueConstraint("site_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    texts: Mapped[dict[str, Any]] = mapped_column(JSON)  # {lang: {"name", "description", "signup"}}
    created_at: Mapped[datetime]


class Subscriber(db.Model):
    """One address on one site. `consent_id` is the ledger subject its opt-ins and opt-outs are
    recorded under. `email` is cleared when the address has no subscription left to mail."""

    __tablename__ = "subscriber"
    __table_args__ = (UniqueConstraint("site_id", "email_hmac"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    email_hmac: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    consent_id: Mapped[str] = mapped_column(String(36))
    language: Mapped[str] = mapped_column(String(8))
    no_marketing_email: Mapped[bool] = mapped_column(default=False)
    channels: Mapped[dict[str, bool]] = mapped_column(JSON)  # {"email", "post", "phone", "social"}
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Subscription(db.Model):
    """A subscriber on a list: pending (confirmation mail out), subscribed or unsubscribed, with
    the proof fields of the opt-in and the method of the opt-out."""

    __tablename__ = "subscription"
    __table_args__ = (UniqueConstraint("subscriber_id", "list_id"),
                      Index("ix_subscription_list_status", "list_id", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscriber.id"), index=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("mailing_list.id"))
    status: Mapped[str] = mapped_column(String(16))  # pending | subscribed | unsubscribed
    source: Mapped[str] = mapped_column(String(40))  # hosted_form | api | checkout | preference_centre ...
    text_sha256: Mapped[str] = mapped_column(String(64))
    # On a site with marketing_age_check: the person confirmed being 16 or over; else None.
    age_confirmed: Mapped[bool | None]
    requested_at: Mapped[datetime]
    confirm_token_hash: Mapped[bytes | None]
    confirmation_sent_at: Mapped[datetime | None]
    confirmation_mail_sha256: Mapped[str | None] = mapped_column(String(64))
    confirmed_at: Mapped[datetime | None]
    confirm_event_id: Mapped[str | None] = mapped_column(String(36))
    unsubscribed_at: Mapped[datetime | None]
    unsubscribe_method: Mapped[str | None] = mapped_column(String(24))
    unsubscribe_event_id: Mapped[str | None] = mapped_column(String(36))


class Suppression(db.Model):
    """An address (keyed hash) that must not be mailed without a fresh double opt-in: kept after
    a wipe, a hard bounce or a complaint."""

    __tablename__ = "suppression"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    email_hmac: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("site_id", "email_hmac"),)
