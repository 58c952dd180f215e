"""Acceptance 3: register, login and reset answer alike, in words and status, for a known and
an unknown address (the CSRF token, the only per-session part of a page, is masked)."""
from __future__ import annotations

import re

import requests

from tests.accounts.conftest import PASSWORD, new_address, post_form



def answer(live_server, site, path: str, data: dict) -> tuple[int, str, str]:
    """Status, Location and the final page's text, in a fresh session; the CSRF token and the
    address typed (a form shown again echoes it) are masked."""
    person = requests.Session()
    url = f"{live_server.url}/s/{site.slug}/account/{path}"
    first = post_form(person, url, data)
    final = person.get(live_server.url + first.headers["Location"]) if first.is_redirect else first
    body = re.sub(r'name="csrf_token"[^>]*', 'name="csrf_token"', re.sub(r'value="[A-Za-z0-9._-]{40,}"', "", final.text))
    return first.status_code, first.headers.get("Location", ""), body.replace(data["email"], "ADDRESS")


def test_register_login_and_reset_answer_alike_for_known_and_unknown(live_server, shop, smtp, account_session):
    _person, known = account_session
    unknown = new_address()
    for path, data in (("register", {"password": PASSWORD}),
                       ("login", {"password": "not the password at all"}),
                       ("reset", {})):
        for_known = answer(live_server, shop, path, {"email": known, **data})
        for_unknown = answer(live_server, shop, path, {"email": unknown, **data})
        assert for_known == for_unknown, path
    assert answer(live_server, shop, "login", {"email": known, "password": PASSWORD})[0] == 303  # sanity
    # What differs goes only to the mailbox: the known address got "you have an account" and a reset link.
    kinds = [m for m in smtp.to(known)]
    assert len(kinds) == 3  # confirmation, "you already have an account", reset
    assert smtp.wait_for(unknown)  # the unknown one got a confirmation for its new (unconfirmed) account
