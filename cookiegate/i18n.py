"""Language choice and catalogue compilation."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import current_app, g, has_request_context, request

LANGUAGE_COOKIE = "cg_lang"
LANGUAGE_COOKIE_DAYS = 365


def offered_languages() -> list[str]:
    site = g.get("site")
    return list(site.languages) if site is not None else list(current_app.config["LANGUAGES"])


def select_locale() -> str:
    """?lang=, then the language cookie, then Accept-Language, then the site's default.
    Outside a request (the CLI), the operator's LANG if offered, else the default."""
    offered = offered_languages()
    if not has_request_context():
        wanted = os.environ.get("LANGUAGE") or os.environ.get("LC_ALL") or os.environ.get("LANG") or ""
        language = wanted.split(":")[0].split("_")[0].split(".")[0].lower()
        return language if language in offered else current_app.config["BABEL_DEFAULT_LOCALE"]
    for candidate in (value_or_none(request.args, "lang"), value_or_none(request.cookies, LANGUAGE_COOKIE)):
        if candidate in offered:
            return candidate
    best = request.accept_languages.best_match(offered)
    if best:
        return best
    site = g.get("site")
    return site.default_language if site is not None else current_app.config["BABEL_DEFAULT_LOCALE"]


def value_or_none(values, name: str) -> str | None:
    """values.get(name) of a request's args, form or cookies, without its cost for a missing
    name: werkzeug's get raises and catches a BadRequestKeyError then (some 3 µs), on the look-ups
    every page makes."""
    return values[name] if name in values else None


def remember_language(response):
    """Keep an explicit ?lang= choice in a cookie so the next page speaks the same language."""
    chosen = value_or_none(request.args, "lang")
    if response.mimetype != "text/html":
        return response  # banner.js?lang= is fetched by shop pages: not a reader's choice
    if chosen and chosen in offered_languages() and request.cookies.get(LANGUAGE_COOKIE) != chosen:
        response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=LANGUAGE_COOKIE_DAYS * 86400, samesite="Lax",
                            secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True)
    return response


def compile_catalogues(directory: Path) -> None:
    """Compile each messages.po whose .mo is missing or older (the .mo files are build output)."""
    for po_path in directory.glob("*/LC_MESSAGES/messages.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as handle:
            catalog = read_po(handle)
        # A unique temporary name: several workers may compile at the same start.
        fd, tmp = tempfile.mkstemp(dir=mo_path.parent, suffix=".mo.tmp")
        with os.fdopen(fd, "wb") as handle:
            write_mo(handle, catalog)
        os.replace(tmp, mo_path)
