"""Ledger tables. Events, log entries, nodes and checkpoints are insert-only; on PostgreSQL a
trigger refuses UPDATE, DELETE and TRUNCATE on them. Personal fields live in their own table so
that erasing them never touches a hashed leaf."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from cookiegate.extensions import db

BigId = BigInteger().with_variant(Integer, "sqlite")  # SQLite only autoincrements INTEGER keys

APPEND_ONLY_TABLES = ("consent_event", "log_entry", "merkle_node", "checkpoint", "notice")



class ConsentEvent(db.Model):
    """One consent decision. `leaf` is the canonical JSON that is hashed into the site's log;
    the other columns are copies of leaf fields for querying, checked by `ledger verify`."""

    __tablename__ = "consent_event"
    __table_args__ = (Index("ix_consent_event_subject", "site_id", "consent_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    consent_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    notice_sha256: Mapped[str] = mapped_column(String(64))
    leaf: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    # HMAC of the leaf hash under the deployment's ledger key: a row added by raw SQL lacks it.
    seal: Mapped[bytes] = mapped_column(LargeBinary(32))


class EventPersonal(db.Model):
    """Personal fields of an event, committed to in the leaf by sha256(salt || JCS(data)).
    Erasure deletes this row: the leaf and every proof stay valid, the link to a person is gone."""

    __tablename__ = "event_personal"

    event_pk: Mapped[int] = mapped_column(BigId, ForeignKey("consent_event.id"), primary_key=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class LogEntry(db.Model):
    """Position `seq` of an event in its site's Merkle log, assigned by the sequencer."""

    __tablename__ = "log_entry"

    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event_pk: Mapped[int] = mapped_column(BigId, ForeignKey("consent_event.id"), unique=True)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class MerkleNode(db.Model):
    """A perfect subtree's hash (level >= 1): proofs need O(log n) of these, never a full scan."""

    __tablename__ = "merkle_node"

    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), primary_key=True)
    level: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class Checkpoint(db.Model):
    """A signed tree head. `note` is the exact signed text (C2SP checkpoint style):
    "<origin>\\n<size>\\n<base64 root>\\n<time>\\n"."""

    __tablename__ = "checkpoint"
    __table_args__ = (UniqueConstraint("site_id", "tree_size"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))


class PendingEvent(db.Model):
    """Events recorded but not yet sequenced: the sequencer's work queue (rows are deleted).
    No index on site_id: one more page written per recorded event, for a table that stays short
    (migration 0008)."""

    __tablename__ = "ledger_pending"

    event_pk: Mapped[int] = mapped_column(BigId, ForeignKey("consent_event.id"), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))


class SubjectLink(db.Model):
    """Which consent ids belong to an account or an e-mail address (by keyed hash) on a site.
    Personal data: erasure deletes these rows; events keep only their salted commitment."""

    __tablename__ = "subject_link"
    __table_args__ = (Index("ix_subject_link_consent", "site_id", "consent_id"),)

    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # "account" or "email"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # account id, or e-mail HMAC (hex)
    consent_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime]
