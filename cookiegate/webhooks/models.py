"""Webhook subscriptions and their delivery outbox."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cookiegate.extensions import db
from cookiegate.ledger.models import BigId


class Webhook(db.Model):
    """A URL of the site's, told of the event types it asked for. `cursor_seq` is the next log
    position the worker will look at: the sequenced log is the durable, gap-free event order."""

    __tablename__ = "webhook"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(64))  # shared with the receiver to sign deliveries
    events: Mapped[list[str]] = mapped_column(JSON)
    cursor_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]


class WebhookDelivery(db.Model):
    """One event for one webhook: the outbox row, retried with backoff until delivered. At most
    one row per webhook and event (the constraint also serves lookups by webhook), so workers
    fanning out the same webhook at once can never queue an event twice."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_due", "delivered_at", "next_attempt_at"),
                      UniqueConstraint("webhook_id", "event_pk"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhook.id"))
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True)  # the idempotency key
    event_pk: Mapped[int] = mapped_column(BigId, ForeignKey("consent_event.id"))
    event_type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
