"""The hosted banner in a real Chromium with JavaScript switched off: every choice works with plain
forms, is recorded once with the right proof, and the three first-layer buttons look the same."""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from cookiegate.banner.services import CONSENT_COOKIE

from cookiegate.sites.services import current_notice, publish_notice
from tests.axe_support import AxePages
from tests.banner.conftest import OPTIONAL, decisions, site_events

pytestmark = pytest.mark.browser

FIRST_LAYER = ("accept_all", "reject_all", "choose")
# What makes one button more prominent than another.
PROMINENCE = ("background-color", "color", "border-top", "border-right", "border-bottom", "border-left",
              "border-radius", "font-size", "font-weight", "font-family", "padding-top", "padding-right",
              "padding-bottom", "padding-left", "text-decoration-line", "box-shadow", "opacity")


@pytest.fixture(scope="module")
def _contexts(browser):
    """One browser context per (locale, JavaScript) for the module: creating one is the slowest
    step of a test, and a context with its cookies cleared is a fresh visitor."""
    opened = {}
    yield opened
    for context in opened.values():
        context.close()


@pytest.fixture
def new_context(browser, _contexts):
    """A fresh visitor: a browser context without cookies or open pages; JavaScript off by default."""

    def make(*, locale: str = "nl-NL", javascript: bool = False, bypass_csp: bool = False):
        key = (locale, javascript, bypass_csp)
        if key not in _contexts:
            _contexts[key] = browser.new_context(java_script_enabled=javascript, locale=locale,
                                                 bypass_csp=bypass_csp)
            _contexts[key].set_default_timeout(10_000)
        context = _contexts[key]
        for page in context.pages:
            page.close()
        context.clear_cookies()
        return context

    return make


def submit(page, button: str) -> None:
    """Press a form button and wait for the page it leads to (POST, 303, GET)."""
    with page.expect_navigation():
        page.click(f"button[name={button}]")


def path_of(page) -> str:
    return urlsplit(page.url).path


@pytest.mark.parametrize("action, locale, query, lang", [
    ("accept_all", "nl-NL", "", "nl"),
    ("accept_all", "nl-NL", "?lang=en", "en"),
    ("reject_all", "en-GB", "", "en"),
    ("reject_all", "en-GB", "?lang=nl", "nl"),
    ("custom", "nl-NL", "", "nl"),
    ("custom", "en-GB", "", "en"),
])
def test_choice_without_javascript_is_recorded_once(new_context, live_server, site, action, locale, query, lang):
    home = f"/s/{site.slug}/"
    notice = current_notice(site)
    page = new_context(locale=locale).new_page()
    page.goto(live_server.url + home + query)
    assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("#cg-banner-title").inner_text() == site.texts[lang]["banner_title"]
    assert page.locator("section.cg-banner").is_visible()

    if action == "custom":
        submit(page, "choose")
        assert path_of(page) == home + "preferences"
        assert parse_qs(urlsplit(page.url).query) == {"next": [home], "from": ["banner"]}
        assert [page.is_checked(f"#category-{key}") for key in OPTIONAL] == [False, False, False]
        page.check("#category-analytics")
        page.check("#category-marketing")
        submit(page, "save_selection")
        granted = {"analytics", "marketing"}
        interaction = {"channel": "banner", "layer": 2, "action": "save_selection"}
    else:
        submit(page, action)
        granted = set(OPTIONAL) if action == "accept_all" else set()
        interaction = {"channel": "banner", "layer": 1, "action": action}

    assert path_of(page) == home
    assert page.locator("section.cg-banner").count() == 0
    assert page.locator(".cg-flash").count() == 1

    cookie = next(c for c in page.context.cookies() if c["name"] == CONSENT_COOKIE)
    assert cookie["path"] == home and cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert abs(cookie["expires"] - (time.time() + 182 * 86400)) < 120

    [recorded] = site_events(site)
    leaf = recorded.leaf
    assert leaf["type"] == ("given" if granted else "refused")
    assert leaf["decisions"] == decisions(granted)
    assert leaf["notice"] == {"sha256": notice.sha256, "version": notice.version, "language": lang}
    assert leaf["interaction"] == interaction
    assert leaf["context"] == {"origin": live_server.url, "path": home}
    assert leaf["signals"]["gpc"] is False
    assert recorded.personal["ip_prefix"] == "127.0.0.0"
    assert recorded.personal["ua_family"].startswith(("Chrome", "Chromium", "HeadlessChrome"))


VIEWPORTS = [{"width": 1280, "height": 800}, {"width": 390, "height": 844}]


def test_first_layer_buttons_have_the_same_size_and_style(new_context, live_server, site):
    # Measuring computed styles needs JavaScript: a separate JS-enabled context on the same page.
    page = new_context(javascript=True).new_page()
    for viewport in VIEWPORTS:
        page.set_viewport_size(viewport)
        for query in ("?lang=nl", "?lang=en"):
            page.goto(f"{live_server.url}/s/{site.slug}/{query}")
            measured = page.evaluate("""([names, properties]) => names.map(name => {
                const button = document.querySelector(`.cg-banner button[name=${name}]`);
                const box = button.getBoundingClientRect();
                const style = getComputedStyle(button);
                return {width: box.width, height: box.height,
                        style: Object.fromEntries(properties.map(p => [p, style.getPropertyValue(p)]))};
            })""", [list(FIRST_LAYER), list(PROMINENCE)])
            first = measured[0]
            assert first["width"] > 0 and first["height"] >= 44, (viewport, query)  # a fair touch target
            for name, other in zip(FIRST_LAYER[1:], measured[1:]):
                assert abs(other["width"] - first["width"]) < 0.5, (viewport, query, name)
                assert abs(other["height"] - first["height"]) < 0.5, (viewport, query, name)
                assert other["style"] == first["style"], (viewport, query, name)


def test_keyboard_reaches_the_banner_first(new_context, live_server, site):
    """After the skip link, Tab goes through the banner before any of the page's links."""
    page = new_context(javascript=True).new_page()  # reading document.activeElement needs JS
    page.goto(f"{live_server.url}/s/{site.slug}/")
    focused = []
    for _ in range(5):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("""() => { const el = document.activeElement;
            return [el.closest('.cg-banner') ? 'banner' : 'page', el.name || el.className]; }"""))
    assert focused[0] == ["page", "cg-skip"]
    assert focused[1:] == [["banner", ""], ["banner", "accept_all"], ["banner", "reject_all"],
                           ["banner", "choose"]]  # the "which cookies?" link, then the buttons


def test_banner_never_hides_the_page(new_context, live_server, site):
    page = new_context().new_page()
    for viewport in VIEWPORTS:
        page.set_viewport_size(viewport)
        for path in ("", "cookies"):  # a short page and a long one
            page.goto(f"{live_server.url}/s/{site.slug}/{path}")
            banner = page.locator("section.cg-banner").bounding_box()
            assert abs(banner["y"] + banner["height"] - viewport["height"]) < 1, (viewport, path)  # at the bottom
            assert banner["y"] > page.locator("h1").bounding_box()["y"], (viewport, path)  # the top stays visible
            page.mouse.wheel(0, 50_000)
            page.wait_for_timeout(150)  # no JavaScript to wait on: give the scroll a moment
            footer = page.locator(".cg-footer").bounding_box()
            banner = page.locator("section.cg-banner").bounding_box()
            assert footer["y"] + footer["height"] <= banner["y"] + 1, (viewport, path)  # at the end, nothing covered


def test_new_notice_brings_the_banner_back(new_context, live_server, site):
    home = f"/s/{site.slug}/"
    page = new_context(locale="en-GB").new_page()
    page.goto(live_server.url + home)
    submit(page, "choose")
    page.check("#category-tracking")
    submit(page, "save_selection")
    page.reload()
    assert page.locator("section.cg-banner").count() == 0

    cookie = next(c for c in site.cookies if c.name == "_gcl_au")
    cookie.lifetime_days = 180
    second = publish_notice(site=site)
    page.reload()
    banner = page.locator("section.cg-banner")
    assert banner.is_visible()
    assert "Our cookie notice has changed" in banner.inner_text()

    submit(page, "choose")
    assert "Our cookie notice has changed" in page.locator("main").inner_text()
    assert [page.is_checked(f"#category-{key}") for key in OPTIONAL] == [False, True, False]
    submit(page, "save_selection")
    assert page.locator("section.cg-banner").count() == 0

    first_event, second_event = site_events(site)
    assert first_event.leaf["decisions"] == second_event.leaf["decisions"] == decisions({"tracking"})
    assert second_event.leaf["notice"]["sha256"] == second.sha256
    assert second_event.leaf["type"] == "renewed"
    assert second_event.event.consent_id == first_event.event.consent_id


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_axe_finds_nothing_on_the_privacy_centre_pages(new_context, live_server, site, lang):
    """axe-core on every hosted page of a site, as a new visitor (the banner over the page) and
    after a choice (the receipt, the preferences with the choice ticked). JavaScript is on for
    axe itself, and the pages' CSP is bypassed so that axe can be added; the pages are the same
    either way."""
    page = new_context(javascript=True, bypass_csp=True).new_page()
    base = f"{live_server.url}/s/{site.slug}"
    check = (axe := AxePages(page, lang)).check

    page.goto(f"{base}/?lang={lang}")
    check("home, banner shown")
    for path in ("cookies", "privacy", "privacy/v1", f"notice/{current_notice(site).sha256}", "preferences"):
        page.goto(f"{base}/{path}")
        check(path)
    submit(page, "save_selection")  # on the preferences page
    for path in ("", "receipt", "preferences"):
        page.goto(f"{base}/{path}")
        check(f"{path or 'home'} after a choice")
    axe.assert_clean()
