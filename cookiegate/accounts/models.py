"""Customer accounts on a site's privacy centre: one per site and address (the same address at
two shops is two accounts). Addresses are looked up by keyed hash (LedgerKeys.email_hmac), as
everywhere else; the address itself is kept because the account mails its owner."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cookiegate.extensions import db


class Account(UserMixin, db.Model):
    """A customer of one site. `subject_id` is how the ledger and the API name the account
    (subject_link kind "account"); `session_token` is part of every login session, so renewing
    it (new password, deletion) ends every session at once. A deleted account stays as a shell
    with every personal field empty, so that its events keep their owner's id and nothing else."""

    __tablename__ = "account"
    __table_args__ = (UniqueConstraint("site_id", "email_hmac"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    subject_id: Mapped[str] = mapped_column(String(40), unique=True)
    email_hmac: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    session_token: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    name: Mapped[str | None] = mapped_column(String(200))
    postal_address: Mapped[str | None] = mapped_column(String(500))
    phone: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]

    def get_id(self) -> str:
        """What a login session holds (Flask-Login): see accounts.auth.load_session_account."""
        return f"{self.id}:{self.session_token}"


class AccountToken(db.Model):
    """A single-use, expiring credential sent by mail: confirm the address, reset the password,
    or confirm a new address (`new_email`). Only the token's sha256 is stored."""

    __tablename__ = "account_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # confirm | reset | new_email
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    new_email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class AccountEvent(db.Model):
    """What happened to an account, for its owner's export and the shop's records: registered,
    confirmed, logged_in, profile_updated (which fields), password_changed, email_changed,
    exported, deleted... `details` never holds a password, token or old value."""

    __tablename__ = "account_event"
    __table_args__ = (Index("ix_account_event_account", "account_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    kind: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime]
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Minimised like the ledger's personal fields; erased with the account.
    ip_prefix: Mapped[str | None] = mapped_column(String(45))
    ua_family: Mapped[str | None] = mapped_column(String(80))


class ErasureTombstone(db.Model):
    """A deletion that must survive a backup restore: the keyed hash of the erased address.
    `cookiegate account reapply-erasures` erases again whatever a restore brought back."""

    __tablename__ = "erasure_tombstone"
    __table_args__ = (UniqueConstraint("site_id", "email_hmac"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    email_hmac: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(24))
    erased_at: Mapped[datetime]
