"""The preference centre in a real Chromium: switch lists, the global "no marketing e-mail",
channels, and resubscribing (a new double opt-in mail arrives at the SMTP server); axe-core on
every newsletter page in Dutch and English."""
from __future__ import annotations

import pytest

from cookiegate.ledger.keys import current_keys
from cookiegate.newsletter.models import Subscriber
from cookiegate.newsletter.services import may_mail, unsubscribe_url
from tests.axe_support import AxePages, axe_violations
from tests.newsletter.conftest import (CONFIRM_RE, MANAGE_RE, confirmed_subscriber, fresh, link_in, new_address,
                                       parsed, site_events, subscription_of)

pytestmark = pytest.mark.browser


@pytest.fixture
def context(browser):
    """A fresh browser context (JavaScript on, the CSP bypassed only so that axe can be added)."""
    opened = browser.new_context(locale="en-GB", bypass_csp=True)
    opened.set_default_timeout(10_000)
    yield opened
    opened.close()


def submit(page) -> None:
    with page.expect_navigation():
        page.click("button[type=submit]")


def statuses(site, email: str) -> dict[str, str]:
    return {key: subscription_of(site, email, key).status for key in ("newsletter", "promotions")}


def test_preference_centre_lists_global_opt_out_channels_and_resubscribe(context, live_server, smtp, shop):
    email = new_address()
    email_hmac = current_keys().email_hmac(email)
    (newsletter,) = confirmed_subscriber(shop, email, ("newsletter",), language="en", base_url=live_server.url)
    page = context.new_page()
    page.goto(unsubscribe_url(site=shop, subscription=newsletter, base_url=live_server.url) + "/preferences")
    assert page.is_checked("#list-newsletter") and not page.is_checked("#list-promotions")
    assert not page.is_checked("#no-marketing-email")

    # Switch lists and channels: newsletter off, promotions on (a fresh double opt-in), post and social on.
    page.uncheck("#list-newsletter")
    page.check("#list-promotions")
    page.check("#channel-post")
    page.check("#channel-social")
    submit(page)
    assert "Your preferences are saved." in page.inner_text("main")
    assert statuses(shop, email) == {"newsletter": "unsubscribed", "promotions": "pending"}
    subscriber = fresh(Subscriber, site_id=shop.id, email_hmac=email_hmac)
    assert subscriber.channels == {"email": True, "post": True, "phone": False, "social": True}
    (mail,) = smtp.wait_for(email)
    assert "Offers" in parsed(mail).get_body(("plain",)).get_content()
    assert page.is_checked("#channel-post") and not page.is_checked("#channel-phone")
    assert subscription_of(shop, email, "newsletter").unsubscribe_method == "preference_centre"
    updated = site_events(shop, "updated")[-1]
    assert updated.leaf["decisions"]["channel:post"] == {"granted": True, "basis": "consent"}
    assert updated.leaf["newsletter"]["channels"] == subscriber.channels

    # Global opt-out: every list off (the pending one too), no marketing mail at all.
    page.check("#no-marketing-email")
    submit(page)
    assert statuses(shop, email) == {"newsletter": "unsubscribed", "promotions": "unsubscribed"}
    subscriber = fresh(Subscriber, id=subscriber.id)
    assert subscriber.no_marketing_email and subscriber.channels["email"] is False
    assert subscriber.email is None  # nothing left to mail: only the keyed hash is kept
    assert may_mail(site=shop, list_key="newsletter", email_hmacs=[email_hmac]) == {email_hmac: False}
    assert not page.is_checked("#list-newsletter") and page.is_checked("#no-marketing-email")

    # Resubscribe: the address must be typed again (it is no longer kept); a new mail arrives.
    page.uncheck("#no-marketing-email")
    page.check("#list-newsletter")
    submit(page)
    assert page.locator(".cg-error").count() == 1 and statuses(shop, email)["newsletter"] == "unsubscribed"
    page.fill("#email", "someone-else@example.org")
    page.check("#list-newsletter")
    submit(page)
    assert page.locator(".cg-error").count() == 1 and statuses(shop, email)["newsletter"] == "unsubscribed"
    page.fill("#email", email)
    page.check("#list-newsletter")
    submit(page)
    assert statuses(shop, email) == {"newsletter": "pending", "promotions": "unsubscribed"}
    second = smtp.wait_for(email, 2)[1]
    page.goto(link_in(parsed(second), CONFIRM_RE))
    submit(page)
    assert "You are subscribed" in page.inner_text("main")
    assert statuses(shop, email)["newsletter"] == "subscribed"
    assert not fresh(Subscriber, id=subscriber.id).no_marketing_email
    assert may_mail(site=shop, list_key="newsletter", email_hmacs=[email_hmac]) == {email_hmac: True}
    kinds = [e.row.kind for e in site_events(shop)]
    assert kinds.count("subscribed") == 2 and kinds.count("unsubscribed") == 2 and "updated" in kinds


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_axe_finds_nothing_on_the_newsletter_pages(context, live_server, smtp, shop, lang):
    email = new_address()
    page = context.new_page()
    base = f"{live_server.url}/s/{shop.slug}"
    check = (axe := AxePages(page, lang)).check

    page.goto(f"{base}/newsletter?lang={lang}")
    check("sign-up")
    submit(page)  # nothing filled in: the page with its errors
    check("sign-up with errors")
    page.check("#list-newsletter")
    page.fill("#email", email)
    submit(page)
    check("check your inbox")
    mail = parsed(smtp.wait_for(email)[0])
    page.goto(link_in(mail, CONFIRM_RE))
    check("confirm")
    submit(page)
    check("confirmed")
    (subscription,) = [subscription_of(shop, email, "newsletter")]
    page.goto(unsubscribe_url(site=shop, subscription=subscription, base_url=live_server.url) + f"?lang={lang}")
    check("unsubscribe")
    submit(page)
    check("unsubscribed")
    page.goto(unsubscribe_url(site=shop, subscription=subscription, base_url=live_server.url) + f"/preferences?lang={lang}")
    check("preferences")
    page.goto(f"{base}/newsletter/lost?lang={lang}")
    check("lost link")
    page.fill("#email", email)
    submit(page)
    check("lost link sent")
    assert link_in(parsed(smtp.wait_for(email, 2)[1]), MANAGE_RE)
    page.goto(f"{base}/u/not-a-token?lang={lang}")
    check("invalid link")
    axe.assert_clean()
    # axe does run: a nameless button is found.
    page.evaluate("document.querySelector('main').appendChild(document.createElement('button'))")
    assert "button-name" in {v["id"] for v in axe_violations(page)}
