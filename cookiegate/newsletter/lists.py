"""A site's mailing lists and the sign-up text each opt-in is proven against."""
from __future__ import annotations

import hashlib
import re
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from cookiegate.canonical import canonical_json
from cookiegate.errors import NotFound, ValidationError
from cookiegate.extensions import db
from cookiegate.newsletter.models import MailingList, Subscription
from cookiegate.sites.models import Site
from cookiegate.timeutil import utcnow

LIST_KEY_RE = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?")
TEXT_FIELDS = ("name", "description", "signup")


def shown_text(mailing_list: MailingList, language: str) -> dict[str, str]:
    """What a person is shown of a list before opting in, in one language: the list's key,
    the language, its name, description and sign-up sentence."""
    texts = mailing_list.texts.get(language) or {}
    return {"list": mailing_list.key, "language": language,
            **{field: str(texts.get(field, "")) for field in TEXT_FIELDS}}


def text_sha256(text: dict[str, str]) -> str:
    """sha256 of the canonical JSON (RFC 8785) of a shown text: what Subscription.text_sha256
    and the opt-in's ledger leaf record."""
    return hashlib.sha256(canonical_json(text)).hexdigest()


def site_lists(site: Site) -> list[MailingList]:
    """The site's lists, in key order."""
    return list(db.session.execute(
        select(MailingList).where(MailingList.site_id == site.id).order_by(MailingList.key)).scalars())


def list_by_key(site: Site, key: Any) -> MailingList:
    """One of the site's lists by key; NotFound (naming the field) otherwise."""
    found = None
    if type(key) is str and LIST_KEY_RE.fullmatch(key):
        found = db.session.execute(select(MailingList).where(
            MailingList.site_id == site.id, MailingList.key == key)).scalar()
    if found is None:
        raise NotFound(_l("This site has no such mailing list."), fields={"list": _l("unknown list")})
    return found


def ensure_list(*, site: Site, key: str, texts: dict[str, dict[str, str]]) -> tuple[MailingList, bool]:
    """Create the list if the site has none with this key (texts: {language: {name,
    description, signup}} for each of the site's languages); an existing list is kept as it
    is. Returns (list, created) and commits."""
    fields: dict[str, Any] = {}
    if not isinstance(key, str) or not LIST_KEY_RE.fullmatch(key):
        fields["key"] = _l("lower-case letters, digits, - and _, 1 to 40 characters")
    if not isinstance(texts, dict):
        raise ValidationError(_l("The mailing list is incomplete."),
                              fields={"texts": _l("an object with, per language, name, description and signup")})
    for language, given in texts.items():
        if language not in site.languages:
            fields[f"texts.{language}"] = _l("not one of the site's languages")
        elif not isinstance(given, dict):
            fields[f"texts.{language}"] = _l("an object with name, description and signup")
        else:
            for field in given.keys() - set(TEXT_FIELDS):
                fields[f"texts.{language}.{field}"] = _l("unknown field")
    for language in site.languages:
        given = texts.get(language)
        for field in TEXT_FIELDS:
            value = given.get(field) if isinstance(given, dict) else None
            if not (isinstance(value, str) and value.strip()):
                fields[f"texts.{language}.{field}"] = _l("required")
    if fields:
        raise ValidationError(_l("The mailing list is incomplete."), fields=fields)
    existing = db.session.execute(select(MailingList).where(
        MailingList.site_id == site.id, MailingList.key == key)).scalar()
    if existing is not None:
        return existing, False
    created = MailingList(site_id=site.id, key=key, texts=texts, created_at=utcnow())
    db.session.add(created)
    db.session.commit()
    return created, True


def list_counts(site: Site) -> list[tuple[MailingList, dict[str, int]]]:
    """Each list with its number of subscriptions per status."""
    lists = site_lists(site)
    rows = db.session.execute(
        select(Subscription.list_id, Subscription.status, func.count())
        .where(Subscription.list_id.in_([item.id for item in lists]))
        .group_by(Subscription.list_id, Subscription.status)).all()
    counts: dict[int, dict[str, int]] = {item.id: {"pending": 0, "subscribed": 0, "unsubscribed": 0} for item in lists}
    for list_id, status, count in rows:
        counts[list_id][status] = count
    return [(item, counts[item.id]) for item in lists]
