"""Template filters for the hosted pages."""
from __future__ import annotations

from datetime import datetime

from babel import Locale
from flask import Blueprint
from flask_babel import format_datetime, get_locale, gettext, ngettext

from cookiegate.timeutil import parse_iso

bp = Blueprint("filters", __name__)


@bp.app_template_filter("lifetime")
def lifetime(days: int | None) -> str:
    """A cookie's lifetime in words: session, days, months or years."""
    if days is None:
        return gettext("Until you close the browser")
    if days >= 365 and days % 365 == 0:
        return ngettext("%(num)d year", "%(num)d years", days // 365)
    if days >= 30 and days % 30 == 0:
        return ngettext("%(num)d month", "%(num)d months", days // 30)
    return ngettext("%(num)d day", "%(num)d days", days)


@bp.app_template_filter("when")
def when(value: str | datetime) -> str:
    """A UTC time (ISO 8601 from a ledger record, or a stored time) in the reader's language."""
    return format_datetime(parse_iso(value) if isinstance(value, str) else value, "long")


@bp.app_template_filter("event_kind")
def event_kind(kind: str) -> str:
    """A ledger event's type, a subscription's status or an account event, in the reader's words."""
    return {
        "given": gettext("Consent given"), "refused": gettext("Consent refused"),
        "updated": gettext("Choice changed"), "withdrawn": gettext("Consent withdrawn"),
        "renewed": gettext("Consent renewed"), "expired": gettext("Consent expired"),
        "subscribed": gettext("Subscribed"), "unsubscribed": gettext("Unsubscribed"),
        "pending": gettext("Waiting for confirmation"),
        # an account's own log (accounts.records)
        "registered": gettext("Account created"), "confirmed": gettext("Address confirmed"),
        "logged_in": gettext("Logged in"), "profile_updated": gettext("Details corrected"),
        "password_changed": gettext("Password changed"), "password_reset": gettext("Password reset"),
        "email_change_requested": gettext("New address asked for"), "email_changed": gettext("Address changed"),
        "deleted": gettext("Account deleted"),
    }.get(kind, kind)


@bp.app_template_filter("language_name")
def language_name(code: str, in_language: str | None = None) -> str:
    """A language's name in the reader's language, or in `in_language` (a switcher names each
    language in itself: "Nederlands", "English")."""
    name = Locale.parse(code).get_display_name(Locale.parse(in_language or str(get_locale())))
    return name[:1].upper() + name[1:]
