"""API keys: created with a secret shown once and stored hashed, scoped, revocable, last use kept;
the bearer check and the one JSON error shape."""
from __future__ import annotations

import hashlib
import re
import uuid

import flask_limiter

import pytest
import requests
from click.testing import CliRunner
from flask import request
from sqlalchemy import select

from cookiegate.api.keys import (authenticate, authenticate_with_latest, create_api_key, list_api_keys,
                                 revoke_api_key)
from cookiegate.api.models import ApiKey
from cookiegate.cli import main
from cookiegate.errors import CookiegateError, ValidationError
from cookiegate.extensions import db
from tests.api.conftest import make_token
from tests.factories import make_site, record


def test_the_secret_is_stored_only_as_a_hash(api_site):
    issued = create_api_key(site=api_site, scopes=["consent:read"], label="mailer")
    stored = db.session.execute(select(ApiKey).where(ApiKey.key_id == issued.key.key_id)).scalar_one()
    secret = issued.token[len("cgk_") + 17:]  # the secret itself may contain "_"
    assert secret.encode() not in stored.secret_hash and len(stored.secret_hash) == 32
    assert stored.secret_hash == hashlib.sha256(secret.encode()).digest()
    assert stored.scopes == ["consent:read"] and stored.label == "mailer" and stored.last_used_at is None


@pytest.mark.parametrize("scopes", [[], ["consent:read", "admin:all"], ["everything"]])
def test_unknown_or_no_scopes_are_refused(api_site, scopes):
    with pytest.raises(ValidationError) as caught:
        create_api_key(site=api_site, scopes=scopes)
    assert "scopes" in caught.value.fields
    assert list_api_keys(site=api_site) == []


def test_authenticate_notes_last_use_and_refuses_a_revoked_key(api_site):
    token = make_token(api_site, ["ledger:read"])
    key = authenticate(f"Bearer {token}")
    assert key.site_id == api_site.id and key.last_used_at is not None
    revoke_api_key(key_id=key.key_id)
    with pytest.raises(CookiegateError) as caught:
        authenticate(f"Bearer {token}")
    assert caught.value.status == 401


def test_the_key_check_reads_the_latest_event_of_a_consent_id_of_its_own_site_only(api_site):
    token = make_token(api_site, ["consent:read"])
    mine, theirs, unknown = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    record(api_site, consent_id=mine)
    latest = record(api_site, consent_id=mine, choices={"analytics": False, "tracking": False, "marketing": False})
    record(make_site(), consent_id=theirs)

    key, row = authenticate_with_latest(f"Bearer {token}", mine)
    assert key.site_id == api_site.id and key.scopes == ("consent:read",)
    assert row[:2] == (latest.event_id, mine) and row[2] == latest.leaf_text
    assert authenticate_with_latest(f"Bearer {token}", theirs)[1] is None  # another site's subject
    assert authenticate_with_latest(f"Bearer {token}", unknown)[1] is None
    revoke_api_key(key_id=key.key_id)
    with pytest.raises(CookiegateError) as caught:
        authenticate_with_latest(f"Bearer {token}", mine)
    assert caught.value.status == 401


def test_api_requests_skip_flask_limiters_walk_and_pages_keep_it(app, api_site, monkeypatch):
    walks = []
    original = flask_limiter.Limiter._check_request_limit
    monkeypatch.setattr(flask_limiter.Limiter, "_check_request_limit",
                        lambda self, *args, **kwargs: walks.append(request.path) or original(self, *args, **kwargs))
    client = app.test_client()
    token = make_token(api_site, ["consent:read"])
    answer = client.post("/api/v1/subjects/state", json={"subject": {"consent_id": str(uuid.uuid4())}},
                         headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and walks == []
    assert client.get(f"/s/{api_site.slug}/").status_code == 200 and walks == [f"/s/{api_site.slug}/"]


def test_api_answers_do_not_vary_on_cookies_and_pages_that_read_the_session_do(app, api_site):
    client = app.test_client()
    token = make_token(api_site, ["consent:read"])
    for body, headers in (({"subject": {"consent_id": str(uuid.uuid4())}}, {"Authorization": f"Bearer {token}"}),
                          ({"subject": {}}, {"Authorization": f"Bearer {token}"}), ({}, {})):  # 200, 422, 401
        answer = client.post("/api/v1/subjects/state", json=body, headers=headers)
        assert answer.status_code in (200, 401, 422) and "Cookie" not in answer.headers.get("Vary", ""), answer.status
    script = client.get(f"/s/{api_site.slug}/banner.js")
    assert script.status_code == 200 and script.headers["Vary"] == "Accept-Language"
    page = client.get(f"/s/{api_site.slug}/")  # its form's CSRF token lives in the session
    assert page.status_code == 200 and "Cookie" in page.headers["Vary"]


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic abc", "Bearer cgk_0123456789abcdef_short",
                                    "Bearer cgk_0123456789abcdef_" + "A" * 43])
def test_malformed_or_unknown_tokens_get_401(api_site, header):
    with pytest.raises(CookiegateError) as caught:
        authenticate(header)
    assert caught.value.status == 401


def test_a_wrong_secret_for_a_real_key_id_gets_401(api_site):
    token = make_token(api_site)
    with pytest.raises(CookiegateError):
        authenticate("Bearer " + token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))


def test_cli_create_list_revoke(app, api_site):
    runner = CliRunner()
    created = runner.invoke(main, ["api-key", "create", "--site", api_site.slug, "--scope", "consent:read",
                                   "--scope", "ledger:read", "--label", "mailer"], obj=_script_info(app))
    assert created.exit_code == 0, created.output
    token = next(line.split()[-1] for line in created.output.splitlines() if line.startswith("token:"))
    key_id = token.split("_")[1]
    listed = runner.invoke(main, ["api-key", "list", "--site", api_site.slug], obj=_script_info(app))
    assert key_id in listed.output and "active" in listed.output and "consent:read,ledger:read" in listed.output
    assert token[len("cgk_") + 17:] not in listed.output
    revoked = runner.invoke(main, ["api-key", "revoke", key_id], obj=_script_info(app))
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    listed = runner.invoke(main, ["api-key", "list", "--site", api_site.slug], obj=_script_info(app))
    assert "revoked" in listed.output
    bad = runner.invoke(main, ["api-key", "create", "--site", api_site.slug, "--scope", "nope"], obj=_script_info(app))
    assert bad.exit_code != 0 and "nope" in bad.output
    missing = runner.invoke(main, ["api-key", "revoke", "0000000000000000"], obj=_script_info(app))
    assert missing.exit_code != 0 and "No API key" in missing.output


def _script_info(app):
    from flask.cli import ScriptInfo
    return ScriptInfo(create_app=lambda: app)


def test_unknown_api_path_is_404_json(live_server):
    response = requests.get(live_server.url + "/api/v1/no-such-thing", timeout=10)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_openapi_document_is_valid_openapi_31(openapi_doc):
    from openapi_spec_validator import validate

    validate(openapi_doc)
    assert openapi_doc["openapi"] == "3.1.0"


def test_docs_page_renders_without_third_party_assets(live_server, openapi_doc):
    for lang in ("en", "nl"):
        response = requests.get(live_server.url + f"/api/v1/docs?lang={lang}", timeout=10)
        assert response.status_code == 200 and "text/html" in response.headers["Content-Type"]
        for path in openapi_doc["paths"]:
            assert path in response.text
        loaded = re.findall(r'<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)="([^"]*)"', response.text)
        assert loaded and all(url.startswith("/") and not url.startswith("//") for url in loaded), loaded
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("path", ["/api/v1/subjects/state", "/api/v1/events"])
def test_a_bad_key_is_401_before_any_body_error_on_the_paths_that_read_ahead(app, api_site, path):
    client = app.test_client()
    token = make_token(api_site, ["consent:read", "consent:write"])
    consent_id = str(uuid.uuid4())
    record(api_site, consent_id=consent_id)
    good = {"subject": {"consent_id": consent_id.upper()}}
    revoked = make_token(api_site, ["consent:read", "consent:write"])
    revoke_api_key(key_id=revoked.split("_")[1])
    for headers in ({}, {"Authorization": f"Bearer {revoked}"},
                    {"Authorization": "Bearer cgk_0123456789abcdef_" + "A" * 43}):
        for body in (good, {"subject": {"consent_id": "not-a-uuid"}}):
            answer = client.post(path, json=body, headers=headers)
            assert answer.status_code == 401 and consent_id not in answer.get_data(as_text=True)
    authorised = {"Authorization": f"Bearer {token}"}
    assert client.post(path, data="{", headers={**authorised, "Content-Type": "application/json"}).status_code == 400
    assert client.post(path, json={"subject": {"consent_id": "not-a-uuid"}}, headers=authorised).status_code == 422
    if path.endswith("state"):  # the upper-case id read ahead answers as the stored lower-case one
        answer = client.post(path, json=good, headers=authorised)
        assert answer.status_code == 200 and answer.get_json()["consent_id"] == consent_id
