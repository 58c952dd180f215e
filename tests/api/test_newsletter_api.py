"""/api/v1/newsletter over real HTTP, every answer checked against the published document: the
shop's subscribe (double opt-in, the same answer for everyone), the mailer's batch check, the
suppression list, the List-Unsubscribe headers and inbound unsubscribe, bounce and complaint
events; validation, scopes and tenant isolation."""
from __future__ import annotations

import time
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import func, select

from cookiegate.extensions import db
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.record import Context
from cookiegate.mail.models import OutboxMail
from cookiegate.newsletter.lists import ensure_list
from cookiegate.newsletter.mailer import check_addresses, email_hmacs
from cookiegate.newsletter.models import Subscriber, Suppression
from cookiegate.newsletter.preferences import save_preferences
from cookiegate.newsletter.wipe import wipe_subscriber
from cookiegate.sites import cache
from cookiegate.sites.demo import DEMO_LISTS
from cookiegate.newsletter.services import subscribe_lists
from cookiegate.timeutil import iso, parse_iso, utcnow
from tests.api.conftest import make_token
from tests.factories import make_site
# The newsletter tests' real SMTP server (aiosmtpd) and their clean-up of unsent mail and limits:
from tests.newsletter.conftest import (CONFIRM_RE, _fresh_limits_and_no_mail_left, _smtp_server,  # noqa: F401
                                       confirmed_subscriber, csrf_token, forget_loaded, fresh, link_in,
                                       new_address, parsed, site_events, smtp, subscription_of)

ONE_CLICK = "List-Unsubscribe=One-Click"


@pytest.fixture
def lists(api_site):
    """The demo shops' two lists (newsletter, promotions) on the API's site."""
    for key, texts in DEMO_LISTS["petite-vie"].items():
        ensure_list(site=api_site, key=key, texts=texts)
    return api_site


def other_site_api(api):
    """A client for a second site with the same list keys."""
    site = make_site()
    for key, texts in DEMO_LISTS["petite-vie"].items():
        ensure_list(site=site, key=key, texts=texts)
    return site, api.with_token(make_token(site))


def check(api, emails: list, list_key: str = "newsletter", expect: int = 200) -> dict:
    response = api.post("/newsletter/check", json={"list": list_key, "emails": emails})
    assert response.status_code == expect, response.text
    return response.json()


def allowed(api, emails: list, list_key: str = "newsletter") -> list[bool]:
    return [result["allowed"] for result in check(api, emails, list_key)["results"]]


def send_events(api, events: list, expect: int = 200) -> dict:
    response = api.post("/newsletter/events", json={"events": events})
    assert response.status_code == expect, response.text
    return response.json()


def mails_to(site, email: str) -> list[OutboxMail]:
    forget_loaded()
    return list(db.session.execute(select(OutboxMail).where(
        OutboxMail.site_id == site.id, OutboxMail.to_hmac == current_keys().email_hmac(email),
        OutboxMail.kind == "double_opt_in").order_by(OutboxMail.id)).scalars())


def subscribe(api, email: str, list_key: str = "newsletter", **extra) -> requests.Response:
    return api.post("/newsletter/subscriptions", json={"email": email, "list": list_key, "source": "checkout",
                                                        "language": "en", **extra})


def all_suppressions(api, limit: int = 2) -> list[dict]:
    found, params = [], {"limit": str(limit)}
    while True:
        page = api.get("/newsletter/suppressions", params=params)
        assert page.status_code == 200, page.text
        found += page.json()["suppressions"]
        if page.json()["next_cursor"] is None:
            return found
        params["cursor"] = page.json()["next_cursor"]


def test_subscribe_mails_a_double_opt_in_and_answers_the_same_for_everyone(api, lists, smtp):
    known, unknown, wiped = new_address(), new_address(), new_address()
    confirmed_subscriber(lists, known)
    confirmed_subscriber(lists, wiped)
    wipe_subscriber(site=lists, email=wiped)
    before = {email: len(mails_to(lists, email)) for email in (known, unknown, wiped)}

    answers = [subscribe(api, email) for email in (known, unknown, wiped)]
    assert [(a.status_code, a.json()) for a in answers] == [(202, {"status": "pending"})] * 3
    assert len({a.text for a in answers}) == 1

    assert len(mails_to(lists, known)) == before[known]  # already subscribed: nothing sent
    for email in (unknown, wiped):
        assert len(mails_to(lists, email)) == before[email] + 1
        (mail,) = smtp.wait_for(email)
        assert "/confirm/" in link_in(parsed(mail), CONFIRM_RE)
        subscription = subscription_of(lists, email, "newsletter")
        assert subscription.status == "pending" and subscription.source == "checkout"
    assert allowed(api, [known, unknown, wiped]) == [True, False, False]


def test_wipe_suppresses_and_a_resubscribe_needs_a_fresh_confirmation(api, lists, smtp):
    email = new_address()
    confirmed_subscriber(lists, email, ("newsletter", "promotions"))
    assert allowed(api, [email]) == [True]
    wipe_subscriber(site=lists, email=email)
    assert allowed(api, [email]) == [False] and allowed(api, [email], "promotions") == [False]
    assert [(s["email_hmac"], s["reason"]) for s in all_suppressions(api)] == [
        (current_keys().email_hmac(email), "wipe")]

    assert subscribe(api, email.upper()).status_code == 202
    (queued,) = mails_to(lists, email)  # the wipe blanked the earlier mails' recipient hash
    assert queued.kind == "double_opt_in" and queued.message_sha256
    assert allowed(api, [email]) == [False]  # not before the confirmation
    (mail,) = smtp.wait_for(email.upper())  # as typed
    confirm_url = link_in(parsed(mail), CONFIRM_RE)
    person = requests.Session()
    page = person.get(confirm_url)
    assert page.status_code == 200 and allowed(api, [email]) == [False]  # GET confirms nothing
    assert person.post(confirm_url, data={"csrf_token": csrf_token(page.text)}).status_code == 200
    assert allowed(api, [email]) == [True] and allowed(api, [email], "promotions") == [False]
    assert all_suppressions(api) == []


def test_check_answers_each_address_in_order(api, lists):
    subscribed, both, pending, refused, gone, stranger = (new_address() for _ in range(6))
    confirmed_subscriber(lists, subscribed)
    confirmed_subscriber(lists, both, ("newsletter", "promotions"))
    confirmed_subscriber(lists, refused)
    confirmed_subscriber(lists, gone)
    subscribe_lists(site=lists, email=pending, list_keys=["newsletter"], language="nl", source="api", send=False)
    subscriber = fresh(Subscriber, site_id=lists.id, email_hmac=current_keys().email_hmac(refused))
    save_preferences(site=lists, subscriber=subscriber, lists={"newsletter": True}, no_marketing_email=True,
                     channels={}, language="nl", context=Context())
    send_events(api, [{"type": "bounce", "email": gone}])

    emails = [subscribed, f"  {both.upper()} ", pending, refused, gone, stranger, subscribed]
    assert allowed(api, emails) == [True, True, False, False, False, False, True]
    assert allowed(api, emails, "promotions") == [False, True, False, False, False, False, False]
    answer = check(api, [], "promotions")
    assert answer == {"list": "promotions", "results": []}


def test_a_batch_of_100000_addresses_is_answered(api, lists, capsys):
    members = [new_address() for _ in range(3)]
    for email in members:
        confirmed_subscriber(lists, email)
    emails = [f"batch-{index}-{uuid.uuid4().hex[:6]}@example.net" for index in range(100_000)]
    for position, email in zip((0, 50_000, 99_999), members):
        emails[position] = email
    started = time.perf_counter()
    response = api.post("/newsletter/check", json={"list": "newsletter", "emails": emails})
    wall = time.perf_counter() - started
    assert response.status_code == 200, response.text[:500]
    results = response.json()["results"]
    assert len(results) == 100_000 and sum(r["allowed"] for r in results) == 3
    assert results[0] == results[50_000] == results[99_999] == {"allowed": True}
    started = time.perf_counter()
    in_process = check_addresses(site=lists, list_key="newsletter", emails=emails)
    service = time.perf_counter() - started
    assert in_process == [r["allowed"] for r in results]
    with capsys.disabled():
        print(f"\n  newsletter check of 100,000 addresses ({db.engine.dialect.name}): service {service:.3f} s, "
              f"server {response.headers['Server-Timing']}, HTTP wall {wall:.3f} s")


def test_check_validates_its_input(api, lists):
    too_many = api.post("/newsletter/check", json={"list": "newsletter", "emails": ["a@example.org"] * 100_001})
    assert too_many.status_code == 413 and set(too_many.json()["fields"]) == {"emails"}
    bad = check(api, ["ok@example.org", "no-at-sign", 7, None, "two@@example.org", "x" * 250 + "@e.nl",
                      "tab\t@example.org", "a@b"], expect=422)
    assert set(bad["fields"]) == {"emails.1", "emails.2", "emails.3", "emails.4", "emails.5", "emails.6"}
    assert len(check(api, ["nope"] * 500, expect=422)["fields"]) == 20
    assert set(check(api, ["a@example.org"], "Not A List", expect=422)["fields"]) == {"list"}
    assert check(api, ["a@example.org"], "weekly", expect=404)["fields"] == {"list": "unknown list"}
    for body, fields in (({"emails": []}, {"list"}), ({"list": "newsletter", "emails": "a@example.org"}, {"emails"}),
                         ({"list": "newsletter", "emails": [], "email_hmacs": []}, {"email_hmacs"})):
        response = api.post("/newsletter/check", json=body)
        assert response.status_code == 422 and set(response.json()["fields"]) == fields, body
    assert api.post("/newsletter/check", data=b"[1]", headers={"Content-Type": "application/json"}).status_code == 400


def test_subscribe_validates_its_input(api, lists, smtp):
    for body, fields in (
            ({"email": "nope", "list": "newsletter", "source": "checkout"}, {"email"}),
            ({"email": "a@example.org", "list": "newsletter", "source": "hosted_form"}, {"source"}),
            ({"email": "a@example.org", "list": "newsletter", "source": "checkout", "language": "de"}, {"language"}),
            ({"email": "a@example.org", "source": "checkout"}, {"list"}),
            ({"email": "a@example.org", "list": "newsletter", "source": "checkout", "name": "A"}, {"name"})):
        response = api.post("/newsletter/subscriptions", json=body)
        assert response.status_code == 422 and set(response.json()["fields"]) == fields, body
    assert subscribe(api, "a@example.org", "weekly").status_code == 404
    email = new_address()
    assert [subscribe(api, email).status_code for _ in range(6)] == [202] * 5 + [429]  # per-address limit
    assert db.session.execute(select(func.count()).select_from(OutboxMail).where(
        OutboxMail.to_hmac == current_keys().email_hmac(email))).scalar() == 5


def test_subscribe_asks_for_16_or_over_where_the_site_wants_it(api, lists, smtp):
    body = {"email": new_address(), "list": "newsletter", "source": "checkout"}
    assert api.post("/newsletter/subscriptions", json={**body, "age_confirmed": "yes"}).json()["fields"].keys() == {
        "age_confirmed"}
    assert subscribe(api, body["email"]).status_code == 202  # the site does not ask: nothing needed
    lists.marketing_age_check = True
    db.session.commit()
    cache.forget(lists.slug)  # as publishing a site's settings does
    forget_loaded()
    try:
        email = new_address()
        refused = api.post("/newsletter/subscriptions", json={**body, "email": email})
        assert refused.status_code == 422 and set(refused.json()["fields"]) == {"age_confirmed"}
        assert api.post("/newsletter/subscriptions", json={**body, "email": email, "age_confirmed": False}).status_code == 422
        assert subscription_of(lists, email, "newsletter") is None and mails_to(lists, email) == []
        accepted = api.post("/newsletter/subscriptions", json={**body, "email": email, "age_confirmed": True})
        assert accepted.status_code == 202
        assert subscription_of(lists, email, "newsletter").age_confirmed is True
    finally:
        lists.marketing_age_check = False
        db.session.commit()
        cache.forget(lists.slug)


def test_suppressions_page_by_hash_with_signed_cursors(api, lists):
    wiped, bounced, complained, refused, unsubscribed = (new_address() for _ in range(5))
    for email in (wiped, bounced, refused, unsubscribed):
        confirmed_subscriber(lists, email)
    wipe_subscriber(site=lists, email=wiped)
    send_events(api, [{"type": "bounce", "email": bounced}, {"type": "complaint", "email": complained},
                      {"type": "unsubscribe", "email": unsubscribed, "list": "newsletter"}])
    subscriber = fresh(Subscriber, site_id=lists.id, email_hmac=current_keys().email_hmac(refused))
    save_preferences(site=lists, subscriber=subscriber, lists={}, no_marketing_email=True, channels={},
                     language="nl", context=Context())
    expected = sorted([(current_keys().email_hmac(email), reason) for email, reason in (
        (wiped, "wipe"), (bounced, "bounce"), (complained, "complaint"), (refused, "no_marketing_email"))])
    for limit in (1, 2, 3, 100):
        listed = all_suppressions(api, limit)
        assert [(s["email_hmac"], s["reason"]) for s in listed] == expected
    assert all(utcnow() - timedelta(minutes=5) < parse_iso(s["since"]) <= utcnow() for s in listed)

    first = api.get("/newsletter/suppressions", params={"limit": "1"}).json()
    _, other = other_site_api(api)
    foreign = other.get("/newsletter/suppressions", params={"cursor": first["next_cursor"]})
    assert foreign.status_code == 422 and set(foreign.json()["fields"]) == {"cursor"}
    assert other.get("/newsletter/suppressions").json() == {"suppressions": [], "next_cursor": None}
    for params, fields in (({"limit": "0"}, {"limit"}), ({"limit": "1001"}, {"limit"}), ({"limit": "x"}, {"limit"}),
                           ({"cursor": "garbage"}, {"cursor"}), ({"since": "2026-01-01"}, {"since"})):
        response = api.get("/newsletter/suppressions", params=params)
        assert response.status_code == 422 and set(response.json()["fields"]) == fields, params


def test_unsubscribe_headers_name_a_working_one_click_url(api, lists):
    email = new_address()
    confirmed_subscriber(lists, email, ("newsletter", "promotions"))
    response = api.post("/newsletter/unsubscribe-headers", json={"email": email, "list": "newsletter"})
    assert response.status_code == 200, response.text
    headers = response.json()
    assert headers["List-Unsubscribe"] == f"<{headers['url']}>" and headers["List-Unsubscribe-Post"] == ONE_CLICK
    assert urlsplit(headers["url"]).path.startswith(f"/s/{lists.slug}/u/") and email not in headers["url"]
    one_click = requests.post(headers["url"], data=ONE_CLICK, allow_redirects=False,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert one_click.status_code == 200
    assert allowed(api, [email]) == [False] and allowed(api, [email], "promotions") == [True]
    gone = api.post("/newsletter/unsubscribe-headers", json={"email": email, "list": "newsletter"})
    assert gone.status_code == 404 and set(gone.json()["fields"]) == {"email"}
    assert api.post("/newsletter/unsubscribe-headers", json={"email": new_address(), "list": "newsletter"}) \
        .status_code == 404
    assert api.post("/newsletter/unsubscribe-headers", json={"email": email, "list": "weekly"}).status_code == 404
    bad = api.post("/newsletter/unsubscribe-headers", json={"email": "x", "list": 3, "to": "me"})
    assert bad.status_code == 422 and set(bad.json()["fields"]) == {"to"}
    bad = api.post("/newsletter/unsubscribe-headers", json={"email": "x", "list": 3})
    assert bad.status_code == 422 and set(bad.json()["fields"]) == {"email", "list"}


def test_mailer_unsubscribe_is_an_opt_out_with_method_mailer(api, lists):
    email, other_email = new_address(), new_address()
    confirmed_subscriber(lists, email, ("newsletter", "promotions"))
    confirmed_subscriber(lists, other_email, ("newsletter", "promotions"))
    key_id = api.token.split("_")[1]
    answer = send_events(api, [{"type": "unsubscribe", "email": email, "list": "newsletter", "id": "ev-1"},
                               {"type": "unsubscribe", "email": email, "list": "newsletter", "id": "ev-1"},
                               {"type": "unsubscribe", "email": email, "list": "newsletter"},
                               {"type": "unsubscribe", "email": new_address()},
                               {"type": "unsubscribe", "email": other_email, "time": None, "id": None}])
    assert answer["results"] == [{"status": "applied", "id": "ev-1"}, {"status": "duplicate", "id": "ev-1"},
                                 {"status": "ignored", "id": None}, {"status": "ignored", "id": None},
                                 {"status": "applied", "id": None}]
    assert allowed(api, [email, other_email]) == [False, False]
    assert allowed(api, [email, other_email], "promotions") == [True, False]
    subscription = subscription_of(lists, email, "newsletter")
    assert subscription.status == "unsubscribed" and subscription.unsubscribe_method == "mailer"
    events = [e for e in site_events(lists, "unsubscribed")]
    assert len(events) == 3
    mine = next(e for e in events if e.row.event_id == subscription.unsubscribe_event_id)
    assert mine.leaf["newsletter"]["method"] == "mailer" and mine.leaf["newsletter"]["list"] == "newsletter"
    assert mine.leaf["actor"] == {"type": "mailer", "source": f"api_key:{key_id}/unsubscribe"}
    assert mine.leaf["newsletter"]["opt_in_event"] == subscription.confirm_event_id
    assert send_events(api, [{"type": "complaint", "email": email, "id": "ev-1"}])["results"] == [
        {"status": "duplicate", "id": "ev-1"}]


def test_a_stale_event_never_undoes_a_newer_opt_in(api, lists):
    email = new_address()
    before = iso(utcnow() - timedelta(minutes=1)).replace("Z", "+00:00")
    confirmed_subscriber(lists, email, ("newsletter", "promotions"))
    answer = send_events(api, [{"type": "unsubscribe", "email": email, "time": before},
                               {"type": "bounce", "email": email, "time": "2020-01-01T00:00:00Z"},
                               {"type": "complaint", "email": email, "time": "2020-01-01T01:00:00+01:00"}])
    assert [r["status"] for r in answer["results"]] == ["ignored"] * 3
    assert allowed(api, [email]) == [True]
    future = send_events(api, [{"type": "unsubscribe", "email": email, "list": "promotions",
                                "time": "2999-12-31T23:59:60.5-12:00"}])
    assert future["results"] == [{"status": "applied", "id": None}]  # a time ahead counts as now


def test_bounce_and_complaint_suppress_every_list(api, lists):
    bounced, stranger = new_address(), new_address()
    confirmed_subscriber(lists, bounced, ("newsletter", "promotions"))
    answer = send_events(api, [{"type": "bounce", "email": bounced, "list": "promotions"},
                               {"type": "complaint", "email": stranger}, {"type": "complaint", "email": stranger},
                               {"type": "bounce", "email": bounced}])
    assert [r["status"] for r in answer["results"]] == ["applied", "applied", "ignored", "ignored"]
    assert allowed(api, [bounced, stranger]) == allowed(api, [bounced, stranger], "promotions") == [False, False]
    assert {key: subscription_of(lists, bounced, key).unsubscribe_method for key in ("newsletter", "promotions")} \
        == {"newsletter": "mailer", "promotions": "mailer"}
    assert fresh(Suppression, site_id=lists.id, email_hmac=current_keys().email_hmac(bounced)).reason == "bounce"
    assert fresh(Suppression, site_id=lists.id, email_hmac=current_keys().email_hmac(stranger)).reason == "complaint"
    assert fresh(Subscriber, site_id=lists.id, email_hmac=current_keys().email_hmac(bounced)).email is None
    assert len(site_events(lists, "unsubscribed")) == 2


def test_events_are_checked_as_a_batch_before_any_is_applied(api, lists):
    email = new_address()
    confirmed_subscriber(lists, email)
    good = {"type": "unsubscribe", "email": email}
    bad = send_events(api, [good, {"type": "soft_bounce", "email": "x", "list": "Bad List", "time": "yesterday",
                                   "id": "has space", "extra": 1}, "event", {}], expect=422)["fields"]
    assert set(bad) == {"events.1.type", "events.1.email", "events.1.list", "events.1.time", "events.1.id",
                        "events.1.extra", "events.2", "events.3.type", "events.3.email"}
    unknown = send_events(api, [good, {"type": "unsubscribe", "email": email, "list": "weekly"}], expect=404)
    assert unknown["fields"] == {"events.1.list": "unknown list"}
    too_many = api.post("/newsletter/events", json={"events": [good] * 1001})
    assert too_many.status_code == 413 and set(too_many.json()["fields"]) == {"events"}
    assert set(send_events(api, {"type": "bounce"}, expect=422)["fields"]) == {"events"}
    assert allowed(api, [email]) == [True]  # nothing was applied
    assert send_events(api, [])["results"] == []


def test_another_sites_key_neither_sees_nor_changes_this_sites_subscribers(api, lists, smtp):
    email = new_address()
    confirmed_subscriber(lists, email, ("newsletter", "promotions"))
    wipe_target = new_address()
    confirmed_subscriber(lists, wipe_target)
    wipe_subscriber(site=lists, email=wipe_target)
    other_site, other = other_site_api(api)
    assert allowed(other, [email]) == [False]
    assert other.post("/newsletter/unsubscribe-headers", json={"email": email, "list": "newsletter"}).status_code == 404
    assert other.get("/newsletter/suppressions").json()["suppressions"] == []
    results = other.post("/newsletter/events", json={"events": [
        {"type": "unsubscribe", "email": email}, {"type": "bounce", "email": email, "id": "shared-id"}]}).json()
    assert [r["status"] for r in results["results"]] == ["ignored", "applied"]  # its own (empty) records only
    complained = new_address()
    assert send_events(api, [{"type": "complaint", "email": complained, "id": "shared-id"}])["results"][0][
        "status"] == "applied"  # ids are per site
    assert other.post("/newsletter/subscriptions", json={"email": email, "list": "newsletter",
                                                          "source": "shop_form"}).status_code == 202
    assert allowed(api, [email]) == [True] and allowed(api, [email], "promotions") == [True]
    assert subscription_of(lists, email, "newsletter").status == "subscribed"
    assert subscription_of(other_site, email, "newsletter").status == "pending"
    assert sorted((s["email_hmac"], s["reason"]) for s in all_suppressions(api)) == sorted(
        [(current_keys().email_hmac(wipe_target), "wipe"), (current_keys().email_hmac(complained), "complaint")])


def test_each_operation_needs_its_scope(api, api_site, lists):
    reader = api.with_token(make_token(api_site, ["newsletter:read"]))
    writer = api.with_token(make_token(api_site, ["newsletter:write"]))
    consent = api.with_token(make_token(api_site, ["consent:read", "consent:write"]))
    reads = [("post", "/newsletter/check", {"list": "newsletter", "emails": []}),
             ("get", "/newsletter/suppressions", None),
             ("post", "/newsletter/unsubscribe-headers", {"email": new_address(), "list": "newsletter"})]
    writes = [("post", "/newsletter/subscriptions", {"email": new_address(), "list": "newsletter",
                                                     "source": "shop_form"}),
              ("post", "/newsletter/events", {"events": []})]
    for client, forbidden in ((reader, writes), (writer, reads), (consent, reads + writes)):
        for method, path, body in forbidden:
            response = getattr(client, method)(path, **({"json": body} if body is not None else {}))
            assert response.status_code == 403 and response.json()["fields"] == {
                "scope": f"needs newsletter:{'read' if (method, path, body) in reads else 'write'}"}, path
    assert reader.post("/newsletter/check", json={"list": "newsletter", "emails": []}).status_code == 200
    assert writer.post("/newsletter/events", json={"events": []}).status_code == 200
    assert api.post("/newsletter/check", json={"list": "newsletter", "emails": []}, token=False).status_code == 401


def test_the_document_names_each_operations_scope(app):
    from cookiegate.api.newsletter_spec import PATHS

    checked = 0
    for rule in app.url_map.iter_rules():
        path = rule.rule.removeprefix("/api/v1")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operation = PATHS.get(path, {}).get(method.lower())
            if operation is not None:
                assert operation["x-scope"] == app.view_functions[rule.endpoint].required_scope
                assert {"operationId", "summary", "description", "tags", "responses"} <= set(operation)
                checked += 1
    assert checked == 5


def test_bulk_hashes_are_the_ledger_keys_hashes(app_ctx):
    addresses = ["A@Example.org", "  b@example.org\t", "ünï@exämple.de", "x" * 64 + "@" + "y" * 189]
    assert email_hmacs(addresses) == [current_keys().email_hmac(address) for address in addresses]
