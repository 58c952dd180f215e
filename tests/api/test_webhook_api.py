"""/api/v1/webhooks over real HTTP, every answer checked against the published document:
registration (the secret shown once) and its validation, listing with pending counts, removal,
and a registered webhook receiving signed deliveries at a real local receiver."""
from __future__ import annotations

import uuid

import pytest

from cookiegate.webhooks.services import MAX_WEBHOOKS_PER_SITE
from tests.api.conftest import make_token
from tests.factories import make_site, record
from tests.webhooks.helpers import TEST_SETTINGS, configured, disable_all_webhooks, run_passes
from tests.webhooks.receiver import Receiver, signature_valid

BOTH = ["consent.changed", "consent.withdrawn"]


@pytest.fixture
def hook_app(app):
    """Webhook settings fit for a receiver on 127.0.0.1; every webhook is switched off afterwards."""
    with configured(app, **TEST_SETTINGS):
        yield app
    disable_all_webhooks(app)


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


def register(api, url: str, events: list[str] | None = None) -> dict:
    response = api.post("/webhooks", json={"url": url, "events": events or BOTH})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_registered_webhook_gets_signed_consent_events(hook_app, api, api_site, receiver):
    created = register(api, receiver.url)
    assert uuid.UUID(created["id"]) and created["url"] == receiver.url and created["events"] == BOTH
    withdrawals = register(api, receiver.url + "/w", ["consent.withdrawn"])
    consent_id = str(uuid.uuid4())
    given = record(api_site, consent_id=consent_id)
    withdrawn = record(api_site, consent_id=consent_id, action="withdraw",
                       choices={"analytics": False, "tracking": False, "marketing": False})

    run_passes(hook_app, lambda: len(receiver.received) == 3)
    main = [r for r in receiver.received if r.path == "/hook"]
    only = [r for r in receiver.received if r.path == "/hook/w"]
    assert [(r.json["type"], r.json["event"]["event_id"]) for r in main] == [
        ("consent.changed", given.event_id), ("consent.withdrawn", withdrawn.event_id)]
    assert [(r.json["type"], r.json["event"]["event_id"]) for r in only] == [("consent.withdrawn", withdrawn.event_id)]
    assert all(signature_valid(created["secret"], r) for r in main)
    assert all(signature_valid(withdrawals["secret"], r) and not signature_valid(created["secret"], r) for r in only)
    assert all(r.headers["Idempotency-Key"] == r.json["id"] and r.json["site"] == api_site.slug
               for r in receiver.received)


def test_list_shows_pending_counts_and_never_the_secret(hook_app, api, api_site):
    failing = Receiver(default=500)
    try:
        created = register(api, failing.url)
        record(api_site)
        record(api_site)
        with configured(hook_app, WEBHOOK_RETRY_SECONDS=3600.0):
            run_passes(hook_app, lambda: len(failing.received) == 2)
        listed = api.get("/webhooks").json()["webhooks"]
        assert listed == [{"id": created["id"], "url": failing.url, "events": BOTH,
                           "created_at": created["created_at"], "pending_deliveries": 2}]
        assert created["secret"] not in api.get("/webhooks").text
    finally:
        failing.stop()


def test_delete_stops_deliveries_and_is_per_site(hook_app, api, api_site, receiver, openapi_spec):
    created = register(api, receiver.url)
    other = api.with_token(make_token(make_site()))
    assert other.delete(f"/webhooks/{created['id']}").status_code == 404  # another site's webhook
    assert other.get("/webhooks").json() == {"webhooks": []}

    assert api.delete(f"/webhooks/{created['id']}").status_code == 204
    record(api_site)
    run_passes(hook_app, lambda: True)
    run_passes(hook_app, lambda: True)
    assert receiver.received == []
    assert api.get("/webhooks").json() == {"webhooks": []}
    assert api.delete(f"/webhooks/{created['id']}").status_code == 404
    assert api.delete(f"/webhooks/{uuid.uuid4()}").status_code == 404


@pytest.mark.parametrize("webhook_id", ["not-a-uuid", "1" * 300, "123", "%20"])
def test_delete_with_a_malformed_id_is_400(hook_app, api, webhook_id):
    response = api.delete(f"/webhooks/{webhook_id}")
    assert response.status_code == 400 and response.json()["fields"] == {"id": "a UUID"}


@pytest.mark.parametrize("body, fields", [
    ({"url": "ftp://example.com/", "events": BOTH}, {"url"}),
    ({"url": "https://", "events": BOTH}, {"url"}),
    ({"url": "not a url", "events": BOTH}, {"url"}),
    ({"url": "https://no-such-host.invalid/", "events": BOTH}, {"url"}),
    ({"url": 5, "events": "consent.changed"}, {"url", "events"}),
    ({"url": "https://93.184.215.14/", "events": ["consent.created"]}, {"events"}),
    ({"url": "https://93.184.215.14/", "events": []}, {"events"}),
    ({"url": "https://93.184.215.14/", "events": [1]}, {"events"}),
    ({"url": "https://93.184.215.14/"}, {"events"}),
    ({"events": BOTH}, {"url"}),
    ({"url": "https://93.184.215.14/", "events": BOTH, "secret": "mine"}, {"secret"}),
])
def test_registration_validation(hook_app, api, body, fields):
    response = api.post("/webhooks", json=body)
    assert response.status_code == 422 and set(response.json()["fields"]) == fields, response.text
    assert api.get("/webhooks").json() == {"webhooks": []}


@pytest.mark.parametrize("url", ["https://127.0.0.1/hook", "https://localhost/hook", "https://10.0.0.1/hook",
                                 "https://[::1]/hook", "https://169.254.169.254/latest/meta-data",
                                 "https://192.168.1.1/", "https://[::ffff:127.0.0.1]/"])
def test_private_addresses_are_refused_by_default(hook_app, api, url):
    with configured(hook_app, WEBHOOK_ALLOW_PRIVATE_URLS=False):
        response = api.post("/webhooks", json={"url": url, "events": BOTH})
    assert response.status_code == 422
    assert "private" in response.json()["fields"]["url"]


def test_plain_http_is_refused_by_default(hook_app, api):
    with configured(hook_app, WEBHOOK_ALLOW_HTTP=False):
        response = api.post("/webhooks", json={"url": "http://93.184.215.14/hook", "events": BOTH})
    assert response.status_code == 422 and "https://" in response.json()["fields"]["url"]
    accepted = api.post("/webhooks", json={"url": "https://93.184.215.14/hook", "events": BOTH})
    assert accepted.status_code == 201


def test_a_site_has_at_most_a_few_webhooks(hook_app, api):
    for n in range(MAX_WEBHOOKS_PER_SITE):
        register(api, f"https://93.184.215.14/hook/{n}")
    response = api.post("/webhooks", json={"url": "https://93.184.215.14/one-more", "events": BOTH})
    assert response.status_code == 409
    api.delete(f"/webhooks/{api.get('/webhooks').json()['webhooks'][0]['id']}")
    register(api, "https://93.184.215.14/one-more")


def test_webhooks_need_the_scope(hook_app, api, api_site):
    reader = api.with_token(make_token(api_site, ["consent:read", "ledger:read"]))
    assert reader.get("/webhooks").status_code == 403
    assert reader.post("/webhooks", json={"url": "https://93.184.215.14/", "events": BOTH}).status_code == 403
    assert reader.delete(f"/webhooks/{uuid.uuid4()}").status_code == 403
    assert api.with_token(None).get("/webhooks").status_code == 401


def test_bodies_that_are_not_json_objects_are_400(hook_app, api):
    assert api.post("/webhooks", data=b"url=x",
                    headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 400
    assert api.post("/webhooks", json=["https://93.184.215.14/"]).status_code == 400
