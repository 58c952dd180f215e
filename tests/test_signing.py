"""Signed values: the serializers built once (cookiegate.signing) read and write itsdangerous'
own format, the session and consent cookies signed before still read, and the CSRF check
(cookiegate.csrf) takes and refuses exactly the tokens Flask-WTF's own check does."""
from __future__ import annotations

import time

import pytest
from flask import session
from flask.sessions import SecureCookieSessionInterface, session_json_serializer
from flask_wtf.csrf import generate_csrf
from flask_wtf.csrf import validate_csrf as flask_wtf_validate_csrf
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeSerializer, URLSafeTimedSerializer
from wtforms import ValidationError

from cookiegate import csrf, signing
from cookiegate.banner.services import ConsentState, consent_cookie_value, read_consent_cookie

SMALL = {"csrf_token": "a" * 40, "_flashes": [["message", "x" * 100]]}  # compressible, but small
LARGE = {"text": "lorem ipsum " * 200}


def pairs():
    """(ours, itsdangerous' own) with the same keys and salt, untimed and timed."""
    return [(signing.Serializer("key", salt="salt"), URLSafeSerializer("key", salt="salt")),
            (signing.TimedSerializer("key", salt="salt"), URLSafeTimedSerializer("key", salt="salt"))]


@pytest.mark.parametrize("ours, theirs", pairs())
def test_values_signed_here_read_with_itsdangerous_and_back(ours, theirs):
    for value in (SMALL, LARGE):
        assert theirs.loads(ours.dumps(value)) == value
        assert ours.loads(theirs.dumps(value)) == value
        assert ours.loads(ours.dumps(value)) == value  # the kept signer and key, a second time
    assert theirs.dumps(SMALL).startswith(".") and not ours.dumps(SMALL).startswith(".")
    assert ours.dumps(LARGE).startswith(".")  # large payloads are still compressed


def test_the_same_value_signs_to_the_same_bytes_as_itsdangerous():
    """Our signers hand SHA-1 to OpenSSL through hashlib's constructor (itsdangerous passes a
    function of its own, which the hmac module runs in Python): the signature is the same."""
    ours, theirs = pairs()[0]
    assert ours.dumps(LARGE) == theirs.dumps(LARGE)
    assert ours.make_signer().sign(b"value") == theirs.make_signer().sign(b"value")


@pytest.mark.parametrize("ours, theirs", pairs())
def test_tampered_or_foreign_values_are_refused(ours, theirs):
    value = ours.dumps(SMALL)
    payload, _, signature = value.rpartition(".")
    forged = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    other_key = type(ours)("other key", salt="salt").dumps(SMALL)
    other_salt = type(ours)("key", salt="other salt").dumps(SMALL)
    for bad in (forged, other_key, other_salt, value.replace(".", "", 1)):
        with pytest.raises(BadSignature):
            ours.loads(bad)
        with pytest.raises(BadSignature):
            theirs.loads(bad)


def test_rotated_keys_still_read_and_the_newest_signs():
    old = signing.TimedSerializer("old", salt="salt").dumps(SMALL)
    both = signing.TimedSerializer(["old", "new"], salt="salt")
    assert both.loads(old) == SMALL
    assert URLSafeTimedSerializer("new", salt="salt").loads(both.dumps(SMALL)) == SMALL


def test_max_age_is_checked(monkeypatch):
    ours = signing.TimedSerializer("key", salt="salt")
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 120)
        aged = ours.dumps(SMALL)
    assert ours.loads(aged, max_age=600) == SMALL
    with pytest.raises(SignatureExpired):
        ours.loads(aged, max_age=60)


def stock_session_serializer(app, slug: str) -> URLSafeTimedSerializer:
    """What Flask's own cookie session would sign a site's session with."""
    stock = SecureCookieSessionInterface
    return URLSafeTimedSerializer(app.secret_key, salt=f"{stock.salt}:site:{slug}", serializer=session_json_serializer,
                                  signer_kwargs={"key_derivation": stock.key_derivation,
                                                 "digest_method": stock.digest_method})


def test_site_session_reads_cookies_signed_before_and_signs_the_same_way(app):
    stock = stock_session_serializer(app, "shop")
    data = {"csrf_token": "b" * 40, "_flashes": [("message", "Your choice has been saved.")]}
    before = stock.dumps(data)
    assert before.startswith(".")  # Flask compresses it
    with app.test_request_context("/s/shop/", headers={"Cookie": f"cg_session={before}"}) as ctx:
        opened = app.session_interface.open_session(app, ctx.request)
        assert dict(opened) == data
        ours = app.session_interface.get_signing_serializer(app).dumps(data)
    assert stock.loads(ours) == data
    with app.test_request_context("/s/other/", headers={"Cookie": f"cg_session={before}"}) as ctx:
        assert dict(app.session_interface.open_session(app, ctx.request)) == {}  # another site's


def test_consent_cookie_signed_before_still_reads():
    class Shop:
        slug = "shop"

    state = ConsentState(consent_id="9b2f3c4d-1e5a-4b6c-8d7e-0f1a2b3c4d5e", notice_version=2,
                         choices={"analytics": True, "tracking": False, "marketing": True},
                         event_id="0190f3a0-0000-7000-8000-000000000001", decided_at=1_700_000_000, gpc=True)
    old = URLSafeSerializer("secret", salt="cookiegate.consent.shop").dumps({
        "id": state.consent_id, "v": 2, "e": state.event_id, "c": {"analytics": 1, "tracking": 0, "marketing": 1},
        "t": 1_700_000_000, "g": 1})
    assert old.startswith(".")  # as written before: compressed
    assert read_consent_cookie(secret="secret", site=Shop, value=old) == state
    new = consent_cookie_value(secret="secret", site=Shop, state=state)
    assert URLSafeSerializer("secret", salt="cookiegate.consent.shop").loads(new)["id"] == state.consent_id
    assert read_consent_cookie(secret="secret", site=Shop, value=new) == state
    assert read_consent_cookie(secret="other", site=Shop, value=new) is None


def reason(check, token) -> str | None:
    try:
        check(token)
    except ValidationError as error:
        return error.args[0]
    return None


def test_csrf_tokens_are_interchangeable_with_flask_wtf(app):
    with app.test_request_context("/s/shop/consent", method="POST"):
        issued = generate_csrf()  # as the templates' csrf_token() issues it
        assert reason(csrf.validate_csrf, issued) is None
        signed_here = csrf._serializer(app.secret_key).dumps(session["csrf_token"])
        assert reason(flask_wtf_validate_csrf, signed_here) is None
        assert reason(csrf.validate_csrf, signed_here) is None


def test_csrf_check_refuses_what_flask_wtf_refuses(app, monkeypatch):
    with app.test_request_context("/s/shop/consent", method="POST"):
        token = generate_csrf()
        payload, _, signature = token.rpartition(".")
        other_session = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps("c" * 40)
        other_secret = URLSafeTimedSerializer("another secret", salt="wtf-csrf-token").dumps(session["csrf_token"])
        with monkeypatch.context() as patch:
            patch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 7200)
            aged = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(session["csrf_token"])
        monkeypatch.setitem(app.config, "WTF_CSRF_TIME_LIMIT", 3600)
        cases = {None: "The CSRF token is missing.", "": "The CSRF token is missing.",
                 payload + "." + signature[::-1]: "The CSRF token is invalid.",
                 other_secret: "The CSRF token is invalid.", "garbage": "The CSRF token is invalid.",
                 other_session: "The CSRF tokens do not match.", aged: "The CSRF token has expired."}
        for bad, expected in cases.items():
            assert reason(csrf.validate_csrf, bad) == reason(flask_wtf_validate_csrf, bad) == expected, bad
        session.pop("csrf_token")
        assert reason(csrf.validate_csrf, token) == reason(flask_wtf_validate_csrf, token) \
            == "The CSRF session token is missing."
