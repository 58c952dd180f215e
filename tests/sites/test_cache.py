"""The per-process cache of a site and its current notice."""
from __future__ import annotations

from sqlalchemy import event

from cookiegate.extensions import db
from cookiegate.sites import cache
from cookiegate.sites.services import publish_notice, site_and_notice


def count_queries(run) -> int:
    seen: list[str] = []

    def note(*args):
        seen.append(args[2])

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    return len(seen)


def test_a_fresh_copy_costs_no_query_and_publishing_shows_at_once(site):
    site_and_notice(site.slug)
    assert count_queries(lambda: site_and_notice(site.slug)) == 0
    site.texts = {**site.texts, "en": {**site.texts["en"], "banner_title": "New title"}}
    newer = publish_notice(site=site)
    assert site_and_notice(site.slug)[1].version == newer.version == 2


def test_an_expired_copy_is_loaded_again(site, monkeypatch):
    site_and_notice(site.slug)
    entry = cache._entries[site.slug]
    monkeypatch.setitem(cache._entries, site.slug, (0.0, entry[1], entry[2]))
    assert count_queries(lambda: site_and_notice(site.slug)) == 2  # the site, then its notice


def test_no_cache_when_switched_off(app, site, monkeypatch):
    monkeypatch.setitem(app.config, "SITE_CACHE_SECONDS", 0)
    cache.forget(site.slug)
    site_and_notice(site.slug)
    assert site.slug not in cache._entries
