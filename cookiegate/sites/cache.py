"""A per-process store of each site and its current notice, for the request hot path.

Every hosted page, banner.js and decision post needs both; loading them costs two queries and
a large JSON column per request. `services.site_and_notice` keeps copies here for
SITE_CACHE_SECONDS; publishing or changing a site in this process forgets its copy at once,
other processes see the change within SITE_CACHE_SECONDS.
"""
from __future__ import annotations

import time
from typing import Any

_entries: dict[str, tuple[float, Any, Any]] = {}


def lookup(slug: str) -> tuple[Any, Any] | None:
    entry = _entries.get(slug)
    if entry is None or entry[0] <= time.monotonic():
        return None
    return entry[1], entry[2]


def remember(slug: str, site: Any, notice: Any, seconds: float) -> None:
    if seconds > 0:
        _entries[slug] = (time.monotonic() + seconds, site, notice)


def forget(slug: str) -> None:
    _entries.pop(slug, None)
