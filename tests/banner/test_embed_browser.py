"""The embedded banner in a real Chromium, on a demo shop page served from ANOTHER origin than
cookiegate (another port): blocking, running without reload, withdrawal, keyboard, GPC, Consent
Mode, offline resend, declared origins, axe-core and layout shift."""
from __future__ import annotations

import json

import pytest

from cookiegate.sites.services import current_notice, publish_notice
from tests.banner.conftest import decisions, site_events
from tests.banner.embed_support import (  # noqa: F401,F811  (make_shop, new_page: fixtures)
    ALL_GRANTED, DEFAULT_MODE, SHOP_COOKIES, QuickServer, ResponseRecorder, Shop, axe_violations,
    consent_commands, data_layer, in_shadow, make_shop, new_page, open_shop, page_cookies,
    shadow_focus, tab_to, wait_events, wait_hidden, wait_queue_empty, wait_shown)

pytestmark = pytest.mark.browser

BANNER_BUTTONS = ".banner .actions .btn"  # accept all, reject all, choose
DIALOG_BUTTONS = ".dialog .actions .btn"  # save my choice, accept all, reject all
BUTTON_STYLE = ["font-family", "font-size", "font-weight", "color", "background-color",
                "border-top-width", "border-top-style", "border-top-color", "border-radius", "padding-top",
                "padding-left", "text-decoration-line", "letter-spacing"]


# Logs, once per focus move, whether focus is inside the banner's open dialog. Moves inside the
# shadow tree reach its root; moves out of it reach only the document.
FOCUS_LOG = """() => { window.focusLog = [];
  const host = document.querySelector('cookiegate-banner'), r = host.shadowRoot;
  const log = (e) => {
    if (e.logged) return;
    e.logged = true;
    const el = r.activeElement;
    window.focusLog.push(document.activeElement === host && !!el && !!el.closest('.dialog'));
  };
  r.addEventListener('focusin', log);
  document.addEventListener('focusin', log); }"""


def nothing_marked_ran(page) -> bool:
    return page.evaluate("""() => window.demoAnalyticsRuns === undefined
        && !document.querySelector('iframe').hasAttribute('src')
        && document.querySelector('iframe').hasAttribute('data-src')
        && !!document.querySelector('script[type="text/plain"][data-category="analytics"]')""")


def wait_marked_ran(page) -> None:
    page.wait_for_function("window.demoAnalyticsRuns === 1")
    page.frame_locator("iframe").locator("#frame").wait_for()
    page.wait_for_function("document.cookie.includes('_pk_id=') && document.cookie.includes('_gcl_au=')")


def shop_path(shop: Shop) -> str:
    return f"/{shop.site.slug}/"


def focus_is(page, cls: str, *, index: int | None = None, in_dialog: bool = False) -> None:
    focused = shadow_focus(page)
    assert focused is not None, "focus left the banner's shadow root"
    assert (focused["cls"], focused["inDialog"]) == (cls, in_dialog), focused
    if index is not None:
        assert focused["index"] == index, focused


def checked(page) -> dict[str, bool]:
    return in_shadow(page, "Object.fromEntries([...r.querySelectorAll('.dialog input[data-key]')]"
                           ".map(i => [i.dataset.key, i.checked]))")


# --- 1 and 11: the first view -------------------------------------------------------------------

def test_first_view_blocks_everything_with_equal_buttons_and_no_layout_shift(make_shop, new_page):
    shop = make_shop()
    # A Dutch browser on an English page: the script loads again, in the page's language.
    page = open_shop(new_page(locale="nl-NL"), shop, "en")
    assert page.evaluate("performance.getEntriesByName('cookiegate:start').length") == 2
    assert page.evaluate("document.querySelector('cookiegate-banner').lang") == "en"

    assert nothing_marked_ran(page)
    assert not page_cookies(page) & set(SHOP_COOKIES)
    banner = page.locator(".banner")
    assert banner.is_visible()
    box = banner.bounding_box()
    assert box["width"] > 0 and box["height"] > 0

    buttons = page.locator(BANNER_BUTTONS)
    assert buttons.count() == 3
    boxes = [buttons.nth(i).bounding_box() for i in range(3)]
    assert all(abs(b["width"] - boxes[0]["width"]) < 0.5 and abs(b["height"] - boxes[0]["height"]) < 0.5
               for b in boxes), boxes
    styles = in_shadow(page, "[...r.querySelectorAll(arg.sel)].map(b => { const s = getComputedStyle(b); "
                             "return Object.fromEntries(arg.props.map(p => [p, s.getPropertyValue(p)])); })",
                       {"sel": BANNER_BUTTONS, "props": BUTTON_STYLE})
    assert styles[0] == styles[1] == styles[2]
    assert styles[0]["font-size"] == "15px"  # the shop's hostile `button {font-size: 11px}` stays out
    assert site_events(shop.site) == []

    # Layout shift, summed from the first paint by an init script (buffered observer): none.
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    page.wait_for_timeout(200)  # let a late shift (a released tag rewriting the page) be reported
    assert page.evaluate("performance.getEntriesByName('cookiegate:visible').length") == 1
    assert page.evaluate("window.__cls") == 0, page.evaluate("window.__shifts")


# --- 2, 3: the first layer ------------------------------------------------------------------------

def test_accept_all_runs_marked_elements_without_reload_and_records_once(make_shop, new_page):
    shop = make_shop()
    page = open_shop(new_page(), shop)
    page.evaluate("window.sameDocument = 'yes'")
    page.locator(BANNER_BUTTONS).nth(0).click()

    wait_marked_ran(page)
    assert page.evaluate("window.sameDocument") == "yes"  # no reload
    assert page_cookies(page) >= set(SHOP_COOKIES)
    wait_hidden(page, ".banner")
    wait_shown(page, ".settings")
    assert page.evaluate("cookiegate.has('marketing') && cookiegate.consent().categories.tracking")

    wait_queue_empty(page, shop.site, timeout=10_000)
    [recorded] = wait_events(shop.site, 1)
    leaf = recorded.leaf
    assert leaf["type"] == "given"
    assert leaf["decisions"] == decisions({"analytics", "tracking", "marketing"})
    assert leaf["context"] == {"origin": shop.origin, "path": shop_path(shop)}
    notice = current_notice(shop.site)
    assert leaf["notice"] == {"sha256": notice.sha256, "version": notice.version, "language": "nl"}
    assert leaf["interaction"] == {"channel": "banner", "layer": 1, "action": "accept_all"}
    assert leaf["signals"] == {"gpc": False, "consent_mode": ALL_GRANTED}
    assert leaf["subject"]["consent_id"] == page.evaluate("cookiegate.consent().id")


def test_reject_all_runs_nothing_and_records_refused(make_shop, new_page):
    shop = make_shop()
    page = open_shop(new_page(locale="en-GB"), shop, "en")
    page.locator(BANNER_BUTTONS).nth(1).click()
    wait_shown(page, ".settings")

    [recorded] = wait_events(shop.site, 1)
    assert recorded.leaf["type"] == "refused"
    assert recorded.leaf["decisions"] == decisions()
    assert recorded.leaf["interaction"] == {"channel": "banner", "layer": 1, "action": "reject_all"}
    assert recorded.leaf["notice"]["language"] == "en"
    assert nothing_marked_ran(page)
    assert page_cookies(page) & set(SHOP_COOKIES) == {"cg_consent"}


# --- 4: keyboard only ---------------------------------------------------------------------------

def test_keyboard_alone_opens_sets_saves_and_focus_is_trapped_and_returned(make_shop, new_page):
    shop = make_shop()
    page = open_shop(new_page(locale="en-GB"), shop, "en")
    page.evaluate("window.sameDocument = 'yes'")
    keys = page.keyboard

    # From the page into the banner: Tab to its third button ("Choose"), Escape returns there.
    tab_to(page, lambda f: f is not None and f["cls"] == "btn" and not f["inDialog"] and f["index"] == 2)
    keys.press("Enter")
    wait_shown(page, ".overlay")
    focus_is(page, "close", in_dialog=True)
    keys.press("Escape")
    wait_hidden(page, ".overlay")
    focus_is(page, "btn", index=2)

    # The trap: 20 Tabs and 20 Shift+Tabs each move focus, and never out of the open dialog.
    keys.press("Space")
    wait_shown(page, ".overlay")
    page.evaluate(FOCUS_LOG)
    for key in ["Tab"] * 20 + ["Shift+Tab"] * 20:
        keys.press(key)
    log = page.evaluate("window.focusLog")
    assert len(log) == 40 and all(log), log

    # Switch analytics and marketing on, save with Enter: focus lands on the reopen control.
    for key in ("analytics", "marketing"):
        tab_to(page, lambda f, key=key: (f or {}).get("key") == key)
        keys.press("Space")
    assert checked(page) == {"analytics": True, "tracking": False, "marketing": True}
    tab_to(page, lambda f: (f or {}).get("inDialog") and f["cls"] == "btn" and f["index"] == 0)
    keys.press("Enter")
    wait_hidden(page, ".overlay")
    wait_hidden(page, ".banner")
    focus_is(page, "settings")
    [first] = wait_events(shop.site, 1)
    assert first.leaf["interaction"] == {"channel": "banner", "layer": 2, "action": "save_selection"}
    assert first.leaf["decisions"] == decisions({"analytics", "marketing"})
    wait_marked_ran(page)

    # Reopen from the settings control, add tracking, save: focus returns to the control.
    keys.press("Enter")
    wait_shown(page, ".overlay")
    assert checked(page) == {"analytics": True, "tracking": False, "marketing": True}
    tab_to(page, lambda f: (f or {}).get("key") == "tracking")
    keys.press("Space")
    tab_to(page, lambda f: (f or {}).get("inDialog") and f["cls"] == "btn" and f["index"] == 0)
    keys.press("Enter")
    wait_hidden(page, ".overlay")
    focus_is(page, "settings")
    second = wait_events(shop.site, 2)[1]
    assert second.leaf["type"] == "updated"
    assert second.leaf["decisions"] == decisions({"analytics", "tracking", "marketing"})

    # Escape from a dialog opened with the control returns there too; nothing reloaded.
    keys.press("Enter")
    wait_shown(page, ".overlay")
    keys.press("Escape")
    wait_hidden(page, ".overlay")
    focus_is(page, "settings")
    assert page.evaluate("window.sameDocument") == "yes"


# --- 5: withdrawal ------------------------------------------------------------------------------

def accepted_all(make_shop, new_page):
    """A shop page on which the visitor accepted all and the event has arrived."""
    shop = make_shop()
    page = open_shop(new_page(), shop)
    page.locator(BANNER_BUTTONS).nth(0).click()
    wait_marked_ran(page)
    wait_events(shop.site, 1)
    return shop, page


def test_withdrawal_from_the_reopen_control_deletes_cookies_and_reloads(make_shop, new_page):
    shop, page = accepted_all(make_shop, new_page)
    page.evaluate("window.sameDocument = 'yes'")

    page.locator(".settings").click()
    wait_shown(page, ".overlay")
    with page.expect_navigation():
        page.locator(DIALOG_BUTTONS).nth(2).click()  # reject all
    wait_shown(page, ".settings")

    assert page.evaluate("window.sameDocument") is None  # a fresh document
    assert page_cookies(page) & set(SHOP_COOKIES) == {"cg_consent"}
    assert nothing_marked_ran(page)
    assert page.evaluate("cookiegate.consent().categories") == {"analytics": False, "tracking": False,
                                                               "marketing": False}
    events = wait_events(shop.site, 2)
    assert events[1].leaf["type"] == "withdrawn"
    assert events[1].leaf["interaction"] == {"channel": "banner", "layer": 2, "action": "reject_all"}
    assert events[1].leaf["decisions"] == decisions()
    wait_queue_empty(page, shop.site, timeout=10_000)
    assert len(site_events(shop.site)) == 2


def test_changed_notice_asks_again_and_reject_clears_the_earlier_choices_cookies(make_shop, new_page):
    shop, page = accepted_all(make_shop, new_page)
    shop.site.policy_version = "2027-01"
    publish_notice(site=shop.site)

    page.reload()  # asked again: nothing runs under the new notice until the visitor chooses
    wait_shown(page, ".banner .note")
    assert nothing_marked_ran(page)
    assert page_cookies(page) >= set(SHOP_COOKIES)  # left by the earlier visit
    with page.expect_navigation():
        page.locator(BANNER_BUTTONS).nth(1).click()  # reject all
    wait_shown(page, ".settings")
    assert page_cookies(page) & set(SHOP_COOKIES) == {"cg_consent"}
    events = wait_events(shop.site, 2)
    assert events[1].leaf["type"] == "withdrawn"
    assert events[1].leaf["notice"]["version"] == 2


# --- 6: Global Privacy Control ------------------------------------------------------------------

def test_gpc_keeps_tracking_and_marketing_off_and_is_recorded(make_shop, new_page):
    shop = make_shop()
    page = open_shop(new_page(gpc=True, locale="en-GB"), shop, "en")
    assert page.evaluate("navigator.globalPrivacyControl") is True
    assert "Global Privacy Control" in page.locator(".banner").inner_text()

    page.locator(BANNER_BUTTONS).nth(2).click()
    wait_shown(page, ".overlay")
    assert checked(page) == {"analytics": False, "tracking": False, "marketing": False}
    page.locator(".dialog input[data-key=analytics]").check()
    page.locator(DIALOG_BUTTONS).nth(0).click()
    [recorded] = wait_events(shop.site, 1)
    assert recorded.leaf["signals"]["gpc"] is True
    assert recorded.leaf["decisions"] == decisions({"analytics"})

    # An explicit opt-in under an older notice is not carried over while GPC is on.
    page.locator(".settings").click()
    page.locator(DIALOG_BUTTONS).nth(1).click()  # accept all: an explicit choice, recorded with GPC
    assert wait_events(shop.site, 2)[1].leaf["signals"]["gpc"] is True
    shop.site.policy_version = "2027-01"
    publish_notice(site=shop.site)
    page.reload()
    wait_shown(page, ".banner")
    page.locator(BANNER_BUTTONS).nth(2).click()
    assert checked(page) == {"analytics": True, "tracking": False, "marketing": False}


# --- 7: Google Consent Mode v2 ------------------------------------------------------------------

def test_consent_mode_default_before_any_tag_and_update_on_choice_and_reload(make_shop, new_page):
    shop = make_shop()
    page = open_shop(new_page(), shop)
    page.wait_for_function("!!window.demoTagSawAtStart")
    assert consent_commands(data_layer(page, "demoTagSawAtStart")) == [("default", DEFAULT_MODE)]
    assert data_layer(page)[0][2]["wait_for_update"] == 500

    page.locator(BANNER_BUTTONS).nth(2).click()
    page.locator(".dialog input[data-key=analytics]").check()
    page.locator(DIALOG_BUTTONS).nth(0).click()
    wait_hidden(page, ".overlay")
    expected = {**DEFAULT_MODE, "analytics_storage": "granted"}
    assert consent_commands(data_layer(page)) == [("default", DEFAULT_MODE), ("update", expected)]
    assert wait_events(shop.site, 1)[0].leaf["signals"]["consent_mode"] == expected

    page.reload()
    wait_shown(page, ".settings")
    page.wait_for_function("!!window.demoTagSawAtStart")
    assert consent_commands(data_layer(page, "demoTagSawAtStart")) == [("default", DEFAULT_MODE),
                                                                       ("update", expected)]
    assert page.evaluate("window.demoAnalyticsRuns") == 1


# --- 8: cookiegate unreachable ------------------------------------------------------------------

def test_choice_applies_while_cookiegate_is_down_and_arrives_once_after(app, make_shop, new_page):
    consent = QuickServer(app).start()  # our own cookiegate, to stop and start again
    try:
        shop = make_shop(consent.url)
        page = open_shop(new_page(), shop)
        consent.stop()

        page.locator(BANNER_BUTTONS).nth(0).click()
        wait_marked_ran(page)
        assert "cg_consent" in page_cookies(page)
        page.wait_for_timeout(300)  # the first post has failed by now
        queued = page.evaluate("(key) => JSON.parse(localStorage.getItem(key))", f"cookiegate:{shop.site.slug}")
        assert [item["action"] for item in queued] == ["accept_all"]
        assert site_events(shop.site) == []

        consent = QuickServer(app, port=consent.port).start()
        page.evaluate("window.dispatchEvent(new Event('online'))")
        wait_queue_empty(page, shop.site)
        [recorded] = wait_events(shop.site, 1)
        assert recorded.leaf["event_id"] == queued[0]["id"]
        assert recorded.leaf["context"] == {"origin": shop.origin, "path": shop_path(shop)}

        page.evaluate("window.dispatchEvent(new Event('online'))")  # nothing left to send
        page.reload()
        wait_shown(page, ".settings")
        page.wait_for_timeout(200)
        assert len(site_events(shop.site)) == 1
    finally:
        consent.stop()


# --- 9: an undeclared origin --------------------------------------------------------------------

def test_post_from_an_undeclared_origin_is_refused_in_the_browser(app, make_shop, new_page):
    recorder = ResponseRecorder(app)  # CORS hides the answer from the page, not from the server
    consent = QuickServer(recorder).start()
    try:
        shop = make_shop(consent.url, declared=False)
        page = open_shop(new_page(), shop)
        with page.expect_event("requestfailed", lambda r: r.url.endswith("/consent.json")):
            page.locator(BANNER_BUTTONS).nth(0).click()
        wait_marked_ran(page)  # the choice still applies on the page
    finally:
        consent.stop()
    [(method, _path, origin, status, body)] = [seen for seen in recorder.seen if seen[1].endswith("/consent.json")]
    assert (method, origin, status) == ("POST", shop.origin, 403)
    assert json.loads(body)["error"] == "origin_not_allowed"
    assert site_events(shop.site) == []
    # Kept in the browser: once the operator declares the origin, a later page load sends it.
    assert page.evaluate("(key) => JSON.parse(localStorage.getItem(key)).length", f"cookiegate:{shop.site.slug}") == 1


# --- 10: accessibility ------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["nl", "en"])
def test_axe_finds_nothing_on_banner_and_dialog(make_shop, new_page, lang):
    shop = make_shop()
    page = open_shop(new_page(), shop, lang)
    assert page.evaluate("document.documentElement.lang") == lang
    assert page.evaluate("document.querySelector('cookiegate-banner').lang") == lang
    title = shop.site.texts[lang]["banner_title"]
    assert page.locator(".banner h2").inner_text() == title
    assert axe_violations(page) == []

    page.locator(BANNER_BUTTONS).nth(2).click()
    wait_shown(page, ".overlay")
    page.locator(".dialog summary").first.click()  # an open cookie list is checked too
    assert axe_violations(page) == []

    # axe does look inside the shadow root: a nameless button there is found.
    in_shadow(page, "r.querySelector('.dialog').appendChild(document.createElement('button'))")
    assert "button-name" in {v["id"] for v in axe_violations(page)}
