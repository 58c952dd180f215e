"""Translations: complete catalogues, hosted pages fully in one language, the language choice,
and the language recorded in the ledger and frozen into each notice.

English is the source language; Dutch is the language of the shops' customers. The catalogue
tests extract the messages from the sources themselves (babel.cfg), so a string added to a
template or to Python code fails here until `bash scripts/i18n update` ran and it is translated.
"""
from __future__ import annotations

import random
import re
import subprocess
from functools import lru_cache
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask import g, has_app_context
from flask.testing import FlaskClient

from cookiegate.canonical import loads
from cookiegate.extensions import db
from cookiegate.ledger.models import ConsentEvent
from cookiegate.sites.services import current_notice

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
# Flask-Babel's functions, as scripts/i18n passes them to pybabel.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2),
            "lazy_pgettext": ((1, "c"), 2)}
PLURAL_FORMS = "nplurals=2; plural=(n != 1);"
PLACEHOLDER_RE = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|%%")
CSRF_RE = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*\bvalue="([^"]+)"')
HTML_LANG_RE = re.compile(r"<html\b[^>]*\blang=\"([^\"]*)\"")
# Shorter translations are only looked for as a whole text node or attribute value: as a
# substring, "Ja" or "Doel" would turn up inside unrelated words.
SUBSTRING_MIN = 12


# ---------------------------------------------------------------------------------------------
# Catalogues


def catalogue(language: str) -> Catalog:
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, abort_invalid=True)


def key(message) -> tuple:
    return (message.id if isinstance(message.id, str) else tuple(message.id), message.context)


def strings(message) -> tuple[str, ...]:
    return tuple(message.string) if message.pluralizable else (message.string,)


def source_messages() -> dict[tuple, list[str]]:
    """Every message of the sources as pybabel extracts it with babel.cfg: key -> locations."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle, "babel.cfg")
    found: dict[tuple, list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        msgid = message if isinstance(message, str) else tuple(message)
        found.setdefault((msgid, context), []).append(f"{filename}:{lineno}")
    return found


@lru_cache(maxsize=None)
def _extracted() -> dict[tuple, list[str]]:
    return source_messages()


def test_sources_have_messages():
    extracted = _extracted()
    assert len(extracted) > 50
    # Python code and templates both reach the catalogue, plurals with both forms.
    assert ("Accept all", None) in extracted
    assert ("Privacy statement", None) in extracted
    assert (("%(num)d cookie", "%(num)d cookies"), None) in extracted


@pytest.mark.parametrize("language", ["nl", "en"])
def test_catalogue_headers(language):
    catalog = catalogue(language)
    assert str(catalog.locale) == language
    assert catalog.plural_forms == PLURAL_FORMS
    assert catalog.num_plurals == 2


@pytest.mark.parametrize("language", ["nl", "en"])
def test_catalogue_holds_every_message_of_the_sources(language):
    present = {key(m) for m in catalogue(language) if m.id}
    missing = {k: where for k, where in _extracted().items() if k not in present}
    assert not missing, (f"not in translations/{language}: {missing}; "
                         "run `bash scripts/i18n update` and translate")
    obsolete = present - set(_extracted())
    assert not obsolete, f"translations/{language} has messages no longer in the sources: {obsolete}"


@pytest.mark.parametrize("language", ["nl", "en"])
def test_catalogue_is_complete(language):
    """No empty or fuzzy entries (English is filled with the source text too), and every
    placeholder of the English text is kept exactly."""
    catalog = catalogue(language)
    problems = []
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy:
            problems.append(f"{message.id!r} is fuzzy")
        if not all(strings(message)) or len(strings(message)) != (2 if message.pluralizable else 1):
            problems.append(f"{message.id!r} is not translated")
            continue
        problems.extend(f"{message.id!r}: {error}" for error in message.check(catalog))
        ids = (message.id,) if isinstance(message.id, str) else message.id
        wanted = sorted(set(PLACEHOLDER_RE.findall(ids[-1])) | set(PLACEHOLDER_RE.findall(ids[0])))
        for text in strings(message):
            if sorted(set(PLACEHOLDER_RE.findall(text))) != wanted:
                problems.append(f"{message.id!r}: placeholders of {text!r} differ from {wanted}")
    assert not problems, "\n".join(problems)


def test_dutch_catalogue_is_translated():
    """Dutch texts differ from the English ones, except a few words both languages share."""
    same_in_both = {"Cookies", ("%(num)d cookie", "%(num)d cookies")}
    untranslated = [m.id for m in catalogue("nl") if m.id and key(m)[0] not in same_in_both
                    and strings(m) == ((m.id,) if isinstance(m.id, str) else tuple(m.id))]
    assert not untranslated, f"Dutch text equal to the English: {untranslated}"


def test_english_catalogue_is_the_source_text():
    for message in catalogue("en"):
        if message.id:
            assert strings(message) == ((message.id,) if isinstance(message.id, str) else tuple(message.id))


def test_i18n_script_check_passes():
    """`scripts/i18n check`: messages.pot up to date with the sources, catalogues complete."""
    result = subprocess.run(["bash", str(ROOT / "scripts" / "i18n"), "check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------------------------------------
# Pages


class _Text(HTMLParser):
    """The words a visitor can see or hear: text nodes and the readable attributes."""

    ATTRIBUTES = ("aria-label", "title", "alt", "placeholder")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in self.ATTRIBUTES and value:
                self.chunks.append(" ".join(value.split()))

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        text = " ".join(data.split())
        if text and not self._skip:
            self.chunks.append(text)


class Page:
    def __init__(self, html: str):
        self.html = html
        parser = _Text()
        parser.feed(html)
        self.chunks = parser.chunks
        self.text = " ".join(" ".join(parser.chunks).split())
        match = HTML_LANG_RE.search(html)
        self.lang = match.group(1) if match else None

    def shows(self, needle: str) -> bool:
        return needle in self.chunks or (len(needle) > SUBSTRING_MIN and needle in self.text)


def _fragments(text: str) -> list[str]:
    """The literal parts of a message around its placeholders, as they appear on a page."""
    return [" ".join(part.split()) for part in PLACEHOLDER_RE.split(text) if part.strip()]


def _probes(texts) -> set[str]:
    """What would give a text away on a page: the text itself when it has no placeholders,
    otherwise each literal part long enough to be distinctive."""
    probes = set()
    for text in texts:
        if not PLACEHOLDER_RE.search(text):
            probes.add(" ".join(text.split()))
        else:
            probes.update(f.strip(" .,:;") for f in _fragments(text)
                          if len(f.strip(" .,:;")) > SUBSTRING_MIN)
    return probes


@lru_cache(maxsize=None)
def foreign_texts(language: str) -> frozenset[str]:
    """Texts of the other language that must not appear on a page in `language`: for each
    message whose Dutch differs from the English, the English (on a Dutch page) or the Dutch
    (on an English page)."""
    found: set[str] = set()
    for message in catalogue("nl"):
        if not message.id:
            continue
        english = (message.id,) if isinstance(message.id, str) else tuple(message.id)
        dutch = strings(message)
        for en_text, nl_text in zip(english, dutch):
            if en_text == nl_text:
                continue
            other, own = (en_text, nl_text) if language == "nl" else (nl_text, en_text)
            found.update(_probes([other]) - _probes([own]))
    return frozenset(found)


def in_language(language: str, msgid: str) -> str:
    """A message (without placeholders) as shown in `language`."""
    message = catalogue("nl").get(msgid)
    assert message is not None, f"{msgid!r} is not in the catalogue"
    return message.string if language == "nl" else msgid


def assert_page_in(page: Page, language: str, *, expect: tuple[str, ...] = (), where: str = ""):
    assert page.lang == language, f"{where}: <html lang={page.lang!r}>, expected {language!r}"
    leaked = sorted(text for text in foreign_texts(language) if page.shows(text))
    assert not leaked, f"{where} in {language!r} shows texts of the other language: {leaked}"
    for msgid in expect:
        wanted = in_language(language, msgid)
        assert wanted in page.text, f"{where} in {language!r} lacks {wanted!r}"


class Browser(FlaskClient):
    """A test client whose every request starts with empty `g`, as in production.

    Flask reuses an app context that is already pushed (the `site` fixture holds one for the
    whole test) for each test-client request, so `g` would carry over between requests, and with
    it Flask-Babel's cached locale (`g._flask_babel`): a second request would speak the first
    one's language. Each request here gets the fresh `g` a real request has.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            vars(g._get_current_object()).clear()
        return super().open(*args, **kwargs)


def new_browser(app) -> Browser:
    """A browser of its own address, so consent POSTs of other tests never share a rate limit."""
    browser = Browser(app, app.response_class, use_cookies=True)
    browser.environ_base["REMOTE_ADDR"] = f"198.51.{random.randint(0, 255)}.{random.randint(1, 254)}"
    return browser


@pytest.fixture
def visitor(app):
    return new_browser(app)


def get_page(client, url: str, *, status: int = 200, **kwargs) -> Page:
    response = client.get(url, **kwargs)
    assert response.status_code == status, f"GET {url}: {response.status_code}"
    return Page(response.get_data(as_text=True))


def choose(client, slug: str, page: Page, *, next_path: str, headers=None) -> Page:
    """Press "accept all" in the banner of `page` and follow the redirect."""
    match = CSRF_RE.search(page.html)
    assert match, "the page has no form with a CSRF token"
    response = client.post(f"/s/{slug}/consent", data={
        "csrf_token": unescape(match.group(1)), "accept_all": "1", "next": next_path,
        "layer": "1", "channel": "banner"}, headers=headers or {}, follow_redirects=True)
    assert response.status_code == 200, response.status_code
    return Page(response.get_data(as_text=True))


HOSTED = {
    "": ("Privacy centre", "Privacy statement", "Cookie settings", "My receipt",
         "What we collect, why, how long we keep it and your rights.", "Which cookies?",
         "Skip to content"),
    "privacy": ("Privacy statement", "Who is responsible"),
    "cookies": ("Cookies", "Name", "Provider", "Purpose", "Lifetime", "Third party",
                "Change your cookie settings"),
    "preferences": ("third party", "Change your cookie settings"),
    "receipt": ("My receipt", "This browser has not made a cookie choice on this site yet, or it was removed.",
                "Make a choice"),
}


@pytest.mark.parametrize("language", ["nl", "en"])
def test_hosted_pages_speak_one_language(visitor, site, language):
    slug = site.slug
    notice = current_notice(site)
    labels = loads(notice.content)["labels"][language]
    for path, expect in HOSTED.items():
        page = get_page(visitor, f"/s/{slug}/{path}?lang={language}")
        assert_page_in(page, language, expect=expect, where=f"/s/{slug}/{path}")
    preferences = get_page(visitor, f"/s/{slug}/preferences?lang={language}")
    for label in ("preferences_title", "save_selection", "accept_all", "reject_all", "always_on"):
        assert labels[label] in preferences.text
    home = get_page(visitor, f"/s/{slug}/?lang={language}")
    for label in ("accept_all", "reject_all", "choose"):
        assert labels[label] in home.chunks  # the banner's buttons

    page = get_page(visitor, f"/s/{slug}/notice/{notice.sha256}?lang={language}")
    assert_page_in(page, language, expect=("The notice exactly as shown", "The privacy statement of this version"),
                   where="notice")
    page = get_page(visitor, f"/s/{slug}/privacy/v{notice.version}?lang={language}")
    assert_page_in(page, language, expect=("Privacy statement",), where="privacy/v1")

    for url in (f"/s/{slug}/no-such-page?lang={language}", f"/no-such-page?lang={language}"):
        page = get_page(visitor, url, status=404)
        assert_page_in(page, language, expect=("There is no page at this address.",), where=url)


@pytest.mark.parametrize("language", ["nl", "en"])
def test_receipt_after_a_choice_speaks_one_language(visitor, site, language):
    slug = site.slug
    before = get_page(visitor, f"/s/{slug}/receipt?lang={language}")
    assert_page_in(before, language, where="receipt before a choice")
    # The form carries no ?lang=: the cookie set by the page keeps the language for the POST,
    # the flashed message and the page after the redirect.
    after = choose(visitor, slug, before, next_path=f"/s/{slug}/receipt")
    assert_page_in(after, language, where="receipt after a choice",
                   expect=("Your choice has been saved.", "Consent ID", "Recorded at", "Valid until",
                           "Notice shown", "Your choice", "Allowed", "Download signed receipt"))
    again = get_page(visitor, f"/s/{slug}/receipt?lang={language}")
    assert_page_in(again, language, where="receipt", expect=("My receipt", "Your choice"))
    assert "cg-banner" not in again.html  # the choice is current: no banner
    home = get_page(visitor, f"/s/{slug}/?lang={language}")
    assert_page_in(home, language, where="home after a choice", expect=("Your current choice", "Allowed"))


@pytest.mark.parametrize("language", ["nl", "en"])
def test_notes_and_errors_speak_one_language(visitor, site, language):
    """The messages that only show in some states: a newer notice, Global Privacy Control, an
    earlier privacy statement, a wrong method, an expired form."""
    from cookiegate.sites.services import publish_notice

    slug = site.slug
    home = get_page(visitor, f"/s/{slug}/?lang={language}")
    choose(visitor, slug, home, next_path=f"/s/{slug}/")
    site.policy_version = "2027-01"
    publish_notice(site=site)
    page = get_page(visitor, f"/s/{slug}/?lang={language}")
    assert_page_in(page, language, where="home with a newer notice",
                   expect=("Our cookie notice has changed since you last chose. Please choose again.",))
    page = get_page(visitor, f"/s/{slug}/preferences?lang={language}", headers={"Sec-GPC": "1"})
    assert_page_in(page, language, where="preferences with GPC", expect=(
        "Our cookie notice has changed since you last chose. Please choose again.",
        "Your browser sends a Global Privacy Control signal: tracking and marketing stay off unless you switch them on."))
    page = get_page(visitor, f"/s/{slug}/privacy/v1?lang={language}")
    assert_page_in(page, language, where="privacy/v1", expect=(
        "This is an earlier version.", "Read the current version", "Earlier versions"))
    page = get_page(visitor, f"/s/{slug}/consent?lang={language}", status=405)
    assert_page_in(page, language, where="405", expect=("This address does not accept this kind of request.",))
    response = visitor.post(f"/s/{slug}/consent?lang={language}", data={"accept_all": "1"})
    assert response.status_code == 400
    assert_page_in(Page(response.get_data(as_text=True)), language, where="CSRF error", expect=(
        "This form has expired",
        "The page was open too long or cookies are blocked. Go back, reload the page and try again."))


@pytest.mark.parametrize("language", ["nl", "en"])
def test_embedded_banner_speaks_the_language(visitor, site, language):
    """The one-tag banner carries its words in the requested language, from the same catalogue."""
    body = visitor.get(f"/s/{site.slug}/banner.js?lang={language}").get_data(as_text=True)
    other = "en" if language == "nl" else "nl"
    for msgid in ("Which cookies?", "Cookie settings", "Close", "Accept all", "Reject all", "Always on",
                  "Your browser sends a Global Privacy Control signal: tracking and marketing stay off "
                  "unless you switch them on."):
        assert f'"{in_language(language, msgid)}"' in body, msgid
        assert f'"{in_language(other, msgid)}"' not in body, msgid


@pytest.mark.parametrize("language", ["nl", "en"])
def test_demo_shop_speaks_the_language(app, language):
    """The stand-in shop (another Flask app) reads the .mo files cookiegate compiled at start."""
    from cookiegate.sites.demo import DEMO_SITES
    from cookiegate.sites.demo_shop import create_demo_shop

    shop = create_demo_shop("http://127.0.0.1:5000").test_client()
    slug = DEMO_SITES[0]["slug"]
    for url, expect in ((f"/?lang={language}", ("Demo shops",)),
                        (f"/{slug}/?lang={language}", ("What the banner controls here", "Change cookie settings")),
                        (f"/embed/marketing?lang={language}", ("Marketing video",))):
        assert_page_in(get_page(shop, url), language, expect=expect, where=f"demo shop {url}")


@pytest.mark.parametrize("url, english", [("/s/{slug}/notice/{zeros}", "No such notice."),
                                          ("/s/{slug}/no-such-page", "Not Found"),
                                          ("/s/no-such-shop-{zeros}/", "No such site.")])
def test_error_pages_in_dutch_have_no_english(visitor, site, url, english):
    page = get_page(visitor, url.format(slug=site.slug, zeros="0" * 64) + "?lang=nl", status=404)
    assert page.lang == "nl"
    assert english not in page.text


# ---------------------------------------------------------------------------------------------
# Choosing the language


def page_language(client, url: str, **kwargs) -> str:
    page = get_page(client, url, **kwargs)
    assert page.lang in ("nl", "en")
    # The words follow <html lang>.
    assert in_language(page.lang, "Privacy statement") in page.text
    return page.lang


@pytest.mark.parametrize("query, cookie, accept, expected", [
    ("en", "nl", "nl", "en"),                      # ?lang= beats the cookie and Accept-Language
    ("nl", "en", "en", "nl"),
    (None, "en", "nl", "en"),                      # the cookie beats Accept-Language
    (None, "nl", "en-GB,en;q=0.9", "nl"),
    (None, None, "en-GB,en;q=0.9,nl;q=0.5", "en"),  # Accept-Language beats the site's default
    (None, None, "nl-NL,nl;q=0.9,en;q=0.8", "nl"),
    (None, None, "fr, de;q=0.8, en;q=0.5", "en"),
    (None, None, None, "nl"),                      # the site's default
    (None, None, "de-DE,de;q=0.9", "nl"),
    ("de", None, "en", "en"),                      # an unsupported ?lang= falls through...
    ("de", "en", "nl", "en"),
    ("de", None, None, "nl"),
    (None, "de", "en", "en"),                      # ...and so does an unsupported cookie
    ("", None, "en", "en"),
])
def test_language_order(visitor, site, query, cookie, accept, expected):
    if cookie is not None:
        visitor.set_cookie("cg_lang", cookie)
    url = f"/s/{site.slug}/" + (f"?lang={query}" if query is not None else "")
    headers = {"Accept-Language": accept} if accept else {}
    assert page_language(visitor, url, headers=headers) == expected


def test_default_is_the_sites_own(visitor, app_ctx):
    from tests.factories import make_site

    english_first = make_site(default_language="en")
    assert page_language(visitor, f"/s/{english_first.slug}/") == "en"
    assert page_language(visitor, f"/s/{english_first.slug}/", headers={"Accept-Language": "nl"}) == "nl"


def test_only_the_sites_languages_are_chosen(visitor, app_ctx):
    from tests.factories import make_site

    dutch_only = make_site(languages=["nl"], default_language="nl")
    response = visitor.get(f"/s/{dutch_only.slug}/?lang=en", headers={"Accept-Language": "en"})
    assert Page(response.get_data(as_text=True)).lang == "nl"
    assert "cg_lang=" not in " ".join(response.headers.getlist("Set-Cookie"))


def test_lang_choice_sets_the_cookie(visitor, site):
    slug = site.slug
    response = visitor.get(f"/s/{slug}/?lang=en", headers={"Accept-Language": "nl"})
    set_cookie = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("cg_lang=")]
    assert len(set_cookie) == 1 and set_cookie[0].startswith("cg_lang=en;")
    assert "HttpOnly" in set_cookie[0] and "SameSite=Lax" in set_cookie[0]
    assert visitor.get_cookie("cg_lang").value == "en"
    # Later pages keep the choice, whatever the browser prefers.
    assert page_language(visitor, f"/s/{slug}/cookies", headers={"Accept-Language": "nl"}) == "en"
    # The same choice again sets nothing new; another choice replaces it.
    again = visitor.get(f"/s/{slug}/?lang=en")
    assert not [h for h in again.headers.getlist("Set-Cookie") if h.startswith("cg_lang=")]
    visitor.get(f"/s/{slug}/?lang=nl")
    assert visitor.get_cookie("cg_lang").value == "nl"
    assert page_language(visitor, f"/s/{slug}/privacy", headers={"Accept-Language": "en"}) == "nl"


def test_unsupported_lang_sets_no_cookie(visitor, site):
    response = visitor.get(f"/s/{site.slug}/?lang=de")
    assert not [h for h in response.headers.getlist("Set-Cookie") if h.startswith("cg_lang=")]
    assert visitor.get_cookie("cg_lang") is None


# ---------------------------------------------------------------------------------------------
# What the ledger and the notice hold


def site_leaves(site) -> list[dict]:
    db.session.rollback()  # see the rows the requests committed, not an older snapshot
    rows = db.session.execute(db.select(ConsentEvent).where(ConsentEvent.site_id == site.id)
                              .order_by(ConsentEvent.id)).scalars().all()
    return [loads(row.leaf) for row in rows]


def test_event_records_the_language_shown(app, site):
    slug = site.slug
    dutch_browser = {"Accept-Language": "nl-NL,nl;q=0.9"}

    chose_english = new_browser(app)
    page = get_page(chose_english, f"/s/{slug}/?lang=en", headers=dutch_browser)
    assert page.lang == "en"
    choose(chose_english, slug, page, next_path=f"/s/{slug}/", headers=dutch_browser)

    browser_default = new_browser(app)
    page = get_page(browser_default, f"/s/{slug}/", headers=dutch_browser)
    assert page.lang == "nl"
    choose(browser_default, slug, page, next_path=f"/s/{slug}/", headers=dutch_browser)

    leaves = site_leaves(site)
    assert [leaf["notice"]["language"] for leaf in leaves] == ["en", "nl"]
    assert {leaf["notice"]["sha256"] for leaf in leaves} == {current_notice(site).sha256}
    # The receipt links the notice in the language the visitor read.
    receipt = get_page(chose_english, f"/s/{slug}/receipt")
    notice = current_notice(site)
    assert f"/s/{slug}/notice/{notice.sha256}?lang=en" in receipt.html
    assert "Version 1, in English" in receipt.text


def test_notice_freezes_dutch_labels(site):
    content = loads(current_notice(site).content)
    nl, en = content["labels"]["nl"], content["labels"]["en"]
    assert set(nl) == set(en) == {"accept_all", "reject_all", "choose", "save_selection", "withdraw",
                                  "always_on", "preferences_title"}
    dutch = catalogue("nl")
    for name, english in en.items():
        assert dutch.get(english) is not None, f"label {name} ({english!r}) is not in the catalogue"
        assert nl[name] == dutch.get(english).string, name
        assert nl[name] != english, name
    assert nl["accept_all"] == "Alles accepteren"
    assert nl["reject_all"] == "Alles weigeren"
    assert nl["withdraw"] == "Alle toestemming intrekken"
    assert en["accept_all"] == "Accept all"
