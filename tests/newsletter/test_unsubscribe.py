"""The unsubscribe URL (RFC 8058): one-click POSTs as mailbox providers send them, the page and
its button, scanners' GET and HEAD, and tokens that are forged, altered or meant for another
list or site."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import requests

from cookiegate.ledger.keys import current_keys
from cookiegate.newsletter.services import list_unsubscribe_headers, may_mail, unsubscribe, unsubscribe_url
from cookiegate.newsletter.tokens import manage_token
from cookiegate.newsletter.wipe import wipe_subscriber
from tests.factories import make_site
from tests.newsletter.conftest import (confirmed_subscriber, csrf_token, fresh, new_address, site_events,
                                       subscription_of)
from cookiegate.newsletter.models import Subscriber

ONE_CLICK = "List-Unsubscribe=One-Click"
URL_ATTR_RE = re.compile(r"""\b(?:src|href|action|srcset|poster|formaction|data)\s*=\s*["']([^"']*)["']""", re.I)


@pytest.fixture
def subscribed(live_server, shop):
    """A subscriber confirmed on both lists, and the newsletter list's unsubscribe URL."""
    email = new_address()
    subscriptions = confirmed_subscriber(shop, email, ("newsletter", "promotions"), base_url=live_server.url)
    return email, unsubscribe_url(site=shop, subscription=subscriptions[0], base_url=live_server.url)


def statuses(site, email: str) -> dict[str, str]:
    return {key: subscription_of(site, email, key).status for key in ("newsletter", "promotions")}


def one_click_events(site) -> list:
    return [e for e in site_events(site, "unsubscribed")]


def test_gmail_style_one_click_unsubscribes_at_once_and_idempotently(shop, subscribed):
    email, url = subscribed
    assert urlsplit(url).path.startswith(f"/s/{shop.slug}/u/")
    for attempt in range(2):
        answer = requests.post(url, data=ONE_CLICK, allow_redirects=False, headers={
            "Content-Type": "application/x-www-form-urlencoded", "User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"})
        assert answer.status_code == 200 and "Location" not in answer.headers, attempt
        assert "Set-Cookie" not in answer.headers
        assert "Je bent afgemeld" in answer.text
        assert statuses(shop, email) == {"newsletter": "unsubscribed", "promotions": "subscribed"}
    (event,) = one_click_events(shop)
    subscription = subscription_of(shop, email, "newsletter")
    assert subscription.unsubscribe_method == "one_click" and subscription.unsubscribe_event_id == event.row.event_id
    assert event.leaf["decisions"] == {"newsletter:newsletter": {"granted": False, "basis": "consent"}}
    assert event.leaf["interaction"]["action"] == "one_click" and event.leaf["actor"] == {
        "type": "visitor", "source": "mail_client"}
    assert event.leaf["newsletter"]["method"] == "one_click"
    assert event.leaf["newsletter"]["opt_in_event"] == subscription.confirm_event_id
    assert event.personal["email_hmac"] == current_keys().email_hmac(email)
    assert may_mail(site=shop, list_key="newsletter", email_hmacs=[current_keys().email_hmac(email)]) == {
        current_keys().email_hmac(email): False}


def test_multipart_one_click_unsubscribes(shop, subscribed):
    email, url = subscribed
    for _ in range(2):
        answer = requests.post(url, files={"List-Unsubscribe": (None, "One-Click")}, allow_redirects=False)
        assert answer.status_code == 200 and "Location" not in answer.headers
    assert statuses(shop, email)["newsletter"] == "unsubscribed" and len(one_click_events(shop)) == 1


def test_scanners_get_and_head_change_nothing_and_the_page_is_private(live_server, shop, subscribed):
    email, url = subscribed
    assert requests.head(url, allow_redirects=False).status_code == 200
    page = requests.get(url, allow_redirects=False)
    assert page.status_code == 200 and "Afmelden" in page.text
    assert statuses(shop, email) == {"newsletter": "subscribed", "promotions": "subscribed"}
    assert one_click_events(shop) == []
    for response in (page, requests.get(url.replace("/u/", "/u/x") + "")):
        assert response.headers["X-Robots-Tag"] == "noindex"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    for target in URL_ATTR_RE.findall(page.text):  # nothing from elsewhere
        parts = urlsplit(target)
        assert not parts.scheme and not parts.netloc, target


def test_the_pages_button_unsubscribes_with_its_csrf_token(shop, subscribed):
    email, url = subscribed
    person = requests.Session()
    page = person.get(url)
    refused = person.post(url, data={"csrf_token": "forged"}, allow_redirects=False)
    assert refused.status_code == 400 and statuses(shop, email)["newsletter"] == "subscribed"
    done = person.post(url, data={"csrf_token": csrf_token(page.text)}, allow_redirects=False)
    assert done.status_code == 200 and "Je bent afgemeld" in done.text
    assert subscription_of(shop, email, "newsletter").unsubscribe_method == "page"
    again = person.get(url)
    assert again.status_code == 200 and "csrf_token" not in again.text  # nothing left to press
    (event,) = one_click_events(shop)
    assert event.leaf["interaction"]["action"] == "unsubscribe" and event.leaf["newsletter"]["method"] == "page"


def test_other_bodies_do_nothing(shop, subscribed):
    email, url = subscribed
    for body in ("List-Unsubscribe=one-click", "Unsubscribe=One-Click", "", "List-Unsubscribe=One-Click-Now"):
        answer = requests.post(url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"},
                               allow_redirects=False)
        assert answer.status_code == 400, body
    assert statuses(shop, email)["newsletter"] == "subscribed"


def altered(url: str) -> list[str]:
    head, token = url.rsplit("/", 1)
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    payload, _, signature = token.rpartition(".")
    return [f"{head}/{t}" for t in (flipped, payload + ".", "." + signature, token[5:], "x" * 301, "nothing")]


def test_forged_or_altered_tokens_get_an_error_page_and_change_nothing(shop, subscribed):
    email, url = subscribed
    for bad in altered(url):
        page = requests.get(bad)
        assert page.status_code == 404 and "Deze link is niet geldig" in page.text, bad
        assert requests.post(bad, data=ONE_CLICK, headers={
            "Content-Type": "application/x-www-form-urlencoded"}).status_code == 404
        assert requests.get(bad + "/preferences").status_code == 404
    assert statuses(shop, email) == {"newsletter": "subscribed", "promotions": "subscribed"}


def test_a_token_never_reaches_another_list_site_or_subscriber(live_server, shop, subscribed, app_ctx):
    email, url = subscribed
    other_site = make_site()
    moved = url.replace(f"/s/{shop.slug}/", f"/s/{other_site.slug}/")
    assert requests.post(moved, data=ONE_CLICK, headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 404
    assert requests.get(moved + "/preferences").status_code == 404
    neighbour = new_address()
    confirmed_subscriber(shop, neighbour, ("newsletter",))
    assert requests.post(url, data=ONE_CLICK, headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 200
    assert statuses(shop, email) == {"newsletter": "unsubscribed", "promotions": "subscribed"}
    assert subscription_of(shop, neighbour, "newsletter").status == "subscribed"
    # A manage link opens the preference centre but is no one-click credential.
    subscriber = fresh(Subscriber, site_id=shop.id, email_hmac=current_keys().email_hmac(email))
    manage = f"{live_server.url}/s/{shop.slug}/u/{manage_token(site_id=shop.id, subscriber_id=subscriber.id, consent_id=subscriber.consent_id)}"
    assert requests.post(manage, data=ONE_CLICK, headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 404
    assert requests.get(manage + "/preferences").status_code == 200
    assert statuses(shop, email)["promotions"] == "subscribed"


def test_a_wiped_subscribers_old_link_is_dead(shop, subscribed, app_ctx):
    email, url = subscribed
    wipe_subscriber(site=shop, email=email)
    assert requests.get(url).status_code == 404
    assert requests.post(url, data=ONE_CLICK, headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 404
    confirmed_subscriber(shop, email, ("newsletter",))  # the same address again: a new subscriber
    assert requests.post(url, data=ONE_CLICK, headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 404
    assert subscription_of(shop, email, "newsletter").status == "subscribed"


def test_unsubscribe_service_by_address_and_the_header_values(shop, subscribed, app_ctx):
    email, url = subscribed
    subscription = subscription_of(shop, email, "promotions")
    headers = list_unsubscribe_headers(site=shop, subscription=subscription, base_url="https://consent.example")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(rf"<https://consent\.example/s/{shop.slug}/u/[A-Za-z0-9._-]+>", headers["List-Unsubscribe"])
    assert unsubscribe(site=shop, list_key="promotions", method="api", email=email.upper()).status == "unsubscribed"
    assert unsubscribe(site=shop, list_key="promotions", method="api", email=email).status == "unsubscribed"
    assert unsubscribe(site=shop, list_key="promotions", method="mailer", email=new_address()) is None
    (event,) = one_click_events(shop)
    assert event.leaf["actor"] == {"type": "api_key", "source": "api"} and event.leaf["newsletter"]["method"] == "api"
    assert event.leaf["interaction"] == {"channel": "api", "layer": None, "action": "unsubscribe"}
    subscriber = fresh(Subscriber, site_id=shop.id, email_hmac=current_keys().email_hmac(email))
    assert subscriber.email == email  # still subscribed to the newsletter: the address is kept
    unsubscribe(site=shop, list_key="newsletter", method="account", email=email)
    assert fresh(Subscriber, id=subscriber.id).email is None  # no list left: only the keyed hash stays
