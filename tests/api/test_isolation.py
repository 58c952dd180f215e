"""Tenant isolation: every operation of the OpenAPI document is called, over real HTTP, for the
data of one site ("ours") with a key of another site, a revoked key, a key lacking the scope and
no key. None of them ever gets any of our site's data back. The operations come from the
published document, so a new operation without a probe here fails the test."""
from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from cookiegate.api.keys import revoke_api_key
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.log import ensure_sequenced
from cookiegate.newsletter.lists import ensure_list
from cookiegate.newsletter.wipe import wipe_subscriber
from cookiegate.sites.demo import DEMO_LISTS
from tests.api.conftest import ALL_SCOPES, Api, make_token
from tests.factories import make_site, record
from tests.newsletter.conftest import confirmed_subscriber
from tests.webhooks.helpers import TEST_SETTINGS, configured, disable_all_webhooks

EMAIL = "Klant.Een@example.nl"
ACCOUNT = "account-4711"
SUBSCRIBED = "lezer@example.nl"  # on our newsletter list
WIPED = "vertrokken@example.nl"  # wiped: on our suppression list


@dataclass
class Ours:
    """Our site's data, and every string that would betray it in an answer."""

    site: Any
    consent_id: str
    event_id: str
    notice_sha256: str
    webhook_id: str
    tree_size: int
    secrets: set[str]


@pytest.fixture
def ours(app, api_site, live_server, openapi_spec) -> Ours:
    with configured(app, **TEST_SETTINGS):
        yield _our_data(api_site, live_server, openapi_spec)
    disable_all_webhooks(app)


def _our_data(api_site, live_server, openapi_spec) -> Ours:
    api = Api(live_server.url, make_token(api_site), openapi_spec)
    for key, texts in DEMO_LISTS["petite-vie"].items():
        ensure_list(site=api_site, key=key, texts=texts)
    confirmed_subscriber(api_site, SUBSCRIBED)
    confirmed_subscriber(api_site, WIPED)
    wipe_subscriber(site=api_site, email=WIPED)
    consent_id = str(uuid.uuid4())
    recorded = [record(api_site, consent_id=consent_id) for _ in range(2)]
    by_mail = api.post("/events", json={"subject": {"email": EMAIL}, "choices": {"marketing": True},
                                        "language": "nl", "action": "save_selection"})
    by_account = api.post("/events", json={"subject": {"account_id": ACCOUNT}, "choices": {"analytics": True},
                                           "language": "nl", "action": "save_selection"})
    assert by_mail.status_code == 201 and by_account.status_code == 201
    hook = api.post("/webhooks", json={"url": "http://127.0.0.1:9/ours-hook-8c1f",
                                       "events": ["consent.changed"]})
    assert hook.status_code == 201, hook.text
    ensure_sequenced(api_site)
    checkpoint = api.get("/checkpoint").json()
    secrets = {api_site.slug, consent_id, by_mail.json()["consent_id"], by_account.json()["consent_id"],
               by_mail.json()["event_id"], by_account.json()["event_id"], hook.json()["id"],
               hook.json()["secret"], "ours-hook-8c1f", checkpoint["root_hash"], checkpoint["signature"],
               *(event.event_id for event in recorded),
               *(event.leaf_hash.hex() for event in recorded)}
    secrets |= {base64.b64encode(event.leaf_hash).decode() for event in recorded}
    secrets |= {current_keys().email_hmac(address) for address in (EMAIL, SUBSCRIBED, WIPED)}
    return Ours(site=api_site, consent_id=consent_id, event_id=recorded[0].event_id,
                notice_sha256=recorded[0].leaf["notice"]["sha256"], webhook_id=hook.json()["id"],
                tree_size=checkpoint["tree_size"], secrets=secrets)


def _subject(ours: Ours) -> dict[str, Any]:
    return {"consent_id": ours.consent_id}


# operationId -> (method, path, query, body) asking for our data.
PROBES: dict[str, Callable[[Ours], tuple[str, str, dict | None, Any]]] = {
    "recordConsentEvent": lambda o: ("POST", "/events", None, {
        "subject": _subject(o), "choices": {"analytics": True}, "language": "nl", "action": "save_selection",
        "notice": o.notice_sha256}),
    "listConsentEvents": lambda o: ("GET", "/events", {"limit": "50"}, None),
    "getSubjectState": lambda o: ("POST", "/subjects/state", None, {"subject": _subject(o)}),
    "checkSubjects": lambda o: ("POST", "/subjects/check", None, {
        "category": "analytics", "subjects": [_subject(o), {"email": EMAIL}, {"account_id": ACCOUNT}]}),
    "getSubjectHistory": lambda o: ("POST", "/subjects/history", None, {"subject": _subject(o)}),
    "getEvent": lambda o: ("GET", f"/events/{o.event_id}", None, None),
    "getEventProof": lambda o: ("GET", f"/events/{o.event_id}/proof", None, None),
    "getLatestCheckpoint": lambda o: ("GET", "/checkpoint", None, None),
    "getCheckpoint": lambda o: ("GET", f"/checkpoints/{o.tree_size}", None, None),
    "getConsistencyProof": lambda o: ("GET", "/consistency", {"first": "1", "second": str(o.tree_size)}, None),
    "getNotice": lambda o: ("GET", f"/notices/{o.notice_sha256}", None, None),
    "createWebhook": lambda o: ("POST", "/webhooks", None, {"url": "http://127.0.0.1:9/other-hook",
                                                             "events": ["consent.withdrawn"]}),
    "listWebhooks": lambda o: ("GET", "/webhooks", None, None),
    "deleteWebhook": lambda o: ("DELETE", f"/webhooks/{o.webhook_id}", None, None),
    "subscribeNewsletter": lambda o: ("POST", "/newsletter/subscriptions", None, {
        "email": "nieuw@example.nl", "list": "newsletter", "language": "nl", "source": "shop_form"}),
    "checkNewsletterAddresses": lambda o: ("POST", "/newsletter/check", None, {
        "list": "newsletter", "emails": [SUBSCRIBED, WIPED]}),
    "listNewsletterSuppressions": lambda o: ("GET", "/newsletter/suppressions", None, None),
    "getUnsubscribeHeaders": lambda o: ("POST", "/newsletter/unsubscribe-headers", None, {
        "email": SUBSCRIBED, "list": "newsletter"}),
    "receiveMailerEvents": lambda o: ("POST", "/newsletter/events", None, {
        "events": [{"type": "unsubscribe", "email": SUBSCRIBED, "list": "newsletter"}]}),
}
# Answers that carry nothing of ours by design, even to our own key (only a yes/no or an ack).
NOTHING_TO_LEAK = {"recordConsentEvent", "createWebhook", "getNotice", "getConsistencyProof", "subscribeNewsletter",
                   "checkNewsletterAddresses", "receiveMailerEvents"}
# Operations that change our data: our own key does not run them in the sanity check.
CHANGES_OURS = {"recordConsentEvent", "deleteWebhook", "receiveMailerEvents"}


def operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(operation["operationId"], operation["x-scope"])
            for item in document["paths"].values() for method, operation in item.items()
            if method in ("get", "post", "put", "patch", "delete")]


def test_every_documented_operation_has_a_probe(openapi_doc):
    documented = {operation_id for operation_id, _ in operations(openapi_doc)}
    assert documented == set(PROBES), f"probe missing for {documented - set(PROBES)}, stale {set(PROBES) - documented}"


def leaked(response, ours: Ours, sent: str) -> set[str]:
    """Our strings in the answer that the request itself did not carry."""
    return {secret for secret in ours.secrets if secret in response.text and secret not in sent}


def call(api: Api, ours: Ours, operation_id: str, token):
    method, path, query, body = PROBES[operation_id](ours)
    response = api.call(method, path, params=query, json=body, token=token)
    sent = f"{path} {query} {body}"
    return response, sent


@pytest.mark.parametrize("who", ["other_site", "revoked", "no_scope", "no_key", "garbage_key"])
def test_no_answer_carries_another_sites_data(who, ours, live_server, openapi_spec, openapi_doc, app):
    api = Api(live_server.url, None, openapi_spec)
    other_site = make_site()
    other_token = make_token(other_site)
    revoked_token = make_token(ours.site)
    revoke_api_key(key_id=revoked_token.split("_")[1])
    checked = 0
    for operation_id, needed in operations(openapi_doc):
        token = {"other_site": other_token, "revoked": revoked_token, "no_key": None,
                 "no_scope": make_token(ours.site, [s for s in ALL_SCOPES if s != needed]),
                 "garbage_key": "cgk_0123456789abcdef_" + "x" * 43}[who]
        response, sent = call(api, ours, operation_id, token)
        expected = {"other_site": None, "revoked": 401, "no_key": 401, "garbage_key": 401, "no_scope": 403}[who]
        if expected is not None:
            assert response.status_code == expected, (operation_id, response.status_code, response.text)
            assert set(response.json()) == {"error", "message", "fields"}
        else:
            assert response.status_code in (200, 201, 202, 204, 404, 422), (operation_id, response.status_code, response.text)
        assert not leaked(response, ours, sent), (operation_id, who, leaked(response, ours, sent))
        checked += 1
    assert checked == len(PROBES)
    # Nothing of ours changed: our webhook is still there, our reader still subscribed.
    own = Api(live_server.url, make_token(ours.site), openapi_spec)
    assert ours.webhook_id in own.get("/webhooks").text
    assert own.post("/newsletter/check", json={"list": "newsletter", "emails": [SUBSCRIBED]}).json()[
        "results"] == [{"allowed": True}]


def test_our_own_key_does_get_our_data(ours, live_server, openapi_spec, openapi_doc):
    """The probes are meaningful: with our key and the scope, data comes back."""
    api = Api(live_server.url, make_token(ours.site), openapi_spec)
    for operation_id, _ in operations(openapi_doc):
        if operation_id in CHANGES_OURS:
            continue
        response, sent = call(api, ours, operation_id, True)
        assert response.status_code in (200, 201, 202), (operation_id, response.status_code, response.text)
        if operation_id not in NOTHING_TO_LEAK:
            assert leaked(response, ours, sent), f"{operation_id} answered nothing of ours: the probe proves nothing"
