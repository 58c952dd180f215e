"""Newsletter fixtures: a real SMTP server (aiosmtpd on 127.0.0.1), a shop with two lists,
helpers to read mails and pages, and a subscriber confirmed the way a person confirms."""
from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update

from cookiegate.canonical import loads
from cookiegate.extensions import db, limiter
from cookiegate.ledger.log import sequence_all
from cookiegate.ledger.models import ConsentEvent, EventPersonal
from cookiegate.ledger.record import Context
from cookiegate.mail.models import OutboxMail
from cookiegate.newsletter.lists import ensure_list
from cookiegate.newsletter.models import Subscriber, Subscription
from cookiegate.newsletter.services import confirm, subscribe_lists
from cookiegate.sites.demo import DEMO_LISTS
from tests.conftest import free_port
from tests.factories import make_site

CSRF_RE = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*\bvalue="([^"]+)"')
CONFIRM_RE = re.compile(r"https?://\S+/confirm/[A-Za-z0-9._-]+(?:\?lang=\w+)?")
MANAGE_RE = re.compile(r"https?://\S+/u/[A-Za-z0-9._-]+/preferences(?:\?lang=\w+)?")
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"


class Inbox:
    """What the SMTP server received, in order."""

    def __init__(self) -> None:
        self.received: list[Any] = []
        self.changed = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        with self.changed:
            self.received.append(envelope)
            self.changed.notify_all()
        return "250 Message accepted"

    def to(self, address: str) -> list[Any]:
        with self.changed:
            return [e for e in self.received if address in e.rcpt_tos]

    def wait_for(self, address: str, count: int = 1, timeout: float = 10.0) -> list[Any]:
        """The envelopes for `address` once there are `count` of them."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(found := [e for e in self.received if address in e.rcpt_tos]) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(found)} of {count} mails to {address} arrived"
                self.changed.wait(left)
        return found


@pytest.fixture(scope="session")
def _smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def smtp(app, _smtp_server, monkeypatch):
    """The app sends over SMTP to the test's real server; the inbox it fills."""
    controller, inbox = _smtp_server
    for key, value in {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": controller.port,
                       "MAIL_USE_TLS": False, "MAIL_USE_SSL": False, "MAIL_USERNAME": None}.items():
        monkeypatch.setitem(app.config, key, value)
    return inbox


@pytest.fixture(autouse=True)
def _fresh_limits_and_no_mail_left(request):
    """Rate limits start afresh; afterwards, mail a test left unsent is given up and the events it
    recorded are sequenced, so that no other test's worker pass finds work of ours."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        limiter.reset()
    yield
    with app.app_context():
        db.session.execute(update(OutboxMail).where(OutboxMail.sent_at.is_(None)).values(to_address=None))
        db.session.commit()
        sequence_all(origin_base=app.config["LEDGER_ORIGIN"])
        db.session.remove()


@pytest.fixture
def shop(app_ctx):
    """A site with the demo shops' two lists (newsletter, promotions) in nl and en."""
    site = make_site()
    for key, texts in DEMO_LISTS["petite-vie"].items():
        ensure_list(site=site, key=key, texts=texts)
    return site


def new_address() -> str:
    return f"klant-{uuid.uuid4().hex[:10]}@example.org"


def parsed(envelope_or_bytes: Any) -> EmailMessage:
    data = getattr(envelope_or_bytes, "content", envelope_or_bytes)
    return message_from_bytes(data, policy=default)  # type: ignore[return-value]


def text_part(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def link_in(message: EmailMessage, pattern: re.Pattern[str]) -> str:
    found = pattern.findall(text_part(message))
    assert len(found) == 1, f"expected one link, found {found}"
    return found[0]


def csrf_token(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def forget_loaded() -> None:
    """Read afresh: end the test's transaction and drop what its session loaded (a rollback
    without a transaction expires nothing)."""
    db.session.rollback()
    db.session.expire_all()


def fresh(model, **where) -> Any:
    """A row as the database holds it now (the live server writes from other sessions)."""
    forget_loaded()
    return db.session.execute(db.select(model).filter_by(**where)).scalar()


def subscription_of(site, email: str, list_key: str) -> Subscription | None:
    from cookiegate.ledger.keys import current_keys
    from cookiegate.newsletter.models import MailingList

    forget_loaded()
    return db.session.execute(
        db.select(Subscription).join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .join(MailingList, MailingList.id == Subscription.list_id)
        .where(Subscriber.site_id == site.id, Subscriber.email_hmac == current_keys().email_hmac(email),
               MailingList.key == list_key)).scalar()


@dataclass(frozen=True)
class Event:
    row: ConsentEvent
    leaf: dict[str, Any]
    personal: dict[str, Any] | None


def site_events(site, kind: str | None = None) -> list[Event]:
    forget_loaded()
    query = db.select(ConsentEvent).where(ConsentEvent.site_id == site.id).order_by(ConsentEvent.id)
    if kind:
        query = query.where(ConsentEvent.kind == kind)
    found = []
    for row in db.session.execute(query).scalars():
        personal = db.session.get(EventPersonal, row.id)
        found.append(Event(row=row, leaf=loads(row.leaf), personal=personal.data if personal else None))
    return found


def confirmed_subscriber(site, email: str, lists: tuple[str, ...] = ("newsletter",), language: str = "nl",
                         base_url: str = "http://localhost") -> list[Subscription]:
    """Subscribe and confirm as a person would, without HTTP: the confirmation link is read
    from the queued mail's own bytes."""
    subscribed = subscribe_lists(site=site, email=email, list_keys=list(lists), language=language,
                                 source="hosted_form", send=False, base_url=base_url)
    mail = db.session.execute(db.select(OutboxMail).where(
        OutboxMail.message_sha256 == subscribed[0].confirmation_mail_sha256)).scalar_one()
    token = link_in(parsed(mail.message), CONFIRM_RE).split("/confirm/")[1].split("?")[0]
    confirm(site=site, token=token, context=Context(ip="198.51.100.23", user_agent=BROWSER_UA))
    return [subscription_of(site, email, key) for key in lists]
