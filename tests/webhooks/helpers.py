"""Helpers for webhook tests: temporary settings on the shared app, worker passes until a
condition holds, and switching every webhook off after a test (later passes in this test
process must not keep calling receivers that are gone)."""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from flask import Flask
from sqlalchemy import select, update

from cookiegate.extensions import db
from cookiegate.timeutil import utcnow
from cookiegate.webhooks.delivery import PassReport, run_pass
from cookiegate.webhooks.models import Webhook, WebhookDelivery

# What every webhook test runs with: the receivers are plain http on 127.0.0.1.
TEST_SETTINGS = {"WEBHOOK_ALLOW_PRIVATE_URLS": True, "WEBHOOK_ALLOW_HTTP": True,
                 "WEBHOOK_RETRY_SECONDS": 0.01, "WEBHOOK_TIMEOUT_SECONDS": 5.0}


@contextmanager
def configured(app: Flask, **values: Any) -> Iterator[None]:
    """Change settings of the (session-wide) app for a while; restored afterwards."""
    saved = {key: app.config[key] for key in values}
    app.config.update(values)
    try:
        yield
    finally:
        app.config.update(saved)


def one_pass(app: Flask) -> PassReport:
    """One worker pass in an app context (and database session) of its own, as a worker has."""
    with app.app_context():
        try:
            return run_pass(origin_base=app.config["LEDGER_ORIGIN"])
        finally:
            db.session.remove()


def run_passes(app: Flask, until: Callable[[], bool], *, limit: int = 200, pause: float = 0.01) -> int:
    """Worker passes in this app context until `until()` holds; returns how many were run."""
    for count in range(1, limit + 1):
        one_pass(app)
        if until():
            return count
        time.sleep(pause)
    raise AssertionError(f"still not done after {limit} worker passes")


def deliveries_of(webhook_id: int) -> list[WebhookDelivery]:
    db.session.expire_all()
    return list(db.session.execute(select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
                                   .order_by(WebhookDelivery.id)).scalars())


def disable_all_webhooks(app: Flask) -> None:
    with app.app_context():
        db.session.execute(update(Webhook).where(Webhook.disabled_at.is_(None)).values(disabled_at=utcnow()))
        db.session.commit()
        db.session.remove()
