"""Creating sites and publishing their notices (immutable, content-addressed snapshots)."""
from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Any

from flask import current_app
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from cookiegate.canonical import canonical_json, loads
from cookiegate.errors import Conflict, NotFound, ValidationError
from cookiegate.extensions import db
from cookiegate.sites import cache
from cookiegate.sites.models import (CATEGORY_KEYS, MAX_CONSENT_LIFETIME_DAYS, Category,
                                     CookieDeclaration, Notice, Site)

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
SUPPORTED_LANGUAGES = ("nl", "en")
NOTICE_SCHEMA = 1


def interface_labels(language: str) -> dict[str, str]:
    """The banner's fixed words in one language, frozen into each notice so the proof holds
    exactly what the visitor read, buttons included."""
    with force_locale(language):
        return {
            "accept_all": gettext("Accept all"),
            "reject_all": gettext("Reject all"),
            "choose": gettext("Choose"),
            "save_selection": gettext("Save my choice"),
            "withdraw": gettext("Withdraw all consent"),
            "always_on": gettext("Always on"),
            "preferences_title": gettext("Your cookie choices"),
        }


def validate_site(*, slug: str, name: str, languages: list[str], default_language: str,
                  consent_lifetime_days: int, texts: dict[str, Any], categories: list[dict[str, Any]],
                  cookies: list[dict[str, Any]]) -> None:
    """Raise ValidationError naming every field that is wrong."""
    fields: dict[str, str] = {}
    if not SLUG_RE.match(slug or ""):
        fields["slug"] = _l("lower-case letters, digits and dashes, 1 to 64 characters")
    if not (name or "").strip():
        fields["name"] = _l("required")
    if not languages or set(languages) - set(SUPPORTED_LANGUAGES):
        fields["languages"] = _l("choose from %(languages)s", languages=", ".join(SUPPORTED_LANGUAGES))
    elif default_language not in languages:
        fields["default_language"] = _l("must be one of the site's languages")
    if not 1 <= consent_lifetime_days <= MAX_CONSENT_LIFETIME_DAYS:
        fields["consent_lifetime_days"] = _l("between 1 and %(days)d days (13 months)", days=MAX_CONSENT_LIFETIME_DAYS)
    for lang in languages or []:
        for key in ("banner_title", "banner_body", "statement"):
            if not texts.get(lang, {}).get(key):
                fields[f"texts.{lang}.{key}"] = _l("required")
    keys = [c["key"] for c in categories]
    if "necessary" not in keys or set(keys) - set(CATEGORY_KEYS) or len(set(keys)) != len(keys):
        fields["categories"] = _l("each of %(keys)s at most once, necessary included", keys=", ".join(CATEGORY_KEYS))
    for c in categories:
        if any(not c.get("texts", {}).get(lang, {}).get("name") for lang in languages or []):
            fields[f"categories.{c['key']}"] = _l("a name and description in every language")
    for i, cookie in enumerate(cookies):
        if cookie.get("category") not in keys:
            fields[f"cookies.{i}.category"] = _l("must be one of the site's categories")
        if not cookie.get("name") or not cookie.get("provider"):
            fields[f"cookies.{i}"] = _l("name and provider are required")
    if fields:
        raise ValidationError(_l("The site's settings are incomplete."), fields=fields)


def create_site(*, slug: str, name: str, languages: list[str], default_language: str,
                policy_version: str, controller: dict[str, Any], texts: dict[str, Any],
                categories: list[dict[str, Any]], cookies: list[dict[str, Any]],
                consent_lifetime_days: int = 182, analytics_exempt: bool = False,
                allowed_origins: list[str] | None = None, marketing_age_check: bool = False) -> Site:
    """Create a site with its categories and cookies, and publish its first notice."""
    validate_site(slug=slug, name=name, languages=languages, default_language=default_language,
                  consent_lifetime_days=consent_lifetime_days, texts=texts,
                  categories=categories, cookies=cookies)
    if db.session.execute(select(Site.id).where(Site.slug == slug)).first():
        raise Conflict(_l("A site with this name already exists."), fields={"slug": _l("already taken")})
    site = Site(slug=slug, name=name, languages=languages, default_language=default_language,
                policy_version=policy_version, controller=controller, texts=texts,
                consent_lifetime_days=consent_lifetime_days, analytics_exempt=analytics_exempt,
                allowed_origins=allowed_origins or [], marketing_age_check=marketing_age_check)
    set_categories(site, categories)
    set_cookies(site, cookies)
    db.session.add(site)
    db.session.flush()
    _insert_notice(site)
    db.session.commit()
    return site


def set_categories(site: Site, categories: list[dict[str, Any]]) -> None:
    """The site's categories become these ({key, texts}), in this order. A category kept is
    changed where it stands: (site, key) is unique, and a new row for a key would meet the old
    one at the flush."""
    kept = {category.key: category for category in site.categories}
    replaced = []
    for position, given in enumerate(categories):
        category = kept.get(given["key"]) or Category(key=given["key"])
        category.position, category.texts = position, given["texts"]
        replaced.append(category)
    site.categories = replaced


def set_cookies(site: Site, cookies: list[dict[str, Any]]) -> None:
    """The site's cookie declarations become these ({name, provider, category, lifetime_days,
    third_party, purpose})."""
    site.cookies = [CookieDeclaration(category_key=c["category"], name=c["name"], provider=c["provider"],
                                      third_party=c.get("third_party", False),
                                      lifetime_days=c.get("lifetime_days"), purpose=c["purpose"])
                    for c in cookies]


def snapshot(site: Site, version: int) -> dict[str, Any]:
    """Everything a visitor of the site is shown, in every language, as one JSON document."""
    return {
        "schema": NOTICE_SCHEMA,
        "site": {"slug": site.slug, "name": site.name, "controller": site.controller},
        "version": version,
        "policy_version": site.policy_version,
        "languages": site.languages,
        "default_language": site.default_language,
        "consent_lifetime_days": site.consent_lifetime_days,
        "texts": {lang: site.texts[lang] for lang in site.languages},
        "labels": {lang: interface_labels(lang) for lang in site.languages},
        "categories": [{"key": c.key, "exempt": c.key == "necessary" or (c.key == "analytics" and site.analytics_exempt),
                        "texts": {lang: c.texts[lang] for lang in site.languages}} for c in site.categories],
        "cookies": [{"name": c.name, "provider": c.provider, "third_party": c.third_party,
                     "category": c.category_key, "lifetime_days": c.lifetime_days,
                     "purpose": {lang: c.purpose.get(lang, "") for lang in site.languages}}
                    for c in site.cookies],
    }


def insert_notice_if_changed(site: Site) -> Notice | None:
    """Add a new notice version (to the session, not committed) holding the site's settings as
    they are now, unless visitors would be shown just what the current version shows (None)."""
    latest = current_notice(site)
    version = latest.version + 1 if latest else 1
    content = canonical_json(snapshot(site, version))
    if latest is not None:
        previous = loads(latest.content)
        previous["version"] = version
        if canonical_json(previous) == content:
            return None
    notice = Notice(site_id=site.id, version=version, content=content.decode(),
                    sha256=hashlib.sha256(content).hexdigest())
    db.session.add(notice)
    return notice


def _insert_notice(site: Site) -> Notice:
    notice = insert_notice_if_changed(site)
    if notice is None:
        raise Conflict(_l("Nothing changed since notice version %(version)d.", version=current_notice(site).version))
    return notice


def publish_notice(*, site: Site) -> Notice:
    """Publish the site's current settings as a new notice version. Visitors whose consent
    names an older version are asked again."""
    notice = _insert_notice(site)
    db.session.commit()
    cache.forget(site.slug)
    return notice


def site_and_notice(slug: str) -> tuple[Site, Notice]:
    """The site and its current notice, from this process's cache when it is fresh enough, else
    from the database. Cached objects are detached and shared: read their columns, never change
    them or follow their relationships (load the site with site_by_slug for that)."""
    hit = cache.lookup(slug)
    if hit is not None:
        return hit
    site = site_by_slug(slug)
    notice = current_notice(site)
    # Detached at once, so that no session's rollback or expiry can reach the shared copies.
    for loaded in (site, notice):
        if loaded is not None:
            db.session.expunge(loaded)
    cache.remember(slug, site, notice, float(current_app.config["SITE_CACHE_SECONDS"]))
    return site, notice


@lru_cache(maxsize=256)
def _parsed(sha256: str, content: str) -> dict[str, Any]:
    return loads(content)


def notice_document(notice: Notice) -> dict[str, Any]:
    """A notice's content as a dict, parsed once per process (notices never change).
    Shared between callers: read it, never modify it."""
    return _parsed(notice.sha256, notice.content)


def site_by_slug(slug: str) -> Site:
    site = db.session.execute(select(Site).where(Site.slug == slug)).scalar()
    if site is None:
        raise NotFound(_l("No such site."))
    return site


def current_notice(site: Site) -> Notice | None:
    return db.session.execute(select(Notice).where(Notice.site_id == site.id)
                              .order_by(Notice.version.desc()).limit(1)).scalar()


def notice_by_hash(site: Site, sha256: str) -> Notice:
    notice = db.session.execute(select(Notice).where(Notice.site_id == site.id,
                                                     Notice.sha256 == sha256)).scalar()
    if notice is None:
        raise NotFound(_l("No such notice."))
    return notice


def notice_by_version(site: Site, version: int) -> Notice:
    notice = db.session.execute(select(Notice).where(Notice.site_id == site.id,
                                                     Notice.version == version)).scalar()
    if notice is None:
        raise NotFound(_l("No such notice version."))
    return notice


def notice_history(site: Site) -> list[Notice]:
    return list(db.session.execute(select(Notice).where(Notice.site_id == site.id)
                                   .order_by(Notice.version.desc())).scalars())
