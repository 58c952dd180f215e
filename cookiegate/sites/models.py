"""Site configuration (editable) and notices (immutable, content-addressed snapshots of it)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cookiegate.extensions import db
from cookiegate.timeutil import utcnow

CATEGORY_KEYS = ("necessary", "analytics", "tracking", "marketing")
DEFAULT_CONSENT_LIFETIME_DAYS = 182  # about 6 months, the CNIL practice
MAX_CONSENT_LIFETIME_DAYS = 395  # 13 months


class Site(db.Model):
    """A shop served by this deployment; every other record belongs to exactly one site."""

    __tablename__ = "site"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    default_language: Mapped[str] = mapped_column(String(8))
    languages: Mapped[list[str]] = mapped_column(JSON)
    consent_lifetime_days: Mapped[int] = mapped_column(default=DEFAULT_CONSENT_LIFETIME_DAYS)
    # Dutch Tw 11.7a: analytics with little privacy impact may need no consent. Off by default.
    analytics_exempt: Mapped[bool] = mapped_column(default=False)
    # Marketing sign-up (newsletter form, account page) asks the customer to confirm they are 16
    # or over (GDPR Art. 8: the Dutch age of digital consent). Off by default.
    marketing_age_check: Mapped[bool] = mapped_column(default=False, server_default=false())
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    policy_version: Mapped[str] = mapped_column(String(40))
    controller: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Per language: banner_title, banner_body, statement (list of {heading, paragraphs}).
    texts: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    categories: Mapped[list[Category]] = relationship(
        back_populates="site", order_by="Category.position", cascade="all, delete-orphan")
    cookies: Mapped[list[CookieDeclaration]] = relationship(
        back_populates="site", order_by="CookieDeclaration.id", cascade="all, delete-orphan")


class Category(db.Model):
    """A consent purpose of a site; 'necessary' is exempt and always on."""

    __tablename__ = "category"
    __table_args__ = (UniqueConstraint("site_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    key: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(default=0)
    # Per language: name, description.
    texts: Mapped[dict[str, Any]] = mapped_column(JSON)

    site: Mapped[Site] = relationship(back_populates="categories")


class CookieDeclaration(db.Model):
    """One cookie (or similar storage) a site sets, as the visitor must be told of it."""

    __tablename__ = "cookie_declaration"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    category_key: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(200))
    third_party: Mapped[bool] = mapped_column(default=False)
    lifetime_days: Mapped[int | None]  # None: ends with the browser session
    # Per language: the purpose in the visitor's words.
    purpose: Mapped[dict[str, str]] = mapped_column(JSON)

    site: Mapped[Site] = relationship(back_populates="cookies")


class Notice(db.Model):
    """An immutable, published snapshot of everything a visitor is shown, addressed by sha256."""

    __tablename__ = "notice"
    __table_args__ = (UniqueConstraint("site_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    version: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # The canonical JSON (RFC 8785) whose sha256 is the notice's address.
    content: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
