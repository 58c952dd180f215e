"""Account fixtures: the newsletter's real SMTP server and demo-like shop, and helpers that
register and confirm an account the way a person does (the link read from the mail received)."""
from __future__ import annotations

import re
import uuid

import pytest
import requests
from flask_babel import force_locale, gettext

from tests.newsletter.conftest import (_fresh_limits_and_no_mail_left, _smtp_server, csrf_token, parsed,  # noqa: F401
                                       shop, smtp, text_part)

ACCOUNT_LINK_RE = re.compile(r"https?://\S+/account/(?:confirm|reset|email)/[A-Za-z0-9._-]+(?:\?lang=\w+)?")
PASSWORD = "een lange zin als wachtwoord"


def nl(text: str, **values) -> str:
    """A message as the Dutch pages show it (the shops' default language)."""
    with force_locale("nl"):
        return gettext(text, **values)


def new_address() -> str:
    return f"klant-{uuid.uuid4().hex[:10]}@example.org"


def mailed_link(inbox, address: str, count: int = 1) -> str:
    """The account link in the count-th mail to the address."""
    message = parsed(inbox.wait_for(address, count)[count - 1])
    found = ACCOUNT_LINK_RE.findall(text_part(message))
    assert len(found) == 1, f"expected one account link, found {found}"
    return found[0]


def post_form(session: requests.Session, page_url: str, data: dict, action: str | None = None) -> requests.Response:
    """GET the page, then POST its form (CSRF token included) with data, not following redirects."""
    page = session.get(page_url)
    return session.post(action or page_url.split("?")[0], data={"csrf_token": csrf_token(page.text), **data},
                        allow_redirects=False)


def registered_account(live_server, site, inbox, address: str | None = None,
                       password: str = PASSWORD) -> tuple[requests.Session, str]:
    """A confirmed account, logged in: its requests session and address."""
    address = address or new_address()
    person = requests.Session()
    base = f"{live_server.url}/s/{site.slug}/account"
    assert post_form(person, f"{base}/register", {"email": address, "password": password}).status_code == 303
    link = mailed_link(inbox, address)
    assert post_form(person, link, {}).status_code == 303
    login = post_form(person, f"{base}/login", {"email": address, "password": password})
    assert login.status_code == 303, login.text
    return person, address


@pytest.fixture
def account_session(live_server, shop, smtp):
    return registered_account(live_server, shop, smtp)
