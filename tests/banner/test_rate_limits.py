"""Consent posts are rate-limited per address: the hosted form and the embed endpoint answer 429
with Retry-After once the limit is used up, and record nothing more."""
from __future__ import annotations

import pytest

from cookiegate.extensions import limiter
from cookiegate.sites.services import current_notice
from tests.banner.conftest import site_events
from tests.banner.embed_support import decision_body
from tests.banner.test_embed_api import ORIGIN, assert_json_error, post
from tests.banner.test_hosted_pages import decide


@pytest.fixture
def tight_limit(app):
    previous = app.config["CONSENT_RATE_LIMIT"]
    app.config["CONSENT_RATE_LIMIT"] = "3 per minute"
    with app.app_context():
        limiter.reset()
    yield
    app.config["CONSENT_RATE_LIMIT"] = previous
    with app.app_context():
        limiter.reset()


def test_embed_posts_beyond_the_limit_get_429_and_record_nothing(client, site, tight_limit):
    for _ in range(3):
        assert post(client, site, decision_body(site, current_notice(site).sha256)).status_code == 201
    refused = post(client, site, decision_body(site, current_notice(site).sha256))
    error = assert_json_error(refused, 429, "rate_limited")
    wait = refused.headers["Retry-After"]
    assert 1 <= int(wait) <= 60 and wait in error["message"]
    assert len(site_events(site)) == 3
    # A preflight is not a decision: it is never counted or refused.
    assert client.options(f"/s/{site.slug}/consent.json", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST"}).status_code == 204


def test_hosted_form_beyond_the_limit_gets_a_429_page(visitor, site, tight_limit):
    for _ in range(3):
        assert decide(visitor, site, "reject_all").status_code == 303
    refused = decide(visitor, site, "reject_all")
    assert refused.status_code == 429 and refused.mimetype == "text/html"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert len(site_events(site)) == 3


def test_flask_limiters_hook_leaves_the_consent_posts_to_their_own_counter(visitor, client, site, monkeypatch):
    """The consent posts count themselves (CONSENT_RATE_LIMIT, above); Flask-Limiter's
    per-request hook skips them, and only them."""
    from flask import request
    from flask_limiter import Limiter

    checked = []
    original = Limiter._check_request_limit

    def spy(self, *args, **kwargs):
        checked.append(request.endpoint)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Limiter, "_check_request_limit", spy)
    assert decide(visitor, site, "accept_all").status_code == 303
    assert post(client, site, decision_body(site, current_notice(site).sha256)).status_code == 201
    assert "banner.preferences" in checked  # decide() loads the page for its token first
    assert "banner.save_consent" not in checked and "banner.receive_decision" not in checked
    assert limiter.self_counting == {"api", "banner.save_consent", "banner.receive_decision"}
