"""Several workers at once: fanning out the same webhooks never queues an event twice, and a
receiver that answers 200 gets each idempotency key exactly once, however many passes run."""
from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from cookiegate.extensions import db
from cookiegate.ledger.log import ensure_sequenced
from cookiegate.webhooks.delivery import fan_out
from cookiegate.webhooks.models import WebhookDelivery
from cookiegate.webhooks.services import register_webhook
from tests.factories import record
from tests.webhooks.helpers import deliveries_of, one_pass
from tests.webhooks.receiver import Receiver

WORKERS = 4
EVENTS = 60


def record_mixed(site, count: int) -> list[str]:
    """Decisions over a few subjects, every third one a withdrawal; returns the event kinds."""
    subjects = [str(uuid.uuid4()) for _ in range(5)]
    kinds = []
    for i in range(count):
        withdraw = i % 3 == 2
        kinds.append(record(site, consent_id=subjects[i % 5], action="withdraw" if withdraw else "save_selection",
                            choices={"analytics": not withdraw, "tracking": False, "marketing": False}).kind)
    return kinds


def delivered_count(app, webhook_ids: list[int]) -> int:
    with app.app_context():
        try:
            return len(db.session.execute(select(WebhookDelivery.id).where(
                WebhookDelivery.webhook_id.in_(webhook_ids), WebhookDelivery.delivered_at.is_not(None))).all())
        finally:
            db.session.remove()


def work(app, start: threading.Barrier, done) -> int:
    """Worker passes, in this thread's own app contexts, until everything is delivered."""
    start.wait()
    passes = 0
    deadline = time.monotonic() + 120
    while not done() and time.monotonic() < deadline:
        one_pass(app)
        passes += 1
    return passes


def test_concurrent_workers_send_each_idempotency_key_exactly_once(hook_app, site):
    receiver = Receiver(delay=0.002)
    try:
        everything = register_webhook(site=site, url=receiver.url, events=["consent.changed", "consent.withdrawn"])
        withdrawals = register_webhook(site=site, url=receiver.url + "/w", events=["consent.withdrawn"])
        kinds = record_mixed(site, EVENTS)  # left pending: the workers race to sequence them too
        expected = EVENTS + kinds.count("withdrawn")
        assert kinds.count("withdrawn") >= EVENTS // 3 - 1
        ids = [everything.webhook.id, withdrawals.webhook.id]
        start = threading.Barrier(WORKERS)
        with ThreadPoolExecutor(WORKERS) as pool:
            runs = [pool.submit(work, hook_app, start, lambda: delivered_count(hook_app, ids) == expected)
                    for _ in range(WORKERS)]
            passes = [run.result(timeout=180) for run in runs]
        for _ in range(5):  # and many more passes later change nothing
            one_pass(hook_app)

        assert sum(passes) >= WORKERS
        counts = Counter(receiver.keys())
        assert len(counts) == expected and set(counts.values()) == {1}
        deliveries = deliveries_of(ids[0]) + deliveries_of(ids[1])
        assert {d.delivery_id for d in deliveries} == set(counts)
        assert all(d.attempts == 1 and d.delivered_at is not None for d in deliveries)
        assert len({d.event_pk for d in deliveries_of(ids[0])}) == EVENTS
        assert all(r.json["type"] == "consent.withdrawn" for r in receiver.received if r.path == "/hook/w")
    finally:
        receiver.stop()


def fan_out_in_own_context(app, start: threading.Barrier) -> int:
    with app.app_context():
        try:
            start.wait()
            return fan_out(batch_size=7)  # small batches: several rounds of racing per webhook
        finally:
            db.session.remove()


def test_racing_fan_outs_never_queue_an_event_twice(hook_app, site, receiver):
    hooks = [register_webhook(site=site, url=receiver.url, events=["consent.changed", "consent.withdrawn"])
             for _ in range(3)]
    record_mixed(site, 30)
    ensure_sequenced(site)
    queued = 0
    for _ in range(6):  # 30 entries in batches of 7: five rounds move each cursor to the end
        start = threading.Barrier(WORKERS)
        with ThreadPoolExecutor(WORKERS) as pool:
            queued += sum(pool.map(lambda _: fan_out_in_own_context(hook_app, start), range(WORKERS)))
    assert queued == 3 * 30
    for hook in hooks:
        deliveries = deliveries_of(hook.webhook.id)
        assert len(deliveries) == 30 and len({d.event_pk for d in deliveries}) == 30
