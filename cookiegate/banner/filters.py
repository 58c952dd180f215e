"""Template filters for the hosted pages."""
from __future__ import annotations

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
def when(value: str) -> str:
    """An ISO 8601 UTC time from a ledger record, in the reader's language (UTC)."""
    return format_datetime(parse_iso(value), "long")


@bp.app_template_filter("language_name")
def language_name(code: str, in_language: str | None = None) -> str:
    """A language's name in the reader's language, or in `in_language` (a switcher names each
    language in itself: "Nederlands", "English")."""
    name = Locale.parse(code).get_display_name(Locale.parse(in_language or str(get_locale())))
    return name[:1].upper() + name[1:]
