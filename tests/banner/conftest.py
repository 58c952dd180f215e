"""Fixtures and helpers for the hosted pages: CSRF tokens from HTML, a site's recorded events."""
from __future__ import annotations

import contextvars
import re
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient

from cookiegate.canonical import loads
from cookiegate.extensions import db, limiter
from cookiegate.ledger.models import ConsentEvent, EventPersonal
from cookiegate.sites.models import Site

CSRF_RE = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*\bvalue="([^"]+)"')
OPTIONAL = ("analytics", "tracking", "marketing")


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = CSRF_RE.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


@dataclass(frozen=True)
class Recorded:
    """One ConsentEvent row with its parsed leaf and its personal (erasable) fields."""

    event: ConsentEvent
    leaf: dict[str, Any]
    personal: dict[str, Any] | None


def site_events(site: Site) -> list[Recorded]:
    """The site's events, oldest first, as the database holds them now (not a stale snapshot:
    the live server and the test client write from other sessions)."""
    db.session.rollback()
    events = db.session.execute(db.select(ConsentEvent).where(ConsentEvent.site_id == site.id)
                                .order_by(ConsentEvent.id)).scalars().all()
    found = []
    for event in events:
        personal = db.session.get(EventPersonal, event.id)
        found.append(Recorded(event=event, leaf=loads(event.leaf),
                              personal=personal.data if personal else None))
    return found


def decisions(granted: set[str] | frozenset[str] = frozenset()) -> dict[str, dict[str, Any]]:
    """The decisions a leaf holds for the factory site's categories when `granted` were chosen."""
    expected = {"necessary": {"granted": True, "basis": "exempt"}}
    expected.update({key: {"granted": key in granted, "basis": "consent"} for key in OPTIONAL})
    return expected


@pytest.fixture(autouse=True)
def _fresh_rate_limits(request):
    """Every consent POST counts against one address (127.0.0.1); start each test that uses the
    app afresh so the suite never runs into the per-minute limit."""
    if "app" in request.fixturenames:
        with request.getfixturevalue("app").app_context():
            limiter.reset()


class SeparateRequestClient(FlaskClient):
    """A test client whose requests each get their own app context, as in production. The shared
    `client` reuses the test's app context when the test holds one (the `site` fixture does), so
    `g`, Flask-Babel's cached locale and the database session leak from one request into the next
    (e.g. an Accept-Language change is ignored after the first request)."""

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def visitor(app):
    """A visitor's browser as a Flask test client: cookies kept, each request in its own context."""
    return SeparateRequestClient(app, app.response_class, use_cookies=True)
