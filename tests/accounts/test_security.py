"""Acceptance 4 to 7: the login rate limit (one app and two app nodes sharing Redis), redirects
after login stay on the site, a login at one site is nothing at another, and every HTML POST
route of the app refuses a request without a CSRF token."""
from __future__ import annotations

import os
import signal

import pytest
import requests
from werkzeug.routing import Rule

from cookiegate.extensions import db
from tests.accounts.conftest import PASSWORD, post_form, registered_account
from tests.conftest import free_port
from tests.test_serve import start_node, wait_until_up
from tests.factories import make_site
from tests.newsletter.conftest import csrf_token

REDIS_URL = os.environ.get("COOKIEGATE_TEST_REDIS", "redis://127.0.0.1:6379/15")


def login_attempts(live_server, site, count: int) -> list[int]:
    person = requests.Session()
    url = f"{live_server.url}/s/{site.slug}/account/login"
    token = csrf_token(person.get(url).text)
    return [person.post(url, data={"csrf_token": token, "email": "a@example.org", "password": "wrong password"},
                        allow_redirects=False).status_code for _ in range(count)]


def test_the_eleventh_login_attempt_in_a_minute_gets_429(live_server, shop):
    statuses = login_attempts(live_server, shop, 11)
    assert statuses == [422] * 10 + [429]
    person = requests.Session()
    url = f"{live_server.url}/s/{shop.slug}/account/login"
    page = person.post(url, data={"csrf_token": csrf_token(person.get(url).text), "email": "b@example.org",
                                  "password": "another wrong one"})
    assert page.status_code == 429 and "Retry-After" in page.headers and "<h1>" in page.text
    assert person.get(url).status_code == 200  # only the attempts are limited, not the page


def test_register_and_reset_mail_one_address_at_most_five_times_an_hour(live_server, shop, smtp, account_session):
    _person, known = account_session
    for address in (known, "nobody-" + known):  # the same for an address without an account
        limiter_reset()
        answers = []
        for path, data in (("register", {"password": PASSWORD}),) * 3 + (("reset", {}),) * 3:
            person = requests.Session()
            answers.append(post_form(person, f"{live_server.url}/s/{shop.slug}/account/{path}",
                                     {"email": address, **data}).status_code)
        assert answers == [303, 303, 303, 200, 200, 429], address


def limiter_reset() -> None:
    from cookiegate.extensions import limiter
    limiter.reset()


def redis_answers() -> bool:
    try:
        import redis
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        return True
    except Exception:
        return False


@pytest.mark.slow
def test_two_app_nodes_share_the_login_limit_through_redis(database_url, tmp_path, app_ctx):
    """Two `cookiegate serve` nodes of 2 workers each: four processes, one count (in memory,
    each process would allow 10)."""
    if not redis_answers():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis does not answer at {REDIS_URL}; under CI=true it is required")
        pytest.skip("Redis does not answer at 127.0.0.1:6379")
    import redis
    redis.Redis.from_url(REDIS_URL).flushdb()
    site = make_site()
    ports, nodes = [free_port(), free_port()], []
    try:
        for i, port in enumerate(ports):
            nodes.append(start_node(database_url, tmp_path, port, tmp_path / f"node{i}.log",
                                    RATELIMIT_STORAGE_URI=REDIS_URL))
        for i, (port, node) in enumerate(zip(ports, nodes)):
            wait_until_up(port, node, tmp_path / f"node{i}.log")
        statuses = [status for i in range(11) for status in login_attempts(
            _Node(ports[i % 2]), site, 1)]
        assert statuses == [422] * 10 + [429]
    finally:
        for node in nodes:
            os.killpg(node.pid, signal.SIGTERM)
            node.wait(10)
        redis.Redis.from_url(REDIS_URL).flushdb()


class _Node:
    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("target", ["https://elsewhere.example/", "//elsewhere.example", "/\\elsewhere.example",
                                    "https:elsewhere.example", "/s/{other}/account/", "/s/{slug}/../{other}/",
                                    "javascript:alert(1)", "/api/v1/openapi.json"])
def test_next_never_redirects_off_the_site(live_server, shop, smtp, target):
    other = make_site()
    person, address = registered_account(live_server, shop, smtp)
    target = target.format(other=other.slug, slug=shop.slug)
    login = f"{live_server.url}/s/{shop.slug}/account/login?next={requests.utils.quote(target, safe='')}"
    answer = post_form(person, login, {"email": address, "password": PASSWORD, "next": target},
                       action=login.split("?")[0])
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/s/{shop.slug}/account/"


def test_next_may_go_to_a_page_of_the_same_site(live_server, shop, smtp):
    person, address = registered_account(live_server, shop, smtp)
    login = f"{live_server.url}/s/{shop.slug}/account/login"
    answer = post_form(person, login, {"email": address, "password": PASSWORD, "next": f"/s/{shop.slug}/account/export"})
    assert answer.headers["Location"] == f"/s/{shop.slug}/account/export"


def test_a_login_at_one_site_is_nothing_at_another(live_server, shop, smtp, account_session):
    person, _address = account_session
    other = make_site()
    mine, theirs = f"{live_server.url}/s/{shop.slug}/account", f"{live_server.url}/s/{other.slug}/account"
    assert person.get(f"{mine}/", allow_redirects=False).status_code == 200
    for path in ("/", "/export", "/export.json", "/delete"):
        answer = person.get(theirs + path, allow_redirects=False)
        assert answer.status_code == 303 and "/account/login" in answer.headers["Location"], path
    # The session cookie is scoped to the shop's path, and signed for it: carried over by hand
    # to the other site's path, it opens nothing either.
    cookie = next(c for c in person.cookies if c.name == "cg_session")
    assert cookie.path == f"/s/{shop.slug}/"
    stolen = requests.Session()
    stolen.cookies.set("cg_session", cookie.value, path=f"/s/{other.slug}/")
    assert stolen.get(f"{theirs}/", allow_redirects=False).status_code == 303
    token = csrf_token(person.get(f"{theirs}/login").text)
    for path in ("/profile", "/password", "/email", "/marketing", "/consents/withdraw", "/delete"):
        answer = person.post(theirs + path, data={"csrf_token": token, "password": PASSWORD, "confirm": "y",
                                                   "name": "Mallory"}, allow_redirects=False)
        assert answer.status_code == 303 and "/account/login" in answer.headers["Location"], path
    db.session.rollback()
    from cookiegate.accounts.models import Account
    assert db.session.execute(db.select(Account).where(Account.name == "Mallory")).first() is None
    assert person.get(f"{mine}/", allow_redirects=False).status_code == 200  # still logged in at its own site


# The one HTML POST without a CSRF token: RFC 8058 one-click unsubscribe, sent by mailbox providers.
CSRF_EXEMPT = {"newsletter.unsubscribe_link"}


def html_post_rules(app) -> list[Rule]:
    """Every POST route but the JSON ones (/api/v1 with keys; *.json, cross-origin and cookieless)."""
    return [rule for rule in app.url_map.iter_rules() if "POST" in rule.methods
            and not rule.rule.startswith("/api/") and not rule.rule.endswith(".json")]


def test_every_html_post_route_refuses_a_request_without_csrf_token(app, client, shop):
    rules = html_post_rules(app)
    assert len(rules) >= 15, [r.rule for r in rules]  # the enumeration does find the forms
    values = {"site_slug": shop.slug, "token": "1.abc", "event_id": "x", "sha256": "0" * 64, "version": 1}
    checked = []
    for rule in rules:
        if rule.endpoint in CSRF_EXEMPT:
            continue
        url = rule.build({name: values.get(name, "x") for name in rule.arguments}, append_unknown=False)[1]
        answer = client.post(url, data={"email": "a@example.org", "password": PASSWORD})
        assert answer.status_code == 400, f"{rule.endpoint} {url} answered {answer.status_code} without a CSRF token"
        checked.append(rule.endpoint)
    assert {"accounts.login", "accounts.register", "accounts.delete", "banner.save_consent",
            "newsletter.subscribe"} <= set(checked)
    # The exemption is real and single: the one-click POST works without a token.
    assert {r.endpoint for r in rules} & CSRF_EXEMPT == CSRF_EXEMPT
