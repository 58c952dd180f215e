""""Lost your link?" answers the same for known and unknown addresses; wiping a subscriber keeps
only a suppression entry, and a later sign-up needs a fresh double opt-in."""
from __future__ import annotations

import re
import time

import requests

from cookiegate.extensions import db
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.log import ensure_sequenced
from cookiegate.ledger.models import SubjectLink
from cookiegate.ledger.verify import verify_log
from cookiegate.mail.models import OutboxMail
from cookiegate.newsletter.cli import newsletter_cli
from cookiegate.newsletter.models import Subscriber, Subscription, Suppression
from cookiegate.newsletter.services import may_mail, subscribe
from tests.newsletter.conftest import (CONFIRM_RE, MANAGE_RE, confirmed_subscriber, csrf_token, fresh, link_in,
                                       new_address, parsed, site_events, subscription_of)

CSRF_VALUE_RE = re.compile(r'(name="csrf_token"[^>]*value=")[^"]+(")')


def ask_for_link(live_server, site, email: str) -> requests.Response:
    person = requests.Session()
    page = person.get(f"{live_server.url}/s/{site.slug}/newsletter/lost?lang=en")
    return person.post(page.url, data={"csrf_token": csrf_token(page.text), "email": email}, allow_redirects=False)


def without_csrf(html: str) -> str:
    return CSRF_VALUE_RE.sub(r"\1-\2", html)


def test_lost_link_answers_the_same_for_known_and_unknown_addresses(live_server, smtp, shop):
    known, unknown = new_address(), new_address()
    confirmed_subscriber(shop, known, ("newsletter",))
    answers = [ask_for_link(live_server, shop, address) for address in (known, unknown)]
    assert [a.status_code for a in answers] == [200, 200]
    assert without_csrf(answers[0].text) == without_csrf(answers[1].text)
    assert "If this address is on one of our lists" in answers[0].text
    assert {name: answers[0].headers.get(name) for name in ("Content-Type", "Cache-Control", "Set-Cookie")} \
        .keys() == {name: answers[1].headers.get(name) for name in ("Content-Type", "Cache-Control", "Set-Cookie")}.keys()

    (mail,) = smtp.wait_for(known)
    manage = link_in(parsed(mail), MANAGE_RE)
    time.sleep(0.3)  # the unknown address gets nothing, not even late
    assert smtp.to(unknown) == []
    page = requests.get(manage)
    assert page.status_code == 200 and "Your mail preferences" in page.text and known not in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["X-Robots-Tag"] == "noindex"


def test_lost_link_is_rate_limited_per_address_alike(live_server, smtp, shop, app, monkeypatch):
    monkeypatch.setitem(app.config, "NEWSLETTER_RATE_LIMIT", "100 per minute")  # the per-address limit here
    known, unknown = new_address(), new_address()
    confirmed_subscriber(shop, known, ("newsletter",))
    statuses = {address: [ask_for_link(live_server, shop, address).status_code for _ in range(6)]
                for address in (known, unknown)}
    assert statuses[known] == statuses[unknown] == [200] * 5 + [429]
    smtp.wait_for(known, 5)


def test_wipe_keeps_only_a_suppression_entry_and_needs_a_fresh_opt_in(live_server, smtp, shop, app):
    email = new_address()
    email_hmac = current_keys().email_hmac(email)
    confirmed_subscriber(shop, email, ("newsletter", "promotions"))
    subscriber = fresh(Subscriber, site_id=shop.id, email_hmac=email_hmac)
    events = site_events(shop)
    assert len(events) == 2 and all(e.personal for e in events)
    assert may_mail(site=shop, list_key="newsletter", email_hmacs=[email_hmac]) == {email_hmac: True}

    result = app.test_cli_runner().invoke(newsletter_cli, ["wipe", "--site", shop.slug, email.upper()])
    assert result.exit_code == 0 and "2 subscriptions" in result.output and "suppressed" in result.output
    assert fresh(Subscriber, id=subscriber.id) is None
    assert db.session.execute(db.select(Subscription).filter_by(subscriber_id=subscriber.id)).first() is None
    assert fresh(Suppression, site_id=shop.id, email_hmac=email_hmac).reason == "wipe"
    after = site_events(shop)
    assert [e.row.event_id for e in after] == [e.row.event_id for e in events]  # the log is whole
    assert all(e.personal is None for e in after)
    assert db.session.execute(db.select(SubjectLink).filter_by(consent_id=subscriber.consent_id)).first() is None
    mails = db.session.execute(db.select(OutboxMail).filter_by(site_id=shop.id)).scalars().all()
    assert mails and all(m.message == b"" and m.to_address is None for m in mails)
    ensure_sequenced(shop)
    assert verify_log(site=shop, keys=current_keys()).ok
    assert may_mail(site=shop, list_key="newsletter", email_hmacs=[email_hmac]) == {email_hmac: False}

    # Signing up again: only the confirmation mail goes out, and nothing may be mailed before it.
    person = requests.Session()
    page = person.get(f"{live_server.url}/s/{shop.slug}/newsletter?lang=en")
    person.post(page.url, data={"csrf_token": csrf_token(page.text), "email": email, "lists": "newsletter",
                                "language": "en"})
    (mail,) = smtp.wait_for(email)
    assert "confirm" in mail.content.decode().lower() and len(smtp.to(email)) == 1
    assert subscription_of(shop, email, "newsletter").status == "pending"
    assert may_mail(site=shop, list_key="newsletter", email_hmacs=[email_hmac]) == {email_hmac: False}
    url = link_in(parsed(mail), CONFIRM_RE)
    person.post(url, data={"csrf_token": csrf_token(person.get(url).text)})
    assert may_mail(site=shop, list_key="newsletter", email_hmacs=[email_hmac]) == {email_hmac: True}
    assert fresh(Suppression, site_id=shop.id, email_hmac=email_hmac) is None


def test_wiping_an_unknown_address_suppresses_it_and_a_subscribe_while_suppressed(app_ctx, smtp, shop):
    email = new_address()
    email_hmac = current_keys().email_hmac(email)
    result = app_ctx.test_cli_runner().invoke(newsletter_cli, ["wipe", "--site", shop.slug, email])
    assert result.exit_code == 0 and "not subscribed" in result.output
    subscription = subscribe(site=shop, email=email, list_key="promotions", language="nl", source="import")
    assert subscription.status == "pending" and len(smtp.wait_for(email)) == 1
    assert may_mail(site=shop, list_key="promotions", email_hmacs=[email_hmac]) == {email_hmac: False}
    # Even an old confirmed subscription does not make a suppressed address mailable.
    other = new_address()
    confirmed_subscriber(shop, other, ("promotions",))
    other_hmac = current_keys().email_hmac(other)
    db.session.add(Suppression(site_id=shop.id, email_hmac=other_hmac, reason="complaint",
                               created_at=subscription.requested_at))
    db.session.commit()
    assert may_mail(site=shop, list_key="promotions", email_hmacs=[other_hmac, other_hmac, "0" * 64]) == {
        other_hmac: False, "0" * 64: False}
    assert app_ctx.test_cli_runner().invoke(newsletter_cli, ["wipe", "--site", "no-such-site", email]).exit_code != 0
    assert app_ctx.test_cli_runner().invoke(newsletter_cli, ["wipe", "--site", shop.slug, "nonsense"]).exit_code != 0


def test_may_mail_is_per_list_and_per_site(app_ctx, shop):
    from tests.factories import make_site

    email = new_address()
    email_hmac = current_keys().email_hmac(email)
    confirmed_subscriber(shop, email, ("newsletter",))
    other = make_site()
    from cookiegate.newsletter.lists import ensure_list
    from cookiegate.sites.demo import DEMO_LISTS

    ensure_list(site=other, key="newsletter", texts=DEMO_LISTS["les-fleurs"]["newsletter"])
    assert may_mail(site=shop, list_key="newsletter", email_hmacs=[email_hmac]) == {email_hmac: True}
    assert may_mail(site=shop, list_key="promotions", email_hmacs=[email_hmac]) == {email_hmac: False}
    assert may_mail(site=other, list_key="newsletter", email_hmacs=[email_hmac]) == {email_hmac: False}
    many = [f"{n:064x}" for n in range(100_000)] + [email_hmac]
    started = time.perf_counter()
    answer = may_mail(site=shop, list_key="newsletter", email_hmacs=many)
    assert time.perf_counter() - started < 5  # the benchmark's target is 1 s; a loose bound here
    assert sum(answer.values()) == 1 and answer[email_hmac] is True and len(answer) == 100_001


def test_lists_command(app_ctx, shop):
    confirmed_subscriber(shop, new_address(), ("newsletter",))
    subscribe(site=shop, email=new_address(), list_key="newsletter", language="en", source="api", send=False)
    result = app_ctx.test_cli_runner().invoke(newsletter_cli, ["lists", "--site", shop.slug])
    assert result.exit_code == 0
    assert result.output.splitlines() == ["newsletter\tNieuwsbrief\tsubscribed 1\tpending 1\tunsubscribed 0",
                                          "promotions\tAanbiedingen\tsubscribed 0\tpending 0\tunsubscribed 0"]
