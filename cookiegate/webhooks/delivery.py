"""The webhook outbox: fan-out from the sequenced log, signed delivery with retries.

Recording a consent never pays for webhooks. The sequenced log (log_entry) is each site's
durable, gap-free event order; per active webhook a worker reads the entries from the
webhook's cursor on and, in ONE transaction, queues a delivery per matching event and moves
the cursor past them. The cursor moves only from the value that was read (compare and set) and
(webhook, event) is unique, so workers fanning out the same webhook at once never queue an
event twice.

A due delivery is claimed with a lease (a conditional UPDATE: only one worker wins), sent, and
then marked delivered or rescheduled, each in its own commit. A delivery marked delivered is
never claimed again; one whose worker died is claimed again when its lease runs out (at least
once: receivers deduplicate by the Idempotency-Key header, the delivery's id).

Each request is a POST of the JSON payload with these headers:
  Content-Type: application/json
  Idempotency-Key: <delivery id>            the same on every retry of the delivery
  Cookiegate-Event: consent.changed | consent.withdrawn
  Cookiegate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body bytes)>
The receiver recomputes the HMAC over the raw body with the secret shown at registration,
compares in constant time and refuses an old t (say, more than 5 minutes) against replays.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from flask import current_app
from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from cookiegate.canonical import loads
from cookiegate.extensions import db
from cookiegate.ledger.log import sequence_all
from cookiegate.ledger.models import ConsentEvent, LogEntry
from cookiegate.sites.models import Site
from cookiegate.timeutil import iso, utcnow
from cookiegate.webhooks.models import Webhook, WebhookDelivery
from cookiegate.webhooks.services import event_type_for
from cookiegate.webhooks.urls import delivery_session, url_problem

FAN_OUT_BATCH = 500  # log entries per webhook and pass
DELIVERY_BATCH = 100  # deliveries per pass
ERROR_LENGTH = 500  # WebhookDelivery.last_error
USER_AGENT = "cookiegate-webhooks/1"
_HOOKS = Webhook.__table__
_DELIVERIES = WebhookDelivery.__table__


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The Cookiegate-Signature header value for a body sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def retry_delay(attempts: int, *, base: float, cap: float) -> float:
    """Seconds to wait after the attempts-th failure: base * 2**(attempts - 1), at most cap,
    plus up to 10% jitter so that deliveries failing together do not all return together."""
    delay = min(cap, base * 2 ** min(max(attempts - 1, 0), 40))
    return min(cap, delay * random.uniform(1.0, 1.1))


def fan_out(*, batch_size: int = FAN_OUT_BATCH) -> int:
    """Queue deliveries for the log entries past each active webhook's cursor (a batch per
    webhook). Returns how many deliveries were queued."""
    hooks = db.session.execute(
        select(Webhook.id, Webhook.site_id, Webhook.events, Webhook.cursor_seq, Site.slug)
        .join(Site, Site.id == Webhook.site_id).where(Webhook.disabled_at.is_(None))
        .order_by(Webhook.id)).all()
    db.session.rollback()
    return sum(_fan_out_webhook(hook, batch_size) for hook in hooks)


def _fan_out_webhook(hook: Any, batch_size: int) -> int:
    entries = db.session.execute(
        select(LogEntry.seq, ConsentEvent.id, ConsentEvent.event_id, ConsentEvent.kind,
               ConsentEvent.consent_id, ConsentEvent.notice_sha256, ConsentEvent.leaf, ConsentEvent.leaf_hash)
        .join(ConsentEvent, ConsentEvent.id == LogEntry.event_pk)
        .where(LogEntry.site_id == hook.site_id, LogEntry.seq >= hook.cursor_seq)
        .order_by(LogEntry.seq).limit(batch_size)).all()
    if not entries:
        db.session.rollback()
        return 0
    now = utcnow()
    rows = [_delivery_row(hook, entry, now) for entry in entries if event_type_for(entry.kind) in hook.events]
    try:
        moved = db.session.execute(update(_HOOKS).where(
            _HOOKS.c.id == hook.id, _HOOKS.c.cursor_seq == hook.cursor_seq, _HOOKS.c.disabled_at.is_(None))
            .values(cursor_seq=entries[-1].seq + 1))
        if moved.rowcount != 1:  # another worker moved the cursor first, or the webhook was removed
            db.session.rollback()
            return 0
        if rows:
            db.session.execute(insert(_DELIVERIES), rows)
        db.session.commit()
    except IntegrityError:  # the unique (webhook, event) guard: another worker queued these first
        db.session.rollback()
        current_app.logger.info("webhook %s: fan-out left to another worker", hook.id)
        return 0
    return len(rows)


def _delivery_row(hook: Any, entry: Any, now: datetime) -> dict[str, Any]:
    leaf = loads(entry.leaf)
    delivery_id, event_type = str(uuid.uuid4()), event_type_for(entry.kind)
    payload = {
        "id": delivery_id, "type": event_type, "created_at": iso(now), "site": hook.slug,
        "event": {"event_id": entry.event_id, "type": entry.kind, "time": leaf["time"],
                  "consent_id": entry.consent_id, "notice_sha256": entry.notice_sha256, "leaf": leaf,
                  "leaf_hash": base64.b64encode(entry.leaf_hash).decode()},
    }
    return {"webhook_id": hook.id, "delivery_id": delivery_id, "event_pk": entry.id,
            "event_type": event_type, "payload": json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
            "attempts": 0, "created_at": now, "next_attempt_at": now}


@dataclass(frozen=True)
class Outcome:
    status: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def deliver_due(*, limit: int = DELIVERY_BATCH, stop: threading.Event | None = None) -> tuple[int, int]:
    """Send up to `limit` due deliveries of active webhooks, oldest due first, each claimed
    under a lease so no other worker sends it meanwhile. Returns (delivered, failed)."""
    config = current_app.config
    now = utcnow()
    due = db.session.execute(
        select(_DELIVERIES.c.id, _DELIVERIES.c.delivery_id, _DELIVERIES.c.event_type,
               _DELIVERIES.c.payload, _HOOKS.c.url, _HOOKS.c.secret)
        .join(_HOOKS, _HOOKS.c.id == _DELIVERIES.c.webhook_id)
        .where(_DELIVERIES.c.delivered_at.is_(None), _DELIVERIES.c.next_attempt_at <= now,
               or_(_DELIVERIES.c.claimed_until.is_(None), _DELIVERIES.c.claimed_until < now),
               _HOOKS.c.disabled_at.is_(None))
        .order_by(_DELIVERIES.c.next_attempt_at, _DELIVERIES.c.id).limit(limit)).all()
    db.session.rollback()
    delivered = failed = 0
    with delivery_session(allow_private=bool(config["WEBHOOK_ALLOW_PRIVATE_URLS"])) as session:
        for item in due:
            if stop is not None and stop.is_set():
                break
            attempts = _claim(item.id)
            if attempts is None:
                continue  # another worker has it, or it was delivered or removed meanwhile
            outcome = _send(session, item)
            _settle(item, attempts, outcome)
            delivered, failed = delivered + outcome.delivered, failed + (not outcome.delivered)
    return delivered, failed


def _lease_seconds() -> float:
    # Longer than a request can take (connect and read timeouts, plus a margin), so the lease
    # never runs out while the delivery is still on the wire.
    return 3 * float(current_app.config["WEBHOOK_TIMEOUT_SECONDS"]) + 30


def _claim(delivery_pk: int) -> int | None:
    """Claim a delivery for this worker: its attempt count, or None if another has it."""
    now = utcnow()
    active = select(_HOOKS.c.id).where(_HOOKS.c.disabled_at.is_(None)).scalar_subquery()
    claimed = db.session.execute(
        update(_DELIVERIES).where(
            _DELIVERIES.c.id == delivery_pk, _DELIVERIES.c.delivered_at.is_(None),
            _DELIVERIES.c.next_attempt_at <= now,
            or_(_DELIVERIES.c.claimed_until.is_(None), _DELIVERIES.c.claimed_until < now),
            _DELIVERIES.c.webhook_id.in_(active))
        .values(claimed_until=now + timedelta(seconds=_lease_seconds()), attempts=_DELIVERIES.c.attempts + 1)
        .returning(_DELIVERIES.c.attempts)).scalar()
    db.session.commit()
    return claimed


def _send(session: requests.Session, item: Any) -> Outcome:
    """POST the delivery once: a 2xx status within the timeout is success."""
    config = current_app.config
    problem = url_problem(item.url, allow_http=bool(config["WEBHOOK_ALLOW_HTTP"]),
                          allow_private=True, check_addresses=False)  # addresses: checked on connect
    if problem is not None:
        return Outcome(None, f"refused: the URL {problem}")
    body = item.payload.encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               "Idempotency-Key": item.delivery_id, "Cookiegate-Event": item.event_type,
               "Cookiegate-Signature": sign(item.secret, int(time.time()), body)}
    timeout = float(config["WEBHOOK_TIMEOUT_SECONDS"])
    try:
        with session.post(item.url, data=body, headers=headers, timeout=timeout,
                          allow_redirects=False, stream=True) as response:
            if 200 <= response.status_code < 300:
                return Outcome(response.status_code, None)
            excerpt = response.raw.read(200, decode_content=True).decode("utf-8", "replace")
            where = f" to {response.headers.get('Location')}" if response.is_redirect else ""
            return Outcome(response.status_code, f"HTTP {response.status_code}{where}: {excerpt}".strip())
    except (requests.RequestException, OSError, ValueError) as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}")


def _settle(item: Any, attempts: int, outcome: Outcome) -> None:
    """Mark the delivery delivered, or schedule its next attempt; release the claim."""
    config, now = current_app.config, utcnow()
    values: dict[str, Any] = {"claimed_until": None, "last_status": outcome.status,
                              "last_error": outcome.error[:ERROR_LENGTH] if outcome.error else None}
    if outcome.delivered:
        values["delivered_at"] = now
    else:
        delay = retry_delay(attempts, base=float(config["WEBHOOK_RETRY_SECONDS"]),
                            cap=float(config["WEBHOOK_RETRY_MAX_SECONDS"]))
        values["next_attempt_at"] = now + timedelta(seconds=delay)
        current_app.logger.warning("webhook delivery %s failed (attempt %d, retry in %.0fs): %s",
                                   item.delivery_id, attempts, delay, values["last_error"])
    db.session.execute(update(_DELIVERIES).where(
        _DELIVERIES.c.id == item.id, _DELIVERIES.c.delivered_at.is_(None)).values(**values))
    db.session.commit()


def prune_delivered(*, keep_days: float, limit: int = 1000) -> int:
    """Delete up to `limit` deliveries delivered more than keep_days ago: their payloads copy
    consent events, which the ledger keeps anyway. Returns how many were deleted."""
    cutoff = utcnow() - timedelta(days=keep_days)
    old = select(_DELIVERIES.c.id).where(_DELIVERIES.c.delivered_at < cutoff).limit(limit).scalar_subquery()
    deleted = db.session.execute(delete(_DELIVERIES).where(_DELIVERIES.c.id.in_(old))).rowcount
    db.session.commit()
    return deleted


@dataclass(frozen=True)
class PassReport:
    sequenced: int
    queued: int
    delivered: int
    failed: int
    pruned: int = 0
    mailed: int = 0  # outbox mails sent or failed (cookiegate/mail)

    @property
    def busy(self) -> bool:
        """Work was found: the next pass should follow at once."""
        return bool(self.sequenced or self.queued or self.delivered or self.failed or self.pruned or self.mailed)


def run_pass(*, origin_base: str, stop: threading.Event | None = None) -> PassReport:
    """One worker pass: sequence pending events into the logs, fan new log entries out to
    deliveries, send the due deliveries, forget long-delivered ones."""
    sequenced = sequence_all(origin_base=origin_base, until_empty=False)
    queued = fan_out()
    delivered, failed = deliver_due(stop=stop)
    pruned = prune_delivered(keep_days=float(current_app.config["WEBHOOK_KEEP_DELIVERED_DAYS"]))
    from cookiegate.mail.services import mail_pass  # the outbox: due mail sent, old bytes blanked
    return PassReport(sequenced=sequenced, queued=queued, delivered=delivered, failed=failed, pruned=pruned,
                      mailed=mail_pass(stop=stop))
