"""A site's settings as one JSON document, for the operator's `cookiegate site` commands:
written out (`settings_document`), read (`read_settings`), checked (`check_settings`) and
applied to a new site (`new_site`) or to an existing one (`change_site`).

The document holds exactly create_site's arguments, so `site show` of one shop, edited, is
the start of the next shop's `site create`."""
from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l

from cookiegate.banner.embed import EMBED_COOKIE
from cookiegate.errors import Conflict, ValidationError
from cookiegate.extensions import db
from cookiegate.sites import cache
from cookiegate.sites.models import DEFAULT_CONSENT_LIFETIME_DAYS, Notice, Site
from cookiegate.sites.services import (create_site, insert_notice_if_changed, set_categories, set_cookies,
                                       validate_site)

REQUIRED = ("slug", "name", "languages", "default_language", "policy_version", "controller", "texts",
            "categories", "cookies")
DEFAULTS: dict[str, Any] = {"consent_lifetime_days": DEFAULT_CONSENT_LIFETIME_DAYS, "analytics_exempt": False,
                            "allowed_origins": [], "marketing_age_check": False}
# The columns' sizes (sites.models), so that a long value is refused here, not by the database.
MAX_LENGTHS = {"slug": 64, "name": 200, "default_language": 8, "policy_version": 40}
MAX_COOKIE_FIELD = 200


def settings_document(site: Site) -> dict[str, Any]:
    """The site's current settings, in the form read_settings reads; a copy, which the caller
    may change without changing the site."""
    return copy.deepcopy({
        "slug": site.slug, "name": site.name, "languages": list(site.languages),
        "default_language": site.default_language, "policy_version": site.policy_version,
        "controller": dict(site.controller), "texts": site.texts,
        "categories": [{"key": c.key, "texts": c.texts} for c in site.categories],
        "cookies": [{"name": c.name, "provider": c.provider, "category": c.category_key,
                     "lifetime_days": c.lifetime_days, "third_party": c.third_party, "purpose": c.purpose}
                    for c in site.cookies],
        "consent_lifetime_days": site.consent_lifetime_days, "analytics_exempt": site.analytics_exempt,
        "allowed_origins": list(site.allowed_origins), "marketing_age_check": site.marketing_age_check,
    })


def read_settings(raw: bytes | str) -> dict[str, Any]:
    """The settings in a JSON document, checked for their shape; the optional ones it leaves
    out (DEFAULTS) stay out: a new site gets their defaults (`new_site`), a site updated keeps
    its own (`change_site`). ValidationError names every bad field by its path
    (cookies.2.purpose.en, say)."""
    try:
        document = json.loads(raw)
    except ValueError as error:
        raise ValidationError(_l("The settings are not JSON: %(error)s.", error=str(error))) from None
    if not isinstance(document, dict):
        raise ValidationError(_l("The settings must be one JSON object."))
    fields: dict[str, Any] = {}
    for key in document.keys() - {*REQUIRED, *DEFAULTS}:
        fields[key] = _l("unknown setting")
    for key in REQUIRED:
        if key not in document:
            fields[key] = _l("required")
    _check_shape({**DEFAULTS, **document}, fields)
    if fields:
        raise ValidationError(_l("The settings are incomplete or malformed."), fields=dict(sorted(fields.items())))
    return document


def check_settings(settings: dict[str, Any]) -> None:
    """What a site needs of a whole set of settings (services.validate_site, and the embedded
    banner's cookie declared); ValidationError naming every field that is wrong."""
    fields: dict[str, Any] = {}
    _check_embed_cookie(settings, fields)
    try:
        validate_site(**{key: settings[key] for key in ("slug", "name", "languages", "default_language",
                                                        "consent_lifetime_days", "texts", "categories", "cookies")})
    except ValidationError as error:
        fields.update(error.fields)
    if fields:
        raise ValidationError(_l("The site's settings are incomplete."), fields=dict(sorted(fields.items())))


def new_site(document: dict[str, Any]) -> Site:
    """Create a site from read_settings' answer (the defaults for what it leaves out) and
    publish its first notice."""
    settings = {**DEFAULTS, **document}
    check_settings(settings)
    return create_site(**settings)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _check_shape(settings: dict[str, Any], fields: dict[str, Any]) -> None:
    """Each setting of the right type (those that are there: a missing one is named already)."""
    for key, limit in MAX_LENGTHS.items():
        if key in settings and not (_is_text(settings[key]) and len(settings[key]) <= limit):
            fields[key] = _l("text of at most %(count)d characters", count=limit)
    if "languages" in settings and not (isinstance(settings["languages"], list)
                                        and all(isinstance(lang, str) for lang in settings["languages"])):
        fields["languages"] = _l("a list of language codes")
    if "controller" in settings:
        _check_controller(settings["controller"], fields)
    if "texts" in settings:
        _check_texts(settings["texts"], fields)
    categories = settings.get("categories")
    if "categories" in settings and not isinstance(categories, list):
        fields["categories"] = _l("a list of categories")
    elif isinstance(categories, list):
        for i, category in enumerate(categories):
            if not (isinstance(category, dict) and isinstance(category.get("key"), str)
                    and isinstance(category.get("texts"), dict)
                    and all(isinstance(t, dict) and all(_is_text(t.get(k)) for k in ("name", "description"))
                            for t in category["texts"].values())):
                fields[f"categories.{i}"] = _l("a key and, per language, a name and a description")
    cookies = settings.get("cookies")
    if "cookies" in settings and not isinstance(cookies, list):
        fields["cookies"] = _l("a list of cookies")
    elif isinstance(cookies, list):
        languages = settings["languages"] if isinstance(settings.get("languages"), list) else []
        for i, cookie in enumerate(cookies):
            _check_cookie(i, cookie, languages, fields)
    if type(settings["consent_lifetime_days"]) is not int:  # true is an int in Python
        fields["consent_lifetime_days"] = _l("a whole number of days")
    for key in ("analytics_exempt", "marketing_age_check"):
        if not isinstance(settings[key], bool):
            fields[key] = _l("true or false")
    origins = settings["allowed_origins"]
    if not isinstance(origins, list) or not all(_is_origin(origin) for origin in origins):
        fields["allowed_origins"] = _l("a list of origins such as https://shop.example (scheme, host and "
                                       "port only, in lower case)")


def _check_controller(controller: Any, fields: dict[str, Any]) -> None:
    if not isinstance(controller, dict):
        fields["controller"] = _l("an object with name, address and email")
        return
    for key in ("name", "address", "email"):
        if not _is_text(controller.get(key)):
            fields[f"controller.{key}"] = _l("required text")
    if _is_text(controller.get("email")) and "@" not in controller["email"]:
        fields["controller.email"] = _l("an e-mail address")
    for key in controller.keys() - {"name", "address", "email"}:
        fields[f"controller.{key}"] = _l("unknown setting")


def _check_texts(texts: Any, fields: dict[str, Any]) -> None:
    if not isinstance(texts, dict):
        fields["texts"] = _l("an object per language")
        return
    for lang, entry in texts.items():
        if not isinstance(entry, dict):
            fields[f"texts.{lang}"] = _l("an object with banner_title, banner_body and statement")
            continue
        for key in ("banner_title", "banner_body"):
            if key in entry and not _is_text(entry[key]):
                fields[f"texts.{lang}.{key}"] = _l("required text")
        statement = entry.get("statement")
        if "statement" in entry and not (isinstance(statement, list) and statement and all(
                isinstance(part, dict) and _is_text(part.get("heading")) and isinstance(part.get("paragraphs"), list)
                and all(_is_text(p) for p in part["paragraphs"]) for part in statement)):
            fields[f"texts.{lang}.statement"] = _l("a list of sections, each a heading and a list of paragraphs")
        for key in entry.keys() - {"banner_title", "banner_body", "statement"}:
            fields[f"texts.{lang}.{key}"] = _l("unknown setting")


def _check_cookie(i: int, cookie: Any, languages: list[str], fields: dict[str, Any]) -> None:
    if not isinstance(cookie, dict):
        fields[f"cookies.{i}"] = _l("an object with name, provider, category, lifetime_days and purpose")
        return
    for key in ("name", "provider"):
        value = cookie.get(key)
        if not (_is_text(value) and len(value) <= MAX_COOKIE_FIELD):
            fields[f"cookies.{i}.{key}"] = _l("text of at most %(count)d characters", count=MAX_COOKIE_FIELD)
    if not isinstance(cookie.get("category"), str):
        fields[f"cookies.{i}.category"] = _l("one of the site's categories")
    days = cookie.get("lifetime_days")
    if days is not None and (type(days) is not int or days < 0):
        fields[f"cookies.{i}.lifetime_days"] = _l("a whole number of days, or null for the browser session")
    if not isinstance(cookie.get("third_party", False), bool):
        fields[f"cookies.{i}.third_party"] = _l("true or false")
    purpose = cookie.get("purpose")
    if not isinstance(purpose, dict):
        fields[f"cookies.{i}.purpose"] = _l("an object with the purpose in each language")
    else:
        for lang in languages:
            if not _is_text(purpose.get(lang)):
                fields[f"cookies.{i}.purpose.{lang}"] = _l("required: the visitor is told what the cookie does")
    for key in cookie.keys() - {"name", "provider", "category", "lifetime_days", "third_party", "purpose"}:
        fields[f"cookies.{i}.{key}"] = _l("unknown setting")


def _check_embed_cookie(settings: dict[str, Any], fields: dict[str, Any]) -> None:
    """A site whose pages may embed the banner declares the cookie the banner keeps the choice
    in on those pages, as strictly necessary and for as long as a choice lasts: the shop's
    cookie table is then complete and true however the operator wrote it."""
    if not settings["allowed_origins"]:
        return
    days = settings["consent_lifetime_days"]
    declared = [i for i, cookie in enumerate(settings["cookies"]) if cookie["name"] == EMBED_COOKIE]
    if not declared:
        fields["cookies"] = _l("declare %(name)s (category necessary, lifetime_days %(days)d): the banner on "
                               "the shop's pages keeps the visitor's choice in it", name=EMBED_COOKIE, days=days)
    for i in declared:
        cookie = settings["cookies"][i]
        if cookie["category"] != "necessary" or cookie.get("lifetime_days") != days or cookie.get("third_party"):
            fields[f"cookies.{i}"] = _l("%(name)s is a first-party cookie of category necessary that lasts "
                                        "lifetime_days %(days)d, as long as a choice", name=EMBED_COOKIE, days=days)


def _is_origin(value: Any) -> bool:
    """scheme://host[:port] as a browser sends it in an Origin header (which the embedded
    banner's posts are matched against exactly): nothing more, no default port, lower case."""
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError on a bad port
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and bool(parts.hostname) and "@" not in parts.netloc
            and value == f"{parts.scheme}://{parts.netloc}" and value == value.lower()
            and port != {"http": 80, "https": 443}[parts.scheme])


def change_site(site: Site, given: dict[str, Any]) -> Notice | None:
    """Give the site these settings (from read_settings; optional ones left out stay as they
    are) in one transaction. When what visitors are shown changed, a new notice version is
    published with them and visitors are asked again (the new notice is returned); a change only
    to settings visitors are not shown (allowed origins, the age check) publishes nothing (None).
    Conflict when nothing changed at all, or when the settings name another site: a slug is the
    site's address and part of its proofs."""
    if given["slug"] != site.slug:
        raise Conflict(_l("The settings are those of another site."),
                       fields={"slug": _l("the slug of a site cannot change")})
    current = settings_document(site)
    settings = {**current, **given}
    if settings == current:
        raise Conflict(_l("Nothing changed: the site has these settings already."))
    check_settings(settings)
    try:
        for key in ("name", "languages", "default_language", "policy_version", "controller", "texts",
                    "consent_lifetime_days", "analytics_exempt", "allowed_origins", "marketing_age_check"):
            setattr(site, key, settings[key])
        set_categories(site, settings["categories"])
        set_cookies(site, settings["cookies"])
        db.session.flush()
        notice = insert_notice_if_changed(site)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    cache.forget(site.slug)
    return notice

