"""The demo's outbox (MAIL_BACKEND "outbox"): mail is kept, shown at /demo/outbox and its links
can be followed; the page exists only with that backend. And `cookiegate demo` gives both demo
shops their two lists, once."""
from __future__ import annotations

import re

import pytest
import requests

from cookiegate.extensions import db
from tests.conftest import LiveServer, build_test_app
from tests.newsletter.conftest import csrf_token, new_address, subscription_of
from tests.test_migrations import assert_ok, run_cookiegate

LINK_RE = re.compile(r'<a href="(http[^"]+/confirm/[^"]+)">')


@pytest.fixture(scope="module")
def outbox_server(database_url, _instance):
    application = build_test_app(database_url, _instance, MAIL_BACKEND="outbox")
    server = LiveServer(application).start()
    yield server
    server.stop()
    with application.app_context():
        db.engine.dispose()


def test_outbox_keeps_mail_and_its_links_work(outbox_server, shop):
    email = new_address()
    person = requests.Session()
    page = person.get(f"{outbox_server.url}/s/{shop.slug}/newsletter?lang=en")
    sent = person.post(page.url, data={"csrf_token": csrf_token(page.text), "email": email, "lists": "promotions",
                                       "language": "en"})
    assert sent.status_code == 200 and "Check your inbox" in sent.text

    outbox = requests.get(f"{outbox_server.url}/demo/outbox/")
    assert outbox.status_code == 200 and email in outbox.text
    assert outbox.headers["Cache-Control"] == "no-store"
    message_path = re.search(r'href="(/demo/outbox/\d+)"', outbox.text).group(1)
    message = requests.get(outbox_server.url + message_path)
    assert message.status_code == 200 and email in message.text
    confirm_url = LINK_RE.search(message.text).group(1)
    raw = requests.get(outbox_server.url + message_path + ".eml")
    assert raw.headers["Content-Type"].startswith("message/rfc822") and b"multipart/alternative" in raw.content

    page = person.get(confirm_url)
    assert person.post(confirm_url, data={"csrf_token": csrf_token(page.text)}).status_code == 200
    subscription = subscription_of(shop, email, "promotions")
    assert subscription.status == "subscribed"
    from cookiegate.mail.models import OutboxMail

    mail = db.session.execute(db.select(OutboxMail).filter_by(
        message_sha256=subscription.confirmation_mail_sha256)).scalar_one()
    assert mail.sent_at is not None and mail.to_address is None and mail.message  # kept for the page


def test_no_outbox_page_with_real_smtp(live_server, app):
    assert app.config["MAIL_BACKEND"] == "smtp"
    assert requests.get(f"{live_server.url}/demo/outbox/").status_code == 404


def test_demo_command_gives_both_shops_two_lists_once(tmp_path):
    database = f"sqlite:///{tmp_path / 'demo.db'}"
    for _ in range(2):  # a second run keeps what is there
        assert_ok(run_cookiegate(["demo", "--no-serve"], database_url=database, instance=tmp_path))
    for slug, names in (("petite-vie", ("Nieuwsbrief", "Aanbiedingen")), ("les-fleurs", ("Nieuwsbrief", "Aanbiedingen"))):
        result = run_cookiegate(["newsletter", "lists", "--site", slug], database_url=database, instance=tmp_path)
        assert_ok(result)
        lines = result.stdout.splitlines()
        assert [line.split("\t")[:2] for line in lines] == [["newsletter", names[0]], ["promotions", names[1]]]
