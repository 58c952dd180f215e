"""Double opt-in end to end: the hosted form over real HTTP, the confirmation mail received by a
real SMTP server, link scanners (GET, HEAD) changing nothing, the POST confirming, and the opt-in
proof in the ledger."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import requests
from flask_babel import force_locale, gettext

from cookiegate.extensions import db
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.merkle import leaf_hash
from cookiegate.ledger.record import personal_commitment
from cookiegate.ledger.models import EventPersonal
from cookiegate.canonical import canonical_json
from cookiegate.newsletter.lists import list_by_key, shown_text, text_sha256
from cookiegate.newsletter.models import Subscription
from cookiegate.mail.models import OutboxMail
from cookiegate.mail.services import prune_sent, send_due
from cookiegate.newsletter.services import may_mail, subscribe
from cookiegate.timeutil import utcnow
from cookiegate.webhooks.delivery import run_pass
from tests.conftest import free_port
from tests.factories import make_site
from tests.newsletter.conftest import (BROWSER_UA, CONFIRM_RE, MANAGE_RE, csrf_token, fresh, link_in, new_address,
                                       parsed, site_events, subscription_of, text_part)


def sign_up(live_server, site, email: str, lists=("newsletter",), language="en", page_lang="en") -> requests.Response:
    browser = requests.Session()
    browser.headers["User-Agent"] = BROWSER_UA
    page = browser.get(f"{live_server.url}/s/{site.slug}/newsletter?lang={page_lang}")
    assert page.status_code == 200
    for key in lists:
        assert f'value="{key}"' in page.text
    assert " checked" not in page.text  # no list is ticked beforehand
    return browser.post(f"{live_server.url}/s/{site.slug}/newsletter?lang={page_lang}", allow_redirects=False, data={
        "csrf_token": csrf_token(page.text), "email": email, "lists": list(lists), "language": language,
        "shown": page_lang})


def test_double_opt_in_over_smtp_and_http(live_server, smtp, shop):
    email = new_address()
    answer = sign_up(live_server, shop, email)
    assert answer.status_code == 303 and answer.headers["Location"].endswith(f"/s/{shop.slug}/newsletter/sent")

    (envelope,) = smtp.wait_for(email)
    mail = parsed(envelope)
    assert mail["To"] == email and shop.name in mail["From"] and mail["Content-Language"] == "en"
    assert mail.get_content_type() == "multipart/alternative"
    assert mail.get_body(("html",)) is not None and "Confirm my subscription" in mail.get_body(("html",)).get_content()
    assert "Please confirm your subscription" in mail["Subject"]
    subscription = subscription_of(shop, email, "newsletter")
    assert subscription.status == "pending" and subscription.source == "hosted_form"
    # The proof's hash is of exactly the bytes the SMTP server received.
    assert subscription.confirmation_mail_sha256 == hashlib.sha256(envelope.content).hexdigest()
    newsletter = list_by_key(shop, "newsletter")
    assert subscription.text_sha256 == text_sha256(shown_text(newsletter, "en"))
    assert newsletter.texts["en"]["signup"] in text_part(mail)

    confirm_url = link_in(mail, CONFIRM_RE)
    # Link scanners: HEAD and GET, without cookies, change nothing.
    assert requests.head(confirm_url, allow_redirects=False).status_code == 200
    scanned = requests.get(confirm_url, allow_redirects=False)
    assert scanned.status_code == 200 and "Yes, subscribe me" in scanned.text
    assert scanned.headers["X-Robots-Tag"] == "noindex" and scanned.headers["Referrer-Policy"] == "no-referrer"
    assert scanned.headers["Cache-Control"] == "no-store"
    assert subscription_of(shop, email, "newsletter").status == "pending"
    assert site_events(shop) == []

    person = requests.Session()
    person.headers["User-Agent"] = BROWSER_UA
    page = person.get(confirm_url)
    no_token = person.post(confirm_url, data={}, allow_redirects=False)
    assert no_token.status_code == 400 and subscription_of(shop, email, "newsletter").status == "pending"
    done = person.post(confirm_url, data={"csrf_token": csrf_token(page.text)}, allow_redirects=False)
    assert done.status_code == 200 and "You are subscribed" in done.text

    subscription = subscription_of(shop, email, "newsletter")
    assert subscription.status == "subscribed" and subscription.confirmed_at is not None
    (event,) = site_events(shop)
    assert event.row.kind == "subscribed" and event.row.event_id == subscription.confirm_event_id
    assert event.row.consent_id == subscription_subscriber_consent_id(subscription)
    leaf = event.leaf
    assert leaf["decisions"] == {"newsletter:newsletter": {"granted": True, "basis": "consent"}}
    assert leaf["interaction"] == {"channel": "email_link", "layer": None, "action": "confirm"}
    assert leaf["context"] == {"origin": live_server.url, "path": f"/s/{shop.slug}/confirm"}
    proof = leaf["newsletter"]
    assert proof["list"] == "newsletter" and proof["method"] == "double_opt_in" and proof["source"] == "hosted_form"
    assert proof["text"] == shown_text(newsletter, "en")
    assert proof["text_sha256"] == subscription.text_sha256 == hashlib.sha256(canonical_json(proof["text"])).hexdigest()
    assert proof["confirmation_mail_sha256"] == hashlib.sha256(envelope.content).hexdigest()
    assert proof["requested_at"] < proof["confirmation_sent_at"] < proof["confirmed_at"] == leaf["time"]
    assert event.personal == {"ip_prefix": "127.0.0.0", "ua_family": "Chrome 120", "account_id": None,
                              "email_hmac": current_keys().email_hmac(email)}
    personal = db.session.get(EventPersonal, event.row.id)
    assert leaf["personal"]["commitment"] == personal_commitment(personal.salt, personal.data)
    assert leaf_hash(event.row.leaf.encode()) == event.row.leaf_hash
    assert may_mail(site=shop, list_key="newsletter", email_hmacs=[current_keys().email_hmac(email)]) == {
        current_keys().email_hmac(email): True}

    again = person.post(confirm_url, data={"csrf_token": csrf_token(page.text)}, allow_redirects=False)
    assert again.status_code == 200 and "You are subscribed" in again.text
    assert len(site_events(shop)) == 1  # a repeat records nothing


def subscription_subscriber_consent_id(subscription: Subscription) -> str:
    from cookiegate.newsletter.models import Subscriber

    return db.session.get(Subscriber, subscription.subscriber_id).consent_id


def test_one_mail_confirms_several_lists_in_dutch(live_server, smtp, shop):
    email = new_address()
    assert sign_up(live_server, shop, email, lists=("newsletter", "promotions"), language="nl",
                   page_lang="nl").status_code == 303
    (envelope,) = smtp.wait_for(email)
    mail = parsed(envelope)
    with force_locale("nl"):  # the Dutch catalogue's words (English until the entry is translated)
        assert mail["Subject"] == gettext("Please confirm your subscription to %(site)s", site=shop.name)
    assert mail["Content-Language"] == "nl"
    assert "Nieuwsbrief" in text_part(mail) and "Aanbiedingen" in text_part(mail)
    person = requests.Session()
    url = link_in(mail, CONFIRM_RE)
    page = person.get(url)
    assert '<html lang="nl"' in page.text
    assert person.post(url, data={"csrf_token": csrf_token(page.text)}).status_code == 200
    assert {e.leaf["newsletter"]["list"] for e in site_events(shop, "subscribed")} == {"newsletter", "promotions"}


def test_invalid_sign_ups_are_refused_with_reasons(live_server, smtp, shop):
    browser = requests.Session()
    page = browser.get(f"{live_server.url}/s/{shop.slug}/newsletter?lang=en")
    token = csrf_token(page.text)
    addresses = [new_address() for _ in range(4)]
    no_list = browser.post(page.url, data={"csrf_token": token, "email": addresses[0], "language": "en"})
    assert no_list.status_code == 422 and "Choose at least one list." in no_list.text
    bad_address = browser.post(page.url, data={"csrf_token": token, "email": "not an address", "lists": "newsletter",
                                               "language": "en"})
    assert bad_address.status_code == 422 and 'aria-invalid="true"' in bad_address.text
    other_list = browser.post(page.url, data={"csrf_token": token, "email": addresses[1], "lists": "secret",
                                              "language": "en"})
    assert other_list.status_code == 422
    bad_language = browser.post(page.url, data={"csrf_token": token, "email": addresses[2], "lists": "newsletter",
                                                "language": "de"})
    assert bad_language.status_code == 422
    no_csrf = requests.post(page.url, data={"email": addresses[3], "lists": "newsletter", "language": "en"})
    assert no_csrf.status_code == 400
    for address in addresses:
        assert subscription_of(shop, address, "newsletter") is None and smtp.to(address) == []


def test_forged_altered_or_foreign_confirmation_links_change_nothing(live_server, smtp, shop, app_ctx):
    other = make_site()
    email = new_address()
    sign_up(live_server, shop, email)
    url = link_in(parsed(smtp.wait_for(email)[0]), CONFIRM_RE)
    path, query = url.split("?")
    token = path.rsplit("/", 1)[1]
    sub_id, secret = token.split(".", 1)
    person = requests.Session()
    good_page = person.get(url)
    csrf = csrf_token(good_page.text)
    forged = [f"{sub_id}.{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}", f"{int(sub_id) + 1}.{secret}",
              f"{sub_id}", "x" * 200, f"{sub_id}.{secret}.extra"]
    for bad in forged:
        bad_url = f"{path.rsplit('/', 1)[0]}/{bad}?{query}"
        page = person.get(bad_url)
        assert page.status_code == 404 and "This link is not valid" in page.text
        assert person.post(bad_url, data={"csrf_token": csrf}).status_code == 404
    foreign = url.replace(f"/s/{shop.slug}/", f"/s/{other.slug}/")
    # Sessions are per site: the shop's CSRF token is refused there, and the other site's own
    # token (from a page of that site) gets a 404 for the link.
    assert person.get(foreign).status_code == 404 and person.post(foreign, data={"csrf_token": csrf}).status_code == 400
    other_csrf = csrf_token(person.get(f"{live_server.url}/s/{other.slug}/preferences").text)
    assert person.post(foreign, data={"csrf_token": other_csrf}).status_code == 404
    assert subscription_of(shop, email, "newsletter").status == "pending" and site_events(shop) == []


def test_expired_confirmation_link_confirms_nothing(live_server, smtp, shop, app_ctx):
    email = new_address()
    sign_up(live_server, shop, email)
    url = link_in(parsed(smtp.wait_for(email)[0]), CONFIRM_RE)
    subscription = subscription_of(shop, email, "newsletter")
    subscription.requested_at -= timedelta(days=15)
    db.session.commit()
    person = requests.Session()
    page = person.get(url)
    assert page.status_code == 200 and "This link has expired" in page.text and "csrf_token" not in page.text
    token = csrf_token(person.get(f"{live_server.url}/s/{shop.slug}/newsletter").text)
    assert "This link has expired" in person.post(url, data={"csrf_token": token}).text
    assert subscription_of(shop, email, "newsletter").status == "pending" and site_events(shop) == []


def test_signing_up_again_when_subscribed_mails_the_manage_link(live_server, smtp, shop):
    email = new_address()
    sign_up(live_server, shop, email)
    url = link_in(parsed(smtp.wait_for(email)[0]), CONFIRM_RE)
    person = requests.Session()
    person.post(url, data={"csrf_token": csrf_token(person.get(url).text)})
    assert sign_up(live_server, shop, email).status_code == 303  # the same answer as the first time
    second = parsed(smtp.wait_for(email, 2)[1])
    assert "preferences" in second["Subject"] and link_in(second, MANAGE_RE)
    assert subscription_of(shop, email, "newsletter").status == "subscribed"


def test_mail_failing_at_once_stays_due_and_the_worker_sends_it(app_ctx, smtp, shop, monkeypatch):
    listening = app_ctx.config["MAIL_PORT"]
    monkeypatch.setitem(app_ctx.config, "MAIL_PORT", free_port())  # nobody listens there
    email = new_address()
    subscription = subscribe(site=shop, email=email, list_key="newsletter", language="nl", source="checkout")
    assert subscription.status == "pending" and subscription.source == "checkout"
    mail = fresh(OutboxMail, message_sha256=subscription.confirmation_mail_sha256)
    assert mail.sent_at is None and mail.to_address == email and mail.attempts == 1
    assert mail.last_error and mail.next_attempt_at > utcnow() and mail.kind == "double_opt_in"

    monkeypatch.setitem(app_ctx.config, "MAIL_PORT", listening)
    run_pass(origin_base="cookiegate")  # not due yet: nothing is sent
    assert smtp.to(email) == []
    mail.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert run_pass(origin_base="cookiegate").mailed == 1
    (envelope,) = smtp.wait_for(email)
    assert hashlib.sha256(envelope.content).hexdigest() == mail.message_sha256
    mail = fresh(OutboxMail, id=mail.id)
    assert mail.sent_at is not None and mail.to_address is None and mail.last_error is None and mail.attempts == 2
    assert run_pass(origin_base="cookiegate").mailed == 0  # sent once only

    mail.sent_at = utcnow() - timedelta(days=31)
    db.session.commit()
    assert prune_sent() >= 1
    mail = fresh(OutboxMail, id=mail.id)
    assert mail.message == b"" and mail.message_sha256 == subscription.confirmation_mail_sha256


def test_mail_is_given_up_after_the_last_attempt(app_ctx, smtp, shop, monkeypatch):
    monkeypatch.setitem(app_ctx.config, "MAIL_PORT", free_port())
    monkeypatch.setitem(app_ctx.config, "MAIL_MAX_ATTEMPTS", 1)
    subscription = subscribe(site=shop, email=new_address(), list_key="promotions", language="en", source="api")
    mail = fresh(OutboxMail, message_sha256=subscription.confirmation_mail_sha256)
    assert mail.sent_at is None and mail.to_address is None and mail.last_error
    assert send_due() == (0, 0)  # nothing left to try
