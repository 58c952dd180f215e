"""Webhook delivery to a real local receiver: signed payloads, event types and subscriptions,
retries with backoff under one idempotency key, claims, removal, and the address policy."""
from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import pytest
import requests
from sqlalchemy import update

from cookiegate.canonical import canonical_json
from cookiegate.errors import NotFound, ValidationError
from cookiegate.extensions import db
from cookiegate.ledger.log import ensure_sequenced
from cookiegate.ledger.merkle import leaf_hash
from cookiegate.timeutil import parse_iso, utcnow
from cookiegate.webhooks.delivery import _claim, deliver_due, fan_out, prune_delivered, retry_delay
from cookiegate.webhooks.models import WebhookDelivery
from cookiegate.webhooks.services import list_webhooks, register_webhook, remove_webhook
from cookiegate.webhooks.urls import address_allowed, delivery_session, url_problem
from tests.factories import record
from tests.webhooks.helpers import configured, deliveries_of, one_pass, run_passes
from tests.webhooks.receiver import Receiver, signature_valid

GIVE = {"analytics": True, "tracking": False, "marketing": True}
NONE = {"analytics": False, "tracking": False, "marketing": False}


def test_changes_and_withdrawals_reach_the_receiver_signed(hook_app, site, receiver):
    both = register_webhook(site=site, url=receiver.url, events=["consent.withdrawn", "consent.changed"])
    only_withdrawn = register_webhook(site=site, url=receiver.url + "/withdrawn", events=["consent.withdrawn"])
    consent_id = str(uuid.uuid4())
    given = record(site, consent_id=consent_id, choices=GIVE)
    withdrawn = record(site, consent_id=consent_id, choices=NONE, action="withdraw")
    assert (given.kind, withdrawn.kind) == ("given", "withdrawn")

    run_passes(hook_app, lambda: len(receiver.received) == 3)
    to_both = [r for r in receiver.received if r.path == "/hook"]
    to_withdrawn = [r for r in receiver.received if r.path == "/hook/withdrawn"]
    assert [r.json["type"] for r in to_both] == ["consent.changed", "consent.withdrawn"]
    assert [r.json["event"]["event_id"] for r in to_withdrawn] == [withdrawn.event_id]
    for received, secret, event in ((to_both[0], both.secret, given), (to_both[1], both.secret, withdrawn),
                                    (to_withdrawn[0], only_withdrawn.secret, withdrawn)):
        assert signature_valid(secret, received)
        assert not signature_valid("whsec_wrong", received)
        payload = received.json
        assert received.headers["Content-Type"] == "application/json"
        assert received.headers["Idempotency-Key"] == payload["id"] and uuid.UUID(payload["id"])
        assert received.headers["Cookiegate-Event"] == payload["type"]
        assert payload["site"] == site.slug and parse_iso(payload["created_at"])
        assert payload["event"] == {
            "event_id": event.event_id, "type": event.kind, "time": event.leaf["time"],
            "consent_id": consent_id, "notice_sha256": event.leaf["notice"]["sha256"], "leaf": event.leaf,
            "leaf_hash": base64.b64encode(event.leaf_hash).decode()}
        assert leaf_hash(canonical_json(payload["event"]["leaf"])) == event.leaf_hash  # the proof travels whole
    assert len({r.key for r in receiver.received}) == 3
    assert all(d.delivered_at and d.attempts == 1 and d.last_status == 200
               for d in deliveries_of(both.webhook.id) + deliveries_of(only_withdrawn.webhook.id))


def test_refusals_and_updates_are_changes(hook_app, site, receiver):
    register_webhook(site=site, url=receiver.url, events=["consent.changed"])
    consent_id = str(uuid.uuid4())
    refused = record(site, consent_id=consent_id, choices=NONE)
    updated = record(site, consent_id=consent_id, choices=GIVE)
    run_passes(hook_app, lambda: len(receiver.received) == 2)
    assert [(r.json["type"], r.json["event"]["type"]) for r in receiver.received] == [
        ("consent.changed", refused.kind), ("consent.changed", updated.kind)]
    assert (refused.kind, updated.kind) == ("refused", "updated")


def test_events_logged_before_registration_are_not_sent(hook_app, site, receiver):
    record(site)
    one_pass(hook_app)  # sequenced into the log before the webhook exists
    registered = register_webhook(site=site, url=receiver.url, events=["consent.changed"])
    later = record(site)
    run_passes(hook_app, lambda: len(receiver.received) >= 1)
    one_pass(hook_app)
    assert [r.json["event"]["event_id"] for r in receiver.received] == [later.event_id]
    assert len(deliveries_of(registered.webhook.id)) == 1


def test_a_failing_receiver_gets_the_delivery_on_the_fourth_try(hook_app, site):
    receiver = Receiver(statuses=[500, 500, 500])
    try:
        registered = register_webhook(site=site, url=receiver.url, events=["consent.changed"])
        record(site)
        run_passes(hook_app, lambda: any(d.delivered_at for d in deliveries_of(registered.webhook.id)))
        for _ in range(5):  # more passes change nothing: it is delivered
            one_pass(hook_app)
        assert len(receiver.received) == 4
        assert len({r.key for r in receiver.received}) == 1
        assert len({r.body for r in receiver.received}) == 1
        assert all(signature_valid(registered.secret, r) for r in receiver.received)
        [delivery] = deliveries_of(registered.webhook.id)
        assert (delivery.attempts, delivery.last_status, delivery.last_error) == (4, 200, None)
        assert delivery.delivery_id == receiver.received[0].key and delivery.claimed_until is None
    finally:
        receiver.stop()


def test_a_failure_is_recorded_and_retried_later(hook_app, site):
    receiver = Receiver(default=503)
    try:
        registered = register_webhook(site=site, url=receiver.url, events=["consent.changed"])
        record(site)
        with configured(hook_app, WEBHOOK_RETRY_SECONDS=3600.0):
            one_pass(hook_app)
            [delivery] = deliveries_of(registered.webhook.id)
            assert (delivery.attempts, delivery.last_status, delivery.delivered_at) == (1, 503, None)
            assert delivery.last_error.startswith("HTTP 503")
            wait = (delivery.next_attempt_at - utcnow()).total_seconds()
            assert 3500 < wait <= 3600 * 1.1
            one_pass(hook_app)  # not due yet
        assert len(receiver.received) == 1
        assert list_webhooks(site=site)[0].pending_deliveries == 1
    finally:
        receiver.stop()


def test_backoff_doubles_with_a_little_jitter_up_to_six_hours():
    for attempts, base in ((1, 30), (2, 60), (3, 120), (8, 3840)):
        assert base <= retry_delay(attempts, base=30, cap=21600) <= base * 1.1
    assert retry_delay(12, base=30, cap=21600) == 21600
    assert retry_delay(10_000, base=30, cap=21600) == 21600


def test_redirects_are_not_followed_and_slow_receivers_time_out(hook_app, site):
    redirecting, slow = Receiver(default=302), Receiver(delay=1.5)
    try:
        moved = register_webhook(site=site, url=redirecting.url, events=["consent.changed"])
        late = register_webhook(site=site, url=slow.url, events=["consent.changed"])
        record(site)
        with configured(hook_app, WEBHOOK_TIMEOUT_SECONDS=0.5, WEBHOOK_RETRY_SECONDS=3600.0):
            one_pass(hook_app)
        [redirected], [timed_out] = deliveries_of(moved.webhook.id), deliveries_of(late.webhook.id)
        assert redirected.last_status == 302 and redirected.delivered_at is None
        assert timed_out.last_status is None and "Timeout" in timed_out.last_error
        assert timed_out.delivered_at is None and len(timed_out.last_error) <= 500
        assert len(redirecting.received) == 1  # the redirect target was never asked
    finally:
        redirecting.stop()
        slow.stop()


def test_a_claimed_or_delivered_delivery_is_never_claimed_again(hook_app, site, receiver):
    registered = register_webhook(site=site, url=receiver.url, events=["consent.changed"])
    record(site)
    one_pass(hook_app)
    [delivered] = deliveries_of(registered.webhook.id)
    assert delivered.delivered_at is not None and _claim(delivered.id) is None
    db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivered.id)
                       .values(claimed_until=utcnow() - timedelta(hours=1)))
    db.session.commit()
    assert _claim(delivered.id) is None  # delivered is final, whatever the lease says

    record(site)
    ensure_sequenced(site)
    fan_out()
    pending = deliveries_of(registered.webhook.id)[1]
    assert _claim(pending.id) == 1
    assert _claim(pending.id) is None  # another worker cannot take it while the lease runs
    assert deliver_due() == (0, 0)
    db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id == pending.id)
                       .values(claimed_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()  # the first worker died: its lease ran out
    assert deliver_due() == (1, 0)
    assert deliveries_of(registered.webhook.id)[1].attempts == 2
    assert len(receiver.received) == 2


def test_long_delivered_payloads_are_pruned(hook_app, site, receiver):
    registered = register_webhook(site=site, url=receiver.url, events=["consent.changed"])
    for _ in range(3):
        record(site)
    run_passes(hook_app, lambda: len(receiver.received) == 3)
    old, recent, pending = deliveries_of(registered.webhook.id)
    db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id == old.id)
                       .values(delivered_at=utcnow() - timedelta(days=31)))
    db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id == pending.id)
                       .values(delivered_at=None, created_at=utcnow() - timedelta(days=90),
                               next_attempt_at=utcnow() + timedelta(days=1)))
    db.session.commit()
    assert prune_delivered(keep_days=30) >= 1
    assert [d.id for d in deliveries_of(registered.webhook.id)] == [recent.id, pending.id]


def test_removing_a_webhook_stops_its_deliveries(hook_app, site):
    receiver = Receiver(default=500)
    try:
        registered = register_webhook(site=site, url=receiver.url, events=["consent.changed"])
        record(site)
        with configured(hook_app, WEBHOOK_RETRY_SECONDS=0.0):
            one_pass(hook_app)
            assert len(receiver.received) == 1
            removed = remove_webhook(site=site, public_id=registered.webhook.public_id.upper())
            assert removed.disabled_at is not None and deliveries_of(registered.webhook.id) == []
            record(site)
            for _ in range(3):
                one_pass(hook_app)
        assert len(receiver.received) == 1
        assert deliveries_of(registered.webhook.id) == [] and list_webhooks(site=site) == []
        with pytest.raises(NotFound):
            remove_webhook(site=site, public_id=registered.webhook.public_id)
        with pytest.raises(ValidationError):
            remove_webhook(site=site, public_id="not-a-uuid")
    finally:
        receiver.stop()


def test_private_addresses_are_refused_again_at_delivery(hook_app, site, receiver):
    registered = register_webhook(site=site, url=receiver.url.replace("127.0.0.1", "localhost"),
                                  events=["consent.changed"])
    record(site)
    with configured(hook_app, WEBHOOK_ALLOW_PRIVATE_URLS=False, WEBHOOK_RETRY_SECONDS=0.0):
        one_pass(hook_app)
        [delivery] = deliveries_of(registered.webhook.id)
        assert receiver.received == [] and delivery.delivered_at is None
        assert "refused" in delivery.last_error and "non-public address" in delivery.last_error
    with configured(hook_app, WEBHOOK_ALLOW_HTTP=False, WEBHOOK_RETRY_SECONDS=0.0):
        one_pass(hook_app)
        assert receiver.received == [] and "https" in deliveries_of(registered.webhook.id)[0].last_error
    run_passes(hook_app, lambda: len(receiver.received) == 1)
    assert deliveries_of(registered.webhook.id)[0].attempts == 3


def test_the_checked_session_connects_only_to_allowed_addresses(receiver):
    with delivery_session(allow_private=False) as session:
        with pytest.raises(requests.ConnectionError, match="non-public address"):
            session.post(receiver.url, data=b"{}", timeout=5)
    assert receiver.received == []
    with delivery_session(allow_private=False, address_ok=lambda address: address == "127.0.0.1") as session:
        assert session.post(receiver.url.replace("127.0.0.1", "localhost"), data=b"{}", timeout=5).status_code == 200
        with pytest.raises(requests.ConnectionError, match="non-public address"):
            session.post("http://[::1]:9/", data=b"{}", timeout=5)
    assert len(receiver.received) == 1


@pytest.mark.parametrize("address, allowed", [
    ("93.184.215.14", True), ("2606:4700::1111", True), ("127.0.0.1", False), ("10.1.2.3", False),
    ("172.16.0.1", False), ("192.168.1.1", False), ("169.254.169.254", False), ("100.64.0.1", False),
    ("0.0.0.0", False), ("224.0.0.1", False), ("255.255.255.255", False), ("198.51.100.7", False),
    ("::1", False), ("::", False), ("fe80::1%eth0", False), ("fc00::1", False), ("ff02::1", False),
    ("::ffff:127.0.0.1", False), ("::ffff:93.184.215.14", True), ("64:ff9b::a00:1", False),
    ("2002:c0a8:101::", False)])
def test_address_policy(address, allowed):
    assert address_allowed(address) is allowed


@pytest.mark.parametrize("url, fragment", [
    (None, "required"), ("", "required"), (42, "required"), ("ftp://example.com/x", "https://"),
    ("http://93.184.215.14/x", "https://"), ("https://", "host"), ("https:///path", "host"),
    ("https://user:pw@example.com/", "credentials"), ("https://example.com/#top", "fragment"),
    ("https://exa mple.com/", "spaces"), ("https://example.com:99999/", "valid"),
    ("https://" + "a" * 2000 + ".com/", "2000"), ("https://no-such-host.invalid/", "resolve"),
    ("https://127.0.0.1/", "private"), ("https://localhost:8443/", "private"), ("https://[::1]/", "private"),
    ("https://169.254.169.254/latest/meta-data", "private"), ("https://10.0.0.1/", "private")])
def test_url_problems(app_ctx, url, fragment):
    problem = url_problem(url, allow_http=False, allow_private=False)
    assert problem is not None and fragment in str(problem)


def test_url_accepted_when_private_and_http_are_allowed(app_ctx):
    assert url_problem("http://127.0.0.1:8080/hook", allow_http=True, allow_private=True) is None
    assert url_problem("https://localhost/hook", allow_http=False, allow_private=True) is None
