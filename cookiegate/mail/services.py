"""Composing, queueing and sending mail.

A message is composed with the standard library (`email.message.EmailMessage`: a text part and
an HTML alternative) and queued as one OutboxMail row holding its exact RFC 5322 bytes and their
sha256, in the caller's transaction: the mail exists if and only if what caused it was committed.
After that commit the caller hands the ids to `deliver`, which sends them at once; what fails
stays due and `cookiegate worker` (`mail_pass`) retries it with backoff. Each send is claimed
first (a conditional UPDATE pushing next_attempt_at past a lease), so a worker and a request
never send the same message together.

Backends (MAIL_BACKEND): "smtp" hands the message to MAIL_SERVER with smtplib (STARTTLS with
MAIL_USE_TLS, implicit TLS with MAIL_USE_SSL, login with MAIL_USERNAME); "outbox" sends nothing
and only marks the message sent, for the demo's outbox page to show.

Once sent (or given up) the row's to_address is cleared; the message bytes of sent mail are
blanked after MAIL_KEEP_DAYS, and only the sha256 stays as proof of what went out.

Transactional mail (confirmations, manage links, receipts, password resets) goes through here
and nothing here reads newsletter preferences or the suppression list: a marketing opt-out can
never block it. Marketing mail is the shop mailer's, which asks `newsletter.services.may_mail`.
"""
from __future__ import annotations

import hashlib
import random
import smtplib
import ssl
import threading
from datetime import timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from cookiegate.extensions import db
from cookiegate.mail.models import OutboxMail
from cookiegate.timeutil import utcnow

ERROR_LENGTH = 500
SEND_BATCH = 100
_MAIL = OutboxMail.__table__


def compose_message(*, sender: str, to: str, subject: str, text: str, html: str,
                    reply_to: str | None = None, headers: dict[str, str] | None = None) -> EmailMessage:
    """A multipart/alternative message: the text part first, the HTML part as its alternative."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=(parseaddr(sender)[1].rpartition("@")[2] or "localhost"))
    if reply_to:
        message["Reply-To"] = reply_to
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    for name, value in (headers or {}).items():  # after the parts: set_content drops Content-* headers
        message[name] = value
    return message


def enqueue(*, site_id: int | None, message: EmailMessage, kind: str, to_hmac: str | None = None) -> OutboxMail:
    """Queue a message in the caller's transaction (no commit); its id is set on return."""
    data = message.as_bytes(policy=SMTP)
    now = utcnow()
    mail = OutboxMail(site_id=site_id, to_address=parseaddr(str(message["To"]))[1], to_hmac=to_hmac,
                      subject=str(message["Subject"])[:300], message=data,
                      message_sha256=hashlib.sha256(data).hexdigest(), kind=kind, created_at=now,
                      next_attempt_at=now, attempts=0)
    db.session.add(mail)
    db.session.flush()
    return mail


def deliver(mail_ids: list[int], *, background: bool = False) -> None:
    """Try to send these queued messages now (after the commit that queued them). With
    background=True the sending runs in a thread, so that the caller's answer takes the same
    time whether or not a mail went out (no address enumeration by timing)."""
    if not background:
        for mail_id in mail_ids:
            _send_one(mail_id)
        return
    app = current_app._get_current_object()

    def run() -> None:
        with app.app_context():
            try:
                for mail_id in mail_ids:
                    _send_one(mail_id)
            except Exception:  # the worker sends it later
                app.logger.exception("sending mail in the background failed")
            finally:
                db.session.remove()

    threading.Thread(target=run, name="mail-send", daemon=True).start()


def send_due(*, limit: int = SEND_BATCH, stop: threading.Event | None = None) -> tuple[int, int]:
    """Send up to `limit` due messages, oldest due first. Returns (sent, failed)."""
    due = db.session.execute(
        select(OutboxMail.id).where(OutboxMail.sent_at.is_(None), OutboxMail.to_address.is_not(None),
                                    OutboxMail.next_attempt_at <= utcnow())
        .order_by(OutboxMail.next_attempt_at, OutboxMail.id).limit(limit)).scalars().all()
    db.session.rollback()
    sent = failed = 0
    for mail_id in due:
        if stop is not None and stop.is_set():
            break
        outcome = _send_one(mail_id)
        if outcome is not None:
            sent, failed = sent + outcome, failed + (not outcome)
    return sent, failed


def prune_sent(*, keep_days: float | None = None) -> int:
    """Blank the bytes of messages sent more than MAIL_KEEP_DAYS ago (their sha256 stays)."""
    days = float(current_app.config["MAIL_KEEP_DAYS"] if keep_days is None else keep_days)
    result = db.session.execute(update(_MAIL).where(
        _MAIL.c.sent_at.is_not(None), _MAIL.c.sent_at < utcnow() - timedelta(days=days),
        _MAIL.c.message != b"").values(message=b""))
    db.session.commit()
    return result.rowcount or 0


def mail_pass(*, stop: threading.Event | None = None) -> int:
    """The worker's mail step: send what is due, prune old message bytes. Returns the number
    of messages sent or failed (work done)."""
    sent, failed = send_due(stop=stop)
    prune_sent()
    return sent + failed


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after the attempts-th failure (exponential, capped, jittered)."""
    config = current_app.config
    base, cap = float(config["MAIL_RETRY_SECONDS"]), float(config["MAIL_RETRY_MAX_SECONDS"])
    return min(cap, base * 2 ** min(max(attempts - 1, 0), 40) * random.uniform(1.0, 1.1))


def _lease_seconds() -> float:
    return 3 * float(current_app.config["MAIL_TIMEOUT_SECONDS"]) + 30


def _send_one(mail_id: int) -> bool | None:
    """Claim, send and settle one message; None when it was not ours to send."""
    now = utcnow()
    claimed = db.session.execute(update(_MAIL).where(
        _MAIL.c.id == mail_id, _MAIL.c.sent_at.is_(None), _MAIL.c.to_address.is_not(None),
        _MAIL.c.next_attempt_at <= now)
        .values(next_attempt_at=now + timedelta(seconds=_lease_seconds()), attempts=_MAIL.c.attempts + 1)
        .returning(_MAIL.c.attempts, _MAIL.c.to_address, _MAIL.c.message)).first()
    db.session.commit()
    if claimed is None:
        return None
    error = _transmit(claimed.to_address, claimed.message)
    _settle(mail_id, claimed.attempts, error)
    return error is None


def _transmit(recipient: str, data: bytes) -> str | None:
    """Hand the message to the configured backend; the error text, or None when it was taken."""
    config = current_app.config
    if config["MAIL_BACKEND"] == "outbox":
        return None
    try:
        smtp_send(config, recipient, data)
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def smtp_send(config: Any, recipient: str, data: bytes) -> None:
    """One SMTP session delivering `data` to one recipient."""
    timeout = float(config["MAIL_TIMEOUT_SECONDS"])
    if config["MAIL_USE_SSL"]:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(config["MAIL_SERVER"], int(config["MAIL_PORT"]), timeout=timeout,
                                              context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(config["MAIL_SERVER"], int(config["MAIL_PORT"]), timeout=timeout)
    with smtp:
        if config["MAIL_USE_TLS"] and not config["MAIL_USE_SSL"]:
            smtp.starttls(context=ssl.create_default_context())
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.sendmail(parseaddr(config["MAIL_FROM"])[1], [recipient], data)


def _settle(mail_id: int, attempts: int, error: str | None) -> None:
    """Mark the message sent (address cleared), or schedule its next try, or give it up."""
    values: dict[str, Any] = {"last_error": error[:ERROR_LENGTH] if error else None}
    if error is None:
        values.update(sent_at=utcnow(), to_address=None)
    elif attempts >= int(current_app.config["MAIL_MAX_ATTEMPTS"]):
        values["to_address"] = None  # given up: the address is not kept for nothing
        current_app.logger.error("mail %s given up after %d attempts: %s", mail_id, attempts, error)
    else:
        delay = retry_delay(attempts)
        values["next_attempt_at"] = utcnow() + timedelta(seconds=delay)
        current_app.logger.warning("mail %s failed (attempt %d, retry in %.0fs): %s", mail_id, attempts, delay, error)
    db.session.execute(update(_MAIL).where(_MAIL.c.id == mail_id, _MAIL.c.sent_at.is_(None)).values(**values))
    db.session.commit()
