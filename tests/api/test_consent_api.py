"""The consent operations of /api/v1 over real HTTP (every answer checked against the published
document): recording from a server with a verifiable receipt and safe retries, subject state per
category, the batch check, a subject's history and the site's feed, and every refusal."""
from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from cookiegate.canonical import loads
from cookiegate.extensions import db
from cookiegate.ledger.erase import erase_subject
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.log import ensure_sequenced
from cookiegate.ledger.models import ConsentEvent, SubjectLink
from cookiegate.ledger.receipts import verify_receipt
from cookiegate.sites.services import current_notice, publish_notice
from cookiegate.timeutil import utcnow
from tests.api.conftest import make_token
from tests.factories import make_site, record

OPTIONAL = ("analytics", "tracking", "marketing")


def decide(api, subject, *, action="save_selection", choices=None, expect=201, **extra):
    body = {"subject": subject, "language": "nl", "action": action, **extra}
    if choices is not None:
        body["choices"] = choices
    response = api.post("/events", json=body)
    assert response.status_code == expect, response.text
    return response.json()


def state(api, subject):
    response = api.post("/subjects/state", json={"subject": subject})
    assert response.status_code == 200, response.text
    return response.json()


def check(api, category, subjects, expect=200):
    response = api.post("/subjects/check", json={"category": category, "subjects": subjects})
    assert response.status_code == expect, response.text
    return response.json()


def new_id() -> str:
    return str(uuid.uuid4())


def test_a_recorded_decision_comes_with_a_verifiable_receipt(api, api_site):
    consent_id, event_id = new_id(), new_id()
    answer = decide(api, {"consent_id": consent_id, "account_id": "cust-1", "email": "Ann@Example.com"},
                    choices={"analytics": True}, event_id=event_id,
                    context={"origin": "https://shop.example", "path": "/checkout"})
    assert answer["event_id"] == event_id and answer["consent_id"] == consent_id
    assert answer["type"] == "given" and answer["duplicate"] is False and answer["time"].endswith("Z")
    ensure_sequenced(api_site)
    report = verify_receipt(token=answer["receipt"], keys=current_keys())
    assert report.ok, report.problems
    leaf = report.leaf
    key_id = api.token.split("_")[1]
    assert leaf["interaction"] == {"channel": "api", "layer": None, "action": "save_selection"}
    assert leaf["actor"] == {"type": "api_key", "source": f"api_key:{key_id}"}
    assert leaf["context"] == {"origin": "https://shop.example", "path": "/checkout"}
    assert leaf["decisions"]["analytics"] == {"granted": True, "basis": "consent"}
    assert leaf["decisions"]["tracking"] == {"granted": False, "basis": "consent"}
    links = db.session.execute(select(SubjectLink.kind, SubjectLink.key, SubjectLink.consent_id)
                               .where(SubjectLink.site_id == api_site.id)).all()
    assert sorted(links) == [("account", "cust-1", consent_id),
                             ("email", current_keys().email_hmac("ann@example.com"), consent_id)]
    assert "example.com" not in json.dumps(leaf).lower()


def test_a_retry_answers_the_recorded_event_and_a_reused_id_is_a_conflict(api, api_site):
    event_id = new_id()
    first = decide(api, {"account_id": "cust-2"}, action="accept_all", event_id=event_id)
    again = decide(api, {"account_id": "cust-2"}, action="reject_all", event_id=event_id, expect=200)
    assert again["duplicate"] is True
    assert {k: again[k] for k in ("event_id", "type", "consent_id", "time")} == \
           {k: first[k] for k in ("event_id", "type", "consent_id", "time")}
    by_consent = decide(api, {"consent_id": first["consent_id"]}, action="accept_all", event_id=event_id, expect=200)
    assert by_consent["duplicate"] is True
    for subject in ({"account_id": "cust-3"}, {"consent_id": new_id()}, {"email": "someone@example.com"}):
        refused = api.post("/events", json={"subject": subject, "language": "nl", "action": "accept_all",
                                            "event_id": event_id.upper()})
        assert refused.status_code == 409 and refused.json()["fields"] == {"event_id": "already used"}
    other_site = make_site()
    elsewhere = api.with_token(make_token(other_site)).post("/events", json={
        "subject": {"account_id": "cust-2"}, "language": "nl", "action": "accept_all", "event_id": event_id})
    assert elsewhere.status_code == 409
    assert db.session.execute(select(ConsentEvent.id).where(ConsentEvent.event_id == event_id)).all() != []
    assert len(db.session.execute(select(ConsentEvent.id).where(ConsentEvent.site_id == api_site.id)).all()) == 1


def test_subjects_resolve_through_account_and_email_links(api):
    first = decide(api, {"account_id": "cust-4", "email": "Bo@Example.org"}, action="accept_all")
    by_email = decide(api, {"email": " bo@example.ORG "}, action="save_selection", choices={"tracking": True})
    by_account = decide(api, {"account_id": "cust-4"}, action="withdraw")
    assert first["type"] == "given" and by_email["type"] == "updated" and by_account["type"] == "withdrawn"
    assert first["consent_id"] == by_email["consent_id"] == by_account["consent_id"]
    unrelated = decide(api, {"account_id": "cust-5"}, action="accept_all")
    assert unrelated["consent_id"] != first["consent_id"]


def test_state_per_category_by_consent_id_account_and_email(api):
    consent_id = new_id()
    decided = decide(api, {"consent_id": consent_id, "account_id": "cust-6", "email": "cy@example.net"},
                     choices={"analytics": True, "marketing": True})
    answers = [state(api, {"consent_id": consent_id.upper()}), state(api, {"account_id": "cust-6"}),
               state(api, {"email": "CY@example.NET"})]
    assert [a["subject"] for a in answers] == [{"consent_id": consent_id}, {"account_id": "cust-6"}, {"email": None}]
    for answer in answers:
        assert answer["found"] is True and answer["consent_id"] == consent_id
        assert answer["updated_at"] == decided["time"] and answer["notice"]["version"] == 1
        categories = answer["categories"]
        assert categories["necessary"] == {"granted": True, "basis": "exempt", "event_id": None,
                                           "expires": None, "expired": False}
        assert categories["analytics"]["granted"] is True and categories["marketing"]["granted"] is True
        assert categories["tracking"] == {**categories["analytics"], "granted": False}
        assert categories["analytics"]["event_id"] == decided["event_id"]
        assert categories["analytics"]["expires"] > decided["time"] and categories["analytics"]["expired"] is False
    assert "cy@example.net" not in json.dumps(answers).lower()


def test_the_latest_decision_over_all_linked_consent_ids_wins(api, api_site):
    phone, laptop = new_id(), new_id()
    decide(api, {"consent_id": phone, "account_id": "cust-7"}, action="accept_all")
    later = decide(api, {"consent_id": laptop, "account_id": "cust-7"}, action="reject_all")
    answer = state(api, {"account_id": "cust-7"})
    assert answer["consent_id"] == laptop and answer["categories"]["analytics"]["granted"] is False
    assert answer["categories"]["analytics"]["event_id"] == later["event_id"]
    record(api_site, consent_id=phone, choices={"analytics": True, "tracking": True, "marketing": True})
    assert state(api, {"account_id": "cust-7"})["consent_id"] == phone


def test_an_expired_consent_grants_nothing(live_server, openapi_spec, app_ctx):
    from tests.api.conftest import Api

    site = make_site(consent_lifetime_days=1)
    api = Api(live_server.url, make_token(site), openapi_spec)
    stale, fresh = new_id(), new_id()
    record(site, consent_id=stale, choices={"analytics": True, "tracking": True, "marketing": False},
           now=utcnow() - timedelta(days=2))
    record(site, consent_id=fresh, choices={"analytics": True, "tracking": True, "marketing": False})
    old = state(api, {"consent_id": stale})["categories"]
    assert old["analytics"]["granted"] is False and old["analytics"]["expired"] is True
    assert old["analytics"]["basis"] == "consent" and old["analytics"]["expires"] < utcnow().isoformat() + "Z"
    assert old["necessary"]["granted"] is True
    assert state(api, {"consent_id": fresh})["categories"]["analytics"]["granted"] is True
    results = check(api, "analytics", [{"consent_id": stale}, {"consent_id": fresh}])["results"]
    assert [r["granted"] for r in results] == [False, True]
    assert results[0]["expires"] == old["analytics"]["expires"]


def test_an_unknown_subject_has_only_the_exempt_categories(api):
    for subject in ({"consent_id": new_id()}, {"account_id": "nobody"}, {"email": "nobody@example.com"}):
        answer = state(api, subject)
        assert answer["found"] is False and answer["consent_id"] is None
        assert answer["notice"] is None and answer["updated_at"] is None
        assert answer["categories"]["necessary"]["granted"] is True
        for key in OPTIONAL:
            assert answer["categories"][key] == {"granted": False, "basis": "none", "event_id": None,
                                                 "expires": None, "expired": False}


def test_a_decision_from_an_exemption_that_ended_is_not_consent(api, api_site):
    api_site.analytics_exempt = True
    publish_notice(site=api_site)
    consent_id = new_id()
    decide(api, {"consent_id": consent_id}, action="reject_all")
    assert state(api, {"consent_id": consent_id})["categories"]["analytics"]["basis"] == "exempt"
    api_site.analytics_exempt = False
    publish_notice(site=api_site)
    assert state(api, {"consent_id": consent_id})["categories"]["analytics"] == {
        "granted": False, "basis": "none", "event_id": None, "expires": None, "expired": False}
    assert check(api, "analytics", [{"consent_id": consent_id}])["results"] == [
        {"granted": False, "event_id": None, "expires": None}]


def test_batch_check_answers_in_request_order(api):
    yes, no = new_id(), new_id()
    granted = decide(api, {"consent_id": yes, "account_id": "cust-8", "email": "di@example.com"},
                     choices={"marketing": True})
    refused = decide(api, {"consent_id": no}, choices={"marketing": False})
    subjects = [{"consent_id": no}, {"email": "DI@example.com"}, {"consent_id": new_id()}, {"account_id": "cust-8"},
                {"account_id": "stranger"}, {"consent_id": yes}, {"consent_id": yes}]
    answer = check(api, "marketing", subjects)
    assert answer["category"] == "marketing"
    yes_result = {"granted": True, "event_id": granted["event_id"], "expires": answer["results"][1]["expires"]}
    unknown = {"granted": False, "event_id": None, "expires": None}
    assert answer["results"] == [
        {"granted": False, "event_id": refused["event_id"], "expires": answer["results"][0]["expires"]},
        yes_result, unknown, yes_result, unknown, yes_result, yes_result]
    assert answer["results"][0]["expires"] is not None and yes_result["expires"] is not None
    assert check(api, "necessary", subjects[:3])["results"] == [{"granted": True, "event_id": None, "expires": None}] * 3
    assert check(api, "marketing", [])["results"] == []


def test_batch_check_refuses_bad_input(api):
    too_many = [{"consent_id": new_id()}] * 100_001
    response = api.post("/subjects/check", json={"category": "analytics", "subjects": too_many})
    assert response.status_code == 413 and "subjects" in response.json()["fields"]
    unknown = check(api, "cookies", [{"consent_id": new_id()}], expect=422)
    assert set(unknown["fields"]) == {"category"}
    bad = check(api, "analytics", [{"consent_id": "x"}, {"consent_id": new_id(), "account_id": "a"}, "me",
                                   {}, {"email": "no-at-sign"}, {"account_id": "x" * 65}], expect=422)
    assert set(bad["fields"]) == {"subjects.0.consent_id", "subjects.1", "subjects.2", "subjects.3",
                                  "subjects.4.email", "subjects.5.account_id"}
    many_bad = check(api, "analytics", [{"consent_id": "nope"}] * 500, expect=422)
    assert len(many_bad["fields"]) == 20


def test_history_pages_oldest_first_over_linked_consent_ids(api, api_site):
    first, second = new_id(), new_id()
    recorded = [decide(api, {"consent_id": first, "account_id": "cust-9"}, action="accept_all"),
                decide(api, {"consent_id": second, "account_id": "cust-9"}, action="reject_all"),
                decide(api, {"consent_id": first}, action="save_selection", choices={"analytics": True}),
                decide(api, {"consent_id": new_id()}, action="accept_all")]  # someone else
    pages, cursor = [], None
    while True:
        body = {"subject": {"account_id": "cust-9"}, "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = api.post("/subjects/history", json=body)
        assert response.status_code == 200, response.text
        pages.append(response.json()["events"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert [len(page) for page in pages] == [2, 1]
    events = [event for page in pages for event in page]
    assert [e["event_id"] for e in events] == [r["event_id"] for r in recorded[:3]]
    stored = db.session.execute(select(ConsentEvent).where(ConsentEvent.event_id == events[0]["event_id"])).scalar_one()
    assert events[0]["leaf"] == loads(stored.leaf) and events[0]["consent_id"] == first
    assert events[0]["leaf_hash"] == base64.b64encode(stored.leaf_hash).decode()
    assert events[0]["notice_sha256"] == current_notice(api_site).sha256
    only_first = api.post("/subjects/history", json={"subject": {"consent_id": first}}).json()
    assert [e["event_id"] for e in only_first["events"]] == [recorded[0]["event_id"], recorded[2]["event_id"]]
    assert only_first["next_cursor"] is None


def test_history_refuses_foreign_or_garbled_cursors(api):
    decide(api, {"account_id": "cust-10"}, action="accept_all")
    decide(api, {"account_id": "cust-10"}, action="reject_all")
    cursor = api.post("/subjects/history", json={"subject": {"account_id": "cust-10"}, "limit": 1}).json()["next_cursor"]
    assert cursor
    head, _, signature = cursor.rpartition(".")
    forged = head + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    for subject, bad in (({"account_id": "cust-11"}, cursor), ({"account_id": "cust-10"}, "garbage"),
                         ({"account_id": "cust-10"}, forged), ({"account_id": "cust-10"}, 12)):
        response = api.post("/subjects/history", json={"subject": subject, "cursor": bad})
        assert response.status_code == 422 and set(response.json()["fields"]) == {"cursor"}
    feed_cursor = api.get("/events", params={"limit": 1}).json()["next_cursor"]
    response = api.post("/subjects/history", json={"subject": {"account_id": "cust-10"}, "cursor": feed_cursor})
    assert response.status_code == 422


def test_feed_filters_and_pages_the_sites_events(api, api_site):
    subject = new_id()
    kinds = [decide(api, {"consent_id": subject}, action=a)["type"]
             for a in ("accept_all", "reject_all", "accept_all", "withdraw")]
    assert kinds == ["given", "withdrawn", "updated", "withdrawn"]
    api.with_token(make_token(make_site())).post("/events", json={
        "subject": {"consent_id": subject}, "language": "nl", "action": "accept_all"})  # another site's
    everything = api.get("/events").json()
    assert [e["type"] for e in everything["events"]] == kinds and everything["next_cursor"] is None
    withdrawn = api.get("/events", params={"type": "withdrawn,given"}).json()["events"]
    assert [e["type"] for e in withdrawn] == ["given", "withdrawn", "withdrawn"]
    times = [e["time"] for e in everything["events"]]
    window = api.get("/events", params={"since": times[1], "until": times[3]}).json()["events"]
    assert [e["time"] for e in window] == times[1:3]
    two_hours_later = times[1].replace("Z", "-02:00")  # the same wall-clock time, two hours west
    assert api.get("/events", params={"since": two_hours_later}).json()["events"] == []
    seen, cursors = [], [None]
    while True:
        page = api.get("/events", params={"limit": 3, **({"cursor": cursors[-1]} if cursors[-1] else {})}).json()
        seen += [e["event_id"] for e in page["events"]]
        if page["next_cursor"] is None:
            break
        cursors.append(page["next_cursor"])
    assert seen == [e["event_id"] for e in everything["events"]] and len(cursors) == 2
    foreign = api.with_token(make_token(make_site())).get("/events", params={"cursor": cursors[1]})
    assert foreign.status_code == 422 and set(foreign.json()["fields"]) == {"cursor"}


@pytest.mark.parametrize("params, fields", [
    ({"limit": "0"}, {"limit"}), ({"limit": "1001"}, {"limit"}), ({"limit": "ten"}, {"limit"}),
    ({"limit": "99999999999999999999"}, {"limit"}), ({"since": "yesterday"}, {"since"}),
    ({"until": "2026-02-30T00:00:00Z"}, {"until"}), ({"since": "2026-01-01"}, {"since"}),
    ({"type": "given,eaten"}, {"type"}), ({"type": ""}, {"type"}), ({"cursor": "x" * 300}, {"cursor"}),
    ({"consent_id": str(uuid.UUID(int=1))}, {"consent_id"}),
    ({"limit": "-1", "since": "0000-01-01T00:00:00Z", "type": "x"}, {"limit", "since", "type"}),
])
def test_feed_parameters_are_checked(api, params, fields):
    response = api.get("/events", params=params)
    assert response.status_code == 422
    assert set(response.json()["fields"]) == fields


@pytest.mark.parametrize("body, fields", [
    ({}, {"subject", "language", "action"}),
    ({"subject": {}, "language": "nl", "action": "accept_all"}, {"subject"}),
    ({"subject": {"consent_id": "nope"}, "language": "de", "action": "accept_all"}, {"subject.consent_id", "language"}),
    ({"subject": {"phone": "1"}, "language": "nl", "action": "accept_all"}, {"subject.phone"}),
    ({"subject": {"account_id": "a\u0000b"}, "language": "nl", "action": "accept_all"}, {"subject.account_id"}),
    ({"subject": {"email": "\ud800@example.com"}, "language": "nl", "action": "accept_all"}, {"subject.email"}),
    ({"subject": {"account_id": "a"}, "language": "nl", "action": "one_click"}, {"action"}),
    ({"subject": {"account_id": "a"}, "language": "nl", "action": "accept_all", "choices": {"marketing": False}},
     {"choices"}),
    ({"subject": {"account_id": "a"}, "language": "nl", "action": "save_selection", "choices": {"necessary": True}},
     {"choices"}),
    ({"subject": {"account_id": "a"}, "language": "nl", "action": "save_selection", "choices": {"analytics": 1}},
     {"choices"}),
    ({"subject": {"account_id": "a"}, "language": "nl", "action": "accept_all", "notice": "0" * 63}, {"notice"}),
    ({"subject": {"account_id": "a"}, "language": "nl", "action": "accept_all", "event_id": 7}, {"event_id"}),
    ({"subject": {"account_id": "a"}, "language": "nl", "action": "accept_all",
      "context": {"origin": "javascript:alert(1)", "path": "checkout"}}, {"context.origin", "context.path"}),
    ({"subject": {"account_id": "a"}, "language": "nl", "action": "accept_all", "context": {"ip": "1.2.3.4"}},
     {"context"}),
    ({"subject": {"account_id": "a"}, "language": "nl", "action": "accept_all", "extra": 1}, {"extra"}),
])
def test_decision_validation_names_each_field(api, api_site, body, fields):
    response = api.post("/events", json=body)
    assert response.status_code == 422, response.text
    assert set(response.json()["fields"]) == fields
    assert db.session.execute(select(ConsentEvent.id).where(ConsentEvent.site_id == api_site.id)).all() == []


@pytest.mark.parametrize("path, body, fields", [
    ("/subjects/state", {}, {"subject"}),
    ("/subjects/state", {"subject": {"consent_id": new_id(), "account_id": "a"}}, {"subject"}),
    ("/subjects/state", {"subject": ["a"]}, {"subject"}),
    ("/subjects/state", {"subject": {"account_id": "a"}, "limit": 1}, {"limit"}),
    ("/subjects/check", {"category": ["analytics"], "subjects": []}, {"category"}),
    ("/subjects/check", {"category": "analytics", "subjects": {"consent_id": new_id()}}, {"subjects"}),
    ("/subjects/history", {"subject": {"account_id": "a"}, "limit": 0}, {"limit"}),
    ("/subjects/history", {"subject": {"account_id": "a"}, "limit": 501}, {"limit"}),
    ("/subjects/history", {"subject": {"account_id": "a"}, "limit": True}, {"limit"}),
    ("/subjects/history", {"subject": {"account_id": "a"}, "limit": "5"}, {"limit"}),
])
def test_query_bodies_are_checked(api, path, body, fields):
    response = api.post(path, json=body)
    assert response.status_code == 422, response.text
    assert set(response.json()["fields"]) == fields


@pytest.mark.parametrize("path", ["/events", "/subjects/state", "/subjects/check", "/subjects/history"])
def test_bodies_must_be_json_objects(api, path):
    assert api.post(path, data=b"{", headers={"Content-Type": "application/json"}).status_code == 400
    assert api.post(path, json=[1]).status_code == 400
    response = api.post(path, data=b"subject=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400 and "Content-Type" in response.json()["fields"]


def test_a_decision_names_a_notice_of_the_site(api, api_site):
    old = current_notice(api_site)
    api_site.analytics_exempt = True
    publish_notice(site=api_site)
    answer = decide(api, {"consent_id": new_id()}, action="accept_all", notice=old.sha256)
    leaf = loads(db.session.execute(select(ConsentEvent.leaf).where(ConsentEvent.event_id == answer["event_id"])).scalar_one())
    assert leaf["notice"]["sha256"] == old.sha256 and leaf["decisions"]["analytics"]["basis"] == "consent"
    foreign = current_notice(make_site()).sha256
    for sha256 in (foreign, "0" * 64):
        response = api.post("/events", json={"subject": {"account_id": "a"}, "language": "nl",
                                             "action": "accept_all", "notice": sha256})
        assert response.status_code == 404 and set(response.json()["fields"]) == {"notice"}


def test_each_operation_needs_its_scope(api, api_site):
    reader = api.with_token(make_token(api_site, ["consent:read"]))
    writer = api.with_token(make_token(api_site, ["consent:write"]))
    assert reader.post("/events", json={"subject": {"account_id": "a"}, "language": "nl",
                                        "action": "accept_all"}).status_code == 403
    assert writer.post("/events", json={"subject": {"account_id": "a"}, "language": "nl",
                                        "action": "accept_all"}).status_code == 201
    for path, body in (("/subjects/state", {"subject": {"account_id": "a"}}),
                       ("/subjects/check", {"category": "analytics", "subjects": []}),
                       ("/subjects/history", {"subject": {"account_id": "a"}})):
        assert writer.post(path, json=body).status_code == 403
        assert reader.post(path, json=body).status_code == 200
    assert writer.get("/events").status_code == 403 and reader.get("/events").status_code == 200


def test_another_sites_key_sees_nothing(api, api_site):
    consent_id = new_id()
    decide(api, {"consent_id": consent_id, "account_id": "cust-12"}, action="accept_all")
    other = api.with_token(make_token(make_site()))
    assert other.post("/subjects/state", json={"subject": {"account_id": "cust-12"}}).json()["found"] is False
    assert other.post("/subjects/state", json={"subject": {"consent_id": consent_id}}).json()["found"] is False
    assert other.post("/subjects/history", json={"subject": {"consent_id": consent_id}}).json()["events"] == []
    assert other.get("/events").json()["events"] == []


def test_erasing_a_subject_unlinks_its_account_and_address(api, api_site):
    answer = decide(api, {"account_id": "cust-13", "email": "ed@example.com"}, action="accept_all")
    assert state(api, {"email": "ed@example.com"})["found"] is True
    erase_subject(site=api_site, consent_id=answer["consent_id"])
    assert state(api, {"email": "ed@example.com"})["found"] is False
    assert state(api, {"account_id": "cust-13"})["found"] is False
    assert state(api, {"consent_id": answer["consent_id"]})["found"] is True  # the event itself stays
    assert db.session.execute(select(SubjectLink).where(SubjectLink.site_id == api_site.id)).all() == []


def test_the_document_names_each_operations_scope(app):
    from cookiegate.api.consent_spec import PATHS

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
