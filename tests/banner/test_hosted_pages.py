"""The hosted privacy centre through a Flask test client (the `visitor` fixture): banner,
preferences, cookie, receipt, statement versions, redirects, GPC and the security headers."""
from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.http import parse_date

from cookiegate.banner.services import (CONSENT_COOKIE, SAVED_COOKIE, SAVED_SECONDS, ConsentState,
                                        consent_cookie_value, read_consent_cookie)
from cookiegate.extensions import db
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.receipts import verify_receipt
from cookiegate.sites.services import current_notice, publish_notice
from tests.banner.conftest import OPTIONAL, csrf_token, decisions, site_events
from tests.factories import make_site

INPUT_RE = re.compile(r"<input\b[^>]*>")
URL_ATTR_RE = re.compile(r"""\b(?:src|href|action|srcset|poster|formaction|data)\s*=\s*["']([^"']*)["']""", re.I)


def url(site, path: str = "") -> str:
    return f"/s/{site.slug}/{path}"


def html_of(response) -> str:
    return response.get_data(as_text=True)


def ticked(html: str) -> set[str]:
    """The category switches that are checked in a page's form."""
    found = set()
    for tag in INPUT_RE.findall(html):
        name = re.search(r'name="category_(\w+)"', tag)
        if name and re.search(r"\schecked\b", tag):
            found.add(name.group(1))
    return found


def switches(html: str) -> set[str]:
    return set(re.findall(r'name="category_(\w+)"', html))


def banner_shown(html: str) -> bool:
    return 'class="cg-banner"' in html


def decide(visitor, site, action: str, granted=(), *, layer: str = "1", channel: str = "banner",
           next: str | None = None, headers: dict[str, str] | None = None, query: str = ""):
    """Press one of the form's buttons as a browser would: token from the preferences page
    (it always has the form), then POST to /consent."""
    token = csrf_token(html_of(visitor.get(url(site, "preferences") + query, headers=headers)))
    data = {"csrf_token": token, "layer": layer, "channel": channel, action: "1",
            **{f"category_{key}": "y" for key in granted}}
    if next is not None:
        data["next"] = next
    return visitor.post(url(site, "consent") + query, data=data, headers=headers)


def consent_cookie(response) -> tuple[str, dict[str, str]]:
    """The value and the (lower-cased) attributes of the consent cookie a response sets."""
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(CONSENT_COOKIE + "="):
            value, *attributes = [part.strip() for part in header.split(";")]
            attrs = {}
            for attribute in attributes:
                key, _, val = attribute.partition("=")
                attrs[key.lower()] = val
            return value.split("=", 1)[1], attrs
    raise AssertionError(f"no {CONSENT_COOKIE} cookie set")


def location_path(response) -> str:
    parts = urlsplit(response.headers["Location"])
    assert parts.scheme in ("", "http") and parts.netloc in ("", "localhost"), response.headers["Location"]
    return parts.path


# --- first visit and returning visitor -----------------------------------------------------------

def test_new_visitor_sees_the_banner_and_nothing_pre_ticked(visitor, site):
    home = html_of(visitor.get(url(site)))
    assert banner_shown(home)
    for name in ("accept_all", "reject_all", "choose"):
        assert f'name="{name}"' in home
    prefs = html_of(visitor.get(url(site, "preferences")))
    assert switches(prefs) == set(OPTIONAL)  # necessary is not a switch: it is always on
    assert ticked(prefs) == set()
    assert not banner_shown(prefs)
    assert 'name="withdraw"' not in prefs  # nothing to withdraw yet
    assert site_events(site) == []


def test_returning_visitor_sees_their_current_choice(visitor, site):
    response = decide(visitor, site, "save_selection", {"analytics", "marketing"}, layer="2",
                      channel="preferences")
    assert response.status_code == 303
    prefs = html_of(visitor.get(url(site, "preferences")))
    assert ticked(prefs) == {"analytics", "marketing"}
    home = html_of(visitor.get(url(site)))
    assert not banner_shown(home)
    assert home.count('class="cg-on"') == 3 and home.count('class="cg-off"') == 1  # necessary + 2 on

    decide(visitor, site, "reject_all")
    assert ticked(html_of(visitor.get(url(site, "preferences")))) == set()


def test_choose_records_nothing_and_opens_the_preferences_from_the_banner(visitor, site):
    response = decide(visitor, site, "choose")
    assert response.status_code == 303
    target = urlsplit(response.headers["Location"])
    assert target.path == url(site, "preferences")
    assert parse_qs(target.query) == {"next": [url(site)], "from": ["banner"]}
    assert CONSENT_COOKIE not in response.headers.get("Set-Cookie", "")
    prefs = html_of(visitor.get(response.headers["Location"]))
    assert 'name="channel" value="banner"' in prefs and 'name="layer" value="2"' in prefs
    assert site_events(site) == []


def test_decision_from_the_banner_is_recorded(visitor, site):
    response = decide(visitor, site, "accept_all", headers={"Accept-Language": "nl-NL,nl;q=0.9"})
    assert response.status_code == 303 and location_path(response) == url(site)
    [recorded] = site_events(site)
    assert recorded.leaf["type"] == "given"
    assert recorded.leaf["decisions"] == decisions(set(OPTIONAL))
    assert recorded.leaf["notice"] == {"sha256": current_notice(site).sha256, "version": 1, "language": "nl"}
    assert recorded.leaf["interaction"] == {"channel": "banner", "layer": 1, "action": "accept_all"}
    assert recorded.leaf["context"] == {"origin": "http://localhost", "path": url(site)}
    assert recorded.leaf["signals"]["gpc"] is False
    assert recorded.personal["ip_prefix"] == "127.0.0.0"
    state = read_consent_cookie(secret="test-secret", site=site, value=consent_cookie(response)[0])
    assert state.event_id == recorded.event.event_id and state.consent_id == recorded.event.consent_id


def test_the_recorded_origin_is_the_one_a_browser_would_send(visitor, site):
    """An internationalised host with a port is recorded as a browser serialises an origin
    (ASCII, port kept), the form the embedded banner's decisions carry in their Origin header."""
    decide(visitor, site, "reject_all", headers={"Host": "xn--bcher-kva.example:8443"})
    [recorded] = site_events(site)
    assert recorded.leaf["context"]["origin"] == "http://xn--bcher-kva.example:8443"


@pytest.mark.parametrize("query, accept_language, expected", [
    ("", "en-GB,en;q=0.9", "en"),
    ("?lang=en", "nl-NL,nl;q=0.9", "en"),
    ("?lang=nl", "en-GB,en;q=0.9", "nl"),
])
def test_the_language_shown_is_recorded(visitor, site, query, accept_language, expected):
    headers = {"Accept-Language": accept_language}
    page = html_of(visitor.get(url(site) + query, headers=headers))
    assert f'<html lang="{expected}">' in page
    assert site.texts[expected]["banner_title"] in page
    decide(visitor, site, "reject_all", headers=headers, query=query)
    [recorded] = site_events(site)
    assert recorded.leaf["notice"]["language"] == expected
    assert recorded.leaf["type"] == "refused" and recorded.leaf["decisions"] == decisions()


# --- CSRF and redirects ---------------------------------------------------------------------------

@pytest.mark.parametrize("token", [None, "", "forged.token.value"])
def test_post_without_a_valid_csrf_token_is_refused_and_records_nothing(visitor, site, token):
    visitor.get(url(site))  # a session exists, as for a real visitor
    data = {"layer": "1", "channel": "banner", "accept_all": "1", "next": url(site)}
    if token is not None:
        data["csrf_token"] = token
    response = visitor.post(url(site, "consent"), data=data)
    assert response.status_code == 400
    assert CONSENT_COOKIE not in response.headers.get("Set-Cookie", "")
    assert site_events(site) == []
    assert banner_shown(html_of(visitor.get(url(site))))


def test_post_without_an_action_is_refused(visitor, site):
    token = csrf_token(html_of(visitor.get(url(site))))
    response = visitor.post(url(site, "consent"), data={"csrf_token": token, "layer": "1", "channel": "banner"})
    assert response.status_code == 400
    assert site_events(site) == []


@pytest.mark.parametrize("fields", [
    {"accept_all": "1", "reject_all": "1"},  # two buttons: no browser sends that
    {"accept_all": "1", "layer": "3"},
    {"accept_all": "1", "channel": "api"},
    {"accept_all": "false"},  # a button sent with a false value is not pressed
    {"press": "1"},
])
def test_post_not_as_the_page_sends_it_is_refused_with_a_reason(visitor, site, fields):
    token = csrf_token(html_of(visitor.get(url(site) + "?lang=en")))
    response = visitor.post(url(site, "consent") + "?lang=en", data={"csrf_token": token, **fields})
    assert response.status_code == 400
    assert "did not say which of its buttons was pressed" in html_of(response)
    assert CONSENT_COOKIE not in response.headers.get("Set-Cookie", "")
    assert site_events(site) == []


def test_the_hidden_layer_and_channel_have_their_defaults(visitor, site):
    token = csrf_token(html_of(visitor.get(url(site))))
    response = visitor.post(url(site, "consent"), data={"csrf_token": token, "reject_all": "y"})
    assert response.status_code == 303
    [recorded] = site_events(site)
    assert recorded.leaf["interaction"] == {"channel": "banner", "layer": 1, "action": "reject_all"}


SAVED_NOTE = re.compile(r'<p class="cg-flash" role="status">[^<]+</p>')


def test_the_page_after_a_choice_says_once_that_it_was_saved(visitor, site):
    response = decide(visitor, site, "reject_all", next=url(site, "cookies"), query="?lang=en")
    assert response.status_code == 303 and location_path(response) == url(site, "cookies")
    shown = html_of(visitor.get(url(site, "cookies")))
    assert SAVED_NOTE.findall(shown) == ['<p class="cg-flash" role="status">Your choice has been saved.</p>']
    assert not SAVED_NOTE.search(html_of(visitor.get(url(site, "cookies"))))  # once


def test_only_the_page_that_shows_the_saved_note_clears_it(visitor, site):
    decide(visitor, site, "accept_all", query="?lang=en")
    script = visitor.get(url(site, "banner.js"))  # the embedded banner, fetched in between
    assert script.status_code == 200 and "Set-Cookie" not in script.headers
    assert SAVED_NOTE.search(html_of(visitor.get(url(site))))


def test_the_saved_note_only_confirms_the_choice_the_consent_cookie_holds(visitor, site):
    decide(visitor, site, "accept_all")
    html_of(visitor.get(url(site)))  # the note shown and cleared
    [recorded] = site_events(site)
    visitor.set_cookie("cg_saved", "00000000-0000-7000-8000-000000000000", path=url(site))
    assert not SAVED_NOTE.search(html_of(visitor.get(url(site))))  # another event's id
    visitor.set_cookie("cg_saved", recorded.event.event_id, path=url(site))
    assert SAVED_NOTE.search(html_of(visitor.get(url(site))))  # the visitor's own, current choice
    visitor.delete_cookie(CONSENT_COOKIE, path=url(site))
    visitor.set_cookie("cg_saved", recorded.event.event_id, path=url(site))
    assert not SAVED_NOTE.search(html_of(visitor.get(url(site))))  # no choice held: nothing to confirm


OFF_SITE = ["https://evil.example/", "//evil.example", "/s/other-site/", "/\\evil.example",
            "{home}../other-site/", "{home}%2e%2e/other-site/", "{home}\r\nX-Injected: 1"]


@pytest.mark.parametrize("target", OFF_SITE)
def test_next_off_site_goes_to_the_site_privacy_centre(visitor, site, target):
    target = target.format(home=url(site))
    response = decide(visitor, site, "reject_all", next=target)
    assert response.status_code == 303
    assert location_path(response) == url(site)
    assert "X-Injected" not in response.headers
    [recorded] = site_events(site)
    assert recorded.leaf["context"]["path"] == url(site)

    choose = decide(visitor, site, "choose", next=target)
    assert parse_qs(urlsplit(choose.headers["Location"]).query)["next"] == [url(site)]
    prefs = html_of(visitor.get(url(site, "preferences"), query_string={"next": target}))
    assert f'name="next" value="{url(site)}"' in prefs


def test_language_switch_keeps_where_the_visitor_came_from(visitor, site):
    query = {"next": url(site, "cookies"), "from": "banner"}
    prefs = html_of(visitor.get(url(site, "preferences"), query_string=query))
    link = re.search(r'<a href="([^"]+)" hreflang="en"', prefs).group(1).replace("&amp;", "&")
    assert link.startswith("?") and parse_qs(link[1:]) == {"next": [url(site, "cookies")], "from": ["banner"],
                                                             "lang": ["en"]}
    switched = html_of(visitor.get(url(site, "preferences") + link))
    assert '<html lang="en">' in switched
    assert 'name="channel" value="banner"' in switched  # still recorded as reached from the banner
    assert f'name="next" value="{url(site, "cookies")}"' in switched


def test_next_inside_the_site_is_kept(visitor, site):
    response = decide(visitor, site, "accept_all", next=url(site, "cookies"))
    assert location_path(response) == url(site, "cookies")


# --- notices and the privacy statement ------------------------------------------------------------

def publish_second_notice(site):
    """Change a cookie's lifetime (a material change) and publish it as version 2."""
    cookie = next(c for c in site.cookies if c.name == "_fbp")
    cookie.lifetime_days = 365
    return publish_notice(site=site)


def test_privacy_statement_shows_earlier_versions_after_a_second_notice(visitor, site):
    first = html_of(visitor.get(url(site, "privacy")))
    assert url(site, "privacy/v1") not in first  # one version: no list of earlier ones
    publish_second_notice(site)
    current = html_of(visitor.get(url(site, "privacy")))
    assert url(site, "privacy/v1") in current and url(site, "privacy/v2") in current
    assert 'aria-current="page"' in current.split(f'href="{url(site, "privacy/v2")}"')[1][:40]
    old = visitor.get(url(site, "privacy/v1"))
    assert old.status_code == 200
    assert f'href="{url(site, "privacy")}"' in html_of(old)  # a link back to the current version
    assert 'aria-current="page"' in html_of(old).split(f'href="{url(site, "privacy/v1")}"')[1][:40]
    assert visitor.get(url(site, "privacy/v3")).status_code == 404


def test_notice_page_shows_that_exact_version(visitor, site):
    first = current_notice(site)
    second = publish_second_notice(site)
    assert first.sha256 != second.sha256
    for notice, lifetime in ((first, "3 months"), (second, "1 year")):
        page = html_of(visitor.get(url(site, f"notice/{notice.sha256}"), query_string={"lang": "en"}))
        assert notice.sha256 in page
        assert f"privacy/v{notice.version}" in page
        fbp_row = page.split("<code>_fbp</code>")[1].split("</tr>")[0]
        assert lifetime in fbp_row
    other = make_site()
    assert visitor.get(url(site, f"notice/{current_notice(other).sha256}")).status_code == 404
    assert visitor.get(url(site, "notice/" + "0" * 64)).status_code == 404


@pytest.mark.parametrize("path", ["", "privacy", "cookies", "preferences", "receipt", "receipt.jws",
                                  "notice/" + "0" * 64])
def test_unknown_site_is_404(visitor, app_ctx, path):
    response = visitor.get(f"/s/no-such-site/{path}")
    assert response.status_code == 404
    assert 'class="cg-banner"' not in html_of(response)


# --- the consent cookie -----------------------------------------------------------------------------

@pytest.mark.parametrize("lifetime", [None, 30])
def test_consent_cookie_attributes(visitor, app_ctx, lifetime):
    site = make_site() if lifetime is None else make_site(consent_lifetime_days=lifetime)
    before = int(time.time())
    response = decide(visitor, site, "accept_all")
    after = time.time()
    value, attrs = consent_cookie(response)
    assert value
    assert "httponly" in attrs
    assert attrs["samesite"].lower() == "lax"
    assert attrs["path"] == url(site)
    seconds = (lifetime or 182) * 86400
    assert int(attrs["max-age"]) == seconds
    # Expires (for clients without Max-Age) says the same moment, in the second the answer was made
    assert before + seconds <= parse_date(attrs["expires"]).timestamp() <= after + seconds
    saved = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(SAVED_COOKIE + "="))
    saved_expires = parse_date(re.search(r"Expires=([^;]+)", saved).group(1)).timestamp()
    assert before + SAVED_SECONDS <= saved_expires <= after + SAVED_SECONDS
    assert f"Max-Age={SAVED_SECONDS}" in saved


def tampered_values(genuine: str) -> list[str]:
    payload, signature = genuine.rsplit(".", 1)
    # Change the first character: the last one of unpadded base64 carries unused bits, so
    # changing it can leave the decoded signature the same.
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    other = make_site()
    foreign = consent_cookie_value(secret="test-secret", site=other, state=ConsentState(
        consent_id="6f1c7a43-0d8e-4f0e-9b7a-2f3d8e1c5a90", notice_version=1, choices={"analytics": True},
        event_id="x", decided_at=int(time.time())))
    return [f"{payload}.{flipped}", payload[:-2] + "xx." + signature, "not-a-cookie", foreign]


def test_tampered_cookie_reads_as_no_consent(visitor, site):
    genuine = consent_cookie(decide(visitor, site, "accept_all"))[0]
    assert not banner_shown(html_of(visitor.get(url(site))))
    for value in tampered_values(genuine):
        visitor.set_cookie(CONSENT_COOKIE, value, path=url(site))
        assert banner_shown(html_of(visitor.get(url(site)))), value
        assert ticked(html_of(visitor.get(url(site, "preferences")))) == set()
        assert visitor.get(url(site, "receipt.jws")).status_code == 404


def test_consent_older_than_the_lifetime_brings_the_banner_back(visitor, site):
    response = decide(visitor, site, "accept_all")
    state = read_consent_cookie(secret="test-secret", site=site, value=consent_cookie(response)[0])
    old = ConsentState(consent_id=state.consent_id, notice_version=state.notice_version, choices=state.choices,
                       event_id=state.event_id, decided_at=int(time.time()) - 183 * 86400)
    visitor.set_cookie(CONSENT_COOKIE, consent_cookie_value(secret="test-secret", site=site, state=old),
                      path=url(site))
    assert banner_shown(html_of(visitor.get(url(site))))


def test_new_notice_brings_the_banner_back_with_the_previous_choice(visitor, site):
    decide(visitor, site, "save_selection", {"analytics"}, layer="2", channel="preferences")
    en = {"Accept-Language": "en"}
    assert not banner_shown(html_of(visitor.get(url(site), headers=en)))
    publish_second_notice(site)
    home = html_of(visitor.get(url(site), headers=en))
    assert banner_shown(home)
    assert "Our cookie notice has changed" in home
    prefs = html_of(visitor.get(url(site, "preferences"), headers=en))
    assert ticked(prefs) == {"analytics"}
    assert "Our cookie notice has changed" in prefs

    decide(visitor, site, "save_selection", {"analytics"}, layer="2", channel="preferences")
    events = site_events(site)
    assert [e.leaf["type"] for e in events] == ["given", "renewed"]
    assert events[1].leaf["notice"]["version"] == 2
    assert events[0].event.consent_id == events[1].event.consent_id


# --- receipt and withdrawal -------------------------------------------------------------------------

def test_receipt_before_any_choice(visitor, site):
    page = visitor.get(url(site, "receipt"))
    assert page.status_code == 200 and "cg-facts" not in html_of(page)
    assert visitor.get(url(site, "receipt.jws")).status_code == 404


def test_receipt_page_and_signed_download(visitor, site):
    decide(visitor, site, "save_selection", {"tracking"}, layer="2", channel="preferences")
    [recorded] = site_events(site)
    page = html_of(visitor.get(url(site, "receipt")))
    assert recorded.event.event_id in page and recorded.event.consent_id in page
    assert url(site, f"notice/{recorded.leaf['notice']['sha256']}") in page
    assert url(site, "receipt.jws") in page

    download = visitor.get(url(site, "receipt.jws"))
    assert download.status_code == 200
    assert download.mimetype == "application/jose"
    assert download.headers["Cache-Control"] == "no-store"
    assert f'filename="consent-receipt-{recorded.event.event_id}.jws"' in download.headers["Content-Disposition"]
    db.session.rollback()  # see the sequencing the download committed
    report = verify_receipt(token=download.get_data(as_text=True).strip(), keys=current_keys())
    assert report.ok, report.problems
    assert report.event_id == recorded.event.event_id and report.site == site.slug
    assert report.leaf == recorded.leaf


def test_withdraw_from_the_preferences_records_withdrawn(visitor, site):
    decide(visitor, site, "accept_all")
    prefs = html_of(visitor.get(url(site, "preferences")))
    assert 'name="withdraw"' in prefs
    response = decide(visitor, site, "withdraw", set(OPTIONAL), layer="2", channel="preferences")
    assert response.status_code == 303
    given, withdrawn = site_events(site)
    assert given.leaf["type"] == "given"
    assert withdrawn.leaf["type"] == "withdrawn"
    assert withdrawn.leaf["decisions"] == decisions()
    assert withdrawn.leaf["interaction"] == {"channel": "preferences", "layer": 2, "action": "withdraw"}
    assert withdrawn.event.consent_id == given.event.consent_id
    prefs = html_of(visitor.get(url(site, "preferences")))
    assert ticked(prefs) == set() and 'name="withdraw"' not in prefs
    assert not banner_shown(html_of(visitor.get(url(site))))  # refusing is a choice too: no nagging


# --- Global Privacy Control -------------------------------------------------------------------------

GPC = {"Sec-GPC": "1"}


def test_gpc_presets_tracking_and_marketing_off(visitor, site):
    assert ticked(html_of(visitor.get(url(site, "preferences"), headers=GPC))) == set()
    decide(visitor, site, "accept_all")  # granted everything earlier, without the signal
    assert ticked(html_of(visitor.get(url(site, "preferences")))) == set(OPTIONAL)
    with_gpc = html_of(visitor.get(url(site, "preferences"), headers=GPC))
    assert ticked(with_gpc) == {"analytics"}
    assert 'class="cg-note"' in with_gpc


@pytest.mark.parametrize("headers, expected", [(GPC, True), ({}, False), ({"Sec-GPC": "0"}, False)])
def test_gpc_signal_is_recorded(visitor, site, headers, expected):
    decide(visitor, site, "save_selection", {"analytics"}, layer="2", channel="preferences", headers=headers)
    [recorded] = site_events(site)
    assert recorded.leaf["signals"]["gpc"] is expected
    assert recorded.leaf["decisions"] == decisions({"analytics"})


def test_explicit_opt_in_under_gpc_is_honoured_and_kept(visitor, site):
    decide(visitor, site, "save_selection", {"tracking"}, layer="2", channel="preferences", headers=GPC)
    [recorded] = site_events(site)
    assert recorded.leaf["decisions"] == decisions({"tracking"})
    assert recorded.leaf["signals"]["gpc"] is True
    # Chosen while the signal was on, so explicit: a later visit must not quietly untick it.
    assert ticked(html_of(visitor.get(url(site, "preferences"), headers=GPC))) == {"tracking"}


# --- headers and third parties ----------------------------------------------------------------------

def assert_self_contained(html: str) -> None:
    for value in URL_ATTR_RE.findall(html):
        value = value.strip().lower()
        assert not value.startswith(("http:", "https:", "//", "\\\\")), value
        scheme = re.match(r"^([a-z][a-z0-9+.-]*):", value)
        assert scheme is None or scheme.group(1) == "mailto", value
    assert "<script" not in html.lower()
    assert not re.search(r"\sstyle\s*=", html, re.I)  # the CSP would block inline styles


def test_security_headers_and_nothing_from_other_hosts(visitor, site):
    paths = ["", "privacy", "cookies", "preferences", "receipt", f"notice/{current_notice(site).sha256}"]
    decide(visitor, site, "accept_all")
    publish_second_notice(site)
    paths += ["privacy/v1", "receipt"]
    responses = [visitor.get(url(site, path)) for path in paths]
    responses += [visitor.get("/s/no-such-site/"), visitor.get("/")]
    for response in responses:
        csp = response.headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert_self_contained(html_of(response))
    css = html_of(visitor.get("/static/css/cookiegate.css"))
    assert "@import" not in css and not re.search(r"url\(\s*['\"]?(?!data:)", css)
    assert "mailto:" in html_of(visitor.get(url(site, "privacy")))  # the site's own contact link stays



def test_an_older_notice_without_the_reader_language_shows_in_its_own_default(visitor, app_ctx):
    """A site that added English later: its first notice has only Dutch, and still renders."""
    from cookiegate.sites.services import notice_document

    dutch_only = make_site(languages=["nl"], default_language="nl")
    first = current_notice(dutch_only)
    dutch_only.languages = ["nl", "en"]
    publish_notice(site=dutch_only)
    dutch = notice_document(first)["texts"]["nl"]
    assert "en" not in notice_document(first)["languages"]
    snapshot = visitor.get(f"/s/{dutch_only.slug}/notice/{first.sha256}?lang=en")
    assert snapshot.status_code == 200 and dutch["banner_title"] in snapshot.get_data(as_text=True)
    statement = visitor.get(f"/s/{dutch_only.slug}/privacy/v1?lang=en")
    assert statement.status_code == 200 and dutch["statement"][0]["heading"] in statement.get_data(as_text=True)


CENTRE_TABLE = re.compile(r'<h2 id="centre-cookies">.*?</table>', re.S)


def test_the_cookie_page_declares_every_cookie_the_privacy_centre_sets(visitor, site):
    """A visit that sets every cookie of these pages (a language chosen, the form's session, a
    choice saved and the note that confirms it): each one is declared in the cookie page's own
    table, with a purpose and a lifetime, in Dutch and in English."""
    set_by_us = set()

    def note(response):
        set_by_us.update(header.split("=", 1)[0] for header in response.headers.getlist("Set-Cookie"))
        return response

    note(visitor.get(url(site, "?lang=nl")))
    token = csrf_token(html_of(note(visitor.get(url(site, "preferences")))))
    note(visitor.post(url(site, "consent"), data={"csrf_token": token, "layer": "1", "channel": "banner",
                                                  "accept_all": "1"}))
    assert set_by_us == {"cg_lang", "cg_session", "cg_centre", "cg_saved"}
    days = site.consent_lifetime_days
    for lang, purpose, lifetime in (("nl", "Onthoudt je cookiekeuze op deze pagina's", f"{days} dagen"),
                                    ("en", "Remembers your cookie choice on these pages", f"{days} days")):
        table = CENTRE_TABLE.search(html_of(visitor.get(url(site, f"cookies?lang={lang}")))).group(0)
        rows = re.findall(r"<tr><td><code>([^<]+)</code></td><td>([^<]+)</td><td>([^<]+)</td></tr>", table)
        assert {name for name, _, _ in rows} >= set_by_us
        assert all(text.strip() and period.strip() for _, text, period in rows)
        centre = next(row for row in rows if row[0] == "cg_centre")
        assert centre[1].replace("&#39;", "'").startswith(purpose) and centre[2] == lifetime, centre
