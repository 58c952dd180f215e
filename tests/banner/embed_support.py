"""Fixtures and helpers for the embedded banner: shop pages on their own origin, browser pages,
shadow-root probes, waiting for recorded events, axe-core.

Test modules import what they use explicitly, fixtures (make_shop, new_page) included.
"""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from cookiegate.sites.demo_shop import create_demo_shop
from cookiegate.sites.models import Site
from tests.axe_support import axe_violations as page_axe_violations
from tests.banner.conftest import Recorded, site_events
from tests.conftest import LiveServer, free_port
from tests.factories import make_site

GPC_SCRIPT = "Object.defineProperty(Navigator.prototype,'globalPrivacyControl',{get:()=>true})"
# Sums every layout shift from the very first paint (buffered), before any page script runs.
CLS_SCRIPT = """window.__cls = 0; window.__shifts = []; new PerformanceObserver(function (list) {
  list.getEntries().forEach(function (e) { if (!e.hadRecentInput) { window.__cls += e.value;
    window.__shifts.push({value: e.value, at: e.startTime, sources: (e.sources || []).map(function (s) {
      var n = s.node; return {node: n ? (n.nodeName + (n.id ? '#' + n.id : '') + (n.className ? '.' + n.className : '')) : null,
        from: [s.previousRect.x, s.previousRect.y, s.previousRect.width, s.previousRect.height],
        to: [s.currentRect.x, s.currentRect.y, s.currentRect.width, s.currentRect.height]}; })}); } });
}).observe({type: 'layout-shift', buffered: true});"""
# `r` is the banner's shadow root in every probe below.
ROOT = "const host = document.querySelector('cookiegate-banner'); const r = host && host.shadowRoot;"
ALL_GRANTED = {key: "granted" for key in ("ad_storage", "ad_user_data", "ad_personalization", "analytics_storage",
                                          "functionality_storage", "personalization_storage", "security_storage")}
DEFAULT_MODE = {**{key: "denied" for key in ALL_GRANTED}, "functionality_storage": "granted",
                "security_storage": "granted"}
# Set on the shop's origin by the demo analytics script, the marketing frame and the banner's choice.
SHOP_COOKIES = ("_pk_id", "_gcl_au", "cg_consent")


class QuickServer(LiveServer):
    """A LiveServer that stops in 50 ms instead of 500 and, once stopped, refuses connections
    (LiveServer.stop leaves the socket bound: connections would hang in its backlog, and the
    port could not be served again)."""

    def __init__(self, application, port: int | None = None):
        super().__init__(application, port)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def stop(self) -> None:
        super().stop()
        self.server.server_close()


class ResponseRecorder:
    """WSGI middleware keeping (method, path, Origin, status, body) of every answer: what the
    server said to a browser even when CORS hides it from the page."""

    def __init__(self, application):
        self.application = application
        self.seen: list[tuple[str, str, str | None, int, bytes]] = []

    def __call__(self, environ, start_response):
        status = []

        def start(line, headers, exc_info=None):
            status.append(int(line.split()[0]))
            return start_response(line, headers, exc_info)

        body = b"".join(self.application(environ, start))
        self.seen.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], environ.get("HTTP_ORIGIN"),
                          status[0], body))
        return [body]


@dataclass
class Shop:
    """A demo shop page for one test site, served on its own port (= its own origin)."""

    site: Site
    server: QuickServer

    @property
    def origin(self) -> str:
        return self.server.url

    def url(self, lang: str = "nl") -> str:
        return f"{self.origin}/{self.site.slug}/?lang={lang}"


@pytest.fixture
def make_shop(app_ctx, live_server) -> Callable[..., Shop]:
    """make_shop(consent_url=None, site=None, declared=True): a shop page server for a new site
    whose allowed origins hold the shop's origin (or, with declared=False, only another one)."""
    servers: list[QuickServer] = []

    def make(consent_url: str | None = None, *, site: Site | None = None, declared: bool = True) -> Shop:
        port = free_port()
        origin = f"http://127.0.0.1:{port}"
        if site is None:
            site = make_site(allowed_origins=[origin] if declared else [f"http://127.0.0.1:{free_port()}"])
        shop_app = create_demo_shop(consent_url or live_server.url, {site.slug: site.name})
        server = QuickServer(shop_app, port).start()
        servers.append(server)
        return Shop(site=site, server=server)

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def new_page(browser):
    """new_page(gpc=False, locale="nl-NL", init_scripts=()): a page in a fresh browser context
    (own cookies and storage), layout shifts counted from the start. The locale sets
    Accept-Language: when it differs from the shop page's <html lang>, the script loads again in
    the page's language."""
    contexts = []

    def make(*, gpc: bool = False, locale: str = "nl-NL", init_scripts: tuple[str, ...] = ()):
        context = browser.new_context(locale=locale, extra_http_headers={"Sec-GPC": "1"} if gpc else {})
        contexts.append(context)
        for script in (CLS_SCRIPT, *((GPC_SCRIPT,) if gpc else ()), *init_scripts):
            context.add_init_script(script)
        context.set_default_timeout(10_000)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def open_shop(page, shop: Shop, lang: str = "nl", *, banner: bool = True):
    """Go to the shop page and wait for the banner (or, banner=False, the reopen control)."""
    page.goto(shop.url(lang))
    wait_shown(page, ".banner" if banner else ".settings")
    return page


def wait_shown(page, selector: str) -> None:
    page.wait_for_function(f"() => {{ {ROOT} const el = r && r.querySelector({selector!r}); "
                           "return !!el && !el.hidden && !el.closest('[hidden]'); }")


def wait_hidden(page, selector: str) -> None:
    page.wait_for_function(f"() => {{ {ROOT} const el = r && r.querySelector({selector!r}); "
                           "return !!el && !!el.closest('[hidden]'); }")


def in_shadow(page, expression: str, arg: Any = None) -> Any:
    """Evaluate `expression` with `r` bound to the banner's shadow root (and `arg`)."""
    return page.evaluate(f"(arg) => {{ {ROOT} return ({expression}); }}", arg)


def shadow_focus(page) -> dict[str, Any] | None:
    """What has focus inside the shadow root (None if focus is elsewhere): class, text, data-key,
    whether it is in the dialog and its index among its siblings."""
    return page.evaluate(f"""() => {{ {ROOT}
        const el = (r && document.activeElement === host) ? r.activeElement : null;
        return el && {{cls: el.className, text: el.textContent, key: el.getAttribute('data-key'),
                      inDialog: !!el.closest('.dialog'), tag: el.tagName,
                      index: [...el.parentNode.children].indexOf(el)}}; }}""")


def tab_to(page, predicate: Callable[[dict[str, Any] | None], bool], limit: int = 30) -> dict[str, Any]:
    """Press Tab until the focused element satisfies `predicate`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = shadow_focus(page)
        if predicate(focused):
            return focused
    raise AssertionError(f"Tab never reached the wanted element (last: {shadow_focus(page)})")


def page_cookies(page) -> set[str]:
    return {part.split("=")[0] for part in page.evaluate("document.cookie").split("; ") if part}


def data_layer(page, name: str = "dataLayer") -> list[list[Any]]:
    """window[name] as plain lists (gtag pushes `arguments` objects, the demo tag JSON copies)."""
    return page.evaluate(f"(window.{name} || []).map(e => Array.from({{...e, length: Object.keys(e).length}}))")


def consent_commands(entries: list[list[Any]]) -> list[tuple[str, dict[str, str]]]:
    return [(e[1], {k: v for k, v in e[2].items() if k != "wait_for_update"})
            for e in entries if e and e[0] == "consent"]


def wait_events(site: Site, count: int, timeout: float = 10.0) -> list[Recorded]:
    """The site's recorded events once there are `count` (fails after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        events = site_events(site)
        if len(events) >= count or time.monotonic() > deadline:
            assert len(events) == count, f"expected {count} events, found {len(events)}"
            return events
        time.sleep(0.05)


def wait_queue_empty(page, site: Site, timeout: float = 35_000) -> None:
    """Until the script has no decision left to send (cookiegate confirmed them all)."""
    page.wait_for_function("(key) => (JSON.parse(localStorage.getItem(key)) || []).length === 0",
                           arg=f"cookiegate:{site.slug}", timeout=timeout)


def axe_violations(page) -> list[dict[str, Any]]:
    """axe-core on the banner's host element (and its open shadow root)."""
    return page_axe_violations(page, "cookiegate-banner")


def decision_body(site: Site, notice_sha256: str, **overrides: Any) -> dict[str, Any]:
    """A valid body as banner.js posts it (accept all, layer 1)."""
    body = {"id": str(uuid.uuid4()), "consent_id": str(uuid.uuid4()), "notice": notice_sha256, "lang": "nl",
            "action": "accept_all", "layer": 1, "choices": {"analytics": True, "tracking": True, "marketing": True},
            "gpc": False, "consent_mode": dict(ALL_GRANTED), "path": "/winkel/"}
    body.update(overrides)
    return body
