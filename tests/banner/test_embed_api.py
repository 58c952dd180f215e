"""The embed endpoints through the Flask test client: GET /s/<slug>/banner.js (one language,
ETag, revalidation, the notice hash) and POST /s/<slug>/consent.json (declared origins only,
CORS, validation, idempotent resends, older notices)."""
from __future__ import annotations

import json
import re
import uuid

import pytest

from cookiegate.sites.services import current_notice, publish_notice
from tests.banner.conftest import decisions, site_events
from tests.banner.embed_support import ALL_GRANTED, decision_body

ORIGIN = "http://127.0.0.1:5001"  # the factory site's declared origin
CONFIG_RE = re.compile(r'\{"site":.*\}(?=\);?\s*$)', re.S)


def script(client, site, query: str = "", **headers):
    return client.get(f"/s/{site.slug}/banner.js{query}", headers=headers)


def config_of(response) -> dict:
    """The configuration object inlined into the script (the JSON in place of the placeholder)."""
    body = response.get_data(as_text=True)
    match = CONFIG_RE.search(body)
    assert match, "no inlined configuration found"
    return json.loads(match.group(0).replace("<\\/", "</"))


def post(client, site, body, origin: str | None = ORIGIN, **headers):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    if origin is not None:
        headers["Origin"] = origin
    return client.post(f"/s/{site.slug}/consent.json", data=data, headers=headers,
                       content_type="text/plain")  # what the script sends: no preflight


def assert_json_error(response, status: int, code: str, fields: set[str] = frozenset()):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()
    assert set(error) == {"error", "message", "fields"}
    assert error["error"] == code and error["message"]
    assert set(error["fields"]) == set(fields), error["fields"]
    return error


# --- the script -------------------------------------------------------------------------------

def test_script_is_revalidated_by_etag(client, site):
    first = script(client, site, "?lang=nl")
    assert first.status_code == 200
    assert first.mimetype == "text/javascript"
    assert first.headers["Cache-Control"] == "no-cache"
    assert "Accept-Language" in first.headers["Vary"]
    etag = first.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)

    again = script(client, site, "?lang=nl", **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == etag

    other_language = script(client, site, "?lang=en", **{"If-None-Match": etag})
    assert other_language.status_code == 200 and other_language.headers["ETag"] != etag


def test_query_language_wins_over_accept_language(client, site):
    dutch = config_of(script(client, site, **{"Accept-Language": "nl-NL,nl;q=0.9"}))
    assert (dutch["lang"], dutch["fixed"]) == ("nl", False)
    assert dutch["t"]["accept_all"] == "Alles accepteren"
    assert dutch["t"]["title"] == "Cookies bij Testwinkel"
    assert dutch["cats"][1]["name"] == "Statistieken"

    english = config_of(script(client, site, **{"Accept-Language": "en-GB,en;q=0.8"}))
    assert (english["lang"], english["t"]["accept_all"], english["t"]["more"]) == ("en", "Accept all", "Which cookies?")
    assert english["cats"][1]["name"] == "Statistics"

    forced = config_of(script(client, site, "?lang=en", **{"Accept-Language": "nl"}))
    assert (forced["lang"], forced["fixed"], forced["t"]["title"]) == ("en", True, "Cookies at Testwinkel")

    unknown = config_of(script(client, site, "?lang=de", **{"Accept-Language": "de-DE"}))
    assert (unknown["lang"], unknown["fixed"]) == ("nl", False)  # the site's default


def test_script_holds_the_current_notice_and_changes_with_it(client, site):
    old = current_notice(site)
    before = script(client, site, "?lang=en")
    assert old.sha256 in before.get_data(as_text=True)
    assert config_of(before)["notice"] == old.sha256

    site.policy_version = "2027-01"
    new = publish_notice(site=site)
    after = script(client, site, "?lang=en", **{"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert after.headers["ETag"] != before.headers["ETag"]
    assert (config_of(after)["notice"], config_of(after)["version"]) == (new.sha256, 2)
    assert old.sha256 not in after.get_data(as_text=True)


def test_script_inlines_styles_and_endpoints_and_no_placeholder(client, site):
    body = script(client, site, "?lang=nl").get_data(as_text=True)
    config = config_of(script(client, site, "?lang=nl"))
    assert "__COOKIEGATE_CONFIG__" not in body
    assert ".banner{" in config["css"]
    assert config["post"].endswith(f"/s/{site.slug}/consent.json")
    assert {c["name"] for c in config["cookies"]} >= {"_pk_id", "_fbp", "_gcl_au", "cg_consent"}


# --- the decision post ------------------------------------------------------------------------

def test_valid_post_from_declared_origin_is_recorded(client, site):
    body = decision_body(site, current_notice(site).sha256, gpc=True)
    response = post(client, site, body)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.get_json() == {"event_id": body["id"], "type": "given"}

    [recorded] = site_events(site)
    leaf = recorded.leaf
    assert leaf["event_id"] == body["id"]
    assert leaf["subject"] == {"consent_id": body["consent_id"]}
    assert leaf["decisions"] == decisions({"analytics", "tracking", "marketing"})
    assert leaf["context"] == {"origin": ORIGIN, "path": "/winkel/"}
    assert leaf["interaction"] == {"channel": "banner", "layer": 1, "action": "accept_all"}
    assert leaf["notice"] == {"sha256": current_notice(site).sha256, "version": 1, "language": "nl"}
    assert leaf["signals"] == {"gpc": True, "consent_mode": ALL_GRANTED}


def test_sec_gpc_header_counts_as_gpc(client, site):
    body = decision_body(site, current_notice(site).sha256, gpc=False)
    assert post(client, site, body, **{"Sec-GPC": "1"}).status_code == 201
    assert site_events(site)[0].leaf["signals"]["gpc"] is True


def _bad_bodies(sha: str) -> list[tuple[str, dict, set[str]]]:
    return [
        ("id", {"id": "not-a-uuid"}, {"id"}),
        ("id-number", {"id": 12345678123456781234567812345678}, {"id"}),
        ("consent_id", {"consent_id": None}, {"consent_id"}),
        ("notice-format", {"notice": "abc"}, {"notice"}),
        ("notice-newline", {"notice": sha + "\n"}, {"notice"}),
        ("notice-unknown", {"notice": "0" * 64}, {"notice"}),
        ("lang", {"lang": "de"}, {"lang"}),
        ("action", {"action": "click"}, {"action"}),
        ("layer", {"layer": 3}, {"layer"}),
        ("layer-bool", {"layer": True}, {"layer"}),
        ("choices-missing", {"choices": {"analytics": True}}, {"choices"}),
        ("choices-necessary", {"choices": {"necessary": True, "analytics": True, "tracking": True,
                                           "marketing": True}}, {"choices"}),
        ("choices-not-bool", {"choices": {"analytics": 1, "tracking": True, "marketing": True}}, {"choices"}),
        ("gpc", {"gpc": "yes"}, {"gpc"}),
        ("consent_mode-key", {"consent_mode": {"ad_storage": "granted", "cookies": "granted"}}, {"consent_mode"}),
        ("consent_mode-value", {"consent_mode": {"ad_storage": "yes"}}, {"consent_mode"}),
        ("path", {"path": "winkel"}, {"path"}),
        ("several", {"id": 1, "lang": None, "layer": "1"}, {"id", "lang", "layer"}),
    ]


@pytest.mark.parametrize("case", range(len(_bad_bodies("0" * 64))), ids=[c[0] for c in _bad_bodies("0" * 64)])
def test_post_names_every_bad_field_and_writes_nothing(client, site, case):
    sha = current_notice(site).sha256
    _name, override, bad = _bad_bodies(sha)[case]
    response = post(client, site, decision_body(site, sha, **override))
    assert_json_error(response, 422, "invalid", bad)
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN  # the script may read why
    assert site_events(site) == []


@pytest.mark.parametrize("raw", [b"", b"{not json", b"[1, 2]", b'"text"', "\u00e9".encode("latin-1")])
def test_post_refuses_a_body_that_is_no_json_object(client, site, raw):
    assert_json_error(post(client, site, raw), 422, "invalid")
    assert site_events(site) == []


def test_preflight_from_declared_origin_gets_cors_headers(client, site):
    response = client.options(f"/s/{site.slug}/consent.json", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()
    assert "Origin" in response.headers["Vary"]
    assert site_events(site) == []


@pytest.mark.parametrize("origin", ["http://127.0.0.1:5002", "https://127.0.0.1:5001", "null", None])
def test_undeclared_origin_is_refused_and_records_nothing(client, site, origin):
    body = decision_body(site, current_notice(site).sha256)
    response = post(client, site, body, origin=origin)
    assert_json_error(response, 403, "origin_not_allowed", {"Origin"})
    assert "Access-Control-Allow-Origin" not in response.headers

    preflight = client.options(f"/s/{site.slug}/consent.json",
                               headers={"Origin": origin or "", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 403
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert site_events(site) == []


def test_another_sites_origin_is_refused(client, app_ctx):
    from tests.factories import make_site

    ours, theirs = make_site(allowed_origins=["https://ours.example"]), make_site(allowed_origins=[ORIGIN])
    response = post(client, ours, decision_body(ours, current_notice(ours).sha256), origin=ORIGIN)
    assert_json_error(response, 403, "origin_not_allowed", {"Origin"})
    assert site_events(ours) == [] and site_events(theirs) == []


def test_resend_with_the_same_id_records_once(client, site):
    body = decision_body(site, current_notice(site).sha256)
    first, second = post(client, site, body), post(client, site, body)
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.get_json() == {"event_id": body["id"], "type": "given", "duplicate": True}
    assert second.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert len(site_events(site)) == 1

    # The same event id for another subject is not a resend: refused, nothing written.
    hijack = post(client, site, {**body, "consent_id": str(uuid.uuid4())})
    assert_json_error(hijack, 409, "conflict", {"id"})
    assert len(site_events(site)) == 1


def test_previous_notice_is_accepted_and_recorded_against_it(client, site):
    old = current_notice(site)
    site.policy_version = "2027-01"
    new = publish_notice(site=site)
    assert new.sha256 != old.sha256

    body = decision_body(site, old.sha256, action="reject_all",
                         choices={"analytics": False, "tracking": False, "marketing": False})
    response = post(client, site, body)
    assert response.status_code == 201
    assert response.get_json()["type"] == "refused"
    [recorded] = site_events(site)
    assert recorded.event.notice_sha256 == old.sha256
    assert recorded.leaf["notice"] == {"sha256": old.sha256, "version": 1, "language": "nl"}
    assert recorded.leaf["decisions"] == decisions()


def test_choices_are_checked_against_the_notice_shown(client, app_ctx):
    """A site that drops a category later still accepts decisions made under the older notice."""
    from tests.factories import make_site

    site = make_site(allowed_origins=[ORIGIN])
    old = current_notice(site)
    site.categories = [c for c in site.categories if c.key != "tracking"]
    site.cookies = [c for c in site.cookies if c.category_key != "tracking"]
    new = publish_notice(site=site)

    under_old = decision_body(site, old.sha256)  # analytics, tracking and marketing
    assert post(client, site, under_old).status_code == 201
    under_new = decision_body(site, new.sha256, choices={"analytics": True, "marketing": True})
    assert post(client, site, under_new).status_code == 201
    mixed = decision_body(site, new.sha256)  # tracking is no category of the new notice
    assert_json_error(post(client, site, mixed), 422, "invalid", {"choices"})
    assert [r.leaf["notice"]["version"] for r in site_events(site)] == [1, 2]


def test_unknown_site_answers_the_script_with_a_json_error(client):
    response = client.post("/s/no-such-shop/consent.json", data="{}", headers={"Origin": ORIGIN})
    assert_json_error(response, 404, "not_found")


def test_fetching_the_script_in_a_language_sets_no_language_cookie(client, site):
    response = script(client, site, "?lang=en")
    assert response.status_code == 200
    assert "cg_lang" not in response.headers.get("Set-Cookie", "")
    page = client.get(f"/s/{site.slug}/?lang=en")
    assert "cg_lang=en" in page.headers.get("Set-Cookie", "")
