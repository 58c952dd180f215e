"""How much a shop page loads for the embedded banner, and how fast it shows.

    python bench/banner_size.py

Starts cookiegate on a fresh SQLite database in a temporary directory with the demo seed, and
the demo shop pages on another port (another origin). For nl and en it fetches
/s/<slug>/banner.js (JS, CSS, config and the texts of one language in one response), prints its
gzip -9 size beside vanilla-cookieconsent 3.1's 15,513 bytes (JS + CSS), PASS/FAIL against the
6,000-byte target, and the median time from script start to banner visible in Chromium over 10
loads (the performance marks cookiegate:start and cookiegate:visible that banner.js sets).
"""
from __future__ import annotations

import gzip
import logging
import os
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from tests.conftest import CHROMIUM_ARGS, LiveServer  # noqa: E402  (shared launch args)

SLUG = "petite-vie"
TARGET = 6_000
VANILLA_COOKIECONSENT = 15_513  # 3.1, cookieconsent.umd.js + cookieconsent.css, gzip -9
LOADS = 10


def start_cookiegate(tmp: Path):
    """The app on a fresh SQLite database with the demo sites; nothing written to instance/."""
    os.environ["COOKIEGATE_INSTANCE_PATH"] = str(tmp)
    from flask_migrate import upgrade

    from cookiegate import create_app
    from cookiegate.sites.demo import seed_demo_sites

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.db'}", "SECRET_KEY": "bench",
                      "LEDGER_KEY_FILE": str(tmp / "ledger.pem"), "LEDGER_SEQUENCE_INTERVAL": 0})
    with app.app_context():
        upgrade()
        seed_demo_sites()
    return app, LiveServer(app).start()


def gzip9(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def seconds_to_visible(browser, page_url: str, locale: str) -> list[float]:
    """Milliseconds from the first cookiegate:start mark to cookiegate:visible, one fresh
    context (no stored choice, cold cache) per load."""
    times = []
    for _ in range(LOADS):
        context = browser.new_context(locale=locale)
        page = context.new_page()
        page.goto(page_url)
        page.wait_for_function("performance.getEntriesByName('cookiegate:visible').length > 0", timeout=10_000)
        times.append(page.evaluate("performance.getEntriesByName('cookiegate:visible')[0].startTime"
                                   " - performance.getEntriesByName('cookiegate:start')[0].startTime"))
        context.close()
    return times


def main() -> int:
    from playwright.sync_api import sync_playwright

    logging.disable(logging.INFO)  # no request lines, no migration chatter

    from cookiegate.sites.demo import allow_demo_origin
    from cookiegate.sites.demo_shop import create_demo_shop

    with tempfile.TemporaryDirectory(prefix="cookiegate-bench-") as tmp_dir:
        app, consent = start_cookiegate(Path(tmp_dir))
        shop = LiveServer(create_demo_shop(consent.url))
        with app.app_context():
            allow_demo_origin(shop.url)
        shop.start()
        passed = True
        print(f"banner.js for site {SLUG!r}: everything a shop page loads for the banner, gzip -9")
        print(f"{'lang':<5}{'raw':>9}{'gzip -9':>10}{'vs vanilla-cookieconsent':>27}{'target':>9}")
        for lang in ("nl", "en"):
            body = urllib.request.urlopen(f"{consent.url}/s/{SLUG}/banner.js?lang={lang}").read()
            size = gzip9(body)
            ok = size <= TARGET
            passed &= ok
            ratio = size / VANILLA_COOKIECONSENT
            print(f"{lang:<5}{len(body):>9,}{size:>10,}{ratio:>10.0%} of {VANILLA_COOKIECONSENT:,} B"
                  f"{'PASS' if ok else 'FAIL':>9}  (<= {TARGET:,} B)")

        print(f"\nscript start -> banner visible in Chromium, median of {LOADS} loads (min-max)")
        executable = os.environ.get("COOKIEGATE_CHROMIUM", "/usr/bin/chromium")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
            cases = [("nl", "nl-NL", "nl page, nl browser"), ("en", "en-GB", "en page, en browser"),
                     ("nl", "en-GB", "nl page, en browser (script loads twice)")]
            for lang, locale, label in cases:
                times = seconds_to_visible(browser, f"{shop.url}/{SLUG}/?lang={lang}", locale)
                print(f"  {label:<42}{statistics.median(times):7.1f} ms  ({min(times):.1f}-{max(times):.1f})")
            browser.close()
        shop.stop()
        consent.stop()
        with app.app_context():
            from cookiegate.extensions import db
            db.engine.dispose()
    print(f"\n{'PASS' if passed else 'FAIL'}: gzip size target {TARGET:,} bytes")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
