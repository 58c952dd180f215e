"""The mail outbox."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cookiegate.extensions import db


class OutboxMail(db.Model):
    """One message, stored whole (RFC 5322 bytes) so that what was sent can be hashed and proven.
    `to_address` is cleared once the message is sent or given up (it is personal data);
    `to_hmac`, the recipient's keyed hash, lets a wipe find (and blank) every mail to a person."""

    __tablename__ = "outbox_mail"
    __table_args__ = (Index("ix_outbox_mail_due", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"), index=True)
    to_address: Mapped[str | None] = mapped_column(String(320))
    to_hmac: Mapped[str | None] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    message: Mapped[bytes] = mapped_column(LargeBinary)
    message_sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))  # double_opt_in, manage_link, ...
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
